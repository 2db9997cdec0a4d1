#!/usr/bin/env bash
# The admin HTTP server: the token is enforced (401 with WWW-Authenticate:
# Bearer); /metrics is valid Prometheus text (promtool) and its counters
# move by exactly what smpp-load saw (submits, upstream submits, relayed
# receipts, throttled); /readyz follows Redis and the upstream sessions;
# /sessions and `smppctl sessions` list a bind with its account and peer,
# and `smppctl kick` makes that client receive unbind; PUT /accounts
# changes the rate live; malformed requests get 400/404/405/413 and the
# process stays up.
. "$(dirname "$0")/lib.sh"

TOKEN=adm1n-t0ken
start_redis
start_sim sim --system-id smppbridge --password simpass
SIM_PORT=$(port_of sim)
P=$(free_port)
AP=$(free_port)
ADMIN=127.0.0.1:$AP
cat >"$WORK/b.conf" <<CONF
[server]
listen = 127.0.0.1:$P
window = 1000
[redis]
port = $REDIS_PORT
timeout = 500ms
[admin]
listen = $ADMIN
token = $TOKEN
[upstream sim]
host = 127.0.0.1
port = $SIM_PORT
system_id = smppbridge
password = simpass
reconnect_min = 100ms
reconnect_max = 500ms
CONF
ctl() { "$BIN/smppctl" -c "$WORK/b.conf" "$@"; }
echo pw | ctl account add acme --password-stdin --tps 0 --max-binds 0 >/dev/null

"$BIN/smppbridge" -c "$WORK/b.conf" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
for _ in $(seq 200); do
    grep -q "bound as BOUND_TRX" "$WORK/bridge.log" &&
        grep -q "\[admin\] listening" "$WORK/bridge.log" && break
    sleep 0.05
done

# get PATH [CURL ARGS...]: the body on stdout, the status in $WORK/status
get() {
    local path=$1
    shift
    curl -s -m 10 -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        "$@" "http://$ADMIN$path" >"$WORK/status"
    cat "$WORK/body"
}
status() { cat "$WORK/status"; }
# metric NAME_AND_LABELS: its value in a fresh scrape (0 when absent)
metric() {
    get /metrics >"$WORK/m.txt"
    awk -v k="$1" '$1 == k { v = $2 } END { printf "%d\n", v + 0 }' "$WORK/m.txt"
}
# wait_metric NAME_AND_LABELS VALUE SECONDS: until it reaches VALUE
wait_metric() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [ "$(metric "$1")" -ge "$2" ] && break
        sleep 0.1
    done
    metric "$1"
}
# wait_ready CODE SECONDS: until /readyz answers CODE
wait_ready() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        get /readyz >/dev/null
        [ "$(status)" = "$1" ] && return 0
        sleep 0.1
    done
    echo "    /readyz still $(status): $(cat "$WORK/body")" >&2
    return 1
}

# ---- the token -------------------------------------------------------
curl -s -m 10 -D "$WORK/h401" -o "$WORK/b401" -w '%{http_code}' \
    "http://$ADMIN/metrics" >"$WORK/s401"
check "no token: 401" eq "$(cat "$WORK/s401")" 401
check "no token: WWW-Authenticate: Bearer" grep -qi '^WWW-Authenticate: Bearer' "$WORK/h401"
curl -s -m 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" \
    "http://$ADMIN/healthz" >"$WORK/s401"
check "wrong token: 401" eq "$(cat "$WORK/s401")" 401
check "/healthz: ok" eq "$(get /healthz)" ok
check "/healthz: 200" eq "$(status)" 200

# ---- metrics ---------------------------------------------------------
get /metrics >"$WORK/m0.txt"
check "/metrics: 200" eq "$(status)" 200
check "/metrics passes promtool check metrics" promtool check metrics <"$WORK/m0.txt"
for name in smppbridge_binds smppbridge_submits_total smppbridge_throttled_total \
    smppbridge_submit_resp_seconds smppbridge_queue_depth \
    smppbridge_queue_oldest_age_seconds smppbridge_upstream_sessions \
    smppbridge_upstream_window_used smppbridge_upstream_window_size \
    smppbridge_upstream_submits_total smppbridge_upstream_rtt_seconds \
    smppbridge_receipts_relayed_total smppbridge_receipts_pending \
    smppbridge_relay_expired_total smppbridge_inbound_total smppbridge_dead_letters_total \
    smppbridge_auth_failures_total smppbridge_redis_up smppbridge_redis_errors_total \
    smppbridge_redis_timeouts_total smppbridge_redis_reconnects_total \
    smppbridge_redis_latency_seconds smppbridge_build_info \
    process_resident_memory_bytes process_cpu_seconds_total process_open_fds \
    process_start_time_seconds; do
    grep -q "^# TYPE $name " "$WORK/m0.txt" || echo "    missing: $name" >&2
done >"$WORK/missing" 2>&1
check "/metrics: every documented family is there" eq "$(cat "$WORK/missing")" ""
check "upstream session bound in the metrics" \
    eq "$(metric 'smppbridge_upstream_sessions{connector="sim",state="bound"}')" 2

