/*
 * smpp_load_send.c - the message, the open-loop schedule, submit_sm and
 * its response.
 *
 * Open loop: message i is due at start + i / rate whatever the server
 * does. A 1 ms tick (smpp_load_pump) sends everything due, round-robin
 * over the transmitters that have room; when none has, the backlog grows,
 * and each submit's latency is still measured from its *scheduled* time,
 * so a slow server shows as latency instead of hiding behind a send rate
 * that politely slowed down (coordinated omission). With --rate 0 there
 * is no schedule: every window is kept full, refilled from each response.
 */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "smpp_load.h"

#define UDH_CONCAT_LEN 6u  /* 05 00 03 ref total seq */
#define ESM_UDHI 0x40u
#define DC_GSM7 0x00u
#define DC_UCS2 0x08u
#define TON_INTERNATIONAL 1u
#define TON_ALPHANUMERIC 5u
#define NPI_ISDN 1u

/* ---- the text ------------------------------------------------------- */

/* Filler, repeated. The UCS-2 one has Cyrillic letters so it really needs
 * UCS-2; the GSM one only basic-table characters, so no escape sequence
 * straddles a part boundary and parts are exactly full. */
static const char filler_gsm7[] = "smpp-load test message 0123456789 ";
static const char filler_ucs2[] =
    "smpp-load \xd1\x82\xd0\xb5\xd1\x81\xd1\x82 0123456789 ";

/* Characters a text of <parts> parts holds: full parts then half a part,
 * so the count is unambiguous. */
static size_t text_chars(enum text_encoding enc, unsigned parts)
{
    size_t single = enc == TEXT_ENC_GSM7 ? 160 : 70;
    size_t multi = text_part_capacity(enc, UDH_CONCAT_LEN) /
                   (enc == TEXT_ENC_GSM7 ? 1 : 2);
    if (parts <= 1)
        return single / 2;
    return (parts - 1) * multi + multi / 2;
}

/* <nchars> characters of the filler as UTF-8 into a fresh buffer. */
static char *filler_utf8(enum text_encoding enc, size_t nchars, size_t *len)
{
    const char *f = enc == TEXT_ENC_GSM7 ? filler_gsm7 : filler_ucs2;
    size_t flen = strlen(f);
    char *out = malloc(nchars * 4 + 1);
    size_t o = 0, pos = 0;
    if (!out)
        return NULL;
    for (size_t c = 0; c < nchars; c++) {
        uint32_t cp;
        int n = text_utf8_decode(f + pos, flen - pos, &cp);
        memcpy(out + o, f + pos, (size_t)n);
        o += (size_t)n;
        pos = (pos + (size_t)n) % flen;
    }
    *len = o;
    return out;
}

static int text_cut(struct smpp_load_text *t, enum text_encoding enc,
                    size_t len, char *err, size_t errlen)
{
    size_t cap = text_part_capacity(enc, t->parts > 1 ? UDH_CONCAT_LEN : 0);
    size_t off = 0;
    unsigned n = 0;
    while (off < len && n < TEXT_CONCAT_MAX_PARTS) {
        size_t k = text_split_next(enc, t->buf + off, len - off, cap);
        if (k == 0)
            break;
        t->off[n] = off;
        t->len[n] = k;
        off += k;
        n++;
    }
    if (off != len || n != t->parts) {
        snprintf(err, errlen, "text split into %u parts, wanted %u", n,
                 t->parts);
        return -1;
    }
    return 0;
}

