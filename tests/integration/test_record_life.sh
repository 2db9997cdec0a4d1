#!/usr/bin/env bash
# What a message costs in Redis over its life, and what stays queryable:
#   - while its receipt is awaited, its record and its id map live id_ttl;
#   - once its final receipt is stored, the record keeps only what query_sm
#     and an operator need (state, final, error, src, connector,
#     upstream_id, receipted), it and its id map live [redis] final_ttl,
#     and the CDR holds the whole record;
#   - query_sm answers DELIVERED until final_ttl has passed, ESME_RINVMSGID
#     after it; the CDRs are still there;
#   - the account's queue counters are back at 0 and the queue is empty.
# smpp-load submits with receipts; smsc-sim answers at once. final_ttl is
# 20 s: the checks made before it passes must fit in it on a busy machine.
. "$(dirname "$0")/lib.sh"

N=200
FINAL_TTL=20
start_redis
start_sim sim --system-id smppbridge --password simpass
BRIDGE_PORT=$(free_port)
bridge_conf "$WORK/bridge.conf" "$BRIDGE_PORT" "[redis]
final_ttl = ${FINAL_TTL}s"
ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }
R() { redis-cli -p "$REDIS_PORT" "$@"; }
echo pw | ctl account add life --password-stdin --tps 0 --max-binds 0 >/dev/null
check "bridge starts" run_bridge bridge "$WORK/bridge.conf"

timeout 60 "$BIN/smpp-load" --port "$BRIDGE_PORT" --system-id life --password pw \
    --binds 2 --window 20 --count "$N" --dlr --dlr-timeout 30 --json --no-progress \
    >"$WORK/load.json" 2>"$WORK/load.err"
check "every submit accepted and receipted" eq \
    "$(json "$WORK/load.json" '"\(.submits.ok) \(.receipts.missing)"')" "$N 0"

records() { R --scan --pattern 'sb:msg:{life}:*'; }
maps() { R --scan --pattern 'sb:up:{sim}:*'; }
delivered() { [ "$(for k in $(records); do R HGET "$k" state; done | grep -c DELIVERED)" = "$N" ]; }
check "every record DELIVERED" wait_until 20 delivered
# the fields every final record has, and none else
fields() { for k in $(records); do R HKEYS "$k" | sort | tr '\n' ' '; echo; done | sort -u; }
check "a final record keeps only what query_sm and an operator need" \
    eq "$(fields)" "connector error final receipted src state upstream_id "
ttls_ok() { # KEYS...: each has a TTL in 1..FINAL_TTL
    local k t
    for k in "$@"; do
        t=$(R TTL "$k")
        [ "$t" -ge 1 ] && [ "$t" -le "$FINAL_TTL" ] || { echo "    $k TTL $t" >&2; return 1; }
    done
}
check "every final record lives final_ttl" ttls_ok $(records | head -50)
check "every id map entry lives final_ttl" ttls_ok $(maps | head -50)
check "one id map entry per message" eq "$(maps | wc -l)" "$N"
check "the CDR has the whole record (dst, submitted, sent)" \
    bash -c "redis-cli -p $REDIS_PORT --raw XREVRANGE sb:cdr + - COUNT 1 | grep -qx dst &&
             redis-cli -p $REDIS_PORT --raw XREVRANGE sb:cdr + - COUNT 1 | grep -qx submitted &&
             redis-cli -p $REDIS_PORT --raw XREVRANGE sb:cdr + - COUNT 1 | grep -qx sent"
check "the account's queue counters are back at 0" eq "$(R HMGET 'sb:qc:{life}' n b | tr '\n' ' ')" "0 0 "
check "the queue is empty" eq "$(R XLEN sb:queue)" 0

ID=$(R --scan --pattern 'sb:msg:{life}:*' | head -1 | sed 's/.*://')
query() {
    perl "$ROOT/tests/interop/ops_client.pl" --port "$BRIDGE_PORT" --system-id life \
        --password pw --timeout 10 "query:$ID:" 2>>"$WORK/ops.err"
}
check "query_sm before final_ttl: DELIVERED (2)" eq "$(query | jq -r .message_state)" 2
gone() { [ "$(records | wc -l) $(maps | wc -l)" = "0 0" ]; }
check "after final_ttl the records and id maps are gone" wait_until $((FINAL_TTL + 20)) gone
check "query_sm after final_ttl: ESME_RINVMSGID" eq "$(query | jq -r .status_hex)" 0x0000000c
check "the CDRs stay" eq "$(R XLEN sb:cdr)" "$N"
check "bridge exits 0 on SIGTERM" stop "$bridge_PID"
finish
