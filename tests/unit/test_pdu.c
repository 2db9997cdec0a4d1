/*
 * test_pdu.c - the codec: round trips, known vectors, framing, every
 * decode error with its command_status, buffer edges.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "common.h"

#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pdu.h"
#include "pdu_samples.h"
#include "wire.h"

static int views_equal(struct pdu_view a, struct pdu_view b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Field-by-field equality of two PDUs (views compared by content). */
static void assert_pdu_equal(const struct pdu *a, const struct pdu *b)
{
    cr_assert_eq(a->command_id, b->command_id);
    cr_assert_eq(a->command_status, b->command_status);
    cr_assert_eq(a->sequence_number, b->sequence_number);
#define V(f) cr_assert(views_equal(a->f, b->f), "%s: field " #f " differs", \
                       pdu_command_name(a->command_id))
#define I(f) cr_assert_eq(a->f, b->f, "%s: field " #f " differs %u != %u", \
                          pdu_command_name(a->command_id), a->f, b->f)
    V(system_id); V(password); V(system_type); V(address_range);
    I(interface_version); I(addr_ton); I(addr_npi);
    I(source_addr_ton); I(source_addr_npi); I(dest_addr_ton); I(dest_addr_npi);
    I(esm_class); I(protocol_id); I(priority_flag); I(registered_delivery);
    I(replace_if_present_flag); I(data_coding); I(sm_default_msg_id);
    I(message_state); I(error_code); I(esme_addr_ton); I(esme_addr_npi);
    I(number_of_dests); I(no_unsuccess);
    V(service_type); V(source_addr); V(destination_addr);
    V(schedule_delivery_time); V(validity_period); V(short_message);
    V(message_id); V(final_date); V(esme_addr); V(dest_list); V(unsuccess_list);
    I(tlv_count);
#undef V
#undef I
    for (unsigned i = 0; i < a->tlv_count; i++) {
        cr_assert_eq(a->tlvs[i].tag, b->tlvs[i].tag);
        cr_assert_eq(a->tlvs[i].len, b->tlvs[i].len);
        cr_assert(a->tlvs[i].len == 0 ||
                  memcmp(a->tlvs[i].val, b->tlvs[i].val, a->tlvs[i].len) == 0);
    }
}

Test(pdu_roundtrip, every_command_all_fields)
{
    for (size_t i = 0; i < pdu_sample_count; i++) {
        uint8_t scratch[1024], wire[2048], wire2[2048];
        struct pdu p, q, r;
        pdu_sample_build(pdu_sample_ids[i], &p, scratch, sizeof scratch);
        size_t n = pdu_encode(&p, wire, sizeof wire);
        cr_assert_gt(n, 0, "%s does not encode", pdu_command_name(p.command_id));
        cr_assert_eq(wire_read_u32(wire), n);
        cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK, "%s: %s",
                     pdu_command_name(p.command_id),
                     pdu_status_name(pdu_decode(wire, n, &q)));
        assert_pdu_equal(&p, &q);
        cr_assert_eq(q.command_length, n);
        /* re-encoding the decoded PDU gives the same bytes */
        cr_assert_eq(pdu_encode(&q, wire2, sizeof wire2), n);
        cr_assert_eq(memcmp(wire, wire2, n), 0);
        cr_assert_eq(pdu_decode(wire2, n, &r), ESME_ROK);
    }
}

/* ---- helpers -------------------------------------------------------- */

/* Parse hex text into <out>; returns the byte count. Tokens are separated
 * by spaces: a token of one or two digits is one octet ("0" = 00), a
 * longer one is read two digits per octet. */
static size_t hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        while (*s == ' ')
            s++;
        size_t len = strcspn(s, " ");
        if (len == 0)
            break;
        cr_assert(len <= 2 || len % 2 == 0, "odd hex token in %s", s);
        for (size_t i = 0; i < len; i += 2) {
            char tok[3] = {s[i], i + 1 < len ? s[i + 1] : 0, 0};
            cr_assert_lt(n, cap);
            out[n++] = (uint8_t)strtoul(tok, NULL, 16);
        }
        s += len;
    }
    return n;
}

/* Encode <p> and decode the bytes; returns the decode status. */
static uint32_t reencode_status(const struct pdu *p, uint8_t *wire, size_t cap,
                                struct pdu *out)
{
    size_t n = pdu_encode(p, wire, cap);
    cr_assert_gt(n, 0, "sample does not encode");
    return pdu_decode(wire, n, out);
}

/* A valid submit_sm as raw bytes built field by field, so tests can cut
 * or corrupt any one field. Returns the length; command_length is set. */
