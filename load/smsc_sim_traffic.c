/*
 * smsc_sim_traffic.c - what the simulator does with messages: answers
 * submits with fresh ids (or throttling and faults), schedules receipts
 * when registered_delivery asks for them, delivers them to a receiver of
 * the submitting system_id, and generates MO traffic.
 *
 * Delays are the same for every message, so each delay has a FIFO queue
 * in due order and one timer (no timer per message). Receipts that cannot
 * be delivered yet (no receiver bound, windows full) wait in their
 * account's queue and go out when a receiver binds or has room.
 *
 * Each accepted message also gets a record (smsc_sim_msgs.c) that
 * query_sm, cancel_sm and replace_sm act on. Queued receipt events are
 * not removed on cancel or replace: when one falls due it reads its
 * record, which says whether it still applies and with what text.
 */
#include "common.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "dlr.h"
#include "text.h"
#include "log.h"
#include "smsc_sim.h"
#include "smsc_sim_msgs.h"

#define QUEUE_MAX (4u << 20)   /* items per queue before dropping */
#define DLR_MAX_ATTEMPTS 5
/* A receipt the client refused (a deliver_sm_resp with an error, such as
 * a bridge whose store of waiting receipts is full) is offered again,
 * the account's receipts paused in between, from 100 ms doubling to 5 s:
 * as a real SMSC retries for a long time, about 8 minutes here. */
#define DLR_MAX_REFUSALS 100
#define DLR_PAUSE_MIN_MS 100u
#define DLR_PAUSE_MAX_MS 5000u

/* A receipt to send (or a delayed response: see struct sim_resp). */
struct sim_dlr {
    uint64_t due_ms;
    struct sim_account *account;
    uint64_t id;
    int state;                   /* enum dlr_state */
    unsigned attempts;
    time_t submitted;
    uint8_t src_ton, src_npi, dst_ton, dst_npi;
    uint8_t tracked;             /* the message has a record (may be gone) */
    char src[SIM_ADDR_LEN];      /* of the original submit */
    char dst[SIM_ADDR_LEN];
    char text[SIM_TEXT_LEN];
};

struct sim_resp {
    uint64_t due_ms;
    struct sess *sess;           /* holds a reference */
    uint32_t command_id, seq, status;
    uint64_t id;
};

/* A growable ring of fixed-size items. */
struct sim_queue {
    unsigned char *items;
    size_t size, cap, head, count;
};

struct sim_account {
    char system_id[17];
    struct sim_client *receivers;
    struct sim_client *next_rx;   /* round-robin position */
    struct sim_queue held;        /* receipts waiting for a receiver */
    uint64_t paused_until_ms;     /* a receipt was refused: wait */
    unsigned pause_ms;            /* the last pause; 0 after a success */
    struct event *resume_ev;      /* ends the pause (made when needed) */
};

/* The last part seen of each concatenation reference: upstreams want all
 * parts of a message on one session, in order; the simulator counts
 * when a client does otherwise. */
struct sim_concat {
    const struct sim_client *client;
    uint8_t total, seq;
};

/* A final receipt event held back until a replaced
 * schedule_delivery_time: one timer each (rare, unlike the queues). */
struct sim_deferred {
    struct sim_traffic *t;
    struct event *ev;
    struct sim_dlr d;
    struct sim_deferred *prev, *next;
};

struct sim_traffic {
    struct sim *sim;
    struct sim_msgs *msgs;
    struct sim_deferred *deferred;
    struct sim_concat concat[65536];
    uint64_t next_id;
    unsigned chosen_used;   /* --ids given out so far */
    uint64_t rng;
    struct sim_account *accounts[SIM_MAX_ACCOUNTS];
    unsigned n_accounts;
    struct sim_queue final_q, interim_q, resp_q;
    struct event *final_ev, *interim_ev, *resp_ev, *mo_ev;
    double tokens;
    uint64_t tokens_at_ms;
    uint64_t mo_started_ms, mo_sent;
    unsigned mo_rr;
};

/* xorshift64*: fast, seedable, good enough for fault injection. */
static uint64_t rng_next(struct sim_traffic *t)
{
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return t->rng * 2685821657736338717ull;
}

static double rng_unit(struct sim_traffic *t)
{
    return (double)(rng_next(t) >> 11) / 9007199254740992.0;
}

/* ---- queues --------------------------------------------------------- */

static void queue_init(struct sim_queue *q, size_t size)
{
    memset(q, 0, sizeof *q);
    q->size = size;
}

static void *queue_at(struct sim_queue *q, size_t i)
{
    return q->items + ((q->head + i) % q->cap) * q->size;
}

