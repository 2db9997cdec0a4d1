#!/usr/bin/env bash
# The bridge end to end: smpp-load or Net::SMPP clients -> smppbridge ->
# smsc-sim, with a real redis-server, all on loopback. Each check is a
# contract the bridge keeps with its customers (docs/architecture.md, the
# flows of a message and of a receipt): our ids in receipts (text and TLV, hex and
# decimal accounts, upstream receipts in the other radix), receipts on a
# separate receiver bind, permanent upstream errors as receipts, retries
# of temporary ones, upstream and Redis failures, kill -9 of the bridge,
# malformed clients, refused binds, live account changes.
. "$(dirname "$0")/lib.sh"

# Redis with an append-only file synced on every write, so that a Redis
# restart keeps what it acknowledged (as production should run it).
start_redis_aof() {
    REDIS_PORT=${REDIS_PORT:-$(free_port)}
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
        --appendonly yes --appendfsync always --dir "$WORK" \
        --logfile "$WORK/redis.log" &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    local i
    for ((i = 0; i < 200; i++)); do
        redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    return 1
}

BRIDGE_PORT=$(free_port)
V6_PORT=$(free_port)
TLS_PORT=$(free_port)
tls_cert
write_conf() {
    cat >"$WORK/bridge.conf" <<CONF
[server]
listen = 127.0.0.1:$BRIDGE_PORT
listen = [::1]:$V6_PORT
window = 200
max_binds = 50
bind_timeout = 5s
auth_fail_limit = 6
bind_fail_detail = yes
auth_fail_window = 60s
auth_block = 60s
[tls]
listen = 127.0.0.1:$TLS_PORT
cert = $WORK/cert.pem
key = $WORK/key.pem
[redis]
port = $REDIS_PORT
timeout = 1s
[log]
level = info
[queue]
claim_idle = 3s
retry_min = 100ms
retry_max = 1s
max_attempts = 50
[upstream sim]
host = 127.0.0.1
port = $(port_of sim)
system_id = smppbridge
password = simpass
sessions = 2
window = 100
resp_timeout = 2s
reconnect_min = 100ms
reconnect_max = 1s
$(admin_section)
CONF
}

ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }

start_bridge() {
    touch "$WORK/bridge.log"
    mark_log
    "$BIN/smppbridge" -c "$WORK/bridge.conf" >>"$WORK/bridge.log" 2>&1 &
    BRIDGE_PID=$!
    PIDS+=("$BRIDGE_PID")
    wait_log "bound as BOUND_TRX" 10
}

# wait_log TEXT SECONDS: until the bridge log shows TEXT after the line
# count LOG_MARK (set it with mark_log to wait for a new event only).
LOG_MARK=0
mark_log() { LOG_MARK=$(wc -l <"$WORK/bridge.log"); }
wait_log() {
    local i
    for ((i = 0; i < $2 * 20; i++)); do
        tail -n +$((LOG_MARK + 1)) "$WORK/bridge.log" | grep -q "$1" && return 0
        sleep 0.05
    done
    echo "bridge log never showed '$1'" >&2
    return 1
}

restart_sim() {
    stop "$SIM_PID" || true
    start_sim sim --system-id smppbridge --password simpass "$@"
    write_conf
}

# load NAME ACCOUNT PASSWORD ARGS...: smpp-load through the bridge.
load() {
    local name=$1 acct=$2 pw=$3
    shift 3
    timeout 120 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id "$acct" \
        --password "$pw" --json --no-progress --dlr-timeout 20 "$@" \
        >"$WORK/$name.json" 2>"$WORK/$name.err"
}
field() { json "$WORK/$1.json" "$2"; }
bind_status() { perl "$ROOT/tests/interop/bind_status.pl" 127.0.0.1 "$BRIDGE_PORT" "$@"; }

start_redis_aof
start_sim sim --system-id smppbridge --password simpass
write_conf
echo hexpass | ctl account add hexacct --password-stdin --tps 0 --max-binds 0 >/dev/null
echo decpass | ctl account add decacct --password-stdin --tps 0 --max-binds 0 --id-format dec >/dev/null
check "smppbridge --check accepts the test config" \
    "$BIN/smppbridge" -c "$WORK/bridge.conf" --check
start_bridge

