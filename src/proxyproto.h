/*
 * proxyproto.h - the PROXY protocol header (HAProxy's specification,
 * versions 1 and 2) that a TCP load balancer sends before the client's
 * bytes, so that the bridge learns the customer's address rather than
 * the balancer's (allowlists, the failed-bind limiter, logs).
 *
 * Pure: no sockets, no allocation. The caller peeks at the first bytes of
 * a connection and calls proxy_parse until it says DONE or INVALID.
 *
 *   v1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" (TCP6, or "PROXY UNKNOWN ...
 *       \r\n"), at most 107 bytes.
 *   v2: 12-byte signature, version/command, family/protocol, 16-bit
 *       length, then the addresses (and TLVs, skipped).
 */
#ifndef SMPPBRIDGE_PROXYPROTO_H
#define SMPPBRIDGE_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The longest header accepted: v2 with IPv6 addresses and a few hundred
 * bytes of TLVs (cloud balancers add some). */
#define PROXY_MAX_LEN 536

enum proxy_result {
    PROXY_INVALID = -1,  /* not a PROXY header, or a malformed one */
    PROXY_NEED_MORE = 0, /* a valid start: wait for more bytes */
    PROXY_DONE = 1,
};

struct proxy_header {
    size_t len;                    /* bytes the header takes */
    int version;                   /* 1 or 2 */
    int has_source;                /* 0: LOCAL or UNKNOWN: keep the socket's */
    struct sockaddr_storage source;
    socklen_t source_len;
};

/* Parse the start of a connection, <n> bytes at <buf>. */
enum proxy_result proxy_parse(const uint8_t *buf, size_t n,
                              struct proxy_header *out);

#endif /* SMPPBRIDGE_PROXYPROTO_H */
