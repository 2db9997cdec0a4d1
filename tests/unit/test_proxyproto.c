/*
 * test_proxyproto.c - the PROXY protocol header parser: both versions,
 * every family, every split point, and the malformed headers a balancer
 * (or a client that bypassed it) could send.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "proxyproto.h"

#define V2SIG "\r\n\r\n\0\r\nQUIT\n"

static struct proxy_header h;

static enum proxy_result parse(const char *s, size_t n)
{
    return proxy_parse((const uint8_t *)s, n, &h);
}

static enum proxy_result parse_str(const char *s)
{
    return parse(s, strlen(s));
}

static const char *source_text(void)
{
    static char buf[INET6_ADDRSTRLEN + 8];
    char ip[INET6_ADDRSTRLEN];
    if (h.source.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&h.source;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(buf, sizeof buf, "%s:%u", ip, ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&h.source;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(buf, sizeof buf, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
    return buf;
}

/* Every strict prefix of a complete header asks for more. */
static void expect_prefixes_need_more(const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(parse(s, k), PROXY_NEED_MORE, "prefix of %zu bytes", k);
}

Test(v1, tcp4_gives_the_source_and_its_length)
{
    const char *s = "PROXY TCP4 203.0.113.7 127.0.0.1 5555 2775\r\nSMPP";
    cr_assert_eq(parse_str(s), PROXY_DONE);
    cr_assert_eq(h.len, strlen(s) - 4);
    cr_assert_eq(h.version, 1);
    cr_assert(h.has_source);
    cr_assert_str_eq(source_text(), "203.0.113.7:5555");
    expect_prefixes_need_more(s, h.len);
}

Test(v1, tcp6)
{
    cr_assert_eq(parse_str("PROXY TCP6 2001:db8::7 ::1 65535 2775\r\n"), PROXY_DONE);
    cr_assert_str_eq(source_text(), "[2001:db8::7]:65535");
}

Test(v1, unknown_keeps_the_socket_address)
{
    cr_assert_eq(parse_str("PROXY UNKNOWN\r\n"), PROXY_DONE);
    cr_assert_eq(h.len, 15);
    cr_assert(!h.has_source);
    cr_assert_eq(parse_str("PROXY UNKNOWN ffff::1 ::1 1 2\r\n"), PROXY_DONE);
    cr_assert(!h.has_source);
}

Test(v1, malformed_headers_are_invalid)
{
    static const char *const bad[] = {
        "GET / HTTP/1.0\r\n",                               /* not PROXY */
        "\x00\x00\x00\x2f\x00\x00\x00\x09",                 /* an SMPP bind */
        "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",               /* family */
        "PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n",                 /* address */
        "PROXY TCP4 2001:db8::1 1.2.3.4 1 2\r\n",           /* v6 as v4 */
        "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",                   /* v4 as v6 */
        "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",           /* port */
        "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n",
        "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n",                 /* a word short */
        "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n",             /* a word more */
        "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n",              /* two spaces */
        "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",                 /* LF alone */
        "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\r\n",
        "PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n",             /* control byte */
        "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n",               /* case */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(parse(bad[i], strlen(bad[i]) ? strlen(bad[i]) : 8),
                     PROXY_INVALID, "case %zu", i);
}

Test(v1, a_line_longer_than_107_bytes_is_invalid_without_waiting)
{
    char s[200];
    memset(s, 'A', sizeof s);
    memcpy(s, "PROXY UNKNOWN ", 14);
    cr_assert_eq(parse(s, 106), PROXY_NEED_MORE);
    cr_assert_eq(parse(s, 107), PROXY_INVALID);
    cr_assert_eq(parse(s, sizeof s), PROXY_INVALID);
    /* exactly 107 with its CRLF is allowed */
    s[105] = '\r';
    s[106] = '\n';
    cr_assert_eq(parse(s, 107), PROXY_DONE);
    cr_assert_eq(h.len, 107);
}

Test(v2, tcp4_proxy_command)
{
    static const char s[] = V2SIG "\x21\x11\x00\x0c"
                            "\xcb\x00\x71\x07" "\x7f\x00\x00\x01"
                            "\x15\xb3" "\x0a\xd7" "rest";
    cr_assert_eq(parse(s, sizeof s - 1), PROXY_DONE);
    cr_assert_eq(h.len, 28);
    cr_assert_eq(h.version, 2);
    cr_assert_str_eq(source_text(), "203.0.113.7:5555");
    expect_prefixes_need_more(s, 28);
}

Test(v2, tcp6_with_tlvs_skipped)
{
    static const char s[] = V2SIG "\x21\x21\x00\x29"
        "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07"
        "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
        "\x15\xb3\x0a\xd7"
        "\x04\x00\x02\x00\x00"; /* a NOOP TLV */
    cr_assert_eq(parse(s, sizeof s - 1), PROXY_DONE);
    cr_assert_eq(h.len, 16 + 41);
    cr_assert_str_eq(source_text(), "[2001:db8::7]:5555");
}

Test(v2, local_command_keeps_the_socket_address)
{
    static const char s[] = V2SIG "\x20\x00\x00\x00";
    cr_assert_eq(parse(s, 16), PROXY_DONE);
    cr_assert(!h.has_source);
    cr_assert_eq(h.len, 16);
}

Test(v2, unspec_and_unix_keep_the_socket_address)
{
    static const char s[] = V2SIG "\x21\x00\x00\x00";
    cr_assert_eq(parse(s, 16), PROXY_DONE);
    cr_assert(!h.has_source);
}

Test(v2, malformed_headers_are_invalid)
{
    static const char badver[] = V2SIG "\x11\x11\x00\x0c" "123456789012";
    static const char badcmd[] = V2SIG "\x22\x11\x00\x0c" "123456789012";
    static const char udp[] = V2SIG "\x21\x12\x00\x0c" "123456789012";
    static const char fam[] = V2SIG "\x21\x41\x00\x0c" "123456789012";
    static const char short4[] = V2SIG "\x21\x11\x00\x08" "12345678";
    static const char short6[] = V2SIG "\x21\x21\x00\x0c" "123456789012";
    static const char huge[] = V2SIG "\x21\x11\xff\xff";
    cr_assert_eq(parse(badver, sizeof badver - 1), PROXY_INVALID);
    cr_assert_eq(parse(badcmd, sizeof badcmd - 1), PROXY_INVALID);
    cr_assert_eq(parse(udp, sizeof udp - 1), PROXY_INVALID);
    cr_assert_eq(parse(fam, sizeof fam - 1), PROXY_INVALID);
    cr_assert_eq(parse(short4, sizeof short4 - 1), PROXY_INVALID);
    cr_assert_eq(parse(short6, sizeof short6 - 1), PROXY_INVALID);
    /* a length past PROXY_MAX_LEN is refused at once, not waited for */
    cr_assert_eq(parse(huge, 16), PROXY_INVALID);
}

Test(v2, a_broken_signature_is_invalid)
{
    static const char s[] = "\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c";
    cr_assert_eq(parse(s, 10), PROXY_NEED_MORE); /* cannot tell yet */
    cr_assert_eq(parse(s, 16), PROXY_INVALID);
}
