/*
 * l34_bridge.h - libsmpp34 (osmocom; Debian libsmpp34-dev), an SMPP 3.4
 * codec in C, beside our codec for the differential tests of
 * test_pdu_libsmpp34.c: its PDU structs mapped field by field onto struct
 * pdu, filled from one and compared with one, and smpp34_pack /
 * smpp34_unpack called on buffers it cannot read past.
 *
 * libsmpp34 lays out each PDU in def_frame/<pdu>.frame (fields, maximum
 * sizes) and holds TLV values as def_frame/<pdu>.tlv says, under
 * /usr/include/libsmpp34. Its unpack and build_* prepend list nodes, so
 * its TLV, dest_address and unsuccess_sme lists are in reverse wire order.
 *
 * The helpers assert with Criterion; call l34_setup() before anything
 * else in a test and l34_teardown() at its end (suite .init / .fini).
 */
#ifndef SMPPBRIDGE_TEST_L34_BRIDGE_H
#define SMPPBRIDGE_TEST_L34_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "pdu.h"

/*
 * libsmpp34 after pdu.h: smpp34.h #defines ESME_ROK, SUBMIT_SM, ... which
 * would break the enum declarations of pdu.h if seen first; after them the
 * macros expand to the same values. The headers are found as
 * <libsmpp34/...> (their own "def_frame/..." includes are relative), so no
 * `pkg-config --cflags libsmpp34` (-I/usr/include/libsmpp34) is needed.
 */
#include <libsmpp34/smpp34.h>
#include <libsmpp34/smpp34_structs.h>
#include <libsmpp34/smpp34_params.h>
#include <libsmpp34/smpp34_heap.h>

#define L34_WIRE_CAP 70000u /* a 64 KiB message_payload and its PDU */

/* Every libsmpp34 PDU struct starts with def_frame/header.frame. */
union l34_pdu {
    generic_nack_t hdr;
    bind_transmitter_t bind_transmitter;
    bind_transmitter_resp_t bind_transmitter_resp;
    bind_receiver_t bind_receiver;
    bind_receiver_resp_t bind_receiver_resp;
    bind_transceiver_t bind_transceiver;
    bind_transceiver_resp_t bind_transceiver_resp;
    outbind_t outbind;
    submit_sm_t submit_sm;
    submit_sm_resp_t submit_sm_resp;
    submit_multi_t submit_multi;
    submit_multi_resp_t submit_multi_resp;
    deliver_sm_t deliver_sm;
    deliver_sm_resp_t deliver_sm_resp;
    data_sm_t data_sm;
    data_sm_resp_t data_sm_resp;
    query_sm_t query_sm;
    query_sm_resp_t query_sm_resp;
    cancel_sm_t cancel_sm;
    replace_sm_t replace_sm;
    alert_notification_t alert_notification;
};

enum l34_kind {
    LK_U8 = 0,
    LK_COCT,   /* uint8_t name[size], NUL-terminated */
    LK_SM,     /* sm_length + short_message[size] */
    LK_TLVS,   /* tlv_t *tlv */
    LK_DESTS,  /* dad_t *dest_addr_def (number_of_dests is its own row) */
    LK_UNSUCC, /* udad_t *unsuccess_smes (no_unsuccess is its own row) */
};

/* One mandatory field: where it is in struct pdu and in libsmpp34's. */
struct l34_field {
    enum l34_kind kind;
    const char *name;
    size_t ours;   /* offsetof(struct pdu, ...) */
    size_t theirs; /* offsetof(<pdu>_t, ...) */
    size_t size;   /* capacity of their array */
    size_t aux;    /* LK_SM: offsetof(<pdu>_t, sm_length) */
};

/* One libsmpp34 PDU type and its mandatory fields (LK_TLVS included). */
struct l34_map {
    uint32_t id;
    const struct l34_field *fields;
    size_t nfields;
};

/* The 27 PDUs of libsmpp34's def_list/smpp34_protocol.def (all of 3.4). */
extern const struct l34_map l34_maps[];
extern const size_t l34_map_count;
const struct l34_map *l34_map_find(uint32_t id); /* NULL: no such PDU */

/*
 * How libsmpp34 holds the value of TLV <tag> in a <cmd> PDU: as an integer
 * of 1, 2 or 4 octets (value.val08/16/32, read and written with that width
 * whatever the TLV length says) or as octets (0: value.octet, at most
 * MAX_TLV_SIZE). Mirrors def_frame/<pdu>.tlv for the tags the tests use;
 * -1 for others, so a new tag fails loudly instead of being compared
 * wrongly.
 */
int l34_tlv_width(uint32_t cmd, uint16_t tag);

/* Route libsmpp34's allocator through a table (l34_setup) and free every
 * node it left (l34_teardown): a failed unpack drops a half-built one. */
void l34_setup(void);
void l34_teardown(void);

/* smpp34_unpack() of <len> bytes (at most L34_WIRE_CAP) into <u>, from a
 * copy followed by zeros: its string reader cannot leave our memory. */
int l34_unpack(uint32_t id, const uint8_t *wire, size_t len,
               union l34_pdu *u);
/* smpp34_pack() of <u>; *<len> is the PDU's length, or 0 on failure. */
int l34_pack(uint32_t id, union l34_pdu *u, uint8_t *out, size_t cap,
             size_t *len);

/* Fill libsmpp34's struct for p->command_id with the values of <p>
 * (lists built in wire order); asserts that every value fits. */
void l34_fill(const struct pdu *p, union l34_pdu *u);
/* l34_fill() then smpp34_pack(); returns libsmpp34's result. */
int l34_pack_from(const struct pdu *p, union l34_pdu *u, uint8_t *out,
                  size_t cap, size_t *len);

/* Assert every field of <u> (header, mandatory fields, each TLV, each
 * destination / unsuccess entry) is the one <p> holds; <len> is the length
 * of the PDU <u> was unpacked from. */
void l34_assert_equals(const union l34_pdu *u, const struct pdu *p,
                       size_t len);

/*
 * libsmpp34 logs every field it handles as "[name:value(OK)]" into the
 * global smpp34_strerror and stops at the first failure, so the last
 * bracket says which field failed and why: "[source_addr:...(Data length
 * is invalid)]", "[PDU:(Error in PDU length 27!=17)]", ...
 */
const char *l34_last_said(void);

#define L34_ASSERT_SAID(field, why)                                            \
    cr_assert(strstr(l34_last_said(), field) == l34_last_said() &&             \
                  strstr(l34_last_said(), why) != NULL,                        \
              "expected libsmpp34 to fail at %s (%s); it said: %s", field,     \
              why, smpp34_strerror)

#endif
