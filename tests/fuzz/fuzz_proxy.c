/*
 * fuzz_proxy.c - libFuzzer target for the PROXY protocol header parser.
 *
 * The input is the first bytes of a connection. Checks, each with a trap:
 *  - DONE never claims more bytes than it was given, nor more than
 *    PROXY_MAX_LEN, and a source address, when given, is IPv4 or IPv6
 *    with the matching length;
 *  - the verdict on a prefix is consistent: every prefix of an input that
 *    parses is NEED_MORE (never INVALID), and the whole header parses the
 *    same when followed by any other bytes.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxyproto.h"

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_header h, again;
    enum proxy_result r = proxy_parse(data, size, &h);
    check(r == PROXY_DONE || r == PROXY_NEED_MORE || r == PROXY_INVALID);
    if (r != PROXY_DONE)
        return 0;
    check(h.len > 0 && h.len <= size && h.len <= PROXY_MAX_LEN);
    check(h.version == 1 || h.version == 2);
    if (h.has_source)
        check((h.source.ss_family == AF_INET &&
               h.source_len == sizeof(struct sockaddr_in)) ||
              (h.source.ss_family == AF_INET6 &&
               h.source_len == sizeof(struct sockaddr_in6)));
    for (size_t k = 0; k < h.len; k++)
        check(proxy_parse(data, k, &again) == PROXY_NEED_MORE);
    check(proxy_parse(data, h.len, &again) == PROXY_DONE);
    check(again.len == h.len && again.has_source == h.has_source &&
          memcmp(&again.source, &h.source, sizeof h.source) == 0);
    return 0;
}
