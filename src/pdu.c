/*
 * pdu.c - SMPP codec: framing, decoding into views, validation, encoding.
 *
 * Everything is driven by the tables in pdu_defs.h: each command points at
 * a layout (a list of field descriptors ending in FK_END), and one decoder
 * and one encoder walk any layout. Wire bytes are read with a cursor that
 * never moves past the PDU's end; C-Octet Strings are found with memchr
 * bounded by both the bytes left and the field's maximum.
 */
#include "common.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "pdu.h"
#include "wire.h"

enum field_kind {
    FK_END = 0,
    FK_U8,
    FK_COCT,
    FK_TIME,
    FK_SM,
    FK_DESTS,
    FK_UNSUCC,
};

struct field_def {
    uint8_t kind;
    uint8_t max;      /* C-Octet maximum including the NUL */
    uint16_t offset;  /* offsetof(struct pdu, member) */
    uint32_t status;  /* answer when this field is malformed */
};

#define FIELD_ROW(kind, field, max, status)                                    \
    {FK_##kind, max, (uint16_t)offsetof(struct pdu, field), status},
#define FIELD_END {FK_END, 0, 0, ESME_ROK}

#define LAYOUT(name)                                                           \
    static const struct field_def layout_##name[] = {                          \
        PDU_LAYOUT_##name(FIELD_ROW) FIELD_END};
LAYOUT(empty)
LAYOUT(bind)
LAYOUT(bind_resp)
LAYOUT(outbind)
LAYOUT(sm)
LAYOUT(submit_multi)
LAYOUT(submit_multi_resp)
LAYOUT(message_id)
LAYOUT(data_sm)
LAYOUT(query_sm)
LAYOUT(query_sm_resp)
LAYOUT(cancel_sm)
LAYOUT(replace_sm)
LAYOUT(alert_notification)
LAYOUT(broadcast_sm)
LAYOUT(cancel_broadcast_sm)
#undef LAYOUT

struct command_def {
    uint32_t id;
    const char *name;
    const struct field_def *layout;
    unsigned flags;
};

enum command_index {
#define CMD_IDX(NAME, name, id, layout, flags) CMD_IDX_##NAME,
    PDU_COMMANDS(CMD_IDX)
#undef CMD_IDX
    CMD_COUNT
};

static const struct command_def commands[CMD_COUNT] = {
#define CMD_ROW(NAME, name, id, layout, flags)                                 \
    [CMD_IDX_##NAME] = {id, #name, layout_##layout, flags},
    PDU_COMMANDS(CMD_ROW)
#undef CMD_ROW
};

static const struct command_def *command_lookup(uint32_t id)
{
    switch (id) {
#define CMD_CASE(NAME, name, id, layout, flags)                                \
    case id:                                                                   \
        return &commands[CMD_IDX_##NAME];
        PDU_COMMANDS(CMD_CASE)
#undef CMD_CASE
    default:
        return NULL;
    }
}

struct tlv_def {
    const char *name;
    uint16_t min;
    uint16_t max;
};

/* NULL for tags outside the standard table: those are kept as they are. */
static const struct tlv_def *tlv_lookup(uint16_t tag)
{
    switch (tag) {
#define TLV_CASE(NAME, name, tag, min, max)                                    \
    case tag: {                                                                \
        static const struct tlv_def def = {#name, min, max};                   \
        return &def;                                                           \
    }
        PDU_TLVS(TLV_CASE)
#undef TLV_CASE
    default:
        return NULL;
    }
}

/* ---- names ---------------------------------------------------------- */

const char *pdu_command_name(uint32_t command_id)
{
    const struct command_def *c = command_lookup(command_id);
    return c ? c->name : "unknown";
}

const char *pdu_status_name(uint32_t status)
{
    switch (status) {
#define STATUS_CASE(NAME, value)                                               \
    case value:                                                                \
        return #NAME;
        PDU_STATUSES(STATUS_CASE)
#undef STATUS_CASE
    default:
        if (status >= 0x400 && status <= 0x4FF)
            return "vendor-specific";
        return "reserved";
    }
}

const char *pdu_tlv_name(uint16_t tag)
{
    const struct tlv_def *t = tlv_lookup(tag);
    return t ? t->name : NULL;
}

int pdu_command_known(uint32_t command_id)
{
    return command_lookup(command_id) != NULL;
}

unsigned pdu_command_flags(uint32_t command_id)
{
    const struct command_def *c = command_lookup(command_id);
    return c ? c->flags : 0;
}

/* ---- framing -------------------------------------------------------- */

enum pdu_frame_result pdu_frame(const uint8_t *buf, size_t avail,
                                uint32_t max_len, uint32_t *pdu_len)
{
    *pdu_len = 0;
    if (avail < 4)
        return PDU_FRAME_NEED_MORE;
    uint32_t len = wire_read_u32(buf);
    if (len < PDU_HEADER_LEN || len > max_len)
        return PDU_FRAME_INVALID;
    *pdu_len = len;
    return avail >= len ? PDU_FRAME_READY : PDU_FRAME_NEED_MORE;
}

void pdu_rewrite_sequence(uint8_t *raw, uint32_t sequence_number)
{
    wire_write_u32(raw + 12, sequence_number);
}

/* ---- decoding ------------------------------------------------------- */

/* The unread part of a PDU body. Readers return ESME_ROK and advance, or
 * return a status and leave the cursor where it was. */
struct cursor {
    const uint8_t *p;
    const uint8_t *end;
};

static size_t cursor_left(const struct cursor *c)
{
    return (size_t)(c->end - c->p);
}

static uint32_t read_u8(struct cursor *c, uint8_t *out)
{
    if (c->p == c->end)
        return ESME_RINVCMDLEN;
    *out = *c->p++;
    return ESME_ROK;
}

/* A C-Octet String of at most <max> octets including its NUL. */
static uint32_t read_coct(struct cursor *c, size_t max, uint32_t status,
                          struct pdu_view *out)
{
    size_t left = cursor_left(c);
    if (left == 0)
        return ESME_RINVCMDLEN; /* the body ended before this field */
    size_t limit = left < max ? left : max;
    const uint8_t *nul = memchr(c->p, 0, limit);
    if (!nul)
        return status;
    out->ptr = c->p;
    out->len = (size_t)(nul - c->p);
    c->p = nul + 1;
    return ESME_ROK;
}

static uint32_t read_time(struct cursor *c, size_t max, uint32_t status,
                          struct pdu_view *out)
{
    struct cursor save = *c;
    uint32_t st = read_coct(c, max, status, out);
    if (st != ESME_ROK)
        return st;
    if (out->len != 0 && out->len != 16) {
        *c = save;
        return status;
    }
    return ESME_ROK;
}

static uint32_t read_sm(struct cursor *c, uint32_t status,
                        struct pdu_view *out)
{
    if (c->p == c->end)
        return ESME_RINVCMDLEN;
    size_t sm_length = c->p[0];
    if (cursor_left(c) - 1 < sm_length)
        return status;
    out->ptr = c->p + 1;
    out->len = sm_length;
    c->p += 1 + sm_length;
    return ESME_ROK;
}

/* One submit_multi dest_address (SMPP 3.4 §4.5.1): dest_flag 1 then an
 * SME address, or dest_flag 2 then a distribution list name. */
static uint32_t read_dest(struct cursor *c, struct pdu_dest *d)
{
    if (read_u8(c, &d->dest_flag) != ESME_ROK)
        return ESME_RINVCMDLEN;
    if (d->dest_flag == 1) {
        if (cursor_left(c) < 2)
            return ESME_RINVCMDLEN;
        d->ton = c->p[0];
        d->npi = c->p[1];
        c->p += 2;
        return read_coct(c, 21, ESME_RINVDSTADR, &d->addr);
    }
    d->ton = d->npi = 0;
    if (d->dest_flag == 2)
        return read_coct(c, 21, ESME_RINVDLNAME, &d->addr);
    return ESME_RINVDESTFLAG;
}

/* One submit_multi_resp unsuccess_sme entry. */
static uint32_t read_unsuccess(struct cursor *c, struct pdu_unsuccess *u)
{
    if (cursor_left(c) < 2)
        return ESME_RINVCMDLEN;
    u->ton = c->p[0];
    u->npi = c->p[1];
    c->p += 2;
    uint32_t st = read_coct(c, 21, ESME_RINVDSTADR, &u->addr);
    if (st != ESME_ROK)
        return st;
    if (cursor_left(c) < 4)
        return ESME_RINVCMDLEN;
    u->error_status_code = wire_read_u32(c->p);
    c->p += 4;
    return ESME_ROK;
}

/* A counted list: the count octet, then <count> entries read by <kind>. */
static uint32_t read_list(struct cursor *c, enum field_kind kind,
                          uint8_t *count, struct pdu_view *out)
{
    uint32_t st = read_u8(c, count);
    if (st != ESME_ROK)
        return st;
    const uint8_t *start = c->p;
    for (unsigned i = 0; i < *count; i++) {
        struct pdu_dest d;
        struct pdu_unsuccess u;
        st = kind == FK_DESTS ? read_dest(c, &d) : read_unsuccess(c, &u);
        if (st != ESME_ROK)
            return st;
    }
    out->ptr = start;
    out->len = (size_t)(c->p - start);
    return ESME_ROK;
}

static uint32_t read_field(struct cursor *c, const struct field_def *f,
                           struct pdu *out)
{
    char *base = (char *)out;
    struct pdu_view *view = (struct pdu_view *)(void *)(base + f->offset);

    switch (f->kind) {
    case FK_U8:
        return read_u8(c, (uint8_t *)(base + f->offset));
    case FK_COCT:
        return read_coct(c, f->max, f->status, view);
    case FK_TIME:
        return read_time(c, f->max, f->status, view);
    case FK_SM:
        return read_sm(c, f->status, view);
    case FK_DESTS:
        return read_list(c, FK_DESTS, &out->number_of_dests, view);
    case FK_UNSUCC:
        return read_list(c, FK_UNSUCC, &out->no_unsuccess, view);
    default:
        return ESME_RSYSERR;
    }
}

/* Optional parameters up to the end of the body (SMPP 3.4 §5.3): tag,
 * length, value, nothing marking the last. */
static uint32_t read_tlvs(struct cursor *c, struct pdu *out)
{
    while (c->p < c->end) {
        if (cursor_left(c) < 4)
            return ESME_RINVOPTPARSTREAM;
        uint16_t tag = wire_read_u16(c->p);
        uint16_t len = wire_read_u16(c->p + 2);
        if (cursor_left(c) - 4 < len)
            return ESME_RINVOPTPARSTREAM;
        const struct tlv_def *def = tlv_lookup(tag);
        if (def && (len < def->min || len > def->max))
            return ESME_RINVPARLEN;
        if (out->tlv_count == PDU_MAX_TLVS)
            return ESME_RINVOPTPARSTREAM;
        struct pdu_tlv *t = &out->tlvs[out->tlv_count++];
        t->tag = tag;
        t->len = len;
        t->val = c->p + 4;
        c->p += 4 + (size_t)len;
    }
    return ESME_ROK;
}

static void decode_header(const uint8_t *buf, struct pdu *out)
{
    out->command_length = wire_read_u32(buf);
    out->command_id = wire_read_u32(buf + 4);
    out->command_status = wire_read_u32(buf + 8);
    out->sequence_number = wire_read_u32(buf + 12);
}

uint32_t pdu_decode(const uint8_t *buf, size_t len, struct pdu *out)
{
    memset(out, 0, offsetof(struct pdu, tlvs));
    if (len < PDU_HEADER_LEN)
        return ESME_RINVCMDLEN;
    decode_header(buf, out);
    if (out->command_length != len)
        return ESME_RINVCMDLEN;

    const struct command_def *cmd = command_lookup(out->command_id);
    if (!cmd)
        return ESME_RINVCMDID;

    struct cursor c = {buf + PDU_HEADER_LEN, buf + len};
    /* A response may come without its body: a failed one often does
     * (docs/architecture.md, "SMPP facts the code relies on"), and
     * clients send a bare deliver_sm_resp. Its
     * fields are then empty; what an empty message_id means is for the
     * caller to decide. */
    if (pdu_is_resp(out->command_id) && c.p == c.end)
        return ESME_ROK;

    for (const struct field_def *f = cmd->layout; f->kind != FK_END; f++) {
        uint32_t st = read_field(&c, f, out);
        if (st != ESME_ROK)
            return st;
    }
    if (cmd->flags & PDUF_TLV)
        return read_tlvs(&c, out);
    return c.p == c.end ? ESME_ROK : ESME_RINVCMDLEN;
}

/* ---- lists ---------------------------------------------------------- */

int pdu_dest_next(struct pdu_view *cursor, struct pdu_dest *out)
{
    if (cursor->len == 0) /* also keeps NULL + 0 out of the arithmetic */
        return 0;
    struct cursor c = {cursor->ptr, cursor->ptr + cursor->len};
    if (read_dest(&c, out) != ESME_ROK)
        return 0;
    cursor->len -= (size_t)(c.p - cursor->ptr);
    cursor->ptr = c.p;
    return 1;
}

int pdu_unsuccess_next(struct pdu_view *cursor, struct pdu_unsuccess *out)
{
    if (cursor->len == 0) /* also keeps NULL + 0 out of the arithmetic */
        return 0;
    struct cursor c = {cursor->ptr, cursor->ptr + cursor->len};
    if (read_unsuccess(&c, out) != ESME_ROK)
        return 0;
    cursor->len -= (size_t)(c.p - cursor->ptr);
    cursor->ptr = c.p;
    return 1;
}

/* 1 when <v> fits a C-Octet String of <max> octets: short enough and no
 * NUL inside (which would cut it short on the wire). */
static int coct_fits(struct pdu_view v, size_t max)
{
    return v.len < max && (v.len == 0 || !memchr(v.ptr, 0, v.len));
}

static uint8_t *put_coct(uint8_t *w, struct pdu_view v)
{
    if (v.len)
        memcpy(w, v.ptr, v.len);
    w[v.len] = 0;
    return w + v.len + 1;
}

size_t pdu_dests_build(uint8_t *buf, size_t cap, const struct pdu_dest *d,
                       size_t n)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (!coct_fits(d[i].addr, 21) ||
            (d[i].dest_flag != 1 && d[i].dest_flag != 2))
            return 0;
        need += (d[i].dest_flag == 1 ? 3 : 1) + d[i].addr.len + 1;
    }
    if (need > cap)
        return 0;
    uint8_t *w = buf;
    for (size_t i = 0; i < n; i++) {
        *w++ = d[i].dest_flag;
        if (d[i].dest_flag == 1) {
            *w++ = d[i].ton;
            *w++ = d[i].npi;
        }
        w = put_coct(w, d[i].addr);
    }
    return need;
}

size_t pdu_unsuccess_build(uint8_t *buf, size_t cap,
                           const struct pdu_unsuccess *u, size_t n)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        if (!coct_fits(u[i].addr, 21))
            return 0;
        need += 2 + u[i].addr.len + 1 + 4;
    }
    if (need > cap)
        return 0;
    uint8_t *w = buf;
    for (size_t i = 0; i < n; i++) {
        *w++ = u[i].ton;
        *w++ = u[i].npi;
        w = put_coct(w, u[i].addr);
        wire_write_u32(w, u[i].error_status_code);
        w += 4;
    }
    return need;
}