static size_t raw_submit_sm(uint8_t *b, const char *src, const char *dst,
                            const uint8_t *tail, size_t tail_len)
{
    size_t n = 16;
    memset(b, 0, 16);
    wire_write_u32(b + 4, PDU_SUBMIT_SM);
    wire_write_u32(b + 12, 7);
    b[n++] = 0;                               /* service_type "" */
    b[n++] = 1; b[n++] = 1;                   /* source ton/npi */
    memcpy(b + n, src, strlen(src) + 1); n += strlen(src) + 1;
    b[n++] = 1; b[n++] = 1;                   /* dest ton/npi */
    memcpy(b + n, dst, strlen(dst) + 1); n += strlen(dst) + 1;
    memcpy(b + n, tail, tail_len); n += tail_len;
    wire_write_u32(b, (uint32_t)n);
    return n;
}

/* esm_class .. short_message "hi", no TLVs */
static const uint8_t sm_tail_ok[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 'h', 'i'};

/* ---- known vectors -------------------------------------------------- */

/* enquire_link (SMPP 3.4 §4.11) is a bare header: command_length 16,
 * command_id 0x15, command_status 0, here sequence_number 1. */
Test(pdu_vectors, enquire_link_spec_example)
{
    uint8_t b[64];
    size_t n = hex("00000010 00000015 00000000 00000001", b, sizeof b);
    struct pdu p;
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.command_id, PDU_ENQUIRE_LINK);
    cr_assert_eq(p.sequence_number, 1);
    struct pdu q;
    pdu_init(&q, PDU_ENQUIRE_LINK, 1);
    uint8_t out[64];
    cr_assert_eq(pdu_encode(&q, out, sizeof out), 16);
    cr_assert_eq(memcmp(out, b, 16), 0);
}

/* The 47-octet bind_transmitter walked through in Rusmpp's
 * command/owned.rs: system_id "SMPP3TEST", password
 * "secret08", system_type "SUBMIT1", interface_version 0x50, ton 1,
 * npi 1, address_range NULL; laid out per SMPP 3.4 §4.1.1. */
Test(pdu_vectors, bind_transmitter_rusmpp_example)
{
    uint8_t b[64];
    size_t n = hex("0000002f 00000002 00000000 00000001"
                   "534d5050335445535400"      /* SMPP3TEST\0 */
                   "7365637265743038 00"       /* secret08\0 */
                   "5355424d49543100"          /* SUBMIT1\0 */
                   "50 01 01 00", b, sizeof b);
    cr_assert_eq(n, 47);
    struct pdu p;
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.command_id, PDU_BIND_TRANSMITTER);
    cr_assert(pdu_view_eq(p.system_id, "SMPP3TEST"));
    cr_assert(pdu_view_eq(p.password, "secret08"));
    cr_assert(pdu_view_eq(p.system_type, "SUBMIT1"));
    cr_assert_eq(p.interface_version, 0x50);
    cr_assert_eq(p.addr_ton, 1);
    cr_assert_eq(p.addr_npi, 1);
    cr_assert_eq(p.address_range.len, 0);
    uint8_t out[64];
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 47);
    cr_assert_eq(memcmp(out, b, 47), 0);
}

/* A delivery receipt as SMSCs send it: deliver_sm, esm_class 0x04, the
 * SMPP 3.4 Appendix B text, and the TLVs receipted_message_id (0x001E),
 * message_state (0x0427, 2 = DELIVERED) and network_error_code (0x0423,
 * GSM type 3, code 0). Assembled by hand from SMPP 3.4 §4.6.1 / §5.3.2. */
Test(pdu_vectors, deliver_sm_receipt)
{
    static const char text[] =
        "id:1234567890 sub:001 dlvrd:001 submit date:2611261200 "
        "done date:2611261201 stat:DELIVRD err:000 Text:Hello";
    uint8_t b[512];
    size_t n = hex("00000000 00000005 00000000 0000002a"
                   "00 01 01 3334363030303030303031 00" /* 34600000001 */
                   "05 00 496e737461 00"                /* Instasent -> "Insta" */
                   "04 00 00 00 00 00 00 00 00", b, sizeof b);
    b[n++] = (uint8_t)(sizeof text - 1);
    memcpy(b + n, text, sizeof text - 1);
    n += sizeof text - 1;
    n += hex("001e 000b 31323334353637383930 00"
             "0427 0001 02"
             "0423 0003 03 0000", b + n, sizeof b - n);
    wire_write_u32(b, (uint32_t)n);

    struct pdu p;
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.command_id, PDU_DELIVER_SM);
    cr_assert_eq(p.sequence_number, 42);
    cr_assert_eq(p.esm_class, 0x04);
    cr_assert(pdu_view_eq(p.source_addr, "34600000001"));
    cr_assert(pdu_view_eq(p.destination_addr, "Insta"));
    cr_assert_eq(p.short_message.len, sizeof text - 1);
    cr_assert_eq(memcmp(p.short_message.ptr, text, sizeof text - 1), 0);
    struct pdu_view rid;
    uint8_t state;
    cr_assert_eq(pdu_tlv_cstr(&p, PDU_TLV_RECEIPTED_MESSAGE_ID, &rid), 0);
    cr_assert(pdu_view_eq(rid, "1234567890"));
    cr_assert_eq(pdu_tlv_u8(&p, PDU_TLV_MESSAGE_STATE, &state), 0);
    cr_assert_eq(state, 2);
    const struct pdu_tlv *ne = pdu_tlv_find(&p, PDU_TLV_NETWORK_ERROR_CODE);
    cr_assert_not_null(ne);
    cr_assert_eq(ne->len, 3);
    cr_assert_eq(ne->val[0], 3);
}

