#!/usr/bin/env bash
# The soak test (`make soak`, not part of `make test`): many messages with
# receipts through one bridge at a steady rate, to show that nothing grows
# with the number of messages. smpp-load -> smppbridge -> smsc-sim on
# loopback, Redis with AOF everysec, [redis] final_ttl = SOAK_FINAL_TTL.
#
#   SOAK_COUNT=10000000      messages (each with a receipt)
#   SOAK_RATE=10000          msg/s, open loop
#   SOAK_FINAL_TTL=60s       the bridge's [redis] final_ttl
#   SOAK_SAMPLE=5            seconds between samples
#   SOAK_MAX_REDIS_MB=4096   stop early (FAIL) past this Redis used_memory
#   SOAK_MAX_RSS_MB=2048     stop early (FAIL) past this bridge RSS
#   SOAK_KEEP=1              keep the work directory (logs, samples)
#   BIN=build/bin            the binaries
#
# Every SOAK_SAMPLE seconds it prints: seconds since the load started,
# messages done (matched receipts), bridge RSS, Redis used_memory and keys.
# Then three checks, each PASS or FAIL; exit status 1 on any FAIL:
#   rss    the bridge's RSS at the end grew at most 10% over its value
#          once the first million messages were done (10% of SOAK_COUNT
#          when that is smaller);
#   redis  Redis used_memory is flat once final_ttl has passed: the last
#          sample of the load against the first taken final_ttl + margin
#          (margin: 10 s, or final_ttl / 2 when larger) after the load
#          started, within 10% (and the highest in between is printed);
#   loss   every submit answered (ESME_ROK, or another status, counted),
#          none unsent, no receipt missing.
# The load is bounded at SOAK_COUNT / SOAK_RATE x 1.25 + 120 s; then the
# script waits (bounded) for final_ttl to pass and shows what Redis holds.
# 10 million at 10000/s takes about 18 minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
COUNT=${SOAK_COUNT:-10000000}
RATE=${SOAK_RATE:-10000}
FINAL_TTL=${SOAK_FINAL_TTL:-60s}
SAMPLE=${SOAK_SAMPLE:-5}
MAX_REDIS_MB=${SOAK_MAX_REDIS_MB:-4096}
MAX_RSS_MB=${SOAK_MAX_RSS_MB:-2048}
WORK=$(mktemp -d)
. "$ROOT/load/bench-lib.sh"
TTL_S=$(duration_s "$FINAL_TTL")
LOAD_PID=

