/*
 * pdu.h - the SMPP 3.4 / 5.0 codec.
 *
 * Pure: no sockets, no event loop, no logging, no allocation. Input is a
 * byte range; a decoded PDU is a struct pdu whose strings, octet fields and
 * TLV values are views into that range, so the range must outlive the
 * struct. Encoding writes into a caller's buffer or appends to an evbuffer.
 *
 * The three steps a reader of a socket takes:
 *
 *   pdu_frame()    is there a whole PDU in what arrived? (need more / N
 *                  bytes / invalid length: close after generic_nack)
 *   pdu_decode()   structure: every field where the spec puts it, within
 *                  its maximum; returns the command_status to answer with
 *   pdu_validate() values a server refuses (flags, time formats, SAR
 *                  triplets, ...); also returns a command_status
 *
 * The facts (ids, statuses, TLVs, field layouts) come from pdu_defs.h.
 */
#ifndef SMPPBRIDGE_PDU_H
#define SMPPBRIDGE_PDU_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pdu_defs.h"

struct evbuffer;

#define PDU_HEADER_LEN 16u
/* Largest PDU the codec will frame unless the caller asks for less: a full
 * 64 KiB message_payload plus a submit_sm around it. The spec sets no
 * maximum PDU size. */
#define PDU_MAX_LEN_DEFAULT 70000u
/* Optional parameters kept per PDU. Sixty-four is several times what any
 * real PDU carries; a PDU with more is refused, not truncated. */
#define PDU_MAX_TLVS 64u
#define PDU_MAX_DESTS 254u
#define PDU_RESP_BIT 0x80000000u

/* Command ids. The response ids have bit 31 set; compilers we build with
 * (gcc, clang) give such an enum an unsigned underlying type. */
enum pdu_command {
#define PDU_X_ENUM(NAME, name, id, layout, flags) PDU_##NAME = id,
    PDU_COMMANDS(PDU_X_ENUM)
#undef PDU_X_ENUM
};

enum pdu_status {
#define PDU_X_ENUM(NAME, value) NAME = value,
    PDU_STATUSES(PDU_X_ENUM)
#undef PDU_X_ENUM
};

enum pdu_tlv_tag {
#define PDU_X_ENUM(NAME, name, tag, min, max) PDU_TLV_##NAME = tag,
    PDU_TLVS(PDU_X_ENUM)
#undef PDU_X_ENUM
};

/* Flags of a command in pdu_defs.h. */
enum pdu_command_flag {
    PDUF_TLV = 1u << 0,
    PDUF_NOBODY_ON_ERR = 1u << 1,
    PDUF_V50 = 1u << 2,
    PDUF_NORESP = 1u << 3,
};

/* Bytes that belong to someone else. A C-Octet String's view excludes its
 * NUL; an empty string ("NULL" in the spec) has len 0. */
struct pdu_view {
    const uint8_t *ptr;
    size_t len;
};

struct pdu_tlv {
    uint16_t tag;
    uint16_t len;
    const uint8_t *val;
};

/*
 * One PDU: the header plus every mandatory field any PDU has, named as in
 * the spec. Which members mean something depends on command_id (see the
 * layouts in pdu_defs.h); the others are zero after pdu_decode(). Lists
 * (submit_multi destinations, submit_multi_resp failures) stay as raw
 * views walked with pdu_dest_next() / pdu_unsuccess_next(), so decoding
 * needs no table of 254 entries.
 */
struct pdu {
    uint32_t command_length;
    uint32_t command_id;
    uint32_t command_status;
    uint32_t sequence_number;

    /* bind_*, bind_*_resp, outbind */
    struct pdu_view system_id;
    struct pdu_view password;
    struct pdu_view system_type;
    struct pdu_view address_range;
    uint8_t interface_version;
    uint8_t addr_ton;
    uint8_t addr_npi;

    /* message PDUs */
    uint8_t source_addr_ton;
    uint8_t source_addr_npi;
    uint8_t dest_addr_ton;
    uint8_t dest_addr_npi;
    uint8_t esm_class;
    uint8_t protocol_id;
    uint8_t priority_flag;
    uint8_t registered_delivery;
    uint8_t replace_if_present_flag;
    uint8_t data_coding;
    uint8_t sm_default_msg_id;
    uint8_t message_state;      /* query_sm_resp */
    uint8_t error_code;         /* query_sm_resp */
    uint8_t esme_addr_ton;      /* alert_notification */
    uint8_t esme_addr_npi;
    uint8_t number_of_dests;    /* submit_multi */
    uint8_t no_unsuccess;       /* submit_multi_resp */
    struct pdu_view service_type;
    struct pdu_view source_addr;
    struct pdu_view destination_addr;
    struct pdu_view schedule_delivery_time;
    struct pdu_view validity_period;
    struct pdu_view short_message;  /* sm_length is short_message.len */
    struct pdu_view message_id;
    struct pdu_view final_date;
    struct pdu_view esme_addr;
    struct pdu_view dest_list;      /* number_of_dests entries, raw */
    struct pdu_view unsuccess_list; /* no_unsuccess entries, raw */

