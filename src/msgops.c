/*
 * msgops.c - query_sm, cancel_sm and replace_sm (see msgops.h).
 *
 * Each request becomes one struct msgop that owns a copy of the request
 * (the session's read buffer moves on) and a session reference, walks
 * its Redis steps, answers once, and is freed in op_finish.
 */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "dlr.h"
#include "log.h"
#include "msgops.h"
#include "pdu.h"
#include "session.h"
#include "store.h"

#define TAG "msgops"
#define ID_MAX 65

struct msgops {
    struct store *st;
    msgops_forward_fn forward;
    void *forward_ctx;
    struct msgops_stats stats;
};

struct msgop {
    struct msgops *o;
    struct sess *sess;
    struct pdu req;             /* views into raw */
    uint8_t *raw;
    char account[16];
    char msg_id[ID_MAX];
    int retried;                /* replace_sm: the queue changed under us */
};

static void op_finish(struct msgop *op, uint32_t status, struct pdu *resp)
{
    if (status != ESME_ROK)
        op->o->stats.refused++;
    sess_reply(op->sess, op->req.command_id, op->req.sequence_number, status,
               resp);
    sess_unref(op->sess);
    free(op->raw);
    free(op);
}

/* The request names the message by our id and, for verification, its
 * source address (SMPP 3.4 §4.8-4.10): an empty one is not checked. */
static uint32_t check_source(const struct msgop *op, const struct store_msg *m)
{
    char src[24];
    pdu_view_copy(src, sizeof src, op->req.source_addr);
    if (src[0] && m->src && m->src[0] && strcmp(src, m->src) != 0)
        return ESME_RINVSRCADR;
    return ESME_ROK;
}

/* Whether the message's record lets the request go on: ESME_ROK, or
 * <fail> when Redis failed, ESME_RINVMSGID when there is none, or the
 * source address check's refusal. */
static uint32_t record_verdict(const struct msgop *op, int status,
                               const struct store_msg *m, uint32_t fail)
{
    if (status != 0)
        return fail;
    if (!m)
        return ESME_RINVMSGID;
    return check_source(op, m);
}

