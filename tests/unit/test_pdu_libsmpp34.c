/*
 * test_pdu_libsmpp34.c - differential tests of the codec against
 * libsmpp34 (osmocom; Debian libsmpp34-dev 1.14.1), an independent SMPP 3.4
 * codec in C.
 *
 * For every PDU libsmpp34 knows (all of SMPP 3.4):
 *   ours_to_libsmpp34.<pdu>   pdu_encode() the sample of pdu_samples.c,
 *                             smpp34_unpack() it, every field must be the
 *                             one we set (strings, integers, short_message,
 *                             each TLV, each destination / unsuccess entry);
 *   libsmpp34_to_ours.<pdu>   fill libsmpp34's struct with the same values,
 *                             smpp34_pack() it, pdu_decode() must give every
 *                             field back, and the bytes must be ours.
 * Where libsmpp34 departs from the spec, libsmpp34_disagrees.<conflict>
 * names the conflict and its source, asserts the spec's side for our codec
 * and asserts what libsmpp34 does, so a change on either side is noticed.
 * libsmpp34_stricter.* holds rules libsmpp34 enforces and we read
 * liberally (docs/architecture.md, "SMPP facts the code relies on"),
 * libsmpp34_quirks.* its list order,
 * libsmpp34_agrees.* edge cases where both agree, and libsmpp34_lacks the
 * SMPP 5.0 broadcast PDUs, checked against hand-written vectors instead.
 *
 * The libsmpp34 side (its structs mapped onto struct pdu, fill, compare,
 * pack/unpack) is in helpers/l34_bridge.c. libsmpp34 is only ever given
 * bytes followed by zeros in our buffer (l34_unpack), because its C_OCTET
 * reader measures wire strings with str(n)len.
 */
#include "common.h"

#include <criterion/criterion.h>
#include <string.h>

#include "l34_bridge.h"
#include "pdu.h"
#include "pdu_samples.h"
#include "wire.h"

TestSuite(ours_to_libsmpp34, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_to_ours, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_example, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_disagrees, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_stricter, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_quirks, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_agrees, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_lacks, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_coverage, .init = l34_setup, .fini = l34_teardown);
TestSuite(libsmpp34_random, .init = l34_setup, .fini = l34_teardown);

/* ---- our side ---------------------------------------------------------- */

static size_t ours_encode(const struct pdu *p, uint8_t *buf, size_t cap)
{
    size_t n = pdu_encode(p, buf, cap);
    cr_assert_gt(n, 0, "%s: our encoder refuses it",
                 pdu_command_name(p->command_id));
    return n;
}

/* pdu_encode() then smpp34_unpack(); returns libsmpp34's result. */
static int ours_then_l34(const struct pdu *p, union l34_pdu *u)
{
    static uint8_t wire[L34_WIRE_CAP];
    size_t n = ours_encode(p, wire, sizeof wire);
    return l34_unpack(p->command_id, wire, n, u);
}

/* ---- struct pdu == struct pdu (as in test_pdu.c) ---------------------- */