static int queue_grow(struct sim_queue *q)
{
    size_t ncap = q->cap ? q->cap * 2 : 1024;
    unsigned char *n = malloc(ncap * q->size);
    if (!n)
        return -1;
    for (size_t i = 0; i < q->count; i++)
        memcpy(n + i * q->size, queue_at(q, i), q->size);
    free(q->items);
    q->items = n;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

static int queue_push(struct sim_queue *q, const void *item)
{
    if (q->count >= QUEUE_MAX)
        return -1;
    if (q->count == q->cap && queue_grow(q) != 0)
        return -1;
    memcpy(queue_at(q, q->count), item, q->size);
    q->count++;
    return 0;
}

static void *queue_peek(struct sim_queue *q)
{
    return q->count ? queue_at(q, 0) : NULL;
}

static void queue_pop(struct sim_queue *q, void *out)
{
    memcpy(out, queue_at(q, 0), q->size);
    q->head = (q->head + 1) % q->cap;
    q->count--;
}

static void queue_free(struct sim_queue *q)
{
    free(q->items);
    q->items = NULL;
    q->cap = q->count = 0;
}

/* Arm <ev> for the head of <q> if it was idle. */
static void queue_arm(struct event *ev, struct sim_queue *q)
{
    const uint64_t *due = queue_peek(q);
    if (!due || evtimer_pending(ev, NULL))
        return;
    uint64_t now = clock_mono_ms();
    uint64_t wait = *due > now ? *due - now : 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(ev, &tv);
}

/* ---- accounts ------------------------------------------------------- */

struct sim_account *sim_account_get(struct sim *sim, const char *system_id)
{
    struct sim_traffic *t = sim_traffic(sim);
    for (unsigned i = 0; i < t->n_accounts; i++)
        if (strcmp(t->accounts[i]->system_id, system_id) == 0)
            return t->accounts[i];
    if (t->n_accounts == SIM_MAX_ACCOUNTS)
        return NULL;
    struct sim_account *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->system_id, sizeof a->system_id, "%s", system_id);
    queue_init(&a->held, sizeof(struct sim_dlr));
    t->accounts[t->n_accounts++] = a;
    return a;
}

/* The next receiver of <a> that can take a PDU now, round-robin. */
static struct sim_client *pick_receiver(struct sim_account *a)
{
    struct sim_client *start = a->next_rx ? a->next_rx : a->receivers;
    struct sim_client *c = start;
    if (!c)
        return NULL;
    do {
        struct sim_client *next = c->rx_next ? c->rx_next : a->receivers;
        if (sess_can_send(c->sess)) {
            a->next_rx = next;
            return c;
        }
        c = next;
    } while (c != start);
    return NULL;
}

/* ---- receipts ------------------------------------------------------- */

static void format_id(uint64_t id, enum sim_id_format f, char *out, size_t cap)
{
    const struct sim_opts *o = sim_opts(sim_get());
    if ((id & SIM_ID_CHOSEN) && (id & ~SIM_ID_CHOSEN) < o->n_ids)
        snprintf(out, cap, "%s", o->ids[id & ~SIM_ID_CHOSEN]);
    else if (f == SIM_ID_DEC)
        snprintf(out, cap, "%" PRIu64, id);
    else
        snprintf(out, cap, "%" PRIx64, id);
}