/* 1 when <list> holds exactly <count> well-formed entries of <kind>. */
static int list_matches(struct pdu_view list, unsigned count,
                        enum field_kind kind)
{
    if (list.len == 0)
        return count == 0;
    struct cursor c = {list.ptr, list.ptr + list.len};
    for (unsigned i = 0; i < count; i++) {
        struct pdu_dest d;
        struct pdu_unsuccess u;
        uint32_t st = kind == FK_DESTS ? read_dest(&c, &d)
                                       : read_unsuccess(&c, &u);
        if (st != ESME_ROK)
            return 0;
    }
    return c.p == c.end;
}

/* ---- encoding ------------------------------------------------------- */

static const struct pdu_view *field_view(const struct pdu *p,
                                         const struct field_def *f)
{
    return (const struct pdu_view *)(const void *)((const char *)p +
                                                   f->offset);
}

/* Wire size of one mandatory field, or 0 when it cannot be encoded. */
static size_t field_len(const struct pdu *p, const struct field_def *f)
{
    const struct pdu_view *v = field_view(p, f);
    switch (f->kind) {
    case FK_U8:
        return 1;
    case FK_COCT:
        return coct_fits(*v, f->max) ? v->len + 1 : 0;
    case FK_TIME:
        return (v->len == 0 || v->len == 16) && coct_fits(*v, 17)
                   ? v->len + 1 : 0;
    case FK_SM:
        return v->len <= 255 ? v->len + 1 : 0;
    case FK_DESTS:
        return list_matches(*v, p->number_of_dests, FK_DESTS) ? v->len + 1
                                                                : 0;
    case FK_UNSUCC:
        return list_matches(*v, p->no_unsuccess, FK_UNSUCC) ? v->len + 1 : 0;
    default:
        return 0;
    }
}

