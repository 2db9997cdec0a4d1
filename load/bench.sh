#!/usr/bin/env bash
# The bridge's benchmark: what one message costs. smpp-load -> smppbridge
# -> smsc-sim with receipts, Redis on loopback, and in the same run the
# direct smpp-load -> smsc-sim ceiling. Every run is bounded and ends by
# itself; only processes this script started are stopped, by PID.
#
#   load/bench.sh [--json] [--extra] [COUNT] [REPEATS] [RATE]
#     COUNT    messages per run (default 200000)
#     REPEATS  runs of each kind; medians are reported (default 3)
#     RATE     the fixed-rate run, msg/s (default 5000)
#     --json   one JSON object per run and per median on stdout (the
#              tables go to stderr)
#     --extra  also two bridges on one Redis, and 1000 binds (about 1 min)
#
# The rig (as the figures in docs/load-testing.md were taken): 2 cores
# (pinned to CPUS, default 0,1, when the machine has more), loopback,
# 4 TRX binds x window 64 into the bridge, 4 upstream sessions x window
# 100, smsc-sim answering at once with a receipt for each message, Redis
# with its append-only file fsynced every second (REDIS_AOF=everysec;
# "no" for none), [redis] final_ttl = FINAL_TTL (default 5s).
#
# Each repeat runs, in order: the ceiling (smpp-load straight into
# smsc-sim); the bridge at saturation (--rate 0); the bridge at RATE; the
# bridge at 80% of the saturation just measured. Each bridge run starts a
# fresh bridge on a flushed Redis, and prints:
#   e2e/s     messages / seconds from the first submit to the last receipt
#   missing   receipts never matched, plus submits not answered ESME_ROK
#             (must be 0)
#   ratio     e2e/s over the ceiling's e2e/s of the same repeat
#   br_us     bridge CPU (user + system, /proc/PID/stat) per message, us
#   rd_us     redis-server CPU per message, us (its AOF rewrite children
#             not counted)
#   B/msg     Redis used_memory growth over the run / messages: the
#             dataset the run left behind
#   B@ttl     the same once final_ttl has passed and the dataset stopped
#             shrinking (polled, at most final_ttl + 30 s)
#   rss_mb    the bridge's peak RSS (VmHWM)
#   resp p50/p99, e2e p50/p99   submit_sm_resp and submit-to-receipt
#             latency, ms (from each message's scheduled time)
#
# A default run (200000 x 3) took 6.5 minutes on 2 shared cores; --extra
# adds about a minute.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/bin}

# Pin the whole rig to two cores, as the figures are quoted for.
CPUS=${CPUS:-0,1}
if [ "$(nproc)" -gt 2 ] && [ -z "${BENCH_PINNED:-}" ]; then
    BENCH_PINNED=1 exec taskset -c "$CPUS" "$0" "$@"
fi

JSON=0
EXTRA=0
while [ $# -gt 0 ]; do
    case $1 in
        --json) JSON=1; shift ;;
        --extra) EXTRA=1; shift ;;
        --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
COUNT=${1:-200000}
REPEATS=${2:-3}
RATE=${3:-5000}
FINAL_TTL=${FINAL_TTL:-5s}
WORK=$(mktemp -d)
. "$ROOT/load/bench-lib.sh"
TTL_S=$(duration_s "$FINAL_TTL")

cleanup() { rig_cleanup; rm -rf "$WORK"; }
trap cleanup EXIT

# Human output: stdout, or stderr when stdout carries the JSON.
say() { if [ "$JSON" = 1 ]; then printf '%s\n' "$*" >&2; else printf '%s\n' "$*"; fi; }
table() { if [ "$JSON" = 1 ]; then column -t >&2; else column -t; fi; }