static void format_date(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%02d%02d%02d%02d%02d", tm.tm_year % 100,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

static struct dlr_str dstr(const char *s)
{
    struct dlr_str v = {s, strlen(s)};
    return v;
}

static void dlr_done(struct sess *s, const struct pdu *resp, uint32_t status,
                     void *arg);

/* Whether final <state> is a failure: err:001 and network_error_code 1
 * in receipts, error_code 1 in query_sm_resp. A cancel is not one. */
static int state_failed(int state)
{
    return state != DLR_STATE_ENROUTE && state != DLR_STATE_DELIVERED &&
           state != DLR_STATE_DELETED;
}

/* Build and send the deliver_sm for <d> on <c>; 0 or -1 (not sent). */
static int send_receipt(struct sim_client *c, const struct sim_dlr *d)
{
    const struct sim_opts *o = sim_opts(c->sim);
    enum sim_id_format f = o->dlr_id_format == SIM_ID_SAME ? o->id_format
                                                           : o->dlr_id_format;
    char id[SIM_ID_LEN], sdate[64], ddate[64], text[256];
    format_id(d->id, f, id, sizeof id);
    format_date(d->submitted, sdate, sizeof sdate);
    format_date(time(NULL), ddate, sizeof ddate);
    int delivered = d->state == DLR_STATE_DELIVERED;
    int final = d->state != DLR_STATE_ENROUTE;
    struct dlr_info info = {
        .id = dstr(id), .sub = 1, .dlvrd = delivered ? 1 : 0,
        .submit_date = dstr(sdate), .done_date = dstr(ddate),
        .stat = dstr(dlr_state_to_stat(d->state)),
        .err = dstr(state_failed(d->state) ? "001" : "000"), .text = dstr(d->text),
    };
    int n = dlr_format(&info, text, sizeof text);
    if (n < 0 || n > 254)
        return -1;
    uint8_t state = (uint8_t)d->state;
    uint8_t net_err[3] = {3, 0, (uint8_t)state_failed(d->state)};

    struct pdu p;
    pdu_init(&p, PDU_DELIVER_SM, 0);
    p.source_addr_ton = d->dst_ton;     /* swapped: the handset reports */
    p.source_addr_npi = d->dst_npi;
    p.source_addr = pdu_view_str(d->dst);
    p.dest_addr_ton = d->src_ton;
    p.dest_addr_npi = d->src_npi;
    p.destination_addr = pdu_view_str(d->src);
    p.esm_class = final ? 0x04 : 0x20;
    p.short_message.ptr = (const uint8_t *)text;
    p.short_message.len = (size_t)n;
    pdu_tlv_add(&p, PDU_TLV_RECEIPTED_MESSAGE_ID, id, (uint16_t)(strlen(id) + 1));
    pdu_tlv_add(&p, PDU_TLV_MESSAGE_STATE, &state, 1);
    pdu_tlv_add(&p, PDU_TLV_NETWORK_ERROR_CODE, net_err, 3);

    struct sim_dlr *inflight = malloc(sizeof *inflight);
    if (!inflight)
        return -1;
    *inflight = *d;
    if (sess_send(c->sess, &p, dlr_done, inflight, NULL) != 0) {
        free(inflight);
        return -1;
    }
    struct sim_stats *st = sim_stats(c->sim);
    if (final)
        st->receipts_sent++;
    else
        st->receipts_intermediate++;
    return 0;
}

/* Send what <a> holds while some receiver has room. */
static void drain_held(struct sim_account *a)
{
    struct sim_dlr d;
    struct sim_client *c;
    if (a->paused_until_ms > clock_mono_ms())
        return; /* resume_ev drains it */
    while (a->held.count && (c = pick_receiver(a)) != NULL) {
        queue_pop(&a->held, &d);
        if (send_receipt(c, &d) != 0) {
            queue_push(&a->held, &d); /* cannot build it: give up later */
            break;
        }
    }
}

static void hold_receipt(struct sim_account *a, const struct sim_dlr *d)
{
    struct sim_stats *st = sim_stats(sim_get());
    if (queue_push(&a->held, d) != 0)
        st->receipts_dropped++;
    else
        st->receipts_held++;
}

static void deliver_receipt(struct sim_dlr *d)
{
    struct sim_account *a = d->account;
    if (a->held.count) {  /* keep the order: behind what already waits */
        hold_receipt(a, d);
        drain_held(a);
        return;
    }
    struct sim_client *c = pick_receiver(a);
    if (!c || send_receipt(c, d) != 0)
        hold_receipt(a, d);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct sim_account *a = arg;
    (void)fd;
    (void)what;
    a->paused_until_ms = 0;
    drain_held(a);
}

/* The client refused a receipt of <a>: hold its receipts for a while,
 * longer each time in a row. */
static void pause_account(struct sim_account *a)
{
    if (!a->resume_ev &&
        !(a->resume_ev = evtimer_new(sim_base(sim_get()), on_resume, a)))
        return; /* no timer: retry at the next chance, as before */
    a->pause_ms = a->pause_ms ? a->pause_ms * 2 : DLR_PAUSE_MIN_MS;
    if (a->pause_ms > DLR_PAUSE_MAX_MS)
        a->pause_ms = DLR_PAUSE_MAX_MS;
    a->paused_until_ms = clock_mono_ms() + a->pause_ms;
    struct timeval tv = {(time_t)(a->pause_ms / 1000),
                         (suseconds_t)(a->pause_ms % 1000) * 1000};
    evtimer_add(a->resume_ev, &tv);
}

/* A receipt's deliver_sm_resp (or its failure): retry, a few times when
 * the session failed, for minutes when the client refused it. */
static void dlr_done(struct sess *s, const struct pdu *resp, uint32_t status,
                     void *arg)
{
    struct sim_dlr *d = arg;
    struct sim_stats *st = sim_stats(sim_get());
    (void)s;
    if (status == ESME_ROK) {
        st->receipts_acked++;
        d->account->pause_ms = 0;
    } else if (resp && ++d->attempts < DLR_MAX_REFUSALS) {
        st->receipts_failed++;
        hold_receipt(d->account, d);
        if (d->account->paused_until_ms <= clock_mono_ms())
            pause_account(d->account);
    } else if (!resp && ++d->attempts < DLR_MAX_ATTEMPTS) {
        st->receipts_failed++;
        hold_receipt(d->account, d);
    } else {
        st->receipts_dropped++;
    }
    free(d);
}

static void receipt_due(struct sim_traffic *t, struct sim_dlr *d);

static void on_dlr_queue(struct sim_traffic *t, struct sim_queue *q,
                         struct event *ev)
{
    uint64_t now = clock_mono_ms();
    struct sim_dlr d;
    const uint64_t *due;
    while ((due = queue_peek(q)) && *due <= now) {
        queue_pop(q, &d);
        receipt_due(t, &d);
    }
    queue_arm(ev, q);
}

static void on_final_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sim_traffic *t = arg;
    (void)fd;
    (void)what;
    on_dlr_queue(t, &t->final_q, t->final_ev);
}

static void on_interim_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sim_traffic *t = arg;
    (void)fd;
    (void)what;
    on_dlr_queue(t, &t->interim_q, t->interim_ev);
}

/* The final state for the next receipt, from --dlr-mix. */
static int pick_state(struct sim_traffic *t)
{
    const struct sim_opts *o = sim_opts(t->sim);
    unsigned r = (unsigned)(rng_next(t) % o->mix_total);
    for (int i = 0; i < o->n_mix; i++) {
        if (r < o->mix[i].weight)
            return o->mix[i].state;
        r -= o->mix[i].weight;
    }
    return DLR_STATE_DELIVERED;
}

/* Whether registered_delivery <rd> asks for a final receipt in <state>
 * (SMPP 3.4 §5.2.17: 1 any outcome, 2 failure only; 5.0 adds 3 success
 * only). */
static int receipt_wanted(uint8_t rd, int state)
{
    switch (rd & 0x03) {
    case 1: return 1;
    case 2: return state != DLR_STATE_DELIVERED;
    case 3: return state == DLR_STATE_DELIVERED;
    default: return 0;
    }
}

static void copy_addr(char *dst, struct pdu_view v)
{
    size_t n = v.len < SIM_ADDR_LEN - 1 ? v.len : SIM_ADDR_LEN - 1;
    if (n)
        memcpy(dst, v.ptr, n);
    dst[n] = 0;
}

/* First characters of short message <sm> for the receipt's text: field
 * (printable ASCII only: the text may be UCS-2 or binary; a UDH, when
 * <esm_class> says there is one, is skipped). */
static void copy_text_view(char *dst, struct pdu_view sm, uint8_t esm_class,
                           uint8_t data_coding)
{
    size_t skip = (esm_class & 0x40) && sm.len ? (size_t)sm.ptr[0] + 1 : 0;
    size_t n = 0;
    for (size_t i = skip; i < sm.len && n < SIM_TEXT_LEN - 1; i++)
        if (data_coding != 8 && sm.ptr[i] >= 0x20 && sm.ptr[i] < 0x7F)
            dst[n++] = (char)sm.ptr[i];
    dst[n] = 0;
}

