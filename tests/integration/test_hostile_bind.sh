#!/usr/bin/env bash
# Bind protection that cannot be turned against the customer: failed
# binds are counted per source address and per (system_id, address), so
# wrong passwords from one address never lock a system_id out of its
# other allowed addresses; every refusal (unknown system_id, wrong
# password, disabled account, address outside the allowlist, blocked)
# gets ESME_RBINDFAIL after the same delay, with the real reason in the
# log and the metrics; the allowlist is checked before the password;
# `smppctl auth blocks` lists what is blocked and `smppctl auth unblock`
# lifts it. Clients are Net::SMPP binding from chosen loopback addresses
# (127.0.0.0/8 is all local on Linux).
. "$(dirname "$0")/lib.sh"

start_redis
start_sim sim
BRIDGE_PORT=$(free_port)
ADMIN_PORT=$(free_port)
ADMIN=127.0.0.1:$ADMIN_PORT
bridge_conf "$WORK/bridge.conf" "$BRIDGE_PORT" "[server]
auth_fail_limit = 5
auth_fail_window = 60s
auth_block = 60s
bind_timeout = 5s
[admin]
listen = $ADMIN
[log]
level = info"
ctl() { "$BIN/smppctl" -c "$WORK/bridge.conf" "$@"; }
add() { # ID PASSWORD OPTIONS...
    local id=$1 pw=$2
    shift 2
    echo "$pw" | ctl account add "$id" --password-stdin "$@" >/dev/null
}
# X: allowed from A (127.0.0.2) and B (127.0.0.1)
add victim rightpw --allow "127.0.0.1,127.0.0.2"
add timed timedpw --allow "127.0.1.0/24"
add offacct offpw --enabled no
add fenced fencepw --allow "127.0.0.1"
run_bridge bridge "$WORK/bridge.conf" || { echo "bridge did not start" >&2; exit 1; }

A=127.0.0.2
B=127.0.0.1
# bind FROM ID PASSWORD: "0xSTATUS MS" of one bind from address FROM
bind() { perl "$ROOT/tests/interop/bind_timed.pl" 127.0.0.1 "$BRIDGE_PORT" "$2" "$3" "$1" 2>>"$WORK/client.err" | tail -1; }
status_of() { echo "${1%% *}"; }
ms_of() { echo "${1##* }"; }

# ---- five wrong passwords for X from A do not lock X out of B --------
for i in 1 2 3 4 5; do
    r=$(bind $A victim wrong$i)
    echo "$r" >>"$WORK/wrong_from_a.txt"
done
check "5 wrong passwords from A: each ESME_RBINDFAIL" \
    eq "$(cut -d' ' -f1 "$WORK/wrong_from_a.txt" | sort -u | tr '\n' ' ')" "0x0000000d "
r=$(bind $B victim rightpw)
check "X binds from its allowed address B at once" eq "$(status_of "$r")" 0x00000000
check "  ... without a slow-down (under 1 s: $(ms_of "$r") ms)" le "$(ms_of "$r")" 1000
r=$(bind $A victim rightpw)
check "X's right password from the blocked address A: ESME_RBINDFAIL" \
    eq "$(status_of "$r")" 0x0000000d
check "the block is logged with its reason" \
    grep -q "\[victim $A:[0-9]*\] bind refused: too many failed binds" "$WORK/bridge.log"

# ---- what is blocked, from the admin server --------------------------
ctl auth blocks --admin "$ADMIN" >"$WORK/blocks.txt" 2>"$WORK/blocks.err"
check "smppctl auth blocks: exit 0" eq "$?" 0
check "smppctl auth blocks shows A blocked with its 5 failures" \
    grep -Eq "^$A +address +blocked +5 +[0-9]+$" "$WORK/blocks.txt"
check "smppctl auth blocks shows victim@A blocked" \
    grep -Eq "^victim@$A +pair +blocked +5 +[0-9]+$" "$WORK/blocks.txt"
check "smppctl auth blocks does not show B" bash -c "! grep -q '$B ' '$WORK/blocks.txt'"
curl -s "http://$ADMIN/auth/blocks" >"$WORK/blocks.json"
check "GET /auth/blocks: A with the time left of the block" \
    eq "$(jq -r --arg k $A '.[] | select(.key == $k) | "\(.scope) \(.blocked) \(.failures) \(.remaining_ms > 50000)"' "$WORK/blocks.json")" \
    "address true 5 true"
curl -s "http://$ADMIN/metrics" >"$WORK/metrics1.txt"
check "metric: smppbridge_auth_blocked{scope=\"address\"} 1" \
    grep -q '^smppbridge_auth_blocked{scope="address"} 1$' "$WORK/metrics1.txt"

