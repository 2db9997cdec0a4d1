#!/usr/bin/env bash
# submit_multi, query_sm, cancel_sm and replace_sm through the bridge, for
# every state a message can be in: QUEUED (upstream away: done in the
# queue), ENROUTE (sent, receipt pending: forwarded upstream with the
# upstream id), final (DELIVERED, DELETED, REJECTED), unknown; the CDR
# stream. The client is Net::SMPP (tests/interop/ops_client.pl).
. "$(dirname "$0")/lib.sh"

start_redis
SIM_PORT=$(free_port)
BRIDGE_PORT=$(free_port)
cat >"$WORK/bridge.conf" <<CONF
[server]
listen = 127.0.0.1:$BRIDGE_PORT
[redis]
port = $REDIS_PORT
[upstream sim]
host = 127.0.0.1
port = $SIM_PORT
system_id = smppbridge
password = simpass
reconnect_min = 100ms
reconnect_max = 300ms
$(admin_section)
CONF
R() { redis-cli -p "$REDIS_PORT" "$@"; }
echo pw | "$BIN/smppctl" -c "$WORK/bridge.conf" account add ops --password-stdin --max-binds 0 \
    --tps 1000 >/dev/null
echo pw | "$BIN/smppctl" -c "$WORK/bridge.conf" account add slow --password-stdin --max-binds 0 \
    --tps 2 >/dev/null
"$BIN/smppbridge" -c "$WORK/bridge.conf" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
PIDS+=("$BRIDGE_PID")
for _ in $(seq 200); do
    perl -MIO::Socket::INET -e "exit !IO::Socket::INET->new('127.0.0.1:$BRIDGE_PORT')" && break
    sleep 0.05
done

ops() { # OUT OP...: run ops_client against the bridge, JSON lines in OUT
    local out=$1
    shift
    perl "$ROOT/tests/interop/ops_client.pl" --port "$BRIDGE_PORT" --system-id ops \
        --password pw --timeout 10 "$@" >"$WORK/$out.jsonl" 2>"$WORK/$out.err"
}
# ops_bg OUT OP...: ops in the background (its PID in OPS_PID); returns
# once it is bound. An OP wait_file:$WORK/OUT.go:S holds it until ops_go:
# what must beat a timer in the simulator then does not also race the
# client's start-up and its bind (a scrypt hash on the bridge).
ops_bg() {
    local out=$1 i
    shift
    rm -f "$WORK/$out.ready" "$WORK/$out.go"
    perl "$ROOT/tests/interop/ops_client.pl" --port "$BRIDGE_PORT" --system-id ops \
        --password pw --timeout 10 --ready-file "$WORK/$out.ready" "$@" \
        >"$WORK/$out.jsonl" 2>"$WORK/$out.err" &
    OPS_PID=$!
    PIDS+=("$OPS_PID")
    for ((i = 0; i < 400; i++)); do
        [ -s "$WORK/$out.ready" ] && return 0
        kill -0 "$OPS_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "    $out: the client did not bind" >&2
    return 1
}
# ops_go OUT: let the ops_bg client OUT go on, and wait for it to end
ops_go() {
    : >"$WORK/$1.go"
    wait_gone "$OPS_PID" 60 || echo "    $1: the client did not end in 60 s" >&2
}
# line OUT N FILTER: field of the N-th response (0-based) of a run
line() { jq -rs ".[$2]$3" "$WORK/$1.jsonl"; }
state_of() { R HGET "sb:msg:{ops}:$1" state; }

# ---- upstream away: everything stays QUEUED --------------------------------
ops q1 submit:3460001:34600000001:first submit:3460001:34600000002:second \
    submit:3460001:34600000003:third submit:3460001:34600000004:fourth \
    submit:3460001:34600000005:fifth \
    'query:$1:3460001' 'cancel:$2:3460001' 'query:$2:3460001' 'cancel:$2:3460001' \
    'replace:$2:3460001:again' 'replace:$3:3460001:replaced text:1' \
    'query:$1:999' query:BOGUS1:3460001 cancel:BOGUS1:3460001 \
    replace:BOGUS1:3460001:x cancel::3460001:34600000001 \
    submit_multi:3460001:34600000011,34600000012,34600000013:multi
ID1=$(line q1 0 .message_id) ID2=$(line q1 1 .message_id) ID3=$(line q1 2 .message_id)
ID4=$(line q1 3 .message_id) ID5=$(line q1 4 .message_id)
check "five submits accepted while upstream is away" \
    eq "$(jq -s '[.[0:5][] | select(.status == 0)] | length' "$WORK/q1.jsonl")" 5
