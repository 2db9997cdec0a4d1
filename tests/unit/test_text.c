/*
 * test_text.c - GSM 03.38, UCS-2, Latin-1/9, UTF-8, parts, UDH and SAR.
 *
 * Expected bytes are written out by hand from the GSM 03.38 tables
 * (3GPP 23.038), the 23.040 UDH layout and the Unicode charts, never
 * produced by the code under test. Non-ASCII text is spelled with \u
 * escapes so look-alike glyphs (Ω U+03A9 against the ohm sign U+2126)
 * cannot slip in; the glyph is in a comment beside it.
 */
#define _DEFAULT_SOURCE         /* MAP_ANONYMOUS for the guard page */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "text.h"

#define CANARY 0xA5
#define SLACK 16

/* Hex dump of <p>[0..n) into <dst> for failure messages. */
static const char *hex(const void *p, size_t n, char *dst, size_t cap)
{
    const uint8_t *b = p;
    size_t i, pos = 0;

    dst[0] = '\0';
    for (i = 0; i < n && pos + 4 < cap; i++)
        pos += (size_t)snprintf(dst + pos, cap - pos, "%02X ", b[i]);
    return dst;
}

static void expect_bytes(const void *got, size_t got_len, const void *want,
                         size_t want_len)
{
    char g[512], w[512];

    cr_assert(got_len == want_len && memcmp(got, want, want_len) == 0,
              "got [%s] (%zu), want [%s] (%zu)",
              hex(got, got_len, g, sizeof(g)), got_len,
              hex(want, want_len, w, sizeof(w)), want_len);
}

/* Fresh output buffer: <cap> usable bytes followed by SLACK canaries. */
static uint8_t *canary_buf(size_t cap)
{
    uint8_t *b = malloc(cap + SLACK);

    cr_assert_not_null(b);
    memset(b, CANARY, cap + SLACK);
    return b;
}

static void expect_canaries(const uint8_t *b, size_t cap)
{
    size_t i;

    for (i = cap; i < cap + SLACK; i++)
        cr_assert_eq(b[i], CANARY, "byte %zu past cap %zu was written", i,
                     cap);
}

/*
 * Copy <n> bytes so they end flush against a PROT_NONE page: any read past
 * the input faults, in plain builds as well as under ASan.
 */
static const uint8_t *guarded(const void *src, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *map;

    cr_assert(n <= page);
    map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(map != MAP_FAILED);
    cr_assert_eq(mprotect(map + page, page, PROT_NONE), 0);
    if (n > 0)
        memcpy(map + page - n, src, n);
    return map + page - n;
}

/* <count> copies of the <len>-byte UTF-8 string <unit> into <dst>. */
static size_t repeat(char *dst, size_t cap, const char *unit, size_t count)
{
    size_t len = strlen(unit), i;

    cr_assert(len * count <= cap);
    for (i = 0; i < count; i++)
        memcpy(dst + i * len, unit, len);
    return len * count;
}

/* ---- GSM 03.38 basic table ------------------------------------------- */

/* The GSM 03.38 default alphabet (3GPP 23.038), row by row; NULL is ESC. */
static const char *const gsm_basic_utf8[128] = {
    /* 0x00 */ "@", "\u00A3" /* £ */, "$", "\u00A5" /* ¥ */,
    "\u00E8" /* è */, "\u00E9" /* é */, "\u00F9" /* ù */, "\u00EC" /* ì */,
    "\u00F2" /* ò */, "\u00C7" /* Ç */, "\n", "\u00D8" /* Ø */,
    "\u00F8" /* ø */, "\r", "\u00C5" /* Å */, "\u00E5" /* å */,
    /* 0x10 */ "\u0394" /* Δ */, "_", "\u03A6" /* Φ */, "\u0393" /* Γ */,
    "\u039B" /* Λ */, "\u03A9" /* Ω */, "\u03A0" /* Π */, "\u03A8" /* Ψ */,
    "\u03A3" /* Σ */, "\u0398" /* Θ */, "\u039E" /* Ξ */, NULL,
    "\u00C6" /* Æ */, "\u00E6" /* æ */, "\u00DF" /* ß */, "\u00C9" /* É */,
    /* 0x20 */ " ", "!", "\"", "#", "\u00A4" /* ¤ */, "%", "&", "'",
    "(", ")", "*", "+", ",", "-", ".", "/",
    /* 0x30 */ "0", "1", "2", "3", "4", "5", "6", "7",
    "8", "9", ":", ";", "<", "=", ">", "?",
    /* 0x40 */ "\u00A1" /* ¡ */, "A", "B", "C", "D", "E", "F", "G",
    "H", "I", "J", "K", "L", "M", "N", "O",
    /* 0x50 */ "P", "Q", "R", "S", "T", "U", "V", "W",
    "X", "Y", "Z", "\u00C4" /* Ä */, "\u00D6" /* Ö */, "\u00D1" /* Ñ */,
    "\u00DC" /* Ü */, "\u00A7" /* § */,
    /* 0x60 */ "\u00BF" /* ¿ */, "a", "b", "c", "d", "e", "f", "g",
    "h", "i", "j", "k", "l", "m", "n", "o",
    /* 0x70 */ "p", "q", "r", "s", "t", "u", "v", "w",
    "x", "y", "z", "\u00E4" /* ä */, "\u00F6" /* ö */, "\u00F1" /* ñ */,
    "\u00FC" /* ü */, "\u00E0" /* à */,
};

static const struct {
    uint8_t code;
    const char *utf8;
} gsm_ext_utf8[] = {
    { 0x0A, "\f" }, { 0x14, "^" }, { 0x28, "{" }, { 0x29, "}" },
    { 0x2F, "\\" }, { 0x3C, "[" }, { 0x3D, "~" }, { 0x3E, "]" },
    { 0x40, "|" }, { 0x65, "\u20AC" /* € */ },
};

Test(gsm7, every_basic_char_decodes)
{
    char out[8];
    size_t len;
    uint8_t s;

    for (s = 0; s < 128; s++) {
        if (s == TEXT_GSM7_ESC)
            continue;
        cr_assert_eq(text_gsm7_to_utf8(&s, 1, out, sizeof(out), &len), 0,
                     "septet %02X", s);
        expect_bytes(out, len, gsm_basic_utf8[s], strlen(gsm_basic_utf8[s]));
    }
}

Test(gsm7, every_basic_char_encodes)
{
    uint8_t out[4];
    size_t len;
    uint8_t s;

    for (s = 0; s < 128; s++) {
        const char *u = gsm_basic_utf8[s];

        if (s == TEXT_GSM7_ESC)
            continue;
        cr_assert_eq(text_utf8_to_gsm7(u, strlen(u), out, sizeof(out), &len),
                     0, "septet %02X", s);
        expect_bytes(out, len, &s, 1);
    }
}

