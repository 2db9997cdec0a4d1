/*
 * proxyproto.c - PROXY protocol v1 and v2 headers (see proxyproto.h).
 *
 * Strict: anything that is not exactly a header of the specification is
 * INVALID, so that a connection without one (a client that bypassed the
 * balancer) is refused rather than read as SMPP with a wrong address.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxyproto.h"

#define V1_MAX_LEN 107
#define V2_HEAD_LEN 16

static const uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_prefix[] = "PROXY ";

/* ---- version 1 ------------------------------------------------------ */

/* A port: 1 to 5 digits, at most 65535. */
static int v1_port(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    unsigned v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* Split <line> on single spaces into at most <max> words. */
static int v1_words(char *line, char **words, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        words[n++] = p;
        char *sp = strchr(p, ' ');
        if (!sp)
            return n;
        *sp = 0;
        p = sp + 1;
    }
    return -1; /* more words than any header has */
}

static enum proxy_result v1_addresses(char **w, int n, struct proxy_header *out)
{
    uint16_t sport, dport;
    int v6 = strcmp(w[0], "TCP6") == 0;
    if (n != 5 || (!v6 && strcmp(w[0], "TCP4") != 0) ||
        v1_port(w[3], &sport) != 0 || v1_port(w[4], &dport) != 0)
        return PROXY_INVALID;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->source;
        struct in6_addr dst;
        if (inet_pton(AF_INET6, w[1], &a->sin6_addr) != 1 ||
            inet_pton(AF_INET6, w[2], &dst) != 1)
            return PROXY_INVALID;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(sport);
        out->source_len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&out->source;
        struct in_addr dst;
        if (inet_pton(AF_INET, w[1], &a->sin_addr) != 1 ||
            inet_pton(AF_INET, w[2], &dst) != 1)
            return PROXY_INVALID;
        a->sin_family = AF_INET;
        a->sin_port = htons(sport);
        out->source_len = sizeof *a;
    }
    out->has_source = 1;
    return PROXY_DONE;
}

static enum proxy_result parse_v1(const uint8_t *buf, size_t n,
                                  struct proxy_header *out)
{
    char line[V1_MAX_LEN + 1];
    size_t end;
    for (end = 0; end < n; end++) {
        if (end + 2 > V1_MAX_LEN)
            return PROXY_INVALID; /* no room left for the CRLF */
        if (buf[end] == '\r') {
            if (end + 1 == n)
                return PROXY_NEED_MORE;
            if (buf[end + 1] != '\n')
                return PROXY_INVALID;
            break;
        }
        if (buf[end] < 0x20 || buf[end] > 0x7E)
            return PROXY_INVALID;
    }
    if (end == n)
        return PROXY_NEED_MORE;
    memcpy(line, buf, end);
    line[end] = 0;
    out->len = end + 2;
    out->version = 1;
    char *words[6];
    int nw = v1_words(line + sizeof v1_prefix - 1, words, 6);
    if (nw < 1)
        return PROXY_INVALID;
    if (strcmp(words[0], "UNKNOWN") == 0)
        return PROXY_DONE; /* the balancer could not tell: keep ours */
    return v1_addresses(words, nw, out);
}

/* ---- version 2 ------------------------------------------------------ */

static enum proxy_result parse_v2(const uint8_t *buf, size_t n,
                                  struct proxy_header *out)
{
    if (n < V2_HEAD_LEN)
        return PROXY_NEED_MORE;
    uint8_t version = buf[12] >> 4, command = buf[12] & 0x0F;
    uint8_t family = buf[13] >> 4, transport = buf[13] & 0x0F;
    size_t body = (size_t)buf[14] << 8 | buf[15];
    if (version != 2 || command > 1 || V2_HEAD_LEN + body > PROXY_MAX_LEN)
        return PROXY_INVALID;
    if (n < V2_HEAD_LEN + body)
        return PROXY_NEED_MORE;
    out->len = V2_HEAD_LEN + body;
    out->version = 2;
    const uint8_t *a = buf + V2_HEAD_LEN;
    if (command == 0)
        return PROXY_DONE; /* LOCAL: the balancer's own check */
    if (transport != 1 && family != 0)
        return PROXY_INVALID; /* datagrams have no place here */
    if (family == 1) {
        struct sockaddr_in *s = (struct sockaddr_in *)&out->source;
        if (body < 12)
            return PROXY_INVALID;
        s->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        memcpy(&s->sin_port, a + 8, 2);
        out->source_len = sizeof *s;
        out->has_source = 1;
    } else if (family == 2) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->source;
        if (body < 36)
            return PROXY_INVALID;
        s->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        memcpy(&s->sin6_port, a + 32, 2);
        out->source_len = sizeof *s;
        out->has_source = 1;
    } else if (family != 0 && family != 3) {
        return PROXY_INVALID;
    }
    /* UNSPEC and UNIX: no address of use; keep the socket's */
    return PROXY_DONE;
}

enum proxy_result proxy_parse(const uint8_t *buf, size_t n,
                              struct proxy_header *out)
{
    memset(out, 0, sizeof *out);
    size_t sig = n < sizeof v2_signature ? n : sizeof v2_signature;
    if (n > 0 && memcmp(buf, v2_signature, sig) == 0)
        return sig < sizeof v2_signature ? PROXY_NEED_MORE
                                         : parse_v2(buf, n, out);
    size_t pre = n < sizeof v1_prefix - 1 ? n : sizeof v1_prefix - 1;
    if (n == 0 || memcmp(buf, v1_prefix, pre) != 0)
        return n == 0 ? PROXY_NEED_MORE : PROXY_INVALID;
    return pre < sizeof v1_prefix - 1 ? PROXY_NEED_MORE : parse_v1(buf, n, out);
}