check "queued: state record QUEUED" eq "$(state_of "$ID1")" QUEUED
check "query_sm of a queued message: ROK, ENROUTE (1), no final_date" \
    eq "$(line q1 5 '| "\(.status) \(.message_state) \(.message_id) [\(.final_date)]"')" \
    "0 1 $ID1 []"
check "cancel_sm of a queued message: ROK" eq "$(line q1 6 .status)" 0
check "... it left the queue" \
    eq "$(R XRANGE sb:queue - + | grep -c "^$ID2\$")" 0
check "query_sm after the cancel: DELETED (4) with a final_date" \
    bash -c "[ \"\$(jq -rs '.[7] | \"\(.status) \(.message_state)\"' '$WORK/q1.jsonl')\" = '0 4' ] &&
             jq -rs '.[7].final_date' '$WORK/q1.jsonl' | grep -Eq '^[0-9]{12}000\\+\$'"
check "cancel_sm again: ESME_RCANCELFAIL" eq "$(line q1 8 .status_hex)" 0x00000011
check "replace_sm of a cancelled message: ESME_RREPLACEFAIL" \
    eq "$(line q1 9 .status_hex)" 0x00000013
check "replace_sm of a queued message: ROK" eq "$(line q1 10 .status)" 0
check "... the queue holds the new text, under the same id" \
    bash -c "redis-cli -p $REDIS_PORT XRANGE sb:queue - + | grep -a -c 'replaced text' | grep -qx 1"
check "... and the old text is gone" \
    eq "$(R XRANGE sb:queue - + | grep -a -c 'third')" 0
check "query_sm with another source address: ESME_RINVSRCADR" \
    eq "$(line q1 11 .status_hex)" 0x0000000a
check "query_sm of an unknown id: ESME_RINVMSGID" eq "$(line q1 12 .status_hex)" 0x0000000c
check "cancel_sm of an unknown id: ESME_RINVMSGID" eq "$(line q1 13 .status_hex)" 0x0000000c
check "replace_sm of an unknown id: ESME_RINVMSGID" eq "$(line q1 14 .status_hex)" 0x0000000c
check "cancel_sm by source and destination only: ESME_RCANCELFAIL" \
    eq "$(line q1 15 .status_hex)" 0x00000011
check "submit_multi to 3 addresses: ROK, no unsuccessful destination" \
    eq "$(line q1 16 '| "\(.status) \(.unsuccess | length)"')" "0 0"
MULTI_ID=$(line q1 16 .message_id)
check "submit_multi: one message per destination, each with its own id" \
    eq "$(R KEYS 'sb:msg:{ops}:*' | wc -l)" 8
check "submit_multi: the response names the first destination's message" \
    eq "$(R HGET "sb:msg:{ops}:$MULTI_ID" dst)" 34600000011

# a rate of 2/s: the destinations past it are refused, each named
perl "$ROOT/tests/interop/ops_client.pl" --port "$BRIDGE_PORT" --system-id slow --password pw \
    submit_multi:3460001:34611111101,34611111102,34611111103,34611111104,34611111105,34611111106:m \
    >"$WORK/slow.jsonl" 2>"$WORK/slow.err"
check "submit_multi over the rate: ROK, the rest listed with ESME_RTHROTTLED" \
    bash -c "jq -e '.status == 0 and (.unsuccess | length) >= 3 and
                    ([.unsuccess[].error] | unique) == [88]' '$WORK/slow.jsonl' >/dev/null"
check "... each destination either accepted (its own message) or listed" \
    eq "$(( $(jq '.unsuccess | length' "$WORK/slow.jsonl") + $(redis-cli -p "$REDIS_PORT" KEYS 'sb:msg:{slow}:*' | wc -l) ))" 6
check "... the listed ones are the last destinations, in order" \
    bash -c "jq -r '.unsuccess[-1].addr' '$WORK/slow.jsonl' | grep -qx 34611111106"
ops dl submit_multi:3460001:@friends,34600000021:listed submit_multi:3460001:@friends:only
check "submit_multi with a distribution list: it is listed with ESME_RINVDLNAME, the SME accepted" \
    eq "$(line dl 0 '| "\(.status) \(.unsuccess[0].addr) \(.unsuccess[0].error)"')" "0 friends 52"
check "submit_multi of a distribution list alone: ESME_RINVDLNAME" \
    eq "$(line dl 1 .status_hex)" 0x00000034