Test(gsm7, whole_table_round_trips_in_one_buffer)
{
    uint8_t septets[127], back[127];
    char want[400], got[400];
    size_t n = 0, wlen = 0, glen, blen;
    int s;

    for (s = 0; s < 128; s++) {
        if (s == TEXT_GSM7_ESC)
            continue;
        septets[n++] = (uint8_t)s;
        memcpy(want + wlen, gsm_basic_utf8[s], strlen(gsm_basic_utf8[s]));
        wlen += strlen(gsm_basic_utf8[s]);
    }
    cr_assert_eq(text_gsm7_to_utf8(septets, n, got, sizeof(got), &glen), 0);
    expect_bytes(got, glen, want, wlen);
    cr_assert_eq(text_utf8_to_gsm7(got, glen, back, sizeof(back), &blen), 0);
    expect_bytes(back, blen, septets, n);
}

Test(gsm7, every_extension_char_is_esc_plus_code)
{
    uint8_t enc[4], pair[2];
    char dec[8];
    size_t i, len;

    for (i = 0; i < ARRAY_LEN(gsm_ext_utf8); i++) {
        const char *u = gsm_ext_utf8[i].utf8;

        pair[0] = 0x1B;
        pair[1] = gsm_ext_utf8[i].code;
        cr_assert_eq(text_utf8_to_gsm7(u, strlen(u), enc, sizeof(enc), &len),
                     0, "ext %02X", pair[1]);
        expect_bytes(enc, len, pair, 2);
        cr_assert_eq(text_gsm7_to_utf8(pair, 2, dec, sizeof(dec), &len), 0);
        expect_bytes(dec, len, u, strlen(u));
    }
}

Test(gsm7, euro_is_1b_65)
{
    static const uint8_t want[] = { 0x31, 0x30, 0x1B, 0x65 };
    uint8_t out[8];
    size_t len;

    cr_assert_eq(text_utf8_to_gsm7("10\xE2\x82\xAC", 5, out, sizeof(out),
                                   &len), 0);
    expect_bytes(out, len, want, sizeof(want));
}

Test(gsm7, at_sign_is_0x00_and_survives)
{
    static const uint8_t sep[] = { 0x00, 0x00, 0x61, 0x00 };
    uint8_t enc[8];
    char dec[8];
    size_t len;

    cr_assert_eq(text_utf8_to_gsm7("@@a@", 4, enc, sizeof(enc), &len), 0);
    expect_bytes(enc, len, sep, sizeof(sep));
    cr_assert_eq(text_gsm7_to_utf8(sep, sizeof(sep), dec, sizeof(dec), &len),
                 0);
    expect_bytes(dec, len, "@@a@", 4);
}

Test(gsm7, dollar_is_0x02_and_0x24_is_currency_sign)
{
    static const uint8_t s24 = 0x24;
    uint8_t enc[4];
    char dec[4];
    size_t len;

    cr_assert_eq(text_utf8_to_gsm7("$", 1, enc, sizeof(enc), &len), 0);
    expect_bytes(enc, len, "\x02", 1);
    cr_assert_eq(text_gsm7_to_utf8(&s24, 1, dec, sizeof(dec), &len), 0);
    expect_bytes(dec, len, "\xC2\xA4", 2);
    cr_assert_eq(text_utf8_to_gsm7("\xC2\xA4", 2, enc, sizeof(enc), &len), 0);
    expect_bytes(enc, len, "\x24", 1);
}

Test(gsm7, ascii_differences)
{
    static const uint8_t s40 = 0x40, s5f = 0x5F, s60 = 0x60;
    char dec[4];
    size_t len;

    cr_assert_eq(text_gsm7_to_utf8(&s40, 1, dec, sizeof(dec), &len), 0);
    expect_bytes(dec, len, "\xC2\xA1", 2);          /* ¡ */
    cr_assert_eq(text_gsm7_to_utf8(&s5f, 1, dec, sizeof(dec), &len), 0);
    expect_bytes(dec, len, "\xC2\xA7", 2);          /* § */
    cr_assert_eq(text_gsm7_to_utf8(&s60, 1, dec, sizeof(dec), &len), 0);
    expect_bytes(dec, len, "\xC2\xBF", 2);          /* ¿ */
}

Test(gsm7, non_gsm_chars_rejected)
{
    static const char *const bad[] = {
        "`", "\u00E7" /* ç */, "\u00E1" /* á */, "\u042F" /* Я */,
        "\u2126" /* ohm sign, not Ω */, "\U0001F600", "\t",
    };
    uint8_t out[8];
    size_t i, len = 99;

    for (i = 0; i < ARRAY_LEN(bad); i++)
        cr_assert_eq(text_utf8_to_gsm7(bad[i], strlen(bad[i]), out,
                                       sizeof(out), &len), -1, "%s", bad[i]);
    cr_assert_eq(text_utf8_to_gsm7("a\0b", 3, out, sizeof(out), &len), -1,
                 "U+0000 has no septet (0x00 is '@')");
    cr_assert_eq(len, 99, "out_len untouched on failure");
}

Test(gsm7, octet_above_7f_rejected)
{
    static const uint8_t a[] = { 0x41, 0x80 }, b[] = { 0xFF },
                         c[] = { 0x1B, 0xE5 };
    char out[16];
    size_t len;

    cr_assert_eq(text_gsm7_to_utf8(a, sizeof(a), out, sizeof(out), &len), -1);
    cr_assert_eq(text_gsm7_to_utf8(b, sizeof(b), out, sizeof(out), &len), -1);
    cr_assert_eq(text_gsm7_to_utf8(c, sizeof(c), out, sizeof(out), &len), -1);
}

Test(gsm7, lone_esc_at_end_rejected)
{
    static const uint8_t a[] = { 0x41, 0x1B }, b[] = { 0x1B };
    char out[16];
    size_t len;

    cr_assert_eq(text_gsm7_to_utf8(a, sizeof(a), out, sizeof(out), &len), -1);
    cr_assert_eq(text_gsm7_to_utf8(b, sizeof(b), out, sizeof(out), &len), -1);
}

Test(gsm7, unknown_escape_decodes_as_basic_char)
{
    static const uint8_t in[] = { 0x1B, 0x41, 0x1B, 0x00, 0x1B, 0x1B, 0x62 };
    char out[16];
    size_t len;

    /* ESC A -> A, ESC @ -> @, ESC ESC -> space (23.038), then b */
    cr_assert_eq(text_gsm7_to_utf8(in, sizeof(in), out, sizeof(out), &len),
                 0);
    expect_bytes(out, len, "A@ b", 4);
}