/* The message text of <p>: short_message, or message_payload when the
 * short_message is empty. */
static struct pdu_view message_text(const struct pdu *p)
{
    struct pdu_view sm = p->short_message;
    const struct pdu_tlv *payload = pdu_tlv_find(p, PDU_TLV_MESSAGE_PAYLOAD);
    if (sm.len == 0 && payload) {
        sm.ptr = payload->val;
        sm.len = payload->len;
    }
    return sm;
}

static void copy_text(char *dst, const struct pdu *p)
{
    copy_text_view(dst, message_text(p), p->esm_class, p->data_coding);
}

/* ---- message records ------------------------------------------------ */

/* A record for the message <id> a submit was accepted as, to <dest> (the
 * first destination of a submit_multi); NULL when not remembered. */
static struct sim_msg *track_message(struct sim_traffic *t, struct sim_client *c,
                                     const struct pdu *p, uint64_t id,
                                     uint8_t dton, uint8_t dnpi,
                                     struct pdu_view dest)
{
    struct sim_msg *m = sim_msgs_add(t->msgs, id, clock_mono_ms());
    if (!m)
        return NULL;
    m->multi = p->command_id == PDU_SUBMIT_MULTI;
    m->account = c->account;
    m->registered_delivery = p->registered_delivery;
    m->esm_class = p->esm_class;
    m->data_coding = p->data_coding;
    m->src_ton = p->source_addr_ton;
    m->src_npi = p->source_addr_npi;
    m->dst_ton = dton;
    m->dst_npi = dnpi;
    m->submitted = time(NULL);
    copy_addr(m->src, p->source_addr);
    copy_addr(m->dst, dest);
    copy_text(m->text, p);
    return m;
}

static void on_deferred_timer(evutil_socket_t fd, short what, void *arg);

/* Hold final receipt event <d> of <m> until the replaced schedule time
 * (plus the usual receipt delay); 0, or -1 when it cannot be held. */
static int defer_receipt(struct sim_traffic *t, const struct sim_msg *m,
                         const struct sim_dlr *d)
{
    struct sim_deferred *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    h->ev = evtimer_new(sim_base(t->sim), on_deferred_timer, h);
    if (!h->ev) {
        free(h);
        return -1;
    }
    h->t = t;
    h->d = *d;
    time_t wait = m->deliver_after - time(NULL);
    uint64_t ms = (uint64_t)(wait > 0 ? wait : 0) * 1000u +
                  sim_opts(t->sim)->dlr_delay_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(h->ev, &tv);
    h->next = t->deferred;
    if (t->deferred)
        t->deferred->prev = h;
    t->deferred = h;
    return 0;
}

static void deferred_free(struct sim_traffic *t, struct sim_deferred *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        t->deferred = h->next;
    if (h->next)
        h->next->prev = h->prev;
    event_free(h->ev);
    free(h);
}

static void on_deferred_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sim_deferred *h = arg;
    struct sim_traffic *t = h->t;
    struct sim_dlr d = h->d;
    (void)fd;
    (void)what;
    deferred_free(t, h);
    receipt_due(t, &d);
}

/* A final receipt event of tracked message <m> falls due: settle the
 * record and send the receipt if the (possibly replaced) registered
 * delivery asks for it, with the (possibly replaced) text. */
static void final_due(struct sim_traffic *t, struct sim_msg *m,
                      struct sim_dlr *d)
{
    time_t now = time(NULL);
    if (m->deliver_after > now && defer_receipt(t, m, d) == 0)
        return;
    m->pending--;
    if (m->expires_at && now >= m->expires_at)
        d->state = DLR_STATE_EXPIRED;
    if (d->state != DLR_STATE_DELIVERED)
        m->outcome = d->state;  /* one failed destination fails the message */
    if (m->pending == 0)
        sim_msgs_set_final(t->msgs, m, m->outcome, now, clock_mono_ms());
    if (!receipt_wanted(m->registered_delivery, d->state))
        return;
    memcpy(d->text, m->text, sizeof d->text);
    deliver_receipt(d);
}

/* A queued receipt event falls due. Events of tracked messages apply
 * only while their record is pending: a cancelled (or cancelled and
 * since forgotten) message sends nothing more. */
static void receipt_due(struct sim_traffic *t, struct sim_dlr *d)
{
    if (!d->tracked) {
        deliver_receipt(d);
        return;
    }
    struct sim_msg *m = sim_msgs_find(t->msgs, d->id, clock_mono_ms());
    if (!m || m->state != DLR_STATE_ENROUTE)
        return;
    if (d->state != DLR_STATE_ENROUTE) {
        final_due(t, m, d);
        return;
    }
    memcpy(d->text, m->text, sizeof d->text);
    deliver_receipt(d);
}

/* Schedule the receipt events of a submit to <dest>. A tracked message
 * (<m> not NULL) always gets its final event, which settles the record
 * even when no receipt is wanted; an untracked one only when it is. */