# ---- ids -------------------------------------------------------------
check "Net::SMPP client through the bridge: receipts carry our id in text and TLV" \
    timeout 60 perl "$ROOT/tests/interop/netsmpp_client.pl" 127.0.0.1 "$BRIDGE_PORT" hexacct hexpass
timeout 60 perl "$ROOT/tests/interop/netsmpp_client.pl" 127.0.0.1 "$BRIDGE_PORT" \
    decacct decpass >"$WORK/dec.out" 2>&1
check "decimal account: receipts matched, ids are decimal" \
    bash -c "grep -c '^ok receipt' '$WORK/dec.out' | grep -qx 5 && ! grep '^ok submitted' '$WORK/dec.out' | grep -q 'id=.*[a-f]'"
check "hex account: 2000 messages, every receipt matched exactly once" \
    load hex hexacct hexpass --binds 2 --window 50 --count 2000 --dlr
check "hex account: counts" \
    eq "$(field hex '"\(.submits.ok) \(.receipts.matched) \(.receipts.missing) \(.receipts.duplicate)"')" "2000 2000 0 0"
check "transmitter with a separate receiver bind of the same account" \
    load txrx decacct decpass --bind tx --rx-binds 1 --count 500 --dlr
check "TLS listener: 500 messages with receipts over TLS" \
    timeout 60 "$BIN/smpp-load" --port "$TLS_PORT" --tls --tls-ca "$WORK/cert.pem" \
    --system-id hexacct --password hexpass --count 500 --dlr --json --no-progress \
    >"$WORK/tls.json" 2>"$WORK/tls.err"
check "IPv6 listener [::1]: 500 messages with receipts" \
    timeout 60 "$BIN/smpp-load" --host ::1 --port "$V6_PORT" --system-id hexacct \
    --password hexpass --count 500 --dlr --json --no-progress >"$WORK/v6.json" 2>"$WORK/v6.err"
check "3-part messages through the bridge: every part receipted" \
    load parts hexacct hexpass --binds 2 --count 200 --parts 3 --dlr
load both_hex hexacct hexpass --binds 2 --count 1500 --dlr &
BOTH_PID=$!
load both_dec decacct decpass --binds 2 --count 1500 --dlr
wait "$BOTH_PID"
check "two accounts at once: each gets its own receipts and only those" \
    eq "$(field both_hex '"\(.receipts.matched) \(.receipts.unmatched)"') $(field both_dec '"\(.receipts.matched) \(.receipts.unmatched)"')" "1500 0 1500 0"

stop "$SIM_PID"
# 600 parts from smpp-load and two 3-part messages from the Net::SMPP runs
check "parts of one message went upstream on one session, in order" \
    eq "$(json "$WORK/sim.json" '"\(.concat_parts) \(.concat_split) \(.concat_disorder)"')" "606 0 0"
start_sim sim --system-id smppbridge --password simpass
write_conf
stop "$BRIDGE_PID"; start_bridge
restart_sim --id-format hex --dlr-id-format dec
stop "$BRIDGE_PID"; start_bridge
check "upstream receipts in decimal for hex submit ids: all mapped back" \
    load radix hexacct hexpass --count 1000 --dlr
check "upstream radix: none missing" eq "$(field radix .receipts.missing)" 0

# ---- upstream errors -------------------------------------------------
restart_sim --reject-rate 0.2 --seed 11
stop "$BRIDGE_PID"; start_bridge
check "permanent upstream errors: every message still gets a receipt" \
    load reject hexacct hexpass --count 1000 --dlr
check "permanent upstream errors become REJECTD receipts" \
    bash -c "n=\$(jq -r '.receipts.states.REJECTD // 0' '$WORK/reject.json'); [ \$n -gt 100 ] && [ \$n -lt 400 ]"

restart_sim --error-rate 0.3 --seed 5
stop "$BRIDGE_PID"; start_bridge
check "temporary upstream errors are retried: all delivered" \
    load temp hexacct hexpass --count 1000 --dlr
check "temporary upstream errors: every receipt DELIVRD" \
    eq "$(json "$WORK/temp.json" '.receipts.states.DELIVRD')" 1000

restart_sim --drop-every 400
stop "$BRIDGE_PID"; start_bridge
load drops hexacct hexpass --count 3000 --rate 1500 --dlr --linger 1 || true
check "upstream drops: every accepted message receipted (at least once)" \
    eq "$(field drops '"\(.submits.ok) \(.receipts.missing)"')" "3000 0"