Test(gsm7, is_gsm7_counts_extension_twice)
{
    size_t septets = 0;

    cr_assert_eq(text_utf8_is_gsm7("a{b}\xE2\x82\xAC", 7, &septets), 1);
    cr_assert_eq(septets, 8);
    cr_assert_eq(text_utf8_is_gsm7("", 0, &septets), 1);
    cr_assert_eq(septets, 0);
    cr_assert_eq(text_utf8_is_gsm7("a\xC3\xA7", 3, &septets), 0);  /* ç */
    cr_assert_eq(text_utf8_is_gsm7("\xC3\xA7\xC0\xAF", 4, NULL), -1);
    cr_assert_eq(text_utf8_is_gsm7("\xE2\x82", 2, NULL), -1);
}

Test(gsm7, output_too_small)
{
    static const uint8_t sep[] = { 0x41, 0x01 };        /* A£ */
    uint8_t *out = canary_buf(2);
    size_t len = 99;

    /* "A£" needs 3 UTF-8 bytes; the £ must not be half-written past 2. */
    cr_assert_eq(text_gsm7_to_utf8(sep, 2, (char *)out, 2, &len), -1);
    expect_canaries(out, 2);
    memset(out, CANARY, 2 + SLACK);
    cr_assert_eq(text_gsm7_to_utf8(sep, 2, (char *)out, 0, &len), -1);
    expect_canaries(out, 0);
    /* "a€" needs 3 septets */
    cr_assert_eq(text_utf8_to_gsm7("a\xE2\x82\xAC", 4, out, 2, &len), -1);
    expect_canaries(out, 2);
    cr_assert_eq(len, 99);
    free(out);
}

/* ---- UTF-8 ------------------------------------------------------------ */

Test(utf8, decode_boundaries)
{
    static const struct {
        const char *s;
        uint32_t cp;
    } v[] = {
        { "\x7F", 0x7F }, { "\xC2\x80", 0x80 }, { "\xDF\xBF", 0x7FF },
        { "\xE0\xA0\x80", 0x800 }, { "\xED\x9F\xBF", 0xD7FF },
        { "\xEE\x80\x80", 0xE000 }, { "\xEF\xBF\xBF", 0xFFFF },
        { "\xF0\x90\x80\x80", 0x10000 }, { "\xF4\x8F\xBF\xBF", 0x10FFFF },
    };
    size_t i;

    for (i = 0; i < ARRAY_LEN(v); i++) {
        uint32_t cp = 0;
        size_t n = strlen(v[i].s);

        cr_assert_eq(text_utf8_decode(v[i].s, n, &cp), (int)n, "#%zu", i);
        cr_assert_eq(cp, v[i].cp, "#%zu: %X", i, cp);
    }
    cr_assert_eq(text_utf8_decode("\0", 1, &(uint32_t){ 1 }), 1);
}

Test(utf8, invalid_sequences_rejected)
{
    static const char *const bad[] = {
        "\xC0\xAF",             /* overlong '/' */
        "\xC1\xBF",             /* overlong */
        "\xE0\x80\xAF",         /* overlong 3-byte */
        "\xE0\x9F\xBF",         /* overlong U+07FF */
        "\xF0\x80\x80\xAF",     /* overlong 4-byte */
        "\xF0\x8F\xBF\xBF",     /* overlong U+FFFF */
        "\xED\xA0\x80",         /* U+D800 encoded */
        "\xED\xBF\xBF",         /* U+DFFF encoded */
        "\xF4\x90\x80\x80",     /* U+110000 */
        "\xF5\x80\x80\x80", "\xFE", "\xFF",
        "\x80", "\xBF",         /* stray continuation */
        "\xE2\x82",             /* truncated € */
        "\xF0\x9F\x98",         /* truncated emoji */
        "\xC3",                 /* truncated é */
        "\xE2\x28\xA1",         /* bad continuation */
    };
    size_t i;
    uint32_t cp;

    for (i = 0; i < ARRAY_LEN(bad); i++) {
        cr_assert_eq(text_utf8_decode(bad[i], strlen(bad[i]), &cp), -1,
                     "#%zu", i);
        cr_assert_eq(text_utf8_validate(bad[i], strlen(bad[i])), -1);
    }
    cr_assert_eq(text_utf8_decode("", 0, &cp), -1);
    cr_assert_eq(text_utf8_validate("ok\xC0\xAF", 4), -1);
    cr_assert_eq(text_utf8_validate("ok\xE2\x82\xAC", 5), 0);
    cr_assert_eq(text_utf8_validate("", 0), 0);
}

Test(utf8, decode_respects_n)
{
    uint32_t cp;

    /* Valid bytes beyond <n> must not complete a sequence. */
    cr_assert_eq(text_utf8_decode("\xE2\x82\xAC", 2, &cp), -1);
    cr_assert_eq(text_utf8_decode("\xF0\x9F\x98\x80", 3, &cp), -1);
}

Test(utf8, encode)
{
    char out[8];

    cr_assert_eq(text_utf8_encode(0x20AC, out, sizeof(out)), 3);
    expect_bytes(out, 3, "\xE2\x82\xAC", 3);
    cr_assert_eq(text_utf8_encode(0x1F600, out, sizeof(out)), 4);
    expect_bytes(out, 4, "\xF0\x9F\x98\x80", 4);
    cr_assert_eq(text_utf8_encode(0xD800, out, sizeof(out)), -1);
    cr_assert_eq(text_utf8_encode(0x110000, out, sizeof(out)), -1);
    cr_assert_eq(text_utf8_encode(0x20AC, out, 2), -1);
    cr_assert_eq(text_utf8_encode(0x41, out, 0), -1);
}

/* ---- UCS-2 / UTF-16BE ------------------------------------------------- */

Test(ucs2, bmp_round_trip)
{
    static const uint8_t u16[] = { 0x00, 0x48, 0x00, 0x69, 0x20, 0xAC,
                                   0x04, 0x2F, 0x00, 0x00 };
    static const char u8s[] = "Hi\xE2\x82\xAC\xD0\xAF";    /* Hi€Я + NUL */
    uint8_t enc[16];
    char dec[16];
    size_t len;

    cr_assert_eq(text_ucs2_to_utf8(u16, sizeof(u16), dec, sizeof(dec), &len),
                 0);
    expect_bytes(dec, len, u8s, sizeof(u8s));      /* U+0000 included */
    cr_assert_eq(text_utf8_to_ucs2(u8s, sizeof(u8s), enc, sizeof(enc), &len),
                 0);
    expect_bytes(enc, len, u16, sizeof(u16));
}