/* A submit_sm_resp with a non-zero status may come as a bare header
 * (peers differ), and 3.4 §4.4.2 says we send it that way. */
Test(pdu_vectors, bodyless_error_response)
{
    uint8_t b[64];
    size_t n = hex("00000010 80000004 00000058 00000009", b, sizeof b);
    struct pdu p;
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.command_status, ESME_RTHROTTLED);
    cr_assert_eq(p.message_id.len, 0);
    uint8_t out[64];
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 16);
    cr_assert_eq(memcmp(out, b, 16), 0);
    /* A bare response with status OK is read too (clients send bare
     * deliver_sm_resp); its message_id is empty. */
    wire_write_u32(b + 8, 0);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.message_id.len, 0);
}

/* A zero-length TLV is its tag and a length of 0, nothing else (SMPP 5.0,
 * as Rusmpp quotes it), e.g. alert_on_message_delivery 0x130C0000. */
Test(pdu_vectors, zero_length_tlv)
{
    uint8_t b[128];
    size_t n = raw_submit_sm(b, "1", "2", sm_tail_ok, sizeof sm_tail_ok);
    n += hex("130C 0000", b + n, sizeof b - n);
    wire_write_u32(b, (uint32_t)n);
    struct pdu p;
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.tlv_count, 1);
    cr_assert_eq(p.tlvs[0].tag, PDU_TLV_ALERT_ON_MESSAGE_DELIVERY);
    cr_assert_eq(p.tlvs[0].len, 0);
}

/* Unknown and vendor TLVs pass through byte for byte (a relay must not
 * drop what it does not know), in their original order, between known
 * ones. */
Test(pdu_vectors, vendor_tlvs_preserved)
{
    uint8_t b[256], out[256];
    size_t n = raw_submit_sm(b, "1", "2", sm_tail_ok, sizeof sm_tail_ok);
    size_t tlv_start = n;
    n += hex("1401 0003 aabbcc  0204 0002 0102  0c0c 0000  8081 0002 3132"
             "3fff 0001 00", b + n, sizeof b - n);
    wire_write_u32(b, (uint32_t)n);
    struct pdu p;
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.tlv_count, 5);
    cr_assert_eq(pdu_encode(&p, out, sizeof out), n);
    cr_assert_eq(memcmp(out + tlv_start, b + tlv_start, n - tlv_start), 0);
    cr_assert_eq(memcmp(out, b, n), 0);
}

/* ---- framing -------------------------------------------------------- */

Test(pdu_frame, every_prefix_needs_more)
{
    uint8_t scratch[1024], wire[2048];
    struct pdu p;
    pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
    size_t n = pdu_encode(&p, wire, sizeof wire);
    uint32_t len;
    for (size_t k = 0; k < n; k++) {
        cr_assert_eq(pdu_frame(wire, k, PDU_MAX_LEN_DEFAULT, &len),
                     PDU_FRAME_NEED_MORE, "prefix %zu", k);
        cr_assert_eq(len, k >= 4 ? n : 0);
    }
    cr_assert_eq(pdu_frame(wire, n, PDU_MAX_LEN_DEFAULT, &len), PDU_FRAME_READY);
    cr_assert_eq(len, n);
    cr_assert_eq(pdu_frame(wire, sizeof wire, PDU_MAX_LEN_DEFAULT, &len),
                 PDU_FRAME_READY);
}

Test(pdu_frame, invalid_lengths)
{
    uint8_t b[16] = {0};
    uint32_t len;
    for (uint32_t v = 0; v < 16; v++) {
        wire_write_u32(b, v);
        cr_assert_eq(pdu_frame(b, 4, PDU_MAX_LEN_DEFAULT, &len), PDU_FRAME_INVALID);
    }
    wire_write_u32(b, 16);
    cr_assert_eq(pdu_frame(b, 16, 16, &len), PDU_FRAME_READY);
    wire_write_u32(b, 17);
    cr_assert_eq(pdu_frame(b, 16, 16, &len), PDU_FRAME_INVALID);
    wire_write_u32(b, 0xFFFFFFFFu);
    cr_assert_eq(pdu_frame(b, 4, PDU_MAX_LEN_DEFAULT, &len), PDU_FRAME_INVALID);
}

/* A reader that gets a stream of PDUs in two pieces, cut at every
 * offset, frames and decodes every PDU exactly once, in order. */
