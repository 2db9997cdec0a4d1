#!/usr/bin/env bash
# test_smppctl.sh - smppctl against a real redis-server on loopback:
# account add/show/list/set/del, the Redis layout, the change
# notifications, exit codes, and that the password never shows anywhere.
#
# Every wait is bounded; the subscriber is killed by lib.sh on exit.

source "$(dirname "$0")/lib.sh"

CTL=$BIN/smppctl
PW='Pa55:w0d'       # 8 characters, SMPP's maximum
PW2='n3w-pass'
PREFIX=itest

if [ ! -x "$CTL" ]; then
    check "smppctl is built ($CTL)" false
    finish
    exit
fi
if ! start_redis; then
    check "redis-server starts" false
    finish
    exit
fi

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# write_conf FILE PORT [EXTRA REDIS LINES...]
write_conf() {
    local file=$1 port=$2
    shift 2
    {
        echo "[server]"
        echo "listen = 127.0.0.1:2775"
        echo "[redis]"
        echo "host = 127.0.0.1"
        echo "port = $port"
        echo "timeout = 2s"
        echo "prefix = $PREFIX"
        local l
        for l in "$@"; do echo "$l"; done
        echo "[upstream sim]"
        echo "host = 127.0.0.1"
        echo "system_id = up"
        echo "password = uppass"
    } >"$file"
}
CONF=$WORK/smppctl.conf
write_conf "$CONF" "$REDIS_PORT"

# ctl NAME ARGS...: run smppctl with stdin from $WORK/NAME.in when it
# exists; stdout, stderr and the exit status land in $WORK/NAME.{out,err,rc}.
N=0
ctl() {
    local name=$1
    shift
    local in=/dev/null
    [ -f "$WORK/$name.in" ] && in=$WORK/$name.in
    timeout 30 "$CTL" -c "$CONF" "$@" <"$in" >"$WORK/$name.out" \
        2>"$WORK/$name.err"
    echo $? >"$WORK/$name.rc"
    N=$((N + 1))
}
rc() { cat "$WORK/$1.rc"; }
out() { cat "$WORK/$1.out"; }
err_has() { grep -qF -- "$2" "$WORK/$1.err" || { echo "    stderr of $1: $(cat "$WORK/$1.err")" >&2; return 1; }; }
pw_in() { printf '%s\n' "$2" >"$WORK/$1.in"; }

KEY="$PREFIX:acct:{acme}"

# --- a subscriber on the events channel ----------------------------------
timeout 120 redis-cli -p "$REDIS_PORT" SUBSCRIBE "$PREFIX:events" \
    >"$WORK/sub.out" 2>&1 &
PIDS+=($!)
subscribed() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(rcli PUBSUB NUMSUB "$PREFIX:events" | sed -n 2p)" = 1 ] && return 0
        sleep 0.05
    done
    return 1
}
check "a subscriber listens on $PREFIX:events" subscribed

# wait_events N: N "account ..." messages seen by the subscriber (10 s).
wait_events() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(grep -c '^account ' "$WORK/sub.out")" -ge "$1" ] && return 0
        sleep 0.05
    done
    echo "    events seen: $(grep '^account ' "$WORK/sub.out" | tr '\n' ';')" >&2
    return 1
}

# --- add ------------------------------------------------------------------
pw_in add "$PW"
ctl add account add acme --password-stdin --tps 50 --max-binds 2 \
    --allow "10.0.0.0/8,::1" --id-format dec
check "add: exit 0" eq "$(rc add)" 0
check "add: hash key exists" eq "$(rcli EXISTS "$KEY")" 1
check "add: id in the set" eq "$(rcli SISMEMBER "$PREFIX:accounts" acme)" 1
HASH=$(rcli HGET "$KEY" password)
check "add: password field is a scrypt string" \
    grep -qE '^scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$' <<<"$HASH"
check "add: password field is not the password" \
    bash -c '! grep -qF -- "$1" <<<"$2"' _ "$PW" "$HASH"
