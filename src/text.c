/*
 * text.c - character sets, part counting and concatenation headers.
 *
 * Every converter is a loop of "decode one character, encode one
 * character", so the strict UTF-8 decoder and the GSM tables below are the
 * only places that know the formats. Contracts are in text.h.
 */
#include "common.h"
#include "text.h"
#include "wire.h"

#include <string.h>

/*
 * GSM 03.38 default alphabet, indexed by septet (3GPP 23.038). Entry
 * 0x1B is ESC: a lone ESC is never decoded through this table, so the slot
 * holds the space that 23.038 says to show for ESC ESC. gsm7_lookup skips
 * it so that space always encodes as 0x20.
 */
static const uint16_t gsm7_basic[128] = {
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, 0x0020, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* Extension table: ESC + code. 0x0A is form feed (3GPP), not newline. */
static const struct {
    uint8_t code;
    uint16_t cp;
} gsm7_ext[] = {
    { 0x0A, 0x000C }, { 0x14, 0x005E }, { 0x28, 0x007B }, { 0x29, 0x007D },
    { 0x2F, 0x005C }, { 0x3C, 0x005B }, { 0x3D, 0x007E }, { 0x3E, 0x005D },
    { 0x40, 0x007C }, { 0x65, 0x20AC },
};

/* The eight octets where ISO-8859-15 replaced a Latin-1 character. */
static const struct {
    uint8_t octet;
    uint16_t cp;
} latin9_diff[] = {
    { 0xA4, 0x20AC }, { 0xA6, 0x0160 }, { 0xA8, 0x0161 }, { 0xB4, 0x017D },
    { 0xB8, 0x017E }, { 0xBC, 0x0152 }, { 0xBD, 0x0153 }, { 0xBE, 0x0178 },
};

#define GSM7_NONE (-1)
#define GSM7_EXT_FLAG 0x100     /* lookup result: ESC + (value & 0x7F) */

const char *text_encoding_name(enum text_encoding enc)
{
    switch (enc) {
    case TEXT_ENC_GSM7:   return "gsm7";
    case TEXT_ENC_UCS2:   return "ucs2";
    case TEXT_ENC_LATIN1: return "latin1";
    case TEXT_ENC_LATIN9: return "latin9";
    }
    return "?";
}

/* ---- UTF-8 ------------------------------------------------------------ */

int text_utf8_decode(const char *in, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)in;
    uint32_t c, min;
    size_t len, i;

    if (n == 0)
        return -1;
    c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    /* C0/C1 can only start overlongs; F5..FF only values above U+10FFFF. */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, c &= 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, c &= 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, c &= 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (n < len)
        return -1;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        c = c << 6 | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return -1;
    *cp = c;
    return (int)len;
}

int text_utf8_validate(const char *in, size_t n)
{
    size_t i = 0;
    uint32_t cp;

    while (i < n) {
        int used = text_utf8_decode(in + i, n - i, &cp);

        if (used < 0)
            return -1;
        i += (size_t)used;
    }
    return 0;
}

