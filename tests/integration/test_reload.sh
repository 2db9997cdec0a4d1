#!/usr/bin/env bash
# SIGHUP reloads the configuration while customers send: a changed
# connector restarts on its new target while the unchanged one keeps its
# sessions and the customer's bind stays up; a broken file changes
# nothing; connectors are added and removed; the log level follows. SIGTERM
# under load: every customer is unbound after its answers, the bridge
# exits 0 within the drain limit, and after a restart every accepted
# message reaches an SMSC and its receipt reaches the customer.
. "$(dirname "$0")/lib.sh"

start_redis
SIM=(--system-id smppbridge --password simpass)
start_sim simA "${SIM[@]}" --dlr-delay-ms 100
SIMA_PID=$SIM_PID
start_sim simB "${SIM[@]}" --dlr-delay-ms 100
SIMB_PID=$SIM_PID
start_sim simC "${SIM[@]}" --dlr-delay-ms 100
SIMC_PID=$SIM_PID
BRIDGE_PORT=$(free_port)

# upstream NAME SIM PRIORITY [WINDOW]: one [upstream] section.
upstream() {
    cat <<CONF
[upstream $1]
host = 127.0.0.1
port = $(port_of "$2")
system_id = smppbridge
password = simpass
priority = $3
window = ${4:-50}
resp_timeout = 2s
reconnect_min = 100ms
reconnect_max = 1s
CONF
}

# write_conf LEVEL SECTIONS...: the bridge's file (every section given
# is printed as it is).
write_conf() {
    local level=$1
    shift
    {
        cat <<CONF
[server]
listen = 127.0.0.1:$BRIDGE_PORT
window = 200
[redis]
port = $REDIS_PORT
timeout = 1s
[log]
level = $level
[queue]
claim_idle = 3s
retry_min = 100ms
retry_max = 1s
$(admin_section)
CONF
        printf '%s\n' "$@"
    } >"$WORK/bridge.conf.new"
    mv "$WORK/bridge.conf.new" "$WORK/bridge.conf"
}

LOG_MARK=0
mark_log() { LOG_MARK=$(wc -l <"$WORK/bridge.log"); }
# wait_log TEXT SECONDS: the log shows TEXT after the mark.
wait_log() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        tail -n +$((LOG_MARK + 1)) "$WORK/bridge.log" | grep -q -- "$1" && return 0
        sleep 0.05
    done
    echo "    bridge log never showed '$1'" >&2
    return 1
}
since_mark() { tail -n +$((LOG_MARK + 1)) "$WORK/bridge.log" | grep -c -- "$1"; }

start_bridge() {
    touch "$WORK/bridge.log"
    mark_log
    "$BIN/smppbridge" -c "$WORK/bridge.conf" >>"$WORK/bridge.log" 2>&1 &
    BRIDGE_PID=$!
    PIDS+=("$BRIDGE_PID")
    wait_log "bound as BOUND_TRX" 10
}

# load NAME ACCOUNT ARGS...: smpp-load through the bridge, in the
# background; its PID in LOAD_PID.
load() {
    local name=$1 acct=$2
    shift 2
    timeout 120 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id "$acct" \
        --password pw --json --no-progress --dlr --dlr-timeout 30 "$@" \
        >"$WORK/$name.json" 2>"$WORK/$name.err" &
    LOAD_PID=$!
}
field() { json "$WORK/$1.json" "$2"; }
hup() { mark_log; kill -HUP "$BRIDGE_PID"; }

ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }

A=$(upstream a simA 2)
B=$(upstream b simB 1)
write_conf info "$A" "$B"
echo pw | ctl account add first --password-stdin --tps 0 --max-binds 0 >/dev/null
echo pw | ctl account add second --password-stdin --tps 0 --max-binds 0 >/dev/null
start_bridge
upstream_bound() { [ "$(grep -c 'bound as BOUND_TRX' "$WORK/bridge.log")" -ge 4 ]; }
wait_until 20 upstream_bound
check "started: connectors a and b bound (2 sessions each)" \
    eq "$(grep -c '\[[ab]#[01]\] bound as BOUND_TRX' "$WORK/bridge.log")" 4

# ---- a changed connector restarts; the unchanged one is not touched ----
load change first --rate 200 --duration 8
sleep 2
write_conf info "$A" "$(upstream b simC 1 80)"
hup
check "SIGHUP, b moved to another SMSC: the summary line says so" \
    wait_log "reload: upstream b restarted" 5
check "b is bound again, on its new target" wait_log "\[b#[01]\] bound as BOUND_TRX" 10
wait "$LOAD_PID"
check "the customer's bind stayed up through the reload (no close)" \
    eq "$(field change .sessions.sessions_closed)" 0
check "traffic flowed: at least 1400 of 1600 accepted" ge "$(field change .submits.ok)" 1400
check "every accepted message got its receipt (0 missing)" \
    eq "$(field change .receipts.missing)" 0
check "connector a was never re-bound" \
    eq "$(grep -c '\[a#[01]\] bound as' "$WORK/bridge.log")" 2

# ---- a broken file changes nothing ------------------------------------
sed -i -e '/^\[server\]$/a no_such_key = 1' -e 's/^retry_max = 1s$/retry_max = forever/' \
    "$WORK/bridge.conf"