/* 1 when the body of <p> is left out: a failed response of a kind that
 * 3.4 sends without a body, and nothing optional to carry. */
static int body_omitted(const struct pdu *p, const struct command_def *cmd)
{
    return (cmd->flags & PDUF_NOBODY_ON_ERR) &&
           p->command_status != ESME_ROK && p->tlv_count == 0;
}

size_t pdu_encoded_len(const struct pdu *p)
{
    const struct command_def *cmd = command_lookup(p->command_id);
    if (!cmd)
        return 0;
    size_t len = PDU_HEADER_LEN;
    if (body_omitted(p, cmd))
        return len;
    for (const struct field_def *f = cmd->layout; f->kind != FK_END; f++) {
        size_t n = field_len(p, f);
        if (n == 0)
            return 0;
        len += n;
    }
    if (p->tlv_count > PDU_MAX_TLVS ||
        (p->tlv_count && !(cmd->flags & PDUF_TLV)))
        return 0;
    for (unsigned i = 0; i < p->tlv_count; i++) {
        /* strict when writing: never send what our decoder refuses */
        const struct tlv_def *def = tlv_lookup(p->tlvs[i].tag);
        if (def && (p->tlvs[i].len < def->min || p->tlvs[i].len > def->max))
            return 0;
        len += 4 + (size_t)p->tlvs[i].len;
    }
    return len <= UINT32_MAX ? len : 0;
}

