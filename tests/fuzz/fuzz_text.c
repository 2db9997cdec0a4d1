/*
 * fuzz_text.c - libFuzzer target for src/text.c.
 *
 * The input is read as every encoding at once: GSM septets, UTF-16BE,
 * Latin-1/9, UTF-8, a UDH, and raw septets to pack. Besides crashes and
 * sanitizer reports, each stage checks a round-trip invariant and traps
 * when it breaks:
 *   - X -> UTF-8 succeeds  =>  the UTF-8 is strict and UTF-8 -> X gives X
 *     back (for GSM7 only when every ESC has a known code: see text.h);
 *   - UTF-8 -> X succeeds  =>  X -> UTF-8 gives the input back;
 *   - text_count_parts agrees with the encoders and with a split of the
 *     encoded text by text_split_next, and every part decodes on its own
 *     (no escape or surrogate pair cut in two);
 *   - a parsed UDH obeys the concat rules and rebuilds to the same fields.
 */
#include "common.h"
#include "text.h"

#include <string.h>

#define MAX_IN (1u << 17)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char u8[4 * MAX_IN];
static uint8_t enc[4 * MAX_IN];
static char u8b[4 * MAX_IN];

#define CHECK(cond)                 \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

static int same(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/*
 * 1 when every ESC in <in> is followed by a code of the extension table,
 * so decoding is one-to-one. The codes are listed here again, from the
 * GSM 03.38 extension table (3GPP 23.038), rather than taken from text.c.
 */
static int gsm7_canonical(const uint8_t *in, size_t n)
{
    static const uint8_t ext[] = { 0x0A, 0x14, 0x28, 0x29, 0x2F,
                                   0x3C, 0x3D, 0x3E, 0x40, 0x65 };
    size_t i = 0;

    while (i < n) {
        if (in[i] != 0x1B) {
            i++;
            continue;
        }
        if (i + 1 >= n || !memchr(ext, in[i + 1], sizeof(ext)))
            return 0;
        i += 2;
    }
    return 1;
}

/* 1 when text.h says GSM7 decoding must succeed: no octet above 0x7F and
 * no ESC left without a code at the end. */
static int gsm7_decodable(const uint8_t *in, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (in[i] > 0x7F)
            return 0;
    }
    for (i = 0; i < n; i += in[i] == 0x1B ? 2 : 1) {
        if (in[i] == 0x1B && i + 1 == n)
            return 0;
    }
    return 1;
}

/* 1 when <in> is well-formed UTF-16BE: even length, every high surrogate
 * followed by a low one, no other low surrogate. */
static int utf16_well_formed(const uint8_t *in, size_t n)
{
    size_t i = 0;

    if (n % 2)
        return 0;
    while (i < n) {
        unsigned u = (unsigned)in[i] << 8 | in[i + 1];

        if (u >= 0xDC00 && u <= 0xDFFF)
            return 0;
        i += 2;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i == n || in[i] < 0xDC || in[i] > 0xDF)
                return 0;
            i += 2;
        }
    }
    return 1;
}

/*
 * Reference UTF-8 check straight from Unicode Table 3-7 (well-formed byte
 * sequences), to compare against the decoder in text.c.
 */
static int utf8_reference_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t c = s[i];
        uint8_t lo = 0x80, hi = 0xBF;
        size_t len, k;

        if (c <= 0x7F) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4;
        else
            return 0;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        else if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (k = 2; k < len; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        }
        i += len;
    }
    return 1;
}

/* Octets as each encoding -> UTF-8 -> back. */
static void fuzz_decoders(const uint8_t *data, size_t size)
{
    size_t len, blen;

    CHECK((text_gsm7_to_utf8(data, size, u8, sizeof(u8), &len) == 0) ==
          gsm7_decodable(data, size));
    if (gsm7_decodable(data, size)) {
        CHECK(text_utf8_validate(u8, len) == 0);
        CHECK(text_utf8_to_gsm7(u8, len, enc, sizeof(enc), &blen) == 0);
        CHECK(!gsm7_canonical(data, size) || same(enc, blen, data, size));
        CHECK(text_gsm7_to_utf8(enc, blen, u8b, sizeof(u8b), &blen) == 0);
        CHECK(same(u8b, blen, u8, len));
    }
    CHECK((text_ucs2_to_utf8(data, size, u8, sizeof(u8), &len) == 0) ==
          utf16_well_formed(data, size));
    if (utf16_well_formed(data, size)) {
        CHECK(text_utf8_validate(u8, len) == 0);
        CHECK(text_utf8_to_ucs2(u8, len, enc, sizeof(enc), &blen) == 0);
        CHECK(same(enc, blen, data, size));
    }
    CHECK(text_latin1_to_utf8(data, size, u8, sizeof(u8), &len) == 0);
    CHECK(text_utf8_validate(u8, len) == 0);
    CHECK(text_utf8_to_latin1(u8, len, enc, sizeof(enc), &blen) == 0);
    CHECK(same(enc, blen, data, size));
    CHECK(text_latin9_to_utf8(data, size, u8, sizeof(u8), &len) == 0);
    CHECK(text_utf8_validate(u8, len) == 0);
    CHECK(text_utf8_to_latin9(u8, len, enc, sizeof(enc), &blen) == 0);
    CHECK(same(enc, blen, data, size));
}

