#!/usr/bin/env bash
# A slow upstream: unknown outcomes are not failures. smsc-sim answers
# every submit_sm later than the bridge's resp_timeout. What customers
# rely on: an SMS is not multiplied (each message reaches the SMSC at most
# twice: the one resend after an unknown outcome), every message gets the
# SMSC's real receipt state, nothing is recorded REJECTED nor receipted
# REJECTD, and the upstream session is not closed for the late answers.
# Then an SMSC that never answers within the grace: each message is sent
# at most twice and ends UNKNOWN (stat:UNKNOWN receipt), never REJECTD;
# and with resend_unknown = never, exactly once. A bridge stopped while
# messages wait for a late answer records them UNKNOWN and leaves nothing
# in the queue that a restart would send a third time. The bound holds
# across runs: a bridge stopped (SIGTERM) while first copies are out, or
# killed (kill -9) while they wait for their one resend, and started
# again, sends no message more than twice in all. While Redis runs with an
# evicting policy (the bridge is not ready) the entries it holds are still
# touched, so that no other instance claims and resends them.
. "$(dirname "$0")/lib.sh"

N=30
R() { redis-cli -p "$REDIS_PORT" "$@"; }

# conf NAME EXTRA: a bridge config on a free port, its admin on another;
# the upstream answers in 1.5 s, we wait 1 s; retries come fast so that a
# resend is on the wire when the first copy's late answer arrives.
conf() {
    BRIDGE_PORT=$(free_port)
    ADMIN_PORT=$(free_port)
    # the first lines continue bridge_conf's [upstream sim]
    bridge_conf "$WORK/$1.conf" "$BRIDGE_PORT" "sessions = 1
resp_timeout = ${RESP_TIMEOUT:-1s}
reconnect_min = 100ms
reconnect_max = 500ms
$3
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[queue]
retry_min = ${RETRY_MIN:-100ms}
retry_max = 2s
max_attempts = 3
$2"
}

# load NAME ACCOUNT ARGS...: N messages with registered_delivery, JSON out
load() {
    local name=$1 acct=$2
    shift 2
    timeout 120 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id "$acct" \
        --password pw --json --no-progress --count "$N" --window "$N" \
        --resp-timeout 10 --retry-throttled "$@" >"$WORK/$name.json" 2>"$WORK/$name.err"
}
field() { json "$WORK/$1.json" "$2"; }

# records_in STATE ACCOUNT: message records of ACCOUNT in STATE
records_in() {
    local n=0 k
    for k in $(R --scan --pattern "sb:msg:{$2}:*"); do
        [ "$(R HGET "$k" state)" = "$1" ] && n=$((n + 1))
    done
    echo "$n"
}
# cdrs FIELD VALUE ACCOUNT: CDRs of ACCOUNT whose FIELD is VALUE
cdrs() {
    R --raw XRANGE sb:cdr - + | awk -v f="$1" -v v="$2" -v a="$3" '
        /^[0-9]+-[0-9]+$/ { if (ok && mine) n++; ok = 0; mine = 0; key = ""; next }
        key == "" { key = $0; next }
        { if (key == f && $0 == v) ok = 1; if (key == "account" && $0 == a) mine = 1; key = "" }
        END { if (ok && mine) n++; print n + 0 }'
}
metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 { s += $NF } END { print s + 0 }'; }

start_redis
# ---- late answers: 1.5 s against resp_timeout 1 s ---------------------------
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 1500 \
    --dlr-delay-ms 500
conf slow "" ""
for a in slow patient silent never drain failonly term crash evict; do
    echo pw | "$BIN/smppctl" -c "$WORK/slow.conf" account add "$a" \
        --password-stdin --tps 1000 >/dev/null
done
check "bridge starts on the slow upstream" run_bridge slow "$WORK/slow.conf"
check "$N messages with receipts through an upstream slower than resp_timeout" \
    load slow slow --dlr --dlr-timeout 30
