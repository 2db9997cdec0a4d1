#!/usr/bin/env bash
# Two bridge instances on one Redis behave as one: receipts for a
# customer that is away wait in Redis and are delivered when it binds, on
# whichever instance; receipts that arrive on the instance without the
# customer's bind are handed over (pub/sub, no polling); a customer bound
# to both instances gets each receipt once.
. "$(dirname "$0")/lib.sh"

start_redis
start_sim sim --system-id smppbridge --password simpass --dlr-delay-ms 100
P1=$(free_port); P2=$(free_port)
bridge_conf "$WORK/b1.conf" "$P1" "[queue]
claim_idle = 3s"
# b2 takes the bind storm below: 500 connections from one address at
# once, beyond the per-address defaults (64 open, 20/s in bursts of 40)
bridge_conf "$WORK/b2.conf" "$P2" "[queue]
claim_idle = 3s
[server]
max_connections_per_address = 1000
accepts_per_second_per_address = 1000
accept_burst_per_address = 1000"
echo pw | "$BIN/smppctl" -c "$WORK/b1.conf" account add away --password-stdin --tps 0 --max-binds 0 >/dev/null
echo pw | "$BIN/smppctl" -c "$WORK/b1.conf" account add split --password-stdin --tps 0 --max-binds 0 >/dev/null
run_bridge b1 "$WORK/b1.conf"
run_bridge b2 "$WORK/b2.conf"
run() { # NAME PORT ACCOUNT ARGS...
    local n=$1 p=$2 a=$3
    shift 3
    timeout 120 "$BIN/smpp-load" --port "$p" --system-id "$a" --password pw --json \
        --no-progress "$@" >"$WORK/$n.json" 2>"$WORK/$n.err"
}

# Away: submit on instance 1 with a transmitter only; the receipts wait.
waiting() { redis-cli -p "$REDIS_PORT" XLEN 'sb:dlr:{away}'; }
waiting_is() { [ "$(waiting)" = "$1" ]; }
run away_tx "$P1" away --bind tx --rx-binds 0 --count 300 --dlr --dlr-timeout 1 || true
# the last receipts may still be on their way from the simulator
wait_until 20 waiting_is 300
check "customer away: its receipts wait in Redis" eq "$(waiting)" 300
# It comes back on instance 2, as a receiver only (counted as MO-less
# receipts: smpp-load reports them as unmatched, they carry our ids).
run away_rx "$P2" away --bind tx --rx-binds 1 --count 1 --dlr --dlr-timeout 10 || true
check "customer back on the other instance: every waiting receipt delivered" \
    ge "$(json "$WORK/away_rx.json" .receipts.received)" 301
# an item leaves the stream once its deliver_sm_resp is in, which may be
# just after the client has seen the receipt and left
wait_until 10 waiting_is 0
check "customer back: nothing left waiting" eq "$(waiting)" 0

# Split: transmitter on instance 1, receivers on both: every receipt once.
run split "$P1" split --bind tx --rx-binds 0 --count 1 >/dev/null 2>&1 || true
timeout 60 "$BIN/smpp-load" --port "$P2" --system-id split --password pw --bind tx \
    --rx-binds 1 --rate 5 --duration 8 --json --no-progress >"$WORK/rx2.json" 2>/dev/null &
RX2=$!
run split_main "$P1" split --bind tx --rx-binds 1 --count 2000 --dlr --dlr-timeout 20 &
MAIN=$!
wait "$MAIN"; wait "$RX2"
m=$(json "$WORK/split_main.json" .receipts.matched)
other=$(json "$WORK/rx2.json" .receipts.received)
check "binds on both instances: each of the 2000 receipts delivered exactly once in all" \
    eq "$(( m + other - $(json "$WORK/rx2.json" .receipts.matched) ))" 2000
check "binds on both instances: no duplicates on the submitting side" \
    eq "$(json "$WORK/split_main.json" .receipts.duplicate)" 0
# A reconnection storm: 500 binds of one account at once, before any
# password check has finished: one slow check answers them all.
echo pw | "$BIN/smppctl" -c "$WORK/b1.conf" account add storm --password-stdin --tps 0 --max-binds 0 >/dev/null
run storm_a "$P2" storm --binds 250 --window 1 --count 250 &
SA=$!
run storm_b "$P2" storm --binds 250 --window 1 --count 250
wait "$SA"
check "bind storm: 500 binds of one account at once, none refused" \
    eq "$(json "$WORK/storm_a.json" .sessions.bind_failed) $(json "$WORK/storm_b.json" .sessions.bind_failed)" "0 0"
check "bind storm: all 500 bound" \
    bash -c "[ \$(grep -c 'storm .*bound as' '$WORK/b2.log') -ge 500 ]"

# kill -9 of the instance that took the messages: the other claims its
# queue entries (after claim_idle) and delivers their receipts to the
# customer's receiver, bound to it.
echo pw | "$BIN/smppctl" -c "$WORK/b1.conf" account add crash --password-stdin --tps 0 --max-binds 0 >/dev/null
timeout 60 "$BIN/smpp-load" --port "$P2" --system-id crash --password pw --bind tx \
    --rx-binds 1 --rate 1 --duration 20 --dlr-timeout 1 --json --no-progress \
    >"$WORK/crash_rx.json" 2>/dev/null &
RX=$!
sleep 1
run crash_tx "$P1" crash --bind tx --rx-binds 0 --rate 300 --duration 6 --dlr \
    --dlr-timeout 1 --resp-timeout 2 &
TX=$!
sleep 3
kill -KILL "$b1_PID"
wait "$TX"
wait "$RX"
ok=$(json "$WORK/crash_tx.json" .submits.ok)
got=$(json "$WORK/crash_rx.json" .receipts.received)
check "kill -9 of one instance under load: every accepted message's receipt reached the customer on the other ($ok accepted)" \
    ge "$got" "$ok"
check "instance 2 exits 0" stop "$b2_PID"
finish
