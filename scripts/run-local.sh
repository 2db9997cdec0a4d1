#!/usr/bin/env bash
# `make run`: a complete local stack, in the foreground, until Ctrl-C.
#
#   redis-server  127.0.0.1:6379 (data in build/run/redis; an already
#                 running Redis on that port is used as it is)
#   smsc-sim      127.0.0.1:2776, the upstream the example config points at
#   smppbridge    127.0.0.1:2775 with conf/smppbridge.conf
#   account       demo / demopass, created (or its password reset)
#
# Ctrl-C (or SIGTERM) stops what this script started, by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
CONF=$ROOT/conf/smppbridge.conf
RUN=$ROOT/build/run
mkdir -p "$RUN/redis"
PIDS=()

stop_all() {
    trap - INT TERM EXIT
    echo
    echo "stopping: ${PIDS[*]:-nothing}"
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    exit 0
}
trap stop_all INT TERM EXIT

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing is listening on 127.0.0.1:$1" >&2
    return 1
}

if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    echo "redis:      using the Redis already running on 127.0.0.1:6379"
else
    redis-server --bind 127.0.0.1 --port 6379 --dir "$RUN/redis" \
        --appendonly yes --appendfsync everysec --save "" \
        --logfile "$RUN/redis.log" &
    PIDS+=($!)
    wait_port 6379
    echo "redis:      127.0.0.1:6379 (pid ${PIDS[-1]}, data in build/run/redis)"
fi

"$BIN/smsc-sim" --listen 127.0.0.1:2776 --system-id smppbridge --password simpass \
    --dlr-delay-ms 200 --quiet 2>"$RUN/smsc-sim.log" &
PIDS+=($!)
wait_port 2776
echo "smsc-sim:   127.0.0.1:2776 (pid ${PIDS[-1]}, log build/run/smsc-sim.log)"

if "$BIN/smppctl" -c "$CONF" account show demo >/dev/null 2>&1; then
    echo demopass | "$BIN/smppctl" -c "$CONF" account set demo --password-stdin --enabled yes >/dev/null
else
    echo demopass | "$BIN/smppctl" -c "$CONF" account add demo --password-stdin --tps 0 --max-binds 0 >/dev/null
fi
echo "account:    demo / demopass"

"$BIN/smppbridge" -c "$CONF" 2> >(tee "$RUN/smppbridge.log" >&2) &
PIDS+=($!)
wait_port 2775
cat <<MSG

smppbridge is ready on 127.0.0.1:2775. Bind any SMPP client to it:
  host 127.0.0.1  port 2775  system_id demo  password demopass  (TRX, TX or RX)

For example, 1000 messages with delivery receipts:
  build/bin/smpp-load --port 2775 --system-id demo --password demopass --count 1000 --dlr

Accounts:  build/bin/smppctl -c conf/smppbridge.conf account list
Ctrl-C stops everything this started.
MSG
wait