int text_utf8_encode(uint32_t cp, char *out, size_t cap)
{
    unsigned char *o = (unsigned char *)out;

    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    if (cp < 0x80) {
        if (cap < 1)
            return -1;
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        if (cap < 2)
            return -1;
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        if (cap < 3)
            return -1;
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cap < 4)
        return -1;
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Append <cp> at *<pos>, advancing it. -1 when it does not fit. */
static int put_utf8(uint32_t cp, char *out, size_t cap, size_t *pos)
{
    int w = text_utf8_encode(cp, out + *pos, cap - *pos);

    if (w < 0)
        return -1;
    *pos += (size_t)w;
    return 0;
}

/* ---- GSM 03.38 -------------------------------------------------------- */

/*
 * Decode the character at the start of septets <in> (<n> > 0 available).
 * Returns septets used (1 or 2) and sets *<cp>, or -1. See text.h for
 * the lone-ESC, ESC ESC and unknown-escape choices.
 */
static int gsm7_decode_char(const uint8_t *in, size_t n, uint32_t *cp)
{
    size_t i;

    if (in[0] > 0x7F)
        return -1;
    if (in[0] != TEXT_GSM7_ESC) {
        *cp = gsm7_basic[in[0]];
        return 1;
    }
    if (n < 2 || in[1] > 0x7F)
        return -1;
    *cp = gsm7_basic[in[1]];    /* unknown code, or ESC ESC -> space */
    for (i = 0; i < ARRAY_LEN(gsm7_ext); i++) {
        if (gsm7_ext[i].code == in[1])
            *cp = gsm7_ext[i].cp;
    }
    return 2;
}

/*
 * Septet for <cp>: 0..0x7F for the basic table, GSM7_EXT_FLAG | code for
 * the extension table, GSM7_NONE when absent. Searches the tables above so
 * they stay the only source of truth. Most ASCII keeps its position in
 * GSM (letters, digits, most punctuation, LF, CR), so the bulk of any text
 * is answered by one probe; only '@', '$', '_' and non-ASCII search.
 */
static int gsm7_lookup(uint32_t cp)
{
    size_t i;

    if (cp < ARRAY_LEN(gsm7_basic) && gsm7_basic[cp] == cp)
        return (int)cp;         /* never ESC: its slot holds a space */
    for (i = 0; i < ARRAY_LEN(gsm7_basic); i++) {
        if (gsm7_basic[i] == cp && i != TEXT_GSM7_ESC)
            return (int)i;
    }
    for (i = 0; i < ARRAY_LEN(gsm7_ext); i++) {
        if (gsm7_ext[i].cp == cp)
            return GSM7_EXT_FLAG | gsm7_ext[i].code;
    }
    return GSM7_NONE;
}

int text_gsm7_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                      size_t *out_len)
{
    size_t i = 0, pos = 0;
    uint32_t cp;

    while (i < n) {
        int used = gsm7_decode_char(in + i, n - i, &cp);

        if (used < 0 || put_utf8(cp, out, cap, &pos) < 0)
            return -1;
        i += (size_t)used;
    }
    *out_len = pos;
    return 0;
}

int text_utf8_to_gsm7(const char *in, size_t n, uint8_t *out, size_t cap,
                      size_t *out_len)
{
    size_t i = 0, pos = 0;
    uint32_t cp;

    while (i < n) {
        int used = text_utf8_decode(in + i, n - i, &cp);
        int g;

        if (used < 0 || (g = gsm7_lookup(cp)) == GSM7_NONE)
            return -1;
        if (g & GSM7_EXT_FLAG) {
            if (cap - pos < 2)
                return -1;
            out[pos++] = TEXT_GSM7_ESC;
            out[pos++] = (uint8_t)(g & 0x7F);
        } else {
            if (cap - pos < 1)
                return -1;
            out[pos++] = (uint8_t)g;
        }
        i += (size_t)used;
    }
    *out_len = pos;
    return 0;
}

int text_utf8_is_gsm7(const char *in, size_t n, size_t *septets)
{
    size_t i = 0, count = 0;
    int representable = 1;
    uint32_t cp;

    while (i < n) {
        int used = text_utf8_decode(in + i, n - i, &cp);
        int g;

        if (used < 0)
            return -1;
        g = gsm7_lookup(cp);
        if (g == GSM7_NONE)
            representable = 0;
        else
            count += (g & GSM7_EXT_FLAG) ? 2 : 1;
        i += (size_t)used;
    }
    if (representable && septets)
        *septets = count;
    return representable;
}

/* ---- UCS-2 / UTF-16BE ------------------------------------------------- */

static int is_high_surrogate(uint32_t u)
{
    return u >= 0xD800 && u <= 0xDBFF;
}

static int is_low_surrogate(uint32_t u)
{
    return u >= 0xDC00 && u <= 0xDFFF;
}

int text_ucs2_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                      size_t *out_len)
{
    size_t i = 0, pos = 0;

    if (n % 2)
        return -1;
    while (i < n) {
        uint32_t u = wire_read_u16(in + i);

        i += 2;
        if (is_low_surrogate(u))
            return -1;
        if (is_high_surrogate(u)) {
            uint32_t lo;

            if (i == n || !is_low_surrogate(lo = wire_read_u16(in + i)))
                return -1;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            i += 2;
        }
        if (put_utf8(u, out, cap, &pos) < 0)
            return -1;
    }
    *out_len = pos;
    return 0;
}

int text_utf8_to_ucs2(const char *in, size_t n, uint8_t *out, size_t cap,
                      size_t *out_len)
{
    size_t i = 0, pos = 0;
    uint32_t cp;

    while (i < n) {
        int used = text_utf8_decode(in + i, n - i, &cp);

        if (used < 0)
            return -1;
        if (cp < 0x10000) {
            if (cap - pos < 2)
                return -1;
            wire_write_u16(out + pos, (uint16_t)cp);
            pos += 2;
        } else {
            if (cap - pos < 4)
                return -1;
            cp -= 0x10000;
            wire_write_u16(out + pos, (uint16_t)(0xD800 | cp >> 10));
            wire_write_u16(out + pos + 2, (uint16_t)(0xDC00 | (cp & 0x3FF)));
            pos += 4;
        }
        i += (size_t)used;
    }
    *out_len = pos;
    return 0;
}