restart_sim
stop "$BRIDGE_PID"; start_bridge

# ---- Redis stalls and comes back ---------------------------------------
# ok_so_far NAME: ESME_ROK responses so far, from the last progress line
# smpp-load wrote (once a second) to $WORK/NAME.err; 0 before the first.
ok_so_far() {
    awk '/ sent [0-9]+ .* resp [0-9]+ .* err [0-9]+ / {
             for (i = 1; i < NF; i++) { if ($i == "resp") r = $(i + 1); if ($i == "err") e = $(i + 1) } }
         END { print r - e }' "$WORK/$1.err"
}
STALL_RATE=400
load redis_stall hexacct hexpass --rate "$STALL_RATE" --duration 6 --dlr --resp-timeout 5 --progress &
LOAD_PID=$!
sleep 1.5
kill -STOP "$REDIS_PID"
sleep 2
kill -CONT "$REDIS_PID"
ok_at_resume=$(ok_so_far redis_stall)
wait "$LOAD_PID"
check "Redis stalled: submits answered ESME_RMSGQFUL meanwhile" \
    ge "$(json "$WORK/redis_stall.json" '[.statuses[] | select(.status == "ESME_RMSGQFUL") | .count] | add // 0')" 1
# Traffic resumed: counted from the load's own tally when Redis came back,
# not from a shell-clock estimate. Half a second of the offered rate is far
# more than the one window (10) that was waiting on Redis, yet little of
# the 2.5 s left to send, however slow a sanitizer build or a reconnect.
resumed=$(($(field redis_stall '.submits.ok // 0') - ok_at_resume))
check "Redis stalled: no ESME_ROK lost (every OK receipted), traffic resumed ($resumed OK after)" \
    bash -c "[ \$(jq -r .receipts.missing '$WORK/redis_stall.json') = 0 ] && [ $resumed -ge $((STALL_RATE / 2)) ]"

# ---- an idle bridge through a Redis freeze -----------------------------
sleep 1
kill -STOP "$REDIS_PID"
sleep 4
kill -CONT "$REDIS_PID"
sleep 1.5
check "idle bridge through a 4 s Redis freeze: memory stays small" \
    le "$(awk '/VmRSS/ { print $2 }' /proc/$BRIDGE_PID/status)" 200000
check "idle bridge through a 4 s Redis freeze: traffic flows afterwards" \
    load after_freeze hexacct hexpass --count 300 --dlr

# ---- the queue deleted under the bridge (eviction, FLUSHDB) ------------
redis-cli -p "$REDIS_PORT" DEL sb:queue >/dev/null
check "queue stream and group deleted: recreated, every message still delivered" \
    load nogroup hexacct hexpass --count 300 --dlr

# ---- Redis restarted (append-only file) ------------------------------
load redis_restart hexacct hexpass --rate 400 --duration 6 --dlr --resp-timeout 5 &
LOAD_PID=$!
sleep 1.5
kill -TERM "$REDIS_PID"; wait_gone "$REDIS_PID" 10
sleep 1
start_redis_aof
wait "$LOAD_PID"
check "Redis restarted: every ESME_ROK receipted" \
    eq "$(field redis_restart .receipts.missing)" 0

# ---- kill -9 of the bridge under load --------------------------------
stop "$SIM_PID" || true
start_sim sim --system-id smppbridge --password simpass --dlr-delay-ms 200
write_conf
stop "$BRIDGE_PID"; start_bridge
load kill9 hexacct hexpass --rate 500 --duration 8 --dlr --reconnect --resp-timeout 3 --dlr-timeout 30 &
LOAD_PID=$!
sleep 3
kill -KILL "$BRIDGE_PID"; wait_gone "$BRIDGE_PID" 5
start_bridge
wait "$LOAD_PID"
check "kill -9 under load, restart: every ESME_ROK message receipted" \
    eq "$(field kill9 .receipts.missing)" 0
ok9=$(field kill9 .submits.ok)
stop "$SIM_PID"
check "kill -9: every acknowledged message reached the simulator at least once" \
    ge "$(json "$WORK/sim.json" .submit_sm)" "$ok9"
start_sim sim --system-id smppbridge --password simpass
write_conf
stop "$BRIDGE_PID"; start_bridge