load() { # PORT ARGS...: one smpp-load run, its JSON report on stdout
    local port=$1
    shift
    timeout 900 "$BIN/smpp-load" --port "$port" --system-id bench --password benchpw \
        --binds 4 --window 64 --dlr --dlr-timeout 60 --json --no-progress "$@" \
        2>>"$WORK/load.err" || true
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# record KIND REPEAT REPORT [EXTRA_JSON]: one run's figures as a JSON line.
record() {
    local extra=${4:-'{}'}
    jq -c --arg kind "$1" --argjson rep "$2" --argjson extra "$extra" '
        (.messages.sent) as $n |
        {kind: $kind, repeat: $rep, messages: $n,
         rate: .config.rate,
         e2e_msg_s: (if .throughput.to_last_receipt_s > 0
                     then ($n / .throughput.to_last_receipt_s) else 0 end),
         accepted_msg_s: .throughput.messages_per_s,
         receipts_missing: .receipts.missing,
         submits_not_ok: ($n - .submits.ok),
         receipts_unmatched: .receipts.unmatched,
         receipts_duplicate: .receipts.duplicate,
         submit_p50_ms: (.submit_latency.p50_us / 1000),
         submit_p99_ms: (.submit_latency.p99_us / 1000),
         e2e_p50_ms: ((.receipt_latency.p50_us // 0) / 1000),
         e2e_p99_ms: ((.receipt_latency.p99_us // 0) / 1000)} + $extra' \
        <<<"$3" | tee -a "$RESULTS"
}

# bridge_run KIND REPEAT CEILING_E2E SMPP_LOAD_ARGS...: one run through a
# fresh bridge on a flushed dataset, with the costs measured around it.
bridge_run() {
    local kind=$1 rep=$2 ceiling=$3
    shift 3
    bench_bridge_restart
    local mem0 b0 r0 out b1 r1 mem1 end mem2 keys1 keys2 n
    mem0=$(used_memory); b0=$(cpu_ticks "$BRIDGE_PID"); r0=$(cpu_ticks "$REDIS_PID")
    out=$(load "$BRIDGE_PORT" --count "$COUNT" "$@")
    b1=$(cpu_ticks "$BRIDGE_PID"); r1=$(cpu_ticks "$REDIS_PID")
    mem1=$(used_memory); keys1=$(dbsize); end=$(date +%s)
    n=$(jq '.messages.sent' <<<"$out" 2>/dev/null || true)
    if [ -z "$n" ] || [ "$n" -eq 0 ]; then
        echo "$kind: nothing sent; smpp-load said: $(tail -3 "$WORK/load.err")" >&2
        exit 1
    fi
    local hwm
    hwm=$(vmhwm_kb "$BRIDGE_PID")
    wait_final_ttl "$end" "$TTL_S"
    mem2=$(used_memory); keys2=$(dbsize)
    record "$kind" "$rep" "$out" "$(jq -nc \
        --argjson n "$n" --argjson c "$ceiling" \
        --argjson bu "$(us_per_msg $((b1 - b0)) "$n")" \
        --argjson ru "$(us_per_msg $((r1 - r0)) "$n")" \
        --argjson m0 "$mem0" --argjson m1 "$mem1" --argjson m2 "$mem2" \
        --argjson k1 "$keys1" --argjson k2 "$keys2" --argjson hwm "$hwm" \
        --argjson ttl "$TTL_S" --argjson e2e "$(jq '.throughput.to_last_receipt_s' <<<"$out")" '
        {ratio: (if $c > 0 and $e2e > 0 then ($n / $e2e) / $c else 0 end),
         bridge_cpu_us_per_msg: $bu, redis_cpu_us_per_msg: $ru,
         redis_bytes_per_msg: (($m1 - $m0) / $n),
         redis_bytes_per_msg_after_ttl: (($m2 - $m0) / $n),
         redis_keys_after_run: $k1, redis_keys_after_ttl: $k2,
         final_ttl_s: $ttl, bridge_peak_rss_mb: ($hwm / 1024)}')" >/dev/null
}

HEAD="run msgs e2e/s missing ratio br_us rd_us B/msg B@ttl rss_mb resp_p50 resp_p99 e2e_p50 e2e_p99"
rows() { # the table rows of RESULTS lines on stdin
    jq -r 'def f(d): if . == null then "-" else (. * d | round / d | tostring) end;
        [ (.kind + "#" + (.repeat | tostring)), .messages, (.e2e_msg_s | floor),
          (.receipts_missing + .submits_not_ok), (.ratio | f(1000)),
          (.bridge_cpu_us_per_msg | f(10)), (.redis_cpu_us_per_msg | f(10)),
          (.redis_bytes_per_msg | f(1)), (.redis_bytes_per_msg_after_ttl | f(1)),
          (.bridge_peak_rss_mb | f(10)), (.submit_p50_ms | f(100)),
          (.submit_p99_ms | f(100)), (.e2e_p50_ms | f(100)), (.e2e_p99_ms | f(100)) ]
        | map(tostring) | join(" ")'
}

rig_start
say "machine: $(nproc) cores$( [ -n "${BENCH_PINNED:-}" ] && echo " (pinned to $CPUS)"), $(uname -m); $COUNT messages per run, $REPEATS repeats; fixed rate $RATE msg/s; Redis AOF ${REDIS_AOF:-everysec}; final_ttl ${TTL_S}s"
say "rig: 4 TRX binds x window 64 -> bridge -> ${UP_SESSIONS:-4} upstream sessions x window ${UP_WINDOW:-100} -> smsc-sim (receipts at once)"
for r in $(seq "$REPEATS"); do
    ceil=$(load "$SIM_PORT" --rate 0 --count "$COUNT")
    record ceiling "$r" "$ceil" >/dev/null
    c=$(tail -1 "$RESULTS" | jq '.e2e_msg_s')
    bridge_run max "$r" "$c" --rate 0
    sat=$(tail -1 "$RESULTS" | jq '.e2e_msg_s | floor')
    bridge_run "at$RATE" "$r" "$c" --rate "$RATE"
    r80=$(( sat * 8 / 10 ))
    [ "$r80" -ge 1 ] || r80=1
    bridge_run at80pct "$r" "$c" --rate "$r80"
    { echo "$HEAD"; tail -4 "$RESULTS" | rows; } | table
    say ""
done

# Medians per kind of run, field by field.
jq -sc 'def median: sort | .[(length - 1) / 2 | floor];
    group_by(.kind)[] | . as $g
    | ($g[0] | keys_unsorted) as $k
    | reduce $k[] as $f ({kind: $g[0].kind, repeat: "median", runs: ($g | length)};
        if ($g[0][$f] | type) == "number" then .[$f] = ([$g[][$f]] | median)
        else . end)
    | .repeat = "median"' "$RESULTS" >"$WORK/medians.jsonl"
say "medians over $REPEATS repeats (each field on its own):"
{ echo "$HEAD"
  for k in ceiling max "at$RATE" at80pct; do
      jq -c --arg k "$k" 'select(.kind == $k)' "$WORK/medians.jsonl" | rows
  done; } | table
if [ "$JSON" = 1 ]; then
    cat "$RESULTS" "$WORK/medians.jsonl"
fi

[ "$EXTRA" = 1 ] || exit 0

# ---- two instances on the same Redis -----------------------------------
bench_bridge_restart
account_add bench2
BRIDGE2_PORT=$(free_port); ADMIN2_PORT=$(free_port)
bridge_conf "$WORK/bench2.conf" "$BRIDGE2_PORT" "$ADMIN2_PORT"
bridge_start "$WORK/bench2.conf" "$WORK/bridge2.log" "$ADMIN2_PORT"
BRIDGE2_PID=$STARTED_PID
RIG_PIDS+=("$BRIDGE2_PID")
say ""
say "two instances (one account on each, $COUNT messages each, at once):"
b1=$(cpu_ticks "$BRIDGE_PID"); b2=$(cpu_ticks "$BRIDGE2_PID"); r0=$(cpu_ticks "$REDIS_PID")
start=$(date +%s.%N)
load "$BRIDGE_PORT" --rate 0 --count "$COUNT" >"$WORK/two1.json" &
T1=$!
timeout 900 "$BIN/smpp-load" --port "$BRIDGE2_PORT" --system-id bench2 --password benchpw \
    --binds 4 --window 64 --dlr --dlr-timeout 60 --json --no-progress --rate 0 \
    --count "$COUNT" >"$WORK/two2.json" 2>/dev/null || true
wait "$T1" || true
end=$(date +%s.%N)
say "  both done in $(echo "scale=2; ($end - $start) / 1" | bc) s: $(echo "2 * $COUNT / ($end - $start)" | bc) messages/s carried to their receipts"
say "  missing receipts: $(jq -s '[.[].receipts.missing] | add' "$WORK/two1.json" "$WORK/two2.json")"
say "  CPU us per message: instance 1 $(us_per_msg $(( $(cpu_ticks "$BRIDGE_PID") - b1 )) "$COUNT"), instance 2 $(us_per_msg $(( $(cpu_ticks "$BRIDGE2_PID") - b2 )) "$COUNT"), Redis $(us_per_msg $(( $(cpu_ticks "$REDIS_PID") - r0 )) $((2 * COUNT)))"

# ---- 1000 binds --------------------------------------------------------
say ""
say "1000 binds of one account (4 x 250), 1000 msg/s in all for 10 s:"
rss0=$(vmrss_kb "$BRIDGE2_PID")
KP=()
for i in 1 2 3 4; do
    timeout 120 "$BIN/smpp-load" --port "$BRIDGE2_PORT" --system-id bench2 --password benchpw \
        --binds 250 --window 1 --rate 250 --duration 10 --dlr --dlr-timeout 30 --json \
        --no-progress >"$WORK/k$i.json" 2>/dev/null &
    KP+=($!)
done
sleep 6
rss1=$(vmrss_kb "$BRIDGE2_PID")
for p in "${KP[@]}"; do wait "$p" || true; done
say "  bound: $(jq -s '[.[] | .sessions.configured - .sessions.bind_failed] | add' "$WORK"/k[1-4].json 2>/dev/null || echo '?') of 1000; RSS $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB, $(((rss1 - rss0) / 1000)) KB per bind"
say "  submit_sm_resp p50/p99 (ms, per process): $(jq -r '"\(.submit_latency.p50_us / 1000)/\(.submit_latency.p99_us / 1000)"' "$WORK"/k[1-4].json | tr '\n' ' ')"
say "  receipts received in all: $(jq -s '[.[].receipts.received] | add' "$WORK"/k[1-4].json) of $(jq -s '[.[].submits.ok] | add' "$WORK"/k[1-4].json) (shared among the binds of the account)"
