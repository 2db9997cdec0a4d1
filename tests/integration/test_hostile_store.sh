#!/usr/bin/env bash
# One customer must not be able to fill the Redis every customer shares.
# With the upstream away (nothing is ever sent, everything stays queued):
#   - an account flooding gets ESME_RMSGQFUL (0x14) at its queue caps, in
#     messages and in bytes, while a second account is still accepted;
#   - Redis's used_memory stays under a bound computed from those caps;
#   - a 254-destination submit_multi with a ~60 KB message_payload costs
#     about one payload in Redis, not 254.
# And a Redis with maxmemory-policy allkeys-lru: the bridge is not ready
# (/readyz 503) and its log and /readyz say why; ready once it is fixed.
# The client is Net::SMPP (a third-party stack), written out below.
. "$(dirname "$0")/lib.sh"

start_redis
R() { redis-cli -p "$REDIS_PORT" "$@"; }
BRIDGE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
DOWN_PORT=$(free_port) # nobody listens there: the upstream stays away
cat >"$WORK/bridge.conf" <<CONF
[server]
listen = 127.0.0.1:$BRIDGE_PORT
[redis]
port = $REDIS_PORT
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[upstream away]
host = 127.0.0.1
port = $DOWN_PORT
system_id = smppbridge
password = simpass
reconnect_min = 1s
reconnect_max = 2s
CONF
ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }
# flood: at most 40 messages; heavy: at most 200 KB; calm: the defaults
echo pw | ctl account add flood --password-stdin --tps 0 \
    --queue-max-messages 40 --queue-max-bytes 204800 >/dev/null
echo pw | ctl account add heavy --password-stdin --tps 0 \
    --queue-max-messages 1000 --queue-max-bytes 204800 >/dev/null
echo pw | ctl account add calm --password-stdin --tps 0 >/dev/null
echo pw | ctl account add multi --password-stdin --tps 0 >/dev/null
echo pw | ctl account add keep --password-stdin --tps 0 >/dev/null
echo pw | ctl account add lost --password-stdin --tps 0 >/dev/null

# ---- the client -------------------------------------------------------------
# client.pl ACCOUNT OP...: binds, runs each OP, prints one line per answer:
#   "submit STATUS" or "multi STATUS FAILED_DESTINATIONS"
#   sm:N:LEN          N submit_sm of LEN bytes of message_payload (0: a
#                     short_message of 10 characters)
#   multi:DESTS:LEN   one submit_multi to DESTS numbers, LEN bytes as above
cat >"$WORK/client.pl" <<'PERL'
use strict;
use warnings;
use Net::SMPP;
$SIG{__WARN__} = sub { };
my ($port, $acct, @ops) = @ARGV;
my ($smpp, $resp) = Net::SMPP->new_transceiver('127.0.0.1', port => $port,
    system_id => $acct, password => 'pw', smpp_version => 0x34, timeout => 20);
