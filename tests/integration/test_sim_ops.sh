#!/usr/bin/env bash
# query_sm, cancel_sm and replace_sm against smsc-sim, driven by a
# third-party client (Net::SMPP, tests/interop/ops_client.pl): a message
# whose receipt is still pending is ENROUTE, can be replaced (the receipt
# quotes the new text) and cancelled (DELETED, with a DELETED receipt and
# a final_date), and then can be neither again; unknown ids, other source
# addresses and messages left to complete get the statuses and states a
# real SMSC gives. Wire values are checked, not just "no error".
. "$(dirname "$0")/lib.sh"

# ops NAME SIM ARGS...: run ops_client.pl against SIM, output in
# $WORK/NAME.out (one JSON object per line).
ops() {
    local name=$1 sim=$2
    shift 2
    timeout 60 perl "$ROOT/tests/interop/ops_client.pl" --port "$(port_of "$sim")" \
        --system-id ops --password pw "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
}
# resp NAME SEQ FILTER: a value of the response with sequence number SEQ.
resp() { jq -r "select(.seq == $2) | $3" "$WORK/$1.out"; }
# receipts NAME ID FILTER: values of the receipts for message ID.
receipts() { jq -r --arg id "$2" "select(.op == \"receipt\" and .id == \$id) | $3" "$WORK/$1.out"; }
# recent DATE: 0 when the SMPP absolute time DATE ("YYMMDDhhmmss000+",
# UTC) is within the last minute.
recent() {
    [[ $1 =~ ^([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})000\+$ ]] || {
        echo "    '$1' is not YYMMDDhhmmss000+" >&2
        return 1
    }
    local r=("${BASH_REMATCH[@]}") t now
    t=$(date -u -d "20${r[1]}-${r[2]}-${r[3]} ${r[4]}:${r[5]}:${r[6]}" +%s) || return 1
    now=$(date -u +%s)
    [ $((now - t)) -ge -2 ] && [ $((now - t)) -le 60 ] && return 0
    echo "    '$1' is $((now - t)) s from now" >&2
    return 1
}

# ---- receipts held back for 60 s: every message stays pending ----------
start_sim slow --dlr-delay-ms 60000
check "pending: every operation ran" ops slow slow \
    submit:Alpha:34600000001:'first text' query:'$1':Alpha query:'$1':Other \
    replace:'$1':Alpha:'replaced text':1 cancel:'$1':Alpha:34600000001 receipts:1:10 \
    query:'$1':Alpha cancel:'$1':Alpha replace:'$1':Alpha:again \
    query:ffffffff:Alpha cancel:ffffffff:Alpha replace:ffffffff:Alpha:x \
    cancel::Alpha:34600000001 \
    submit:Alpha:34600000002:'wants a receipt':1 replace:'$2':Alpha:'now none':0 \
    cancel:'$2':Alpha \
    submit_multi:12345:34600000003,34600000004:multi query:'$3':12345 \
    cancel:'$3':12345 receipts:2:10 query:'$2':Alpha
id=$(resp slow 2 .message_id)
check "submit_sm: ESME_ROK with a hex message id" \
    eq "$(resp slow 2 '"\(.status_hex) \(.message_id | test("^[0-9a-f]+$"))"')" "0x00000000 true"
check "query_sm while the receipt is pending: ENROUTE (1), no final_date, error_code 0, id echoed" \
    eq "$(resp slow 3 '"\(.status) \(.message_state) [\(.final_date)] \(.error_code) \(.message_id)"')" "0 1 [] 0 $id"
check "query_sm with another source address: ESME_RQUERYFAIL" \
    eq "$(resp slow 4 .status_hex)" "0x00000067"
check "replace_sm while pending: ESME_ROK" eq "$(resp slow 5 .status_hex)" "0x00000000"
check "cancel_sm while pending: ESME_ROK" eq "$(resp slow 6 .status_hex)" "0x00000000"
check "cancel: one receipt, stat DELETED, message_state TLV 4, TLV id = text id" \
    eq "$(receipts slow "$id" '"\(.stat) \(.message_state) \(.receipted_message_id) \(.esm_class)"')" \
    "DELETED 4 $id 4"
check "cancel receipt quotes the replaced text" \
    eq "$(receipts slow "$id" '.text | test("text:replaced text$")')" "true"
check "query_sm after the cancel: DELETED (4), error_code 0" \
    eq "$(resp slow 7 '"\(.status) \(.message_state) \(.error_code)"')" "0 4 0"
check "query_sm after the cancel: final_date is now, as YYMMDDhhmmss000+" \
    recent "$(resp slow 7 .final_date)"
check "cancel_sm of a final message: ESME_RCANCELFAIL" eq "$(resp slow 8 .status_hex)" "0x00000011"
check "replace_sm of a final message: ESME_RREPLACEFAIL" eq "$(resp slow 9 .status_hex)" "0x00000013"
check "query_sm, cancel_sm, replace_sm of an unknown id: ESME_RINVMSGID" \
    eq "$(resp slow 10 .status_hex) $(resp slow 11 .status_hex) $(resp slow 12 .status_hex)" \
    "0x0000000c 0x0000000c 0x0000000c"
check "cancel_sm with an empty message_id: ESME_RCANCELFAIL" \
    eq "$(resp slow 13 .status_hex)" "0x00000011"
