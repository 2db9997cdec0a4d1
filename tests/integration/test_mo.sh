#!/usr/bin/env bash
# Inbound (MO) routing: `smppctl number add|del|list`, longest prefix
# wins, the message reaches the owning account's receivers as upstream
# sent it, unroutable ones are acknowledged upstream and kept in the
# dead-letter stream, and a routing change applies without a restart.
. "$(dirname "$0")/lib.sh"

start_redis
start_sim sim --system-id smppbridge --password simpass --mo-rate 40 \
    --mo-from 34699000001 --mo-to 34600123456
BRIDGE_PORT=$(free_port)
bridge_conf "$WORK/bridge.conf" "$BRIDGE_PORT"
ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }
echo pw | ctl account add country --password-stdin --tps 0 --max-binds 0 >/dev/null
echo pw | ctl account add shortcode --password-stdin --tps 0 --max-binds 0 >/dev/null
check "number add: prefix routes created" \
    bash -c "'$BIN/smppctl' -c '$WORK/bridge.conf' number add 346 country >/dev/null &&
             '$BIN/smppctl' -c '$WORK/bridge.conf' number add +34600 shortcode >/dev/null"
check "number add for an unknown account: exit 3" \
    bash -c "'$BIN/smppctl' -c '$WORK/bridge.conf' number add 44 nobody 2>/dev/null; [ \$? = 3 ]"
check "number add with a bad prefix: exit 2" \
    bash -c "'$BIN/smppctl' -c '$WORK/bridge.conf' number add 34x country 2>/dev/null; [ \$? = 2 ]"
check "number list" eq "$(ctl number list | tr '\n' ';')" "+34600 shortcode;346 country;"

"$BIN/smppbridge" -c "$WORK/bridge.conf" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
wait_until 20 grep -q "inbound routing: 2" "$WORK/bridge.log"

receive() { # NAME ACCOUNT SECONDS: a receiver bind that counts what arrives
    timeout 60 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id "$2" --password pw \
        --rate 1 --duration "$3" --json --no-progress >"$WORK/$1.json" 2>"$WORK/$1.err"
}
receive short shortcode 4 &
A=$!
receive wide country 4
wait "$A"
check "longest prefix: the +34600 account got the inbound messages" \
    ge "$(json "$WORK/short.json" .receipts.mo)" 60
check "longest prefix: the 346 account got none of them" \
    eq "$(json "$WORK/wide.json" .receipts.mo)" 0

check "number del" bash -c "'$BIN/smppctl' -c '$WORK/bridge.conf' number del +34600 >/dev/null"
check "number del of a missing route: exit 3" \
    bash -c "'$BIN/smppctl' -c '$WORK/bridge.conf' number del 999 2>/dev/null; [ \$? = 3 ]"
sleep 0.5
receive wide2 country 3
check "after the change, without a restart: the 346 account gets them" \
    ge "$(json "$WORK/wide2.json" .receipts.mo)" 40

ctl number del 346 >/dev/null
dead() { redis-cli -p "$REDIS_PORT" XLEN sb:dead; }
before=$(dead)
# the simulator sends 40/s: 30 dead letters take about 0.75 s
dead_grew_by() { [ $(($(dead) - before)) -ge "$1" ]; }
wait_until 20 dead_grew_by 30
check "unroutable inbound: kept in the dead-letter stream (and acknowledged)" \
    ge $(($(dead) - before)) 30
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"
stop "$SIM_PID"
check "upstream got deliver_sm_resp ESME_ROK for every inbound message" \
    bash -c "s=\$(jq -r .mo_sent '$WORK/sim.json'); a=\$(jq -r .mo_acked '$WORK/sim.json'); [ \$s -gt 100 ] && [ \$((s - a)) -le 2 ]"
finish