static int views_equal(struct pdu_view a, struct pdu_view b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

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

/* ---- the differential, one PDU at a time ------------------------------ */

/*
 * The sample of <id>, changed only where libsmpp34 cannot take it; each
 * change names the test that covers the difference.
 */
static void l34_sample(uint32_t id, struct pdu *p, uint8_t *scratch,
                       size_t cap)
{
    static const struct pdu_view null_view;
    pdu_sample_build(id, p, scratch, cap);
    switch (id) {
    case PDU_DELIVER_SM:
        /* 3.4 §4.6.1 "unused for deliver_sm, must be NULL"; libsmpp34
         * reads only NULL: libsmpp34_stricter.deliver_sm_times_null_only */
        p->schedule_delivery_time = null_view;
        p->validity_period = null_view;
        break;
    case PDU_SUBMIT_SM_RESP:
        /* 5.0 TLVs on submit_sm_resp: libsmpp34_disagrees.resp_tlvs_5_0 */
    case PDU_DATA_SM_RESP:
        /* 3.4 data_sm_resp TLVs: libsmpp34_disagrees.data_sm_resp_tlvs */
        p->tlv_count = 0;
        break;
    default:
        break;
    }
}

/* Ours -> libsmpp34: encode the sample, unpack it, compare every field. */
static void check_ours_to_l34(uint32_t id)
{
    uint8_t scratch[1024], wire[4096];
    struct pdu p;
    union l34_pdu u;

    l34_sample(id, &p, scratch, sizeof scratch);
    size_t n = ours_encode(&p, wire, sizeof wire);
    int r = l34_unpack(id, wire, n, &u);
    cr_assert_eq(r, 0, "%s: smpp34_unpack refuses our bytes: %s",
                 pdu_command_name(id), smpp34_strerror);
    l34_assert_equals(&u, &p, n);
}

/* libsmpp34 -> ours: fill its struct with the sample's values, pack it,
 * decode it, compare every field; the bytes must be the ones we write. */
static void check_l34_to_ours(uint32_t id)
{
    uint8_t scratch[1024], ours[4096], theirs[4096];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    l34_sample(id, &p, scratch, sizeof scratch);
    int r = l34_pack_from(&p, &u, theirs, sizeof theirs, &len);
    cr_assert_eq(r, 0, "%s: smpp34_pack fails: %s", pdu_command_name(id),
                 smpp34_strerror);
    uint32_t st = pdu_decode(theirs, len, &q);
    cr_assert_eq(st, ESME_ROK, "%s: we refuse libsmpp34's bytes: %s",
                 pdu_command_name(id), pdu_status_name(st));
    assert_pdu_equal(&p, &q);
    cr_assert_eq(q.command_length, len);
    size_t n = ours_encode(&p, ours, sizeof ours);
    cr_assert_eq(n, len, "%s: we write %zu octets, libsmpp34 %zu",
                 pdu_command_name(id), n, len);
    cr_assert_eq(memcmp(ours, theirs, n), 0, "%s: bytes differ",
                 pdu_command_name(id));
}

#define DIFFERENTIAL(name, ID)                                                 \
    Test(ours_to_libsmpp34, name) { check_ours_to_l34(ID); }                   \
    Test(libsmpp34_to_ours, name) { check_l34_to_ours(ID); }

DIFFERENTIAL(generic_nack, PDU_GENERIC_NACK)
DIFFERENTIAL(bind_receiver, PDU_BIND_RECEIVER)
DIFFERENTIAL(bind_receiver_resp, PDU_BIND_RECEIVER_RESP)
DIFFERENTIAL(bind_transmitter, PDU_BIND_TRANSMITTER)
DIFFERENTIAL(bind_transmitter_resp, PDU_BIND_TRANSMITTER_RESP)
DIFFERENTIAL(query_sm, PDU_QUERY_SM)
DIFFERENTIAL(query_sm_resp, PDU_QUERY_SM_RESP)
DIFFERENTIAL(submit_sm, PDU_SUBMIT_SM)
DIFFERENTIAL(submit_sm_resp, PDU_SUBMIT_SM_RESP)
DIFFERENTIAL(deliver_sm, PDU_DELIVER_SM)
DIFFERENTIAL(deliver_sm_resp, PDU_DELIVER_SM_RESP)
DIFFERENTIAL(unbind, PDU_UNBIND)
DIFFERENTIAL(unbind_resp, PDU_UNBIND_RESP)
DIFFERENTIAL(replace_sm, PDU_REPLACE_SM)
DIFFERENTIAL(replace_sm_resp, PDU_REPLACE_SM_RESP)
DIFFERENTIAL(cancel_sm, PDU_CANCEL_SM)
DIFFERENTIAL(cancel_sm_resp, PDU_CANCEL_SM_RESP)
DIFFERENTIAL(bind_transceiver, PDU_BIND_TRANSCEIVER)
DIFFERENTIAL(bind_transceiver_resp, PDU_BIND_TRANSCEIVER_RESP)
DIFFERENTIAL(outbind, PDU_OUTBIND)
DIFFERENTIAL(enquire_link, PDU_ENQUIRE_LINK)
DIFFERENTIAL(enquire_link_resp, PDU_ENQUIRE_LINK_RESP)
DIFFERENTIAL(submit_multi, PDU_SUBMIT_MULTI)
DIFFERENTIAL(submit_multi_resp, PDU_SUBMIT_MULTI_RESP)
DIFFERENTIAL(alert_notification, PDU_ALERT_NOTIFICATION)
DIFFERENTIAL(data_sm, PDU_DATA_SM)
DIFFERENTIAL(data_sm_resp, PDU_DATA_SM_RESP)

/*
 * Every command of pdu_defs.h is either in the differential above or one
 * of the SMPP 5.0 broadcast PDUs of libsmpp34_lacks: none is skipped.
 */
Test(libsmpp34_coverage, every_command_compared)
{
    size_t in_map = 0, v50 = 0;
    for (size_t i = 0; i < pdu_sample_count; i++) {
        uint32_t id = pdu_sample_ids[i];
        if (pdu_command_flags(id) & PDUF_V50) {
            cr_assert_null(l34_map_find(id));
            v50++;
        } else {
            cr_assert_not_null(l34_map_find(id), "%s has no differential",
                               pdu_command_name(id));
            in_map++;
        }
    }
    cr_assert_eq(in_map, l34_map_count);
    cr_assert_eq(v50, 6);
}

/* ---- one PDU by hand, literal values both ways ------------------------ */

/*
 * The generic comparison above, spelled out once for submit_sm so that a
 * mistake in the field map would show here too.
 */
Test(libsmpp34_example, submit_sm_by_hand)
{
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;
    submit_sm_t *s = &u.submit_sm;
    tlv_t t;
    size_t len;

    /* libsmpp34 -> ours */
    memset(&u, 0, sizeof u);
    s->command_id = SUBMIT_SM;
    s->sequence_number = 7;
    memcpy(s->service_type, "CMT", 4);
    s->source_addr_ton = 5;
    s->source_addr_npi = 0;
    memcpy(s->source_addr, "Instasent", 10);
    s->dest_addr_ton = 1;
    s->dest_addr_npi = 1;
    memcpy(s->destination_addr, "34600000001", 12);
    s->esm_class = 0x40;
    s->protocol_id = 0x7f;
    s->priority_flag = 3;
    memcpy(s->schedule_delivery_time, "261126120000000+", 17);
    memcpy(s->validity_period, "000001000000000R", 17);
    s->registered_delivery = 0x11;
    s->replace_if_present_flag = 1;
    s->data_coding = 8;
    s->sm_default_msg_id = 9;
    s->sm_length = 5;
    memcpy(s->short_message, "\x00\x01\x02\x03\x04", 5);
    memset(&t, 0, sizeof t);
    t.tag = TLVID_user_message_reference;
    t.length = 2;
    t.value.val16 = 0xbeef;
    cr_assert_eq(build_tlv(&s->tlv, &t), 0);
    memset(&t, 0, sizeof t);
    t.tag = 0x1401;
    t.length = 3;
    memcpy(t.value.octet, "abc", 3);
    cr_assert_eq(build_tlv(&s->tlv, &t), 0); /* prepended: first on wire */
    cr_assert_eq(l34_pack(SUBMIT_SM, &u, wire, sizeof wire, &len), 0, "%s",
                 smpp34_strerror);

    cr_assert_eq(pdu_decode(wire, len, &q), ESME_ROK);
    cr_assert_eq(q.command_length, len);
    cr_assert_eq(q.command_id, PDU_SUBMIT_SM);
    cr_assert_eq(q.sequence_number, 7);
    cr_assert(pdu_view_eq(q.service_type, "CMT"));
    cr_assert_eq(q.source_addr_ton, 5);
    cr_assert_eq(q.source_addr_npi, 0);
    cr_assert(pdu_view_eq(q.source_addr, "Instasent"));
    cr_assert_eq(q.dest_addr_ton, 1);
    cr_assert_eq(q.dest_addr_npi, 1);
    cr_assert(pdu_view_eq(q.destination_addr, "34600000001"));
    cr_assert_eq(q.esm_class, 0x40);
    cr_assert_eq(q.protocol_id, 0x7f);
    cr_assert_eq(q.priority_flag, 3);
    cr_assert(pdu_view_eq(q.schedule_delivery_time, "261126120000000+"));
    cr_assert(pdu_view_eq(q.validity_period, "000001000000000R"));
    cr_assert_eq(q.registered_delivery, 0x11);
    cr_assert_eq(q.replace_if_present_flag, 1);
    cr_assert_eq(q.data_coding, 8);
    cr_assert_eq(q.sm_default_msg_id, 9);
    cr_assert_eq(q.short_message.len, 5);
    cr_assert_eq(memcmp(q.short_message.ptr, "\x00\x01\x02\x03\x04", 5), 0);
    cr_assert_eq(q.tlv_count, 2);
    cr_assert_eq(q.tlvs[0].tag, 0x1401);
    cr_assert_eq(q.tlvs[0].len, 3);
    cr_assert_eq(memcmp(q.tlvs[0].val, "abc", 3), 0);
    uint16_t umr;
    cr_assert_eq(pdu_tlv_u16(&q, PDU_TLV_USER_MESSAGE_REFERENCE, &umr), 0);
    cr_assert_eq(umr, 0xbeef);

    /* ours -> libsmpp34 */
    pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    cr_assert_str_eq((const char *)s->service_type, "CMT");
    cr_assert_eq(s->source_addr_ton, 5);
    cr_assert_eq(s->source_addr_npi, 0);
    cr_assert_str_eq((const char *)s->source_addr, "Instasent");
    cr_assert_eq(s->dest_addr_ton, 1);
    cr_assert_eq(s->dest_addr_npi, 1);
    cr_assert_str_eq((const char *)s->destination_addr, "34600000001");
    cr_assert_eq(s->esm_class, 0x03);
    cr_assert_eq(s->protocol_id, 0x7f);
    cr_assert_eq(s->priority_flag, 1);
    cr_assert_str_eq((const char *)s->schedule_delivery_time,
                     "261126120000000+");
    cr_assert_str_eq((const char *)s->validity_period, "000001000000000R");
    cr_assert_eq(s->registered_delivery, 1);
    cr_assert_eq(s->replace_if_present_flag, 1);
    cr_assert_eq(s->data_coding, 3);
    cr_assert_eq(s->sm_default_msg_id, 2);
    cr_assert_eq(s->sm_length, 13);
    cr_assert_eq(memcmp(s->short_message, "Hello @ world", 13), 0);
    /* pdu_samples.c adds user_message_reference, network_error_code and
     * vendor 0x1401 in that order; libsmpp34's list is reversed. */
    const tlv_t *l = s->tlv;
    cr_assert_eq(l->tag, 0x1401);
    cr_assert_eq(l->length, 4);
    cr_assert_eq(memcmp(l->value.octet, "\xde\xad\xbe\xef", 4), 0);
    l = l->next;
    cr_assert_eq(l->tag, TLVID_network_error_code);
    cr_assert_eq(l->length, 3);
    cr_assert_eq(memcmp(l->value.octet, "\x03\x00\x0b", 3), 0);
    l = l->next;
    cr_assert_eq(l->tag, TLVID_user_message_reference);
    cr_assert_eq(l->length, 2);
    cr_assert_eq(l->value.val16, 0x1234);
    cr_assert_null(l->next);
}

/* ---- where libsmpp34 departs from the spec ---------------------------- */

/*
 * data_sm source_addr: 65 octets in SMPP 3.4 (§4.7.1) and 5.0, as Kannel
 * and OpenSMPP also have it; libsmpp34 declares it C_OCTET(source_addr,
 * ADDRESS_LENGTH) = 21 in def_frame/data_sm.frame (its destination_addr
 * is 65). Spec side: we write and read addresses up to 64 characters.
 */
Test(libsmpp34_disagrees, data_sm_source_addr_max_21)
{
    static const char addr30[] = "123456789012345678901234567890";
    static const char addr64[] =
        "1234567890123456789012345678901234567890123456789012345678901234";
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;

    pdu_sample_build(PDU_DATA_SM, &p, scratch, sizeof scratch);
    p.source_addr = pdu_view_str(addr30);
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    assert_pdu_equal(&p, &q);
    p.source_addr = pdu_view_str(addr64);
    n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    cr_assert(pdu_view_eq(q.source_addr, addr64));

    /* libsmpp34 refuses a 30-character source and its struct cannot
     * hold one; a 30-character destination it reads. */
    p.source_addr = pdu_view_str(addr30);
    cr_assert_eq(ours_then_l34(&p, &u), -1);
    L34_ASSERT_SAID("[source_addr:", "Data length is invalid");
    cr_assert_eq(sizeof u.data_sm.source_addr, 21);
    cr_assert_eq(sizeof u.data_sm.destination_addr, 65);
    p.source_addr = pdu_view_str("34600000001");
    p.destination_addr = pdu_view_str(addr30);
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    cr_assert_str_eq((const char *)u.data_sm.destination_addr, addr30);
}

/*
 * short_message maximum: 254 octets in 3.4, 255 in 5.0; we read and
 * write up to 255 (pdu_defs.h F(SM, .., 255)).
 * libsmpp34 (OCTET8(short_message, 254)): smpp34_unpack takes 254 and
 * refuses 255; smpp34_pack refuses 254 too (its check is `>= 254`), so it
 * writes at most 253, below even 3.4's limit.
 */
Test(libsmpp34_disagrees, short_message_254_and_255)
{
    static uint8_t text[255];
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    memset(text, 'x', sizeof text);
    pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
    for (size_t sm_len = 254; sm_len <= 255; sm_len++) {
        p.short_message.ptr = text;
        p.short_message.len = sm_len;
        size_t n = ours_encode(&p, wire, sizeof wire);
        cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
        cr_assert_eq(q.short_message.len, sm_len);
    }

    p.short_message.len = 254;
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    cr_assert_eq(u.submit_sm.sm_length, 254);
    cr_assert_eq(memcmp(u.submit_sm.short_message, text, 254), 0);
    p.short_message.len = 255;
    cr_assert_eq(ours_then_l34(&p, &u), -1);
    L34_ASSERT_SAID("[short_message:", "Data length is invalid");

    p.short_message.len = 254;
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), -1);
    L34_ASSERT_SAID("[short_message:", "Data length is invalid");
    p.short_message.len = 253;
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
    cr_assert_eq(pdu_decode(wire, len, &q), ESME_ROK);
    cr_assert_eq(q.short_message.len, 253);
}