static void schedule_receipts(struct sim_traffic *t, struct sim_client *c,
                              const struct pdu *p, struct sim_msg *m,
                              uint64_t id, uint8_t dton, uint8_t dnpi,
                              struct pdu_view dest)
{
    const struct sim_opts *o = sim_opts(t->sim);
    struct sim_dlr d;
    memset(&d, 0, sizeof d);
    d.account = c->account;
    d.id = id;
    d.tracked = m != NULL;
    d.submitted = time(NULL);
    d.src_ton = p->source_addr_ton;
    d.src_npi = p->source_addr_npi;
    d.dst_ton = dton;
    d.dst_npi = dnpi;
    copy_addr(d.src, p->source_addr);
    copy_addr(d.dst, dest);
    copy_text(d.text, p);
    uint64_t base = clock_mono_ms() + o->resp_delay_ms;
    if (o->intermediate && (p->registered_delivery & 0x10)) {
        d.state = DLR_STATE_ENROUTE;
        d.due_ms = base + o->dlr_delay_ms / 2;
        queue_push(&t->interim_q, &d);
        queue_arm(t->interim_ev, &t->interim_q);
    }
    d.state = pick_state(t);
    if (!m && !receipt_wanted(p->registered_delivery, d.state))
        return;
    d.due_ms = base + o->dlr_delay_ms;
    if (queue_push(&t->final_q, &d) != 0) {
        sim_stats(t->sim)->receipts_dropped++;
        if (m && m->pending == 0)  /* nothing will settle it: settle now */
            sim_msgs_set_final(t->msgs, m, d.state, time(NULL), clock_mono_ms());
        return;
    }
    if (m)
        m->pending++;
    queue_arm(t->final_ev, &t->final_q);
}

/* ---- submits -------------------------------------------------------- */

/* Throttle: a token bucket of --throttle-tps tokens per second, at most
 * one second's worth saved up. */
static int throttled(struct sim_traffic *t)
{
    unsigned tps = sim_opts(t->sim)->throttle_tps;
    if (!tps)
        return 0;
    uint64_t now = clock_mono_ms();
    t->tokens += (double)(now - t->tokens_at_ms) * tps / 1000.0;
    t->tokens_at_ms = now;
    if (t->tokens > tps)
        t->tokens = tps;
    if (t->tokens < 1.0)
        return 1;
    t->tokens -= 1.0;
    return 0;
}

static void send_resp_now(struct sess *s, uint32_t cmd, uint32_t seq,
                          uint32_t status, uint64_t id)
{
    char idtxt[SIM_ID_LEN];
    struct pdu r;
    pdu_init(&r, pdu_resp_id(cmd), seq);
    if (status == ESME_ROK) {
        format_id(id, sim_opts(sim_get())->id_format, idtxt, sizeof idtxt);
        r.message_id = pdu_view_str(idtxt);
    }
    sess_reply(s, cmd, seq, status, &r);
}

static void respond(struct sim_traffic *t, struct sim_client *c,
                    const struct pdu *p, uint32_t status, uint64_t id)
{
    struct sim_stats *st = sim_stats(t->sim);
    unsigned delay = sim_opts(t->sim)->resp_delay_ms;
    if (status == ESME_ROK)
        st->resp_ok++;
    else if (status == ESME_RTHROTTLED)
        st->resp_throttled++;
    else
        st->resp_error++;
    if (!delay) {
        send_resp_now(c->sess, p->command_id, p->sequence_number, status, id);
        return;
    }
    struct sim_resp r = {clock_mono_ms() + delay, c->sess, p->command_id,
                         p->sequence_number, status, id};
    sess_ref(c->sess);
    if (queue_push(&t->resp_q, &r) != 0) {
        sess_unref(c->sess);
        send_resp_now(c->sess, p->command_id, p->sequence_number, status, id);
        return;
    }
    queue_arm(t->resp_ev, &t->resp_q);
}

static void on_resp_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sim_traffic *t = arg;
    uint64_t now = clock_mono_ms();
    struct sim_resp r;
    const uint64_t *due;
    (void)fd;
    (void)what;
    while ((due = queue_peek(&t->resp_q)) && *due <= now) {
        queue_pop(&t->resp_q, &r);
        send_resp_now(r.sess, r.command_id, r.seq, r.status, r.id);
        sess_unref(r.sess);
    }
    queue_arm(t->resp_ev, &t->resp_q);
}

/* Status for the next submit: throttle first, then random faults. */
static uint32_t submit_status(struct sim_traffic *t)
{
    const struct sim_opts *o = sim_opts(t->sim);
    if (throttled(t))
        return ESME_RTHROTTLED;
    if (o->error_rate > 0 && rng_unit(t) < o->error_rate)
        return (rng_next(t) & 1) ? ESME_RSYSERR : ESME_RMSGQFUL;
    if (o->reject_rate > 0 && rng_unit(t) < o->reject_rate)
        return ESME_RINVDSTADR;
    return ESME_ROK;
}

static void track_concat(struct sim_traffic *t, struct sim_client *c,
                         const struct pdu *p)
{
    struct text_udh udh;
    if (!(p->esm_class & 0x40) || p->short_message.len == 0 ||
        text_udh_parse(p->short_message.ptr, p->short_message.len, &udh) != 0 ||
        !udh.concat.present)
        return;
    struct sim_stats *st = sim_stats(t->sim);
    struct sim_concat *e = &t->concat[udh.concat.ref];
    st->concat_parts++;
    if (udh.concat.seq > 1 && e->total == udh.concat.total) {
        if (e->client != c)
            st->concat_split++;
        if (udh.concat.seq != e->seq + 1)
            st->concat_disorder++;
    }
    e->client = c;
    e->total = udh.concat.total;
    e->seq = udh.concat.seq;
}

/* The id of the next accepted message: from --ids while any is left. */
static uint64_t next_msg_id(struct sim_traffic *t)
{
    if (t->chosen_used < sim_opts(t->sim)->n_ids)
        return SIM_ID_CHOSEN | t->chosen_used++;
    return t->next_id++;
}