load broken first --rate 200 --duration 4
sleep 1
hup
check "broken file: the reload is refused" wait_log "reload refused" 5
check "broken file: each reason logged with FILE:LINE (unknown key)" \
    wait_log "bridge.conf:[0-9]*: .*no_such_key" 1
check "broken file: each reason logged with FILE:LINE (bad duration)" \
    wait_log "bridge.conf:[0-9]*: .*retry_max" 1
check "broken file: no connector restarted" eq "$(since_mark 'connector stopped')" 0
wait "$LOAD_PID"
check "broken file: traffic continued, all receipted" \
    eq "$(field broken '"\(.sessions.sessions_closed) \(.receipts.missing)"')" "0 0"
check "broken file: the bridge still runs" kill -0 "$BRIDGE_PID"

# ---- connectors added and removed, log level to debug --------------------
load addrm second --rate 200 --duration 6
sleep 1
write_conf debug "$A" "$(upstream d simB 1)"
hup
check "valid file after a broken one: d added, b removed, level changed" \
    wait_log "reload: upstream d added, upstream b removed; changed \[log\] level" 5
check "log level debug: debug lines appear" wait_log " debug \[up\] \[d#0\] connecting" 5
check "d bound" wait_log "\[d#[01]\] bound as BOUND_TRX" 10
check "b stopped after its sessions unbound" wait_log "\[b\] connector stopped" 15
wait "$LOAD_PID"
check "add/remove under traffic: bind kept, every accepted message receipted" \
    eq "$(field addrm '"\(.sessions.sessions_closed) \(.receipts.missing)"')" "0 0"
check "add/remove: traffic flowed" ge "$(field addrm .submits.ok)" 1000

# ---- log level back to info: debug lines disappear ------------------------
write_conf info "$(upstream a simA 2 60)" "$(upstream d simB 1)"
hup
check "level info and a's window changed: a restarted" \
    wait_log "reload: upstream a restarted; changed \[log\] level" 5
check "a bound again with its new window" wait_log "\[a#[01]\] bound as BOUND_TRX" 10
check "log level info: no debug line after the reload" eq "$(since_mark ' debug ')" 0

# ---- a key that needs a restart --------------------------------------------
OTHER_PORT=$(free_port)
sed -i "s/^listen = 127.0.0.1:$BRIDGE_PORT\$/listen = 127.0.0.1:$OTHER_PORT/" "$WORK/bridge.conf"
hup
check "listen address changed: named as needing a restart" \
    wait_log "needs a restart (running value kept): \[server\] listen" 5
load listen first --count 50
check "the old listener still answers: 50 sent, all receipted" wait "$LOAD_PID"

# ---- SIGTERM under load with two customers ------------------------------------
write_conf info "$(upstream a simA 2 60)" "$(upstream d simB 1)"
load drain1 first --rate 150 --duration 10 --reconnect --resp-timeout 5
DRAIN1=$LOAD_PID
load drain2 second --rate 150 --duration 10 --reconnect --resp-timeout 5
DRAIN2=$LOAD_PID
sleep 3
check "before the drain: a bound only at the start and after its own restart" \
    eq "$(grep -c '\[a#[01]\] bound as' "$WORK/bridge.log")" 4
T0=$(date +%s%N)
kill -TERM "$BRIDGE_PID"
for _ in $(seq 300); do kill -0 "$BRIDGE_PID" 2>/dev/null || break; sleep 0.05; done
wait "$BRIDGE_PID"
RC=$?
T1=$(date +%s%N)
check "SIGTERM under load: exit status 0" eq "$RC" 0
check "SIGTERM: exited within the drain limit (10 s, +1 s to unbind upstream)" \
    le $(((T1 - T0) / 1000000)) 11500
check "SIGTERM: the log shows the drain finished" grep -q "drained: unbinding upstream" "$WORK/bridge.log"
start_bridge
wait "$DRAIN1"
wait "$DRAIN2"
check "both customers received unbind from the bridge" \
    eq "$(field drain1 '.sessions.close_reasons.unbind // 0') $(field drain2 '.sessions.close_reasons.unbind // 0')" "1 1"
check "after the restart every ESME_ROK got its receipt (customer 1)" \
    eq "$(field drain1 .receipts.missing)" 0
check "after the restart every ESME_ROK got its receipt (customer 2)" \
    eq "$(field drain2 .receipts.missing)" 0
ACCEPTED=0
for n in change broken addrm listen drain1 drain2; do
    ACCEPTED=$((ACCEPTED + $(field $n .submits.ok)))
done
check "bridge exits 0 on SIGTERM when idle" stop "$BRIDGE_PID"
for p in "$SIMA_PID" "$SIMB_PID" "$SIMC_PID"; do stop "$p" || true; done
DELIVERED=$(( $(json "$WORK/simA.json" .submit_sm) + $(json "$WORK/simB.json" .submit_sm) + $(json "$WORK/simC.json" .submit_sm) ))
echo "    accepted $ACCEPTED, submitted upstream $DELIVERED (duplicates: $((DELIVERED - ACCEPTED)))"
check "every accepted message reached a simulator (at least once)" ge "$DELIVERED" "$ACCEPTED"
check "simC (b's new target) carried traffic" ge "$(json "$WORK/simC.json" .submit_sm)" 1
check "simA saw 6 binds: start, a's own restart, the bridge's restart; none from other reloads" \
    eq "$(json "$WORK/simA.json" .binds)" 6
finish
