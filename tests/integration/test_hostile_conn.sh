#!/usr/bin/env bash
# Hostile connections against the real bridge, Redis and smsc-sim:
#   - descriptors run out (RLIMIT_NOFILE 64, twice that many idle
#     connections): the bridge does not spin or flood its log, a bound
#     customer keeps submitting, a new bind works once the idle ones go;
#   - max_connections_per_address: the N+1th connection from one address
#     is closed at once, another address is still served;
#   - 16 malformed PDUs interleaved with good submits, all in one write:
#     the client reads every response sent (each good submit before the
#     close got its submit_sm_resp) and an EOF, not a reset;
#   - bad PDUs slower than max_bad_pdus per bad_pdu_window never cut a
#     bind off, however many (17 here: one more than a lifetime count of
#     16 allowed), and a burst of them does.
# The client is tests/interop/hostile_client.pl (raw pack()ed PDUs).
. "$(dirname "$0")/lib.sh"

CLIENT="$ROOT/tests/interop/hostile_client.pl"
start_redis
start_sim sim
bridge_conf "$WORK/ctl.conf" "$(free_port)"
echo pw | "$BIN/smppctl" -c "$WORK/ctl.conf" account add acme --password-stdin \
    --tps 1000 >/dev/null

# bridge NAME EXTRA...: start bridge NAME (port in NAME_PORT, admin port
# in NAME_ADMIN) with the [server] lines EXTRA; the command before it
# (prlimit) in PRE.
bridge() {
    local name=$1 port admin
    shift
    port=$(free_port)
    admin=$(free_port)
    eval "${name}_PORT=$port ${name}_ADMIN=$admin"
    bridge_conf "$WORK/$name.conf" "$port" "$(printf '%s\n' "[admin]" \
        "listen = 127.0.0.1:$admin" "[server]" "$@")"
    ${PRE:-} "$BIN/smppbridge" -c "$WORK/$name.conf" 2>>"$WORK/$name.log" &
    PIDS+=($!)
    eval "${name}_PID=$!"
    wait_until 20 grep -qs "bound as BOUND_TRX" "$WORK/$name.log"
}

# script OUT PORT STEPS [TIMEOUT]: run the scripted client, JSON in OUT
script() {
    perl "$CLIENT" script --port "$2" --system-id acme --password pw \
        --steps "$3" --timeout "${4:-10}" >"$WORK/$1.jsonl" 2>"$WORK/$1.err"
}
count() { grep -c "$2" "$WORK/$1.jsonl"; }  # count OUT PATTERN
ended() { jq -r 'select(.end) | .end' "$WORK/$1.jsonl"; }

# cpu_ticks PID: user+system clock ticks so far ("dead" when PID is gone,
# which fails any comparison)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo dead; }
# cpu_under_10pct T0 T1: the ticks between them are under 10% of 3 s
cpu_under_10pct() {
    case "$1$2" in *dead*) echo "    the bridge is not running" >&2; return 1;; esac
    le "$(($2 - $1))" "$((3 * hz / 10))"
}

# ---- descriptors run out ---------------------------------------------------
PRE="prlimit --nofile=64:64" bridge a \
    "max_connections_per_address = 1000" \
    "accepts_per_second_per_address = 10000" \
    "accept_burst_per_address = 10000"
# a customer bound before the flood, submitting after it
rm -f "$WORK/go"
perl "$CLIENT" script --port "$a_PORT" --system-id acme --password pw \
    --timeout 30 --steps "readyfile:$WORK/bound,waitfile:$WORK/go,good,wait,good,wait,good,wait,good,wait,good,wait,unbind,wait" \
    >"$WORK/bound.jsonl" 2>"$WORK/bound.err" &
BOUND_PID=$!
PIDS+=("$BOUND_PID")
wait_file "$WORK/bound" 10
before_lines=$(wc -l <"$WORK/a.log")
perl "$CLIENT" idle --port "$a_PORT" --count 128 --out "$WORK/idle.out" \
    --hold-file "$WORK/idle.release" --max-seconds 30 2>"$WORK/idle.err" &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