/*
 * message_payload: its length is bounded only by the 16-bit TLV length
 * (3.4 §5.3), and a relay must not cut it; libsmpp34 holds TLV values in
 * value.octet[MAX_TLV_SIZE=1024] and refuses longer ones both ways.
 * Spec side: we carry 1025 and 65535 octets.
 */
Test(libsmpp34_disagrees, message_payload_over_1024)
{
    static uint8_t payload[65535], wire[L34_WIRE_CAP];
    uint8_t scratch[1024];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    pdu_sample_build(PDU_DATA_SM, &p, scratch, sizeof scratch);
    static const uint16_t sizes[] = {1025, 65535};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        cr_assert_eq(pdu_tlv_set(&p, PDU_TLV_MESSAGE_PAYLOAD, payload,
                                 sizes[i]), 0);
        size_t n = ours_encode(&p, wire, sizeof wire);
        cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
        assert_pdu_equal(&p, &q);
        cr_assert_eq(l34_unpack(PDU_DATA_SM, wire, n, &u), -1);
        L34_ASSERT_SAID("[value.octet:", "Data length is invalid");
    }

    /* libsmpp34's limit, both ways */
    pdu_tlv_set(&p, PDU_TLV_MESSAGE_PAYLOAD, payload, 1024);
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    l34_assert_equals(&u, &p, pdu_encoded_len(&p));
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
    pdu_tlv_set(&p, PDU_TLV_MESSAGE_PAYLOAD, payload, 1025);
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), -1);
}

/*
 * data_sm_resp TLVs: 3.4 gives data_sm_resp optional parameters
 * (delivery_failure_reason, network_error_code,
 * additional_status_info_text, dpf_result: 3.4 §4.7.2).
 * libsmpp34 ships def_frame/data_sm_resp.tlv but data_sm_resp.frame has
 * no TLV line and data_sm_resp_t no tlv member: it cannot hold them and
 * smpp34_unpack fails on the length check. Spec side: we carry them.
 */
Test(libsmpp34_disagrees, data_sm_resp_tlvs)
{
    uint8_t wire[256];
    struct pdu p, q;
    union l34_pdu u;

    pdu_init(&p, PDU_DATA_SM_RESP, 42);
    p.command_status = ESME_RDELIVERYFAILURE;
    p.message_id = pdu_view_str("5f3a9c0d1e");
    pdu_tlv_add(&p, PDU_TLV_DELIVERY_FAILURE_REASON, "\x01", 1);
    pdu_tlv_add(&p, PDU_TLV_NETWORK_ERROR_CODE, "\x03\x00\x0b", 3);
    pdu_tlv_add(&p, PDU_TLV_ADDITIONAL_STATUS_INFO_TEXT, "no route", 9);
    pdu_tlv_add(&p, PDU_TLV_DPF_RESULT, "\x01", 1);
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    assert_pdu_equal(&p, &q);

    cr_assert_eq(l34_unpack(PDU_DATA_SM_RESP, wire, n, &u), -1);
    L34_ASSERT_SAID("[PDU:", "Error in PDU length");
    /* without the TLVs it reads the same PDU */
    p.tlv_count = 0;
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    p.command_status = ESME_ROK;
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    cr_assert_str_eq((const char *)u.data_sm_resp.message_id, "5f3a9c0d1e");
}

/*
 * SMPP 5.0 optional parameters on PDUs whose libsmpp34 frame takes none:
 * congestion_state, which 5.0 allows in any response,
 * additional_status_info_text on submit_sm_resp (our sample), and
 * message_payload on replace_sm, which 5.0 allows and 3.4 did not.
 * pdu_defs.h marks these PDUF_TLV. libsmpp34's
 * submit_sm_resp, deliver_sm_resp, submit_multi_resp and replace_sm
 * frames end without TLV, so smpp34_unpack fails its length check.
 */
Test(libsmpp34_disagrees, resp_tlvs_5_0)
{
    static const uint32_t ids[] = {PDU_SUBMIT_SM_RESP, PDU_DELIVER_SM_RESP,
                                   PDU_SUBMIT_MULTI_RESP, PDU_REPLACE_SM};
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;

    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        pdu_sample_build(ids[i], &p, scratch, sizeof scratch);
        if (ids[i] == PDU_REPLACE_SM) {
            pdu_tlv_add(&p, PDU_TLV_MESSAGE_PAYLOAD, p.short_message.ptr,
                        (uint16_t)p.short_message.len);
            p.short_message.len = 0;
        } else if (ids[i] != PDU_SUBMIT_SM_RESP) {
            pdu_tlv_add(&p, PDU_TLV_CONGESTION_STATE, "\x50", 1);
        }
        cr_assert_gt(p.tlv_count, 0);
        size_t n = ours_encode(&p, wire, sizeof wire);
        cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
        assert_pdu_equal(&p, &q);
        cr_assert_eq(l34_unpack(ids[i], wire, n, &u), -1, "%s",
                     pdu_command_name(ids[i]));
        L34_ASSERT_SAID("[PDU:", "Error in PDU length");
    }
}

