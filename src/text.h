/*
 * text.h - character sets, part counting and concatenation headers.
 *
 * Pure module: libc only, no allocation, no logging, no mutable globals.
 * Every function reads exactly the (<in>, <n>) it is given and writes only
 * inside the caller's (<out>, <cap>). Text on the UTF-8 side is never a C
 * string: GSM 7-bit '@' is octet 0x00 and UCS-2 may carry U+0000, so lengths
 * travel with the pointers and no terminator is read or written.
 *
 * Conventions:
 *   - converters return 0 and set *<out_len>, or -1 (bad input, or <cap>
 *     too small). On -1, <out>[0..cap) may hold a partial result and
 *     *<out_len> is left untouched; nothing is ever written past <cap>.
 *   - <out> must hold <cap> bytes and <out_len> must not be NULL.
 *   - GSM 7-bit text is UNPACKED (one septet per octet, top bit 0), which is
 *     how SMPP peers normally carry data_coding 0; the SMSC packs it for
 *     the radio side. Packing helpers are at the end for upstreams that
 *     want packed septets.
 *   - National language shift tables (UDH IEI 0x24/0x25) are reported by
 *     text_udh_parse() but never applied: the GSM converters always use the
 *     default alphabet and its default extension table.
 */
#ifndef SMPPBRIDGE_TEXT_H
#define SMPPBRIDGE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define TEXT_GSM7_ESC 0x1B      /* escape to the extension table */
#define TEXT_SMS_OCTETS 140     /* TP-UD size of one SMS (3GPP 23.040) */
#define TEXT_CONCAT_MAX_PARTS 255

enum text_encoding {
    TEXT_ENC_GSM7 = 0,          /* GSM 03.38 default alphabet, unpacked */
    TEXT_ENC_UCS2,              /* UTF-16BE: UCS-2 plus surrogate pairs */
    TEXT_ENC_LATIN1,            /* ISO-8859-1 */
    TEXT_ENC_LATIN9,            /* ISO-8859-15 (Instasent's data_coding 3) */
};

/* Name for logs ("gsm7", "ucs2", "latin1", "latin9"; "?" if unknown). */
const char *text_encoding_name(enum text_encoding enc);

/* ---- UTF-8 ------------------------------------------------------------ */

/*
 * Decode the one code point at the start of <in> (<n> bytes available).
 * Strict (RFC 3629): rejects overlong forms, UTF-16 surrogates encoded as
 * UTF-8 (U+D800..U+DFFF), values above U+10FFFF, stray continuation bytes
 * and sequences truncated by <n>. Returns the sequence length 1..4 and sets
 * *<cp>, or -1 (also for <n> == 0).
 */
int text_utf8_decode(const char *in, size_t n, uint32_t *cp);

/* 0 if all of <in>[0..n) is strict UTF-8 (see above), else -1. */
int text_utf8_validate(const char *in, size_t n);

/*
 * Append code point <cp> to <out> (<cap> bytes). Returns the number of bytes
 * written (1..4), or -1 if <cp> is a surrogate or above U+10FFFF, or if it
 * does not fit.
 */
int text_utf8_encode(uint32_t cp, char *out, size_t cap);

/* ---- GSM 03.38 7-bit default alphabet (unpacked) ---------------------- */

/*
 * GSM septets -> UTF-8.
 * -1 for an octet above 0x7F, for an ESC that is the last octet (a part was
 * split inside an escape: refusing beats silently dropping a character), or
 * when <cap> is too small.
 * ESC followed by a code absent from the extension table decodes as the
 * basic-table character of that code, as 3GPP 23.038 §6.2.1.1 says.
 * ESC ESC (reserved for a further extension table) decodes as one space,
 * as 23.038 says a receiver shall display.
 * So decoding is lenient and not injective: text_utf8_to_gsm7() of the
 * result gives back the input only when every ESC is followed by a known
 * extension code.
 */
int text_gsm7_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                      size_t *out_len);

/*
 * UTF-8 -> GSM septets. Extension characters (form feed ^ { } \ [ ~ ] | €)
 * become ESC + code. -1 for invalid UTF-8, a character outside the default
 * alphabet and its extension table (no transliteration: 'ç' is refused, not
 * mapped to 'Ç'), or when <cap> is too small.
 */
int text_utf8_to_gsm7(const char *in, size_t n, uint8_t *out, size_t cap,
                      size_t *out_len);

/*
 * 1 if every character of UTF-8 <in> is representable in GSM 7-bit, 0 if
 * some character is not, -1 if <in> is not valid UTF-8 (checked over the
 * whole input). When 1 is returned and <septets> is not NULL, *<septets> is
 * the encoded length: 1 per basic character, 2 per extension character.
 */
int text_utf8_is_gsm7(const char *in, size_t n, size_t *septets);

/* ---- UCS-2 / UTF-16BE ------------------------------------------------- */