check "add: tps" eq "$(rcli HGET "$KEY" tps)" 50
check "add: max_binds" eq "$(rcli HGET "$KEY" max_binds)" 2
check "add: allow" eq "$(rcli HGET "$KEY" allow)" "10.0.0.0/8,::1"
check "add: id_format" eq "$(rcli HGET "$KEY" id_format)" dec
check "add: enabled" eq "$(rcli HGET "$KEY" enabled)" 1
CREATED=$(rcli HGET "$KEY" created)
NOW=$(date +%s)
check "add: created is now" bash -c '[ $(( $2 - $1 )) -le 60 ] && [ $(( $1 - $2 )) -le 60 ]' _ "$CREATED" "$NOW"
check "add: change published" wait_events 1
check "add: message is 'account acme'" grep -qx 'account acme' "$WORK/sub.out"

# The stored key is scrypt(password without its newline) under the stored
# salt: recompute it with the openssl command line.
scrypt_matches() {
    local salt key want got
    salt=$(cut -d'$' -f5 <<<"$1" | base64 -d | od -An -tx1 | tr -d ' \n')
    want=$(cut -d'$' -f6 <<<"$1" | base64 -d | od -An -tx1 | tr -d ' \n')
    got=$(openssl kdf -keylen 32 -kdfopt "hexpass:$(printf '%s' "$2" | od -An -tx1 | tr -d ' \n')" \
        -kdfopt "hexsalt:$salt" -kdfopt n:16384 -kdfopt r:8 -kdfopt p:1 \
        SCRYPT 2>/dev/null | tr -d ':\n' | tr 'A-F' 'a-f')
    [ -n "$got" ] && eq "$got" "$want"
}
check "add: stored key is scrypt of the password (openssl kdf)" \
    scrypt_matches "$HASH" "$PW"
not_scrypt_of() { ! scrypt_matches "$@" 2>/dev/null; }
check "add: the line end is not part of the password" \
    not_scrypt_of "$HASH" "$PW"$'\n'

jq_true() { jq -e "$@" >/dev/null; }

# --- show -----------------------------------------------------------------
ctl show account show acme
check "show: exit 0" eq "$(rc show)" 0
check "show: JSON fields" jq_true '.id == "acme" and .enabled == true and
    .tps == 50 and .max_binds == 2 and .allow == "10.0.0.0/8,::1" and
    .id_format == "dec" and (.created | type) == "number"' "$WORK/show.out"
check "show: no hash in the JSON" \
    bash -c '! grep -qiE "scrypt|password|hash" "$1"' _ "$WORK/show.out"
check "show: exactly the documented keys" eq \
    "$(jq -c 'keys' "$WORK/show.out")" \
    '["allow","created","daily_quota","enabled","id","id_format","max_binds","queue_max_bytes","queue_max_messages","tps","updated"]'

# --- duplicate add --------------------------------------------------------
pw_in dup "$PW2"
ctl dup account add acme --password-stdin
check "duplicate add: exit 3" eq "$(rc dup)" 3
check "duplicate add: says so" err_has dup "already exists"
check "duplicate add: hash untouched" eq "$(rcli HGET "$KEY" password)" "$HASH"

# --- set ------------------------------------------------------------------
ctl set1 account set acme --enabled no --tps 0 --allow ""
check "set: exit 0" eq "$(rc set1)" 0
check "set: enabled 0" eq "$(rcli HGET "$KEY" enabled)" 0
check "set: tps 0" eq "$(rcli HGET "$KEY" tps)" 0
check "set: allow cleared" eq "$(rcli HGET "$KEY" allow)" ""
check "set: max_binds kept" eq "$(rcli HGET "$KEY" max_binds)" 2
check "set: id_format kept" eq "$(rcli HGET "$KEY" id_format)" dec
check "set: password kept" eq "$(rcli HGET "$KEY" password)" "$HASH"
check "set: created kept" eq "$(rcli HGET "$KEY" created)" "$CREATED"
check "set: change published" wait_events 2
pw_in set2 "$PW2"
ctl set2 account set acme --password-stdin --id-format=hex --max-binds=0
check "set password: exit 0" eq "$(rc set2)" 0
HASH2=$(rcli HGET "$KEY" password)
check "set password: hash changed" bash -c '[ "$1" != "$2" ]' _ "$HASH" "$HASH2"
check "set password: new hash is the new password" scrypt_matches "$HASH2" "$PW2"
check "set password: options applied too" eq \
    "$(rcli HMGET "$KEY" id_format max_binds | tr '\n' ' ')" "hex 0 "
