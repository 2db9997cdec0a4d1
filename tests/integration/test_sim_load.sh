#!/usr/bin/env bash
# smpp-load --dlr against smsc-sim: nothing is lost across the simulator's
# behaviours: ids in hex and decimal (and receipts in the other radix),
# throttling, temporary errors, dropped sessions, intermediate receipts,
# TLS, receivers on separate binds, concatenated messages.
. "$(dirname "$0")/lib.sh"

# load NAME SIM_NAME ARGS...: run smpp-load against SIM_NAME's port, JSON
# report in $WORK/NAME.json; returns smpp-load's exit status.
load() {
    local name=$1 sim=$2
    shift 2
    timeout 120 "$BIN/smpp-load" --port "$(port_of "$sim")" --system-id load \
        --password pw --json --no-progress --dlr-timeout 20 "$@" \
        >"$WORK/$name.json" 2>"$WORK/$name.err"
}
# field NAME FILTER: a value from load NAME's report.
field() { json "$WORK/$1.json" "$2"; }

start_sim plain
check "plain: 2000 messages, every one answered and receipted once" \
    load plain plain --binds 2 --window 20 --count 2000 --dlr
check "plain: report counts" \
    eq "$(field plain '"\(.submits.ok) \(.receipts.matched) \(.receipts.missing) \(.receipts.duplicate)"')" "2000 2000 0 0"
check "plain: receipts matched by TLV id" ge "$(field plain .receipts.matched_tlv)" 2000
check "tx bind with a separate rx bind: receipts on the receiver" \
    load txrx plain --bind tx --rx-binds 1 --count 500 --dlr
check "3-part messages: 3 submits and 3 receipts each" \
    load parts plain --count 200 --parts 3 --dlr
check "3-part messages: counts" \
    eq "$(field parts '"\(.submits.ok) \(.receipts.matched)"')" "600 600"
check "ucs2 text" load ucs2 plain --count 200 --encoding ucs2 --dlr
stop "$SIM_PID"

start_sim dec --id-format dec
check "decimal ids: all receipted" load dec dec --count 1000 --dlr
stop "$SIM_PID"

start_sim radix --id-format hex --dlr-id-format dec
check "hex ids, receipts in decimal: matched across the radix" \
    load radix radix --count 1000 --dlr --dlr-id-form dec2hex
check "hex ids, receipts in decimal: counts" \
    eq "$(field radix '"\(.receipts.matched) \(.receipts.missing)"')" "1000 0"
stop "$SIM_PID"

start_sim throttle --throttle-tps 1000
check "throttled at 1000/s while sending 2000/s: retried, nothing lost" \
    load throttle throttle --rate 2000 --count 3000 --dlr --retry-throttled --retry-delay 50
check "throttled: ESME_RTHROTTLED seen and every message finally OK" \
    bash -c "[ \$(jq -r .submits.throttled '$WORK/throttle.json') -gt 0 ] && [ \$(jq -r .receipts.matched '$WORK/throttle.json') = 3000 ]"
stop "$SIM_PID"

start_sim errors --error-rate 0.1 --seed 7
check "10% temporary errors: every submit answered, every OK receipted" \
    load errors errors --count 2000 --dlr
check "errors: error responses counted, receipts only for OKs" \
    bash -c "ok=\$(jq -r .submits.ok '$WORK/errors.json'); err=\$(jq -r .submits.error '$WORK/errors.json'); m=\$(jq -r .receipts.matched '$WORK/errors.json'); [ \$((ok + err)) = 2000 ] && [ \$err -gt 100 ] && [ \$m = \$ok ]"
stop "$SIM_PID"

start_sim drops --drop-every 300
load drops drops --binds 2 --count 2000 --dlr --reconnect --dlr-timeout 10
check "sessions dropped every 300 submits: smpp-load saw the drops" \
    ge "$(field drops .sessions.sessions_closed)" 1
check "dropped sessions: every OK submit got its receipt after the rebind" \
    eq "$(field drops '"\(.receipts.missing) \(.receipts.matched == .submits.ok)"')" "0 true"
stop "$SIM_PID"

start_sim interim --intermediate --dlr-delay-ms 50
check "intermediate receipts asked for: ENROUTE then final, none missing" \
    load interim interim --count 500 --dlr --intermediate
check "intermediate receipts: 500 intermediate, 500 final matched" \
    eq "$(field interim '"\(.receipts.intermediate) \(.receipts.matched)"')" "500 500"
stop "$SIM_PID"

tls_cert
start_sim tls --tls-listen 127.0.0.1:0 --cert "$WORK/cert.pem" --key "$WORK/key.pem"
# the TLS port is the second line of the port file
tls_port=$(sed -n 2p "$WORK/tls.port")
check "TLS: 1000 messages with receipts over TLS 1.2+" \
    timeout 60 "$BIN/smpp-load" --port "$tls_port" --tls --tls-ca "$WORK/cert.pem" \
    --system-id load --password pw --count 1000 --dlr --json --no-progress \
    >"$WORK/tlsrun.json" 2>"$WORK/tlsrun.err"
check "TLS: with the wrong CA the bind fails and smpp-load says so" \
    bash -c "! timeout 30 '$BIN/smpp-load' --port $tls_port --tls --system-id load --count 1 --bind-timeout 5 >/dev/null 2>&1"
check "smsc-sim stops cleanly and wrote its counters" stop "$SIM_PID"
check "smsc-sim counted 1000 receipts acknowledged over TLS" \
    eq "$(json "$WORK/tls.json" .receipts_acked)" 1000
finish