Test(pdu_frame, stream_split_at_every_offset)
{
    uint8_t scratch[3][1024], stream[4096];
    size_t total = 0;
    uint32_t ids[3] = {PDU_SUBMIT_SM, PDU_ENQUIRE_LINK, PDU_SUBMIT_MULTI};
    for (int i = 0; i < 3; i++) {
        struct pdu p;
        pdu_sample_build(ids[i], &p, scratch[i], sizeof scratch[i]);
        total += pdu_encode(&p, stream + total, sizeof stream - total);
    }
    for (size_t cut = 0; cut <= total; cut++) {
        uint8_t acc[4096];
        size_t have = 0, used = 0;
        int seen = 0;
        size_t pieces[2][2] = {{0, cut}, {cut, total}};
        for (int piece = 0; piece < 2; piece++) {
            size_t len = pieces[piece][1] - pieces[piece][0];
            memcpy(acc + have, stream + pieces[piece][0], len);
            have += len;
            uint32_t plen;
            while (pdu_frame(acc + used, have - used, PDU_MAX_LEN_DEFAULT,
                             &plen) == PDU_FRAME_READY) {
                struct pdu q;
                cr_assert_eq(pdu_decode(acc + used, plen, &q), ESME_ROK);
                cr_assert_eq(q.command_id, ids[seen], "cut %zu", cut);
                seen++;
                used += plen;
            }
        }
        cr_assert_eq(seen, 3, "cut %zu", cut);
        cr_assert_eq(used, total);
    }
}

/* ---- decode errors, each with the status a server answers ----------- */

static uint32_t decode_hex(const char *h, struct pdu *p)
{
    static uint8_t b[4096];
    size_t n = hex(h, b, sizeof b);
    wire_write_u32(b, (uint32_t)n);
    return pdu_decode(b, n, p);
}

Test(pdu_decode_errors, header_level)
{
    struct pdu p;
    uint8_t b[32];
    size_t n = hex("00000010 00000015 00000000 00000001", b, sizeof b);
    cr_assert_eq(pdu_decode(b, 15, &p), ESME_RINVCMDLEN);
    cr_assert_eq(pdu_decode(b, n - 1, &p), ESME_RINVCMDLEN, "length word says 16");
    /* unknown command: header still decoded so the nack echoes the seq */
    cr_assert_eq(decode_hex("00000000 00000099 00000000 0000abcd", &p),
                 ESME_RINVCMDID);
    cr_assert_eq(p.sequence_number, 0xabcd);
    cr_assert_eq(p.command_id, 0x99);
    cr_assert_eq(decode_hex("00000000 0000000A 00000000 00000001", &p),
                 ESME_RINVCMDID, "0x0A is reserved");
    /* header-only PDU with a body */
    cr_assert_eq(decode_hex("00000000 00000015 00000000 00000001 00", &p),
                 ESME_RINVCMDLEN);
    cr_assert_eq(decode_hex("00000000 80000000 00000003 00000001 00", &p),
                 ESME_RINVCMDLEN);
}

Test(pdu_decode_errors, bind_strings)
{
    struct pdu p;
    /* system_id: 15 chars fit (16 with NUL), 16 do not */
    cr_assert_eq(decode_hex("00000000 00000002 00000000 00000001 414243444546474849404142434445 00"
                            "00 00 34 00 00 00", &p), ESME_ROK);
    cr_assert_eq(decode_hex("00000000 00000002 00000000 00000001 41424344454647484940414243444546 00"
                            "00 00 34 00 00 00", &p), ESME_RINVSYSID);
    /* password: 8 fit, 9 do not */
    cr_assert_eq(decode_hex("00000000 00000009 00000000 00000001 41 00 3132333435363738 00 00 34 0 0 00",
                            &p), ESME_ROK);
    cr_assert_eq(decode_hex("00000000 00000009 00000000 00000001 41 00 313233343536373839 00 00 34 0 0 00",
                            &p), ESME_RINVPASWD);
    /* system_type: 12 fit, 13 do not */
    cr_assert_eq(decode_hex("00000000 00000001 00000000 00000001 41 00 00 41414141414141414141414141 00"
                            "34 0 0 00", &p), ESME_RINVSYSTYP);
    /* body ends inside the integers, or the last C-string has no NUL */
    cr_assert_eq(decode_hex("00000000 00000001 00000000 00000001 41 00 00 00 34", &p), ESME_RINVCMDLEN);
    cr_assert_eq(decode_hex("00000000 00000001 00000000 00000001 41 00 00 00 34 00 00 41", &p),
                 ESME_RBINDFAIL);
}