/* ---- ISO-8859-1 and ISO-8859-15 --------------------------------------- */

static uint32_t latin9_to_cp(uint8_t c)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(latin9_diff); i++) {
        if (latin9_diff[i].octet == c)
            return latin9_diff[i].cp;
    }
    return c;
}

/* Octet for <cp> in Latin-1 (<latin9> 0) or Latin-9, or -1. */
static int latin_from_cp(uint32_t cp, int latin9)
{
    size_t i;

    if (!latin9)
        return cp <= 0xFF ? (int)cp : -1;
    for (i = 0; i < ARRAY_LEN(latin9_diff); i++) {
        if (latin9_diff[i].cp == cp)
            return latin9_diff[i].octet;
        if (latin9_diff[i].octet == cp)
            return -1;      /* a Latin-1 character Latin-9 dropped */
    }
    return cp <= 0xFF ? (int)cp : -1;
}

static int latin_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                         size_t *out_len, int latin9)
{
    size_t i, pos = 0;

    for (i = 0; i < n; i++) {
        uint32_t cp = latin9 ? latin9_to_cp(in[i]) : in[i];

        if (put_utf8(cp, out, cap, &pos) < 0)
            return -1;
    }
    *out_len = pos;
    return 0;
}

static int utf8_to_latin(const char *in, size_t n, uint8_t *out, size_t cap,
                         size_t *out_len, int latin9)
{
    size_t i = 0, pos = 0;
    uint32_t cp;

    while (i < n) {
        int used = text_utf8_decode(in + i, n - i, &cp);
        int c;

        if (used < 0 || (c = latin_from_cp(cp, latin9)) < 0 || pos == cap)
            return -1;
        out[pos++] = (uint8_t)c;
        i += (size_t)used;
    }
    *out_len = pos;
    return 0;
}

int text_latin1_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                        size_t *out_len)
{
    return latin_to_utf8(in, n, out, cap, out_len, 0);
}

int text_latin9_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                        size_t *out_len)
{
    return latin_to_utf8(in, n, out, cap, out_len, 1);
}

int text_utf8_to_latin1(const char *in, size_t n, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    return utf8_to_latin(in, n, out, cap, out_len, 0);
}

int text_utf8_to_latin9(const char *in, size_t n, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    return utf8_to_latin(in, n, out, cap, out_len, 1);
}

/* ---- By encoding ------------------------------------------------------ */

int text_to_utf8(enum text_encoding enc, const uint8_t *in, size_t n,
                 char *out, size_t cap, size_t *out_len)
{
    switch (enc) {
    case TEXT_ENC_GSM7:   return text_gsm7_to_utf8(in, n, out, cap, out_len);
    case TEXT_ENC_UCS2:   return text_ucs2_to_utf8(in, n, out, cap, out_len);
    case TEXT_ENC_LATIN1: return text_latin1_to_utf8(in, n, out, cap, out_len);
    case TEXT_ENC_LATIN9: return text_latin9_to_utf8(in, n, out, cap, out_len);
    }
    return -1;
}

int text_from_utf8(enum text_encoding enc, const char *in, size_t n,
                   uint8_t *out, size_t cap, size_t *out_len)
{
    switch (enc) {
    case TEXT_ENC_GSM7:   return text_utf8_to_gsm7(in, n, out, cap, out_len);
    case TEXT_ENC_UCS2:   return text_utf8_to_ucs2(in, n, out, cap, out_len);
    case TEXT_ENC_LATIN1: return text_utf8_to_latin1(in, n, out, cap, out_len);
    case TEXT_ENC_LATIN9: return text_utf8_to_latin9(in, n, out, cap, out_len);
    }
    return -1;
}

/* ---- Parts ------------------------------------------------------------ */

size_t text_part_capacity(enum text_encoding enc, size_t udh_len)
{
    size_t room;

    if (udh_len >= TEXT_SMS_OCTETS)
        return 0;
    room = TEXT_SMS_OCTETS - udh_len;
    switch (enc) {
    case TEXT_ENC_GSM7:
        return room * 8 / 7;    /* fill bits make up the rest */
    case TEXT_ENC_UCS2:
        return room & ~(size_t)1;
    case TEXT_ENC_LATIN1:
    case TEXT_ENC_LATIN9:
        return room;
    }
    return 0;
}