static uint8_t *put_field(uint8_t *w, const struct pdu *p,
                          const struct field_def *f)
{
    const struct pdu_view *v = field_view(p, f);
    switch (f->kind) {
    case FK_U8:
        *w = *((const uint8_t *)p + f->offset);
        return w + 1;
    case FK_COCT:
    case FK_TIME:
        return put_coct(w, *v);
    case FK_SM:
        *w++ = (uint8_t)v->len;
        break;
    case FK_DESTS:
        *w++ = p->number_of_dests;
        break;
    case FK_UNSUCC:
        *w++ = p->no_unsuccess;
        break;
    default:
        return w;
    }
    if (v->len)
        memcpy(w, v->ptr, v->len);
    return w + v->len;
}

/* Write <p>, whose encoded length pdu_encoded_len() found to be <len>
 * (not 0), into <buf> of at least <len> bytes. */
static void encode_known_len(const struct pdu *p, size_t len, uint8_t *buf)
{
    const struct command_def *cmd = command_lookup(p->command_id);

    wire_write_u32(buf, (uint32_t)len);
    wire_write_u32(buf + 4, p->command_id);
    wire_write_u32(buf + 8, p->command_status);
    wire_write_u32(buf + 12, p->sequence_number);
    if (len == PDU_HEADER_LEN)
        return;

    uint8_t *w = buf + PDU_HEADER_LEN;
    for (const struct field_def *f = cmd->layout; f->kind != FK_END; f++)
        w = put_field(w, p, f);
    for (unsigned i = 0; i < p->tlv_count; i++) {
        const struct pdu_tlv *t = &p->tlvs[i];
        wire_write_u16(w, t->tag);
        wire_write_u16(w + 2, t->len);
        if (t->len)
            memcpy(w + 4, t->val, t->len);
        w += 4 + (size_t)t->len;
    }
}