Test(pdu_decode_errors, submit_sm_fields)
{
    uint8_t b[512];
    struct pdu p;
    char a20[21], a21[22];
    memset(a20, '9', 20); a20[20] = 0;
    memset(a21, '9', 21); a21[21] = 0;
    size_t n = raw_submit_sm(b, a20, a20, sm_tail_ok, sizeof sm_tail_ok);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.source_addr.len, 20);
    n = raw_submit_sm(b, a21, "1", sm_tail_ok, sizeof sm_tail_ok);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVSRCADR);
    n = raw_submit_sm(b, "1", a21, sm_tail_ok, sizeof sm_tail_ok);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVDSTADR);
    /* service_type of 6 chars (max 5 + NUL) */
    cr_assert_eq(decode_hex("00000000 00000004 00000000 00000001 434d54434d54 00 0 0 31 00 0 0 32 00"
                            " 0 0 0 00 00 0 0 0 0 00", &p), ESME_RINVSERTYP);

    /* schedule_delivery_time must be NULL or 16 chars */
    uint8_t tail[64];
    memcpy(tail, sm_tail_ok, 3);
    memcpy(tail + 3, "26112612\0", 9);
    memcpy(tail + 12, sm_tail_ok + 3, sizeof sm_tail_ok - 3);
    n = raw_submit_sm(b, "1", "2", tail, sizeof sm_tail_ok + 8);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVSCHED);
    /* validity_period of 17 chars: no NUL within 17 */
    memcpy(tail, sm_tail_ok, 4);
    memcpy(tail + 4, "261126120000000+X\0", 18);
    memcpy(tail + 22, sm_tail_ok + 5, sizeof sm_tail_ok - 5);
    n = raw_submit_sm(b, "1", "2", tail, sizeof sm_tail_ok + 17);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVEXPIRY);

    /* sm_length past the body */
    uint8_t long_sm[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 'h', 'i'};
    n = raw_submit_sm(b, "1", "2", long_sm, sizeof long_sm);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVMSGLEN);
    /* body stops before sm_length */
    n = raw_submit_sm(b, "1", "2", sm_tail_ok, 8);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVCMDLEN);
    /* sm_length 255 is accepted when read (5.0's maximum; 3.4's is 254) */
    uint8_t big[300] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 255};
    memset(big + 10, 'x', 255);
    n = raw_submit_sm(b, "1", "2", big, 265);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.short_message.len, 255);
}

Test(pdu_decode_errors, tlv_stream)
{
    uint8_t b[2048];
    struct pdu p;
    size_t base = raw_submit_sm(b, "1", "2", sm_tail_ok, sizeof sm_tail_ok);
    size_t n;
    /* three stray octets: not even a TLV header */
    n = base + hex("0204 00", b + base, 16);
    wire_write_u32(b, (uint32_t)n);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVOPTPARSTREAM);
    /* TLV length past the body */
    n = base + hex("0204 0003 0102", b + base, 16);
    wire_write_u32(b, (uint32_t)n);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVOPTPARSTREAM);
    /* a known TLV with the wrong length */
    n = base + hex("0427 0002 0102", b + base, 16);
    wire_write_u32(b, (uint32_t)n);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVPARLEN);
    n = base + hex("0423 0002 0102", b + base, 16);
    wire_write_u32(b, (uint32_t)n);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVPARLEN);
    /* more TLVs than the codec keeps is refused, not truncated */
    n = base;
    for (unsigned i = 0; i <= PDU_MAX_TLVS; i++)
        n += hex("1500 0000", b + n, sizeof b - n);
    wire_write_u32(b, (uint32_t)n);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_RINVOPTPARSTREAM);
    n -= 4;
    wire_write_u32(b, (uint32_t)n);
    cr_assert_eq(pdu_decode(b, n, &p), ESME_ROK);
    cr_assert_eq(p.tlv_count, PDU_MAX_TLVS);
}

Test(pdu_decode_errors, lists_and_long_addresses)
{
    struct pdu p;
    const char *sm_head = "00000000 00000021 00000000 00000001 00 01 01 31 00";
    const char *tail = "0 0 0 00 00 0 0 0 0 00";
    char h[512];
    /* dest_flag 3 */
    snprintf(h, sizeof h, "%s 01 03 01 01 32 00 %s", sm_head, tail);
    cr_assert_eq(decode_hex(h, &p), ESME_RINVDESTFLAG);
    /* distribution list name of 21 chars */
    snprintf(h, sizeof h, "%s 01 02 %s 00 %s", sm_head,
             "414141414141414141414141414141414141414141", tail);
    cr_assert_eq(decode_hex(h, &p), ESME_RINVDLNAME);
    /* number_of_dests says 2, one present */
    snprintf(h, sizeof h, "%s 02 01 01 01 32 00 %s", sm_head, tail);
    cr_assert_neq(decode_hex(h, &p), ESME_ROK);
    /* good: one SME and one list */
    snprintf(h, sizeof h, "%s 02 01 01 01 32 00 02 4c 00 %s", sm_head, tail);
    cr_assert_eq(decode_hex(h, &p), ESME_ROK);
    cr_assert_eq(p.number_of_dests, 2);
    struct pdu_view cur = p.dest_list;
    struct pdu_dest d;
    cr_assert_eq(pdu_dest_next(&cur, &d), 1);
    cr_assert_eq(d.dest_flag, 1);
    cr_assert(pdu_view_eq(d.addr, "2"));
    cr_assert_eq(pdu_dest_next(&cur, &d), 1);
    cr_assert_eq(d.dest_flag, 2);
    cr_assert(pdu_view_eq(d.addr, "L"));
    cr_assert_eq(pdu_dest_next(&cur, &d), 0);

    /* data_sm addresses are read up to 65 (SMPP 3.4 §4.7.1) */
    char a64[129], a65[131];
    for (int i = 0; i < 64; i++) memcpy(a64 + 2 * i, "39", 2);
    a64[128] = 0;
    snprintf(a65, sizeof a65, "%s39", a64);
    snprintf(h, sizeof h, "00000000 00000103 00000000 00000001 00 1 1 %s 00 1 1 32 00 00 00 00", a64);
    cr_assert_eq(decode_hex(h, &p), ESME_ROK);
    cr_assert_eq(p.source_addr.len, 64);
    snprintf(h, sizeof h, "00000000 00000103 00000000 00000001 00 1 1 %s 00 1 1 32 00 00 00 00", a65);
    cr_assert_eq(decode_hex(h, &p), ESME_RINVSRCADR);
    /* query_sm message_id over 64 chars */
    snprintf(h, sizeof h, "00000000 00000003 00000000 00000001 %s 00 1 1 31 00", a65);
    cr_assert_eq(decode_hex(h, &p), ESME_RINVMSGID);
}

