#!/usr/bin/env bash
# `make run`: a complete local stack, in the foreground, until Ctrl-C.
#
#   redis-server  127.0.0.1:$REDIS_PORT (default 6379; data in build/run/redis;
#                 a Redis already answering on that port is used as it is)
#   smsc-sim      127.0.0.1:$SIM_PORT (default 2776), the upstream
#   smppbridge    127.0.0.1:$SMPP_PORT (default 2775), admin server on
#                 127.0.0.1:$ADMIN_PORT (default 9775), with
#                 conf/smppbridge.conf rewritten for these ports into
#                 build/run/smppbridge.conf
#   account       demo / demopass, created (or its password reset)
#
# Each port can be set in the environment or on make's command line:
#   make run SMPP_PORT=2875 SIM_PORT=2876 ADMIN_PORT=9875 REDIS_PORT=6479
#
# Each part is reported only once it is really up; if one fails, what was
# started is stopped and the exit status is 1. Ctrl-C (or SIGTERM) stops
# what this script started, by PID, and exits 0.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/build/bin
RUN=$ROOT/build/run
CONF=$RUN/smppbridge.conf
SMPP_PORT=${SMPP_PORT:-2775}
SIM_PORT=${SIM_PORT:-2776}
ADMIN_PORT=${ADMIN_PORT:-9775}
REDIS_PORT=${REDIS_PORT:-6379}
mkdir -p "$RUN/redis"
PIDS=()

stop_started() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
}

on_signal() {
    trap - INT TERM EXIT
    echo
    echo "stopping: ${PIDS[*]:-nothing}"
    stop_started
    exit 0
}
trap on_signal INT TERM
trap 'stop_started' EXIT

# fail WHAT [LOG]: say what did not come up (and the end of its log),
# stop everything started, exit 1.
fail() {
    echo "FAILED:     $1" >&2
    if [ -n "${2:-}" ] && [ -s "$2" ]; then
        echo "---- last lines of $2:" >&2
        tail -5 "$2" >&2
    fi
    exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_up PID PORT: 0 once PORT accepts connections while PID still runs.
wait_up() {
    for _ in $(seq 100); do
        kill -0 "$1" 2>/dev/null || return 1
        port_open "$2" && return 0
        sleep 0.1
    done
    return 1
}

# A port another program holds would make the banner lie: check first.
need_free() {
    if port_open "$2"; then
        fail "$1: 127.0.0.1:$2 is taken by another program (set $3=PORT to use another port)"
    fi
}

# The example config with this run's ports.
"$ROOT/scripts/local-conf.sh" "$SMPP_PORT" "$SIM_PORT" "$ADMIN_PORT" "$REDIS_PORT" >"$CONF"

if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    echo "redis:      using the Redis already running on 127.0.0.1:$REDIS_PORT"
else
    need_free redis "$REDIS_PORT" REDIS_PORT
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$RUN/redis" \
        --appendonly yes --appendfsync everysec --save "" \
        --logfile "$RUN/redis.log" &
    PIDS+=($!)
    wait_up "${PIDS[-1]}" "$REDIS_PORT" || fail "redis-server on 127.0.0.1:$REDIS_PORT" "$RUN/redis.log"
    echo "redis:      127.0.0.1:$REDIS_PORT (pid ${PIDS[-1]}, data in build/run/redis, log build/run/redis.log)"
fi

need_free smsc-sim "$SIM_PORT" SIM_PORT
"$BIN/smsc-sim" --listen "127.0.0.1:$SIM_PORT" --system-id smppbridge --password simpass \
    --dlr-delay-ms 200 --quiet 2>"$RUN/smsc-sim.log" &
PIDS+=($!)
wait_up "${PIDS[-1]}" "$SIM_PORT" || fail "smsc-sim on 127.0.0.1:$SIM_PORT" "$RUN/smsc-sim.log"
echo "smsc-sim:   127.0.0.1:$SIM_PORT (pid ${PIDS[-1]}, log build/run/smsc-sim.log)"

if "$BIN/smppctl" -c "$CONF" account show demo >/dev/null 2>&1; then
    echo demopass | "$BIN/smppctl" -c "$CONF" account set demo --password-stdin --enabled yes >/dev/null ||
        fail "resetting the demo account"
else
    echo demopass | "$BIN/smppctl" -c "$CONF" account add demo --password-stdin --tps 0 --max-binds 0 >/dev/null ||
        fail "creating the demo account"
fi
echo "account:    demo / demopass"

need_free smppbridge "$SMPP_PORT" SMPP_PORT
need_free "smppbridge admin" "$ADMIN_PORT" ADMIN_PORT
: >"$RUN/smppbridge.log"
"$BIN/smppbridge" -c "$CONF" 2> >(tee -a "$RUN/smppbridge.log" >&2) &
PIDS+=($!)
BRIDGE=${PIDS[-1]}
wait_up "$BRIDGE" "$SMPP_PORT" || fail "smppbridge on 127.0.0.1:$SMPP_PORT" "$RUN/smppbridge.log"
# Ready means Redis answered and an upstream session is bound: /readyz.
ready=no
for _ in $(seq 100); do
    kill -0 "$BRIDGE" 2>/dev/null || fail "smppbridge exited" "$RUN/smppbridge.log"
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null; then
        ready=yes
        break
    fi
    sleep 0.1
done
[ "$ready" = yes ] ||
    fail "smppbridge is listening but not ready (http://127.0.0.1:$ADMIN_PORT/readyz says why)" \
        "$RUN/smppbridge.log"
cat <<MSG
smppbridge: 127.0.0.1:$SMPP_PORT (pid $BRIDGE, log build/run/smppbridge.log), ready:
            Redis answers and the upstream session to smsc-sim is bound
admin:      http://127.0.0.1:$ADMIN_PORT/ (metrics, healthz, readyz, sessions)

Bind any SMPP client to it:
  host 127.0.0.1  port $SMPP_PORT  system_id demo  password demopass  (TRX, TX or RX)

For example, 1000 messages with delivery receipts:
  build/bin/smpp-load --port $SMPP_PORT --system-id demo --password demopass --count 1000 --dlr

Accounts:  build/bin/smppctl -c build/run/smppbridge.conf account list
Ctrl-C stops everything this started.
MSG
# Until Ctrl-C, or until one of the parts stops by itself.
set +e
wait -n "${PIDS[@]}"
echo "a part of the stack stopped by itself; stopping the rest" >&2
exit 1