/* "YYMMDDhhmmss000+": SMPP absolute time, UTC (SMPP 3.4 §7.1.1). */
static void format_final_date(uint64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%02d%02d%02d%02d%02d%02d000+", tm.tm_year % 100,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- query_sm ------------------------------------------------------- */

static void on_query_state(int status, const struct store_msg *m, void *arg)
{
    struct msgop *op = arg;
    char date[40] = "";
    uint32_t rc = record_verdict(op, status, m, ESME_RQUERYFAIL);
    if (rc != ESME_ROK) {
        op_finish(op, rc, NULL);
        return;
    }
    int state = dlr_state_from_name(m->state);
    if (state < 0) /* QUEUED: ours, on its way */
        state = DLR_STATE_ENROUTE;
    struct pdu r;
    pdu_init(&r, 0, 0);
    r.message_id = pdu_view_str(op->msg_id);
    r.message_state = (uint8_t)state;
    if (dlr_state_is_final(state) && m->final_ms)
        format_final_date(m->final_ms, date, sizeof date);
    r.final_date = pdu_view_str(date);
    r.error_code = (uint8_t)(m->error > 255 ? 255 : m->error);
    op_finish(op, ESME_ROK, &r);
}

/* ---- cancel_sm ------------------------------------------------------ */

/* Upstream cancelled it, and the record says so: a query_sm the customer
 * sends after our answer finds DELETED. */
static void on_cancel_recorded(int status, void *arg)
{
    struct msgop *op = arg;
    if (status != 0)
        log_warn(TAG, "cancel of %s of %s: cancelled upstream, but its DELETED "
                 "state could not be recorded", op->msg_id, op->account);
    op_finish(op, ESME_ROK, NULL); /* cancelled all the same */
}

static void on_cancel_forwarded(uint32_t status, void *arg)
{
    struct msgop *op = arg;
    if (status == ESME_ROK) {
        if (store_msg_final(op->o->st, op->account, op->msg_id, "DELETED",
                            clock_wall_ms(), 0, on_cancel_recorded, op) != 0)
            on_cancel_recorded(-1, op);
        return;
    }
    /* upstream's own refusal is the answer; a lost session is ours */
    op_finish(op, status > 0xFFFF ? ESME_RCANCELFAIL : status, NULL);
}

static void cancel_upstream(struct msgop *op, const struct store_msg *m)
{
    struct msgops *o = op->o;
    struct pdu c;
    pdu_init(&c, PDU_CANCEL_SM, 0);
    c.service_type = op->req.service_type;
    c.message_id = pdu_view_str(m->upstream_id);
    c.source_addr_ton = m->src_ton;
    c.source_addr_npi = m->src_npi;
    c.source_addr = pdu_view_str(m->src ? m->src : "");
    c.dest_addr_ton = op->req.dest_addr_ton;
    c.dest_addr_npi = op->req.dest_addr_npi;
    c.destination_addr = op->req.destination_addr;
    if (!o->forward ||
        o->forward(o->forward_ctx, m->connector, &c, on_cancel_forwarded, op) != 0) {
        log_info(TAG, "cancel of %s of %s: connector %s cannot send now",
                 op->msg_id, op->account, m->connector);
        op_finish(op, ESME_RCANCELFAIL, NULL);
        return;
    }
    o->stats.forwarded++;
}

static void on_cancelled(int status, enum store_cancel_outcome outcome,
                         const struct store_msg *m, void *arg)
{
    struct msgop *op = arg;
    if (status != 0) {
        op_finish(op, ESME_RCANCELFAIL, NULL);
        return;
    }
    switch (outcome) {
    case STORE_CANCEL_DONE:
        op->o->stats.done_in_queue++;
        op_finish(op, ESME_ROK, NULL);
        return;
    case STORE_CANCEL_UPSTREAM:
        cancel_upstream(op, m);
        return;
    case STORE_CANCEL_UNKNOWN:
        op_finish(op, ESME_RINVMSGID, NULL);
        return;
    case STORE_CANCEL_FINAL:
    case STORE_CANCEL_BUSY:
    default:
        op_finish(op, ESME_RCANCELFAIL, NULL);
        return;
    }
}

static void on_cancel_state(int status, const struct store_msg *m, void *arg)
{
    struct msgop *op = arg;
    uint32_t rc = record_verdict(op, status, m, ESME_RCANCELFAIL);
    if (rc != ESME_ROK) {
        op_finish(op, rc, NULL);
        return;
    }
    if (store_msg_cancel(op->o->st, op->account, op->msg_id, on_cancelled,
                         op) != 0)
        op_finish(op, ESME_RCANCELFAIL, NULL);
}

/* ---- replace_sm ----------------------------------------------------- */

static void replace_start(struct msgop *op);

static void on_replace_forwarded(uint32_t status, void *arg)
{
    struct msgop *op = arg;
    op_finish(op, status > 0xFFFF ? ESME_RREPLACEFAIL : status, NULL);
}

static void replace_upstream(struct msgop *op, const struct store_msg *m)
{
    struct msgops *o = op->o;
    struct pdu r = op->req;
    r.message_id = pdu_view_str(m->upstream_id);
    r.source_addr_ton = m->src_ton;
    r.source_addr_npi = m->src_npi;
    r.source_addr = pdu_view_str(m->src ? m->src : "");
    if (!m->connector || !m->upstream_id || !o->forward ||
        o->forward(o->forward_ctx, m->connector, &r, on_replace_forwarded,
                   op) != 0) {
        op_finish(op, ESME_RREPLACEFAIL, NULL);
        return;
    }
    o->stats.forwarded++;
}

/* The queued submit_sm with what replace_sm changes (SMPP 3.4 §4.10.1:
 * schedule, validity, registered_delivery, sm_default_msg_id and the
 * message; empty times mean "immediately" and "the default"). */
static void apply_replace(struct pdu *sub, const struct pdu *rep)
{
    sub->schedule_delivery_time = rep->schedule_delivery_time;
    sub->validity_period = rep->validity_period;
    sub->registered_delivery = rep->registered_delivery;
    sub->sm_default_msg_id = rep->sm_default_msg_id;
    sub->short_message = rep->short_message;
    const struct pdu_tlv *payload = pdu_tlv_find(rep, PDU_TLV_MESSAGE_PAYLOAD);
    pdu_tlv_del(sub, PDU_TLV_MESSAGE_PAYLOAD);
    if (payload)
        pdu_tlv_add(sub, PDU_TLV_MESSAGE_PAYLOAD, payload->val, payload->len);
}

static void on_replaced(int status, void *arg)
{
    struct msgop *op = arg;
    if (status == 0) {
        op->o->stats.done_in_queue++;
        op_finish(op, ESME_ROK, NULL);
    } else if (status == 1 && !op->retried) {
        /* taken or sent meanwhile: look again, once */
        op->retried = 1;
        replace_start(op);
    } else {
        op_finish(op, ESME_RREPLACEFAIL, NULL);
    }
}

static void on_replace_entry(int status, const struct store_entry *e,
                             size_t n, void *arg)
{
    struct msgop *op = arg;
    struct pdu sub;
    struct pdu_scratch sc = {.heap = NULL};
    const uint8_t *out;
    size_t len;
    if (status != 0 || n != 1 || !e->msg_id ||
        strcmp(e->msg_id, op->msg_id) != 0) {
        on_replaced(status != 0 ? -1 : 1, op); /* gone: taken meanwhile */
        return;
    }
    /* data_sm has no short_message to replace (its text is a TLV) */
    if (pdu_decode(e->pdu, e->pdu_len, &sub) != ESME_ROK ||
        sub.command_id != PDU_SUBMIT_SM) {
        op_finish(op, ESME_RREPLACEFAIL, NULL);
        return;
    }
    apply_replace(&sub, &op->req);
    uint32_t rc = pdu_validate(&sub);
    /* changed fields: encoded again, at its own size */
    if (rc != ESME_ROK || !(out = pdu_encode_scratch(&sub, &sc, &len))) {
        op_finish(op, rc != ESME_ROK ? rc : ESME_RREPLACEFAIL, NULL);
        return;
    }
    struct store_msg_info mi = {.account = op->account, .msg_id = op->msg_id,
                                .ts_ms = e->ts_ms};
    int queued = store_msg_replace(op->o->st, &mi, e->id, out, len,
                                   on_replaced, op);
    pdu_scratch_free(&sc);
    if (queued != 0)
        op_finish(op, ESME_RREPLACEFAIL, NULL);
}

static void on_replace_state(int status, const struct store_msg *m, void *arg)
{
    struct msgop *op = arg;
    uint32_t rc = record_verdict(op, status, m, ESME_RREPLACEFAIL);
    if (rc != ESME_ROK) {
        op_finish(op, rc, NULL);
        return;
    }
    if (strcmp(m->state, "ENROUTE") == 0) {
        replace_upstream(op, m);
    } else if (strcmp(m->state, "QUEUED") == 0 && m->entry) {
        if (store_queue_entry(op->o->st, m->entry, on_replace_entry, op) != 0)
            op_finish(op, ESME_RREPLACEFAIL, NULL);
    } else {
        op_finish(op, ESME_RREPLACEFAIL, NULL);
    }
}

static void replace_start(struct msgop *op)
{
    if (store_msg_get(op->o->st, op->account, op->msg_id, on_replace_state,
                      op) != 0)
        op_finish(op, ESME_RREPLACEFAIL, NULL);
}

/* ---- requests ------------------------------------------------------- */

static uint32_t failure_status(uint32_t command_id)
{
    switch (command_id) {
    case PDU_QUERY_SM: return ESME_RQUERYFAIL;
    case PDU_CANCEL_SM: return ESME_RCANCELFAIL;
    default: return ESME_RREPLACEFAIL;
    }
}

/* A copy of <req> that outlives the session's read buffer: its bytes
 * as they came (encoded again only when the session has none for it). */
static struct msgop *op_new(struct msgops *o, struct sess *s,
                            const char *account, const struct pdu *req)
{
    struct pdu_scratch sc = {.heap = NULL};
    size_t n = 0;
    const uint8_t *bytes = sess_request_bytes(s, req, &n);
    if (!bytes)
        bytes = pdu_encode_scratch(req, &sc, &n);
    struct msgop *op = bytes ? calloc(1, sizeof *op) : NULL;
    if (op && (op->raw = malloc(n)))
        memcpy(op->raw, bytes, n);
    pdu_scratch_free(&sc);
    if (!op || !op->raw || pdu_decode(op->raw, n, &op->req) != ESME_ROK) {
        if (op)
            free(op->raw);
        free(op);
        return NULL;
    }
    op->o = o;
    op->sess = s;
    snprintf(op->account, sizeof op->account, "%s", account);
    pdu_view_copy(op->msg_id, sizeof op->msg_id, req->message_id);
    sess_ref(s);
    return op;
}

void msgops_request(struct msgops *o, struct sess *s, const char *account,
                    const struct pdu *req)
{
    uint32_t rc = pdu_validate(req);
    if (rc == ESME_ROK && req->message_id.len == 0)
        /* cancel by source and destination alone: not kept here */
        rc = req->command_id == PDU_CANCEL_SM ? ESME_RCANCELFAIL : ESME_RINVMSGID;
    struct msgop *op = rc == ESME_ROK ? op_new(o, s, account, req) : NULL;
    if (!op) {
        o->stats.refused++;
        sess_reply(s, req->command_id, req->sequence_number,
                   rc != ESME_ROK ? rc : failure_status(req->command_id), NULL);
        return;
    }
    int sent;
    switch (req->command_id) {
    case PDU_QUERY_SM:
        o->stats.queries++;
        sent = store_msg_get(o->st, account, op->msg_id, on_query_state, op);
        break;
    case PDU_CANCEL_SM:
        o->stats.cancels++;
        sent = store_msg_get(o->st, account, op->msg_id, on_cancel_state, op);
        break;
    default:
        o->stats.replaces++;
        sent = store_msg_get(o->st, account, op->msg_id, on_replace_state, op);
        break;
    }
    if (sent != 0)
        op_finish(op, failure_status(req->command_id), NULL);
}

struct msgops *msgops_new(struct store *st)
{
    struct msgops *o = calloc(1, sizeof *o);
    if (o)
        o->st = st;
    return o;
}

void msgops_free(struct msgops *o)
{
    free(o);
}

void msgops_set_forwarder(struct msgops *o, msgops_forward_fn fn, void *ctx)
{
    o->forward = fn;
    o->forward_ctx = ctx;
}

const struct msgops_stats *msgops_stats(const struct msgops *o)
{
    return &o->stats;
}