/*
 * UTF-16BE -> UTF-8. Surrogate pairs are combined. -1 for an odd <n>, a low
 * surrogate not preceded by a high one, a high surrogate not followed by a
 * low one, or when <cap> is too small. U+0000 and noncharacters pass.
 */
int text_ucs2_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                      size_t *out_len);

/*
 * UTF-8 -> UTF-16BE. Characters above U+FFFF become surrogate pairs (4
 * octets). -1 for invalid UTF-8 (see text_utf8_decode) or small <cap>.
 */
int text_utf8_to_ucs2(const char *in, size_t n, uint8_t *out, size_t cap,
                      size_t *out_len);

/* ---- ISO-8859-1 and ISO-8859-15 --------------------------------------- */

/*
 * 8-bit -> UTF-8. Every octet is valid (0x80..0x9F are the C1 controls).
 * Latin-9 differs from Latin-1 at eight octets: A4 €, A6 Š, A8 š, B4 Ž,
 * B8 ž, BC Œ, BD œ, BE Ÿ. -1 only when <cap> is too small.
 */
int text_latin1_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                        size_t *out_len);
int text_latin9_to_utf8(const uint8_t *in, size_t n, char *out, size_t cap,
                        size_t *out_len);

/*
 * UTF-8 -> 8-bit, one octet per character. -1 for invalid UTF-8, a
 * character the charset lacks (e.g. € in Latin-1, ¤ in Latin-9), or small
 * <cap>.
 */
int text_utf8_to_latin1(const char *in, size_t n, uint8_t *out, size_t cap,
                        size_t *out_len);
int text_utf8_to_latin9(const char *in, size_t n, uint8_t *out, size_t cap,
                        size_t *out_len);

/* ---- By encoding ------------------------------------------------------ */

/*
 * Dispatch to the converters above by <enc>, so a caller that maps
 * data_coding to an encoding once needs no switch of its own. -1 also for
 * an unknown <enc>.
 */
int text_to_utf8(enum text_encoding enc, const uint8_t *in, size_t n,
                 char *out, size_t cap, size_t *out_len);
int text_from_utf8(enum text_encoding enc, const char *in, size_t n,
                   uint8_t *out, size_t cap, size_t *out_len);

/* ---- Parts ------------------------------------------------------------ */

/*
 * Payload octets one SMS leaves for text after a UDH of <udh_len> octets
 * (UDHL included; 0 when there is no UDH), in the unpacked form the
 * converters produce. GSM7: septets that fit once packed, e.g. 160 / 153
 * (udh 6) / 152 (udh 7). UCS-2: even octet count, 140 / 134 / 132. 8-bit:
 * 140 / 134 / 133. 0 for an unknown <enc> or a UDH filling the SMS.
 */
size_t text_part_capacity(enum text_encoding enc, size_t udh_len);

struct text_count {
    enum text_encoding encoding;
    size_t chars;       /* Unicode code points */
    size_t units;       /* GSM7 septets (extension chars count 2), UTF-16
                         * code units (a surrogate pair counts 2), or
                         * octets for Latin-1/9 */
    size_t parts;       /* SMS needed; 1 also for empty text. May exceed
                         * TEXT_CONCAT_MAX_PARTS: the caller decides. */
    size_t last_free;   /* units still free in the last part */
};

/*
 * Count the SMS that UTF-8 <utf8> needs: GSM7 when every character is in
 * the default alphabet or its extension table, else UCS-2. One part holds
 * 160 septets / 70 units; beyond that each part holds 153 / 67 (an 8-bit
 * reference concatenation UDH). Parts are found by walking the text as
 * text_split_next() would, so an escape sequence or a surrogate pair that
 * would straddle a boundary moves whole to the next part. Returns 0, or -1
 * for invalid UTF-8 (then *<out> is unspecified).
 */
int text_count_parts(const char *utf8, size_t n, struct text_count *out);

/*
 * As text_count_parts() but for a chosen <enc>: Latin-1/9 parts hold 140
 * octets, then 134. -1 for invalid UTF-8, a character <enc> cannot encode,
 * or an unknown <enc>.
 */
int text_count_parts_as(const char *utf8, size_t n, enum text_encoding enc,
                        struct text_count *out);

/*
 * Octets of encoded text <in>[0..n) to put in the next part when a part
 * holds at most <cap> octets (see text_part_capacity). Never ends a part
 * between ESC and its code (GSM7; ESC ESC also stays together) or between
 * the two halves of a surrogate pair (UCS-2; <cap> is taken down to an even
 * number). Returns <n> when everything fits. Returns 0 when <n> is 0, <cap>
 * cannot hold the first character, <n> is odd for UCS-2, or <enc> is
 * unknown. It does not validate: run the decoder first if that matters.
 */
size_t text_split_next(enum text_encoding enc, const uint8_t *in, size_t n,
                       size_t cap);