cleanup() {
    [ -n "$LOAD_PID" ] && kill -TERM "$LOAD_PID" 2>/dev/null || true
    rig_cleanup
    if [ -n "${SOAK_KEEP:-}" ]; then echo "logs and samples kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

LIMIT_S=$(( COUNT / RATE * 5 / 4 + 120 ))
REF_COUNT=$(( COUNT / 10 < 1000000 ? COUNT / 10 : 1000000 ))
MARGIN_S=$(( TTL_S / 2 > 10 ? TTL_S / 2 : 10 ))

rig_start
bench_bridge_restart
echo "soak: $COUNT messages at $RATE msg/s with receipts (bounded at ${LIMIT_S} s), final_ttl ${TTL_S}s, Redis AOF ${REDIS_AOF:-everysec}, $(nproc) cores"

timeout "$LIMIT_S" "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id bench --password benchpw \
    --binds 4 --window 64 --rate "$RATE" --count "$COUNT" --dlr --dlr-timeout 60 \
    --json --progress >"$WORK/load.json" 2>"$WORK/load.err" &
LOAD_PID=$!
T0=$(date +%s)

# Messages done so far: matched receipts on smpp-load's last progress line.
done_msgs() {
    tail -n 1 "$WORK/load.err" 2>/dev/null | sed -n 's/.* dlr \([0-9]*\)\/.*/\1/p' | grep . || echo 0
}

# One sample: seconds, done, bridge RSS kB, Redis used_memory, keys.
sample() {
    printf '%s %s %s %s %s\n' "$(( $(date +%s) - T0 ))" "$(done_msgs)" \
        "$(vmrss_kb "$BRIDGE_PID")" "$(used_memory)" "$(dbsize)"
}

printf '%8s %10s %9s %11s %10s\n' t_s done rss_mb redis_mb keys
: >"$WORK/samples"
STOPPED=
while kill -0 "$LOAD_PID" 2>/dev/null; do
    sleep "$SAMPLE"
    s=$(sample)
    echo "$s" >>"$WORK/samples"
    read -r t d rss mem keys <<<"$s"
    printf '%8s %10s %9.1f %11.1f %10s\n' "$t" "$d" "$(echo "$rss / 1024" | bc -l)" \
        "$(echo "$mem / 1048576" | bc -l)" "$keys"
    if [ "$mem" -gt $(( MAX_REDIS_MB * 1048576 )) ] || [ "$rss" -gt $(( MAX_RSS_MB * 1024 )) ]; then
        STOPPED="stopped early: past SOAK_MAX_REDIS_MB=$MAX_REDIS_MB or SOAK_MAX_RSS_MB=$MAX_RSS_MB"
        echo "$STOPPED"
        kill -TERM "$LOAD_PID" 2>/dev/null || true
        break
    fi
done
wait "$LOAD_PID" || true
LOAD_PID=
END_SAMPLE=$(sample)
echo "$END_SAMPLE" >>"$WORK/samples"
END=$(date +%s)

FAILS=0
verdict() { # NAME OK TEXT
    if [ "$2" = 1 ]; then echo "PASS $1: $3"; else echo "FAIL $1: $3"; FAILS=$((FAILS + 1)); fi
}

# ---- rss: flat after the warm-up ---------------------------------------
read -r _ _ rss_end _ _ <<<"$END_SAMPLE"
rss_ref=$(awk -v n="$REF_COUNT" '$2 >= n { print $3; exit }' "$WORK/samples")
if [ -n "$rss_ref" ]; then
    ok=$(( rss_end * 100 <= rss_ref * 110 ? 1 : 0 ))
    verdict rss "$ok" "bridge RSS $((rss_end / 1024)) MB at the end, $((rss_ref / 1024)) MB after $REF_COUNT messages ($(echo "scale=1; ($rss_end - $rss_ref) * 100 / $rss_ref" | bc)%, limit +10%)"
else
    verdict rss 0 "never reached $REF_COUNT messages done"
fi

# ---- redis: flat once final_ttl has passed -----------------------------
# Samples taken while the load ran (the last one before it ended), from
# final_ttl + margin on.
from=$(( TTL_S + MARGIN_S ))
read -r m_first m_last m_max n_win <<<"$(head -n -1 "$WORK/samples" | awk -v f="$from" '
    $1 >= f { if (!n) first = $4; last = $4; if ($4 > max) max = $4; n++ }
    END { print first + 0, last + 0, max + 0, n + 0 }')"
if [ "$n_win" -ge 2 ]; then
    d=$(( m_last > m_first ? m_last - m_first : m_first - m_last ))
    ok=$(( d * 100 <= m_first * 10 ? 1 : 0 ))
    verdict redis "$ok" "used_memory $((m_first / 1048576)) MB at ${from} s (final_ttl ${TTL_S} s + ${MARGIN_S} s), $((m_last / 1048576)) MB at the end of the load ($(echo "scale=1; ($m_last - $m_first) * 100 / $m_first" | bc)%, limit 10%; highest in between $((m_max / 1048576)) MB; $n_win samples)"
else
    verdict redis 0 "not enough samples after ${from} s (final_ttl + margin): the load ran too briefly for the check"
fi

# ---- loss: every message and receipt accounted for ----------------------
if [ -s "$WORK/load.json" ]; then
    read -r sent ok_n err noresp unsent missing dup unmatched <<<"$(jq -r '[.messages.sent,
        .submits.ok, .submits.error, .submits.no_response, .messages.unsent,
        .receipts.missing, .receipts.duplicate, .receipts.unmatched] | @tsv' "$WORK/load.json")"
    ok=$(( noresp == 0 && unsent == 0 && missing == 0 && sent == COUNT ? 1 : 0 ))
    verdict loss "$ok" "$sent of $COUNT sent, $ok_n ESME_ROK, $err refused (counted), $noresp without a response, $unsent unsent; receipts missing $missing, duplicate $dup, unmatched $unmatched"
    echo "smpp-load: $(jq -r '"\(.throughput.messages_per_s | floor) msg/s sent, submit_sm_resp p50/p99 \(.submit_latency.p50_us / 1000)/\(.submit_latency.p99_us / 1000) ms, receipt p50/p99 \((.receipt_latency.p50_us // 0) / 1000)/\((.receipt_latency.p99_us // 0) / 1000) ms, \(.receipts.ids_forgotten) matched ids forgotten"' "$WORK/load.json")"
else
    verdict loss 0 "smpp-load gave no report: $(tail -n 2 "$WORK/load.err")"
fi
[ -n "$STOPPED" ] && verdict bounds 0 "$STOPPED"

# What Redis keeps once final_ttl has passed after the last message.
wait_final_ttl "$END" "$TTL_S"
echo "after final_ttl: Redis used_memory $(( $(used_memory) / 1048576 )) MB, $(dbsize) keys; bridge RSS $(( $(vmrss_kb "$BRIDGE_PID") / 1024 )) MB"
echo "soak: $([ "$FAILS" -eq 0 ] && echo PASS || echo "FAIL ($FAILS)")"
[ "$FAILS" -eq 0 ]
