#!/usr/bin/env bash
# Receipt routing that never guesses: an upstream whose message ids
# collide - across radix, in case only, or outright reused - must never
# hand one customer's receipt to another. Real redis-server, smsc-sim
# giving chosen ids (--ids), the bridge and smpp-load clients of two
# accounts, all on loopback. Each receipt either reaches the customer
# whose message it is, or goes to dead letters (P:dead) with its reason.
. "$(dirname "$0")/lib.sh"

BRIDGE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
DLR_DELAY_MS=1500

# The ids the simulator gives, in the order messages reach it.
cat >"$WORK/ids.txt" <<IDS
1000
4096
77
abcd1
ABCD1
2000
8192
dup1
dup1
IDS

start_redis
start_sim sim --system-id smppbridge --password simpass --ids "$WORK/ids.txt" \
    --dlr-delay-ms "$DLR_DELAY_MS"
bridge_conf "$WORK/bridge.conf" "$BRIDGE_PORT" "[admin]
listen = 127.0.0.1:$ADMIN_PORT
[log]
level = info"
ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
echo alphapw | ctl account add alpha --password-stdin --tps 0 --max-binds 0 >/dev/null
echo betapw | ctl account add beta --password-stdin --tps 0 --max-binds 0 >/dev/null
run_bridge bridge "$WORK/bridge.conf" || { echo "bridge did not start" >&2; exit 1; }

# send NAME ACCOUNT PASSWORD: one message with a receipt asked for, in
# the background (its PID in SEND_PID); the result in $WORK/NAME.json.
send() {
    timeout 60 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id "$2" \
        --password "$3" --count 1 --dlr --dlr-timeout 6 --linger 2 --json --no-progress \
        >"$WORK/$1.json" 2>"$WORK/$1.err" &
    SEND_PID=$!
    PIDS+=("$SEND_PID")
}
# Upstream ids mapped so far (whatever form the bridge keys them by), and
# a wait for one more: the first message is upstream before the second.
n_mapped() { rcli --scan --pattern 'sb:up:{sim}:*' | wc -l; }
one_more_mapped() {
    local before=$1
    wait_until 10 bash -c "[ \$(redis-cli -p $REDIS_PORT --scan --pattern 'sb:up:{sim}:*' | wc -l) -gt $before ]"
}
# counts NAME: "matched unmatched+duplicate" receipts of that client
# (another message's receipt arrives under one of its ids as a duplicate).
counts() {
    json "$WORK/$1.json" '"\(.receipts.matched) \(.receipts.unmatched + .receipts.duplicate)"'
}
dead_with() { rcli xrange sb:dead - + | grep -cx "$1"; }
# dead_is REASON N: exactly N dead letters with that reason (to wait for).
dead_is() { [ "$(dead_with "$1")" = "$2" ]; }
metric() {
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v m="$1" '$1 == m { print $2 + 0; f = 1 } END { if (!f) print 0 }'
}

# ---- unknown radix: two customers' messages match one receipt ---------
# 1000 (alpha) and 4096 (beta, 0x1000): alpha's receipt "1000" reads as
# both, and so does beta's "4096". Nothing learnt yet: neither is guessed.
K=$(n_mapped); send amb_a alpha alphapw; A=$SEND_PID
one_more_mapped "$K"
send amb_b beta betapw; B=$SEND_PID
wait "$A" "$B"
check "ambiguous ids before the radix is known: no receipt to the wrong customer" \
    eq "$(counts amb_a) $(counts amb_b)" "0 0 0 0"
check "both ambiguous receipts in dead letters, reason receipt-ambiguous-id" \
    eq "$(dead_with receipt-ambiguous-id)" 2

# ---- learning: one receipt that matches one message --------------------
send learn alpha alphapw
wait "$SEND_PID"
check "an unambiguous receipt reaches its customer" eq "$(counts learn)" "1 0"

# ---- ids that differ only in case --------------------------------------
# abcd1 (alpha) and ABCD1 (beta): two messages of a case-sensitive
# upstream. Folding case made them one key, and beta got both receipts.
K=$(n_mapped); send case_a alpha alphapw; A=$SEND_PID
one_more_mapped "$K"
send case_b beta betapw; B=$SEND_PID
wait "$A" "$B"
check "ids differing in case: alpha gets its own receipt and only it" \
    eq "$(counts case_a)" "1 0"
check "ids differing in case: beta gets its own receipt and only it" \
    eq "$(counts case_b)" "1 0"

# ---- a match only in the radix the connector does not use --------------
# 2000 (alpha) is no longer mapped when its receipt comes (as after
# id_ttl); 8192 (beta) is 0x2000. The connector was seen to use the same
# radix, so "2000" matching beta's 8192 read as hex is not beta's.
K=$(n_mapped); send rad_a alpha alphapw; A=$SEND_PID
one_more_mapped "$K" && rcli del "sb:up:{sim}:2000" >/dev/null
send rad_b beta betapw; B=$SEND_PID
wait "$A" "$B"
check "receipt matching only in the other radix: beta gets only its own" \
    eq "$(counts rad_b)" "1 0"
check "alpha's orphan receipt is not delivered to anyone" eq "$(counts rad_a)" "0 0"
# (looked up again for about 3 s first: its own mapping could still come)
check "it is in dead letters, reason receipt-radix-mismatch" \
    wait_until 10 dead_is receipt-radix-mismatch 1

# ---- an id upstream gave to two messages -------------------------------
K=$(n_mapped); send dup_a alpha alphapw; A=$SEND_PID
one_more_mapped "$K"
send dup_b beta betapw; B=$SEND_PID
wait "$A" "$B"
check "reused id: alpha's mapping was not overwritten by beta's" \
    eq "$(counts dup_a) $(counts dup_b)" "0 0 0 0"
check "both receipts of the reused id in dead letters, reason receipt-id-collision" \
    eq "$(dead_with receipt-id-collision)" 2
check "the collision is counted when beta's message is recorded" \
    eq "$(metric smppbridge_upstream_id_collisions_total)" 1
check "the collision is logged, with the id and the second message's owner" \
    grep -q "message [0-9a-f]* of beta an id already mapped to another message (sb:up:{sim}:dup1)" \
    "$WORK/bridge.log"
check "dead letters are counted by reason" \
    eq "$(metric 'smppbridge_dead_letters_total{reason="receipt-radix-mismatch"}')" 1

check "the bridge is still running" kill -0 "$bridge_PID"
finish