# ---- one status and one timing for every refusal ----------------------
# Seven binds of each kind, each from its own address so that none of
# them is slowed down or blocked by the others.
: >"$WORK/timing.txt"
for i in 1 2 3 4 5 6 7; do
    echo "unknown $(bind 127.0.1.$i nosuchid whatever)" >>"$WORK/timing.txt"
    echo "wrong_password $(bind 127.0.1.$((10 + i)) timed wrongpw)" >>"$WORK/timing.txt"
    echo "disabled $(bind 127.0.1.$((20 + i)) offacct offpw)" >>"$WORK/timing.txt"
    echo "disallowed $(bind 127.0.1.$((30 + i)) fenced fencepw)" >>"$WORK/timing.txt"
    echo "blocked $(bind $A victim rightpw)" >>"$WORK/timing.txt"
done
check "unknown id, wrong password, disabled, disallowed, blocked: one status (ESME_RBINDFAIL)" \
    eq "$(awk '{print $2}' "$WORK/timing.txt" | sort -u | tr '\n' ' ')" "0x0000000d "
median() { awk -v k="$1" '$1 == k {print $3}' "$WORK/timing.txt" | sort -n | sed -n 4p; }
MEDIANS=""
for k in unknown wrong_password disabled disallowed blocked; do
    MEDIANS="$MEDIANS $k=$(median $k)"
done
echo "    median answer times (ms):$MEDIANS"
spread_ok() {
    local lo=999999 hi=0 m
    for k in unknown wrong_password disabled disallowed blocked; do
        m=$(median $k)
        [ -n "$m" ] || return 1
        ((m < lo)) && lo=$m
        ((m > hi)) && hi=$m
    done
    echo "    spread: min $lo ms, max $hi ms"
    # max - min under 20 % of min
    ((5 * (hi - lo) < lo))
}
check "median answer times differ by less than 20%" spread_ok
check "the log says the real reason of each refusal" bash -c "
    grep -q '\[nosuchid 127.0.1.1:[0-9]*\] bind refused: unknown system_id' '$WORK/bridge.log' &&
    grep -q '\[timed 127.0.1.11:[0-9]*\] bind refused: wrong password' '$WORK/bridge.log' &&
    grep -q '\[offacct 127.0.1.21:[0-9]*\] bind refused: account disabled' '$WORK/bridge.log' &&
    grep -q '\[fenced 127.0.1.31:[0-9]*\] bind refused: address not allowed' '$WORK/bridge.log'"
curl -s "http://$ADMIN/metrics" >"$WORK/metrics2.txt"
metric() { awk -v k="smppbridge_auth_failures_total{reason=\"$1\"}" '$1 == k {print $2}' "$WORK/metrics2.txt"; }
check "metric by reason: unknown_system_id 7, wrong_password 12, account_disabled 7, address_not_allowed 7" \
    eq "$(metric unknown_system_id) $(metric wrong_password) $(metric account_disabled) $(metric address_not_allowed)" \
    "7 12 7 7"
check "metric by reason: too_many_failed_binds 8" eq "$(metric too_many_failed_binds)" 8

# The allowlist comes before the password: a wrong password from an
# address outside the allowlist is refused as "address not allowed" (no
# password check ran), and so is the right one.
r=$(bind 127.0.1.41 fenced notit)
check "wrong password from a disallowed address: ESME_RBINDFAIL" eq "$(status_of "$r")" 0x0000000d
check "  ... refused for the address, before any password check" \
    grep -q '\[fenced 127.0.1.41:[0-9]*\] bind refused: address not allowed' "$WORK/bridge.log"

# ---- unblock -----------------------------------------------------------
ctl auth unblock $A --admin "$ADMIN" >"$WORK/unblock.txt" 2>&1
check "smppctl auth unblock A: exit 0" eq "$?" 0
r=$(bind $A victim rightpw)
check "after unblock, A binds with X's right password" eq "$(status_of "$r")" 0x00000000
ctl auth blocks --admin "$ADMIN" >"$WORK/blocks2.txt"
check "smppctl auth blocks no longer shows A" bash -c "! grep -q '^$A ' '$WORK/blocks2.txt' && ! grep -q '^victim@$A ' '$WORK/blocks2.txt'"
ctl auth unblock 127.0.9.9 --admin "$ADMIN" >/dev/null 2>&1
check "smppctl auth unblock of an address never counted: exit 3" eq "$?" 3
check "DELETE /auth/blocks without a key: 400" \
    eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "http://$ADMIN/auth/blocks")" 400

# Unblocking a system_id lifts its pairs at every address.
for i in 1 2 3 4 5; do bind 127.0.1.50 timed nope$i >/dev/null; done
ctl auth unblock timed --admin "$ADMIN" >/dev/null 2>&1
check "smppctl auth unblock SYSTEM_ID: exit 0" eq "$?" 0
ctl auth blocks --admin "$ADMIN" >"$WORK/blocks3.txt"
check "  ... its pair is gone, the address block stays" bash -c "
    ! grep -q '^timed@127.0.1.50 ' '$WORK/blocks3.txt' &&
    grep -Eq '^127.0.1.50 +address +blocked' '$WORK/blocks3.txt'"

check "the bridge is still running" kill -0 "$bridge_PID"
check "the bridge exits 0 on SIGTERM" stop "$bridge_PID"
check "no sanitizer report in the bridge log" \
    bash -c "! grep -Eq 'Sanitizer|runtime error' '$WORK/bridge.log'"
finish