/*
 * Body-less error responses: a reader has to take a failed response both
 * with and without its body. 3.4 says "not returned if the command_status
 * field contains a non-zero value" for bind_transmitter_resp,
 * bind_receiver_resp and submit_sm_resp (§4.1.2, §4.1.4, §4.4.2); per a spec
 * author quoted in Wikipedia's SMPP article, 5.0 made it the rule for error
 * responses. Our encoder omits the body of a failed bind_*_resp and
 * submit_sm_resp only, where the 3.4 text says so (PDUF_NOBODY_ON_ERR); a
 * failed query_sm_resp or data_sm_resp keeps its body so that strict 3.4
 * peers (libsmpp34 among them) can read it. Our decoder takes both forms.
 * libsmpp34 reads the body-less form only for submit_sm_resp (O_C_OCTET),
 * and there only that form: a failed submit_sm_resp that carries its (empty)
 * message_id fails its length check. It packs the others with a body, which
 * we read.
 */
Test(libsmpp34_disagrees, body_less_error_responses)
{
    static const uint32_t ids[] = {
        PDU_BIND_RECEIVER_RESP, PDU_BIND_TRANSMITTER_RESP,
        PDU_BIND_TRANSCEIVER_RESP, PDU_QUERY_SM_RESP, PDU_SUBMIT_SM_RESP,
        PDU_DATA_SM_RESP};
    static const uint8_t with_body[] = {
        0, 0, 0, 17, 0x80, 0, 0, 4, 0, 0, 0, 0x58, 0, 0, 0, 9, 0};
    uint8_t wire[256];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        const char *name = pdu_command_name(ids[i]);
        pdu_init(&p, ids[i], 9);
        p.command_status = ESME_RTHROTTLED;
        int bodyless = (pdu_command_flags(ids[i]) & PDUF_NOBODY_ON_ERR) != 0;
        cr_assert_eq(bodyless, ids[i] != PDU_QUERY_SM_RESP &&
                                   ids[i] != PDU_DATA_SM_RESP, "%s", name);
        size_t n = ours_encode(&p, wire, sizeof wire);
        cr_assert_eq(n == PDU_HEADER_LEN, bodyless, "%s: %zu", name, n);
        cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK, "%s", name);
        cr_assert_eq(q.command_status, ESME_RTHROTTLED);

        int r = l34_unpack(ids[i], wire, n, &u);
        cr_assert_eq(r, ids[i] == PDU_SUBMIT_SM_RESP || !bodyless ? 0 : -1,
                     "%s: %d", name, r);

        /* libsmpp34's own failed response: a body except submit_sm_resp */
        cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
        cr_assert_eq(len > PDU_HEADER_LEN, ids[i] != PDU_SUBMIT_SM_RESP,
                     "%s: %zu", name, len);
        cr_assert_eq(pdu_decode(wire, len, &q), ESME_ROK, "%s", name);
        assert_pdu_equal(&p, &q);
    }

    /* submit_sm_resp ESME_RTHROTTLED with an empty message_id */
    cr_assert_eq(pdu_decode(with_body, sizeof with_body, &q), ESME_ROK);
    cr_assert_eq(q.message_id.len, 0);
    cr_assert_eq(l34_unpack(PDU_SUBMIT_SM_RESP, with_body, sizeof with_body,
                            &u), -1);
    L34_ASSERT_SAID("[PDU:", "Error in PDU length");
}

/*
 * command_status values outside 3.4's table: 0x100-0x3FF are SMPP
 * extensions (5.0 uses 0x100-0x112, e.g. 0x101 ESME_RPROHIBITED) and
 * 0x400-0x4FF vendor-specific errors. libsmpp34
 * checks command_status against its def_list/command_status.list and
 * refuses any other value, in the header of every PDU, both ways. Spec
 * side: we carry the value.
 */
Test(libsmpp34_disagrees, command_status_outside_3_4_table)
{
    static const uint32_t statuses[] = {ESME_RPROHIBITED, 0x00000400u,
                                        0x000004FFu};
    static const uint32_t ids[] = {PDU_SUBMIT_SM_RESP, PDU_GENERIC_NACK};
    uint8_t wire[64];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        for (size_t k = 0; k < ARRAY_LEN(statuses); k++) {
            pdu_init(&p, ids[i], 5);
            p.command_status = statuses[k];
            size_t n = ours_encode(&p, wire, sizeof wire);
            cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
            cr_assert_eq(q.command_status, statuses[k]);
            cr_assert_eq(l34_unpack(ids[i], wire, n, &u), -1);
            L34_ASSERT_SAID("[command_status:", "Invalid value");
            cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), -1);
        }
    }
}

/*
 * generic_nack with sequence_number 0: a generic_nack answers with the
 * offending PDU's sequence number when it could be read, and with 0 when
 * it could not; 0 is valid in no other PDU.
 * libsmpp34's test_sequence_number() refuses 0 in every PDU, both ways.
 * Spec side: we write and read it.
 */
Test(libsmpp34_disagrees, generic_nack_sequence_0)
{
    uint8_t wire[64];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    pdu_init(&p, PDU_GENERIC_NACK, 0);
    p.command_status = ESME_RINVCMDLEN;
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(n, PDU_HEADER_LEN);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    cr_assert_eq(q.sequence_number, 0);
    cr_assert_eq(q.command_status, ESME_RINVCMDLEN);

    cr_assert_eq(l34_unpack(PDU_GENERIC_NACK, wire, n, &u), -1);
    L34_ASSERT_SAID("[sequence_number:", "Invalid value");
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), -1);
}

/*
 * interface_version other than 0x34 in a bind: 3.3 peers send 0x33 or lower
 * and 5.0 peers 0x50; the SMSC answers according to it (no TLV, hence no
 * sc_interface_version, for a 3.3 peer). libsmpp34 runs
 * test_interface_version() (== 0x34 only) on bind_transmitter and
 * bind_transceiver, both ways, but not on bind_receiver (valueDec_08). Spec
 * side: we read every value.
 */
Test(libsmpp34_disagrees, bind_interface_version_not_0x34)
{
    static const uint32_t ids[] = {PDU_BIND_TRANSMITTER, PDU_BIND_TRANSCEIVER,
                                   PDU_BIND_RECEIVER};
    static const uint8_t versions[] = {0x33, 0x50};
    uint8_t scratch[1024], wire[256];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        for (size_t k = 0; k < ARRAY_LEN(versions); k++) {
            pdu_sample_build(ids[i], &p, scratch, sizeof scratch);
            p.interface_version = versions[k];
            size_t n = ours_encode(&p, wire, sizeof wire);
            cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
            cr_assert_eq(q.interface_version, versions[k]);

            int want = ids[i] == PDU_BIND_RECEIVER ? 0 : -1;
            cr_assert_eq(l34_unpack(ids[i], wire, n, &u), want, "%s 0x%02x",
                         pdu_command_name(ids[i]), versions[k]);
            cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), want);
        }
    }
}

/*
 * source_telematics_id is 2 octets in Wireshark, node-smpp and Rusmpp
 * (Kannel says 1), so it is decoded by its TLV length. libsmpp34's data_sm.tlv
 * reads it as U08 whatever the length says, so the next octet is taken
 * for the next TLV's header, and it packs a length-2 TLV with one value
 * octet, which we refuse (ESME_RINVOPTPARSTREAM). Spec side: we take the
 * 2-octet form and keep both octets.
 */
Test(libsmpp34_disagrees, data_sm_source_telematics_id_2_octets)
{
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    pdu_sample_build(PDU_DATA_SM, &p, scratch, sizeof scratch);
    pdu_tlv_add(&p, PDU_TLV_SOURCE_TELEMATICS_ID, "\x00\x02", 2);
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    assert_pdu_equal(&p, &q);
    cr_assert_eq(ours_then_l34(&p, &u), -1);

    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
    cr_assert_eq(len, n - 1); /* one value octet short */
    cr_assert_eq(pdu_decode(wire, len, &q), ESME_RINVOPTPARSTREAM);

    /* the 1-octet form (Kannel's) both take */
    p.tlvs[p.tlv_count - 1].len = 1;
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    l34_assert_equals(&u, &p, pdu_encoded_len(&p));
}