# ---- a malformed client does not disturb the others --------------------
load calm hexacct hexpass --rate 300 --duration 4 --dlr &
LOAD_PID=$!
sleep 1
perl -MIO::Socket::INET -e '
    for my $junk ("\x00\x00\x00\x05abcd", "\x00\x00\x00\x10\x00\x00\x00\x99\x00\x00\x00\x00\x00\x00\x00\x01",
                  "\xff\xff\xff\xff" . ("x" x 60), "\x00\x00\x00\x11\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01Z") {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:'"$BRIDGE_PORT"'") or die;
        print $s $junk; sleep 1; close $s;
    }' &
JUNK_PID=$!
wait "$LOAD_PID"
check "malformed PDUs from one client: the other client saw nothing (exit 0)" \
    eq "$(field calm .result.pass)" true
wait "$JUNK_PID" 2>/dev/null || true
check "the bridge answered the bad length with generic_nack and closed it" \
    grep -q "bad_length" "$WORK/bridge.log"

# ---- binds refused -------------------------------------------------------
check "wrong password: ESME_RINVPASWD" eq "$(bind_status hexacct wrong)" 0x0000000e
check "unknown system_id: ESME_RINVSYSID" eq "$(bind_status nosuch whatever)" 0x0000000f
echo offpass | ctl account add offacct --password-stdin --tps 0 --max-binds 0 --enabled no >/dev/null 2>&1 ||
    { echo offpass | ctl account add offacct --password-stdin --tps 0 --max-binds 0 >/dev/null; ctl account set offacct --enabled no >/dev/null; }
check "disabled account: ESME_RBINDFAIL" eq "$(bind_status offacct offpass)" 0x0000000d
echo netpass | ctl account add netacct --password-stdin --tps 0 --max-binds 0 --allow 10.0.0.0/8,2001:db8::/32 >/dev/null
check "address outside the allowlist: ESME_RBINDFAIL" eq "$(bind_status netacct netpass)" 0x0000000d
ctl account set netacct --allow 127.0.0.0/8 >/dev/null
check "address inside the allowlist: bound" eq "$(bind_status netacct netpass)" 0x00000000
echo onepass | ctl account add oneacct --password-stdin --tps 0 --max-binds 1 >/dev/null
mark_log
# Held far longer than the second bind can take (bind_status.pl gives up
# at 20 s), and ended as soon as that bind is answered.
HOLD_SECONDS=15 perl "$ROOT/tests/interop/bind_status.pl" 127.0.0.1 "$BRIDGE_PORT" oneacct onepass >"$WORK/hold.out" &
HOLD_PID=$!
wait_log "\[oneacct .*bound as" 5
check "too many binds for the account: ESME_RBINDFAIL" eq "$(bind_status oneacct onepass)" 0x0000000d
kill "$HOLD_PID" 2>/dev/null; wait "$HOLD_PID" 2>/dev/null

# ---- live account change -----------------------------------------------
mark_log
HOLD_SECONDS=10 perl "$ROOT/tests/interop/bind_status.pl" 127.0.0.1 "$BRIDGE_PORT" hexacct hexpass >/dev/null &
HOLD_PID=$!
wait_log "\[hexacct .*bound as BOUND_TRX" 5
ctl account set hexacct --enabled no >/dev/null
check "account disabled live: its bind is unbound without a restart" \
    wait_log "\[hexacct .*account changed: unbinding" 5
ctl account set hexacct --enabled yes >/dev/null
kill "$HOLD_PID" 2>/dev/null; wait "$HOLD_PID" 2>/dev/null

# last: it leaves 127.0.0.1 blocked for auth_block
echo guesspw | ctl account add guessed --password-stdin --tps 0 --max-binds 0 >/dev/null
for _ in 1 2 3 4 5 6; do bind_status guessed nope >/dev/null; done
check "repeated wrong passwords: then refused, even with the right one" \
    eq "$(bind_status guessed guesspw)" 0x0000000d
check "repeated wrong passwords: answers were slowed down" \
    grep -q "guessed .*too many failed binds" "$WORK/bridge.log"
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"
check "no password in the bridge log" \
    bash -c "! grep -E 'hexpass|decpass|simpass|onepass|netpass' '$WORK/bridge.log'"
finish
