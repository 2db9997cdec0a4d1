#!/usr/bin/env bash
# The load-test rig's own ceiling: smpp-load against smsc-sim on loopback,
# without and with receipts, plain and TLS. Every run is bounded (count
# and time) and ends by itself; processes are stopped by PID.
#
#   load/bench-rig.sh [COUNT] [REPEATS]     defaults: 200000 messages, 3 runs
#
# Prints one line per run and the median of each configuration:
# messages/s, submit_sm_resp p50/p99, receipt end-to-end p50/p99, and the
# simulator's CPU seconds. Build first (make).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
COUNT=${1:-200000}
REPEATS=${2:-3}
WORK=$(mktemp -d)
SIM_PID=
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

"$BIN/smsc-sim" --quiet --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
    --cert "$WORK/cert.pem" --key "$WORK/key.pem" --port-file "$WORK/ports" \
    --window 2000 --peer-window 100000 &
SIM_PID=$!
for _ in $(seq 100); do [ -s "$WORK/ports" ] && break; sleep 0.05; done
PLAIN=$(sed -n 1p "$WORK/ports")
TLS=$(sed -n 2p "$WORK/ports")

sim_cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$SIM_PID/stat"; }

echo "machine: $(nproc) cores, $(uname -m); $COUNT messages per run, $REPEATS runs"
printf '%-12s %10s %9s %9s %9s %9s %8s\n' run msg/s p50_ms p99_ms e2e_p50 e2e_p99 sim_cpu
for config in plain plain+dlr tls tls+dlr; do
    results=()
    for r in $(seq "$REPEATS"); do
        args=(--binds 4 --window 200 --rate 0 --count "$COUNT" --json --no-progress)
        case $config in
            tls*) args+=(--port "$TLS" --tls --tls-ca "$WORK/cert.pem") ;;
            *) args+=(--port "$PLAIN") ;;
        esac
        case $config in *dlr) args+=(--dlr --dlr-timeout 60) ;; esac
        before=$(sim_cpu)
        timeout 300 "$BIN/smpp-load" "${args[@]}" >"$WORK/out.json" 2>/dev/null || true
        after=$(sim_cpu)
        line=$(jq -r --arg cpu "$(echo "$after - $before" | bc)" '
            [ .throughput.messages_per_s, .submit_latency.p50_us / 1000,
              .submit_latency.p99_us / 1000,
              (.receipt_latency.p50_us // 0) / 1000, (.receipt_latency.p99_us // 0) / 1000,
              ($cpu | tonumber) ] | @tsv' "$WORK/out.json")
        results+=("$line")
        printf '%-12s %10.0f %9.2f %9.2f %9.2f %9.2f %8.2f\n' "$config#$r" $line
    done
    printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (REPEATS + 1) / 2 ))p" |
        awk -v c="$config" '{ printf "%-12s %10.0f %9.2f %9.2f %9.2f %9.2f %8.2f  (median by msg/s)\n", c, $1, $2, $3, $4, $5, $6 }'
done