/* Units <cp> costs in <enc> (see struct text_count), or -1 if absent. */
static int char_units(enum text_encoding enc, uint32_t cp)
{
    int g;

    switch (enc) {
    case TEXT_ENC_GSM7:
        g = gsm7_lookup(cp);
        return g == GSM7_NONE ? -1 : (g & GSM7_EXT_FLAG) ? 2 : 1;
    case TEXT_ENC_UCS2:
        return cp >= 0x10000 ? 2 : 1;
    case TEXT_ENC_LATIN1:
        return latin_from_cp(cp, 0) < 0 ? -1 : 1;
    case TEXT_ENC_LATIN9:
        return latin_from_cp(cp, 1) < 0 ? -1 : 1;
    }
    return -1;
}

/* Capacity in units: octets, except UTF-16 code units for UCS-2. */
static size_t unit_capacity(enum text_encoding enc, size_t udh_len)
{
    size_t octets = text_part_capacity(enc, udh_len);

    return enc == TEXT_ENC_UCS2 ? octets / 2 : octets;
}

int text_count_parts_as(const char *utf8, size_t n, enum text_encoding enc,
                        struct text_count *out)
{
    size_t single = unit_capacity(enc, 0);
    size_t per_part = unit_capacity(enc, 6);    /* 05 00 03 RR TT SS */
    size_t i = 0, used_in_part = 0;
    uint32_t cp;