id2=$(resp slow 14 .message_id)
check "replace_sm to registered_delivery 0, then cancel_sm: both ESME_ROK" \
    eq "$(resp slow 15 .status_hex) $(resp slow 16 .status_hex)" "0x00000000 0x00000000"
check "a cancel after the replace took the receipt away sends none" \
    eq "$(receipts slow "$id2" .stat | wc -l)" "0"
check "query_sm of that message: DELETED" eq "$(resp slow 20 .message_state)" "4"
id3=$(resp slow 17 .message_id)
check "submit_multi: ESME_ROK, no unsuccessful destinations" \
    eq "$(resp slow 17 '"\(.status) \(.unsuccess | length)"')" "0 0"
check "submit_multi: pending, then cancelled" \
    eq "$(resp slow 18 .message_state) $(resp slow 19 .status_hex)" "1 0x00000000"
check "submit_multi cancel: one DELETED receipt, to the first destination" \
    eq "$(receipts slow "$id3" '"\(.stat) \(.source_addr) \(.destination_addr)"')" \
    "DELETED 34600000003 12345"
check "exactly two receipts were wanted and arrived" \
    eq "$(jq -r 'select(.op == "receipts") | .count' "$WORK/slow.out" | tail -1)" "2"
check "smsc-sim exits cleanly (status 0: no sanitizer report)" stop "$SIM_PID"
check "counters: query_sm cancel_sm replace_sm cancel_ok replace_ok" \
    eq "$(json "$WORK/slow.json" '"\(.query_sm) \(.cancel_sm) \(.replace_sm) \(.cancel_ok) \(.replace_ok) \(.other_requests)"')" \
    "6 6 4 3 2 0"

# ---- receipts after 2 s: messages complete -------------------------------
# The cancel must reach the simulator before the first message's receipt
# falls due; 2 s leave a slow machine room. The client waits for the
# receipts in the background while the sections below run (each on its
# own simulator), and is checked after them.
start_sim fast --dlr-delay-ms 2000
FAST_SIM_PID=$SIM_PID
# The second message's receipt falls due after the first's would have:
# when it has arrived, the cancelled message's DELIVRD would have too.
ops fast fast \
    submit:Alpha:34600000001:'cancel me' cancel:'$1':Alpha \
    submit:Alpha:34600000002:'deliver me' receipts:2:10 \
    query:'$2':Alpha query:'$1':Alpha &
FAST_OPS_PID=$!
PIDS+=("$FAST_OPS_PID")

start_sim undeliv --dlr-delay-ms 100 --dlr-mix UNDELIV:100
check "undeliverable: every operation ran" ops undeliv undeliv \
    submit:Alpha:34600000001:'nobody home' receipts:1:10 query:last:Alpha
check "query_sm of an undeliverable message: UNDELIVERABLE (5), error_code 1" \
    eq "$(resp undeliv 3 '"\(.status) \(.message_state) \(.error_code)"')" "0 5 1"
check "smsc-sim exits cleanly (status 0: no sanitizer report)" stop "$SIM_PID"

# ---- bounded memory: a record is forgotten once the table needs room -----
start_sim small --dlr-delay-ms 1000 --msg-track 2
check "bounded: every operation ran" ops small small \
    submit:Alpha:1:a submit:Alpha:2:b receipts:2:10 submit:Alpha:3:c \
    query:'$1':Alpha query:'$2':Alpha query:'$3':Alpha
check "--msg-track 2: the oldest final record is forgotten (ESME_RINVMSGID), the others answer" \
    eq "$(resp small 5 .status_hex) $(resp small 6 .message_state) $(resp small 7 .message_state)" \
    "0x0000000c 2 1"
check "smsc-sim exits cleanly (status 0: no sanitizer report)" stop "$SIM_PID"

start_sim keep --dlr-delay-ms 50 --msg-keep-s 1
check "kept for a time: every operation ran" ops keep keep \
    submit:Alpha:1:a receipts:1:10 query:last:Alpha sleep:1.5 query:last:Alpha
check "--msg-keep-s 1: final record answered, then forgotten after a second" \
    eq "$(resp keep 3 .message_state) $(resp keep 4 .status_hex)" "2 0x0000000c"
check "smsc-sim exits cleanly (status 0: no sanitizer report)" stop "$SIM_PID"

# ---- the completed messages, whose client started above -----------------
# (the ops helper bounds it: timeout 60)
check "complete: every operation ran" wait "$FAST_OPS_PID"
id=$(resp fast 2 .message_id)
id2=$(resp fast 4 .message_id)
check "cancelled message: its DELETED receipt only, never the DELIVRD one" \
    eq "$(receipts fast "$id" .stat | tr '\n' ' ')" "DELETED "
check "completed message: DELIVRD receipt" eq "$(receipts fast "$id2" .stat)" "DELIVRD"
check "query_sm of a completed message: DELIVERED (2), error_code 0" \
    eq "$(resp fast 5 '"\(.status) \(.message_state) \(.error_code)"')" "0 2 0"
check "query_sm of a completed message: final_date set" recent "$(resp fast 5 .final_date)"
check "query_sm of the cancelled message: still DELETED" eq "$(resp fast 6 .message_state)" "4"
check "smsc-sim exits cleanly (status 0: no sanitizer report)" stop "$FAST_SIM_PID"

finish