OK0=$(metric 'smppbridge_submits_total{account="acme",status="ESME_ROK"}')
UP0=$(metric 'smppbridge_upstream_submits_total{connector="sim",status="ESME_ROK"}')
REL0=$(metric smppbridge_receipts_relayed_total)
timeout 60 "$BIN/smpp-load" --port "$P" --system-id acme --password pw --count 300 \
    --rate 300 --dlr --json --no-progress >"$WORK/load.json" 2>"$WORK/load.err"
N=$(json "$WORK/load.json" .submits.ok)
R=$(json "$WORK/load.json" .receipts.matched)
check "smpp-load: 300 accepted" eq "$N" 300
check "submits_total{ESME_ROK} rose by what smpp-load counted" \
    eq $(($(metric 'smppbridge_submits_total{account="acme",status="ESME_ROK"}') - OK0)) "$N"
check "upstream_submits_total{ESME_ROK} rose by as many" \
    eq $(($(wait_metric 'smppbridge_upstream_submits_total{connector="sim",status="ESME_ROK"}' $((UP0 + N)) 10) - UP0)) "$N"
check "receipts_relayed_total rose by the receipts smpp-load matched" \
    eq $(($(wait_metric smppbridge_receipts_relayed_total $((REL0 + R)) 10) - REL0)) "$R"
check "submit_resp_seconds counted every answer" \
    ge "$(metric smppbridge_submit_resp_seconds_count)" "$N"
get /metrics >"$WORK/m1.txt"
check "/metrics after traffic passes promtool" promtool check metrics <"$WORK/m1.txt"
check "histogram ends in +Inf with _count" \
    grep -q '^smppbridge_upstream_rtt_seconds_bucket{connector="sim",le="+Inf"} ' "$WORK/m1.txt"

# ---- sessions and kick -----------------------------------------------
cat >"$WORK/wait_unbind.pl" <<'PERL'
# Bind as a transceiver, answer enquire_link, print "unbind received"
# and answer it when the bridge sends unbind.
use strict; use warnings; use Net::SMPP; $| = 1;
my ($host, $port, $id, $pw) = @ARGV;
$SIG{ALRM} = sub { print "timeout\n"; exit 1 };
alarm 30;
my $s = Net::SMPP->new_transceiver($host, port => $port, system_id => $id,
    password => $pw, smpp_version => 0x34) or die "bind failed\n";
print "bound ", $s->sockport, "\n";
while (my $pdu = $s->read_pdu()) {
    if ($pdu->{cmd} == 0x00000006) {
        print "unbind received\n";
        $s->unbind_resp(seq => $pdu->{seq});
        exit 0;
    }
    $s->enquire_link_resp(seq => $pdu->{seq}) if $pdu->{cmd} == 0x00000015;
}
print "closed without unbind\n";
exit 1;
PERL
perl "$WORK/wait_unbind.pl" 127.0.0.1 "$P" acme pw >"$WORK/wu.out" 2>&1 &
WU=$!
PIDS+=("$WU")
wait_until 20 grep -q '^bound' "$WORK/wu.out"
CPORT=$(awk '/^bound/ { print $2 }' "$WORK/wu.out")
get /sessions >"$WORK/sessions.json"
check "/sessions: 200" eq "$(status)" 200
check "/sessions lists the bind with its account" \
    eq "$(jq -r --arg p "127.0.0.1:$CPORT" '.[] | select(.peer == $p) | .account' "$WORK/sessions.json")" acme
check "/sessions: bind type and ISO-8601 since" \
    eq "$(jq -r --arg p "127.0.0.1:$CPORT" '.[] | select(.peer == $p) | .bind_type + " " + (.since | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$") | tostring)' "$WORK/sessions.json")" "trx true"
SID=$(jq -r --arg p "127.0.0.1:$CPORT" '.[] | select(.peer == $p) | .id' "$WORK/sessions.json")
SMPPBRIDGE_ADMIN_TOKEN=$TOKEN "$BIN/smppctl" sessions --admin "$ADMIN" >"$WORK/ctl_sessions.txt"
check "smppctl sessions shows the bind" \
    grep -Eq "^$SID +acme +trx +127\.0\.0\.1:$CPORT " "$WORK/ctl_sessions.txt"
"$BIN/smppctl" sessions --admin "$ADMIN" >/dev/null 2>"$WORK/ctl_401.txt"
check "smppctl sessions without the token fails" eq "$?" 1
check "smppctl kick of an unknown session: exit 3" \
    bash -c "'$BIN/smppctl' kick 987654 --admin '$ADMIN' --token '$TOKEN' 2>/dev/null; [ \$? -eq 3 ]"