static void handle_submit(struct sim_traffic *t, struct sim_client *c,
                          const struct pdu *p)
{
    track_concat(t, c, p);
    uint32_t status = pdu_validate(p);
    if (status == ESME_ROK)
        status = submit_status(t);
    uint64_t id = status == ESME_ROK ? next_msg_id(t) : 0;
    respond(t, c, p, status, id);
    if (status != ESME_ROK)
        return;
    if (p->command_id != PDU_SUBMIT_MULTI) {
        struct sim_msg *m = track_message(t, c, p, id, p->dest_addr_ton,
                                          p->dest_addr_npi, p->destination_addr);
        schedule_receipts(t, c, p, m, id, p->dest_addr_ton, p->dest_addr_npi,
                          p->destination_addr);
        return;
    }
    struct pdu_view cur = p->dest_list;
    struct pdu_dest d;
    struct sim_msg *m = NULL;
    int first = 1;
    while (pdu_dest_next(&cur, &d)) {
        if (d.dest_flag != 1)
            continue;
        if (first)
            m = track_message(t, c, p, id, d.ton, d.npi, d.addr);
        first = 0;
        schedule_receipts(t, c, p, m, id, d.ton, d.npi, d.addr);
    }
}

/* ---- query_sm, cancel_sm, replace_sm -------------------------------- */

/* <v> as an id this simulator issues (--id-format radix); 0 or -1. */
static int parse_id(struct pdu_view v, uint64_t *out)
{
    int hex = sim_opts(sim_get())->id_format != SIM_ID_DEC;
    uint64_t id = 0;
    if (v.len == 0 || v.len > (hex ? 16u : 19u))
        return -1;
    for (size_t i = 0; i < v.len; i++) {
        int ch = v.ptr[i], digit;
        if (ch >= '0' && ch <= '9')
            digit = ch - '0';
        else if (hex && ch >= 'a' && ch <= 'f')
            digit = ch - 'a' + 10;
        else if (hex && ch >= 'A' && ch <= 'F')
            digit = ch - 'A' + 10;
        else
            return -1;
        id = id * (hex ? 16u : 10u) + (uint64_t)digit;
    }
    *out = id;
    return 0;
}

/* The record of the message <req> names, or NULL. */
static struct sim_msg *requested_msg(struct sim_traffic *t, const struct pdu *req)
{
    uint64_t id;
    if (parse_id(req->message_id, &id) != 0)
        return NULL;
    return sim_msgs_find(t->msgs, id, clock_mono_ms());
}

static int same_addr(const char *recorded, struct pdu_view v)
{
    return strlen(recorded) == v.len && memcmp(recorded, v.ptr, v.len) == 0;
}

/* <t> as an SMPP absolute time in UTC, "YYMMDDhhmmss000+" (SMPP 3.4
 * §7.1: tenths 0, offset 00 quarter hours). */