/* Every sample PDU, cut at every length and with command_length patched
 * to match, placed flush against an unreadable page: the decoder returns
 * a status (or OK) and never touches the byte after the end. */
Test(pdu_decode_errors, truncations_against_guard_page)
{
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(map, MAP_FAILED);
    cr_assert_eq(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    for (size_t i = 0; i < pdu_sample_count; i++) {
        uint8_t scratch[1024], wire[2048];
        struct pdu p, q;
        pdu_sample_build(pdu_sample_ids[i], &p, scratch, sizeof scratch);
        size_t n = pdu_encode(&p, wire, sizeof wire);
        cr_assert_leq(n, (size_t)page);
        for (size_t k = 16; k <= n; k++) {
            uint8_t *at = map + page - k;
            memcpy(at, wire, k);
            wire_write_u32(at, (uint32_t)k);
            uint32_t st = pdu_decode(at, k, &q);
            if (k == n)
                cr_assert_eq(st, ESME_ROK);
            else if (st == ESME_ROK && !pdu_is_resp(q.command_id))
                /* a shorter request can still be valid, if it is whole */
                cr_assert_leq(pdu_encoded_len(&q), k);
        }
    }
    munmap(map, (size_t)page * 2);
}

/* ---- validation ----------------------------------------------------- */

static void sample(uint32_t id, struct pdu *p, uint8_t *scratch)
{
    pdu_sample_build(id, p, scratch, 1024);
    cr_assert_eq(pdu_validate(p), ESME_ROK, "sample %s is valid",
                 pdu_command_name(id));
}

Test(pdu_validate, submit_sm_values)
{
    uint8_t s[1024];
    struct pdu p;
#define CASE(stmt, status)                                                     \
    do {                                                                       \
        sample(PDU_SUBMIT_SM, &p, s);                                          \
        stmt;                                                                  \
        cr_assert_eq(pdu_validate(&p), status, "%s -> %s", #stmt,              \
                     pdu_status_name(pdu_validate(&p)));                       \
    } while (0)
    CASE(p.priority_flag = 4, ESME_RINVPRTFLG);
    CASE(p.registered_delivery = 0x20, ESME_RINVREGDLVFLG);
    CASE(p.registered_delivery = 0x13, ESME_ROK); /* 5.0 success-only + intermediate */
    CASE(p.replace_if_present_flag = 2, ESME_RINVREPFLAG);
    CASE(p.esm_class = 0x04, ESME_RINVESMCLASS);
    CASE(p.esm_class = 0x20, ESME_RINVESMCLASS);
    CASE(p.esm_class = 0x43, ESME_ROK); /* UDHI + store and forward */
    CASE(p.source_addr_ton = 7, ESME_RINVSRCTON);
    CASE(p.source_addr_npi = 2, ESME_RINVSRCNPI);
    CASE(p.dest_addr_ton = 9, ESME_RINVDSTTON);
    CASE(p.dest_addr_npi = 5, ESME_RINVDSTNPI);
    CASE(p.destination_addr = pdu_view_str(""), ESME_RINVDSTADR);
    CASE(p.schedule_delivery_time = pdu_view_str("261326120000000+"), ESME_RINVSCHED);
    CASE(p.schedule_delivery_time = pdu_view_str("26112612000000049+"), ESME_RINVSCHED);
    CASE(p.validity_period = pdu_view_str("000001000000000X"), ESME_RINVEXPIRY);
    CASE(p.validity_period = pdu_view_str("261126250000000-"), ESME_RINVEXPIRY);
    CASE(pdu_tlv_add(&p, PDU_TLV_MESSAGE_PAYLOAD, "x", 1), ESME_ROPTPARNOTALLWD);
    CASE((pdu_tlv_add(&p, PDU_TLV_MESSAGE_PAYLOAD, "x", 1),
          p.short_message.len = 0), ESME_ROK);
    CASE(pdu_tlv_add(&p, PDU_TLV_SAR_MSG_REF_NUM, "\x00\x01", 2), ESME_RMISSINGOPTPARAM);
    CASE((pdu_tlv_add(&p, PDU_TLV_SAR_MSG_REF_NUM, "\x00\x01", 2),
          pdu_tlv_add(&p, PDU_TLV_SAR_TOTAL_SEGMENTS, "\x02", 1),
          pdu_tlv_add(&p, PDU_TLV_SAR_SEGMENT_SEQNUM, "\x03", 1)), ESME_RINVOPTPARAMVAL);
    CASE((pdu_tlv_add(&p, PDU_TLV_SAR_MSG_REF_NUM, "\x00\x01", 2),
          pdu_tlv_add(&p, PDU_TLV_SAR_TOTAL_SEGMENTS, "\x02", 1),
          pdu_tlv_add(&p, PDU_TLV_SAR_SEGMENT_SEQNUM, "\x02", 1)), ESME_ROK);
#undef CASE
}

Test(pdu_validate, other_requests)
{
    uint8_t s[1024];
    struct pdu p;
    sample(PDU_SUBMIT_MULTI, &p, s);
    p.number_of_dests = 0;
    p.dest_list.len = 0;
    cr_assert_eq(pdu_validate(&p), ESME_RINVNUMDESTS);
    sample(PDU_QUERY_SM, &p, s);
    p.message_id.len = 0;
    cr_assert_eq(pdu_validate(&p), ESME_RINVMSGID);
    sample(PDU_REPLACE_SM, &p, s);
    p.validity_period = pdu_view_str("2611261200000001");
    cr_assert_eq(pdu_validate(&p), ESME_RINVEXPIRY);
    sample(PDU_DATA_SM, &p, s);
    p.esm_class = 0x04;
    cr_assert_eq(pdu_validate(&p), ESME_RINVESMCLASS);
    sample(PDU_BROADCAST_SM, &p, s);
    p.priority_flag = 9;
    cr_assert_eq(pdu_validate(&p), ESME_RINVPRTFLG);
    sample(PDU_CANCEL_SM, &p, s);
    p.message_id.len = 0; /* cancel by addresses is allowed */
    cr_assert_eq(pdu_validate(&p), ESME_ROK);
}

/* date -u -d 2026-11-26T11:00:00Z +%s */
#define T_2026_11_26_1100_UTC 1795690800

Test(pdu_time, absolute_and_relative)
{
    time_t t;
    /* 2026-11-26 12:00:00 at UTC+1 (4 quarter hours ahead) = 11:00 UTC */
    cr_assert_eq(pdu_time_to_unix(pdu_view_str("261126120000004+"), 0, &t), 0);
    cr_assert_eq(t, T_2026_11_26_1100_UTC);
    cr_assert_eq(pdu_time_to_unix(pdu_view_str("261126120000004-"), 0, &t), 0);
    cr_assert_eq(t, T_2026_11_26_1100_UTC + 2 * 3600);
    /* one day relative */
    cr_assert_eq(pdu_time_to_unix(pdu_view_str("000001000000000R"), 1000, &t), 0);
    cr_assert_eq(t, 1000 + 86400);
    cr_assert_eq(pdu_time_to_unix(pdu_view_str("000000013000000R"), 0, &t), 0);
    cr_assert_eq(t, 5400);
    cr_assert_eq(pdu_time_to_unix(pdu_view_str(""), 0, &t), -1);
    cr_assert_eq(pdu_time_check(pdu_view_str("")), 0);
    cr_assert_eq(pdu_time_check(pdu_view_str("26112612000000+")), -1);
}

/* ---- encoding ------------------------------------------------------- */

Test(pdu_encode, refuses_what_the_wire_cannot_carry)
{
    uint8_t s[1024], out[2048];
    struct pdu p;
    char a21[22];
    memset(a21, '1', 21); a21[21] = 0;
    sample(PDU_SUBMIT_SM, &p, s);
    p.source_addr = pdu_view_str(a21);
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 0, "21 chars + NUL > 21");
    sample(PDU_SUBMIT_SM, &p, s);
    p.destination_addr.ptr = (const uint8_t *)"34\0" "600";
    p.destination_addr.len = 6;
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 0, "NUL inside a C-string");
    sample(PDU_SUBMIT_SM, &p, s);
    p.validity_period = pdu_view_str("1");
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 0);
    sample(PDU_SUBMIT_MULTI, &p, s);
    p.number_of_dests = 2; /* list holds 3 */
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 0);
    sample(PDU_SUBMIT_SM, &p, s);
    pdu_tlv_add(&p, PDU_TLV_USER_MESSAGE_REFERENCE, "abc", 3);
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 0, "known TLV, wrong length");
    pdu_init(&p, 0x99, 1);
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 0, "unknown command");
    pdu_init(&p, PDU_ENQUIRE_LINK, 1);
    pdu_tlv_add(&p, 0x1400, "x", 1);
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 0, "TLV on a header-only PDU");
}