# ---- the simulator comes: queued messages leave, receipts wait 3 s ----------
# q2's cancel, replace and first query must land while the receipts are
# pending: the client is bound before the simulator comes and goes on the
# moment the messages are ENROUTE, so its round trips are all the 3 s cover.
# It waits for all eight receipts due to the account, the listed multi's
# SME's too: stopping at seven, that one could take another's place, or
# be left to reach q5's client.
ops_bg q2 "wait_file:$WORK/q2.go:30" "cancel:$ID4:3460001" "query:$ID4:3460001" \
    "replace:$ID5:3460001:new words:1" "query:$ID1:3460001" receipts:8:15 \
    "query:$ID1:3460001" "cancel:$ID1:3460001" "replace:$ID1:3460001:late"
"$BIN/smsc-sim" --quiet --listen "127.0.0.1:$SIM_PORT" --port-file "$WORK/sim.port" \
    --system-id smppbridge --password simpass --dlr-delay-ms 3000 \
    --stats-json "$WORK/sim.json" 2>"$WORK/sim.log" &
SIM_PID=$!
PIDS+=("$SIM_PID")
for _ in $(seq 200); do
    [ "$(state_of "$ID1") $(state_of "$ID4") $(state_of "$ID5")" = "ENROUTE ENROUTE ENROUTE" ] &&
        break
    sleep 0.05