static void format_smpp_time(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%02d%02d%02d%02d%02d%02d000+", tm.tm_year % 100,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * query_sm (3.4 §4.8): the message's state, and once final its
 * final_date and error_code (1 for a failed delivery, as in receipts).
 * ESME_RINVMSGID for an id never issued or forgotten, ESME_RQUERYFAIL
 * when source_addr is not the message's.
 */
static void handle_query(struct sim_traffic *t, struct sim_client *c,
                         const struct pdu *req)
{
    struct sim_msg *m = requested_msg(t, req);
    uint32_t status = !m ? ESME_RINVMSGID
                    : !same_addr(m->src, req->source_addr) ? ESME_RQUERYFAIL
                    : ESME_ROK;
    if (status != ESME_ROK) {
        sess_reply(c->sess, req->command_id, req->sequence_number, status, NULL);
        return;
    }
    char date[32];
    struct pdu r;
    pdu_init(&r, PDU_QUERY_SM_RESP, req->sequence_number);
    r.message_id = req->message_id;
    if (m->state != DLR_STATE_ENROUTE) {
        format_smpp_time(m->final_at, date, sizeof date);
        r.final_date = pdu_view_str(date);
    }
    r.message_state = (uint8_t)m->state;
    r.error_code = (uint8_t)state_failed(m->state);
    sess_reply(c->sess, req->command_id, req->sequence_number, ESME_ROK, &r);
}

/*
 * Whether cancel_sm <req> may cancel; ESME_ROK with the record in <out>.
 * An id this SMSC never issued (or has forgotten) gets ESME_RINVMSGID,
 * not ESME_RCANCELFAIL: the 3.4 status table defines 0x0C as "invalid
 * message_id", which such an id is, and query_sm and
 * replace_sm answer it the same way, so a client sees one status for "no
 * such message". ESME_RCANCELFAIL is for a message that exists but
 * cannot be cancelled: already final, or named with another source (or,
 * when given, destination) address. An empty message_id asks to cancel
 * every pending message from source_addr to destination_addr; that is
 * not simulated and fails.
 */
static uint32_t cancel_status(struct sim_traffic *t, const struct pdu *req,
                              struct sim_msg **out)
{
    if (req->message_id.len == 0)
        return ESME_RCANCELFAIL;
    struct sim_msg *m = requested_msg(t, req);
    if (!m)
        return ESME_RINVMSGID;
    if (!same_addr(m->src, req->source_addr) ||
        (req->destination_addr.len && !m->multi &&
         !same_addr(m->dst, req->destination_addr)) ||
        m->state != DLR_STATE_ENROUTE)
        return ESME_RCANCELFAIL;
    *out = m;
    return ESME_ROK;
}

/* The DELETED receipt of cancelled message <m>, sent at once (to the
 * first destination of a submit_multi). */
static void send_deleted_receipt(const struct sim_msg *m)
{
    struct sim_dlr d;
    memset(&d, 0, sizeof d);
    d.account = m->account;
    d.id = m->id;
    d.state = DLR_STATE_DELETED;
    d.tracked = 1;
    d.submitted = m->submitted;
    d.src_ton = m->src_ton;
    d.src_npi = m->src_npi;
    d.dst_ton = m->dst_ton;
    d.dst_npi = m->dst_npi;
    memcpy(d.src, m->src, sizeof d.src);
    memcpy(d.dst, m->dst, sizeof d.dst);
    memcpy(d.text, m->text, sizeof d.text);
    deliver_receipt(&d);
}

/* cancel_sm (3.4 §4.9): a pending message becomes DELETED; its queued
 * receipt events find it final and send nothing. */
static void handle_cancel(struct sim_traffic *t, struct sim_client *c,
                          const struct pdu *req)
{
    struct sim_msg *m = NULL;
    uint32_t status = cancel_status(t, req, &m);
    sess_reply(c->sess, req->command_id, req->sequence_number, status, NULL);
    if (status != ESME_ROK)
        return;
    sim_stats(t->sim)->cancel_ok++;
    sim_msgs_set_final(t->msgs, m, DLR_STATE_DELETED, time(NULL), clock_mono_ms());
    if (sim_opts(t->sim)->cancel_receipt &&
        receipt_wanted(m->registered_delivery, DLR_STATE_DELETED))
        send_deleted_receipt(m);
}

/* Whether replace_sm <req> may replace; ESME_ROK with the record in
 * <out>. Unknown ids as for cancel_sm; ESME_RREPLACEFAIL for a final
 * message or another source address. */
static uint32_t replace_status(struct sim_traffic *t, const struct pdu *req,
                               struct sim_msg **out)
{
    uint32_t st = pdu_validate(req);
    if (st != ESME_ROK)
        return st;
    struct sim_msg *m = requested_msg(t, req);
    if (!m)
        return ESME_RINVMSGID;
    if (!same_addr(m->src, req->source_addr) || m->state != DLR_STATE_ENROUTE)
        return ESME_RREPLACEFAIL;
    *out = m;
    return ESME_ROK;
}

/*
 * replace_sm (3.4 §4.10): the new text (what receipts quote, read with
 * the original esm_class and data_coding), registered_delivery,
 * schedule_delivery_time (a later one holds the final receipt until then
 * plus --dlr-delay-ms) and validity_period (a receipt falling due after
 * it reports EXPIRED) replace the record's; empty times clear them.
 */
static void handle_replace(struct sim_traffic *t, struct sim_client *c,
                           const struct pdu *req)
{
    struct sim_msg *m = NULL;
    uint32_t status = replace_status(t, req, &m);
    sess_reply(c->sess, req->command_id, req->sequence_number, status, NULL);
    if (status != ESME_ROK)
        return;
    sim_stats(t->sim)->replace_ok++;
    time_t now = time(NULL), when;
    copy_text_view(m->text, message_text(req), m->esm_class, m->data_coding);
    m->registered_delivery = req->registered_delivery;
    m->deliver_after = pdu_time_to_unix(req->schedule_delivery_time, now, &when) == 0
                           ? when : 0;
    m->expires_at = pdu_time_to_unix(req->validity_period, now, &when) == 0
                        ? when : 0;
}

void sim_on_request(struct sim_client *c, const struct pdu *req)
{
    struct sim_traffic *t = sim_traffic(c->sim);
    struct sim_stats *st = sim_stats(c->sim);
    switch (req->command_id) {
    case PDU_SUBMIT_SM: st->submit_sm++; break;
    case PDU_DATA_SM: st->data_sm++; break;
    case PDU_SUBMIT_MULTI: st->submit_multi++; break;
    case PDU_QUERY_SM:
        st->query_sm++;
        handle_query(t, c, req);
        return;
    case PDU_CANCEL_SM:
        st->cancel_sm++;
        handle_cancel(t, c, req);
        return;
    case PDU_REPLACE_SM:
        st->replace_sm++;
        handle_replace(t, c, req);
        return;
    default:
        /* broadcasts, data_sm from a receiver...: not simulated,
         * answered as such. */
        st->other_requests++;
        if (!(pdu_command_flags(req->command_id) & PDUF_NORESP))
            sess_reply(c->sess, req->command_id, req->sequence_number,
                       ESME_RINVCMDID, NULL);
        return;
    }
    handle_submit(t, c, req);
    c->submits++;
    unsigned every = sim_opts(c->sim)->drop_every;
    if (every && c->submits % every == 0)
        sim_drop_client(c);
}

/* ---- receivers ------------------------------------------------------ */

void sim_on_receiver_bound(struct sim_client *c)
{
    struct sim_account *a = c->account;
    c->rx_prev = NULL;
    c->rx_next = a->receivers;
    if (a->receivers)
        a->receivers->rx_prev = c;
    a->receivers = c;
    drain_held(a);
}

void sim_on_receiver_gone(struct sim_client *c)
{
    struct sim_account *a = c->account;
    if (a->next_rx == c)
        a->next_rx = c->rx_next;
    if (c->rx_prev)
        c->rx_prev->rx_next = c->rx_next;
    else
        a->receivers = c->rx_next;
    if (c->rx_next)
        c->rx_next->rx_prev = c->rx_prev;
    c->receiver = 0;
}

void sim_on_writable(struct sim_client *c)
{
    if (c->receiver && c->account)
        drain_held(c->account);
}

/* ---- MO ------------------------------------------------------------- */

static void mo_done(struct sess *s, const struct pdu *resp, uint32_t status,
                    void *arg)
{
    (void)s;
    (void)resp;
    (void)arg;
    if (status == ESME_ROK)
        sim_stats(sim_get())->mo_acked++;
}

/* One MO message to the next account with a receiver that has room. */
static int send_mo(struct sim_traffic *t)
{
    const struct sim_opts *o = sim_opts(t->sim);
    for (unsigned i = 0; i < t->n_accounts; i++) {
        struct sim_account *a = t->accounts[(t->mo_rr + i) % t->n_accounts];
        struct sim_client *c = pick_receiver(a);
        if (!c)
            continue;
        char text[64];
        int n = snprintf(text, sizeof text, "MO message %" PRIu64, t->mo_sent + 1);
        struct pdu p;
        pdu_init(&p, PDU_DELIVER_SM, 0);
        p.source_addr_ton = 1;
        p.source_addr_npi = 1;
        p.source_addr = pdu_view_str(o->mo_from);
        p.dest_addr_ton = 1;
        p.dest_addr_npi = 1;
        p.destination_addr = pdu_view_str(o->mo_to);
        p.short_message.ptr = (const uint8_t *)text;
        p.short_message.len = (size_t)n;
        if (sess_send(c->sess, &p, mo_done, NULL, NULL) != 0)
            continue;
        t->mo_rr = (t->mo_rr + i + 1) % t->n_accounts;
        t->mo_sent++;
        sim_stats(t->sim)->mo_sent++;
        return 0;
    }
    return -1;
}

static void on_mo_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sim_traffic *t = arg;
    (void)fd;
    (void)what;
    uint64_t elapsed = clock_mono_ms() - t->mo_started_ms;
    uint64_t due = elapsed * sim_opts(t->sim)->mo_rate / 1000;
    /* Nobody to send to: the schedule waits rather than bursting later. */
    while (t->mo_sent < due && send_mo(t) == 0)
        ;
    if (t->mo_sent < due)
        t->mo_started_ms = clock_mono_ms() - t->mo_sent * 1000 / sim_opts(t->sim)->mo_rate;
}

