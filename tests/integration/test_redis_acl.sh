#!/usr/bin/env bash
# Redis ACL users and the instance's identity in Redis. A redis-server
# whose default user is off and whose only user is an ACL user: the
# bridge and smppctl authenticate with AUTH username password. On it,
# the instance's consumer name is unique per run, and its instance
# number (in every message id) is a lease no other live instance can
# share: taken over by another holder, the bridge moves to a free number.
. "$(dirname "$0")/lib.sh"

BRIDGE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
REDIS_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/redis.log" --daemonize no \
    --user default off --user bridge on '>brpw' '~*' '&*' '+@all' &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
rcli() { redis-cli -p "$REDIS_PORT" --user bridge --pass brpw --no-auth-warning "$@"; }
wait_until 10 bash -c "redis-cli -p $REDIS_PORT --user bridge --pass brpw --no-auth-warning ping | grep -q PONG" ||
    { echo "redis-server did not start" >&2; exit 1; }

start_sim sim --system-id smppbridge --password simpass
bridge_conf "$WORK/bridge.conf" "$BRIDGE_PORT" "[admin]
listen = 127.0.0.1:$ADMIN_PORT
[log]
level = info
[redis]
username = bridge
password = brpw"
ctl() { "$BIN/smppctl" -c "$WORK/$1" "${@:2}"; }

# ---- ACL user ---------------------------------------------------------
check "Redis refuses the default user (the test is meaningful)" \
    bash -c "redis-cli -p $REDIS_PORT ping | grep -q NOAUTH"
check "smppctl authenticates as the ACL user (AUTH username password)" \
    bash -c "echo alphapw | '$BIN/smppctl' -c '$WORK/bridge.conf' account add alpha --password-stdin --tps 0 --max-binds 0 >/dev/null"
check "the account is in Redis" eq "$(rcli sismember sb:accounts alpha)" 1
sed 's/^username = bridge$/username = nobody/' "$WORK/bridge.conf" >"$WORK/wrong.conf"
ctl wrong.conf account list >/dev/null 2>"$WORK/wrong.err"
check "smppctl with an unknown ACL user: refused, with Redis's reason" \
    bash -c "[ $? -ne 0 ] && grep -q 'AUTH refused' '$WORK/wrong.err'"
printf '[redis]\nusername = bridge\n' >"$WORK/nopw.conf"
"$BIN/smppbridge" -c "$WORK/nopw.conf" --check >"$WORK/nopw.out" 2>&1
check "--check of username without password exits non-zero and says why" \
    bash -c "[ $? -ne 0 ] && grep -q 'username is set without password' '$WORK/nopw.out'"

run_bridge bridge "$WORK/bridge.conf"
check "the bridge connects as the ACL user and binds upstream" \
    grep -q "bound as BOUND_TRX" "$WORK/bridge.log"
timeout 60 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id alpha --password alphapw \
    --count 20 --dlr --json --no-progress >"$WORK/first.json" 2>"$WORK/first.err"
check "20 messages with receipts through the ACL-authenticated Redis" \
    eq "$(json "$WORK/first.json" '"\(.submits.ok) \(.receipts.matched)"')" "20 20"

# ---- identity ----------------------------------------------------------
consumer=$(rcli xinfo consumers sb:queue bridge | sed -n 2p)
check "consumer name: host/listener#64-bit tag, unique per run" \
    bash -c "[[ '$consumer' =~ /127\.0\.0\.1:$BRIDGE_PORT#[0-9a-f]{16}$ ]]"
check "the identity is in the log" grep -qF "instance identity $consumer" "$WORK/bridge.log"

# ---- instance number: a lease --------------------------------------------
lease_keys() { rcli --scan --pattern 'sb:lease:{instance:*}'; }
key=$(lease_keys | head -1)
N=${key#sb:lease:\{instance:}
N=${N%\}}
check "the instance number is a lease owned by this run" \
    bash -c "[ -n '$key' ] && [ -n '$consumer' ] && [ \"\$(redis-cli -p $REDIS_PORT --user bridge --pass brpw --no-auth-warning get '$key')\" = '$consumer' ]"
check "the lease expires unless renewed (TTL at most 30 s)" \
    bash -c "t=\$(redis-cli -p $REDIS_PORT --user bridge --pass brpw --no-auth-warning pttl '$key'); [ \$t -gt 0 ] && [ \$t -le 30000 ]"
# What a failover that lost the lease looks like once another instance
# took the number: the bridge must stop using it and take a free one.
rcli set "$key" "another-instance" PX 60000 >/dev/null
M=$(((N + 1) % 1024))
check "number $N taken by another holder: the bridge says so" \
    wait_until 20 grep -q "instance number $N is held by another instance" "$WORK/bridge.log"
owns() { [ -n "$consumer" ] && [ "$(rcli get "sb:lease:{instance:$1}")" = "$consumer" ]; }
check "and holds number $M instead" wait_until 10 owns "$M"
check "the other holder's lease is left alone" eq "$(rcli get "$key")" "another-instance"
echo betapw | ctl bridge.conf account add beta --password-stdin --tps 0 --max-binds 0 >/dev/null
timeout 60 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id beta --password betapw \
    --count 5 --json --no-progress >"$WORK/after.json" 2>"$WORK/after.err"
# our ids: ms << 22 | instance << 12 | seq, in hex
instances=$(rcli --scan --pattern 'sb:msg:{beta}:*' | sed 's/.*://' |
    while read -r id; do echo $(((0x$id >> 12) & 0x3FF)); done | sort -u | tr '\n' ' ')
check "ids issued after the switch carry number $M, never $N" eq "$instances" "$M "
check "the bridge is still running" kill -0 "$bridge_PID"
finish
