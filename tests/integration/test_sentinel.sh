#!/usr/bin/env bash
# Redis with Sentinel, and the Redis connect timeout.
#
# A master, a replica (--replicaof) and one sentinel (quorum 1) on
# loopback; the bridge is given the sentinels (the first one listed is
# down), not the master. Under load the master is killed (SIGKILL): the
# sentinel promotes the replica and the bridge finds and uses it by
# itself; every message answered ESME_ROK after the failover reaches the
# simulator (its receipt comes back). Messages acknowledged just before
# the kill may be lost, replication being asynchronous: they are counted
# (acknowledged minus message records on the new master) and printed.
# Then a planned failover (SENTINEL FAILOVER, the master demoted, not
# killed): the bridge follows it.
# Also: a sentinel that names a replica (a stale answer) is not trusted
# (ROLE), and a Redis address that never answers a SYN (a listener whose
# accept queue is full) fails within [redis] timeout and is tried again.
. "$(dirname "$0")/lib.sh"

# ---- Redis: master, replica, sentinel ---------------------------------

start_redis
MASTER_PORT=$REDIS_PORT
MASTER_PID=$REDIS_PID
REPLICA_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$REPLICA_PORT" --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/replica.log" --daemonize no \
    --replicaof 127.0.0.1 "$MASTER_PORT" &
PIDS+=($!)
SENTINEL_PORT=$(free_port)
DEAD_PORT=$(free_port) # nothing listens there
# sentinel rewrites its file: it lives in $WORK
cat >"$WORK/sentinel.conf" <<CONF
bind 127.0.0.1
port $SENTINEL_PORT
dir $WORK
logfile $WORK/sentinel.log
sentinel monitor mymaster 127.0.0.1 $MASTER_PORT 1
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 5000
CONF
redis-server "$WORK/sentinel.conf" --sentinel &
PIDS+=($!)

rcli() { redis-cli -p "$1" "${@:2}" 2>/dev/null; }
# wait_until SECONDS COMMAND...: 0 as soon as COMMAND succeeds.
wait_until() {
    local i n=$(($1 * 10))
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
replica_linked() { rcli "$REPLICA_PORT" INFO replication | grep -q '^master_link_status:up'; }
sentinel_sees_replica() { rcli "$SENTINEL_PORT" SENTINEL replicas mymaster | grep -qx "$REPLICA_PORT"; }
check "the replica replicates the master" wait_until 20 replica_linked
check "the sentinel monitors the master and knows the replica" wait_until 20 sentinel_sees_replica

# ---- helpers: a SYN black hole and a sentinel that names the replica --

# A listener that never accepts, its accept queue filled: the kernel drops
# further SYNs, so a connect there neither succeeds nor fails.
cat >"$WORK/blackhole.pl" <<'PERL'
use IO::Socket::INET;
my $l = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0") or die "$!";
my @fill;
for (1 .. 8) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $l->sockport,
                                  Timeout => 0.5) or last;
    push @fill, $s;
}
open my $f, ">", "$ARGV[0].tmp" or die; print $f $l->sockport, "\n"; close $f;
rename "$ARGV[0].tmp", $ARGV[0];
$SIG{TERM} = sub { exit 0 };
sleep 1 while 1;
PERL
# Answers every SENTINEL get-master-addr-by-name with 127.0.0.1:PORT.
cat >"$WORK/fake_sentinel.pl" <<'PERL'
use IO::Socket::INET;
my ($portfile, $port) = @ARGV;
my $l = IO::Socket::INET->new(Listen => 16, LocalAddr => "127.0.0.1:0", ReuseAddr => 1)
    or die "$!";
open my $f, ">", "$portfile.tmp" or die; print $f $l->sockport, "\n"; close $f;
rename "$portfile.tmp", $portfile;
$SIG{TERM} = sub { exit 0 };
while (my $c = $l->accept) {
    my $buf = "";
    while (sysread($c, $buf, 4096, length $buf)) {
        next unless $buf =~ /get-master-addr-by-name\r\n\$\d+\r\n[^\r]*\r\n$/i;
        syswrite($c, "*2\r\n\$9\r\n127.0.0.1\r\n\$" . length($port) . "\r\n$port\r\n");
        last;
    }
    close $c;
}
PERL
perl "$WORK/blackhole.pl" "$WORK/blackhole.port" &
PIDS+=($!)
perl "$WORK/fake_sentinel.pl" "$WORK/fake_sentinel.port" "$REPLICA_PORT" &
PIDS+=($!)
wait_file "$WORK/blackhole.port" 10
wait_file "$WORK/fake_sentinel.port" 10
BLACKHOLE_PORT=$(head -1 "$WORK/blackhole.port")
FAKE_SENTINEL_PORT=$(head -1 "$WORK/fake_sentinel.port")

