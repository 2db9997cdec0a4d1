#!/usr/bin/env bash
# The bridge's benchmark: smpp-load -> smppbridge -> smsc-sim with
# receipts, Redis on loopback, and in the same run the direct
# smpp-load -> smsc-sim ceiling. Every run is bounded and ends by itself;
# only processes this script started are stopped, by PID.
#
#   load/bench.sh [COUNT] [REPEATS] [RATE]
#     COUNT    messages per maximum-throughput run (default 100000)
#     REPEATS  runs of each kind; medians are reported (default 3)
#     RATE     fixed rate for the latency run (default 10000 msg/s)
#
# REDIS_AOF=everysec (default) runs Redis with its append-only file, as
# production should; REDIS_AOF=no measures without persistence.
#
# Prints per run and as medians: messages/s accepted (msg/s) and carried
# through to their receipts (done/s: messages / whole run), submit_sm_resp p50/p99,
# receipt end-to-end p50/p99, the bridge's CPU seconds per 100k messages,
# its peak RSS, and the ratio bridge/ceiling.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
COUNT=${1:-100000}
REPEATS=${2:-3}
RATE=${3:-10000}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen=>1,LocalAddr=>"127.0.0.1:0")->sockport'
}
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
rss_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

REDIS_PORT=$(free_port); SIM_PORT=$(free_port); BRIDGE_PORT=$(free_port)
AOF=${REDIS_AOF:-everysec}
if [ "$AOF" = no ]; then aof_args=(--appendonly no); else aof_args=(--appendonly yes --appendfsync "$AOF"); fi
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" "${aof_args[@]}" \
    --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
"$BIN/smsc-sim" --quiet --listen "127.0.0.1:$SIM_PORT" --window 2000 --peer-window 100000 &
SIM_PID=$!
PIDS+=("$SIM_PID")
wait_port "$REDIS_PORT"; wait_port "$SIM_PORT"

cat >"$WORK/bench.conf" <<CONF
[server]
listen = 127.0.0.1:$BRIDGE_PORT
window = 1000
# the 1000-bind run comes from one address, faster than the defaults allow
max_connections_per_address = 2000
accepts_per_second_per_address = 2000
accept_burst_per_address = 2000
[admin]
listen = ""
[redis]
port = $REDIS_PORT
[log]
level = warn
[upstream sim]
host = 127.0.0.1
port = $SIM_PORT
system_id = smppbridge
password = simpass
sessions = 2
window = 100
CONF
echo benchpw | "$BIN/smppctl" -c "$WORK/bench.conf" account add bench --password-stdin --tps 0 --max-binds 0 >/dev/null
"$BIN/smppbridge" -c "$WORK/bench.conf" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
wait_port "$BRIDGE_PORT"
sleep 0.5