Test(ucs2, emoji_is_surrogate_pair)
{
    static const uint8_t u16[] = { 0xD8, 0x3D, 0xDE, 0x00 };
    static const uint8_t max[] = { 0xDB, 0xFF, 0xDF, 0xFF };
    uint8_t enc[8];
    char dec[8];
    size_t len;

    cr_assert_eq(text_utf8_to_ucs2("\xF0\x9F\x98\x80", 4, enc, sizeof(enc),
                                   &len), 0);
    expect_bytes(enc, len, u16, sizeof(u16));
    cr_assert_eq(text_ucs2_to_utf8(u16, 4, dec, sizeof(dec), &len), 0);
    expect_bytes(dec, len, "\xF0\x9F\x98\x80", 4);
    cr_assert_eq(text_ucs2_to_utf8(max, 4, dec, sizeof(dec), &len), 0);
    expect_bytes(dec, len, "\xF4\x8F\xBF\xBF", 4);  /* U+10FFFF */
}

Test(ucs2, malformed_utf16_rejected)
{
    static const struct {
        uint8_t b[6];
        size_t n;
    } bad[] = {
        { { 0x00, 0x41, 0x00 }, 3 },                /* odd length */
        { { 0x00 }, 1 },
        { { 0xD8, 0x3D }, 2 },                      /* lone high at end */
        { { 0xD8, 0x3D, 0x00, 0x41 }, 4 },          /* high then BMP */
        { { 0xD8, 0x3D, 0xD8, 0x3D }, 4 },          /* high then high */
        { { 0xDE, 0x00, 0xD8, 0x3D }, 4 },          /* low before high */
        { { 0x00, 0x41, 0xDC, 0x00 }, 4 },          /* lone low */
        { { 0xD8, 0x3D, 0xDE, 0x00, 0xDE }, 5 },    /* pair then odd */
    };
    char out[16];
    size_t i, len;

    for (i = 0; i < ARRAY_LEN(bad); i++)
        cr_assert_eq(text_ucs2_to_utf8(bad[i].b, bad[i].n, out, sizeof(out),
                                       &len), -1, "#%zu", i);
}

Test(ucs2, invalid_utf8_rejected)
{
    uint8_t out[16];
    size_t len;

    cr_assert_eq(text_utf8_to_ucs2("\xC0\xAF", 2, out, sizeof(out), &len), -1);
    cr_assert_eq(text_utf8_to_ucs2("\xED\xA0\x80", 3, out, sizeof(out), &len),
                 -1);
    cr_assert_eq(text_utf8_to_ucs2("a\xF0\x9F\x98", 4, out, sizeof(out),
                                   &len), -1);
}

Test(ucs2, output_too_small)
{
    uint8_t *out = canary_buf(5);
    char *u8 = (char *)canary_buf(3);
    static const uint8_t pair[] = { 0xD8, 0x3D, 0xDE, 0x00 };
    size_t len;

    /* 'a' fits (2 octets), the pair needs 4 more but only 3 remain */
    cr_assert_eq(text_utf8_to_ucs2("a\xF0\x9F\x98\x80", 5, out, 5, &len), -1);
    expect_canaries(out, 5);
    cr_assert_eq(text_ucs2_to_utf8(pair, 4, u8, 3, &len), -1);
    expect_canaries((uint8_t *)u8, 3);
    free(out);
    free(u8);
}

/* ---- Latin-1 and Latin-9 ---------------------------------------------- */