done
ops_go q2
check "sent upstream: ENROUTE with the connector and the upstream id" \
    bash -c "[ \"\$(redis-cli -p $REDIS_PORT HGET 'sb:msg:{ops}:$ID5' connector)\" = sim ] &&
             [ -n \"\$(redis-cli -p $REDIS_PORT HGET 'sb:msg:{ops}:$ID5' upstream_id)\" ]"
check "query_sm of a sent message: ENROUTE (1)" eq "$(line q2 3 .message_state)" 1
check "cancel_sm of a sent message: forwarded upstream, ROK" eq "$(line q2 0 .status)" 0
check "... and recorded: DELETED" eq "$(line q2 1 .message_state)" 4
check "replace_sm of a sent message: forwarded upstream, ROK" eq "$(line q2 2 .status)" 0
check "receipts reach the customer: 1, 3, 5, the multi's 3, the list's SME, DELETED for 4" \
    bash -c "jq -s '[.[] | select(.op == \"receipts\")][0].count' '$WORK/q2.jsonl' | grep -qx 8"
check "the replaced-in-queue message went upstream with its new text" \
    bash -c "jq -r 'select(.op == \"receipt\" and .id == \"$ID3\") | .text' '$WORK/q2.jsonl' | grep -q 'text:replaced'"
check "every destination of the multi has its own receipt and id" \
    eq "$(jq -r 'select(.op == "receipt") | .id' "$WORK/q2.jsonl" | sort -u | wc -l)" 8
check "the cancelled message's receipt says DELETED" \
    eq "$(jq -r "select(.op == \"receipt\" and .id == \"$ID4\") | .stat" "$WORK/q2.jsonl")" DELETED
check "query_sm of a delivered message: DELIVERED (2), final_date, error 0" \
    bash -c "[ \"\$(jq -rs '[.[] | select(.op == \"query\")][2] | \"\(.status) \(.message_state) \(.error_code)\"' '$WORK/q2.jsonl')\" = '0 2 0' ] &&
             jq -rs '[.[] | select(.op == \"query\")][2].final_date' '$WORK/q2.jsonl' | grep -Eq '^[0-9]{12}000\\+\$'"
check "cancel_sm of a delivered message: ESME_RCANCELFAIL" \
    eq "$(jq -rs '[.[] | select(.op == "cancel")][1].status_hex' "$WORK/q2.jsonl")" 0x00000011
check "replace_sm of a delivered message: ESME_RREPLACEFAIL" \
    eq "$(jq -rs '[.[] | select(.op == "replace")][1].status_hex' "$WORK/q2.jsonl")" 0x00000013
# no receipt asked for: upstream is asked anyway, the state and the CDR
# follow it, and the customer gets nothing
ops q5 submit:3460001:34600000031:quiet:0 receipts:1:5
ID31=$(line q5 0 .message_id)
for _ in $(seq 200); do [ "$(state_of "$ID31")" = DELIVERED ] && break; sleep 0.05; done
check "registered_delivery 0: the customer gets no receipt" \
    eq "$(jq -s '[.[] | select(.op == "receipts")][0].count' "$WORK/q5.jsonl")" 0
check "... but its state follows upstream's receipt: DELIVERED" \
    eq "$(state_of "$ID31")" DELIVERED
stop "$SIM_PID"
check "the simulator saw one cancel_sm and one replace_sm, both done" \
    eq "$(jq -r '"\(.cancel_ok) \(.replace_ok)"' "$WORK/sim.json")" "1 1"

# ---- CDRs ------------------------------------------------------------------
check "a CDR for the delivered message: account, ids, connector, times" \
    bash -c "c=\$(redis-cli -p $REDIS_PORT XRANGE sb:cdr - + | tr '\n' ' ');
             for w in 'state DELIVERED' 'account ops' 'id $ID1' 'connector sim' 'dst 34600000001' submitted sent final upstream_id; do
                 echo \"\$c\" | grep -q \"\$w\" || { echo \"missing \$w\" >&2; exit 1; }; done"
check "one CDR per message of the account that ended: 8 delivered, 2 deleted" \
    eq "$(R XRANGE sb:cdr - + | grep -A1 -x account | grep -cx ops)" 10

# ---- refused upstream: REJECTED -------------------------------------------
"$BIN/smsc-sim" --quiet --listen "127.0.0.1:$SIM_PORT" --system-id smppbridge \
    --password simpass --reject-rate 1 2>"$WORK/sim2.log" &
SIM2_PID=$!
PIDS+=("$SIM2_PID")
ops q3 submit:3460001:34600000009:refused receipts:1:10
ID9=$(line q3 0 .message_id)
for _ in $(seq 100); do [ "$(state_of "$ID9")" = REJECTED ] && break; sleep 0.05; done
ops q4 "query:$ID9:3460001" "cancel:$ID9:3460001"
check "refused upstream: the customer gets a REJECTD receipt" \
    eq "$(jq -r 'select(.op == "receipt") | .stat' "$WORK/q3.jsonl")" REJECTD
check "query_sm of a message refused upstream: REJECTED (8), final_date" \
    bash -c "[ \"\$(jq -rs '.[0].message_state' '$WORK/q4.jsonl')\" = 8 ] &&
             jq -rs '.[0].final_date' '$WORK/q4.jsonl' | grep -Eq '^[0-9]{12}000\\+\$'"
check "cancel_sm of a refused message: ESME_RCANCELFAIL" \
    eq "$(line q4 1 .status_hex)" 0x00000011
check "its CDR names the upstream status" \
    bash -c "redis-cli -p $REDIS_PORT XRANGE sb:cdr - + | grep -q ESME_RINVDSTADR"

# ---- taken by an instance, on the wire, not yet answered ------------------
stop "$SIM2_PID"
"$BIN/smsc-sim" --quiet --listen "127.0.0.1:$SIM_PORT" --system-id smppbridge \
    --password simpass --resp-delay-ms 4000 2>"$WORK/sim3.log" &
PIDS+=("$!")
# The cancel, replace and query must land within the simulator's 4 s: one
# client, already bound, submits, then goes on the moment the message is
# on the wire.
ops_bg q7 submit:3460001:34600000041:slow "wait_file:$WORK/q7.go:30" \
    'cancel:$1:3460001' 'replace:$1:3460001:other' 'query:$1:3460001'
for _ in $(seq 200); do
    [ "$(R XPENDING sb:queue bridge | head -1)" = 1 ] && break
    sleep 0.05
done
ops_go q7
ID41=$(line q7 0 .message_id)
check "in flight (read by an instance, upstream not answered yet): still QUEUED" \
    eq "$(state_of "$ID41")" QUEUED
check "... cancel_sm: ESME_RCANCELFAIL, never a false success" \
    eq "$(line q7 1 .status_hex)" 0x00000011
check "... replace_sm: ESME_RREPLACEFAIL" eq "$(line q7 2 .status_hex)" 0x00000013
check "... query_sm: ENROUTE" eq "$(line q7 3 .message_state)" 1
for _ in $(seq 200); do [ "$(state_of "$ID41")" = DELIVERED ] && break; sleep 0.05; done
check "... once upstream answers it goes its way: DELIVERED, with its upstream id" \
    bash -c "[ \"\$(redis-cli -p $REDIS_PORT HGET 'sb:msg:{ops}:$ID41' state)\" = DELIVERED ] &&
             [ -n \"\$(redis-cli -p $REDIS_PORT HGET 'sb:msg:{ops}:$ID41' upstream_id)\" ]"
check "the bridge is still up and answers" kill -0 "$BRIDGE_PID"
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"
finish
