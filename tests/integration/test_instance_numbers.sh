#!/usr/bin/env bash
# Two live instances never share an instance number (and so never issue
# the same message id), even when Redis lost the counter that spreads
# them (P:instances), as a Sentinel failover to a replica that had not
# yet received it does. Real redis-server, smsc-sim, two bridges and
# smpp-load clients on loopback.
. "$(dirname "$0")/lib.sh"

start_redis
start_sim sim --system-id smppbridge --password simpass
P1=$(free_port)
P2=$(free_port)
bridge_conf "$WORK/b1.conf" "$P1" "[admin]
listen = 127.0.0.1:$(free_port)
[log]
level = info"
bridge_conf "$WORK/b2.conf" "$P2" "[admin]
listen = 127.0.0.1:$(free_port)
[log]
level = info"
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
for a in one two; do
    echo "${a}pw" | "$BIN/smppctl" -c "$WORK/b1.conf" account add "$a" --password-stdin --tps 0 --max-binds 0 >/dev/null
done

# numbers ACCOUNT: the instance numbers in that account's message ids
# (ms << 22 | instance << 12 | seq, hex), sorted, one line.
numbers() {
    rcli --scan --pattern "sb:msg:{$1}:*" | sed 's/.*://' |
        while read -r id; do echo $(((0x$id >> 12) & 0x3FF)); done | sort -u | tr '\n' ' '
}
send() {
    timeout 60 "$BIN/smpp-load" --port "$1" --system-id "$2" --password "$3" \
        --count 5 --json --no-progress >"$WORK/$2.json" 2>"$WORK/$2.err"
}

run_bridge b1 "$WORK/b1.conf" || { echo "bridge 1 did not start" >&2; exit 1; }
check "instance 1 accepts messages" send "$P1" one onepw
N1=$(numbers one)
check "instance 1 has one number" bash -c "[ -n '$N1' ] && [ \$(echo $N1 | wc -w) = 1 ]"

# The counter is gone, as after a failover that lost it.
rcli del sb:instances >/dev/null
run_bridge b2 "$WORK/b2.conf" || { echo "bridge 2 did not start" >&2; exit 1; }
check "instance 2 accepts messages" send "$P2" two twopw
N2=$(numbers two)
check "instance 2 has one number" bash -c "[ -n '$N2' ] && [ \$(echo $N2 | wc -w) = 1 ]"
check "the two live instances have different numbers ($N1/ $N2)" \
    bash -c "[ -n '$N1' ] && [ '$N1' != '$N2' ]"
timeout 60 "$BIN/smpp-load" --port "$P1" --system-id one --password onepw \
    --count 5 --json --no-progress >"$WORK/one2.json" 2>"$WORK/one2.err"
check "instance 1's new ids keep its number" eq "$(numbers one)" "$N1"
check "both bridges still running" bash -c "kill -0 $b1_PID && kill -0 $b2_PID"
finish
