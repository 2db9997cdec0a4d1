#!/usr/bin/env bash
# [log] format = json end to end: every line the bridge writes on stderr
# is one JSON object with ts, level, tag and msg; a refused bind (wrong
# password) and a good bind carry the account, the bind type, the peer
# address, the reason and the SMPP status name as fields; a hostile
# system_id comes out escaped, still one valid line; Redis going down is
# an event with its state; no password is ever written.
. "$(dirname "$0")/lib.sh"

start_redis
start_sim sim --system-id smppbridge --password simpass
PORT=$(free_port)
bridge_conf "$WORK/bridge.conf" "$PORT" "[log]
level = debug
format = json"
ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }
echo goodpw | ctl account add logacct --password-stdin --tps 0 --max-binds 0 >/dev/null
bind_status() { perl "$ROOT/tests/interop/bind_status.pl" 127.0.0.1 "$PORT" "$@"; }

LOG=$WORK/bridge.log
"$BIN/smppbridge" -c "$WORK/bridge.conf" 2>"$LOG" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")

# event JQ_CONDITION: the first line satisfying it, compact.
event() { jq -R -c "fromjson? | select($1)" "$LOG" | head -1; }
# wait_event SECONDS JQ_CONDITION: 0 once a line of the log satisfies it.
wait_event() {
    local i
    for ((i = 0; i < $1 * 20; i++)); do
        [ -n "$(event "$2")" ] && return 0
        sleep 0.05
    done
    echo "    no log line with $2" >&2
    return 1
}

wait_event 10 '.tag == "up" and .state == "bound"'
check "wrong password refused: ESME_RBINDFAIL (bind_fail_detail = no)" eq "$(bind_status logacct wrongpw)" 0x0000000d
check "good password, transmitter: bound" eq "$(bind_status logacct goodpw tx)" 0x00000000
check "a hostile system_id is refused" eq "$(bind_status $'ev"il\\x\n\x01b' x)" 0x0000000d
wait_event 5 '.msg | startswith("unbound")'
kill -TERM "$REDIS_PID"
check "Redis down: an event with host, port, state and reason" \
    wait_event 10 ".tag == \"redis\" and .state == \"down\" and .port == \"$REDIS_PORT\" and (.reason | length > 0)"
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"

LINES=$(wc -l <"$LOG")
check "the bridge wrote lines" ge "$LINES" 6
check "every line is one JSON object with ts, level, tag and msg" \
    eq "$(jq -R -c 'fromjson | select(type == "object" and (.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$")) and (.level | IN("debug", "info", "warn", "error")) and (.tag | type == "string") and (.msg | type == "string"))' "$LOG" | wc -l)" "$LINES"

refused=$(event '.msg | startswith("bind refused: wrong password")')
check "auth failure: account, system_id, type, peer, reason and status as fields" \
    eq "$(jq -r '[.level, .tag, .account, .system_id, .type, (.peer | test("^127\\.0\\.0\\.1:[0-9]+$")), .reason, .status] | join(" ")' <<<"$refused")" \
    "warn down logacct logacct trx true wrong password ESME_RBINDFAIL"
bound=$(event '.tag == "down" and (.msg | startswith("bound as"))')
check "bind: account, type, peer and session id as fields" \
    eq "$(jq -r '[.level, .account, .type, (.peer | test("^127\\.0\\.0\\.1:[0-9]+$")), (.session | test("^[0-9]+$"))] | join(" ")' <<<"$bound")" \
    "info logacct tx true true"
unbound=$(event '.msg | startswith("unbound")')
check "unbind: account, type, peer and reason as fields" \
    eq "$(jq -r '[.account, .type, (.peer | length > 0), (.reason | length > 0)] | join(" ")' <<<"$unbound")" \
    "logacct tx true true"
check "hostile system_id: decoded back exactly from its escaped field" \
    eq "$(event '.reason == "unknown system_id"' | jq -r '.system_id == "ev\"il\\x\n\u0001b"')" true
check "upstream session: connector, session index and state" \
    eq "$(event '.tag == "up" and .state == "bound"' | jq -r '[.connector, .session, .type] | join(" ")')" \
    "sim 0 trx"
check "Redis up: host, port and state" \
    eq "$(event '.tag == "redis" and .state == "up"' | jq -r '[.host, .port] | join(":")')" \
    "127.0.0.1:$REDIS_PORT"
check "no password in the log" bash -c "! grep -E 'goodpw|wrongpw|simpass' '$LOG'"
finish