/* UTF-8 of code point <cp> below U+0800, built by hand for the test. */
static size_t utf8_small(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* ISO-8859-15 octets that differ from Latin-1, with their UTF-8. */
static const struct {
    uint8_t octet;
    const char *latin9;
} latin9_table[] = {
    { 0xA4, "\xE2\x82\xAC" },   /* € U+20AC */
    { 0xA6, "\xC5\xA0" },       /* Š U+0160 */
    { 0xA8, "\xC5\xA1" },       /* š U+0161 */
    { 0xB4, "\xC5\xBD" },       /* Ž U+017D */
    { 0xB8, "\xC5\xBE" },       /* ž U+017E */
    { 0xBC, "\xC5\x92" },       /* Œ U+0152 */
    { 0xBD, "\xC5\x93" },       /* œ U+0153 */
    { 0xBE, "\xC5\xB8" },       /* Ÿ U+0178 */
};

Test(latin, every_latin1_octet_round_trips)
{
    char want[4], dec[4];
    uint8_t back[2];
    size_t wlen, len;
    int c;

    for (c = 0; c < 256; c++) {
        uint8_t o = (uint8_t)c;

        wlen = utf8_small((uint32_t)c, want);
        cr_assert_eq(text_latin1_to_utf8(&o, 1, dec, sizeof(dec), &len), 0);
        expect_bytes(dec, len, want, wlen);
        cr_assert_eq(text_utf8_to_latin1(dec, len, back, sizeof(back), &len),
                     0);
        expect_bytes(back, len, &o, 1);
    }
}

Test(latin, latin9_differs_at_eight_octets)
{
    char dec[8];
    uint8_t back[2];
    size_t i, len;
    int c;

    for (i = 0; i < ARRAY_LEN(latin9_table); i++) {
        const char *u = latin9_table[i].latin9;
        uint8_t o = latin9_table[i].octet;

        cr_assert_eq(text_latin9_to_utf8(&o, 1, dec, sizeof(dec), &len), 0);
        expect_bytes(dec, len, u, strlen(u));
        cr_assert_eq(text_utf8_to_latin9(u, strlen(u), back, 2, &len), 0);
        expect_bytes(back, len, &o, 1);
        cr_assert_eq(text_utf8_to_latin1(u, strlen(u), back, 2, &len), -1);
        /* The Latin-1 character Latin-9 displaced is not in Latin-9. */
        len = utf8_small(o, dec);
        cr_assert_eq(text_utf8_to_latin9(dec, len, back, 2, &len), -1);
    }
    /* Every other octet matches Latin-1. */
    for (c = 0; c < 256; c++) {
        uint8_t o = (uint8_t)c;
        char want[4];
        size_t wlen = utf8_small((uint32_t)c, want);
        int differs = 0;

        for (i = 0; i < ARRAY_LEN(latin9_table); i++)
            differs |= latin9_table[i].octet == o;
        if (differs)
            continue;
        cr_assert_eq(text_latin9_to_utf8(&o, 1, dec, sizeof(dec), &len), 0);
        expect_bytes(dec, len, want, wlen);
    }
}

Test(latin, euro_in_each_charset)
{
    uint8_t out[4];
    char dec[8];
    size_t len;

    cr_assert_eq(text_utf8_to_latin9("5\xE2\x82\xAC", 4, out, 4, &len), 0);
    expect_bytes(out, len, "5\xA4", 2);
    cr_assert_eq(text_utf8_to_latin1("5\xE2\x82\xAC", 4, out, 4, &len), -1);
    cr_assert_eq(text_latin1_to_utf8((const uint8_t *)"\xA4", 1, dec, 8, &len),
                 0);
    expect_bytes(dec, len, "\xC2\xA4", 2);          /* ¤ */
    cr_assert_eq(text_utf8_to_latin1("\xC5\x81", 2, out, 4, &len), -1); /* Ł */
}

Test(latin, output_too_small)
{
    static const uint8_t in[] = { 0x41, 0xE9 };     /* Aé */
    char *out = (char *)canary_buf(2);
    uint8_t *o8 = canary_buf(1);
    size_t len;

    cr_assert_eq(text_latin1_to_utf8(in, 2, out, 2, &len), -1);
    expect_canaries((uint8_t *)out, 2);
    cr_assert_eq(text_utf8_to_latin9("ab", 2, o8, 1, &len), -1);
    expect_canaries(o8, 1);
    free(out);
    free(o8);
}

Test(latin, dispatch_by_encoding)
{
    static const uint8_t in = 0xA4;
    char out[8];
    size_t len;

    cr_assert_eq(text_to_utf8(TEXT_ENC_LATIN9, &in, 1, out, 8, &len), 0);
    expect_bytes(out, len, "\xE2\x82\xAC", 3);
    cr_assert_eq(text_to_utf8(TEXT_ENC_LATIN1, &in, 1, out, 8, &len), 0);
    expect_bytes(out, len, "\xC2\xA4", 2);
    cr_assert_eq(text_to_utf8((enum text_encoding)42, &in, 1, out, 8, &len),
                 -1);
    cr_assert_eq(text_from_utf8(TEXT_ENC_GSM7, "$", 1, (uint8_t *)out, 8,
                                &len), 0);
    expect_bytes(out, len, "\x02", 1);
    cr_assert_str_eq(text_encoding_name(TEXT_ENC_LATIN9), "latin9");
}

/* ---- Part counting ---------------------------------------------------- */

static struct text_count count(const char *s, size_t n)
{
    struct text_count c;

    cr_assert_eq(text_count_parts(s, n, &c), 0);
    return c;
}

static void expect_count(struct text_count c, enum text_encoding enc,
                         size_t chars, size_t units, size_t parts)
{
    cr_assert_eq(c.encoding, enc);
    cr_assert_eq(c.chars, chars, "chars %zu want %zu", c.chars, chars);
    cr_assert_eq(c.units, units, "units %zu want %zu", c.units, units);
    cr_assert_eq(c.parts, parts, "parts %zu want %zu", c.parts, parts);
}

Test(parts, capacities)
{
    cr_assert_eq(text_part_capacity(TEXT_ENC_GSM7, 0), 160);
    cr_assert_eq(text_part_capacity(TEXT_ENC_GSM7, 6), 153);
    cr_assert_eq(text_part_capacity(TEXT_ENC_GSM7, 7), 152);
    cr_assert_eq(text_part_capacity(TEXT_ENC_UCS2, 0), 140);
    cr_assert_eq(text_part_capacity(TEXT_ENC_UCS2, 6), 134);
    cr_assert_eq(text_part_capacity(TEXT_ENC_UCS2, 7), 132);
    cr_assert_eq(text_part_capacity(TEXT_ENC_LATIN1, 6), 134);
    cr_assert_eq(text_part_capacity(TEXT_ENC_LATIN9, 7), 133);
    cr_assert_eq(text_part_capacity(TEXT_ENC_GSM7, 140), 0);
}

Test(parts, gsm7_boundaries)
{
    static char s[1000];
    struct text_count c;

    c = count(s, repeat(s, sizeof(s), "a", 160));
    expect_count(c, TEXT_ENC_GSM7, 160, 160, 1);
    cr_assert_eq(c.last_free, 0);
    c = count(s, repeat(s, sizeof(s), "a", 161));
    expect_count(c, TEXT_ENC_GSM7, 161, 161, 2);
    cr_assert_eq(c.last_free, 153 - 8);
    expect_count(count(s, repeat(s, sizeof(s), "a", 306)), TEXT_ENC_GSM7,
                 306, 306, 2);
    expect_count(count(s, repeat(s, sizeof(s), "a", 307)), TEXT_ENC_GSM7,
                 307, 307, 3);
    /* 80 euros = 160 septets, one more char tips it over */
    expect_count(count(s, repeat(s, sizeof(s), "\xE2\x82\xAC", 80)),
                 TEXT_ENC_GSM7, 80, 160, 1);
    c = count(s, 0);
    expect_count(c, TEXT_ENC_GSM7, 0, 0, 1);
    cr_assert_eq(c.last_free, 160);
}

Test(parts, ucs2_boundaries)
{
    static char s[1000];

    /* Я is U+042F: not GSM, one UTF-16 unit */
    expect_count(count(s, repeat(s, sizeof(s), "\xD0\xAF", 70)),
                 TEXT_ENC_UCS2, 70, 70, 1);
    expect_count(count(s, repeat(s, sizeof(s), "\xD0\xAF", 71)),
                 TEXT_ENC_UCS2, 71, 71, 2);
    expect_count(count(s, repeat(s, sizeof(s), "\xD0\xAF", 134)),
                 TEXT_ENC_UCS2, 134, 134, 2);
    expect_count(count(s, repeat(s, sizeof(s), "\xD0\xAF", 135)),
                 TEXT_ENC_UCS2, 135, 135, 3);
    /* 35 emoji = 70 units: one part */
    expect_count(count(s, repeat(s, sizeof(s), "\xF0\x9F\x98\x80", 35)),
                 TEXT_ENC_UCS2, 35, 70, 1);
}

Test(parts, one_non_gsm_char_switches_to_ucs2)
{
    static char s[200];
    size_t n = repeat(s, sizeof(s), "a", 100);

    memcpy(s + n, "\xC3\xA7", 2);                   /* ç */
    expect_count(count(s, n + 2), TEXT_ENC_UCS2, 101, 101, 2);
}

/*
 * 152 'a' + '€' + 152 'a' = 306 septets: ceil(306 / 153) would say 2, but
 * the escape cannot straddle parts 1 and 2, so it moves and a 3rd part holds
 * the last 'a'. The splitter agrees on the encoded bytes.
 */
Test(parts, escape_at_part_boundary_moves_to_next_part)
{
    static char s[400];
    static uint8_t g[400];
    size_t n = repeat(s, sizeof(s), "a", 152), glen, k, off = 0;
    static const size_t want[] = { 152, 153, 1 };

    memcpy(s + n, "\xE2\x82\xAC", 3);
    n += 3;
    n += repeat(s + n, sizeof(s) - n, "a", 152);
    expect_count(count(s, n), TEXT_ENC_GSM7, 305, 306, 3);
    cr_assert_eq(text_utf8_to_gsm7(s, n, g, sizeof(g), &glen), 0);
    cr_assert_eq(glen, 306);
    for (k = 0; k < ARRAY_LEN(want); k++) {
        size_t part = text_split_next(TEXT_ENC_GSM7, g + off, glen - off, 153);

        cr_assert_eq(part, want[k], "part %zu: %zu", k, part);
        off += part;
    }
    cr_assert_eq(g[152], 0x1B);
    cr_assert_eq(off, glen);
}

/* 66 Я + 😀 + 66 Я = 134 units, but the pair moves: 3 parts. */
Test(parts, surrogate_pair_at_part_boundary_moves_to_next_part)
{
    static char s[600];
    static uint8_t u[600];
    size_t n = repeat(s, sizeof(s), "\xD0\xAF", 66), ulen, k, off = 0;
    static const size_t want[] = { 132, 134, 2 };

    memcpy(s + n, "\xF0\x9F\x98\x80", 4);
    n += 4;
    n += repeat(s + n, sizeof(s) - n, "\xD0\xAF", 66);
    expect_count(count(s, n), TEXT_ENC_UCS2, 133, 134, 3);
    cr_assert_eq(text_utf8_to_ucs2(s, n, u, sizeof(u), &ulen), 0);
    for (k = 0; k < ARRAY_LEN(want); k++) {
        size_t part = text_split_next(TEXT_ENC_UCS2, u + off, ulen - off, 134);

        cr_assert_eq(part, want[k], "part %zu: %zu", k, part);
        off += part;
    }
    cr_assert_eq(off, ulen);
}

Test(parts, count_as_latin_and_errors)
{
    static char s[400];
    struct text_count c;

    cr_assert_eq(text_count_parts_as(s, repeat(s, sizeof(s), "\xC3\xA9", 140),
                                     TEXT_ENC_LATIN1, &c), 0);
    expect_count(c, TEXT_ENC_LATIN1, 140, 140, 1);
    cr_assert_eq(text_count_parts_as(s, repeat(s, sizeof(s), "\xC3\xA9", 141),
                                     TEXT_ENC_LATIN1, &c), 0);
    expect_count(c, TEXT_ENC_LATIN1, 141, 141, 2);
    cr_assert_eq(text_count_parts_as("\xE2\x82\xAC", 3, TEXT_ENC_LATIN1, &c),
                 -1);
    cr_assert_eq(text_count_parts_as("\xC3\xA7", 2, TEXT_ENC_GSM7, &c), -1);
    cr_assert_eq(text_count_parts("ab\xED\xA0\x80", 5, &c), -1);
    cr_assert_eq(text_count_parts("ab\xE2\x82", 4, &c), -1);
}

/* ---- Splitter --------------------------------------------------------- */

Test(split, gsm7_keeps_escapes_whole)
{
    static const uint8_t g[] = { 0x61, 0x62, 0x1B, 0x65, 0x63 };
    static const uint8_t ee[] = { 0x1B, 0x1B, 0x41 };

    cr_assert_eq(text_split_next(TEXT_ENC_GSM7, g, 5, 5), 5);
    cr_assert_eq(text_split_next(TEXT_ENC_GSM7, g, 5, 3), 2);
    cr_assert_eq(text_split_next(TEXT_ENC_GSM7, g, 5, 4), 4);
    cr_assert_eq(text_split_next(TEXT_ENC_GSM7, g + 2, 3, 1), 0);
    cr_assert_eq(text_split_next(TEXT_ENC_GSM7, ee, 3, 1), 0);
    cr_assert_eq(text_split_next(TEXT_ENC_GSM7, ee, 3, 2), 2);
    cr_assert_eq(text_split_next(TEXT_ENC_GSM7, g, 0, 153), 0);
}

Test(split, ucs2_keeps_pairs_whole)
{
    static const uint8_t u[] = { 0x00, 0x41, 0xD8, 0x3D, 0xDE, 0x00,
                                 0x00, 0x42 };

    cr_assert_eq(text_split_next(TEXT_ENC_UCS2, u, 8, 8), 8);
    cr_assert_eq(text_split_next(TEXT_ENC_UCS2, u, 8, 4), 2);
    cr_assert_eq(text_split_next(TEXT_ENC_UCS2, u, 8, 5), 2);   /* odd cap */
    cr_assert_eq(text_split_next(TEXT_ENC_UCS2, u, 8, 6), 6);
    cr_assert_eq(text_split_next(TEXT_ENC_UCS2, u + 2, 6, 2), 0);
    cr_assert_eq(text_split_next(TEXT_ENC_UCS2, u, 7, 8), 0);   /* odd n */
    cr_assert_eq(text_split_next(TEXT_ENC_LATIN1, u, 8, 5), 5);
    cr_assert_eq(text_split_next((enum text_encoding)9, u, 8, 5), 0);
}

/* ---- UDH -------------------------------------------------------------- */

Test(udh, concat_8bit_ref)
{
    static const uint8_t ud[] = { 0x05, 0x00, 0x03, 0x2A, 0x03, 0x01,
                                  'h', 'i' };
    struct text_udh u;

    cr_assert_eq(text_udh_parse(ud, sizeof(ud), &u), 0);
    cr_assert_eq(u.udh_len, 6);
    cr_assert(u.concat.present);
    cr_assert_eq(u.concat.ref, 0x2A);
    cr_assert_eq(u.concat.total, 3);
    cr_assert_eq(u.concat.seq, 1);
    cr_assert_eq(u.concat.ref16, 0);
    cr_assert_not(u.ports.present);
}

Test(udh, concat_16bit_ref)
{
    static const uint8_t ud[] = { 0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x02 };
    struct text_udh u;

    cr_assert_eq(text_udh_parse(ud, sizeof(ud), &u), 0);
    cr_assert_eq(u.udh_len, 7);
    cr_assert(u.concat.present);
    cr_assert_eq(u.concat.ref, 0x1234);
    cr_assert_eq(u.concat.total, 2);
    cr_assert_eq(u.concat.seq, 2);
    cr_assert_eq(u.concat.ref16, 1);
}

Test(udh, ports)
{
    /* WAP push: 16-bit ports dst 2948, src 9200 */
    static const uint8_t p16[] = { 0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0 };
    static const uint8_t p8[] = { 0x04, 0x04, 0x02, 0xF5, 0xF6 };
    struct text_udh u;

    cr_assert_eq(text_udh_parse(p16, sizeof(p16), &u), 0);
    cr_assert(u.ports.present && u.ports.wide);
    cr_assert_eq(u.ports.dst, 2948);
    cr_assert_eq(u.ports.src, 9200);
    cr_assert_not(u.concat.present);
    cr_assert_eq(text_udh_parse(p8, sizeof(p8), &u), 0);
    cr_assert(u.ports.present && !u.ports.wide);
    cr_assert_eq(u.ports.dst, 0xF5);
    cr_assert_eq(u.ports.src, 0xF6);
    cr_assert_eq(u.udh_len, 5);
}

Test(udh, unknown_ie_skipped_and_combined)
{
    static const uint8_t ud[] = {
        0x12,
        0x70, 0x02, 0xAA, 0xBB,                 /* unknown IE */
        0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0,     /* ports */
        0x00, 0x03, 0x07, 0x02, 0x01,           /* concat */
        0x24, 0x01, 0x01,                       /* Turkish single shift */
        'x',
    };
    uint8_t cut[sizeof(ud)];
    struct text_udh u;

    cr_assert_eq(text_udh_parse(ud, sizeof(ud), &u), 0);
    cr_assert_eq(u.udh_len, 19);
    cr_assert(u.concat.present && u.ports.present);
    cr_assert_eq(u.concat.ref, 7);
    cr_assert_eq(u.concat.total, 2);
    cr_assert_eq(u.ports.dst, 2948);
    cr_assert(u.has_single_shift);
    cr_assert_eq(u.single_shift, 1);
    cr_assert_not(u.has_locking_shift);
    /* UDHL 16 ends inside the shift IE: that IE runs past the header. */
    memcpy(cut, ud, sizeof(ud));
    cut[0] = 0x10;
    cr_assert_eq(text_udh_parse(cut, sizeof(cut), &u), -1);
}

Test(udh, empty_header_and_repeated_ie)
{
    static const uint8_t empty[] = { 0x00, 'a' };
    static const uint8_t twice[] = { 0x0A, 0x00, 0x03, 0x01, 0x02, 0x01,
                                     0x00, 0x03, 0x09, 0x04, 0x03 };
    struct text_udh u;

    cr_assert_eq(text_udh_parse(empty, sizeof(empty), &u), 0);
    cr_assert_eq(u.udh_len, 1);
    cr_assert_not(u.concat.present);
    cr_assert_eq(text_udh_parse(twice, sizeof(twice), &u), 0);
    cr_assert_eq(u.concat.ref, 9, "the last occurrence wins");
    cr_assert_eq(u.concat.total, 4);
    cr_assert_eq(u.concat.seq, 3);
}

Test(udh, malformed)
{
    static const struct {
        const char *why;
        uint8_t b[10];
        size_t n;
    } bad[] = {
        { "no UDHL", { 0 }, 0 },
        { "UDHL past n", { 0x05, 0x00, 0x03, 0x01, 0x02 }, 5 },
        { "UDHL past n by one", { 0x06, 0x00, 0x03, 0x01, 0x02, 0x01 }, 6 },
        { "IE past UDH", { 0x04, 0x00, 0x03, 0x01, 0x02, 0x01 }, 6 },
        { "IEI without IEDL", { 0x01, 0x00, 0x00 }, 3 },
        { "unknown IE past UDH", { 0x03, 0x70, 0x05, 0xAA, 0xBB }, 5 },
        { "total 0", { 0x05, 0x00, 0x03, 0x01, 0x00, 0x00 }, 6 },
        { "seq 0", { 0x05, 0x00, 0x03, 0x01, 0x02, 0x00 }, 6 },
        { "seq > total", { 0x05, 0x00, 0x03, 0x01, 0x02, 0x03 }, 6 },
        { "16-bit seq > total",
          { 0x06, 0x08, 0x04, 0x00, 0x01, 0x01, 0x02 }, 7 },
        { "IEI 00 IEDL 2", { 0x04, 0x00, 0x02, 0x01, 0x01 }, 5 },
        { "IEI 00 IEDL 4", { 0x06, 0x00, 0x04, 0x01, 0x01, 0x01, 0x01 }, 7 },
        { "IEI 08 IEDL 3", { 0x05, 0x08, 0x03, 0x01, 0x01, 0x01 }, 6 },
        { "IEI 04 IEDL 4", { 0x06, 0x04, 0x04, 0x01, 0x01, 0x01, 0x01 }, 7 },
        { "IEI 05 IEDL 2", { 0x04, 0x05, 0x02, 0x01, 0x01 }, 5 },
        { "IEI 24 IEDL 0", { 0x02, 0x24, 0x00 }, 3 },
    };
    struct text_udh u;
    size_t i;

    for (i = 0; i < ARRAY_LEN(bad); i++)
        cr_assert_eq(text_udh_parse(guarded(bad[i].b, bad[i].n), bad[i].n,
                                    &u), -1, "%s", bad[i].why);
}

Test(udh, build_concat)
{
    static const uint8_t want8[] = { 0x05, 0x00, 0x03, 0xC8, 0x04, 0x02 };
    static const uint8_t want16[] = { 0x06, 0x08, 0x04, 0xAB, 0xCD, 0x04,
                                      0x04 };
    uint8_t out[8];
    struct text_udh u;

    cr_assert_eq(text_udh_build_concat(out, sizeof(out), 0xC8, 4, 2, 0), 6);
    expect_bytes(out, 6, want8, sizeof(want8));
    cr_assert_eq(text_udh_build_concat(out, sizeof(out), 0xABCD, 4, 4, 1), 7);
    expect_bytes(out, 7, want16, sizeof(want16));
    cr_assert_eq(text_udh_parse(out, 7, &u), 0);
    cr_assert_eq(u.concat.ref, 0xABCD);
    cr_assert_eq(u.concat.seq, 4);
}

Test(udh, build_concat_rejects)
{
    uint8_t *out = canary_buf(6);

    cr_assert_eq(text_udh_build_concat(out, 5, 1, 2, 1, 0), 0);
    expect_canaries(out, 5);
    cr_assert_eq(text_udh_build_concat(out, 6, 1, 2, 1, 1), 0);
    expect_canaries(out, 6);
    cr_assert_eq(text_udh_build_concat(out, 6, 256, 2, 1, 0), 0);
    cr_assert_eq(text_udh_build_concat(out, 6, 1, 0, 0, 0), 0);
    cr_assert_eq(text_udh_build_concat(out, 6, 1, 2, 0, 0), 0);
    cr_assert_eq(text_udh_build_concat(out, 6, 1, 2, 3, 0), 0);
    free(out);
}

/* ---- SAR -------------------------------------------------------------- */

Test(sar, valid_matches_udh)
{
    static const uint8_t ud[] = { 0x06, 0x08, 0x04, 0x01, 0x02, 0x05, 0x03 };
    struct text_concat c;
    struct text_udh u;

    cr_assert_eq(text_concat_from_sar(0x0102, 5, 3, &c), 0);
    cr_assert(c.present && c.ref16);
    cr_assert_eq(c.ref, 0x0102);
    cr_assert_eq(c.total, 5);
    cr_assert_eq(c.seq, 3);
    cr_assert_eq(text_udh_parse(ud, sizeof(ud), &u), 0);
    cr_assert_eq(memcmp(&u.concat, &c, sizeof(c)), 0,
                 "UDH and SAR give the same struct text_concat");
    cr_assert_eq(text_concat_from_sar(7, 255, 255, &c), 0);
    cr_assert_eq(text_concat_from_sar(7, 1, 1, &c), 0);
}

Test(sar, invalid)
{
    struct text_concat c;

    cr_assert_eq(text_concat_from_sar(1, 0, 0, &c), -1);
    cr_assert_not(c.present);
    cr_assert_eq(text_concat_from_sar(1, 0, 1, &c), -1);
    cr_assert_eq(text_concat_from_sar(1, 3, 0, &c), -1);
    cr_assert_eq(text_concat_from_sar(1, 3, 4, &c), -1);
    cr_assert_not(c.present);
}

/* ---- GSM 7-bit packing ------------------------------------------------ */

Test(pack, hellohello)
{
    static const uint8_t want[] = { 0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9,
                                    0xEC, 0x37 };
    uint8_t sep[10], packed[16], back[10];
    size_t len;

    memcpy(sep, "hellohello", 10);      /* GSM keeps ASCII letters */
    cr_assert_eq(text_gsm7_pack(sep, 10, 0, packed, sizeof(packed), &len), 0);
    expect_bytes(packed, len, want, sizeof(want));
    cr_assert_eq(text_gsm7_unpack(want, sizeof(want), 0, 10, back, 10), 0);
    expect_bytes(back, 10, sep, 10);
}

Test(pack, fill_bits_after_udh)
{
    static const uint8_t a = 0x41;
    uint8_t out[4], back[2];
    size_t len;

    cr_assert_eq(text_gsm7_fill_bits(0), 0);
    cr_assert_eq(text_gsm7_fill_bits(6), 1);
    cr_assert_eq(text_gsm7_fill_bits(7), 0);
    cr_assert_eq(text_gsm7_fill_bits(5), 2);
    cr_assert_eq(text_gsm7_pack(&a, 1, 1, out, sizeof(out), &len), 0);
    expect_bytes(out, len, "\x82", 1);
    cr_assert_eq(text_gsm7_unpack(out, 1, 1, 1, back, 2), 0);
    cr_assert_eq(back[0], 0x41);
}

Test(pack, limits)
{
    static const uint8_t eight[8] = { 1, 2, 3, 4, 5, 6, 7, 0x7F };
    static const uint8_t high = 0x80;
    uint8_t *out = canary_buf(7), back[9];
    size_t len;

    cr_assert_eq(text_gsm7_pack(eight, 8, 0, out, 7, &len), 0);
    cr_assert_eq(len, 7);
    expect_canaries(out, 7);
    cr_assert_eq(text_gsm7_unpack(out, 7, 0, 8, back, 9), 0);
    expect_bytes(back, 8, eight, 8);
    cr_assert_eq(text_gsm7_unpack(out, 7, 0, 9, back, 9), -1);
    cr_assert_eq(text_gsm7_unpack(out, 7, 1, 8, back, 9), -1);
    cr_assert_eq(text_gsm7_unpack(out, 7, 0, 8, back, 7), -1);
    cr_assert_eq(text_gsm7_pack(eight, 8, 1, out, 7, &len), -1);
    expect_canaries(out, 7);
    cr_assert_eq(text_gsm7_pack(&high, 1, 0, out, 7, &len), -1);
    cr_assert_eq(text_gsm7_pack(eight, 1, 7, out, 7, &len), -1);
    cr_assert_eq(text_gsm7_pack(eight, 0, 3, out, 7, &len), 0);
    cr_assert_eq(len, 0);
    cr_assert_eq(text_gsm7_unpack(out, 0, 3, 0, back, 0), 0);
    free(out);
}

/* ---- No over-reads ---------------------------------------------------- */

/*
 * Every prefix of inputs that end mid-character, placed flush against a
 * PROT_NONE page: a decoder that peeks one byte too far faults here.
 */
Test(bounds, every_prefix_against_guard_page)
{
    static const uint8_t samples[][8] = {
        { 0x41, 0x1B, 0x65, 0x1B, 0x1B, 0x1B },
        { 0xD8, 0x3D, 0xDE, 0x00, 0xD8, 0x3D, 0xDE },
        { 0xF0, 0x9F, 0x98, 0x80, 0xE2, 0x82, 0xAC, 0xC3 },
        { 0x07, 0x00, 0x03, 0x01, 0x02, 0x01, 0x04, 0x02 },
    };
    char out[64];
    uint8_t o8[64];
    struct text_udh u;
    struct text_count c;
    size_t s, n, len;

    for (s = 0; s < ARRAY_LEN(samples); s++) {
        for (n = 0; n <= sizeof(samples[s]); n++) {
            const uint8_t *in = guarded(samples[s], n);
            const char *cin = (const char *)in;

            (void)text_gsm7_to_utf8(in, n, out, sizeof(out), &len);
            (void)text_ucs2_to_utf8(in, n, out, sizeof(out), &len);
            (void)text_latin9_to_utf8(in, n, out, sizeof(out), &len);
            (void)text_utf8_to_gsm7(cin, n, o8, sizeof(o8), &len);
            (void)text_utf8_to_ucs2(cin, n, o8, sizeof(o8), &len);
            (void)text_utf8_to_latin1(cin, n, o8, sizeof(o8), &len);
            (void)text_count_parts(cin, n, &c);
            (void)text_udh_parse(in, n, &u);
            (void)text_split_next(TEXT_ENC_GSM7, in, n, 3);
            (void)text_split_next(TEXT_ENC_UCS2, in, n & ~(size_t)1, 4);
        }
    }
}
