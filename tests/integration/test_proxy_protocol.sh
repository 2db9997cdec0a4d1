#!/usr/bin/env bash
# Behind a TCP load balancer that sends the PROXY protocol header
# ([server] proxy_protocol = yes): the customer's address from the header
# (versions 1 and 2) is the one allowlists, logs and the bind see;
# connections without a valid header are closed without disturbing the
# others; traffic through the balancer is carried whole.
. "$(dirname "$0")/lib.sh"

start_redis
start_sim sim --system-id smppbridge --password simpass
BRIDGE_PORT=$(free_port)
bridge_conf "$WORK/bridge.conf" "$BRIDGE_PORT" "[server]
proxy_protocol = yes
bind_timeout = 2s"
echo pw | "$BIN/smppctl" -c "$WORK/bridge.conf" account add lb --password-stdin --tps 0 --max-binds 0 \
    --allow 203.0.113.0/24 >/dev/null
"$BIN/smppbridge" -c "$WORK/bridge.conf" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
wait_until 20 grep -q "listening on" "$WORK/bridge.log"

forwarder() { # NAME ARGS...: a balancer in front of the bridge
    local name=$1
    shift
    perl "$ROOT/tests/interop/proxy_forwarder.pl" --to "$BRIDGE_PORT" \
        --port-file "$WORK/$name.port" "$@" &
    PIDS+=("$!")
    wait_file "$WORK/$name.port" 10
}
forwarder v1 --version 1 --source 203.0.113.7:5555
forwarder v2 --version 2 --source 203.0.113.8:6666
forwarder other --version 2 --source 198.51.100.9:7777
forwarder garbage --garbage
client() { # PORT OP...: ops_client through PORT, its JSON lines on stdout
    local port=$1
    shift
    perl "$ROOT/tests/interop/ops_client.pl" --port "$port" --system-id lb \
        --password pw --timeout 5 "$@"
}

check "v1 header: the customer's address is allowed, bound, submit ROK" \
    eq "$(client "$(port_of v1)" submit:3460001:34600000001:hi | jq -r .status)" 0
check "... and the bind is logged with the address from the header" \
    grep -q "203.0.113.7:5555" "$WORK/bridge.log"
check "v2 header: bound, submit ROK" \
    eq "$(client "$(port_of v2)" submit:3460001:34600000002:hi | jq -r .status)" 0
check "... logged with its address" grep -q "203.0.113.8:6666" "$WORK/bridge.log"
client "$(port_of other)" submit:3460001:34600000003:hi >"$WORK/other.out" 2>"$WORK/other.err"
check "an address outside the account's allowlist (from the header): bind refused" \
    grep -q "0x0000000d" "$WORK/other.err"
client "$BRIDGE_PORT" submit:3460001:34600000004:hi >/dev/null 2>"$WORK/direct.err"
check "a connection without a header (past the balancer): closed, never bound" \
    eq "$?" 1
check "... logged as such" grep -q "no valid PROXY header" "$WORK/bridge.log"
client "$(port_of garbage)" submit:3460001:34600000005:hi >/dev/null 2>&1
check "a malformed header: closed and logged" \
    bash -c "[ \$(grep -c 'no valid PROXY header' '$WORK/bridge.log') -ge 2 ]"
exec 7<>/dev/tcp/127.0.0.1/"$BRIDGE_PORT"
check "a connection that sends nothing: closed after bind_timeout" \
    wait_until 20 grep -q "no PROXY header in time" "$WORK/bridge.log"
exec 7>&-

timeout 60 "$BIN/smpp-load" --port "$(port_of v2)" --system-id lb --password pw \
    --rate 500 --count 1000 --binds 4 --dlr --json --no-progress >"$WORK/load.json" 2>"$WORK/load.err"
check "1000 messages through the balancer on 4 binds: all accepted" \
    eq "$(json "$WORK/load.json" .submits.ok)" 1000
check "... and all their receipts came back" \
    eq "$(json "$WORK/load.json" .receipts.matched)" 1000
check "the bridge is still up" kill -0 "$BRIDGE_PID"
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"
finish