die "bind failed\n" unless $smpp && $resp && $resp->{status} == 0;
sub body {
    my ($len) = @_;
    return (short_message => 'hello flood') unless $len;
    return (short_message => '', message_payload => 'x' x $len);
}
for my $op (@ops) {
    my ($kind, $n, $len) = split /:/, $op;
    if ($kind eq 'sm') {
        for my $i (1 .. $n) {
            my $r = $smpp->submit_sm(source_addr => '3460001', source_addr_ton => 1,
                source_addr_npi => 1, dest_addr_ton => 1, dest_addr_npi => 1,
                destination_addr => sprintf('3460%07d', $i), body($len));
            printf "submit %d\n", $r ? $r->{status} : -1;
        }
    } elsif ($kind eq 'multi') {
        my @dst = map { sprintf('3461%07d', $_) } 1 .. $n;
        my $r = $smpp->submit_multi(source_addr => '3460001', source_addr_ton => 1,
            source_addr_npi => 1, destination_addr => [@dst],
            dest_flag => [(1) x $n], dest_addr_ton => [(1) x $n],
            dest_addr_npi => [(1) x $n], body($len));
        printf "multi %d %d\n", $r ? $r->{status} : -1,
            $r ? ($r->{no_unsuccess} // 0) : -1;
    }
}
$smpp->unbind();
PERL
client() { perl "$WORK/client.pl" "$BRIDGE_PORT" "$@"; }
count() { grep -c "^$2\$" "$WORK/$1.out"; } # count OUT LINE
mem() { R INFO memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
ready_code() { curl -s -o "$WORK/readyz.json" -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz"; }
listening() { perl -MIO::Socket::INET -e "exit !IO::Socket::INET->new('127.0.0.1:$1')"; }

"$BIN/smppbridge" -c "$WORK/bridge.conf" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
wait_until 20 listening "$BRIDGE_PORT"
wait_until 20 grep -qs "connected to 127.0.0.1:$REDIS_PORT" "$WORK/bridge.log"
MEM0=$(mem)

# ---- caps in messages: 60 short submits, 40 taken --------------------------
client flood sm:60:0 >"$WORK/flood.out"
check "flood: 40 submits accepted (its queue_max_messages)" eq "$(count flood 'submit 0')" 40
check "flood: the other 20 get ESME_RMSGQFUL (0x14)" eq "$(count flood 'submit 20')" 20
check "flood: P:qc counts what is queued" eq "$(R HGET 'sb:qc:{flood}' n)" 40
client calm sm:30:0 >"$WORK/calm.out"
check "calm: a second account is still accepted while flood is full" \
    eq "$(count calm 'submit 0')" 30
check "queue holds exactly what was accepted" eq "$(R XLEN sb:queue)" 70

# ---- caps in bytes: a cap of 200 KB, 40 payloads of 30 KB ------------------
client heavy sm:40:30000 >"$WORK/bytes.out"
BYTES_OK=$(count bytes 'submit 0')
QBYTES=$(R HGET 'sb:qc:{heavy}' b)
check "bytes: some 30 KB submits accepted" ge "$BYTES_OK" 1
check "bytes: the account stays under its 200 KB" le "$QBYTES" 204800
check "bytes: the rest get ESME_RMSGQFUL" eq "$(count bytes 'submit 20')" $((40 - BYTES_OK))
check "bytes: at most 6 of 30 KB fit in 200 KB" le "$BYTES_OK" 6
# everything they could have queued: heavy's cap in bytes (200 KB), the
# short ones of flood and calm (70, well under 100 KB), plus per-message
# overhead (records, stream) of at most 2 KB for each of the 70+40, plus
# 256 KB of Redis's own (client query buffers that held the 30 KB
# commands, script state). Without caps the 40 payloads alone are 1.2 MB.
MEM1=$(mem)
BOUND=$((204800 + 102400 + 110 * 2048 + 262144))
check "Redis grew by less than the caps allow ($((MEM1 - MEM0)) < $BOUND)" \
    le $((MEM1 - MEM0)) "$BOUND"
check "metric: refusals counted per account" \
    bash -c 'curl -s "http://127.0.0.1:$1/metrics" | grep -q "^smppbridge_queue_full_total{account=\"flood\"} [1-9]"' _ "$ADMIN_PORT"

# ---- submit_multi: 254 destinations, one payload --------------------------
PAYLOAD=60000
M0=$(mem)
client multi multi:254:0 >"$WORK/small.out"
M1=$(mem)
client multi multi:254:$PAYLOAD >"$WORK/big.out"
M2=$(mem)
SMALL=$((M1 - M0))
BIG=$((M2 - M1))
check "multi: both accepted for all 254 destinations" eq \
    "$(tr '\n' ' ' <"$WORK/small.out")$(tr '\n' ' ' <"$WORK/big.out")" "multi 0 0 multi 0 0 "
# One stored body, plus Redis's query buffer that held the 60 KB command
# (it grows by doubling, so up to two payloads more), is at most 4
# payloads: a body copied per destination would be 254.
check "multi: 254 x 60 KB cost about one payload ($BIG - $SMALL < 4 x $PAYLOAD)" \
    le $((BIG - SMALL)) $((4 * PAYLOAD))
nkeys() { R --scan --pattern "$1" | grep -c .; } # keys matching a pattern
check "multi: one shared body in Redis" eq "$(nkeys 'sb:body:{multi}:*')" 1
check "multi: 508 entries counted for the account" eq "$(R HGET 'sb:qc:{multi}' n)" 508

# replace_sm and cancel_sm of a destination whose text is shared: its
# entry leaves the queue (replaced by a whole one, then cancelled) and
# gives back what it cost; the other destination keeps the body
LONG=$(printf 'y%.0s' $(seq 250))
perl "$ROOT/tests/interop/ops_client.pl" --port "$BRIDGE_PORT" --system-id multi \
    --password pw --timeout 10 "submit_multi:3460001:34620000001,34620000002:$LONG" \
    'replace:$1:3460001:short now' 'cancel:$1:3460001' >"$WORK/ops.jsonl" 2>"$WORK/ops.err"
check "multi ops: submit_multi, replace_sm, cancel_sm all ESME_ROK" eq \
    "$(jq -r '.status' "$WORK/ops.jsonl" | tr '\n' ' ')" "0 0 0 "
check "multi ops: one more message and one more body counted" eq \
    "$(R HGET 'sb:qc:{multi}' n) $(nkeys 'sb:body:{multi}:*')" "509 2"

# ---- a shared body lasts as long as its entries ---------------------------
# The entries of a message waiting for its upstream never expire, so
# neither may the body they share; and if a body is lost all the same
# (deleted here by hand, as an expiry did before), its entries give back
# exactly what it cost and end REJECTED (body-lost) without being sent.
BODY=20000
client keep multi:5:$BODY >"$WORK/keep.out"
client lost multi:3:$BODY >"$WORK/lost.out"
check "body: both submit_multi accepted" eq \
    "$(cat "$WORK/keep.out" "$WORK/lost.out" | tr '\n' ' ')" "multi 0 0 multi 0 0 "
KEEP_BODY=$(R --scan --pattern 'sb:body:{keep}:*')
check "body: the shared body has no TTL (its entries never expire)" \
    eq "$(R TTL "$KEEP_BODY")" -1
check "body: keep counts 5 messages and at least one body" \
    bash -c '[ "$1" = 5 ] && [ "$2" -ge "$3" ]' _ \
    "$(R HGET 'sb:qc:{keep}' n)" "$(R HGET 'sb:qc:{keep}' b)" "$BODY"
R DEL "$(R --scan --pattern 'sb:body:{lost}:*')" >/dev/null

check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"

# ---- maxmemory-policy allkeys-lru: not ready, and says why ------------------
R CONFIG SET maxmemory-policy allkeys-lru >/dev/null
start_sim sim
ADMIN2=$(free_port)
BRIDGE2=$(free_port)
cat >"$WORK/lru.conf" <<CONF
[server]
listen = 127.0.0.1:$BRIDGE2
[redis]
port = $REDIS_PORT
[admin]
listen = 127.0.0.1:$ADMIN2
[upstream sim]
host = 127.0.0.1
port = $(port_of sim)
system_id = smppbridge
password = simpass
CONF
ADMIN_PORT=$ADMIN2
run_bridge lru "$WORK/lru.conf"
wait_until 10 grep -qs "maxmemory-policy is allkeys-lru" "$WORK/lru.log"
notready() { [ "$(ready_code)" != 200 ]; }
check "allkeys-lru: /readyz is not 200" notready
check "allkeys-lru: /readyz says why" \
    grep -q '"redis_reason":"maxmemory-policy allkeys-lru' "$WORK/readyz.json"
check "allkeys-lru: the log says why" \
    grep -q "maxmemory-policy is allkeys-lru" "$WORK/lru.log"
R CONFIG SET maxmemory-policy noeviction >/dev/null
ready200() { [ "$(ready_code)" = 200 ]; }
check "noeviction again: ready within 10 s" wait_until 10 ready200

# ---- the queue drains to the simulator: every cost is given back ----------
RECORDS=$((70 + BYTES_OK + 508 + 2 + 5)) # with the two of the ops, keep's 5
queue_empty() { [ "$(R XLEN sb:queue)" = 0 ]; }
check "queue drained to the simulator within 60 s" wait_until 60 queue_empty
check "every account's counters back at 0" eq \
    "$(for a in flood heavy calm multi keep lost; do R HMGET "sb:qc:{$a}" n b; done | sort -u | tr '\n' ' ')" "0 "
check "the shared body is gone with its last entry" eq "$(nkeys 'sb:body:*')" 0
states() { # every message's state (of accounts but lost), counted
    R --scan --pattern 'sb:msg:*' | grep -vF '{lost}' |
        while read -r k; do R HGET "$k" state; done |
        sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'
}
STATES=$(states)
check "no message refused or unusable: $RECORDS records, none REJECTED or UNKNOWN ($STATES)" \
    bash -c '! grep -qE "REJECTED|UNKNOWN" <<<"$1" && [ "$(grep -oE "[0-9]+" <<<"$1" | awk "{ n += \$1 } END { print n }")" = "$2" ]' \
    _ "$STATES" "$RECORDS"
check "the cancelled destination is DELETED, only it" grep -q "DELETED=1 " <<<"$STATES"
lost_states() {
    R --scan --pattern 'sb:msg:{lost}:*' | while read -r k; do R HGET "$k" state; done |
        sort | uniq -c | awk '{printf "%s=%s ", $2, $1}'
}
check "body lost: its 3 messages end REJECTED" eq "$(lost_states)" "REJECTED=3 "
check "body lost: the log says body-lost, 3 times" \
    eq "$(grep -c 'cannot be sent (body-lost)' "$WORK/lru.log")" 3
check "metric: smppbridge_upstream_unsendable_total{reason=\"body-lost\"} 3" \
    bash -c 'curl -s "http://127.0.0.1:$1/metrics" | grep -q "^smppbridge_upstream_unsendable_total{reason=\"body-lost\"} 3$"' _ "$ADMIN_PORT"
check "bridge exits 0 on SIGTERM (allkeys-lru run)" stop "$lru_PID"
# every message sent once but the cancelled one and lost's 3: no head
# alone went out (a copy sent again would show here too)
stop "$SIM_PID"
check "the simulator got each message once, none of lost's" \
    eq "$(json "$WORK/sim.json" .submit_sm)" $((RECORDS - 1))

finish