/*
 * ms_validity is 1 octet in 3.4; 5.0 adds a 4-octet form (the behaviour
 * octet, a time unit and a 16-bit count). libsmpp34's submit_sm.tlv reads
 * it as U08 whatever the length says. Spec side: we take the 5.0 form.
 */
Test(libsmpp34_disagrees, ms_validity_4_octets_5_0)
{
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;

    pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
    pdu_tlv_add(&p, PDU_TLV_MS_VALIDITY, "\x03\x01\x00\x0a", 4);
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    assert_pdu_equal(&p, &q);
    cr_assert_eq(ours_then_l34(&p, &u), -1);

    p.tlvs[p.tlv_count - 1].len = 1; /* 3.4 form: both */
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    l34_assert_equals(&u, &p, pdu_encoded_len(&p));
}

/*
 * alert_on_message_delivery is 0 octets in 3.4 and 0 or 1 in 5.0.
 * libsmpp34's submit_sm.tlv allows value.octet of 0
 * octets only. Spec side: we take the 5.0 form.
 */
Test(libsmpp34_disagrees, alert_on_message_delivery_1_octet_5_0)
{
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;

    pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
    pdu_tlv_add(&p, PDU_TLV_ALERT_ON_MESSAGE_DELIVERY, "\x02", 1);
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    assert_pdu_equal(&p, &q);
    cr_assert_eq(ours_then_l34(&p, &u), -1);
    L34_ASSERT_SAID("[value.octet:", "Data length is invalid");

    p.tlvs[p.tlv_count - 1].len = 0; /* 3.4 form: both */
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    l34_assert_equals(&u, &p, pdu_encoded_len(&p));
}

/*
 * Time fields are NULL or exactly 16 characters (3.4 §7.1): any other
 * length is malformed. libsmpp34 declares them
 * C_OCTET(.., 17) and takes any length up to 16, both ways. Spec side:
 * we refuse a 12-character schedule_delivery_time (ESME_RINVSCHED) or
 * validity_period (ESME_RINVEXPIRY), and will not write one.
 */
Test(libsmpp34_disagrees, time_fields_null_or_16_only)
{
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
    memcpy(u.submit_sm.schedule_delivery_time, "261126120000\0\0\0\0", 17);
    cr_assert_eq(l34_pack(SUBMIT_SM, &u, wire, sizeof wire, &len), 0);
    cr_assert_eq(pdu_decode(wire, len, &q), ESME_RINVSCHED);
    cr_assert_eq(l34_unpack(SUBMIT_SM, wire, len, &u), 0);
    cr_assert_str_eq((const char *)u.submit_sm.schedule_delivery_time,
                     "261126120000");

    pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
    memcpy(u.submit_sm.validity_period, "0001\0", 5);
    cr_assert_eq(l34_pack(SUBMIT_SM, &u, wire, sizeof wire, &len), 0);
    cr_assert_eq(pdu_decode(wire, len, &q), ESME_RINVEXPIRY);
    cr_assert_eq(l34_unpack(SUBMIT_SM, wire, len, &u), 0);

    p.schedule_delivery_time = pdu_view_str("261126120000");
    cr_assert_eq(pdu_encoded_len(&p), 0);
    cr_assert_eq(pdu_encode(&p, wire, sizeof wire), 0);

    /* query_sm_resp final_date in the 12-character local-time form some
     * SMSCs report: both read it; we
     * read final_date liberally (pdu_defs.h) since only an SMSC sends it. */
    pdu_sample_build(PDU_QUERY_SM_RESP, &p, scratch, sizeof scratch);
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
    memcpy(u.query_sm_resp.final_date, "261126120500\0", 13);
    cr_assert_eq(l34_pack(QUERY_SM_RESP, &u, wire, sizeof wire, &len), 0);
    cr_assert_eq(pdu_decode(wire, len, &q), ESME_ROK);
    cr_assert(pdu_view_eq(q.final_date, "261126120500"));
    cr_assert_eq(l34_unpack(QUERY_SM_RESP, wire, len, &u), 0);
    cr_assert_str_eq((const char *)u.query_sm_resp.final_date, "261126120500");
}

/* ---- rules libsmpp34 enforces and we read liberally ------------------- */

/*
 * deliver_sm schedule_delivery_time and validity_period: 3.4 §4.6.1 says
 * they are unused in deliver_sm and NULL; the layout is still
 * submit_sm's, so an SMSC may fill them and a reader ignores them.
 * libsmpp34's deliver_sm.frame declares both C_OCTET(.., 1): only NULL.
 * Our codec reads (and writes) either form; the NULL form goes through
 * both ways in the differential. Both behaviours asserted.
 */
Test(libsmpp34_stricter, deliver_sm_times_null_only)
{
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;

    pdu_sample_build(PDU_DELIVER_SM, &p, scratch, sizeof scratch);
    cr_assert_eq(p.schedule_delivery_time.len, 16);
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    assert_pdu_equal(&p, &q);
    cr_assert_eq(l34_unpack(PDU_DELIVER_SM, wire, n, &u), -1);
    L34_ASSERT_SAID("[schedule_delivery_time:", "Data length is invalid");
    cr_assert_eq(sizeof u.deliver_sm.schedule_delivery_time, 1);
    cr_assert_eq(sizeof u.deliver_sm.validity_period, 1);
}

/*
 * deliver_sm_resp message_id is unused and NULL (3.4 §4.6.2; jsmpp allows 0
 * characters, Kannel 1 octet); libsmpp34's deliver_sm_resp.frame declares
 * C_OCTET(message_id, 1). We read up to 65 (pdu_defs.h message_id layout)
 * and write what we are given. Both behaviours asserted.
 */
Test(libsmpp34_stricter, deliver_sm_resp_message_id_null)
{
    uint8_t wire[128];
    struct pdu p, q;
    union l34_pdu u;

    pdu_init(&p, PDU_DELIVER_SM_RESP, 3);
    p.message_id = pdu_view_str("abc");
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    cr_assert(pdu_view_eq(q.message_id, "abc"));
    cr_assert_eq(l34_unpack(PDU_DELIVER_SM_RESP, wire, n, &u), -1);
    cr_assert_eq(sizeof u.deliver_sm_resp.message_id, 1);
}

/*
 * cancel_sm destination_addr: 21 in the spec (libsmpp34, Rusmpp) against
 * 65 in Kannel; we read up to 65 (docs/architecture.md, "SMPP facts the
 * code relies on"). libsmpp34 holds 21.
 */
Test(libsmpp34_stricter, cancel_sm_destination_addr_21)
{
    static const char addr30[] = "123456789012345678901234567890";
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;

    pdu_sample_build(PDU_CANCEL_SM, &p, scratch, sizeof scratch);
    p.destination_addr = pdu_view_str(addr30);
    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    cr_assert(pdu_view_eq(q.destination_addr, addr30));
    cr_assert_eq(l34_unpack(PDU_CANCEL_SM, wire, n, &u), -1);
    L34_ASSERT_SAID("[destination_addr:", "Data length is invalid");
}

/* ---- libsmpp34's list order ------------------------------------------ */

/*
 * smpp34_unpack prepends each TLV, dest_address and unsuccess_sme node it
 * reads, and build_tlv/build_dad/build_udad prepend too: its lists are in
 * reverse wire order. The spec gives TLVs no order, but a relay through
 * libsmpp34 that unpacks and packs again reverses them; we keep wire
 * order (tlvs[], dest_list, unsuccess_list are in wire order).
 */