    uint16_t tlv_count;
    struct pdu_tlv tlvs[PDU_MAX_TLVS];
};

/* One submit_multi dest_address. dest_flag 1: SME address (ton, npi,
 * addr); dest_flag 2: distribution list (addr holds dl_name). */
struct pdu_dest {
    uint8_t dest_flag;
    uint8_t ton;
    uint8_t npi;
    struct pdu_view addr;
};

/* One submit_multi_resp unsuccess_sme entry. */
struct pdu_unsuccess {
    uint8_t ton;
    uint8_t npi;
    struct pdu_view addr;
    uint32_t error_status_code;
};

enum pdu_frame_result {
    PDU_FRAME_NEED_MORE = 0,
    PDU_FRAME_READY,
    PDU_FRAME_INVALID,
};

/*
 * Look at the first bytes of <buf> (<avail> of them). READY: a whole PDU of
 * *<pdu_len> bytes is there. NEED_MORE: not yet (*<pdu_len> is the length
 * once known, else 0). INVALID: command_length is below 16 or above
 * <max_len>; the stream cannot be resynchronised, so answer generic_nack
 * ESME_RINVCMDLEN and close.
 */
enum pdu_frame_result pdu_frame(const uint8_t *buf, size_t avail,
                                uint32_t max_len, uint32_t *pdu_len);

/*
 * Decode exactly one PDU of <len> bytes at <buf> into <out> (views point
 * into <buf>). Returns ESME_ROK, or the command_status a server answers
 * with: ESME_RINVCMDLEN (length field disagrees with <len>, body too short
 * for an integer, bytes after a body that takes no TLVs), ESME_RINVCMDID
 * (unknown command), a field's own status (a C-Octet String with no NUL
 * within its maximum: ESME_RINVSRCADR, ESME_RINVDSTADR, ESME_RINVSYSID,
 * ...), ESME_RINVMSGLEN (sm_length past the body), ESME_RINVDESTFLAG,
 * ESME_RINVOPTPARSTREAM (a TLV header or value past the body, more than
 * PDU_MAX_TLVS TLVs) or ESME_RINVPARLEN (a known TLV of the wrong length).
 * Whenever <len> >= 16 the header fields of <out> are set, even on error,
 * so the caller can answer with the right response and sequence number.
 */
uint32_t pdu_decode(const uint8_t *buf, size_t len, struct pdu *out);

/*
 * Value checks a server applies to a request it received and decoded
 * without error: priority_flag, registered_delivery reserved bits,
 * replace_if_present_flag, esm_class message type, TON/NPI, time formats,
 * number_of_dests, empty destination, message_payload together with a
 * short_message (ESME_ROPTPARNOTALLWD: the TLV is not allowed beside a
 * short_message), incomplete or inconsistent SAR triplets. Returns
 * ESME_ROK or the status to answer with.
 */
uint32_t pdu_validate(const struct pdu *p);

/* Start a PDU: zero everything, set command_id and sequence_number. */
void pdu_init(struct pdu *p, uint32_t command_id, uint32_t sequence_number);

/*
 * Size <p> would take on the wire, or 0 when it cannot be encoded (unknown
 * command, a field over its maximum or holding a NUL, a time that is
 * neither empty nor 16 characters, a list that does not match its count).
 */
size_t pdu_encoded_len(const struct pdu *p);

/* Encode <p> into <buf>. Returns the length written (command_length), or 0
 * if <p> cannot be encoded or <cap> is too small; nothing is written past
 * <cap>. command_length in <p> is ignored and computed. */
size_t pdu_encode(const struct pdu *p, uint8_t *buf, size_t cap);

/* Append <p> to <out>. Returns 0, or -1 when it cannot be encoded or the
 * evbuffer cannot grow (then <out> is unchanged). */
int pdu_encode_evbuffer(const struct pdu *p, struct evbuffer *out);

