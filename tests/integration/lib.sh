# tests/integration/lib.sh - helpers for the integration tests.
#
# A test script sources this, starts real processes (smsc-sim, smpp-load,
# later the bridge and redis-server) on loopback ports chosen by the
# kernel, and calls `check` for each behaviour it asserts. Every process
# it starts is recorded and ended by PID on exit; every wait is bounded.
#
# Environment: BIN (directory of the binaries, default build/bin),
# RESULTS (file to append "LABEL NAME PASSED FAILED" to), LABEL.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
LABEL=${LABEL:-integration}
RESULTS=${RESULTS:-$ROOT/build/results}
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "/tmp/smppbridge-$TEST_NAME.XXXXXX")
PIDS=()
PASSED=0
FAILED=0

it_cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null
    done
    [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap it_cleanup EXIT

# wait_gone PID SECONDS: 0 once PID has exited, 1 on timeout.
wait_gone() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
        sleep 0.05
    done
    return 1
}

# wait_file FILE SECONDS: 0 once FILE exists and is not empty.
wait_file() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $1" >&2
    return 1
}

# wait_until SECONDS COMMAND...: 0 as soon as COMMAND succeeds, 1 when
# time is up.
wait_until() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 20; i++)); do
        "$@" && return 0
        sleep 0.05
    done
    echo "    timed out waiting for: $*" >&2
    return 1
}

# admin_section [PORT]: an [admin] section listening on 127.0.0.1:PORT,
# by default this script's own free ADMIN_PORT: a test bridge never takes
# the default admin port, so test runs and `make run` share a machine.
admin_section() {
    printf '[admin]\nlisten = 127.0.0.1:%s\n' "${1:-$ADMIN_PORT}"
}

# bridge_conf FILE PORT [EXTRA]: a bridge config listening on
# 127.0.0.1:PORT, on this run's Redis, with one upstream connector to the
# simulator "sim" (started as in the scripts: smppbridge/simpass), and an
# admin server on a free port of its own unless EXTRA has an [admin]
# section; EXTRA, lines appended as they are (a section may come again for
# more keys).
bridge_conf() {
    local admin=""
    case "${3:-}" in *"[admin]"*) ;; *) admin=$(admin_section "$(free_port)") ;; esac
    cat >"$1" <<CONF
[server]
listen = 127.0.0.1:$2
[redis]
port = $REDIS_PORT
[upstream sim]
host = 127.0.0.1
port = $(port_of sim)
system_id = smppbridge
password = simpass
$admin
${3:-}
CONF
}

# run_bridge NAME CONF: smppbridge with CONF in the background, its
# stderr in $WORK/NAME.log and its PID in NAME_PID; returns once it has
# an upstream session bound.
run_bridge() {
    "$BIN/smppbridge" -c "$2" 2>>"$WORK/$1.log" &
    PIDS+=($!)
    eval "${1}_PID=$!"
    wait_until 20 grep -qs "bound as BOUND_TRX" "$WORK/$1.log"
}

# start_sim NAME ARGS...: smsc-sim on a free loopback port. Its port is
# in $WORK/NAME.port, its counters (at exit) in $WORK/NAME.json, its PID
# in SIM_PID.
start_sim() {
    local name=$1
    shift
    rm -f "$WORK/$name.port"
    "$BIN/smsc-sim" --quiet --listen 127.0.0.1:0 --port-file "$WORK/$name.port" \
        --stats-json "$WORK/$name.json" "$@" 2>>"$WORK/$name.log" &
    SIM_PID=$!
    PIDS+=("$SIM_PID")
    wait_file "$WORK/$name.port" 10
}

port_of() { head -1 "$WORK/$1.port"; }

# stop PID: SIGTERM, wait up to 10 s; 0 when it exited with status 0.
stop() {
    kill -TERM "$1" 2>/dev/null || return 1
    local i
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1"
            return $?
        fi
        sleep 0.05
    done
    kill -KILL "$1" 2>/dev/null
    return 1
}

# json FILE FILTER: one value from a JSON file (jq filter).
json() { jq -r "$2" "$1"; }

# check DESCRIPTION COMMAND...: run COMMAND, count and print the outcome.
check() {
    local what=$1
    shift
    if "$@"; then
        PASSED=$((PASSED + 1))
        echo "ok - $what"
    else
        FAILED=$((FAILED + 1))
        echo "not ok - $what"
    fi
}

# eq A B: numeric or string equality with a message when it fails.
eq() {
    [ "$1" = "$2" ] && return 0
    echo "    expected '$2', got '$1'" >&2
    return 1
}

# ge A B / le A B: numeric comparisons with a message.
ge() { [ "$1" -ge "$2" ] 2>/dev/null && return 0; echo "    expected $1 >= $2" >&2; return 1; }
le() { [ "$1" -le "$2" ] 2>/dev/null && return 0; echo "    expected $1 <= $2" >&2; return 1; }

# finish: record the totals and exit with their verdict.
finish() {
    mkdir -p "$(dirname "$RESULTS")"
    echo "$LABEL $TEST_NAME $PASSED $FAILED" >>"$RESULTS"
    echo "$TEST_NAME: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

# tls_cert: a self-signed certificate for 127.0.0.1/localhost in $WORK.
tls_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -days 2 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'
}

# start_redis: a throwaway redis-server on a free loopback port, no
# persistence; sets REDIS_PORT and REDIS_PID and waits until it answers.
start_redis() {
    REDIS_PORT=$(free_port)
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir "$WORK" --logfile "$WORK/redis.log" --daemonize no &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    local i
    for ((i = 0; i < 200; i++)); do
        redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    echo "redis-server did not start" >&2
    return 1
}

# This script's admin port (admin_section), free when the script started.
ADMIN_PORT=$(free_port)