Test(libsmpp34_quirks, unpack_and_build_reverse_lists)
{
    uint8_t scratch[1024], wire[1024], again[1024];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    pdu_sample_build(PDU_SUBMIT_MULTI, &p, scratch, sizeof scratch);
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    cr_assert_eq(u.submit_multi.tlv->tag, 0x1401); /* added last */
    cr_assert_eq(u.submit_multi.dest_addr_def->dest_flag, 2); /* "friends" */
    cr_assert_str_eq((const char *)u.submit_multi.dest_addr_def->value.dl_name,
                     "friends");
    cr_assert_eq(l34_pack(SUBMIT_MULTI, &u, again, sizeof again, &len), 0);
    cr_assert_eq(pdu_decode(again, len, &q), ESME_ROK);
    cr_assert_eq(q.tlvs[0].tag, 0x1401);
    cr_assert_eq(q.tlvs[q.tlv_count - 1].tag, PDU_TLV_USER_MESSAGE_REFERENCE);
    struct pdu_dest d;
    struct pdu_view cur = q.dest_list;
    cr_assert(pdu_dest_next(&cur, &d));
    cr_assert(pdu_view_eq(d.addr, "friends"));

    size_t n = ours_encode(&p, wire, sizeof wire);
    cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
    cr_assert_eq(q.tlvs[0].tag, PDU_TLV_USER_MESSAGE_REFERENCE);
    cur = q.dest_list;
    cr_assert(pdu_dest_next(&cur, &d));
    cr_assert(pdu_view_eq(d.addr, "34600000001"));

    pdu_sample_build(PDU_SUBMIT_MULTI_RESP, &p, scratch, sizeof scratch);
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    cr_assert_str_eq(
        (const char *)u.submit_multi_resp.unsuccess_smes->destination_addr,
        "699");
}

/* ---- edge cases where both agree -------------------------------------- */

/*
 * short_message is an Octet String: its length comes from sm_length and
 * 0x00 is data (GSM 03.38 '@' is septet 0). Both sides carry NULs in
 * short_message and in message_payload, both ways.
 */
Test(libsmpp34_agrees, nul_octets_in_short_message_and_payload)
{
    static const uint8_t gsm[] = {0x00, 'a', 0x00, 0x00, 'b', 0x00};
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
    p.short_message.ptr = gsm;
    p.short_message.len = sizeof gsm;
    pdu_tlv_add(&p, PDU_TLV_MESSAGE_PAYLOAD, gsm, sizeof gsm);
    cr_assert_eq(ours_then_l34(&p, &u), 0, "%s", smpp34_strerror);
    l34_assert_equals(&u, &p, pdu_encoded_len(&p));
    cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
    cr_assert_eq(pdu_decode(wire, len, &q), ESME_ROK);
    assert_pdu_equal(&p, &q);
}

/*
 * TLVs libsmpp34 does not know (5.0 congestion_state and
 * billing_identification, vendor 0x1400-0x3FFF, reserved 0x4000+) and a
 * zero-length one: its .tlv files end in "Parameter forwarded" octets, so
 * both sides keep them (a relay must carry TLVs it does not know), in
 * submit_sm, deliver_sm, data_sm, bind_transceiver_resp and
 * alert_notification.
 */
Test(libsmpp34_agrees, tlvs_it_does_not_know_pass_as_octets)
{
    static const uint32_t ids[] = {PDU_SUBMIT_SM, PDU_DELIVER_SM, PDU_DATA_SM,
                                   PDU_BIND_TRANSCEIVER_RESP,
                                   PDU_ALERT_NOTIFICATION};
    uint8_t scratch[1024], wire[2048];
    struct pdu p, q;
    union l34_pdu u;
    size_t len;

    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        l34_sample(ids[i], &p, scratch, sizeof scratch);
        pdu_tlv_add(&p, PDU_TLV_CONGESTION_STATE, "\x5a", 1);
        pdu_tlv_add(&p, PDU_TLV_BILLING_IDENTIFICATION, "\x01" "acct-77", 8);
        pdu_tlv_add(&p, 0x3FFF, "vendor", 6);
        pdu_tlv_add(&p, 0x4000, "\x00\x00", 2);
        pdu_tlv_add(&p, 0x1402, NULL, 0);
        cr_assert_eq(ours_then_l34(&p, &u), 0, "%s: %s",
                     pdu_command_name(ids[i]), smpp34_strerror);
        l34_assert_equals(&u, &p, pdu_encoded_len(&p));
        cr_assert_eq(l34_pack_from(&p, &u, wire, sizeof wire, &len), 0);
        cr_assert_eq(pdu_decode(wire, len, &q), ESME_ROK);
        assert_pdu_equal(&p, &q);
    }
}

/* Offset of the first <s> (no NUL) in <n> bytes at <b>, or <n>. */
static size_t find(const uint8_t *b, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(b + i, s, k) == 0)
            return i;
    return n;
}

/*
 * C-Octet String maxima count the NUL (3.4 §4): system_id 16
 * (15 characters), submit_sm source_addr 21, alert_notification esme_addr
 * 65. Both sides take the longest and refuse one more character.
 */
Test(libsmpp34_agrees, cstring_maxima)
{
    static const char c15[] = "123456789012345";
    static const char c16[] = "1234567890123456";
    static const char c20[] = "12345678901234567890";
    static const char c21[] = "123456789012345678901";
    static const char c64[] =
        "1234567890123456789012345678901234567890123456789012345678901234";
    static const char c65[] =
        "12345678901234567890123456789012345678901234567890123456789012345";
    static const struct {
        uint32_t id;
        size_t off;
        const char *fits, *over;
        uint32_t status;
        const char *l34_field;
    } cases[] = {
        {PDU_BIND_TRANSMITTER, offsetof(struct pdu, system_id), c15, c16,
         ESME_RINVSYSID, "[system_id:"},
        {PDU_SUBMIT_SM, offsetof(struct pdu, source_addr), c20, c21,
         ESME_RINVSRCADR, "[source_addr:"},
        {PDU_ALERT_NOTIFICATION, offsetof(struct pdu, esme_addr), c64, c65,
         ESME_RINVDSTADR, "[esme_addr:"},
    };
    uint8_t scratch[1024], wire[1024];
    struct pdu p, q;
    union l34_pdu u;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct pdu_view *v;
        pdu_sample_build(cases[i].id, &p, scratch, sizeof scratch);
        v = (struct pdu_view *)(void *)((char *)&p + cases[i].off);
        *v = pdu_view_str(cases[i].fits);
        size_t n = ours_encode(&p, wire, sizeof wire);
        cr_assert_eq(pdu_decode(wire, n, &q), ESME_ROK);
        cr_assert_eq(l34_unpack(cases[i].id, wire, n, &u), 0, "%s",
                     smpp34_strerror);
        l34_assert_equals(&u, &p, n);

        /* one more character: we will not write it; splice it in */
        *v = pdu_view_str(cases[i].over);
        cr_assert_eq(pdu_encode(&p, wire, sizeof wire), 0);
        *v = pdu_view_str(cases[i].fits);
        n = ours_encode(&p, wire, sizeof wire);
        size_t flen = strlen(cases[i].fits);
        size_t at = find(wire, n, cases[i].fits);
        cr_assert_lt(at, n);
        memmove(wire + at + flen + 1, wire + at + flen, n - at - flen);
        wire[at + flen] = '9';
        n++;
        wire_write_u32(wire, (uint32_t)n);
        cr_assert_eq(pdu_decode(wire, n, &q), cases[i].status);
        cr_assert_eq(l34_unpack(cases[i].id, wire, n, &u), -1);
        L34_ASSERT_SAID(cases[i].l34_field, "Data length is invalid");
    }
}

/* ---- random PDUs, both ways ------------------------------------------ */

/* xorshift64*: a fixed seed, so a failure names a reproducible round. */
static uint32_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (uint32_t)((*s * 0x2545F4914F6CDD1DULL) >> 32);
}

static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
    return rnd(s) % n;
}

/* Bump allocator for the bytes the random views point at. */
struct arena {
    uint8_t *p;
    size_t left;
};

/* <len> random octets, none of them NUL when <cstring>. */
static struct pdu_view rnd_bytes(uint64_t *s, struct arena *a, size_t len,
                                 int cstring)
{
    struct pdu_view v = {a->p, len};
    cr_assert_leq(len, a->left, "arena too small");
    for (size_t i = 0; i < len; i++)
        a->p[i] = (uint8_t)(cstring ? 1 + rnd_below(s, 255) : rnd(s));
    a->p += len;
    a->left -= len;
    return v;
}

