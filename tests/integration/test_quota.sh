#!/usr/bin/env bash
# Per-account daily quota: an account with daily_quota 300 gets exactly
# 300 of 1000 submits accepted and the rest ESME_RTHROTTLED at once, on
# one bridge and on two bridges sharing one Redis (within the documented
# bound of tokens an instance may strand); each part of a long message
# counts; the day's counter in Redis expires after the next midnight
# UTC; a live `smppctl account set --daily-quota` applies within a
# second; the refusal is logged once per day; the first submits on an
# instance wait for its first batch instead of being refused.
. "$(dirname "$0")/lib.sh"

start_redis
start_sim sim --system-id smppbridge --password simpass
P1=$(free_port); P2=$(free_port)
WINDOW="[server]
window = 1000"
bridge_conf "$WORK/b1.conf" "$P1" "$WINDOW"
bridge_conf "$WORK/b2.conf" "$P2" "$WINDOW"
ctl() { "$BIN/smppctl" -c "$WORK/b1.conf" "$@"; }
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
# the batch an instance leases for a quota of 300 (1/100) and what one
# instance may hold unused: a batch and a half (docs/operations.md)
BATCH=3
STRAND=$((BATCH + BATCH / 2))

echo pw | ctl account add capped --password-stdin --max-binds 0 --tps 10000 --daily-quota 300 >/dev/null
echo pw | ctl account add shared --password-stdin --max-binds 0 --tps 10000 --daily-quota 300 >/dev/null
echo pw | ctl account add parts --password-stdin --max-binds 0 --tps 10000 --daily-quota 300 >/dev/null
echo pw | ctl account add fresh --password-stdin --max-binds 0 --tps 0 --daily-quota 300 >/dev/null
check "smppctl: daily_quota stored in the account hash" \
    eq "$(rcli HGET 'sb:acct:{capped}' daily_quota)" 300
check "smppctl show: daily_quota in the JSON" \
    eq "$(ctl account show capped | jq -r .daily_quota)" 300
check "smppctl list --long: one JSON line per account with daily_quota" \
    eq "$(ctl account list --long | jq -r '"\(.id)=\(.daily_quota)"' | tr '\n' ' ')" \
    "capped=300 fresh=300 parts=300 shared=300 "
check "smppctl list: still bare ids" eq "$(ctl account list | tr '\n' ' ')" "capped fresh parts shared "

run_bridge b1 "$WORK/b1.conf"
run_bridge b2 "$WORK/b2.conf"

load() { # NAME PORT ACCOUNT COUNT RATE [ARGS...]
    local name=$1 port=$2 acct=$3 count=$4 rate=$5
    shift 5
    timeout 60 "$BIN/smpp-load" --port "$port" --system-id "$acct" --password pw \
        --window 50 --count "$count" --rate "$rate" --json --no-progress "$@" \
        >"$WORK/$name.json" 2>"$WORK/$name.err"
}
accepted() { json "$WORK/$1.json" .submits.ok; }
throttled() { json "$WORK/$1.json" .submits.throttled; }

# --- the first submits on an instance wait for its first batch ---------------
# Nothing is leased yet for this account here: a submit that comes while
# the first batch (3 tokens) is on its way waits for it, and a burst
# waits for as many batches as it needs, instead of being refused. (No
# rate for this account: a rate's first lease is not waited for.)
DAY=$(date -u +%Y%m%d)
load fresh_one "$P2" fresh 1 0
check "first submit of the day on an instance: ESME_ROK, not refused" \
    eq "$(accepted fresh_one) $(throttled fresh_one)" "1 0"
load fresh_burst "$P1" fresh 40 0
check "a burst of 40 with nothing leased yet: all 40 accepted" \
    eq "$(accepted fresh_burst) $(throttled fresh_burst)" "40 0"

# --- one instance -----------------------------------------------------------
# Offered well past the quota: a submit that finds no token at hand while
# the next batch is on its way is refused too, and a busy machine bunches
# submits, so the excess must cover those as well as the 300.
load one "$P1" capped 1000 250
check "one instance: exactly 300 of 1000 accepted" eq "$(accepted one)" 300
check "one instance: the other 700 answered ESME_RTHROTTLED" eq "$(throttled one)" 700
check "the day's counter in Redis holds the quota" \
    eq "$(rcli GET "sb:quota:{capped}:$DAY")" 300
# the key expires an hour after the day ends, never before the day ends
MIDNIGHT=$(( ($(date -u +%s) / 86400 + 1) * 86400 ))
EXPIRES=$(rcli EXPIRETIME "sb:quota:{capped}:$DAY")
check "the counter expires after the next midnight UTC" ge "$EXPIRES" "$MIDNIGHT"
check "... and within an hour of it" le "$EXPIRES" $((MIDNIGHT + 3600))
check "the refusal is logged once for the day" \
    eq "$(grep -c "account capped: daily quota of 300 reached" "$WORK/b1.log")" 1

# --- two instances on one Redis -------------------------------------------
load two_a "$P1" shared 500 250 &
A=$!
load two_b "$P2" shared 500 250
wait "$A"
TOTAL=$(( $(accepted two_a) + $(accepted two_b) ))
echo "    two instances: $(accepted two_a) + $(accepted two_b) = $TOTAL accepted"
check "two instances: never more than the quota in all" le "$TOTAL" 300
check "two instances: at most $STRAND per instance stranded" ge "$TOTAL" $((300 - 2 * STRAND))
check "two instances: every submit answered ESME_ROK or ESME_RTHROTTLED" \
    eq $(( TOTAL + $(throttled two_a) + $(throttled two_b) )) 1000
check "two instances: Redis never granted past the quota" \
    eq "$(rcli GET "sb:quota:{shared}:$DAY")" 300

# --- each part of a long message counts --------------------------------------
load parts "$P1" parts 400 200 --parts 2
check "parts: 400 two-part messages to a quota of 300: 300 parts accepted" \
    eq "$(accepted parts)" 300
check "parts: the other 500 parts ESME_RTHROTTLED" eq "$(throttled parts)" 500

# --- a live raise applies within a second -----------------------------------
# capped has used its 300. 20/s for 5 s; the quota goes to 400 about
# 1.8 s into the client's run.
perl "$ROOT/tests/interop/rate_client.pl" 127.0.0.1 "$P1" capped pw 20 5 \
    >"$WORK/live.txt" 2>"$WORK/live.err" &
R=$!
wait_until 20 grep -q '^started$' "$WORK/live.err"
sleep 1.8
ctl account set capped --daily-quota 400 >/dev/null
wait "$R"
sec() { awk -v s="$1" -v f="$2" '$1 == s { print $f }' "$WORK/live.txt"; }
check "live raise: before it, nothing accepted" eq "$(sec 0 2)" 0
check "live raise: a second after it, every submit accepted (s3)" eq "$(sec 3 2)" 20
check "live raise: ... (s4)" eq "$(sec 4 2)" 20
check "live raise: never past the new quota" \
    le "$(rcli GET "sb:quota:{capped}:$DAY")" 400

check "first bridge exits 0 on SIGTERM" stop "$b1_PID"
check "second bridge exits 0 on SIGTERM" stop "$b2_PID"
finish
