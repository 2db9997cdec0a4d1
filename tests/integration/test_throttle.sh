#!/usr/bin/env bash
# Per-account throughput held across instances: at twice the account's
# rate the accepted rate stays within 5% of it over 10 s, for one bridge
# and for two bridges on one Redis; the excess is refused at once with
# ESME_RTHROTTLED; a live `smppctl account set --tps` applies within a
# second.
. "$(dirname "$0")/lib.sh"

start_redis
start_sim sim --system-id smppbridge --password simpass
P1=$(free_port); P2=$(free_port)
WINDOW="[server]
window = 1000"
bridge_conf "$WORK/b1.conf" "$P1" "$WINDOW"
bridge_conf "$WORK/b2.conf" "$P2" "$WINDOW"
ctl() { "$BIN/smppctl" -c "$WORK/b1.conf" "$@"; }
echo pw | ctl account add rated --password-stdin --max-binds 0 --tps 200 >/dev/null

run_bridge b1 "$WORK/b1.conf"
run_bridge b2 "$WORK/b2.conf"

load() { # NAME PORT RATE
    timeout 60 "$BIN/smpp-load" --port "$2" --system-id rated --password pw \
        --binds 2 --window 200 --rate "$3" --duration 10 --json --no-progress \
        >"$WORK/$1.json" 2>"$WORK/$1.err"
}
accepted() { json "$WORK/$1.json" .submits.ok; }
throttled() { json "$WORK/$1.json" .submits.throttled; }
within5() { # VALUE EXPECTED
    [ "$1" -ge $(($2 * 95 / 100)) ] && [ "$1" -le $(($2 * 105 / 100)) ] && return 0
    echo "    $1 is not within 5% of $2" >&2
    return 1
}

load one "$P1" 400
check "one instance, 400/s offered for 10 s to a 200/s account: 2000 accepted within 5%" \
    within5 "$(accepted one)" 2000
check "one instance: the excess answered ESME_RTHROTTLED" ge "$(throttled one)" 1800

load two_a "$P1" 200 &
A=$!
load two_b "$P2" 200
wait "$A"
check "two instances, 200/s each (2x) to a 200/s account: 2000 accepted in all within 5%" \
    within5 $(( $(accepted two_a) + $(accepted two_b) )) 2000
# Shares wander with timing: an instance asks Redis for tokens as its
# submits arrive, so a load client that gets less CPU sends in bursts and
# its instance finds the bucket emptied by the other more often (seen
# 30-70% under the sanitizers on a busy machine). What must never happen
# is one instance starving the other: the quickest asker taking every
# token leaves the other under 5%.
share_between() { # A B LOW HIGH: A's share of A+B, in percent
    local pct=$(($1 * 100 / ($1 + $2)))
    [ "$pct" -ge "$3" ] && [ "$pct" -le "$4" ] && return 0
    echo "    accepted $1 and $2: a share of $pct%" >&2
    return 1
}
echo "    accepted: $(accepted two_a) through the first, $(accepted two_b) through the second"
check "two instances: neither starves the other (each 10-90%)" \
    share_between "$(accepted two_a)" "$(accepted two_b)" 10 90

perl "$ROOT/tests/interop/rate_client.pl" 127.0.0.1 "$P1" rated pw 300 6 \
    >"$WORK/live.txt" 2>"$WORK/live.err" &
R=$!
wait_until 20 grep -q '^started$' "$WORK/live.err"
sleep 2.3
ctl account set rated --tps 50 >/dev/null
wait "$R"
# seconds 0-1 at 200/s; the change at about 2.3 s of the client's time;
# from second 4 on, 50/s
check "live tps change: before it, about 200/s accepted" \
    bash -c "ok=\$(awk '\$1 == 1 { print \$2 }' '$WORK/live.txt'); [ \$ok -ge 170 ] && [ \$ok -le 230 ]"
check "live tps change: a second after it, about 50/s accepted" \
    bash -c "awk '\$1 >= 4 { if (\$2 < 35 || \$2 > 65) bad = 1 } END { exit bad }' '$WORK/live.txt'"
check "first bridge exits 0 on SIGTERM" stop "$b1_PID"
check "second bridge exits 0 on SIGTERM" stop "$b2_PID"
finish