# ---- the bridges -------------------------------------------------------

start_sim sim --system-id smppbridge --password simpass
conf() { # FILE PORT REDIS-LINES...
    local file=$1 port=$2
    shift 2
    {
        printf '[server]\nlisten = 127.0.0.1:%s\n[admin]\nlisten = ""\n[redis]\ntimeout = 500ms\n' "$port"
        printf '%s\n' "$@"
        printf '[upstream sim]\nhost = 127.0.0.1\nport = %s\n' "$(port_of sim)"
        printf 'system_id = smppbridge\npassword = simpass\n'
    } >"$file"
}
start_bridge() { # NAME CONF
    "$BIN/smppbridge" -c "$2" 2>>"$WORK/$1.log" &
    PIDS+=($!)
    eval "${1}_PID=$!"
}
# count_in LOG TEXT: lines of the bridge's log that contain TEXT.
count_in() { grep -cF -- "$2" "$WORK/$1.log"; }
log_has() { grep -qF -- "$2" "$WORK/$1.log"; }

P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
conf "$WORK/ctl.conf" "$P1" "port = $MASTER_PORT"
echo pw | "$BIN/smppctl" -c "$WORK/ctl.conf" account add fo --password-stdin --tps 0 --max-binds 0 >/dev/null
conf "$WORK/b1.conf" "$P1" "sentinels = 127.0.0.1:$DEAD_PORT, 127.0.0.1:$SENTINEL_PORT" \
    "master_name = mymaster" "port = $DEAD_PORT"
conf "$WORK/stale.conf" "$P2" "sentinels = 127.0.0.1:$FAKE_SENTINEL_PORT"
conf "$WORK/hole.conf" "$P3" "port = $BLACKHOLE_PORT"
conf "$WORK/slow.conf" "$P4" "sentinels = 127.0.0.1:$BLACKHOLE_PORT, 127.0.0.1:$SENTINEL_PORT"

start_bridge b1 "$WORK/b1.conf"
start_bridge stale "$WORK/stale.conf"
start_bridge hole "$WORK/hole.conf"
start_bridge slow "$WORK/slow.conf"

check "sentinels: the bridge says host and port are not used" \
    wait_until 10 log_has b1 "found through 2 sentinel(s); [redis] host and port are not used"
check "sentinels: the first one (down) is passed over" \
    wait_until 10 log_has b1 "sentinel 127.0.0.1:$DEAD_PORT: no address for mymaster"
check "sentinels: the bridge connects to the master the sentinel names" \
    wait_until 10 log_has b1 "connected to 127.0.0.1:$MASTER_PORT"
check "sentinels: a sentinel that does not answer is given up after [redis] timeout" \
    wait_until 10 log_has slow "sentinel 127.0.0.1:$BLACKHOLE_PORT: no address for mymaster: no answer within 500 ms"
check "sentinels: then the next one is asked and the master used" \
    wait_until 10 log_has slow "connected to 127.0.0.1:$MASTER_PORT"
more_than_one() { [ "$(count_in "$1" "$2")" -ge 2 ]; }
check "a stale answer (a replica) is refused after ROLE, and asked again" \
    wait_until 10 more_than_one stale "127.0.0.1:$REPLICA_PORT: not the master (ROLE: slave): retrying"
check "a stale answer: the bridge never uses the replica" \
    eq "$(count_in stale "connected to")" 0
check "connect timeout: a connect that hangs fails within 500 ms and is retried" \
    wait_until 10 more_than_one hole "127.0.0.1:$BLACKHOLE_PORT: not connected within 500 ms: retrying"
check "connect timeout: the bridge with no Redis exits 0 on SIGTERM" stop "$hole_PID"
check "a stale answer: that bridge exits 0 on SIGTERM" stop "$stale_PID"
check "sentinels: the second bridge exits 0 on SIGTERM" stop "$slow_PID"
wait_until 10 log_has b1 "bound as BOUND_TRX"

run() { # NAME ARGS...
    local n=$1
    shift
    timeout 120 "$BIN/smpp-load" --port "$P1" --system-id fo --password pw --json \
        --no-progress "$@" >"$WORK/$n.json" 2>"$WORK/$n.err"
}
ok_of() { json "$WORK/$1.json" .submits.ok; }

run before --count 200 --window 20 --dlr --dlr-timeout 20
check "before the failover: 200 submits answered ESME_ROK" eq "$(ok_of before)" 200
check "before the failover: 200 receipts back" \
    eq "$(json "$WORK/before.json" .receipts.matched)" 200

# ---- failover under load -----------------------------------------------

run during --rate 200 --duration 10 --window 50 --resp-timeout 5 &
LOAD=$!
sleep 2
kill -KILL "$MASTER_PID"
KILLED_AT=$(date +%s%N)
wait "$MASTER_PID" 2>/dev/null
failed_over() { log_has b1 "connected to 127.0.0.1:$REPLICA_PORT"; }
check "failover: the bridge connects to the promoted replica within 20 s" \
    wait_until 20 failed_over