/* ---- Concatenation: UDH and SAR --------------------------------------- */

/*
 * One part of a concatenated message, the same whether it came from a UDH
 * IE or from the SAR TLVs, so callers can group parts by (account, ref16,
 * ref, total). Valid only when <present>; then 1 <= seq <= total.
 */
struct text_concat {
    uint16_t ref;
    uint8_t total;
    uint8_t seq;
    uint8_t ref16;      /* 1: 16-bit reference (IEI 0x08 or SAR) */
    uint8_t present;
};

struct text_ports {
    uint16_t dst;
    uint16_t src;
    uint8_t wide;       /* 1: IEI 0x05 (16-bit), 0: IEI 0x04 (8-bit) */
    uint8_t present;
};

struct text_udh {
    size_t udh_len;             /* UDHL + 1: where the text starts */
    struct text_concat concat;
    struct text_ports ports;
    uint8_t single_shift;       /* IEI 0x24 table id, if has_single_shift */
    uint8_t locking_shift;      /* IEI 0x25 table id, if has_locking_shift */
    uint8_t has_single_shift;
    uint8_t has_locking_shift;
};

/*
 * Parse the UDH at the start of user data <ud> (<n> octets; the caller saw
 * UDHI in esm_class). Layout (3GPP 23.040 §9.2.3.24):
 *
 *   +------+-----+------+--------+-----+------+--------+-----+---------
 *   | UDHL | IEI | IEDL | data.. | IEI | IEDL | data.. | ... | text...
 *   +------+-----+------+--------+-----+------+--------+-----+---------
 *   <------------------ udh_len = 1 + UDHL ------------------->
 *
 * Understood: 0x00 concat 8-bit ref (IEDL 3), 0x08 concat 16-bit ref
 * (IEDL 4), 0x04 ports 8-bit (2), 0x05 ports 16-bit (4), 0x24/0x25
 * national shifts (1). Other IEs are skipped by their IEDL. A repeated IE
 * overrides the earlier one (23.040: the last occurrence is used).
 * -1 when <n> is 0, UDHL runs past <n>, an IE runs past the UDH, a known IE
 * has the wrong IEDL, or concat has total 0, seq 0 or seq > total.
 * *<out> is zeroed first, then filled.
 */
int text_udh_parse(const uint8_t *ud, size_t n, struct text_udh *out);

/*
 * Write a whole concatenation UDH to <out>: `05 00 03 RR TT SS` when <ref16>
 * is 0, `06 08 04 RH RL TT SS` when it is not. Returns 6 or 7, or 0 when
 * <cap> is too small, <total> is 0, <seq> is 0 or above <total>, or an 8-bit
 * <ref> is above 255 (truncating it would merge unrelated messages).
 */
size_t text_udh_build_concat(uint8_t *out, size_t cap, uint16_t ref,
                             uint8_t total, uint8_t seq, int ref16);

/*
 * Fill *<out> from the SMPP SAR TLVs sar_msg_ref_num, sar_total_segments
 * and sar_segment_seqnum, with the same rules as the UDH (ref16 is 1: the
 * SAR reference is 16 bits). Returns 0, or -1 (then *<out> is zeroed).
 */
int text_concat_from_sar(uint16_t ref, uint8_t total, uint8_t seq,
                         struct text_concat *out);

/* ---- GSM 7-bit packing ------------------------------------------------ */

/*
 * Fill bits between a UDH of <udh_len> octets and the first packed septet,
 * so the text starts on a septet boundary (23.040 §9.2.3.24): 6 -> 1,
 * 7 -> 0. 0 when <udh_len> is 0.
 */
unsigned text_gsm7_fill_bits(size_t udh_len);

/*
 * Pack <n> septets LSB first after <fill_bits> (0..6) zero bits, as
 * 23.038 §6.1.2.1.1 lays them out. Writes ceil((fill_bits + 7n) / 8)
 * octets; spare bits in the last octet are 0. -1 for a septet above 0x7F,
 * <fill_bits> above 6, or small <cap>.
 * Seven spare bits read back as an extra '@' unless the receiver knows the
 * septet count: pass that count to text_gsm7_unpack, or avoid the length.
 */
int text_gsm7_pack(const uint8_t *septets, size_t n, unsigned fill_bits,
                   uint8_t *out, size_t cap, size_t *out_len);

/*
 * Unpack <septets> septets from packed <in> (<n> octets) that start after
 * <fill_bits> (0..6) bits, one per octet into <out>. -1 when the septets
 * need more than <n> octets, <fill_bits> is above 6, or <cap> < <septets>.
 * The most that <n> octets hold is (8n - fill_bits) / 7.
 */
int text_gsm7_unpack(const uint8_t *in, size_t n, unsigned fill_bits,
                     size_t septets, uint8_t *out, size_t cap);

#endif /* SMPPBRIDGE_TEXT_H */