wait_file "$WORK/idle.out" 20
t0=$(cpu_ticks "$a_PID")
sleep 3
t1=$(cpu_ticks "$a_PID")
hz=$(getconf CLK_TCK)
echo "    idle: $(cat "$WORK/idle.out"); bridge CPU ticks $t0 -> $t1 ($((3 * hz)) in 3 s)"
check "128 idle connections with 64 descriptors: bridge CPU under 10% over 3 s" \
    cpu_under_10pct "$t0" "$t1"
check "the bridge is running" kill -0 "$a_PID"
log_lines=$(tail -n +"$((before_lines + 1))" "$WORK/a.log" |
    grep -ciE "accept|too many open|connection closed at once|libevent")
check "fewer than 10 log lines about it" le "$log_lines" 9
check "the bridge kept some idle connections and closed the rest at once" \
    grep -qE "open=[1-9][0-9]* closed=[1-9]" "$WORK/idle.out"
: >"$WORK/go"
wait_gone "$BOUND_PID" 30
check "the bound customer kept submitting: 5 x ESME_ROK" \
    eq "$(count bound '"cmd":"0x80000004","seq":[2-6],"status":0')" 5
: >"$WORK/idle.release"
wait_gone "$IDLE_PID" 10
new_bind() {
    script newbind "$a_PORT" "unbind,wait" 5
    grep -q '"cmd":"0x80000009","seq":1,"status":0' "$WORK/newbind.jsonl"
}
check "a new bind succeeds once the idle connections are gone" wait_until 15 new_bind

# ---- 16 malformed PDUs among good submits (defaults: 16 within 60 s) -------
# 400 more submits in the same write: the bridge closes with them unread
# (a close() over unread input sends a reset, and a reset can cost the
# client the answers it had not read yet)
steps=""
for _ in $(seq 16); do steps+="good,bad,"; done
for _ in $(seq 400); do steps+="good,"; done
script mixed "$a_PORT" "${steps%,}" 10
# (answered: ESME_ROK, or ESME_RTHROTTLED for a burst the account's rate
# lease has not caught up with; either way an answer the client can act on)
check "16 bad PDUs: every good submit before the close got its submit_sm_resp" \
    eq "$(count mixed '"cmd":"0x80000004"')" 16
check "16 bad PDUs: each answered with generic_nack" \
    eq "$(count mixed '"cmd":"0x80000000"')" 16
check "16 bad PDUs: the bridge closed with EOF after its answers, no reset" \
    eq "$(ended mixed)" eof
check "bridge exits 0 on SIGTERM" stop "$a_PID"
if grep -q "ERROR: AddressSanitizer\|runtime error:" "$WORK/a.log"; then
    check "no sanitizer report" false
fi

# ---- descriptors run out for real (a reserve too small): accept pauses ------
PRE="prlimit --nofile=64:64" bridge e "fd_reserve = 8" \
    "max_connections_per_address = 1000" \
    "accepts_per_second_per_address = 10000" \
    "accept_burst_per_address = 10000"
before_lines=$(wc -l <"$WORK/e.log")
perl "$CLIENT" idle --port "$e_PORT" --count 128 --out "$WORK/idle2.out" \
    --hold-file "$WORK/idle2.release" --max-seconds 30 2>"$WORK/idle2.err" &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
wait_file "$WORK/idle2.out" 20
t0=$(cpu_ticks "$e_PID")
sleep 3
t1=$(cpu_ticks "$e_PID")
echo "    idle: $(cat "$WORK/idle2.out"); bridge CPU ticks $t0 -> $t1 ($((3 * hz)) in 3 s)"
check "EMFILE itself: bridge CPU under 10% over 3 s" cpu_under_10pct "$t0" "$t1"
check "the bridge is running" kill -0 "$e_PID"
log_lines=$(tail -n +"$((before_lines + 1))" "$WORK/e.log" |
    grep -ciE "accept|too many open|connection closed at once|libevent")
check "EMFILE itself: fewer than 10 log lines about it" le "$log_lines" 9
curl -s "http://127.0.0.1:$e_ADMIN/metrics" >"$WORK/e.metrics"
check "EMFILE itself: the listener paused (smppbridge_accept_pauses_total > 0)" \
    grep -qE '^smppbridge_accept_pauses_total [1-9]' "$WORK/e.metrics"
