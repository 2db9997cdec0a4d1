#!/usr/bin/env bash
# Receipts that wait too long, and receipts a customer refuses ([relay]):
#   - receipts for an account with no receiver expire after ttl into
#     P:dead (reason "expired", the account, the PDU kept), leave
#     P:dlr:{ACCOUNT} empty, are counted and logged, and a receiver that
#     binds afterwards gets none of them;
#   - receipts younger than ttl are still delivered;
#   - a receiver that answers deliver_sm with an error status gets the
#     entry again after retry_min, then after doubled pauses capped at
#     retry_max, a handful of times rather than a spin, until it expires;
#   - with no sweep running, an expired entry is not delivered either: the
#     delivery path moves it to P:dead itself.
# The customer submits with smpp-load (registered_delivery 1) and leaves
# before smsc-sim sends the receipts (--dlr-delay-ms), so they wait in
# Redis; tests/interop/receiver.pl is the receiver.
. "$(dirname "$0")/lib.sh"

TTL_MS=3000
RETRY_MIN_MS=400
RETRY_MAX_MS=1000
start_redis
start_sim sim --system-id smppbridge --password simpass --dlr-delay-ms 1000
# The "late" customer has a bridge of its own (own port, Redis key prefix
# and simulator) with a ttl of a minute: its receiver must bind after the
# receipts are stored yet before they expire, and perl's start and the
# bind take seconds on a busy machine under sanitizers.
start_sim simlate --system-id smppbridge --password simpass --dlr-delay-ms 1000
BRIDGE_PORT=$(free_port)
LATE_PORT=$(free_port)
# write_conf FILE SWEEP_INTERVAL [TTL PORT SIM PREFIX]
write_conf() {
    cat >"$1" <<CONF
[server]
listen = 127.0.0.1:${4:-$BRIDGE_PORT}
[redis]
port = $REDIS_PORT
prefix = ${6:-sb}
[relay]
ttl = ${3:-${TTL_MS}ms}
sweep_interval = $2
retry_min = ${RETRY_MIN_MS}ms
retry_max = ${RETRY_MAX_MS}ms
[upstream sim]
host = 127.0.0.1
port = $(port_of "${5:-sim}")
system_id = smppbridge
password = simpass
$(admin_section "$(free_port)")
CONF
}
write_conf "$WORK/bridge.conf" 500ms
write_conf "$WORK/nosweep.conf" 1h
write_conf "$WORK/late.conf" 500ms 60s "$LATE_PORT" simlate sbl
ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }
for a in away picky slow; do
    echo pw | ctl account add "$a" --password-stdin --tps 0 --max-binds 0 >/dev/null
done
echo pw | "$BIN/smppctl" -c "$WORK/late.conf" account add late --password-stdin --tps 0 --max-binds 0 >/dev/null