check "every submit answered ESME_ROK" eq "$(field slow .submits.ok)" "$N"
check "every message gets the SMSC's real receipt state: DELIVRD" \
    eq "$(field slow '"\(.receipts.matched) \(.receipts.missing) \(.receipts.states.DELIVRD // 0)"')" "$N 0 $N"
check "no REJECTD receipt" eq "$(field slow '.receipts.states.REJECTD // 0')" 0
check "no duplicate receipt" eq "$(field slow .receipts.duplicate)" 0
check "late answers are counted, not dropped" \
    ge "$(metric smppbridge_upstream_late_responses_total)" 1
check "no message recorded REJECTED" eq "$(records_in REJECTED slow)" 0
check "every message recorded DELIVERED" eq "$(records_in DELIVERED slow)" "$N"
check "every CDR says DELIVERED" eq "$(cdrs state DELIVERED slow)" "$N"
RESENT=$(cdrs resent 1 slow)
echo "    $RESENT of $N CDRs say resent=1"
check "the upstream session stayed up: bound once, never closed" \
    eq "$(grep -c '\[up\].*bound as BOUND_TRX' "$WORK/slow.log") $(grep -c 'session closed' "$WORK/slow.log")" "1 0"
stop "$slow_PID"
stop "$SIM_PID"
SEEN=$(json "$WORK/sim.json" .submit_sm)
check "the SMSC saw each message at most twice (one resend after an unknown outcome)" \
    le "$SEEN" $((2 * N))
check "the SMSC saw every message" ge "$SEEN" "$N"
check "the SMSC saw one bind" eq "$(json "$WORK/sim.json" .binds)" 1
check "resent=1 in the CDR of each message the SMSC saw twice" \
    eq "$RESENT" $((SEEN - N))

# ---- the late answer comes before the resend is due: no second copy ----------
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 1500 \
    --dlr-delay-ms 500
RETRY_MIN=1s conf patient "" ""
check "bridge starts (retry_min 1s: the late answer comes first)" \
    run_bridge patient "$WORK/patient.conf"
check "$N messages, each answered 0.5 s after resp_timeout" \
    load patient patient --dlr --dlr-timeout 30
check "every message DELIVRD, none REJECTD" \
    eq "$(field patient '"\(.receipts.states.DELIVRD // 0) \(.receipts.states.REJECTD // 0)"')" "$N 0"
check "no CDR says resent" eq "$(cdrs resent 1 patient) $(cdrs state DELIVERED patient)" "0 $N"
stop "$patient_PID"
stop "$SIM_PID"
check "a late answer stops the resend: the SMSC saw each message once" \
    eq "$(json "$WORK/sim.json" .submit_sm)" "$N"

# ---- no answer within the grace: UNKNOWN, never REJECTED ---------------------
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 600000
conf silent "" "late_resp_grace = 2s"
check "bridge starts on a silent upstream" run_bridge silent "$WORK/silent.conf"
check "$N messages whose submits are never answered in time" \
    load silent silent --dlr --dlr-timeout 30
check "every one ends with a stat:UNKNOWN receipt, none REJECTD" \
    eq "$(field silent '"\(.receipts.states.UNKNOWN // 0) \(.receipts.states.REJECTD // 0)"')" "$N 0"
check "recorded UNKNOWN, never REJECTED" \
    eq "$(records_in UNKNOWN silent) $(records_in REJECTED silent)" "$N 0"
check "each CDR says UNKNOWN and resent=1" \
    eq "$(cdrs state UNKNOWN silent) $(cdrs resent 1 silent)" "$N $N"
check "the upstream session stayed up" eq "$(grep -c 'session closed' "$WORK/silent.log")" 0
stop "$silent_PID"
stop "$SIM_PID"
check "the silent SMSC saw each message exactly twice (resend_unknown = once)" \
    eq "$(json "$WORK/sim.json" .submit_sm)" $((2 * N))

# ---- resend_unknown = never: one copy only -----------------------------------
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 600000
conf never "resend_unknown = never" "late_resp_grace = 2s"
check "bridge starts with resend_unknown = never" run_bridge never "$WORK/never.conf"
check "$N messages, never answered in time" load never never --dlr --dlr-timeout 30
check "resend_unknown = never: stat:UNKNOWN receipts, none REJECTD" \
    eq "$(field never '"\(.receipts.states.UNKNOWN // 0) \(.receipts.states.REJECTD // 0)"')" "$N 0"
check "resend_unknown = never: no CDR says resent" eq "$(cdrs resent 1 never)" 0
stop "$never_PID"
stop "$SIM_PID"
check "resend_unknown = never: the SMSC saw each message once" \
    eq "$(json "$WORK/sim.json" .submit_sm)" "$N"

# ---- SIGTERM while messages wait for a late answer ---------------------------
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 600000
conf drain "" ""
check "bridge starts (late_resp_grace at its default, 5 minutes)" \
    run_bridge drain "$WORK/drain.conf"
check "$N messages, never answered" load drain drain
waiting() { [ "$(grep -c 'waiting for a late answer' "$WORK/drain.log")" -eq "$N" ]; }
check "each waits for a late answer after its one resend" wait_until 30 waiting
check "SIGTERM: the bridge drains and exits 0" stop "$drain_PID"
check "the waiting messages are recorded UNKNOWN at the drain" \
    eq "$(records_in UNKNOWN drain) $(records_in REJECTED drain)" "$N 0"
check "nothing left in the queue for a restart to send a third time" \
    eq "$(R XLEN sb:queue) $(R XPENDING sb:queue bridge | head -1)" "0 0"
stop "$SIM_PID"
check "the SMSC saw each message twice, no more" \
    eq "$(json "$WORK/sim.json" .submit_sm)" $((2 * N))

# ---- failure receipts only: the first real receipt decides -------------------
# registered_delivery 2 (failures only) and an SMSC whose receipts say
# DELIVRD or UNDELIV at random. A message sent twice (the one resend after
# an unknown outcome) is accepted twice and gets two receipts; the first
# makes the record final, and the customer gets a receipt exactly when
# that one is a failure: never copy 2's UNDELIV after copy 1's DELIVRD.
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 1500 \
    --dlr-delay-ms 500 --dlr-mix DELIVRD:50,UNDELIV:50
conf failonly "" ""
check "bridge starts (failure receipts only)" run_bridge failonly "$WORK/failonly.conf"
# a transmitter that goes away: the receipts it gets stay in P:dlr:{failonly}
OPS=()
for ((i = 1; i <= N; i++)); do OPS+=("submit:3460001:3460$(printf %07d "$i"):fail only:2"); done
perl "$ROOT/tests/interop/ops_client.pl" --port "$BRIDGE_PORT" --system-id failonly \
    --password pw --bind tx --timeout 10 "${OPS[@]}" >"$WORK/failonly.jsonl" 2>"$WORK/failonly.err"
check "$N submits with registered_delivery 2, each ESME_ROK" \
    eq "$(jq -r 'select(.op == "submit") | .status' "$WORK/failonly.jsonl" | grep -cx 0)" "$N"
final_count() {
    echo $(($(records_in DELIVERED failonly) + $(records_in UNDELIVERABLE failonly)))
}
all_final() { [ "$(final_count)" -eq "$N" ]; }
check "every message final within 60 s" wait_until 60 all_final
# every copy answered (each timed-out one late) and every receipt of each
# copy taken in by the bridge (deliver_sm_resp ESME_ROK)
ok_copies() {
    echo $(($(metric 'smppbridge_upstream_submits_total{connector="sim",status="ESME_ROK"}') +
        $(metric 'smppbridge_upstream_late_responses_total{connector="sim",status="ESME_ROK"}')))
}
copies_done() {
    [ "$(metric 'smppbridge_upstream_submits_total{connector="sim",status="timeout"}')" = \
        "$(metric 'smppbridge_upstream_late_responses_total{connector="sim"')" ] &&
        [ "$(metric smppbridge_upstream_deliver_acked_total)" -ge "$(ok_copies)" ]
}
check "every copy's receipt taken in within 30 s" wait_until 30 copies_done
FO_RESENT=$(cdrs resent 1 failonly)
echo "    $FO_RESENT of $N messages sent twice; $(ok_copies) copies accepted"
check "some messages were sent twice (the case this is about)" ge "$FO_RESENT" 1
check "the customer got one receipt per message whose record is UNDELIVERABLE" \
    eq "$(R XLEN 'sb:dlr:{failonly}')" "$(records_in UNDELIVERABLE failonly)"
check "each message's record has the receipted marker" \
    eq "$(for k in $(R --scan --pattern 'sb:msg:{failonly}:*'); do R HGET "$k" receipted; done | grep -cx 1)" "$N"
stop "$failonly_PID"

# ---- SIGTERM while first copies are out, then a restart ----------------------
# resp_timeout 3 s: the signal comes while every first copy is out, and
# they time out during the drain
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 600000
RESP_TIMEOUT=3s conf term "" "late_resp_grace = 2s"
check "bridge starts (resp_timeout 3s)" run_bridge term "$WORK/term.conf"
check "$N messages, never answered" load term term
all_out() { [ "$(metric smppbridge_upstream_window_used)" -eq "$N" ]; }
check "every first copy is out, unanswered" wait_until 10 all_out
check "SIGTERM while they are out: the bridge drains and exits 0" stop "$term_PID"
check "copies that timed out during the drain are recorded UNKNOWN" \
    eq "$(records_in UNKNOWN term) $(records_in REJECTED term)" "$N 0"
check "nothing left pending for the next run to send again" \
    eq "$(R XLEN sb:queue) $(R XPENDING sb:queue bridge | head -1)" "0 0"
check "the same bridge starts again" run_bridge term2 "$WORK/term.conf"
queue_empty() { [ "$(R XLEN sb:queue) $(R XPENDING sb:queue bridge | head -1)" = "0 0" ]; }
check "the restarted bridge has nothing left to do" wait_until 30 queue_empty
stop "$term2_PID"
stop "$SIM_PID"
check "SIGTERM and restart: the SMSC saw each message at most twice in all" \
    le "$(json "$WORK/sim.json" .submit_sm)" $((2 * N))

# ---- kill -9 while messages wait for their one resend, then a restart --------
# retry_min 2 s: after its first copy times out each message waits that
# long for the resend; the bridge is killed meanwhile. The restart takes
# the entries back from its own history and must count that first copy.
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 600000
RETRY_MIN=2s conf crash "" "late_resp_grace = 2s"
check "bridge starts (retry_min 2s)" run_bridge crash "$WORK/crash.conf"
check "$N messages, never answered" load crash crash
resend_due() {
    [ "$(metric 'smppbridge_upstream_unknown_outcomes_total{connector="sim",action="resent"}')" -eq "$N" ]
}
check "every first copy timed out, each message waits for its one resend" \
    wait_until 10 resend_due
{ kill -KILL "$crash_PID" && wait "$crash_PID"; } 2>/dev/null
unknown_copies() {
    local n=0 k
    for k in $(R --scan --pattern "sb:msg:{crash}:*"); do
        [ "$(R HGET "$k" unknown_copies)" = 1 ] && n=$((n + 1))
    done
    echo "$n"
}
check "each record counts its copy whose outcome is unknown" eq "$(unknown_copies)" "$N"
check "the same bridge starts again after kill -9" run_bridge crash2 "$WORK/crash.conf"
all_unknown() { [ "$(records_in UNKNOWN crash)" -eq "$N" ]; }
check "the restarted bridge ends every message UNKNOWN" wait_until 30 all_unknown
check "none recorded REJECTED, each CDR says UNKNOWN and resent=1" \
    eq "$(records_in REJECTED crash) $(cdrs state UNKNOWN crash) $(cdrs resent 1 crash)" "0 $N $N"
stop "$crash2_PID"
stop "$SIM_PID"
check "kill -9 and restart: the SMSC saw each message at most twice in all" \
    le "$(json "$WORK/sim.json" .submit_sm)" $((2 * N))
check "and each at least once" ge "$(json "$WORK/sim.json" .submit_sm)" "$N"

# ---- Redis turns to an evicting policy while messages are held -------------
# claim_idle 1 s: held entries must be touched every third of it, also
# while the store is not ready, or another instance would claim them
start_sim sim --system-id smppbridge --password simpass --resp-delay-ms 600000
conf evict "claim_idle = 1s" ""
check "bridge starts (claim_idle 1s)" run_bridge evict "$WORK/evict.conf"
check "$N messages, never answered" load evict evict
waiting_evict() { [ "$(grep -c 'waiting for a late answer' "$WORK/evict.log")" -eq "$N" ]; }
check "each waits for a late answer, held by the bridge" wait_until 30 waiting_evict
R CONFIG SET maxmemory-policy allkeys-lru >/dev/null
R CLIENT KILL TYPE normal >/dev/null # the bridge reconnects and asks again
evicting() { grep -q 'maxmemory-policy is allkeys-lru' "$WORK/evict.log"; }
check "the bridge sees the evicting policy (not ready)" wait_until 20 evicting
# the largest idle time of a pending entry, in ms
idle_max() { R XPENDING sb:queue bridge - + 1000 | awk 'NR % 4 == 3 && $1 > m { m = $1 } END { print m + 0 }'; }
idle_over() { [ "$(idle_max)" -gt 1500 ]; }
check "while Redis evicts, held entries are touched: none idle past claim_idle for 4 s" \
    eval '! wait_until 4 idle_over 2>/dev/null'
check "and they are still pending, held by this bridge" \
    eq "$(R XPENDING sb:queue bridge | head -1)" "$N"
R CONFIG SET maxmemory-policy noeviction >/dev/null
stop "$evict_PID"
stop "$SIM_PID"

finish