load() { # PORT ARGS...: one smpp-load run, JSON report on stdout
    local port=$1
    shift
    timeout 600 "$BIN/smpp-load" --port "$port" --system-id bench --password benchpw \
        --binds 4 --window 100 --dlr --dlr-timeout 60 --json --no-progress "$@" 2>/dev/null || true
}
row() { # LABEL JSON [CPU_PER_100K RSS]
    jq -r --arg l "$1" --arg cpu "${3:--}" --arg rss "${4:--}" '
        [$l, (.throughput.messages_per_s | floor),
         ((.messages.sent / .elapsed_s) | floor), .submit_latency.p50_us / 1000,
         .submit_latency.p99_us / 1000, (.receipt_latency.p50_us // 0) / 1000,
         (.receipt_latency.p99_us // 0) / 1000, .receipts.missing, $cpu, $rss] | @tsv' <<<"$2"
}

echo "machine: $(nproc) cores; $COUNT messages per max run, $REPEATS runs, latency run at $RATE msg/s; Redis AOF: $AOF"
printf '%-16s %9s %9s %8s %8s %8s %8s %7s %10s %8s\n' run msg/s done/s p50_ms p99_ms e2e_p50 e2e_p99 missing cpu/100k rss_mb
: >"$WORK/ceiling"; : >"$WORK/bridge"; : >"$WORK/rate"
for r in $(seq "$REPEATS"); do
    out=$(load "$SIM_PORT" --rate 0 --count "$COUNT")
    row "ceiling#$r" "$out" | tee -a "$WORK/ceiling"
    before=$(cpu_s "$BRIDGE_PID")
    out=$(load "$BRIDGE_PORT" --rate 0 --count "$COUNT")
    after=$(cpu_s "$BRIDGE_PID")
    per100k=$(echo "scale=2; ($after - $before) * 100000 / $COUNT" | bc)
    row "bridge#$r" "$out" "$per100k" "$(rss_mb "$BRIDGE_PID")" | tee -a "$WORK/bridge"
    out=$(load "$BRIDGE_PORT" --rate "$RATE" --duration 10)
    row "bridge@$RATE#$r" "$out" | tee -a "$WORK/rate"
done | column -t

median() { sort -t$'\t' -k2 -n "$1" | sed -n "$(( (REPEATS + 1) / 2 ))p"; }
echo
echo "medians (by msg/s):"
{ median "$WORK/ceiling"; median "$WORK/bridge"; median "$WORK/rate"; } | column -t
c=$(median "$WORK/ceiling" | cut -f2); b=$(median "$WORK/bridge" | cut -f2)
echo "bridge/ceiling: $(echo "scale=3; $b / $c" | bc)"

# ---- two instances on the same Redis -----------------------------------
BRIDGE2_PORT=$(free_port)
sed "s/^listen = 127.0.0.1:$BRIDGE_PORT\$/listen = 127.0.0.1:$BRIDGE2_PORT/" \
    "$WORK/bench.conf" >"$WORK/bench2.conf"
echo benchpw | "$BIN/smppctl" -c "$WORK/bench.conf" account add bench2 --password-stdin --tps 0 --max-binds 0 >/dev/null
"$BIN/smppbridge" -c "$WORK/bench2.conf" 2>"$WORK/bridge2.log" &
BRIDGE2_PID=$!
PIDS+=("$BRIDGE2_PID")
wait_port "$BRIDGE2_PORT"
sleep 0.5
echo
echo "two instances (one account on each, $COUNT messages each, at once):"
before1=$(cpu_s "$BRIDGE_PID"); before2=$(cpu_s "$BRIDGE2_PID")
start=$(date +%s.%N)
load "$BRIDGE_PORT" --rate 0 --count "$COUNT" >"$WORK/two1.json" &
T1=$!
timeout 600 "$BIN/smpp-load" --port "$BRIDGE2_PORT" --system-id bench2 --password benchpw \
    --binds 4 --window 100 --dlr --dlr-timeout 60 --json --no-progress --rate 0 \
    --count "$COUNT" >"$WORK/two2.json" 2>/dev/null || true
wait "$T1" || true
end=$(date +%s.%N)
echo "  both done in $(echo "$end - $start" | bc) s: $(echo "2 * $COUNT / ($end - $start)" | bc) messages/s carried to their receipts"
echo "  missing receipts: $(jq -s '[.[].receipts.missing] | add' "$WORK/two1.json" "$WORK/two2.json")"
echo "  CPU s per 100k: instance 1 $(echo "($(cpu_s "$BRIDGE_PID") - $before1) * 100000 / $COUNT" | bc -l | cut -c1-5), instance 2 $(echo "($(cpu_s "$BRIDGE2_PID") - $before2) * 100000 / $COUNT" | bc -l | cut -c1-5)"

# ---- 1000 binds --------------------------------------------------------
echo
echo "1000 binds of one account (4 x 250), 1000 msg/s in all for 10 s:"
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$BRIDGE2_PID/status")
KP=()
for i in 1 2 3 4; do
    timeout 120 "$BIN/smpp-load" --port "$BRIDGE2_PORT" --system-id bench2 --password benchpw \
        --binds 250 --window 1 --rate 250 --duration 10 --dlr --dlr-timeout 30 --json \
        --no-progress >"$WORK/k$i.json" 2>/dev/null &
    KP+=($!)
done
sleep 6
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$BRIDGE2_PID/status")
for p in "${KP[@]}"; do wait "$p" || true; done
echo "  bound: $(jq -s '[.[] | .sessions.configured - .sessions.bind_failed] | add' "$WORK"/k[1-4].json 2>/dev/null || echo '?') of 1000; RSS $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB, $(((rss1 - rss0) / 1000)) KB per bind"
echo "  submit_sm_resp p50/p99 (ms, per process): $(jq -r '"\(.submit_latency.p50_us / 1000)/\(.submit_latency.p99_us / 1000)"' "$WORK"/k[1-4].json | tr '\n' ' ')"
echo "  receipts received in all: $(jq -s '[.[].receipts.received] | add' "$WORK"/k[1-4].json) of $(jq -s '[.[].submits.ok] | add' "$WORK"/k[1-4].json) (shared among the binds of the account)"
