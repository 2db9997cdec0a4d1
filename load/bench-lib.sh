# Shared by load/bench.sh and load/soak.sh (sourced, not run): the rig
# (Redis, smsc-sim, smppbridge on loopback) and what they read from
# /proc and from Redis. Every process started here is recorded in
# RIG_PIDS and stopped by PID in rig_cleanup; every wait is bounded.
#
# The caller sets BIN, WORK, and optionally REDIS_AOF, FINAL_TTL,
# UP_SESSIONS, UP_WINDOW before rig_start.

RIG_PIDS=()
BRIDGE_PID=
BRIDGE_PORT=
ADMIN_PORT=
CLK_TCK=$(getconf CLK_TCK)

rig_cleanup() {
    local p
    [ -n "$BRIDGE_PID" ] && RIG_PIDS+=("$BRIDGE_PID")
    for p in "${RIG_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${RIG_PIDS[@]}"; do
        for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
}

free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen=>1,LocalAddr=>"127.0.0.1:0")->sockport'
}

# wait_port PORT: 0 once something listens there (5 s at most).
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# CPU clock ticks (user + system) a process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# ticks over messages, in microseconds per message.
us_per_msg() { echo "scale=1; $1 * 1000000 / $CLK_TCK / $2" | bc; }
vmhwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
vmrss_kb() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
used_memory() { rcli INFO memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }
dbsize() { rcli DBSIZE; }

# Redis (AOF everysec unless REDIS_AOF says otherwise) and smsc-sim: fast,
# no delays, receipts whenever registered_delivery asks.
rig_start() {
    REDIS_PORT=$(free_port)
    SIM_PORT=$(free_port)
    local aof=${REDIS_AOF:-everysec} aof_args
    if [ "$aof" = no ]; then aof_args=(--appendonly no)
    else aof_args=(--appendonly yes --appendfsync "$aof"); fi
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" "${aof_args[@]}" \
        --dir "$WORK" --logfile "$WORK/redis.log" &
    REDIS_PID=$!
    RIG_PIDS+=("$REDIS_PID")
    "$BIN/smsc-sim" --quiet --listen "127.0.0.1:$SIM_PORT" --window 2000 \
        --peer-window 100000 &
    SIM_PID=$!
    RIG_PIDS+=("$SIM_PID")
    wait_port "$REDIS_PORT" && wait_port "$SIM_PORT"
}

# bridge_conf FILE PORT ADMIN_PORT: a bridge config for this rig.
bridge_conf() {
    cat >"$1" <<CONF
[server]
listen = 127.0.0.1:$2
window = 1000
# the 1000-bind run comes from one address, faster than the defaults allow
max_connections_per_address = 2000
accepts_per_second_per_address = 2000
accept_burst_per_address = 2000
[admin]
listen = 127.0.0.1:$3
[redis]
port = $REDIS_PORT
final_ttl = ${FINAL_TTL:-5s}
[log]
level = warn
[upstream sim]
host = 127.0.0.1
port = $SIM_PORT
system_id = smppbridge
password = simpass
sessions = ${UP_SESSIONS:-4}
window = ${UP_WINDOW:-100}
CONF
}

# account_add ID: an unthrottled account with any number of binds.
account_add() {
    echo benchpw | "$BIN/smppctl" -c "$WORK/bench.conf" account add "$1" \
        --password-stdin --tps 0 --max-binds 0 >/dev/null
}

# fresh_dataset ACCOUNT...: an empty Redis with only these accounts.
fresh_dataset() {
    rcli FLUSHALL >/dev/null
    local a
    for a in "$@"; do account_add "$a"; done
}

# bridge_start CONF LOG ADMIN_PORT: start a bridge, wait (20 s at most)
# until /readyz answers (Redis reached, upstream bound); its PID in
# STARTED_PID.
bridge_start() {
    "$BIN/smppbridge" -c "$1" >"$2" 2>&1 &
    STARTED_PID=$!
    for _ in $(seq 200); do
        curl -sf -o /dev/null "http://127.0.0.1:$3/readyz" && return 0
        kill -0 "$STARTED_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bridge did not become ready; its log:" >&2
    tail -5 "$2" >&2
    kill -KILL "$STARTED_PID" 2>/dev/null || true
    return 1
}

# bridge_stop PID: SIGTERM (it drains), SIGKILL after 15 s.
bridge_stop() {
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 150); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}

# The one bench bridge on BRIDGE_PORT, restarted on a fresh dataset.
bench_bridge_restart() {
    [ -n "$BRIDGE_PID" ] && bridge_stop "$BRIDGE_PID"
    BRIDGE_PID=
    [ -n "$BRIDGE_PORT" ] || BRIDGE_PORT=$(free_port)
    [ -n "$ADMIN_PORT" ] || ADMIN_PORT=$(free_port)
    bridge_conf "$WORK/bench.conf" "$BRIDGE_PORT" "$ADMIN_PORT"
    fresh_dataset bench
    bridge_start "$WORK/bench.conf" "$WORK/bridge.log" "$ADMIN_PORT"
    BRIDGE_PID=$STARTED_PID
}

# wait_final_ttl SECONDS_SINCE_RUN_END TTL_S: return once final_ttl has
# passed since the run ended and the dataset stopped shrinking (DBSIZE and
# used_memory the same over 3 polls a second apart: Redis expires keys
# lazily and in a sampling background cycle), or at TTL + 30 s.
wait_final_ttl() {
    local end=$1 ttl=$2 now prev="" same=0 cur
    while :; do
        now=$(date +%s)
        [ $((now - end)) -ge $((ttl + 30)) ] && return 0
        if [ $((now - end)) -ge "$ttl" ]; then
            cur="$(dbsize) $(used_memory)"
            if [ "$cur" = "$prev" ]; then same=$((same + 1)); else same=0; fi
            [ "$same" -ge 2 ] && return 0
            prev=$cur
        fi
        sleep 1
    done
}

# seconds: "5s", "1m", "90" -> 5, 60, 90 (what FINAL_TTL may say).
duration_s() {
    case $1 in
        *ms) echo 1 ;;
        *s) echo "${1%s}" ;;
        *m) echo $(( ${1%m} * 60 )) ;;
        *h) echo $(( ${1%h} * 3600 )) ;;
        *) echo "$1" ;;
    esac
}
