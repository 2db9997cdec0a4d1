#!/usr/bin/env bash
# Interop with a third-party SMPP stack, Net::SMPP (Debian
# libnet-smpp-perl), in both directions:
#   - its client binds to smsc-sim, submits GSM7, UCS-2 and a 3-part UDH
#     message, and gets one matching receipt per part;
#   - smpp-load runs against an SMSC built on it, with receipts.
. "$(dirname "$0")/lib.sh"

start_sim sim --system-id interop --password secret
check "Net::SMPP client binds, submits GSM7/UCS-2/3-part UDH, gets 5 receipts" \
    timeout 60 perl "$ROOT/tests/interop/netsmpp_client.pl" 127.0.0.1 "$(port_of sim)" interop secret
check "Net::SMPP client with a wrong password is refused" \
    bash -c "! timeout 20 perl '$ROOT/tests/interop/netsmpp_client.pl' 127.0.0.1 $(port_of sim) interop wrong >/dev/null 2>&1"
check "smsc-sim exits 0 on SIGTERM" stop "$SIM_PID"
check "smsc-sim counted 5 submits, 5 receipts acknowledged, 1 refused bind" \
    eq "$(json "$WORK/sim.json" '"\(.submit_sm) \(.receipts_acked) \(.bind_failures)"')" "5 5 1"

if [ -x "$BIN/smpp-load" ]; then
    perl "$ROOT/tests/interop/netsmpp_smsc.pl" "$WORK/perl.port" 120 2>"$WORK/perl.log" &
    PERL_PID=$!
    PIDS+=("$PERL_PID")
    wait_file "$WORK/perl.port" 10
    check "smpp-load --dlr against the Net::SMPP SMSC: every submit answered, every receipt matched" \
        timeout 120 "$BIN/smpp-load" --host 127.0.0.1 --port "$(head -1 "$WORK/perl.port")" \
        --system-id load --password pw --binds 2 --window 10 --count 500 --dlr \
        --dlr-timeout 30 --json >"$WORK/load.json" 2>"$WORK/load.err"
    check "smpp-load report: 500 submitted, 500 OK, 500 receipts matched, none missing" \
        eq "$(json "$WORK/load.json" '"\(.messages.sent) \(.submits.ok) \(.receipts.matched) \(.receipts.missing)"')" "500 500 500 0"
fi
finish