size_t pdu_encode(const struct pdu *p, uint8_t *buf, size_t cap)
{
    size_t len = pdu_encoded_len(p);
    if (len == 0 || len > cap)
        return 0;
    encode_known_len(p, len, buf);
    return len;
}

int pdu_encode_evbuffer(const struct pdu *p, struct evbuffer *out)
{
    size_t len = pdu_encoded_len(p);
    if (len == 0)
        return -1;
    struct evbuffer_iovec iov;
    if (evbuffer_reserve_space(out, (ev_ssize_t)len, &iov, 1) != 1 ||
        iov.iov_len < len)
        return -1;
    encode_known_len(p, len, iov.iov_base);
    iov.iov_len = len;
    return evbuffer_commit_space(out, &iov, 1) == 0 ? 0 : -1;
}

const uint8_t *pdu_encode_scratch(const struct pdu *p, struct pdu_scratch *sc,
                                  size_t *len)
{
    size_t n = pdu_encoded_len(p);
    uint8_t *buf = sc->small;
    if (n == 0)
        return NULL;
    if (n > sizeof sc->small) {
        free(sc->heap);
        if (!(sc->heap = malloc(n)))
            return NULL;
        buf = sc->heap;
    }
    encode_known_len(p, n, buf);
    *len = n;
    return buf;
}