Test(pdu_encode, never_writes_past_cap)
{
    uint8_t s[1024], out[2048];
    struct pdu p;
    sample(PDU_SUBMIT_SM, &p, s);
    size_t n = pdu_encoded_len(&p);
    cr_assert_gt(n, 16);
    memset(out, 0xA5, sizeof out);
    cr_assert_eq(pdu_encode(&p, out, n - 1), 0);
    for (size_t i = 0; i < sizeof out; i++)
        cr_assert_eq(out[i], 0xA5, "byte %zu written", i);
    cr_assert_eq(pdu_encode(&p, out, n), n);
    cr_assert_eq(out[n], 0xA5);
}

Test(pdu_encode, evbuffer_matches_buffer)
{
    for (size_t i = 0; i < pdu_sample_count; i++) {
        uint8_t s[1024], out[2048];
        struct pdu p;
        pdu_sample_build(pdu_sample_ids[i], &p, s, sizeof s);
        size_t n = pdu_encode(&p, out, sizeof out);
        struct evbuffer *eb = evbuffer_new();
        evbuffer_add(eb, "pre", 3);
        cr_assert_eq(pdu_encode_evbuffer(&p, eb), 0);
        cr_assert_eq(evbuffer_get_length(eb), n + 3);
        cr_assert_eq(memcmp(evbuffer_pullup(eb, -1) + 3, out, n), 0);
        evbuffer_free(eb);
    }
}