    if (single == 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->encoding = enc;
    out->parts = 1;
    /* Greedy fill with the concat capacity, as text_split_next does. */
    while (i < n) {
        int used = text_utf8_decode(utf8 + i, n - i, &cp);
        int units = used < 0 ? -1 : char_units(enc, cp);

        if (units < 0)
            return -1;
        if (used_in_part + (size_t)units > per_part) {
            out->parts++;
            used_in_part = 0;
        }
        used_in_part += (size_t)units;
        out->units += (size_t)units;
        out->chars++;
        i += (size_t)used;
    }
    if (out->units <= single) {
        out->parts = 1;
        out->last_free = single - out->units;
    } else {
        out->last_free = per_part - used_in_part;
    }
    return 0;
}

int text_count_parts(const char *utf8, size_t n, struct text_count *out)
{
    int gsm = text_utf8_is_gsm7(utf8, n, NULL);

    if (gsm < 0)
        return -1;
    return text_count_parts_as(utf8, n, gsm ? TEXT_ENC_GSM7 : TEXT_ENC_UCS2,
                               out);
}

/* Octets of the character at <in> (<n> > 0 available) for the splitter. */
static size_t split_char_len(enum text_encoding enc, const uint8_t *in,
                             size_t n)
{
    if (enc == TEXT_ENC_GSM7)
        return (in[0] == TEXT_GSM7_ESC && n >= 2) ? 2 : 1;
    if (enc == TEXT_ENC_UCS2) {
        if (n >= 4 && is_high_surrogate(wire_read_u16(in)) &&
            is_low_surrogate(wire_read_u16(in + 2)))
            return 4;
        return 2;
    }
    return 1;
}

size_t text_split_next(enum text_encoding enc, const uint8_t *in, size_t n,
                       size_t cap)
{
    size_t i = 0;

    switch (enc) {
    case TEXT_ENC_UCS2:
        if (n % 2)
            return 0;
        cap &= ~(size_t)1;
        break;
    case TEXT_ENC_GSM7:
    case TEXT_ENC_LATIN1:
    case TEXT_ENC_LATIN9:
        break;
    default:
        return 0;
    }
    if (n <= cap)
        return n;
    while (i < n) {
        size_t len = split_char_len(enc, in + i, n - i);

        if (len > cap - i)
            break;
        i += len;
    }
    return i;
}

/* ---- Concatenation: UDH and SAR --------------------------------------- */

/* Validate and store one concatenation reference. 0 or -1. */
static int concat_set(struct text_concat *c, uint16_t ref, uint8_t total,
                      uint8_t seq, int ref16)
{
    if (total == 0 || seq == 0 || seq > total)
        return -1;
    c->ref = ref;
    c->total = total;
    c->seq = seq;
    c->ref16 = ref16 ? 1 : 0;
    c->present = 1;
    return 0;
}

/* Record IE <iei> with data <d> (<len> octets) in *<u>. 0 or -1. */
static int udh_apply_ie(uint8_t iei, const uint8_t *d, size_t len,
                        struct text_udh *u)
{
    switch (iei) {
    case 0x00:
        return len != 3 ? -1 : concat_set(&u->concat, d[0], d[1], d[2], 0);
    case 0x08:
        return len != 4 ? -1 : concat_set(&u->concat, wire_read_u16(d),
                                          d[2], d[3], 1);
    case 0x04:
        if (len != 2)
            return -1;
        u->ports.dst = d[0];
        u->ports.src = d[1];
        u->ports.wide = 0;
        u->ports.present = 1;
        return 0;
    case 0x05:
        if (len != 4)
            return -1;
        u->ports.dst = wire_read_u16(d);
        u->ports.src = wire_read_u16(d + 2);
        u->ports.wide = 1;
        u->ports.present = 1;
        return 0;
    case 0x24:
    case 0x25:
        if (len != 1)
            return -1;
        if (iei == 0x24)
            u->single_shift = d[0], u->has_single_shift = 1;
        else
            u->locking_shift = d[0], u->has_locking_shift = 1;
        return 0;
    default:
        return 0;   /* not ours to judge: skipped by its IEDL */
    }
}

int text_udh_parse(const uint8_t *ud, size_t n, struct text_udh *out)
{
    size_t i = 1, end;

    memset(out, 0, sizeof(*out));
    if (n == 0 || (size_t)ud[0] + 1 > n)
        return -1;
    end = (size_t)ud[0] + 1;
    while (i < end) {
        size_t iedl;

        if (end - i < 2)
            return -1;          /* IEI without its IEDL */
        iedl = ud[i + 1];
        if (iedl > end - i - 2)
            return -1;
        if (udh_apply_ie(ud[i], ud + i + 2, iedl, out) < 0)
            return -1;
        i += 2 + iedl;
    }
    out->udh_len = end;
    return 0;
}

size_t text_udh_build_concat(uint8_t *out, size_t cap, uint16_t ref,
                             uint8_t total, uint8_t seq, int ref16)
{
    if (total == 0 || seq == 0 || seq > total)
        return 0;
    if (!ref16) {
        if (ref > 0xFF || cap < 6)
            return 0;
        out[0] = 0x05, out[1] = 0x00, out[2] = 0x03;
        out[3] = (uint8_t)ref, out[4] = total, out[5] = seq;
        return 6;
    }
    if (cap < 7)
        return 0;
    out[0] = 0x06, out[1] = 0x08, out[2] = 0x04;
    wire_write_u16(out + 3, ref);
    out[5] = total, out[6] = seq;
    return 7;
}

int text_concat_from_sar(uint16_t ref, uint8_t total, uint8_t seq,
                         struct text_concat *out)
{
    memset(out, 0, sizeof(*out));
    return concat_set(out, ref, total, seq, 1);
}

/* ---- GSM 7-bit packing ------------------------------------------------ */

unsigned text_gsm7_fill_bits(size_t udh_len)
{
    return (unsigned)((7 - (udh_len * 8) % 7) % 7);
}

int text_gsm7_pack(const uint8_t *septets, size_t n, unsigned fill_bits,
                   uint8_t *out, size_t cap, size_t *out_len)
{
    size_t k, len;

    if (fill_bits > 6 || n > (SIZE_MAX - 14) / 7)
        return -1;
    len = n ? (fill_bits + 7 * n + 7) / 8 : 0;  /* no text, no fill */
    if (len > cap)
        return -1;
    if (len > 0)
        memset(out, 0, len);
    for (k = 0; k < n; k++) {
        size_t bit = fill_bits + 7 * k;
        unsigned shift = (unsigned)(bit % 8);

        if (septets[k] > 0x7F)
            return -1;
        out[bit / 8] |= (uint8_t)(septets[k] << shift);
        if (shift > 1)
            out[bit / 8 + 1] |= (uint8_t)(septets[k] >> (8 - shift));
    }
    *out_len = len;
    return 0;
}

int text_gsm7_unpack(const uint8_t *in, size_t n, unsigned fill_bits,
                     size_t septets, uint8_t *out, size_t cap)
{
    size_t k;

    if (fill_bits > 6 || septets > cap || n > SIZE_MAX / 8)
        return -1;
    if (septets > 0 && (n * 8 < fill_bits || septets > (n * 8 - fill_bits) / 7))
        return -1;
    for (k = 0; k < septets; k++) {
        size_t bit = fill_bits + 7 * k;
        unsigned shift = (unsigned)(bit % 8);
        unsigned v = in[bit / 8] >> shift;

        if (shift > 1)
            v |= (unsigned)in[bit / 8 + 1] << (8 - shift);
        out[k] = (uint8_t)(v & 0x7F);
    }
    return 0;
}