int smpp_load_text_build(struct smpp_load_text *t, enum text_encoding enc,
                         unsigned parts, char *err, size_t errlen)
{
    size_t ulen = 0, elen = 0;
    memset(t, 0, sizeof *t);
    t->parts = parts;
    t->data_coding = enc == TEXT_ENC_GSM7 ? DC_GSM7 : DC_UCS2;
    char *utf8 = filler_utf8(enc, text_chars(enc, parts), &ulen);
    size_t cap = ulen * 2 + 16;
    t->buf = malloc(cap);
    if (!utf8 || !t->buf) {
        free(utf8);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = text_from_utf8(enc, utf8, ulen, t->buf, cap, &elen);
    free(utf8);
    if (rc != 0) {
        snprintf(err, errlen, "cannot encode the text as %s",
                 text_encoding_name(enc));
        return -1;
    }
    return text_cut(t, enc, elen, err, errlen);
}

void smpp_load_text_free(struct smpp_load_text *t)
{
    free(t->buf);
    t->buf = NULL;
}

/* ---- statuses ------------------------------------------------------- */

const char *smpp_load_status_name(uint32_t status)
{
    if (status == SESS_STATUS_TIMEOUT)
        return "timeout";
    if (status == SESS_STATUS_CLOSED)
        return "closed";
    return pdu_status_name(status);
}

void smpp_load_count_status(struct smpp_load *ld, uint32_t status)
{
    for (unsigned i = 0; i < ld->nstatuses; i++)
        if (ld->statuses[i].code == status) {
            ld->statuses[i].count++;
            return;
        }
    if (ld->nstatuses == SMPP_LOAD_MAX_STATUSES) {
        ld->c.status_overflow++;
        return;
    }
    ld->statuses[ld->nstatuses].code = status;
    ld->statuses[ld->nstatuses].count = 1;
    ld->nstatuses++;
}

/* ---- submit contexts ------------------------------------------------ */

static struct smpp_load_sub *sub_get(struct smpp_load *ld)
{
    struct smpp_load_sub *u = ld->free_subs;
    if (u)
        ld->free_subs = u->next;
    else if (!(u = malloc(sizeof *u)))
        return NULL;
    memset(u, 0, sizeof *u);
    u->ld = ld;
    return u;
}

static void sub_put(struct smpp_load *ld, struct smpp_load_sub *u)
{
    u->next = ld->free_subs;
    ld->free_subs = u;
}

static void retry_push(struct smpp_load *ld, struct smpp_load_sub *u)
{
    u->next = NULL;
    if (ld->retry_tail)
        ld->retry_tail->next = u;
    else
        ld->retry_head = u;
    ld->retry_tail = u;
    ld->retry_queued++;
}

/* The queue is in retry_at order: one delay for all. */
static struct smpp_load_sub *retry_pop_due(struct smpp_load *ld,
                                           uint64_t now)
{
    struct smpp_load_sub *u = ld->retry_head;
    if (!u || u->retry_at_us > now)
        return NULL;
    ld->retry_head = u->next;
    if (!ld->retry_head)
        ld->retry_tail = NULL;
    ld->retry_queued--;
    return u;
}

/* A refused retry goes back to the front, keeping the order. */
static void retry_unpop(struct smpp_load *ld, struct smpp_load_sub *u)
{
    u->next = ld->retry_head;
    ld->retry_head = u;
    if (!ld->retry_tail)
        ld->retry_tail = u;
    ld->retry_queued++;
}

void smpp_load_retries_abandon(struct smpp_load *ld)
{
    struct smpp_load_sub *u;
    while ((u = retry_pop_due(ld, UINT64_MAX))) {
        ld->c.retry_abandoned++;
        sub_put(ld, u);
    }
}

void smpp_load_subs_free(struct smpp_load *ld)
{
    smpp_load_retries_abandon(ld);
    while (ld->free_subs) {
        struct smpp_load_sub *u = ld->free_subs;
        ld->free_subs = u->next;
        free(u);
    }
}

/* ---- submit_sm ------------------------------------------------------ */

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/*
 * Part <part> of message <msg> into <p>; its short_message is written to
 * <sm> (UDH then text), which must outlive <p>.
 */
static void build_submit(struct smpp_load *ld, const struct smpp_load_sub *u,
                         struct pdu *p, uint8_t sm[256])
{
    const struct smpp_load_text *t = &ld->text;
    size_t n = 0;
    pdu_init(p, PDU_SUBMIT_SM, 0);
    p->source_addr = pdu_view_str(ld->opts.src);
    p->source_addr_ton = all_digits(ld->opts.src) ? TON_INTERNATIONAL
                                                  : TON_ALPHANUMERIC;
    p->source_addr_npi = all_digits(ld->opts.src) ? NPI_ISDN : 0;
    p->destination_addr = pdu_view_str(ld->opts.dst);
    p->dest_addr_ton = TON_INTERNATIONAL;
    p->dest_addr_npi = NPI_ISDN;
    p->registered_delivery = (uint8_t)((ld->opts.dlr ? 1 : 0) |
                                       (ld->opts.intermediate ? 0x10 : 0));
    p->data_coding = t->data_coding;
    if (t->parts > 1) {
        /* 8-bit reference: the message number modulo 256 */
        n = text_udh_build_concat(sm, 256, (uint16_t)(u->msg & 0xFFu),
                                  (uint8_t)t->parts, (uint8_t)u->part, 0);
        p->esm_class = ESM_UDHI;
    }
    memcpy(sm + n, t->buf + t->off[u->part - 1], t->len[u->part - 1]);
    p->short_message.ptr = sm;
    p->short_message.len = n + t->len[u->part - 1];
}

static void on_submit_resp(struct sess *s, const struct pdu *resp,
                           uint32_t status, void *arg);

/* Send <u> on <c>. 0, or -1 when the session refused (nothing sent). */
static int send_sub(struct smpp_load *ld, struct smpp_load_conn *c,
                    struct smpp_load_sub *u)
{
    struct pdu p;
    uint8_t sm[256];
    build_submit(ld, u, &p, sm);
    if (sess_send(c->s, &p, on_submit_resp, u, NULL) != 0)
        return -1;
    u->attempts++;
    u->sent_us = smpp_load_now_us();
    ld->inflight++;
    ld->c.submits_sent++;
    if (u->attempts > 1)
        ld->c.retries++;
    return 0;
}

/* Messages due by <now>: the schedule's count, capped by its length. */
static uint64_t due_msgs(const struct smpp_load *ld, uint64_t now)
{
    if (ld->phase != SMPP_LOAD_PH_SENDING)
        return ld->next_msg;
    if (ld->opts.rate <= 0)
        return ld->limit_msgs;
    double el = (double)(now - ld->start_us) / 1e6;
    double due = floor(el * ld->opts.rate) + 1.0;
    return due >= (double)ld->limit_msgs ? ld->limit_msgs : (uint64_t)due;
}

uint64_t smpp_load_backlog(const struct smpp_load *ld, uint64_t now)
{
    if (ld->opts.rate <= 0)
        return 0;
    uint64_t due = due_msgs(ld, now);
    return due > ld->next_msg ? due - ld->next_msg : 0;
}

static uint64_t sched_of(const struct smpp_load *ld, uint64_t msg,
                         uint64_t now)
{
    if (ld->opts.rate <= 0)
        return now; /* closed loop: no schedule to lag behind */
    return ld->start_us + (uint64_t)((double)msg * 1e6 / ld->opts.rate);
}

/* The next part of the schedule as a new submit, or NULL if none is due. */
static struct smpp_load_sub *next_scheduled(struct smpp_load *ld,
                                            uint64_t now)
{
    if (ld->next_msg >= due_msgs(ld, now))
        return NULL;
    struct smpp_load_sub *u = sub_get(ld);
    if (!u)
        return NULL;
    if (ld->next_part == 1)
        ld->cur_sched_us = sched_of(ld, ld->next_msg, now);
    u->msg = ld->next_msg;
    u->part = ld->next_part;
    u->sched_us = ld->cur_sched_us;
    return u;
}

static void advance_schedule(struct smpp_load *ld)
{
    if (ld->next_part == 1)
        ld->c.messages_started++;
    if (ld->next_part < ld->text.parts) {
        ld->next_part++;
        return;
    }
    ld->c.messages_sent++;
    ld->next_msg++;
    ld->next_part = 1;
}

/* One submit on <c>: a due retry first, else the schedule. 1 sent, 0
 * nothing due, -1 refused. */
static int send_one(struct smpp_load *ld, struct smpp_load_conn *c,
                    uint64_t now)
{
    struct smpp_load_sub *u = retry_pop_due(ld, now);
    if (u) {
        if (send_sub(ld, c, u) == 0)
            return 1;
        retry_unpop(ld, u);
        return -1;
    }
    /* the parts of one message go on one bind, in order, as SMSCs want */
    if (ld->next_part != 1 && ld->msg_conn && ld->msg_conn != c)
        return -1;
    if (ld->phase != SMPP_LOAD_PH_SENDING || !(u = next_scheduled(ld, now)))
        return 0;
    if (send_sub(ld, c, u) != 0) {
        sub_put(ld, u);
        return -1;
    }
    if (ld->next_part == 1)
        ld->msg_conn = c;
    advance_schedule(ld);
    return 1;
}

static int conn_ready(const struct smpp_load_conn *c)
{
    return c->s && c->bound && sess_can_send(c->s);
}

void smpp_load_fill(struct smpp_load *ld, struct smpp_load_conn *c,
                    uint64_t now)
{
    if (c->type == SESS_BIND_RX)
        return;
    while (conn_ready(c) && send_one(ld, c, now) == 1)
        ;
}

void smpp_load_pump(struct smpp_load *ld, uint64_t now)
{
    unsigned idle = 0;
    /* Round robin: one submit per transmitter in turn, until every one
     * is full or nothing is due. */
    while (ld->ntx && idle < ld->ntx) {
        struct smpp_load_conn *c = &ld->conns[ld->rr];
        int r = conn_ready(c) ? send_one(ld, c, now) : -1;
        if (r == 0)
            return;
        /* stay on this bind until its message's last part is out */
        if (r != 1 || ld->next_part == 1)
            ld->rr = (ld->rr + 1) % ld->ntx;
        idle = r == 1 ? 0 : idle + 1;
    }
}

void smpp_load_schedule_start(struct smpp_load *ld, uint64_t now)
{
    uint64_t limit = ld->opts.count ? ld->opts.count : UINT64_MAX;
    if (ld->opts.rate > 0 && ld->opts.duration_s > 0) {
        double by_time = ceil(ld->opts.duration_s * ld->opts.rate);
        if (by_time < (double)limit)
            limit = (uint64_t)by_time;
    }
    ld->limit_msgs = limit;
    ld->start_us = now;
    ld->next_msg = 0;
    ld->next_part = 1;
    ld->last_resp_us = now;
    ld->last_tx_bound_us = now;
}

/* Has sending ended? Sets ld->stop. With a rate, the schedule's last
 * message may still be in the backlog at --duration: it gets one more
 * second, then what is left is reported as unsent. */
int smpp_load_sending_done(struct smpp_load *ld, uint64_t now)
{
    const struct smpp_load_opts *o = &ld->opts;
    uint64_t dur_us = (uint64_t)(o->duration_s * 1e6);
    uint64_t stall_us = (uint64_t)(2 * o->resp_timeout_s * 1e6);
    unsigned tx_bound = smpp_load_conns_bound(ld, 1);
    if (tx_bound)
        ld->last_tx_bound_us = now;
    if (ld->next_msg >= ld->limit_msgs)
        ld->stop = o->count && ld->limit_msgs == o->count
                       ? SMPP_LOAD_STOP_COUNT : SMPP_LOAD_STOP_DURATION;
    else if (dur_us && now >= ld->start_us + dur_us +
                                  (o->rate > 0 ? 1000000u : 0))
        ld->stop = SMPP_LOAD_STOP_DURATION;
    else if (!tx_bound &&
             (!o->reconnect || now > ld->last_tx_bound_us + stall_us))
        ld->stop = SMPP_LOAD_STOP_NO_SESSIONS; /* --reconnect: bounded */
    else if (ld->inflight && now > ld->last_resp_us + stall_us)
        ld->stop = SMPP_LOAD_STOP_STALLED;
    return ld->stop != SMPP_LOAD_STOP_NONE;
}

/* ---- submit_sm_resp ------------------------------------------------- */

static void count_outcome(struct smpp_load *ld, const struct smpp_load_sub *u,
                          uint32_t status, uint64_t now)
{
    smpp_load_count_status(ld, status);
    if (status == SESS_STATUS_TIMEOUT) {
        ld->c.timeouts++;
        return;
    }
    if (status == SESS_STATUS_CLOSED) {
        ld->c.closed++;
        return;
    }
    ld->c.responses++;
    ld->last_resp_us = now;
    hist_record(ld->submit_lat_iv, now > u->sched_us ? now - u->sched_us : 0);
    hist_record(ld->submit_svc, now > u->sent_us ? now - u->sent_us : 0);
    if (status == ESME_ROK)
        ld->c.resp_ok++;
    else
        ld->c.resp_error++;
    if (status == ESME_RTHROTTLED)
        ld->c.throttled++;
}

static int want_retry(const struct smpp_load *ld, uint32_t status)
{
    return status == ESME_RTHROTTLED && ld->opts.retry_throttled &&
           ld->phase <= SMPP_LOAD_PH_DRAINING && !ld->interrupted;
}

static void on_submit_resp(struct sess *s, const struct pdu *resp,
                           uint32_t status, void *arg)
{
    struct smpp_load_sub *u = arg;
    struct smpp_load *ld = u->ld;
    struct smpp_load_conn *c = sess_ctx(s);
    uint64_t now = smpp_load_now_us();
    ld->inflight--;
    count_outcome(ld, u, status, now);
    if (status == ESME_ROK)
        smpp_load_dlr_submit_ok(ld, resp, u->sched_us);
    if (want_retry(ld, status)) {
        u->retry_at_us = now + (uint64_t)ld->opts.retry_delay_ms * 1000u;
        retry_push(ld, u);
    } else {
        sub_put(ld, u);
    }
    /* Refill at once rather than at the next tick: with --rate 0 this is
     * what keeps the window full. */
    if (c && status != SESS_STATUS_CLOSED)
        smpp_load_fill(ld, c, now);
}
