/*
 * l34_bridge.c - libsmpp34 beside our codec, for test_pdu_libsmpp34.c.
 * See l34_bridge.h.
 */
#include "common.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "l34_bridge.h"
#include "wire.h"

/* ---- libsmpp34 allocations ------------------------------------------ */

/*
 * libsmpp34 allocates TLV, destination and unsuccess nodes with
 * smpp34_malloc(), and a failed unpack drops a half-built node. Its
 * allocator is routed through this table so the end of every test frees
 * what is left (LeakSanitizer runs in the SANITIZE=1 build).
 */
#define L34_MAX_LIVE 1024
static void *l34_live[L34_MAX_LIVE];

static int l34_track(void *p)
{
    for (size_t i = 0; i < L34_MAX_LIVE; i++) {
        if (!l34_live[i]) {
            l34_live[i] = p;
            return 0;
        }
    }
    return -1;
}

static void l34_untrack(void *p)
{
    for (size_t i = 0; i < L34_MAX_LIVE; i++) {
        if (l34_live[i] == p) {
            l34_live[i] = NULL;
            return;
        }
    }
}

static void *l34_malloc(size_t sz)
{
    void *p = malloc(sz);
    if (p && l34_track(p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void *l34_realloc(void *old, size_t sz)
{
    if (old)
        l34_untrack(old);
    void *p = realloc(old, sz);
    if (!p) {
        if (old)
            l34_track(old); /* realloc failed: still ours to free */
        return NULL;
    }
    if (l34_track(p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static void l34_free(void *p)
{
    if (!p)
        return;
    l34_untrack(p);
    free(p);
}

void l34_setup(void)
{
    static const struct smpp34_memory_functions mf = {
        l34_malloc, l34_realloc, l34_free};
    smpp34_set_memory_functions(&mf);
}

void l34_teardown(void)
{
    for (size_t i = 0; i < L34_MAX_LIVE; i++) {
        free(l34_live[i]);
        l34_live[i] = NULL;
    }
}


#define MEMBER_SIZE(T, f) sizeof(((T *)0)->f)
#define LF(K, T, f)                                                            \
    {K, #f, offsetof(struct pdu, f), offsetof(T, f), MEMBER_SIZE(T, f), 0}
#define LF_SM(T)                                                               \
    {LK_SM, "short_message", offsetof(struct pdu, short_message),              \
     offsetof(T, short_message), MEMBER_SIZE(T, short_message),                \
     offsetof(T, sm_length)}
#define LF_TLVS(T) {LK_TLVS, "tlvs", offsetof(struct pdu, tlvs),              \
                    offsetof(T, tlv), 0, 0}

#define L34_BIND(T)                                                            \
    LF(LK_COCT, T, system_id), LF(LK_COCT, T, password),                       \
        LF(LK_COCT, T, system_type), LF(LK_U8, T, interface_version),          \
        LF(LK_U8, T, addr_ton), LF(LK_U8, T, addr_npi),                        \
        LF(LK_COCT, T, address_range)
#define L34_SM_TAIL(T)                                                         \
    LF(LK_U8, T, esm_class), LF(LK_U8, T, protocol_id),                        \
        LF(LK_U8, T, priority_flag), LF(LK_COCT, T, schedule_delivery_time),   \
        LF(LK_COCT, T, validity_period), LF(LK_U8, T, registered_delivery),    \
        LF(LK_U8, T, replace_if_present_flag), LF(LK_U8, T, data_coding),      \
        LF(LK_U8, T, sm_default_msg_id), LF_SM(T), LF_TLVS(T)
#define L34_SM(T)                                                              \
    LF(LK_COCT, T, service_type), LF(LK_U8, T, source_addr_ton),               \
        LF(LK_U8, T, source_addr_npi), LF(LK_COCT, T, source_addr),            \
        LF(LK_U8, T, dest_addr_ton), LF(LK_U8, T, dest_addr_npi),              \
        LF(LK_COCT, T, destination_addr), L34_SM_TAIL(T)

static const struct l34_field f_bind_transmitter[] = {
    L34_BIND(bind_transmitter_t)};
static const struct l34_field f_bind_receiver[] = {L34_BIND(bind_receiver_t)};
static const struct l34_field f_bind_transceiver[] = {
    L34_BIND(bind_transceiver_t)};
static const struct l34_field f_bind_transmitter_resp[] = {
    LF(LK_COCT, bind_transmitter_resp_t, system_id),
    LF_TLVS(bind_transmitter_resp_t)};
static const struct l34_field f_bind_receiver_resp[] = {
    LF(LK_COCT, bind_receiver_resp_t, system_id),
    LF_TLVS(bind_receiver_resp_t)};
static const struct l34_field f_bind_transceiver_resp[] = {
    LF(LK_COCT, bind_transceiver_resp_t, system_id),
    LF_TLVS(bind_transceiver_resp_t)};
static const struct l34_field f_outbind[] = {
    LF(LK_COCT, outbind_t, system_id), LF(LK_COCT, outbind_t, password)};
static const struct l34_field f_submit_sm[] = {L34_SM(submit_sm_t)};
static const struct l34_field f_deliver_sm[] = {L34_SM(deliver_sm_t)};
static const struct l34_field f_submit_sm_resp[] = {
    LF(LK_COCT, submit_sm_resp_t, message_id)};
static const struct l34_field f_deliver_sm_resp[] = {
    LF(LK_COCT, deliver_sm_resp_t, message_id)};
static const struct l34_field f_data_sm_resp[] = {
    LF(LK_COCT, data_sm_resp_t, message_id)};
static const struct l34_field f_submit_multi[] = {
    LF(LK_COCT, submit_multi_t, service_type),
    LF(LK_U8, submit_multi_t, source_addr_ton),
    LF(LK_U8, submit_multi_t, source_addr_npi),
    LF(LK_COCT, submit_multi_t, source_addr),
    LF(LK_U8, submit_multi_t, number_of_dests),
    {LK_DESTS, "dest_list", offsetof(struct pdu, dest_list),
     offsetof(submit_multi_t, dest_addr_def), 0, 0},
    L34_SM_TAIL(submit_multi_t)};
static const struct l34_field f_submit_multi_resp[] = {
    LF(LK_COCT, submit_multi_resp_t, message_id),
    LF(LK_U8, submit_multi_resp_t, no_unsuccess),
    {LK_UNSUCC, "unsuccess_list", offsetof(struct pdu, unsuccess_list),
     offsetof(submit_multi_resp_t, unsuccess_smes), 0, 0}};
static const struct l34_field f_data_sm[] = {
    LF(LK_COCT, data_sm_t, service_type),
    LF(LK_U8, data_sm_t, source_addr_ton),
    LF(LK_U8, data_sm_t, source_addr_npi),
    LF(LK_COCT, data_sm_t, source_addr),
    LF(LK_U8, data_sm_t, dest_addr_ton),
    LF(LK_U8, data_sm_t, dest_addr_npi),
    LF(LK_COCT, data_sm_t, destination_addr),
    LF(LK_U8, data_sm_t, esm_class),
    LF(LK_U8, data_sm_t, registered_delivery),
    LF(LK_U8, data_sm_t, data_coding),
    LF_TLVS(data_sm_t)};
static const struct l34_field f_query_sm[] = {
    LF(LK_COCT, query_sm_t, message_id),
    LF(LK_U8, query_sm_t, source_addr_ton),
    LF(LK_U8, query_sm_t, source_addr_npi),
    LF(LK_COCT, query_sm_t, source_addr)};
static const struct l34_field f_query_sm_resp[] = {
    LF(LK_COCT, query_sm_resp_t, message_id),
    LF(LK_COCT, query_sm_resp_t, final_date),
    LF(LK_U8, query_sm_resp_t, message_state),
    LF(LK_U8, query_sm_resp_t, error_code)};
static const struct l34_field f_cancel_sm[] = {
    LF(LK_COCT, cancel_sm_t, service_type),
    LF(LK_COCT, cancel_sm_t, message_id),
    LF(LK_U8, cancel_sm_t, source_addr_ton),
    LF(LK_U8, cancel_sm_t, source_addr_npi),
    LF(LK_COCT, cancel_sm_t, source_addr),
    LF(LK_U8, cancel_sm_t, dest_addr_ton),
    LF(LK_U8, cancel_sm_t, dest_addr_npi),
    LF(LK_COCT, cancel_sm_t, destination_addr)};
static const struct l34_field f_replace_sm[] = {
    LF(LK_COCT, replace_sm_t, message_id),
    LF(LK_U8, replace_sm_t, source_addr_ton),
    LF(LK_U8, replace_sm_t, source_addr_npi),
    LF(LK_COCT, replace_sm_t, source_addr),
    LF(LK_COCT, replace_sm_t, schedule_delivery_time),
    LF(LK_COCT, replace_sm_t, validity_period),
    LF(LK_U8, replace_sm_t, registered_delivery),
    LF(LK_U8, replace_sm_t, sm_default_msg_id),
    LF_SM(replace_sm_t)};
static const struct l34_field f_alert_notification[] = {
    LF(LK_U8, alert_notification_t, source_addr_ton),
    LF(LK_U8, alert_notification_t, source_addr_npi),
    LF(LK_COCT, alert_notification_t, source_addr),
    LF(LK_U8, alert_notification_t, esme_addr_ton),
    LF(LK_U8, alert_notification_t, esme_addr_npi),
    LF(LK_COCT, alert_notification_t, esme_addr),
    LF_TLVS(alert_notification_t)};

#define FIELDS(a) a, ARRAY_LEN(a)
/* The 27 PDUs of libsmpp34's def_list/smpp34_protocol.def. */
const struct l34_map l34_maps[] = {
    {PDU_GENERIC_NACK, NULL, 0},
    {PDU_BIND_RECEIVER, FIELDS(f_bind_receiver)},
    {PDU_BIND_RECEIVER_RESP, FIELDS(f_bind_receiver_resp)},
    {PDU_BIND_TRANSMITTER, FIELDS(f_bind_transmitter)},
    {PDU_BIND_TRANSMITTER_RESP, FIELDS(f_bind_transmitter_resp)},
    {PDU_QUERY_SM, FIELDS(f_query_sm)},
    {PDU_QUERY_SM_RESP, FIELDS(f_query_sm_resp)},
    {PDU_SUBMIT_SM, FIELDS(f_submit_sm)},
    {PDU_SUBMIT_SM_RESP, FIELDS(f_submit_sm_resp)},
    {PDU_DELIVER_SM, FIELDS(f_deliver_sm)},
    {PDU_DELIVER_SM_RESP, FIELDS(f_deliver_sm_resp)},
    {PDU_UNBIND, NULL, 0},
    {PDU_UNBIND_RESP, NULL, 0},
    {PDU_REPLACE_SM, FIELDS(f_replace_sm)},
    {PDU_REPLACE_SM_RESP, NULL, 0},
    {PDU_CANCEL_SM, FIELDS(f_cancel_sm)},
    {PDU_CANCEL_SM_RESP, NULL, 0},
    {PDU_BIND_TRANSCEIVER, FIELDS(f_bind_transceiver)},
    {PDU_BIND_TRANSCEIVER_RESP, FIELDS(f_bind_transceiver_resp)},
    {PDU_OUTBIND, FIELDS(f_outbind)},
    {PDU_ENQUIRE_LINK, NULL, 0},
    {PDU_ENQUIRE_LINK_RESP, NULL, 0},
    {PDU_SUBMIT_MULTI, FIELDS(f_submit_multi)},
    {PDU_SUBMIT_MULTI_RESP, FIELDS(f_submit_multi_resp)},
    {PDU_ALERT_NOTIFICATION, FIELDS(f_alert_notification)},
    {PDU_DATA_SM, FIELDS(f_data_sm)},
    {PDU_DATA_SM_RESP, FIELDS(f_data_sm_resp)},
};

const size_t l34_map_count = ARRAY_LEN(l34_maps);

const struct l34_map *l34_map_find(uint32_t id)
{
    for (size_t i = 0; i < ARRAY_LEN(l34_maps); i++)
        if (l34_maps[i].id == id)
            return &l34_maps[i];
    return NULL;
}

/*
 * How libsmpp34 holds the value of TLV <tag> in a <cmd> PDU: as an integer
 * of 1, 2 or 4 octets (value.val08/16/32, read and written with that width
 * whatever the TLV length says) or as octets (0, value.octet, at most 1024).
 * Mirrors def_frame/<pdu>.tlv for the tags used here; -1 for others, so a
 * new tag in pdu_samples.c fails loudly instead of being compared wrongly.
 */
int l34_tlv_width(uint32_t cmd, uint16_t tag)
{
    int sm = cmd == PDU_SUBMIT_SM || cmd == PDU_SUBMIT_MULTI;
    int bind_resp = cmd == PDU_BIND_RECEIVER_RESP ||
                    cmd == PDU_BIND_TRANSMITTER_RESP ||
                    cmd == PDU_BIND_TRANSCEIVER_RESP;

    if (tag >= 0x1400) /* vendor and reserved ranges: "forwarded" octets */
        return 0;
    switch (tag) {
    case PDU_TLV_USER_MESSAGE_REFERENCE:
        return sm || cmd == PDU_DELIVER_SM || cmd == PDU_DATA_SM ? 2 : 0;
    case PDU_TLV_SC_INTERFACE_VERSION:
        return bind_resp ? 1 : 0;
    case PDU_TLV_MS_AVAILABILITY_STATUS:
        return cmd == PDU_ALERT_NOTIFICATION ? 1 : 0;
    case PDU_TLV_SOURCE_TELEMATICS_ID:
        return cmd == PDU_DATA_SM ? 1 : 0;
    case PDU_TLV_MS_VALIDITY:
        return sm || cmd == PDU_DATA_SM ? 1 : 0;
    case PDU_TLV_DELIVERY_FAILURE_REASON:
    case PDU_TLV_DPF_RESULT:
        return cmd == PDU_DATA_SM_RESP ? 1 : 0;
    case PDU_TLV_NETWORK_ERROR_CODE:
    case PDU_TLV_MESSAGE_PAYLOAD:
    case PDU_TLV_ADDITIONAL_STATUS_INFO_TEXT:
    case PDU_TLV_ALERT_ON_MESSAGE_DELIVERY:
    case PDU_TLV_CONGESTION_STATE:
    case PDU_TLV_BILLING_IDENTIFICATION:
        return 0;
    default:
        return -1;
    }
}

/* ---- calling libsmpp34 ------------------------------------------------ */

/*
 * libsmpp34 logs every field it handles as "[name:value(OK)]" into the
 * global smpp34_strerror and stops at the first failure, so the last
 * bracket says which field failed and why: "[source_addr:...(Data length
 * is invalid)]", "[PDU:(Error in PDU length 27!=17)]", ...
 */
const char *l34_last_said(void)
{
    const char *s = strrchr(smpp34_strerror, '[');
    return s ? s : "";
}

/*
 * smpp34_unpack() of <len> bytes at <wire> into <u>. The bytes are copied
 * into a buffer with zeros after them, so its string reader cannot leave
 * our memory whatever it does. Returns what smpp34_unpack returns.
 */
int l34_unpack(uint32_t id, const uint8_t *wire, size_t len,
               union l34_pdu *u)
{
    static uint8_t padded[L34_WIRE_CAP + 64];
    cr_assert_leq(len, L34_WIRE_CAP);
    memset(padded, 0, sizeof padded);
    memcpy(padded, wire, len);
    memset(u, 0, sizeof *u);
    return smpp34_unpack(id, u, padded, (int)len);
}

/* smpp34_pack() of <u> into <out>; *<len> is the PDU's length or 0. */
int l34_pack(uint32_t id, union l34_pdu *u, uint8_t *out, size_t cap,
             size_t *len)
{
    int n = 0;
    int r = smpp34_pack(id, out, (int)cap, &n, u);
    *len = r == 0 ? (size_t)n : 0;
    return r;
}

static const struct pdu_view *view_at(const struct pdu *p, size_t off)
{
    return (const struct pdu_view *)(const void *)((const char *)p + off);
}

/* ---- struct pdu -> libsmpp34 struct ----------------------------------- */

static void l34_fill_coct(uint8_t *dst, size_t size, struct pdu_view v,
                          const char *what)
{
    cr_assert_lt(v.len, size, "%s: %zu characters do not fit libsmpp34's "
                 "%zu-octet field", what, v.len, size);
    memset(dst, 0, size);
    if (v.len)
        memcpy(dst, v.ptr, v.len);
}

static void l34_fill_tlvs(uint32_t cmd, const struct pdu *p, tlv_t **list)
{
    /* build_tlv() prepends: add the last first to keep the wire order. */
    for (size_t i = p->tlv_count; i-- > 0;) {
        const struct pdu_tlv *t = &p->tlvs[i];
        int width = l34_tlv_width(cmd, t->tag);
        tlv_t l;
        memset(&l, 0, sizeof l);
        l.tag = t->tag;
        l.length = t->len;
        cr_assert_geq(width, 0, "no libsmpp34 width for TLV 0x%04x",
                      t->tag);
        cr_assert_geq(t->len, width, "TLV 0x%04x too short", t->tag);
        if (width == 1)
            l.value.val08 = t->val[0];
        else if (width == 2)
            l.value.val16 = wire_read_u16(t->val);
        else if (width == 4)
            l.value.val32 = wire_read_u32(t->val);
        else if (t->len)
            memcpy(l.value.octet, t->val,
                   t->len < MAX_TLV_SIZE ? t->len : MAX_TLV_SIZE);
        cr_assert_eq(build_tlv(list, &l), 0);
    }
}

static void l34_fill_dests(const struct pdu *p, dad_t **list)
{
    struct pdu_dest d[PDU_MAX_DESTS];
    struct pdu_view cur = p->dest_list;
    size_t n = 0;
    while (n < PDU_MAX_DESTS && pdu_dest_next(&cur, &d[n]))
        n++;
    for (size_t i = n; i-- > 0;) { /* build_dad() prepends too */
        dad_t l;
        memset(&l, 0, sizeof l);
        l.dest_flag = d[i].dest_flag;
        if (d[i].dest_flag == 1) {
            l.value.sme.dest_addr_ton = d[i].ton;
            l.value.sme.dest_addr_npi = d[i].npi;
            l34_fill_coct(l.value.sme.destination_addr,
                          sizeof l.value.sme.destination_addr, d[i].addr,
                          "destination_addr");
        } else {
            l34_fill_coct(l.value.dl_name, sizeof l.value.dl_name,
                          d[i].addr, "dl_name");
        }
        cr_assert_eq(build_dad(list, &l), 0);
    }
}

static void l34_fill_unsuccess(const struct pdu *p, udad_t **list)
{
    struct pdu_unsuccess u[255];
    struct pdu_view cur = p->unsuccess_list;
    size_t n = 0;
    while (n < ARRAY_LEN(u) && pdu_unsuccess_next(&cur, &u[n]))
        n++;
    for (size_t i = n; i-- > 0;) { /* build_udad() prepends too */
        udad_t l;
        memset(&l, 0, sizeof l);
        l.dest_addr_ton = u[i].ton;
        l.dest_addr_npi = u[i].npi;
        l34_fill_coct(l.destination_addr, sizeof l.destination_addr,
                      u[i].addr, "destination_addr");
        l.error_status_code = u[i].error_status_code;
        cr_assert_eq(build_udad(list, &l), 0);
    }
}

/* Fill libsmpp34's struct for p->command_id with the values of <p>. */
void l34_fill(const struct pdu *p, union l34_pdu *u)
{
    const struct l34_map *m = l34_map_find(p->command_id);
    uint8_t *base = (uint8_t *)u;

    cr_assert_not_null(m, "libsmpp34 has no %s",
                       pdu_command_name(p->command_id));
    memset(u, 0, sizeof *u);
    u->hdr.command_id = p->command_id;
    u->hdr.command_status = p->command_status;
    u->hdr.sequence_number = p->sequence_number;
    for (size_t i = 0; i < m->nfields; i++) {
        const struct l34_field *f = &m->fields[i];
        const struct pdu_view *v = view_at(p, f->ours);
        switch (f->kind) {
        case LK_U8:
            base[f->theirs] = *((const uint8_t *)p + f->ours);
            break;
        case LK_COCT:
            l34_fill_coct(base + f->theirs, f->size, *v, f->name);
            break;
        case LK_SM:
            cr_assert_leq(v->len, f->size, "short_message of %zu octets "
                          "does not fit libsmpp34's %zu", v->len, f->size);
            base[f->aux] = (uint8_t)v->len;
            if (v->len)
                memcpy(base + f->theirs, v->ptr, v->len);
            break;
        case LK_TLVS:
            l34_fill_tlvs(p->command_id, p, (tlv_t **)(void *)(base + f->theirs));
            break;
        case LK_DESTS:
            l34_fill_dests(p, (dad_t **)(void *)(base + f->theirs));
            break;
        case LK_UNSUCC:
            l34_fill_unsuccess(p, (udad_t **)(void *)(base + f->theirs));
            break;
        }
    }
}

/* l34_fill() then smpp34_pack(); returns libsmpp34's result. */
int l34_pack_from(const struct pdu *p, union l34_pdu *u, uint8_t *out,
                  size_t cap, size_t *len)
{
    l34_fill(p, u);
    return l34_pack(p->command_id, u, out, cap, len);
}

/* ---- libsmpp34 struct == struct pdu ---------------------------------- */

static void assert_coct(const uint8_t *arr, size_t size, struct pdu_view v,
                        const char *cmd, const char *what)
{
    size_t n = strnlen((const char *)arr, size);
    cr_assert_lt(n, size, "%s.%s: libsmpp34's field has no NUL", cmd, what);
    cr_assert(n == v.len && (n == 0 || memcmp(arr, v.ptr, n) == 0),
              "%s.%s: libsmpp34 has \"%.*s\", we set \"%.*s\"", cmd, what,
              (int)n, (const char *)arr, (int)v.len,
              v.ptr ? (const char *)v.ptr : "");
}

/* The value of a libsmpp34 TLV as wire octets; returns their number. */
static size_t l34_tlv_octets(uint32_t cmd, const tlv_t *t, uint8_t *out)
{
    int width = l34_tlv_width(cmd, t->tag);
    cr_assert_geq(width, 0, "no libsmpp34 width for TLV 0x%04x", t->tag);
    switch (width) {
    case 1:
        out[0] = t->value.val08;
        return 1;
    case 2:
        wire_write_u16(out, t->value.val16);
        return 2;
    case 4:
        wire_write_u32(out, t->value.val32);
        return 4;
    default:
        memcpy(out, t->value.octet, t->length);
        return t->length;
    }
}

/* libsmpp34's unpack prepends every node it reads, so its lists come out
 * in reverse wire order (test_pdu_libsmpp34.c, libsmpp34_quirks.unpack_and_build_reverse_lists):
 * their entry i is our entry n-1-i. */
static void l34_assert_tlvs(const struct pdu *p, const tlv_t *l)
{
    const char *cmd = pdu_command_name(p->command_id);
    size_t n = 0;
    for (; l; l = l->next, n++) {
        cr_assert_lt(n, p->tlv_count, "%s: libsmpp34 has more TLVs", cmd);
        const struct pdu_tlv *t = &p->tlvs[p->tlv_count - 1 - n];
        uint8_t val[MAX_TLV_SIZE];
        cr_assert_eq(l->tag, t->tag, "%s: TLV tag 0x%04x != 0x%04x", cmd,
                     l->tag, t->tag);
        cr_assert_eq(l->length, t->len, "%s: TLV 0x%04x length %u != %u",
                     cmd, t->tag, l->length, t->len);
        size_t got = l34_tlv_octets(p->command_id, l, val);
        cr_assert(got == t->len && (got == 0 || memcmp(val, t->val, got) == 0),
                  "%s: TLV 0x%04x value differs", cmd, t->tag);
    }
    cr_assert_eq(n, p->tlv_count, "%s: libsmpp34 has %zu TLVs, we sent %u",
                 cmd, n, p->tlv_count);
}

static void l34_assert_dests(const struct pdu *p, const dad_t *l)
{
    struct pdu_dest d[PDU_MAX_DESTS];
    struct pdu_view cur = p->dest_list;
    size_t n = 0, k = 0;
    while (n < PDU_MAX_DESTS && pdu_dest_next(&cur, &d[n]))
        n++;
    cr_assert_eq(n, p->number_of_dests);
    for (; l; l = l->next, k++) {
        cr_assert_lt(k, n, "libsmpp34 has more destinations");
        const struct pdu_dest *e = &d[n - 1 - k];
        cr_assert_eq(l->dest_flag, e->dest_flag);
        if (e->dest_flag == 1) {
            cr_assert_eq(l->value.sme.dest_addr_ton, e->ton);
            cr_assert_eq(l->value.sme.dest_addr_npi, e->npi);
            assert_coct(l->value.sme.destination_addr,
                        sizeof l->value.sme.destination_addr, e->addr,
                        "submit_multi", "destination_addr");
        } else {
            assert_coct(l->value.dl_name, sizeof l->value.dl_name, e->addr,
                        "submit_multi", "dl_name");
        }
    }
    cr_assert_eq(k, n, "libsmpp34 has %zu destinations, we sent %zu", k, n);
}

static void l34_assert_unsuccess(const struct pdu *p, const udad_t *l)
{
    struct pdu_unsuccess u[255];
    struct pdu_view cur = p->unsuccess_list;
    size_t n = 0, k = 0;
    while (n < ARRAY_LEN(u) && pdu_unsuccess_next(&cur, &u[n]))
        n++;
    cr_assert_eq(n, p->no_unsuccess);
    for (; l; l = l->next, k++) {
        cr_assert_lt(k, n, "libsmpp34 has more unsuccess_sme entries");
        const struct pdu_unsuccess *e = &u[n - 1 - k];
        cr_assert_eq(l->dest_addr_ton, e->ton);
        cr_assert_eq(l->dest_addr_npi, e->npi);
        assert_coct(l->destination_addr, sizeof l->destination_addr, e->addr,
                    "submit_multi_resp", "destination_addr");
        cr_assert_eq(l->error_status_code, e->error_status_code);
    }
    cr_assert_eq(k, n, "libsmpp34 has %zu unsuccess entries, we sent %zu", k,
                 n);
}

/* Every field of libsmpp34's <u> is the one <p> holds; <len> is the
 * length of the PDU it was unpacked from. */
void l34_assert_equals(const union l34_pdu *u, const struct pdu *p,
                       size_t len)
{
    const struct l34_map *m = l34_map_find(p->command_id);
    const uint8_t *base = (const uint8_t *)u;
    const char *cmd = pdu_command_name(p->command_id);

    cr_assert_not_null(m);
    cr_assert_eq(u->hdr.command_length, len);
    cr_assert_eq(u->hdr.command_id, p->command_id);
    cr_assert_eq(u->hdr.command_status, p->command_status);
    cr_assert_eq(u->hdr.sequence_number, p->sequence_number);
    for (size_t i = 0; i < m->nfields; i++) {
        const struct l34_field *f = &m->fields[i];
        const struct pdu_view *v = view_at(p, f->ours);
        switch (f->kind) {
        case LK_U8:
            cr_assert_eq(base[f->theirs], *((const uint8_t *)p + f->ours),
                         "%s.%s: libsmpp34 has %u, we set %u", cmd, f->name,
                         base[f->theirs], *((const uint8_t *)p + f->ours));
            break;
        case LK_COCT:
            assert_coct(base + f->theirs, f->size, *v, cmd, f->name);
            break;
        case LK_SM:
            cr_assert_eq(base[f->aux], v->len, "%s: sm_length %u != %zu",
                         cmd, base[f->aux], v->len);
            cr_assert(v->len == 0 ||
                          memcmp(base + f->theirs, v->ptr, v->len) == 0,
                      "%s: short_message differs", cmd);
            break;
        case LK_TLVS:
            l34_assert_tlvs(p, *(tlv_t *const *)(const void *)(base + f->theirs));
            break;
        case LK_DESTS:
            l34_assert_dests(p, *(dad_t *const *)(const void *)(base + f->theirs));
            break;
        case LK_UNSUCC:
            l34_assert_unsuccess(
                p, *(udad_t *const *)(const void *)(base + f->theirs));
            break;
        }
    }
}

