#!/usr/bin/env bash
# Upstream failover by priority: two connectors, the preferred one
# (priority 1) carries the traffic while it is up; when it goes away the
# next one (priority 2) takes over, and nothing accepted is lost.
. "$(dirname "$0")/lib.sh"

start_redis
start_sim main --system-id smppbridge --password simpass
MAIN_PID=$SIM_PID
start_sim backup --system-id smppbridge --password simpass
BACKUP_PID=$SIM_PID
BRIDGE_PORT=$(free_port)
cat >"$WORK/bridge.conf" <<CONF
[server]
listen = 127.0.0.1:$BRIDGE_PORT
[redis]
port = $REDIS_PORT
[queue]
retry_min = 100ms
retry_max = 1s
[upstream main]
host = 127.0.0.1
port = $(port_of main)
system_id = smppbridge
password = simpass
priority = 1
resp_timeout = 2s
reconnect_min = 200ms
reconnect_max = 1s
[upstream backup]
host = 127.0.0.1
port = $(port_of backup)
system_id = smppbridge
password = simpass
priority = 2
reconnect_min = 200ms
reconnect_max = 1s
$(admin_section)
CONF
echo pw | "$BIN/smppctl" -c "$WORK/bridge.conf" account add acct --password-stdin --tps 0 --max-binds 0 >/dev/null
"$BIN/smppbridge" -c "$WORK/bridge.conf" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
upstream_bound() { [ "$(grep -c 'bound as BOUND_TRX' "$WORK/bridge.log")" -ge 4 ]; }
check "started: every upstream session bound" wait_until 20 upstream_bound

run_load() { local n=$1; shift; timeout 120 "$BIN/smpp-load" --port "$BRIDGE_PORT" \
    --system-id acct --password pw --json --no-progress --dlr-timeout 20 "$@" \
    >"$WORK/$n.json" 2>"$WORK/$n.err"; }

check "both connectors up: 500 messages delivered and receipted" \
    run_load first --count 500 --dlr
check "main connector down (SIGTERM)" stop "$MAIN_PID"
check "main (priority 1) carried all 500" eq "$(json "$WORK/main.json" .submit_sm)" 500
check "with main down, backup takes over: 500 more, all receipted" \
    run_load second --count 500 --dlr
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"
check "backup stops and writes its counters" stop "$BACKUP_PID"
check "backup (priority 2) carried the second 500" \
    ge "$(json "$WORK/backup.json" .submit_sm)" 500
finish
