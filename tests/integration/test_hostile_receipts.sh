#!/usr/bin/env bash
# One customer away while upstream floods it with receipts: its stream of
# waiting receipts (P:dlr:{ID}) stays near [redis] dlr_maxlen, the excess
# is refused to upstream with ESME_RX_T_APPN (nothing stored, nothing
# acknowledged: upstream keeps it), and another customer's receipts are
# still stored and delivered.
. "$(dirname "$0")/lib.sh"

CAP=100
start_redis
start_sim sim --system-id smppbridge --password simpass
BRIDGE_PORT=$(free_port)
bridge_conf "$WORK/bridge.conf" "$BRIDGE_PORT" "$(admin_section)
[redis]
dlr_maxlen = $CAP"
for a in away calm; do
    echo pw | "$BIN/smppctl" -c "$WORK/bridge.conf" account add "$a" --password-stdin \
        --tps 0 --max-binds 0 >/dev/null
done
run_bridge bridge "$WORK/bridge.conf"
metric() { # NAME{LABELS}: its value on the admin server, 0 when absent
    curl -fsS "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v m="$1" '$1 == m { print $2; f = 1 } END { if (!f) print 0 }'
}
dlr_len() { redis-cli -p "$REDIS_PORT" XLEN "sb:dlr:{$1}"; }

# away: 300 messages with receipts asked for, and no receiver bound
timeout 60 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id away --password pw \
    --bind tx --rx-binds 0 --dlr --dlr-timeout 1 --count 300 --json --no-progress \
    >"$WORK/away.json" 2>"$WORK/away.err"
check "away: all 300 submits accepted" eq "$(json "$WORK/away.json" .submits.ok)" 300
full() { [ "$(metric 'smppbridge_receipt_stream_full_total{account="away"}')" -gt 0 ]; }
check "away: receipts beyond its cap are refused (metric)" wait_until 20 full
settled() { # the stream has stopped growing for a second
    local a b
    a=$(dlr_len away); sleep 1; b=$(dlr_len away)
    [ "$a" = "$b" ]
}
wait_until 20 settled
len=$(dlr_len away)
echo "    away: $len receipts waiting (cap $CAP)"
check "away: the stream reached its cap" ge "$len" "$CAP"
# soft by the writes on their way: at most the upstream window (50)
check "away: ... and stays within the cap plus one window" le "$len" $((CAP + 50))
check "away: the refusal is logged once, with the account" \
    eq "$(grep -c 'wait for away (\[redis\] dlr_maxlen' "$WORK/bridge.log")" 1

# calm: not affected
timeout 60 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id calm --password pw \
    --dlr --count 20 --json --no-progress >"$WORK/calm.json" 2>"$WORK/calm.err"
check "calm: 20 accepted and 20 receipts while away is full" \
    eq "$(json "$WORK/calm.json" '"\(.submits.ok) \(.receipts.matched)"')" "20 20"

# away binds a receiver: it gets every receipt that was stored
perl "$ROOT/tests/interop/receiver.pl" 127.0.0.1 "$BRIDGE_PORT" away pw 0 8 \
    >"$WORK/rx.out" 2>"$WORK/rx.err"
got=$(grep -c '^[0-9]' "$WORK/rx.out")
check "away: its receiver gets at least the $len receipts stored" ge "$got" "$len"
check "away: ... and its stream is read down below the cap" le "$(dlr_len away)" $((CAP - 1))
kill -TERM "$SIM_PID"
wait_gone "$SIM_PID" 10
failed=$(json "$WORK/sim.json" .receipts_failed 2>/dev/null || echo 0)
check "upstream was told to send the excess again (deliver_sm refused: $failed)" \
    ge "$failed" 1
check "bridge exits 0 on SIGTERM" stop "$bridge_PID"
finish