/* Values libsmpp34 accepts in TON / NPI fields (def_list/addr_*.list; the
 * 3.4 enumerations for addr_ton / addr_npi). */
static uint8_t rnd_ton(uint64_t *s)
{
    return (uint8_t)rnd_below(s, 7);
}

static uint8_t rnd_npi(uint64_t *s)
{
    static const uint8_t npi[] = {0, 1, 3, 4, 6, 8, 9, 10, 14, 18};
    return npi[rnd_below(s, ARRAY_LEN(npi))];
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void rnd_tlvs(uint64_t *s, struct arena *a, struct pdu *p)
{
    uint32_t cmd = p->command_id;
    unsigned n = rnd_below(s, 5);
    for (unsigned i = 0; i < n; i++) {
        struct pdu_view v;
        uint16_t tag;
        switch (rnd_below(s, 5)) {
        case 0: /* vendor-specific */
            tag = (uint16_t)(0x1400 + rnd_below(s, 0x4000 - 0x1400));
            v = rnd_bytes(s, a, rnd_below(s, 41), 0);
            break;
        case 1: /* reserved range */
            tag = (uint16_t)(0x4000 + rnd_below(s, 0xC000));
            v = rnd_bytes(s, a, rnd_below(s, 9), 0);
            break;
        case 2:
            tag = PDU_TLV_NETWORK_ERROR_CODE;
            v = rnd_bytes(s, a, 3, 0);
            break;
        case 3:
            tag = PDU_TLV_MESSAGE_PAYLOAD;
            v = rnd_bytes(s, a, rnd_below(s, 301), 0);
            break;
        default: /* a TLV libsmpp34 holds as an integer here */
            if (l34_tlv_width(cmd, PDU_TLV_USER_MESSAGE_REFERENCE) == 2) {
                tag = PDU_TLV_USER_MESSAGE_REFERENCE;
                v = rnd_bytes(s, a, 2, 0);
            } else if (l34_tlv_width(cmd, PDU_TLV_SC_INTERFACE_VERSION) == 1) {
                tag = PDU_TLV_SC_INTERFACE_VERSION;
                v = rnd_bytes(s, a, 1, 0);
            } else {
                tag = PDU_TLV_MS_AVAILABILITY_STATUS;
                v = rnd_bytes(s, a, 1, 0);
            }
            break;
        }
        cr_assert_eq(pdu_tlv_add(p, tag, v.ptr, (uint16_t)v.len), 0);
    }
}

static void rnd_dests(uint64_t *s, struct arena *a, struct pdu *p)
{
    struct pdu_dest d[8];
    unsigned n = rnd_below(s, ARRAY_LEN(d) + 1);
    for (unsigned i = 0; i < n; i++) {
        d[i].dest_flag = (uint8_t)(1 + rnd_below(s, 2));
        d[i].ton = d[i].dest_flag == 1 ? rnd_ton(s) : 0;
        d[i].npi = d[i].dest_flag == 1 ? rnd_npi(s) : 0;
        d[i].addr = rnd_bytes(s, a, rnd_below(s, 21), 1);
    }
    p->number_of_dests = (uint8_t)n;
    p->dest_list.ptr = a->p;
    p->dest_list.len = pdu_dests_build(a->p, a->left, d, n);
    cr_assert(n == 0 || p->dest_list.len > 0);
    a->p += p->dest_list.len;
    a->left -= p->dest_list.len;
}

static void rnd_unsuccess(uint64_t *s, struct arena *a, struct pdu *p)
{
    struct pdu_unsuccess e[8];
    unsigned n = rnd_below(s, ARRAY_LEN(e) + 1);
    for (unsigned i = 0; i < n; i++) {
        e[i].ton = rnd_ton(s);
        e[i].npi = rnd_npi(s);
        e[i].addr = rnd_bytes(s, a, rnd_below(s, 21), 1);
        e[i].error_status_code = rnd(s);
    }
    p->no_unsuccess = (uint8_t)n;
    p->unsuccess_list.ptr = a->p;
    p->unsuccess_list.len = pdu_unsuccess_build(a->p, a->left, e, n);
    cr_assert(n == 0 || p->unsuccess_list.len > 0);
    a->p += p->unsuccess_list.len;
    a->left -= p->unsuccess_list.len;
}

/*
 * A random <id> PDU inside what both codecs take: every C-Octet String
 * from empty to one below libsmpp34's (= the spec's) maximum, times NULL
 * or 16 characters, short_message 0-253 octets (libsmpp34's pack limit),
 * TON/NPI from the 3.4 lists, 0-4 TLVs, 0-8 list entries; the spec rules
 * libsmpp34 enforces (NULL deliver_sm times and deliver_sm_resp
 * message_id, interface_version 0x34) are kept.
 */
static void rnd_pdu(uint32_t id, uint64_t *s, struct arena *a, struct pdu *p)
{
    static const uint32_t statuses[] = {ESME_ROK, ESME_RINVMSGLEN,
                                        ESME_RTHROTTLED, ESME_RSYSERR};
    const struct l34_map *m = l34_map_find(id);

    pdu_init(p, id, 1 + rnd_below(s, 0x7FFFFFFF));
    /* Responses where both sides write the failed form alike. */
    if (id == PDU_SUBMIT_SM_RESP || id == PDU_DELIVER_SM_RESP ||
        id == PDU_SUBMIT_MULTI_RESP || m->nfields == 0)
        p->command_status = statuses[rnd_below(s, ARRAY_LEN(statuses))];
    for (size_t i = 0; i < m->nfields; i++) {
        const struct l34_field *f = &m->fields[i];
        struct pdu_view *v = (struct pdu_view *)(void *)((char *)p + f->ours);
        uint8_t *u8 = (uint8_t *)p + f->ours;
        switch (f->kind) {
        case LK_U8:
            if (ends_with(f->name, "_ton"))
                *u8 = rnd_ton(s);
            else if (ends_with(f->name, "_npi"))
                *u8 = rnd_npi(s);
            else if (strcmp(f->name, "interface_version") == 0)
                *u8 = 0x34;
            else
                *u8 = (uint8_t)rnd(s); /* counts are set by their lists */
            break;
        case LK_COCT:
            if (ends_with(f->name, "_time") || ends_with(f->name, "_period") ||
                ends_with(f->name, "_date")) {
                int null = id == PDU_DELIVER_SM || rnd_below(s, 2);
                *v = rnd_bytes(s, a, null ? 0 : 16, 1);
            } else if (id == PDU_DELIVER_SM_RESP) {
                *v = rnd_bytes(s, a, 0, 1);
            } else {
                *v = rnd_bytes(s, a, rnd_below(s, (uint32_t)f->size), 1);
            }
            break;
        case LK_SM:
            *v = rnd_bytes(s, a, rnd_below(s, 254), 0);
            break;
        case LK_TLVS:
            rnd_tlvs(s, a, p);
            break;
        case LK_DESTS:
            rnd_dests(s, a, p);
            break;
        case LK_UNSUCC:
            rnd_unsuccess(s, a, p);
            break;
        }
    }
    if (p->command_status != ESME_ROK && p->tlv_count == 0 &&
        id == PDU_SUBMIT_SM_RESP)
        p->message_id.len = 0; /* body-less on both sides: nothing to keep */
}

/*
 * 60 random PDUs of each of the 27 types, each both ways: our bytes
 * unpacked by libsmpp34 give every field back, libsmpp34's bytes decoded
 * by us give every field back, and the two byte strings are equal.
 */
Test(libsmpp34_random, every_pdu_both_ways)
{
    static uint8_t store[16384], ours[8192], theirs[8192];
    uint64_t seed = 0x5eed5eed12345678ULL;

    for (unsigned round = 0; round < 60; round++) {
        for (size_t i = 0; i < l34_map_count; i++) {
            uint32_t id = l34_maps[i].id;
            const char *name = pdu_command_name(id);
            struct arena a = {store, sizeof store};
            struct pdu p, q;
            union l34_pdu u;
            size_t len;

            l34_teardown(); /* free the previous round's lists */
            rnd_pdu(id, &seed, &a, &p);
            size_t n = ours_encode(&p, ours, sizeof ours);
            cr_assert_eq(l34_unpack(id, ours, n, &u), 0, "round %u %s: %s",
                         round, name, smpp34_strerror);
            l34_assert_equals(&u, &p, n);

            cr_assert_eq(l34_pack_from(&p, &u, theirs, sizeof theirs, &len),
                         0, "round %u %s: %s", round, name, smpp34_strerror);
            uint32_t st = pdu_decode(theirs, len, &q);
            cr_assert_eq(st, ESME_ROK, "round %u %s: %s", round, name,
                         pdu_status_name(st));
            assert_pdu_equal(&p, &q);
            cr_assert_eq(len, n, "round %u %s: %zu != %zu", round, name, len,
                         n);
            cr_assert_eq(memcmp(ours, theirs, n), 0, "round %u %s", round,
                         name);
        }
    }
}

/* ---- SMPP 5.0 broadcast PDUs ------------------------------------------ */

struct vector {
    struct pdu p;
    const char *bytes;
    size_t len;
};

#define SET_BYTES(vec, lit) ((vec).bytes = (lit), (vec).len = sizeof(lit) - 1)

/*
 * libsmpp34 implements SMPP 3.4 only: broadcast_sm, query_broadcast_sm,
 * cancel_broadcast_sm and their responses (0x111-0x113, 5.0) are not in
 * its command list, and smpp34_pack/smpp34_unpack answer "Invalid
 * command_id". So there is nothing to compare with: instead each PDU we
 * encode is checked byte for byte against a vector written by hand from
 * the SMPP 5.0 broadcast PDU definitions (field order and sizes) and its
 * TLV tags, and decodes
 * back to the same fields.
 */
Test(libsmpp34_lacks, broadcast_pdus)
{
    static const uint8_t area[] = {0x00, 0x01, 0x02};
    uint8_t scratch[6][1024], wire[1024];
    struct vector v[6];
    struct pdu q;
    union l34_pdu u;
    size_t len;

    /* broadcast_sm: service_type C6, source_addr_ton, source_addr_npi,
     * source_addr C21, message_id C65, priority_flag,
     * schedule_delivery_time C17, validity_period C17,
     * replace_if_present_flag, data_coding, sm_default_msg_id, then the
     * four required TLVs (pdu_samples.c values). */
    pdu_sample_build(PDU_BROADCAST_SM, &v[0].p, scratch[0], 1024);
    SET_BYTES(v[0], 
        "\x00\x00\x00\x63" "\x00\x00\x01\x11" "\x00\x00\x00\x00"
        "\x01\x23\x45\x67"
        "CBS\0" "\x05" "\x00" "Instasent\0" "b1\0" "\x01"
        "261126120000000+\0" "000001000000000R\0" "\x01" "\x08" "\x04"
        "\x06\x06\x00\x03" "\x00\x01\x02"  /* broadcast_area_identifier */
        "\x06\x01\x00\x03" "\x01\x00\x10"  /* broadcast_content_type */
        "\x06\x04\x00\x01" "\x02"          /* broadcast_rep_num */
        "\x06\x05\x00\x03" "\x09\x00\x05"); /* broadcast_frequency_interval */

    /* broadcast_sm_resp: message_id C65; broadcast_error_status and
     * failed_broadcast_area_identifier (tag 0x0606) on a failure. */
    pdu_init(&v[1].p, PDU_BROADCAST_SM_RESP, 0x1234567);
    v[1].p.command_status = ESME_RBCASTFAIL;
    v[1].p.message_id = pdu_view_str("b1");
    pdu_tlv_add(&v[1].p, PDU_TLV_BROADCAST_ERROR_STATUS, "\x00\x00\x01\x09",
                4);
    pdu_tlv_add(&v[1].p, PDU_TLV_BROADCAST_AREA_IDENTIFIER, area, 3);
    SET_BYTES(v[1], 
        "\x00\x00\x00\x22" "\x80\x00\x01\x11" "\x00\x00\x01\x0d"
        "\x01\x23\x45\x67"
        "b1\0"
        "\x06\x07\x00\x04" "\x00\x00\x01\x09"
        "\x06\x06\x00\x03" "\x00\x01\x02");

    /* query_broadcast_sm: message_id C65, source_addr_ton,
     * source_addr_npi, source_addr C21. */
    pdu_sample_build(PDU_QUERY_BROADCAST_SM, &v[2].p, scratch[2], 1024);
    SET_BYTES(v[2], 
        "\x00\x00\x00\x29" "\x00\x00\x01\x12" "\x00\x00\x00\x00"
        "\x01\x23\x45\x67"
        "5f3a9c0d1e\0" "\x01" "\x01" "34600000001\0");

    /* query_broadcast_sm_resp: message_id C65; TLVs message_state,
     * broadcast_area_identifier, broadcast_area_success. */
    pdu_init(&v[3].p, PDU_QUERY_BROADCAST_SM_RESP, 0x1234567);
    v[3].p.message_id = pdu_view_str("b1");
    pdu_tlv_add(&v[3].p, PDU_TLV_MESSAGE_STATE, "\x01", 1);
    pdu_tlv_add(&v[3].p, PDU_TLV_BROADCAST_AREA_IDENTIFIER, area, 3);
    pdu_tlv_add(&v[3].p, PDU_TLV_BROADCAST_AREA_SUCCESS, "\x64", 1);
    SET_BYTES(v[3], 
        "\x00\x00\x00\x24" "\x80\x00\x01\x12" "\x00\x00\x00\x00"
        "\x01\x23\x45\x67"
        "b1\0"
        "\x04\x27\x00\x01" "\x01"
        "\x06\x06\x00\x03" "\x00\x01\x02"
        "\x06\x08\x00\x01" "\x64");

    /* cancel_broadcast_sm: service_type C6, message_id C65,
     * source_addr_ton, source_addr_npi, source_addr C21. */
    pdu_sample_build(PDU_CANCEL_BROADCAST_SM, &v[4].p, scratch[4], 1024);
    SET_BYTES(v[4], 
        "\x00\x00\x00\x25" "\x00\x00\x01\x13" "\x00\x00\x00\x00"
        "\x01\x23\x45\x67"
        "CBS\0" "b1\0" "\x01" "\x01" "34600000001\0");

    /* cancel_broadcast_sm_resp: header only. */
    pdu_sample_build(PDU_CANCEL_BROADCAST_SM_RESP, &v[5].p, scratch[5], 1024);
    SET_BYTES(v[5], 
        "\x00\x00\x00\x10" "\x80\x00\x01\x13" "\x00\x00\x00\x00"
        "\x01\x23\x45\x67");

    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        const uint8_t *want = (const uint8_t *)v[i].bytes;
        const char *name = pdu_command_name(v[i].p.command_id);
        cr_assert(pdu_command_flags(v[i].p.command_id) & PDUF_V50);
        size_t n = ours_encode(&v[i].p, wire, sizeof wire);
        cr_assert_eq(n, v[i].len, "%s: %zu octets, the vector %zu", name, n,
                     v[i].len);
        cr_assert_eq(memcmp(wire, want, n), 0, "%s: bytes differ", name);
        cr_assert_eq(pdu_decode(want, v[i].len, &q), ESME_ROK, "%s", name);
        assert_pdu_equal(&v[i].p, &q);

        /* libsmpp34 has no such PDU */
        cr_assert_eq(l34_unpack(v[i].p.command_id, want, v[i].len, &u), -1);
        L34_ASSERT_SAID("[type:", "Invalid command_id");
        memset(&u, 0, sizeof u);
        cr_assert_eq(l34_pack(v[i].p.command_id, &u, wire, sizeof wire, &len),
                     -1);
        L34_ASSERT_SAID("[type:", "Invalid command_id");
    }
}