check "set password: published" wait_events 3
ctl set3 account set acme
check "set without options: exit 2" eq "$(rc set3)" 2

# --- list -----------------------------------------------------------------
pw_in addb "b"
ctl addb account add beta --password-stdin
pw_in adda "a"
ctl adda account add alpha --password-stdin
check "new account: finite tps and binds unless told (100, 10)" eq \
    "$(rcli HMGET "$PREFIX:acct:{beta}" tps max_binds | tr '\n' ' ')" "100 10 "
ctl list account list
check "list: exit 0" eq "$(rc list)" 0
check "list: sorted, one per line" eq "$(out list | tr '\n' ' ')" "acme alpha beta "

# --- unknown ids ----------------------------------------------------------
ctl show404 account show nobody
check "show unknown: exit 3" eq "$(rc show404)" 3
check "show unknown: names it" err_has show404 "nobody"
ctl set404 account set nobody --tps 5
check "set unknown: exit 3" eq "$(rc set404)" 3
check "set unknown: nothing created" eq "$(rcli EXISTS "$PREFIX:acct:{nobody}")" 0
ctl del404 account del nobody
check "del unknown: exit 3" eq "$(rc del404)" 3

# --- usage errors ---------------------------------------------------------
pw_in badcidr "$PW"
ctl badcidr account add gamma --password-stdin --allow 10.0.0.1/8
check "bad CIDR: exit 2" eq "$(rc badcidr)" 2
check "bad CIDR: explains" err_has badcidr "10.0.0.0/8"
check "bad CIDR: nothing written" eq "$(rcli EXISTS "$PREFIX:acct:{gamma}")" 0
ctl badcidr2 account set acme --allow "10.0.0.0/8,,::1"
check "bad CIDR list on set: exit 2" eq "$(rc badcidr2)" 2
for bad in 'bad:id' '{x}' 'sixteen-chars-xx' 'a b' ''; do
    pw_in badid "$PW"
    ctl badid account add "$bad" --password-stdin
    check "bad id '$bad': exit 2" eq "$(rc badid)" 2
done
pw_in badfmt "$PW"
ctl badfmt account add gamma --password-stdin --id-format oct
check "bad id-format: exit 2" eq "$(rc badfmt)" 2
pw_in badtps "$PW"
ctl badtps account add gamma --password-stdin --tps fast
check "bad tps: exit 2" eq "$(rc badtps)" 2
ctl nopw account add gamma --tps 5
check "add without --password-stdin: exit 2" eq "$(rc nopw)" 2
pw_in longpw "123456789"
ctl longpw account add gamma --password-stdin
check "password over 8 characters: exit 2" eq "$(rc longpw)" 2
pw_in emptypw ""
ctl emptypw account add gamma --password-stdin
check "empty password: exit 2" eq "$(rc emptypw)" 2
ctl nostdin account add gamma --password-stdin
check "no password on stdin: exit 2" eq "$(rc nostdin)" 2
check "none of those created gamma" eq "$(rcli EXISTS "$PREFIX:acct:{gamma}")" 0
ctl badsub account frobnicate acme
check "unknown subcommand: exit 2" eq "$(rc badsub)" 2
ctl noargs
check "no command: exit 2" eq "$(rc noargs)" 2
ctl extra account show acme extra
check "extra argument: exit 2" eq "$(rc extra)" 2
ctl help --help
check "--help: exit 0" eq "$(rc help)" 0
check "--help: usage on stdout" grep -q "account add ID --password-stdin" "$WORK/help.out"

# --- del ------------------------------------------------------------------
ctl del account del acme
check "del: exit 0" eq "$(rc del)" 0
check "del: hash gone" eq "$(rcli EXISTS "$KEY")" 0
check "del: id out of the set" eq "$(rcli SISMEMBER "$PREFIX:accounts" acme)" 0
check "del: published" wait_events 6
check "del: show now 3" bash -c '"$1" -c "$2" account show acme </dev/null >/dev/null 2>&1; [ $? -eq 3 ]' _ "$CTL" "$CONF"
ctl list2 account list
check "list after del" eq "$(out list2 | tr '\n' ' ')" "alpha beta "