Test(pdu_encode, failed_response_has_no_body)
{
    struct pdu p, q;
    uint8_t out[64];
    pdu_init(&p, PDU_BIND_TRANSCEIVER_RESP, 5);
    p.command_status = ESME_RINVPASWD;
    p.system_id = pdu_view_str("smppbridge");
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 16);
    cr_assert_eq(reencode_status(&p, out, sizeof out, &q), ESME_ROK);
    cr_assert_eq(q.command_status, ESME_RINVPASWD);
    /* deliver_sm_resp keeps its NULL message_id body */
    pdu_init(&p, PDU_DELIVER_SM_RESP, 5);
    p.command_status = ESME_RX_T_APPN;
    cr_assert_eq(pdu_encode(&p, out, sizeof out), 17);
}

Test(pdu_encode, rewrite_sequence_and_tlv_edit)
{
    uint8_t s[1024], out[2048];
    struct pdu p, q;
    sample(PDU_DELIVER_SM, &p, s);
    cr_assert_eq(pdu_tlv_set(&p, PDU_TLV_RECEIPTED_MESSAGE_ID, "abc", 4), 0);
    cr_assert_eq(pdu_tlv_set(&p, PDU_TLV_RECEIPTED_MESSAGE_ID, "xyz1", 5), 0);
    size_t n = pdu_encode(&p, out, sizeof out);
    pdu_rewrite_sequence(out, 0x7FFFFFFF);
    cr_assert_eq(pdu_decode(out, n, &q), ESME_ROK);
    cr_assert_eq(q.sequence_number, 0x7FFFFFFF);
    struct pdu_view v;
    cr_assert_eq(pdu_tlv_cstr(&q, PDU_TLV_RECEIPTED_MESSAGE_ID, &v), 0);
    cr_assert(pdu_view_eq(v, "xyz1"));
    size_t before = q.tlv_count;
    pdu_tlv_del(&q, PDU_TLV_RECEIPTED_MESSAGE_ID);
    cr_assert_eq(q.tlv_count, before - 1);
    cr_assert_null(pdu_tlv_find(&q, PDU_TLV_RECEIPTED_MESSAGE_ID));
}

Test(pdu_names, tables)
{
    cr_assert_str_eq(pdu_status_name(0x58), "ESME_RTHROTTLED");
    cr_assert_str_eq(pdu_status_name(0xC0), "ESME_RINVOPTPARSTREAM");
    cr_assert_str_eq(pdu_status_name(0x112), "ESME_RINVBCASTCHANIND");
    cr_assert_str_eq(pdu_status_name(0x450), "vendor-specific");
    cr_assert_str_eq(pdu_command_name(PDU_SUBMIT_SM_RESP), "submit_sm_resp");
    cr_assert_str_eq(pdu_command_name(0x12345), "unknown");
    cr_assert_str_eq(pdu_tlv_name(0x0427), "message_state");
    cr_assert_null(pdu_tlv_name(0x1401));
    cr_assert_eq(pdu_resp_id(PDU_SUBMIT_SM), PDU_SUBMIT_SM_RESP);
    cr_assert(pdu_command_flags(PDU_BROADCAST_SM) & PDUF_V50);
}