/*
 * Encoding where the length is not known in advance, off the hot path (a
 * PDU that was changed or built, not one passed on as it came): into
 * <sc>'s own bytes when it fits, else into a buffer allocated for it.
 * Returns the bytes (*<len> of them), or NULL when <p> cannot be encoded
 * or memory is short. pdu_scratch_free() releases what it allocated;
 * call it whatever the result ({0} is a valid empty scratch).
 */
struct pdu_scratch {
    uint8_t small[512];
    uint8_t *heap;
};
const uint8_t *pdu_encode_scratch(const struct pdu *p, struct pdu_scratch *sc,
                                  size_t *len);
void pdu_scratch_free(struct pdu_scratch *sc);

/* A proxy that forwards a PDU unchanged rewrites only the sequence number
 * in the received bytes (at least 16 of them). */
void pdu_rewrite_sequence(uint8_t *raw, uint32_t sequence_number);

/* Command table lookups. */
const char *pdu_command_name(uint32_t command_id); /* "unknown" if not */
const char *pdu_status_name(uint32_t status);      /* "ESME_R..." */
const char *pdu_tlv_name(uint16_t tag);            /* NULL if unknown */
int pdu_command_known(uint32_t command_id);
unsigned pdu_command_flags(uint32_t command_id);
static inline int pdu_is_resp(uint32_t command_id)
{
    return (command_id & PDU_RESP_BIT) != 0;
}
static inline uint32_t pdu_resp_id(uint32_t request_id)
{
    return request_id | PDU_RESP_BIT;
}

/* Optional parameters. pdu_tlv_find returns the first TLV with <tag> or
 * NULL. pdu_tlv_set replaces the first one's value (or appends one) with a
 * view of <val>, which must outlive <p>; pdu_tlv_add always appends;
 * pdu_tlv_del removes every TLV with <tag>. set/add return -1 when the
 * PDU already holds PDU_MAX_TLVS. */
const struct pdu_tlv *pdu_tlv_find(const struct pdu *p, uint16_t tag);
int pdu_tlv_add(struct pdu *p, uint16_t tag, const void *val, uint16_t len);
int pdu_tlv_set(struct pdu *p, uint16_t tag, const void *val, uint16_t len);
void pdu_tlv_del(struct pdu *p, uint16_t tag);
/* Integer TLV values: 0 on success, -1 when absent or of another length. */
int pdu_tlv_u8(const struct pdu *p, uint16_t tag, uint8_t *out);
int pdu_tlv_u16(const struct pdu *p, uint16_t tag, uint16_t *out);
/* A C-Octet String TLV as a view without its NUL (tolerates a missing
 * one); 0 or -1 when absent. */
int pdu_tlv_cstr(const struct pdu *p, uint16_t tag, struct pdu_view *out);

/*
 * Lists. pdu_dest_next walks <cursor> (start it at p->dest_list): returns
 * 1 with the next entry in <out>, 0 at the end. The decoder has already
 * checked the list, so walking a decoded PDU cannot fail. pdu_dests_build
 * writes <n> entries into <buf> and returns the length, or 0 when <cap> is
 * too small or an entry is invalid; point p->dest_list at the result.
 */
int pdu_dest_next(struct pdu_view *cursor, struct pdu_dest *out);
size_t pdu_dests_build(uint8_t *buf, size_t cap, const struct pdu_dest *d,
                       size_t n);
int pdu_unsuccess_next(struct pdu_view *cursor, struct pdu_unsuccess *out);
size_t pdu_unsuccess_build(uint8_t *buf, size_t cap,
                           const struct pdu_unsuccess *u, size_t n);

/* Views of literals, copies and comparisons. pdu_view_copy writes <v> to
 * <dst> as a C string, cut to <cap> - 1 bytes (<cap> at least 1). */
struct pdu_view pdu_view_str(const char *s);
void pdu_view_copy(char *dst, size_t cap, struct pdu_view v);
int pdu_view_eq(struct pdu_view v, const char *s);

/*
 * SMPP time (3.4 §7.1): "YYMMDDhhmmsstnnp", p one of '+', '-', 'R'.
 * pdu_time_check returns 0 for an empty or well-formed value, -1 otherwise.
 * pdu_time_to_unix turns it into seconds since the epoch; relative values
 * count from <now>. Returns -1 for an empty or malformed value.
 */
int pdu_time_check(struct pdu_view t);
int pdu_time_to_unix(struct pdu_view t, time_t now, time_t *out);

#endif /* SMPPBRIDGE_PDU_H */