# --- events: one per change, in order --------------------------------------
check "events in order" eq "$(grep '^account ' "$WORK/sub.out" | tr '\n' ';')" \
    "account acme;account acme;account acme;account beta;account alpha;account acme;"

# --- per-account queue caps -------------------------------------------------
ctl setq account set beta --queue-max-messages 50 --queue-max-bytes 1048576
check "set queue caps: stored" eq \
    "$(rcli HMGET "$PREFIX:acct:{beta}" queue_max_messages queue_max_bytes | tr '\n' ' ')" \
    "50 1048576 "

# --- config: db and errors -------------------------------------------------
write_conf "$WORK/db3.conf" "$REDIS_PORT" "db = 3"
pw_in db3 "x"
timeout 30 "$CTL" -c "$WORK/db3.conf" account add delta --password-stdin \
    <"$WORK/db3.in" >"$WORK/db3.out" 2>"$WORK/db3.err"
check "db = 3: exit 0" eq "$?" 0
check "db = 3: written to db 3" eq "$(rcli -n 3 EXISTS "$PREFIX:acct:{delta}")" 1
check "db = 3: not in db 0" eq "$(rcli EXISTS "$PREFIX:acct:{delta}")" 0

printf '[redis]\nhost = 127.0.0.1\nbogus_key = 1\n' >"$WORK/bad.conf"
timeout 30 "$CTL" -c "$WORK/bad.conf" account list >"$WORK/badconf.out" \
    2>"$WORK/badconf.err"
check "bad config: exit 2" eq "$?" 2
check "bad config: conf_load's message with file and line" \
    grep -qF "$WORK/bad.conf:3" "$WORK/badconf.err"
timeout 30 "$CTL" -c "$WORK/missing.conf" account list >/dev/null \
    2>"$WORK/missing.err"
check "missing config: exit 2" eq "$?" 2

# --- Redis down -------------------------------------------------------------
DOWN_PORT=$(free_port)
write_conf "$WORK/down.conf" "$DOWN_PORT"
timeout 30 "$CTL" -c "$WORK/down.conf" account list >"$WORK/down.out" \
    2>"$WORK/down.err"
check "Redis down: exit 1" eq "$?" 1
check "Redis down: names host:port" grep -qF "127.0.0.1:$DOWN_PORT" "$WORK/down.err"
pw_in down2 "$PW"
timeout 30 "$CTL" -c "$WORK/down.conf" account add zeta --password-stdin \
    <"$WORK/down2.in" >"$WORK/down2.out" 2>"$WORK/down2.err"
check "Redis down on add: exit 1" eq "$?" 1

# --- Redis with a password ---------------------------------------------------
REDIS_PW=itest-redis-secret
rcli CONFIG SET requirepass "$REDIS_PW" >/dev/null
write_conf "$WORK/auth.conf" "$REDIS_PORT" "password = $REDIS_PW"
timeout 30 "$CTL" -c "$WORK/auth.conf" account list >"$WORK/auth.out" \
    2>"$WORK/auth.err"
check "Redis AUTH: exit 0" eq "$?" 0
check "Redis AUTH: lists" eq "$(tr '\n' ' ' <"$WORK/auth.out")" "alpha beta "
write_conf "$WORK/noauth.conf" "$REDIS_PORT" "password = wrong"
timeout 30 "$CTL" -c "$WORK/noauth.conf" account list >/dev/null \
    2>"$WORK/noauth.err"
check "Redis AUTH refused: exit 1" eq "$?" 1
check "Redis AUTH refused: names host:port" \
    grep -qF "127.0.0.1:$REDIS_PORT" "$WORK/noauth.err"
redis-cli -p "$REDIS_PORT" -a "$REDIS_PW" --no-auth-warning \
    CONFIG SET requirepass "" >/dev/null

# --- the passwords never appear -------------------------------------------
never_shown() {
    local f hits=0
    for f in "$WORK"/*.out "$WORK"/*.err; do
        if grep -qF -- "$1" "$f"; then
            echo "    found in $f" >&2
            hits=1
        fi
    done
    [ "$hits" -eq 0 ]
}
check "account password never in any output" never_shown "$PW"
check "new password never in any output" never_shown "$PW2"
check "Redis password never in any output" never_shown "$REDIS_PW"

finish