start_bridge() { # CONF LOG
    "$BIN/smppbridge" -c "$1" 2>"$WORK/$2" &
    BRIDGE_PID=$!
    PIDS+=("$BRIDGE_PID")
    for _ in $(seq 200); do grep -qs "bound as BOUND_TRX" "$WORK/$2" && return 0; sleep 0.05; done
    echo "bridge did not bind upstream" >&2
    return 1
}
rc() { redis-cli -p "$REDIS_PORT" "$@"; }
# PREFIX, where a helper takes it: the bridge's [redis] prefix (default sb).
dlr_len() { rc XLEN "${2:-sb}:dlr:{$1}"; } # ACCOUNT [PREFIX]
dlr_len_is() { [ "$(dlr_len "$1" "${3:-sb}")" = "$2" ]; } # ACCOUNT N [PREFIX]
# dead ACCOUNT [PREFIX]: entries of P:dead with reason "expired", this
# account and a receipt PDU (stat:DELIVRD in its text) kept.
dead() {
    rc EVAL "local n = 0
        for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
            local m, f = {}, e[2]
            for i = 1, #f - 1, 2 do m[f[i]] = f[i + 1] end
            if m.reason == 'expired' and m.account == ARGV[1] and m.p and
               string.find(m.p, 'stat:DELIVRD', 1, true) then n = n + 1 end
        end
        return n" 1 "${2:-sb}:dead" "$1"
}
dead_is() { [ "$(dead "$1")" = "$2" ]; }
# receipt_times KEY [ACCOUNT]: "MS ID" for each entry of stream KEY (of
# P:dead: each one expired for ACCOUNT), MS from its entry id (when Redis
# stored it, on Redis's clock) and ID the receipt's id: in its PDU text.
receipt_times() {
    rc EVAL "local out = {}
        for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
            local m, f = {}, e[2]
            for i = 1, #f - 1, 2 do m[f[i]] = f[i + 1] end
            if ARGV[1] == '' or (m.reason == 'expired' and m.account == ARGV[1]) then
                out[#out + 1] = string.match(e[1], '^%d+') .. ' ' ..
                    (string.match(m.p or '', 'id:(%S+)') or '-')
            end
        end
        return out" 1 "$1" "${2:-}"
}
# stored_times ACCOUNT COUNT: 0 once P:dlr:{ACCOUNT} holds COUNT entries,
# their receipt_times then in $WORK/ACCOUNT.stored.
stored_times() {
    receipt_times "sb:dlr:{$1}" >"$WORK/$1.stored" &&
        [ "$(grep -c . "$WORK/$1.stored")" = "$2" ]
}
# shortest_stay ACCOUNT: the least time (ms) between an entry's storage
# ($WORK/ACCOUNT.stored) and its move to P:dead, both on Redis's clock;
# -1 when an expired receipt was never seen stored.
shortest_stay() {
    receipt_times sb:dead "$1" | awk -v stored="$WORK/$1.stored" '
        BEGIN { while ((getline l < stored) > 0) { split(l, f, " "); at[f[2]] = f[1] } }
        { d = ($2 in at) ? $1 - at[$2] : -1; if (NR == 1 || d < min) min = d }
        END { print (NR ? min : -1) }'
}
# logged ACCOUNT: the entries the bridge's log says it expired for ACCOUNT.
logged() {
    grep -o "account $1: [0-9]* entries older than ttl moved to dead letters" \
        "$WORK/$2" | awk '{ n += $3 } END { print n + 0 }'
}
now_ms() { date +%s%3N; }
# submit ACCOUNT COUNT: messages asking for a receipt, from a customer
# that is gone before the receipts come (smsc-sim sends them 1 s later).
submit() { # ACCOUNT COUNT [PORT]
    timeout 60 "$BIN/smpp-load" --port "${3:-$BRIDGE_PORT}" --system-id "$1" \
        --password pw --count "$2" --dlr --dlr-timeout 0 --json --no-progress \
        >"$WORK/submit_$1.json" 2>"$WORK/submit_$1.err"
    check "$1: $2 submits accepted" eq "$(json "$WORK/submit_$1.json" .submits.ok)" "$2"
    check "$1: the customer left before its receipts came" \
        eq "$(json "$WORK/submit_$1.json" .receipts.received)" 0
}
# receiver NAME ACCOUNT STATUS SECONDS [PORT]: receiver.pl in the
# background, its lines in $WORK/NAME.out; returns once it is bound.
receiver() {
    perl "$ROOT/tests/interop/receiver.pl" 127.0.0.1 "${5:-$BRIDGE_PORT}" "$2" pw \
        "$3" "$4" >"$WORK/$1.out" 2>"$WORK/$1.err" &
    RECEIVER_PID=$!
    PIDS+=("$RECEIVER_PID")
    wait_until 10 grep -q '^bound$' "$WORK/$1.out"
}
deliveries() { grep -c '^[0-9]* ' "$WORK/$1.out"; }

start_bridge "$WORK/late.conf" late.log
LATE_BRIDGE_PID=$BRIDGE_PID
start_bridge "$WORK/bridge.conf" bridge.log

# "late" submits first, so that its receipts come while "away" waits.
submit late 3 "$LATE_PORT"

# ---- no receiver: the receipts expire into P:dead -----------------------
submit away 5
check "away: the 5 receipts are stored for the customer" wait_until 10 stored_times away 5
check "away: after ttl they are in P:dead (reason expired, account away, PDU kept)" \
    wait_until 10 dead_is away 5
# Redis stamps the dead letter after reading the time that judged the
# entry old enough; newer versions stamp the time its command began, up
# to a millisecond earlier, hence the 1 ms.
stay=$(shortest_stay away)
check "away: not before their ttl (the soonest ${stay} ms after it was stored)" \
    ge "$stay" $((TTL_MS - 1))
check "away: P:dlr:{away} is empty" eq "$(dlr_len away)" 0
check "away: the log names the account and the count (5)" eq "$(logged away bridge.log)" 5
check "away: the log line carries no content" \
    bash -c "! grep 'older than ttl' '$WORK/bridge.log' | grep -q 'stat:'"

receiver away_late away 0 1.5
wait "$RECEIVER_PID"
check "away: a receiver that binds after expiry gets nothing" eq "$(deliveries away_late)" 0

# ---- a receiver within ttl gets them -------------------------------------
# (on the late bridge: ttl 60 s, swept every 500 ms meanwhile)
check "late: the 3 receipts are stored" wait_until 10 dlr_len_is late 3 sbl
receiver late_rx late 0 10 "$LATE_PORT"
check "late: a receiver binding within ttl gets all 3" \
    wait_until 5 bash -c "[ \$(grep -c '^[0-9]* ' '$WORK/late_rx.out') -ge 3 ]"
check "late: 3 different receipts" \
    eq "$(grep '^[0-9]* ' "$WORK/late_rx.out" | awk '{ print $2 }' | sort -u | wc -l)" 3
check "late: taken, so deleted from P:dlr:{late}" wait_until 5 dlr_len_is late 0 sbl
kill -TERM "$RECEIVER_PID" 2>/dev/null
wait "$RECEIVER_PID" 2>/dev/null
check "late: nothing expired" eq "$(dead late sbl)" 0
# Not waited for here (its shutdown takes a second); the exit trap reaps it.
kill -TERM "$LATE_BRIDGE_PID"

# ---- a receiver that refuses: backoff, no spin, then expiry --------------
receiver picky picky 0x00000008 15 # ESME_RSYSERR to every deliver_sm
submit picky 1
check "picky: the refused receipt ends in P:dead as expired" wait_until 15 dead_is picky 1
n_at_expiry=$(deliveries picky)
sleep 1.5 # a second and a half more: nothing may come after expiry
check "picky: nothing delivered after it expired" eq "$(deliveries picky)" "$n_at_expiry"
kill -TERM "$RECEIVER_PID" 2>/dev/null
wait "$RECEIVER_PID" 2>/dev/null
mapfile -t times < <(awk '/^[0-9]+ / { print $1 }' "$WORK/picky.out")
check "picky: offered again after refusals (${#times[@]} deliveries in ${TTL_MS} ms)" \
    ge "${#times[@]}" 3
check "picky: the bridge does not spin (at most 5 in ${TTL_MS} ms)" le "${#times[@]}" 5
check "picky: always the same receipt" \
    eq "$(awk '/^[0-9]+ / { print $2 }' "$WORK/picky.out" | sort -u | wc -l)" 1
gaps=()
for ((i = 1; i < ${#times[@]}; i++)); do gaps+=($((times[i] - times[i - 1]))); done
echo "    gaps between deliveries (ms): ${gaps[*]}"
# The gaps are taken where the receiver reads each delivery, and the
# bridge's timers run on libevent's coarse monotonic clock (a few ms):
# 50 ms of slack, far from both a spin (0) and an undoubled pause.
check "picky: the first retry waits retry_min (${RETRY_MIN_MS} ms)" \
    ge "${gaps[0]:-0}" $((RETRY_MIN_MS - 50))
check "picky: the second pause is doubled" ge "${gaps[1]:-0}" $((2 * RETRY_MIN_MS - 50))
max_gap=0
for g in "${gaps[@]}"; do [ "$g" -gt "$max_gap" ] && max_gap=$g; done
# The lower bounds above prove the backoff; this one only catches a timer
# that is stuck or never capped, so its slack covers a scheduler pause on a
# busy machine (sanitizer builds run several times slower).
check "picky: no pause beyond retry_max (${RETRY_MAX_MS} ms, + 1000 ms slack)" \
    le "$max_gap" $((RETRY_MAX_MS + 1000))
check "picky: P:dlr:{picky} is empty" eq "$(dlr_len picky)" 0
check "picky: the log shows the pauses growing to retry_max" \
    bash -c "grep -q 'account picky: deliver_sm not taken (ESME_RSYSERR): offered again in ${RETRY_MIN_MS} ms' '$WORK/bridge.log' &&
             grep -q 'account picky: deliver_sm not taken (ESME_RSYSERR): offered again in $((2 * RETRY_MIN_MS)) ms' '$WORK/bridge.log' &&
             grep -q 'account picky: deliver_sm not taken (ESME_RSYSERR): offered again in ${RETRY_MAX_MS} ms' '$WORK/bridge.log'"
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"

# ---- no sweep: the delivery path does not deliver expired entries -------
start_bridge "$WORK/nosweep.conf" nosweep.log
submit slow 2
check "slow: the 2 receipts are stored" wait_until 10 dlr_len_is slow 2
stored_at=$(now_ms)
while [ $(($(now_ms) - stored_at)) -lt $((TTL_MS + 300)) ]; do sleep 0.1; done
check "slow: still stored after ttl (no sweep before 1h)" eq "$(dlr_len slow)" 2
receiver slow_rx slow 0 10
check "slow: moved to P:dead when about to be delivered" wait_until 5 dead_is slow 2
kill -TERM "$RECEIVER_PID" 2>/dev/null
wait "$RECEIVER_PID" 2>/dev/null
check "slow: the receiver got none of them" eq "$(deliveries slow_rx)" 0
check "slow: P:dlr:{slow} is empty" eq "$(dlr_len slow)" 0
check "slow: logged with the count" eq "$(logged slow nosweep.log)" 2
check "slow: the counter runs on (2 in all on this instance)" \
    grep -q "account slow: 2 entries older than ttl moved to dead letters (expired; 2 in all)" \
    "$WORK/nosweep.log"
check "P:dead holds exactly the expired entries (5 + 1 + 2)" eq "$(rc XLEN sb:dead)" 8
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"
finish