/* Octets as UTF-8 -> each encoding -> back. */
static void fuzz_encoders(const char *in, size_t size)
{
    int valid = text_utf8_validate(in, size) == 0;
    enum text_encoding e;
    size_t len, blen;

    CHECK(valid == utf8_reference_valid((const uint8_t *)in, size));
    for (e = TEXT_ENC_GSM7; e <= TEXT_ENC_LATIN9; e++) {
        int r = text_from_utf8(e, in, size, enc, sizeof(enc), &len);
        struct text_count c;

        CHECK(valid || r == -1);
        CHECK((text_count_parts_as(in, size, e, &c) == 0) == (r == 0));
        if (r != 0)
            continue;
        CHECK(text_to_utf8(e, enc, len, u8b, sizeof(u8b), &blen) == 0);
        CHECK(same(u8b, blen, in, size));
        CHECK(c.units == (e == TEXT_ENC_UCS2 ? len / 2 : len));
    }
    if (valid) {
        size_t septets = 0;
        int g = text_utf8_is_gsm7(in, size, &septets);

        CHECK(g == (text_utf8_to_gsm7(in, size, enc, sizeof(enc), &len) == 0));
        CHECK(!g || septets == len);
    } else {
        CHECK(text_utf8_is_gsm7(in, size, NULL) == -1);
    }
}

/*
 * Split encoded <e> text the way a sender would and check the result
 * against text_count_parts' <c>: same part count, no part needing its
 * neighbour to decode, and the parts together give back <in>.
 */
static void check_split(const char *in, size_t size, enum text_encoding e,
                        const struct text_count *c)
{
    size_t len, off = 0, parts = 0, out = 0, plen;
    size_t single = text_part_capacity(e, 0);
    size_t cap = text_part_capacity(e, 6);

    CHECK(text_from_utf8(e, in, size, enc, sizeof(enc), &len) == 0);
    if (len <= single) {
        CHECK(c->parts == 1);
        return;
    }
    while (off < len) {
        size_t k = text_split_next(e, enc + off, len - off, cap);

        CHECK(k > 0 && k <= cap);
        CHECK(text_to_utf8(e, enc + off, k, u8b + out, sizeof(u8b) - out,
                           &plen) == 0);
        out += plen;
        off += k;
        parts++;
    }
    CHECK(parts == c->parts);
    CHECK(same(u8b, out, in, size));
}

static void fuzz_count(const char *in, size_t size)
{
    struct text_count c;
    int g;

    if (text_count_parts(in, size, &c) != 0) {
        CHECK(text_utf8_validate(in, size) == -1);
        return;
    }
    g = text_utf8_is_gsm7(in, size, NULL);
    CHECK(c.encoding == (g ? TEXT_ENC_GSM7 : TEXT_ENC_UCS2));
    CHECK(c.parts >= 1 && c.chars <= size && c.units >= c.chars);
    check_split(in, size, c.encoding, &c);
}

static void fuzz_udh(const uint8_t *data, size_t size)
{
    struct text_udh u, v;
    uint8_t b[8];
    size_t n;

    if (text_udh_parse(data, size, &u) != 0)
        return;
    CHECK(u.udh_len == (size_t)data[0] + 1 && u.udh_len <= size);
    if (!u.concat.present)
        return;
    CHECK(u.concat.total >= 1 && u.concat.seq >= 1);
    CHECK(u.concat.seq <= u.concat.total);
    n = text_udh_build_concat(b, sizeof(b), u.concat.ref, u.concat.total,
                              u.concat.seq, u.concat.ref16);
    CHECK(n == (u.concat.ref16 ? 7u : 6u));
    CHECK(text_udh_parse(b, n, &v) == 0);
    CHECK(memcmp(&u.concat, &v.concat, sizeof(u.concat)) == 0);
}

/* The input's low 7 bits as septets, packed after size % 7 fill bits. */
static void fuzz_pack(const uint8_t *data, size_t size)
{
    unsigned fill = (unsigned)(size % 7);
    size_t i, len;

    for (i = 0; i < size; i++)
        enc[i] = data[i] & 0x7F;
    CHECK(text_gsm7_pack(enc, size, fill, (uint8_t *)u8, sizeof(u8), &len)
          == 0);
    CHECK(len == (size ? (fill + 7 * size + 7) / 8 : 0));
    CHECK(text_gsm7_unpack((uint8_t *)u8, len, fill, size, (uint8_t *)u8b,
                           sizeof(u8b)) == 0);
    CHECK(same(u8b, size, enc, size));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    if (size > MAX_IN)
        return 0;
    fuzz_decoders(data, size);
    fuzz_encoders(s, size);
    fuzz_count(s, size);
    fuzz_udh(data, size);
    fuzz_pack(data, size);
    return 0;
}
