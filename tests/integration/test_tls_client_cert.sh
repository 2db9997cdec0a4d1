#!/usr/bin/env bash
# [tls] ca: client certificates required. A client with a certificate
# signed by that CA gets SMPP answers (enquire_link_resp); one without a
# certificate, or with a certificate from another CA, does not get in.
. "$(dirname "$0")/lib.sh"

ca() { # NAME: a CA key and self-signed certificate
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days 2 -subj "/CN=$1" -keyout "$WORK/$1.key" -out "$WORK/$1.pem" 2>/dev/null
}
leaf() { # NAME CA [SAN]: a key and a certificate signed by CA
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=$1" -keyout "$WORK/$1.key" -out "$WORK/$1.csr" 2>/dev/null
    printf 'subjectAltName=%s\n' "${3:-DNS:$1}" >"$WORK/$1.ext"
    openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/$2.pem" -CAkey "$WORK/$2.key" \
        -CAcreateserial -days 2 -extfile "$WORK/$1.ext" -out "$WORK/$1.pem" 2>/dev/null
}
ca trusted; ca other
leaf server trusted "IP:127.0.0.1,DNS:localhost"
leaf goodclient trusted
leaf badclient other

start_redis
start_sim sim --system-id smppbridge --password simpass
TLS_PORT=$(free_port)
bridge_conf "$WORK/bridge.conf" "$(free_port)" "[tls]
listen = 127.0.0.1:$TLS_PORT
cert = $WORK/server.pem
key = $WORK/server.key
ca = $WORK/trusted.pem"
"$BIN/smppbridge" -c "$WORK/bridge.conf" 2>"$WORK/bridge.log" &
PIDS+=($!)
BRIDGE_PID=$!
wait_until 20 grep -q "listening on 127.0.0.1:$TLS_PORT" "$WORK/bridge.log"

# enquire NAME [CLIENT]: send enquire_link (seq 7) over TLS, print the
# answer's first 16 bytes in hex (empty when the handshake failed).
enquire() {
    local args=(-quiet -connect "127.0.0.1:$TLS_PORT" -CAfile "$WORK/trusted.pem" -verify_return_error)
    [ -n "${2:-}" ] && args+=(-cert "$WORK/$2.pem" -key "$WORK/$2.key")
    { printf '\x00\x00\x00\x10\x00\x00\x00\x15\x00\x00\x00\x00\x00\x00\x00\x07'; sleep 1; } |
        timeout 10 openssl s_client "${args[@]}" 2>"$WORK/$1.err" | head -c 16 | od -An -tx1 | tr -d ' \n'
}
check "client certificate from the trusted CA: enquire_link_resp seq 7" \
    eq "$(enquire good goodclient)" 00000010800000150000000000000007
check "no client certificate: nothing answered" eq "$(enquire none)" ""
check "client certificate from another CA: nothing answered" eq "$(enquire bad badclient)" ""
check "bridge exits 0 on SIGTERM" stop "$BRIDGE_PID"
finish