void pdu_scratch_free(struct pdu_scratch *sc)
{
    free(sc->heap);
    sc->heap = NULL;
}

/* ---- building ------------------------------------------------------- */

void pdu_init(struct pdu *p, uint32_t command_id, uint32_t sequence_number)
{
    memset(p, 0, offsetof(struct pdu, tlvs));
    p->command_id = command_id;
    p->sequence_number = sequence_number;
}

struct pdu_view pdu_view_str(const char *s)
{
    struct pdu_view v = {(const uint8_t *)s, s ? strlen(s) : 0};
    return v;
}

void pdu_view_copy(char *dst, size_t cap, struct pdu_view v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (n)
        memcpy(dst, v.ptr, n);
    dst[n] = 0;
}

int pdu_view_eq(struct pdu_view v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && (n == 0 || memcmp(v.ptr, s, n) == 0);
}

/* ---- optional parameters -------------------------------------------- */

const struct pdu_tlv *pdu_tlv_find(const struct pdu *p, uint16_t tag)
{
    for (unsigned i = 0; i < p->tlv_count; i++)
        if (p->tlvs[i].tag == tag)
            return &p->tlvs[i];
    return NULL;
}

int pdu_tlv_add(struct pdu *p, uint16_t tag, const void *val, uint16_t len)
{
    if (p->tlv_count >= PDU_MAX_TLVS)
        return -1;
    struct pdu_tlv *t = &p->tlvs[p->tlv_count++];
    t->tag = tag;
    t->len = len;
    t->val = val;
    return 0;
}

int pdu_tlv_set(struct pdu *p, uint16_t tag, const void *val, uint16_t len)
{
    for (unsigned i = 0; i < p->tlv_count; i++) {
        if (p->tlvs[i].tag == tag) {
            p->tlvs[i].len = len;
            p->tlvs[i].val = val;
            return 0;
        }
    }
    return pdu_tlv_add(p, tag, val, len);
}

void pdu_tlv_del(struct pdu *p, uint16_t tag)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < p->tlv_count; i++)
        if (p->tlvs[i].tag != tag)
            p->tlvs[kept++] = p->tlvs[i];
    p->tlv_count = (uint16_t)kept;
}

int pdu_tlv_u8(const struct pdu *p, uint16_t tag, uint8_t *out)
{
    const struct pdu_tlv *t = pdu_tlv_find(p, tag);
    if (!t || t->len != 1)
        return -1;
    *out = t->val[0];
    return 0;
}

int pdu_tlv_u16(const struct pdu *p, uint16_t tag, uint16_t *out)
{
    const struct pdu_tlv *t = pdu_tlv_find(p, tag);
    if (!t || t->len != 2)
        return -1;
    *out = wire_read_u16(t->val);
    return 0;
}

int pdu_tlv_cstr(const struct pdu *p, uint16_t tag, struct pdu_view *out)
{
    const struct pdu_tlv *t = pdu_tlv_find(p, tag);
    if (!t)
        return -1;
    const uint8_t *nul = t->len ? memchr(t->val, 0, t->len) : NULL;
    out->ptr = t->val;
    out->len = nul ? (size_t)(nul - t->val) : t->len;
    return 0;
}