/* ---- set-up --------------------------------------------------------- */

int sim_parse_mix(const char *spec, struct sim_opts *o, char *err, size_t cap)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec);
    o->n_mix = 0;
    o->mix_total = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        char *end;
        unsigned long w = colon ? strtoul(colon + 1, &end, 10) : 0;
        int state = colon ? dlr_stat_to_state(tok, (size_t)(colon - tok)) : -1;
        if (!colon || *end || state < 0 || state == DLR_STATE_ENROUTE ||
            w == 0 || w > 1000000 || o->n_mix == SIM_MAX_MIX) {
            snprintf(err, cap, "bad --dlr-mix entry '%s' (want STAT:WEIGHT)", tok);
            return -1;
        }
        o->mix[o->n_mix].state = state;
        o->mix[o->n_mix].weight = (unsigned)w;
        o->mix_total += (unsigned)w;
        o->n_mix++;
    }
    if (o->n_mix == 0) {
        snprintf(err, cap, "empty --dlr-mix");
        return -1;
    }
    return 0;
}

int sim_traffic_init(struct sim *sim, char *err, size_t errlen)
{
    struct sim_traffic *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const struct sim_opts *o = sim_opts(sim);
    struct event_base *base = sim_base(sim);
    t->sim = sim;
    t->rng = o->seed ? o->seed : 0x9E3779B97F4A7C15ull;
    /* ids start somewhere random so that restarts do not repeat them */
    t->next_id = 0x10000000ull + (rng_next(t) & 0x0FFFFFFFull);
    t->msgs = sim_msgs_new(o->msg_track, o->msg_keep_s);
    if (!t->msgs) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    queue_init(&t->final_q, sizeof(struct sim_dlr));
    queue_init(&t->interim_q, sizeof(struct sim_dlr));
    queue_init(&t->resp_q, sizeof(struct sim_resp));
    t->final_ev = evtimer_new(base, on_final_timer, t);
    t->interim_ev = evtimer_new(base, on_interim_timer, t);
    t->resp_ev = evtimer_new(base, on_resp_timer, t);
    t->tokens = o->throttle_tps;
    t->tokens_at_ms = clock_mono_ms();
    if (o->mo_rate) {
        struct timeval tv = {0, 10000};
        t->mo_ev = event_new(base, -1, EV_PERSIST, on_mo_timer, t);
        t->mo_started_ms = clock_mono_ms();
        evtimer_add(t->mo_ev, &tv);
    }
    sim_set_traffic(sim, t);
    return 0;
}

void sim_traffic_free(struct sim *sim)
{
    struct sim_traffic *t = sim_traffic(sim);
    if (!t)
        return;
    for (unsigned i = 0; i < t->n_accounts; i++) {
        queue_free(&t->accounts[i]->held);
        if (t->accounts[i]->resume_ev)
            event_free(t->accounts[i]->resume_ev);
        free(t->accounts[i]);
    }
    struct sim_resp r;
    while (t->resp_q.count) {
        queue_pop(&t->resp_q, &r);
        sess_unref(r.sess);
    }
    while (t->deferred)
        deferred_free(t, t->deferred);
    sim_msgs_free(t->msgs);
    queue_free(&t->final_q);
    queue_free(&t->interim_q);
    queue_free(&t->resp_q);
    event_free(t->final_ev);
    event_free(t->interim_ev);
    event_free(t->resp_ev);
    if (t->mo_ev)
        event_free(t->mo_ev);
    free(t);
    sim_set_traffic(sim, NULL);
}