"$BIN/smppctl" kick "$SID" --admin "$ADMIN" --token "$TOKEN" >/dev/null
check "smppctl kick: exit 0" eq "$?" 0
wait "$WU"
check "smppctl kick: the client received unbind" grep -q "unbind received" "$WORK/wu.out"
for _ in $(seq 50); do
    [ "$(get /sessions | jq --arg p "127.0.0.1:$CPORT" '[.[] | select(.peer == $p)] | length')" = 0 ] && break
    sleep 0.1
done
check "the kicked bind is gone from /sessions" \
    eq "$(get /sessions | jq --arg p "127.0.0.1:$CPORT" '[.[] | select(.peer == $p)] | length')" 0

# ---- bad requests ----------------------------------------------------
get /nope >/dev/null
check "unknown path: 404 with a JSON error" eq "$(status) $(jq -r .error "$WORK/body")" "404 not found"
get /metrics -X POST >/dev/null
check "POST /metrics: 405" eq "$(status)" 405
get /sessions/abc -X DELETE >/dev/null
check "DELETE /sessions/abc: 404" eq "$(status)" 404
get /accounts/acme -X PUT -d '{"tps": 5' >/dev/null
check "PUT with broken JSON: 400 with a JSON error" \
    bash -c "[ \"\$(cat '$WORK/status')\" = 400 ] && jq -e .error '$WORK/body' >/dev/null"
get /accounts/acme -X PUT -d '{"tps": -1}' >/dev/null
check "PUT with a negative tps: 400" eq "$(status)" 400
get /accounts/acme -X PUT -d '{"color": "red"}' >/dev/null
check "PUT with an unknown field: 400" eq "$(status)" 400
get /accounts/acme -X PUT -d '{"tps": 1, "tps": 2}' >/dev/null
check "PUT with a duplicate field: 400" eq "$(status)" 400
head -c 100000 /dev/zero | tr '\0' ' ' >"$WORK/big"
get /accounts/acme -X PUT --data-binary @"$WORK/big" >/dev/null
check "PUT with a body over the limit: 413" eq "$(status)" 413
get /accounts/nobody -X PUT -d '{"tps": 5}' >/dev/null
check "PUT of an unknown account: 404" eq "$(status)" 404
get /accounts/acme >"$WORK/acct.json"
check "GET /accounts/acme: 200 without the password hash" \
    bash -c "[ \"\$(cat '$WORK/status')\" = 200 ] && ! grep -q scrypt '$WORK/acct.json' && jq -e '.id == \"acme\"' '$WORK/acct.json' >/dev/null"
check "the process is still up" kill -0 "$BRIDGE_PID"
check "and answers" eq "$(get /healthz)" ok

# ---- PUT /accounts changes the rate live -----------------------------
load() { # NAME: 3 s at 100/s
    timeout 60 "$BIN/smpp-load" --port "$P" --system-id acme --password "$2" \
        --rate 100 --duration 3 --window 100 --json --no-progress \
        >"$WORK/$1.json" 2>"$WORK/$1.err"
}
load before pw
check "before: nothing throttled at 100/s on an unlimited account" \
    eq "$(json "$WORK/before.json" .submits.throttled)" 0
T0=$(metric 'smppbridge_throttled_total{account="acme"}')
get /accounts/acme -X PUT -d '{"tps": 20, "password": "pw2"}' >"$WORK/put.json"
check "PUT tps 20 and a new password: 200, the account as it is now" \
    eq "$(status) $(jq -r .tps "$WORK/put.json")" "200 20"
check "the stored password is a hash, never the password" \
    bash -c "redis-cli -p $REDIS_PORT hget 'sb:acct:{acme}' password | grep -q '^scrypt\\$'"
load after pw2
TH=$(json "$WORK/after.json" .submits.throttled)
check "after: the new password binds and the excess is throttled" ge "$TH" 150
check "throttled_total rose by what smpp-load counted" \
    eq $(($(metric 'smppbridge_throttled_total{account="acme"}') - T0)) "$TH"

# ---- readiness -------------------------------------------------------
check "/readyz: 200 with Redis and upstream" wait_ready 200 5
stop "$SIM_PID"
check "/readyz: 503 once the simulator is gone" wait_ready 503 10
check "/readyz says upstream is missing" \
    eq "$(jq -c .missing "$WORK/body")" '["upstream"]'
"$BIN/smsc-sim" --quiet --listen "127.0.0.1:$SIM_PORT" --system-id smppbridge \
    --password simpass 2>>"$WORK/sim2.log" &
PIDS+=($!)
check "/readyz: 200 again when the simulator is back" wait_ready 200 15
kill -STOP "$REDIS_PID"
check "/readyz: 503 while Redis is stopped" wait_ready 503 10
check "/readyz says redis is missing" \
    bash -c "jq -e '.missing | index(\"redis\")' '$WORK/body' >/dev/null"
kill -CONT "$REDIS_PID"
check "/readyz: 200 again when Redis answers" wait_ready 200 15
check "/metrics: Redis timeouts counted" ge "$(metric smppbridge_redis_timeouts_total)" 1
check "/metrics: smppbridge_redis_up 1" eq "$(metric smppbridge_redis_up)" 1

check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"
finish