: >"$WORK/idle2.release"
wait_gone "$IDLE_PID" 10
new_bind_e() {
    script newbind "$e_PORT" "unbind,wait" 5
    grep -q '"cmd":"0x80000009","seq":1,"status":0' "$WORK/newbind.jsonl"
}
check "EMFILE itself: a new bind succeeds once the idle connections are gone" \
    wait_until 15 new_bind_e
check "bridge exits 0 on SIGTERM" stop "$e_PID"

# ---- per address, and bad PDUs slower than the window ----------------------
tls_cert
TLS_PORT=$(free_port)
bridge b "max_connections_per_address = 5" "max_bad_pdus = 3" \
    "bad_pdu_window = 1s" "[tls]" "listen = 127.0.0.1:$TLS_PORT" \
    "cert = $WORK/cert.pem" "key = $WORK/key.pem" "handshake_timeout = 1s"
perl "$CLIENT" idle --port "$b_PORT" --count 6 --out "$WORK/six.out" \
    --hold-file "$WORK/six.release" --max-seconds 20 2>"$WORK/six.err" &
SIX_PID=$!
PIDS+=("$SIX_PID")
wait_file "$WORK/six.out" 15
check "6 connections from 127.0.0.1 with a cap of 5: 5 open, 1 closed at once" \
    grep -qx "open=5 closed=1 refused=0" "$WORK/six.out"
perl "$CLIENT" idle --port "$b_PORT" --src 127.0.0.2 --count 1 \
    --out "$WORK/other.out" --hold-file "$WORK/six.release" --max-seconds 20 \
    2>"$WORK/other.err" &
PIDS+=($!)
wait_file "$WORK/other.out" 15
check "meanwhile a connection from 127.0.0.2 is kept" \
    grep -qx "open=1 closed=0 refused=0" "$WORK/other.out"
: >"$WORK/six.release"
wait_gone "$SIX_PID" 10
curl -s "http://127.0.0.1:$b_ADMIN/metrics" >"$WORK/b.metrics"
check "the refusal is counted: smppbridge_connections_refused_total{reason=\"per_address\"} 1" \
    grep -q 'smppbridge_connections_refused_total{reason="per_address"} 1' "$WORK/b.metrics"
# 17 bad PDUs 0.6 s apart: never 3 within 1 s, and more than the 16 a
# lifetime count allowed
steps="bad,wait"
for _ in $(seq 16); do steps+=",sleep:600,bad,wait"; done
steps+=",good,wait,unbind,wait"
script trickle "$b_PORT" "$steps" 15
check "17 bad PDUs 0.6 s apart (limit 3 per 1 s): never cut off, submit answered" \
    eq "$(count trickle '"cmd":"0x80000004".*"status":0')" 1
check "... and the bind ended by its own unbind" \
    eq "$(count trickle '"cmd":"0x80000006"')" 1
script burst "$b_PORT" "bad,bad,bad,good" 10
check "3 bad PDUs at once (limit 3 per 1 s): closed with EOF after 3 nacks" \
    eq "$(count burst '"cmd":"0x80000000"') $(ended burst)" "3 eof"
# a TLS connection that never starts its handshake: closed after
# handshake_timeout (1 s), not after bind_timeout (10 s)
silent_tls_ms() {
    perl -MIO::Socket::INET -MTime::HiRes=time -e '
        my $s = IO::Socket::INET->new("127.0.0.1:$ARGV[0]") or die "connect: $!";
        my $t0 = time; $SIG{ALRM} = sub { print "none\n"; exit };
        alarm 8; sysread($s, my $b, 1); printf "%d\n", (time - $t0) * 1000' "$1"
}
ms=$(silent_tls_ms "$TLS_PORT")
echo "    silent TLS connection closed after $ms ms"
check "a TLS handshake that never comes: closed within 2 s (handshake_timeout 1s)" \
    le "${ms/none/99999}" 2000
check "bridge exits 0 on SIGTERM" stop "$b_PID"
finish