FAILOVER_MS=$((($(date +%s%N) - KILLED_AT) / 1000000))
check "failover: the sentinel names the replica as master" \
    eq "$(rcli "$SENTINEL_PORT" SENTINEL get-master-addr-by-name mymaster | tail -1)" "$REPLICA_PORT"
check "failover: the old master's loss was noticed (connection lost)" \
    log_has b1 "to 127.0.0.1:$MASTER_PORT lost"
wait "$LOAD"
check "during the failover: submits were still answered (none without a response)" \
    eq "$(json "$WORK/during.json" .submits.no_response)" 0
check "during the failover: Redis unavailable meant a temporary error, never a hang" \
    ge "$(json "$WORK/during.json" .submits.responses)" "$(json "$WORK/during.json" .submits.sent)"

run after --count 500 --rate 250 --window 50 --dlr --dlr-timeout 30
check "after the failover: 500 submits answered ESME_ROK" eq "$(ok_of after)" 500
check "after the failover: every one reached the simulator (500 receipts back)" \
    eq "$(json "$WORK/after.json" .receipts.matched)" 500
check "after the failover: no receipt missing" \
    eq "$(json "$WORK/after.json" .receipts.missing)" 0

# What replication lost: each ESME_ROK wrote a message record in the same
# script call as the queue entry; the records that are not on the new
# master were acknowledged on the old one and never replicated.
queue_empty() {
    [ "$(rcli "$REPLICA_PORT" XLEN sb:queue)" = 0 ] &&
        [ "$(rcli "$REPLICA_PORT" XPENDING sb:queue bridge | head -1)" = 0 ]
}
check "the queue on the new master drains" wait_until 30 queue_empty
RECORDS=$(rcli "$REPLICA_PORT" --scan --pattern 'sb:msg:*' | wc -l)
ACKED=$(($(ok_of before) + $(ok_of during) + $(ok_of after)))
LOST=$((ACKED - RECORDS))
check "every message acknowledged after the failover is recorded on the new master" \
    ge "$RECORDS" $(($(ok_of before) + $(ok_of after)))

# ---- a planned failover: the old master lives on as a replica ----------

# Sentinel demotes the master (REPLICAOF) and closes its clients' connections;
# the bridge asks again and follows the new master.
REPLICA2_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$REPLICA2_PORT" --save "" --appendonly no \
    --dir "$WORK" --logfile "$WORK/replica2.log" --daemonize no \
    --replicaof 127.0.0.1 "$REPLICA_PORT" &
PIDS+=($!)
replica2_known() {
    rcli "$REPLICA2_PORT" INFO replication | grep -q '^master_link_status:up' &&
        rcli "$SENTINEL_PORT" SENTINEL replicas mymaster | grep -qx "$REPLICA2_PORT"
}
check "planned failover: a new replica syncs and the sentinel knows it" \
    wait_until 30 replica2_known
# refused (NOGOODSLAVE) until the sentinel has had the new replica's own INFO
failover_accepted() { [ "$(rcli "$SENTINEL_PORT" SENTINEL FAILOVER mymaster)" = OK ]; }
check "planned failover: the sentinel starts it (SENTINEL FAILOVER)" \
    wait_until 30 failover_accepted
switched() { log_has b1 "connected to 127.0.0.1:$REPLICA2_PORT"; }
check "planned failover: the bridge follows the master to its new address" \
    wait_until 20 switched
check "planned failover: the demoted master is a replica now" \
    eq "$(rcli "$REPLICA_PORT" ROLE | head -1)" slave
run planned --count 100 --window 20 --dlr --dlr-timeout 20
check "planned failover: then 100 submits ESME_ROK and 100 receipts back" \
    eq "$(ok_of planned)/$(json "$WORK/planned.json" .receipts.matched)" 100/100
check "the bridge exits 0 on SIGTERM" stop "$b1_PID"
stop "$SIM_PID"
SENT_UP=$(json "$WORK/sim.json" .submit_sm)
check "the simulator got every message recorded on the new master" \
    ge "$SENT_UP" $((RECORDS + $(ok_of planned)))
echo "# failover: bridge on the new master $FAILOVER_MS ms after the kill;" \
    "during: $(ok_of during) ESME_ROK, $(json "$WORK/during.json" .submits.error) errors" \
    "($(json "$WORK/during.json" '[.statuses[] | "\(.status)=\(.count)"] | join(" ")'));" \
    "acknowledged $ACKED, recorded on the new master $RECORDS, lost $LOST" \
    "(acknowledged just before the kill, not replicated); simulator got $SENT_UP submits"
finish
