/*
 * upstream.c - connectors, their sessions, and the queue consumer.
 *
 * A message read from the queue becomes a struct up_msg that lives in
 * exactly one place at a time: the ready list, a session's transaction
 * (sent), the retry list (waiting for its backoff), or the record list
 * (answered, the Redis write of its id map not yet confirmed). Every
 * entry id held in memory is also in a set, so that a claim (XAUTOCLAIM)
 * returning our own pending entries does not duplicate them.
 *
 * An unknown outcome is not a failure. A submit_sm that timed out, or
 * whose session was lost after it was written, may have been accepted:
 * such a message is sent again at most once ([queue] resend_unknown),
 * then waits (the waiting list) for a late answer until the connector's
 * late_resp_grace runs out, and then ends UNKNOWN - never REJECTED. Each
 * session remembers its timed-out sequence numbers (at most late_resp_max,
 * for late_resp_grace) so that a late submit_sm_resp is still matched: it
 * maps the upstream id, so the real receipt reaches the customer, and it
 * is not a glitch. The bound holds across runs: each copy whose outcome
 * became unknown, and the resend, are noted in the message's record
 * (store_msg_note_unknown), and an entry taken back after a restart or
 * claimed from a dead instance goes on from that count; a bridge that
 * stops ends UNKNOWN, rather than leaving for the next run, every message
 * a copy of which may have been accepted.
 */
#include "common.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "dlr.h"
#include "evprio.h"
#include "lateq.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "pdu.h"
#include "session.h"
#include "store.h"
#include "text.h"
#include "throttle.h"
#include "upstream.h"

#define TAG "up"
#define HELD_BUCKETS 4096
#define PUMP_SCAN_MAX 64        /* ready messages looked at per pump */
#define READ_BLOCK_MS 1000
#define RECORD_RETRY_MS 1000
/* Connector slots: twice the configurable number, so that connectors
 * removed by a reload can finish closing while new ones start. */
#define UP_SLOTS (2 * CONF_MAX_UPSTREAMS)
#define RETIRE_TICK_MS 100
#define RETIRE_WAIT_MAX_MS 10000 /* in-flight window left to empty */
/* Then the sessions stay bound this long for the receipts of what was
 * just sent: the SMSC has them on its way, and an id map is found only
 * under the connector the message went out on. */
#define RETIRE_LINGER_MS 2000

struct up_conn;

/* A connector slot: FREE, ACTIVE (sending), or RETIRING (a reload removed
 * or changed it: nothing new is sent, its window empties, its sessions
 * unbind, then it is released and, when changed, opened again). */
enum up_conn_state {
    UP_CONN_FREE = 0,
    UP_CONN_ACTIVE,
    UP_CONN_RETIRING,
};

/* What a connector needs before it can open: its settings, the address
 * resolved and the TLS context built. Prepared before anything changes,
 * so that a reload that cannot open a connector changes nothing. */
struct up_conn_plan {
    struct conf_upstream cfg;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    SSL_CTX *tls;
};

struct up_session {
    struct up_conn *conn;
    struct sess *sess;
    int index;
    int transmitter;         /* may submit (TX or TRX) */
    enum sess_bind_type type;
    int bound;
    unsigned backoff_ms;
    struct event *reconnect_ev;
    /* timed-out submits of the current connection, for late answers */
    struct lateq late;
};

struct up_conn {
    struct up *up;
    const struct conf_upstream *cfg;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    SSL_CTX *tls;
    struct up_session *sessions;
    unsigned n_sessions;
    unsigned rr;
    char throttle_key[80];   /* "up:NAME": the rate is held cluster-wide */
    int throttled;           /* the last take found no token */
    /* cfg points here: a reload replaces the bridge's conf, not this */
    struct conf_upstream own;
    enum up_conn_state state;
    struct up_conn_plan *next;  /* RETIRING: opened with this once closed */
    uint64_t retire_deadline_ms;
    uint64_t empty_since_ms;    /* RETIRING: window empty since (0: not) */
    int unbinding;              /* RETIRING: unbind sent to its sessions */
    /* Its children of the per-message metrics (answers ESME_ROK, round
     * trips), resolved on first use: no hashing of labels per message. */
    struct metrics_child *m_ok, *m_rtt;
};

/* Where a message is (one place at a time). */
enum up_msg_place {
    UP_MSG_READY = 0,  /* ready list */
    UP_MSG_RETRY,      /* retry list, waiting for its backoff */
    UP_MSG_SENT,       /* a session's transaction */
    UP_MSG_WAITING,    /* outcome unknown, no resend left: waiting list */
    UP_MSG_FINISHING,  /* its outcome is being written to Redis */
    UP_MSG_LOADING,    /* taken back or claimed: its unknown copies are
                        * being read from its record (on no list) */
};

/* A PDU up to this size is kept inside its message (most submit_sm are
 * well below it): one allocation less per message. */
#define UP_MSG_PDU_INLINE 256u
/* Messages kept for reuse once finished, at most: malloc and free of
 * each one showed in the profile of a saturated bridge. */
#define UP_MSG_SPARE_MAX 1024u

struct up_msg {
    char entry_id[32];
    char account[16];
    char msg_id[32];
    uint64_t ts_ms;
    uint8_t *pdu;                       /* pdu_inline or its own */
    size_t len;
    unsigned attempts;
    uint64_t due_ms;
    int has_concat;
    uint32_t concat_key;
    uint8_t registered_delivery;
    int body_lost;                      /* store_entry.body_lost: never sent */
    size_t entry_cost;                  /* store_entry.cost and .shared: */
    int entry_shared;                   /* given back when it is finished */
    int record_retry;                   /* recording it failed once: its
                                           first try may have been applied */
    char upstream_id[DLR_ID_MAX + 1];   /* once answered: dlr_id_key() */
    char upstream_raw[DLR_ID_MAX + 1];  /* and as upstream wrote it */
    int done_only;                      /* failed for good: only XACK/XDEL left */
    uint32_t fail_status;               /* why, then */
    uint64_t sent_us;                   /* submit_sm written (metrics) */
    struct up_conn *sent_on;
    struct up_session *sent_session;    /* and its session and sequence */
    uint32_t sent_seq;
    enum up_msg_place place;
    /* Unknown outcomes: copies that timed out and may still be answered
     * late, copies lost with their session; while either is not 0 a copy
     * may have been accepted. <resent>: a copy went out after that. */
    unsigned late_pending, lost_copies;
    int resent;
    /* a late ESME_ROK for an earlier copy while another copy was out */
    int late_ok;
    char late_id[DLR_ID_MAX + 1], late_raw[DLR_ID_MAX + 1];
    char late_conn[64];
    char map_conn[64];                  /* the id map goes under this one */
    struct up_msg *next;                /* in the list it is on */
    struct up_msg *hnext;               /* in the held set */
    struct up *up_owner;                /* LOADING: before sent_on is set */
    uint8_t pdu_inline[UP_MSG_PDU_INLINE];
};

struct up {
    struct event_base *base;
    const struct conf *cfg;
    struct store *st;
    struct throttle *thr;
    struct up_hooks hooks;
    void *hooks_ctx;
    struct up_conn conns[UP_SLOTS];
    int n_conns;                        /* slots used so far (some FREE) */
    struct up_msg *ready, *ready_tail;
    struct up_msg *retry;               /* sorted by due_ms */
    struct up_msg *record;              /* Redis write to redo */
    struct up_msg *waiting;             /* outcome unknown; by due_ms */
    unsigned n_waiting;
    struct up_msg *held[HELD_BUCKETS];
    unsigned n_held, n_inflight;
    struct up_msg *spare;               /* finished, kept for reuse */
    unsigned n_spare;
    int reading, stopping;
    int history_done;                   /* own pending entries re-read */
    char history_after[32];
    struct event *pump_ev, *retry_ev, *claim_ev, *record_ev, *tps_ev;
    struct event *tick_ev;  /* a pump now and then: nothing waits for ever */
    struct event *retire_ev;            /* while a connector is retiring */
    struct event *waiting_ev;           /* the first waiting one is due */
    struct up_stats stats;
    struct metrics_family *m_submits, *m_rtt;
    struct metrics_family *m_late, *m_unknown, *m_late_forgotten,
        *m_unsendable;
};

static void up_pump(struct up *u);
static void session_connect(struct up_session *us);

static void schedule_pump(struct up *u)
{
    event_active(u->pump_ev, EV_TIMEOUT, 1);
}

/* ---- messages held in memory ---------------------------------------- */

static unsigned held_bucket(const char *entry_id)
{
    unsigned h = 2166136261u;
    for (; *entry_id; entry_id++)
        h = (h ^ (unsigned char)*entry_id) * 16777619u;
    return h % HELD_BUCKETS;
}

static struct up_msg *held_find(struct up *u, const char *entry_id)
{
    for (struct up_msg *m = u->held[held_bucket(entry_id)]; m; m = m->hnext)
        if (strcmp(m->entry_id, entry_id) == 0)
            return m;
    return NULL;
}

static int held_has(struct up *u, const char *entry_id)
{
    return held_find(u, entry_id) != NULL;
}

static void msg_free(struct up *u, struct up_msg *m)
{
    struct up_msg **pp = &u->held[held_bucket(m->entry_id)];
    while (*pp && *pp != m)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = m->hnext;
    u->n_held--;
    if (m->pdu != m->pdu_inline)
        free(m->pdu);
    m->pdu = NULL;
    if (u->n_spare < UP_MSG_SPARE_MAX && !u->stopping) {
        m->next = u->spare;
        u->spare = m;
        u->n_spare++;
        return;
    }
    free(m);
}

/* A zeroed message, from the spares when there is one. Zeroing the
 * part before pdu_inline is enough: that is every field. */
static struct up_msg *msg_alloc(struct up *u)
{
    struct up_msg *m = u->spare;
    if (!m)
        return calloc(1, sizeof *m);
    u->spare = m->next;
    u->n_spare--;
    memset(m, 0, offsetof(struct up_msg, pdu_inline));
    return m;
}

/* <src> into <dst> of <cap> bytes, cut to fit: what snprintf("%s")
 * did, without formatting. */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The concatenation reference of a part (UDH or SAR), as a key that
 * keeps the parts of one message on one session. */
static void msg_concat_key(struct up_msg *m, const struct pdu *p)
{
    struct text_udh udh;
    uint16_t ref;
    uint32_t h = 5381;
    m->has_concat = 0;
    if ((p->esm_class & 0x40) && p->short_message.len &&
        text_udh_parse(p->short_message.ptr, p->short_message.len, &udh) == 0 &&
        udh.concat.present) {
        ref = udh.concat.ref;
        m->has_concat = 1;
    } else if (pdu_tlv_u16(p, PDU_TLV_SAR_MSG_REF_NUM, &ref) == 0) {
        m->has_concat = 1;
    }
    if (!m->has_concat)
        return;
    for (const char *s = m->account; *s; s++)
        h = h * 33 + (unsigned char)*s;
    m->concat_key = h * 33 + ref;
}

static struct up_msg *msg_new(struct up *u, const struct store_entry *e)
{
    struct pdu p;
    if (!e->account || !e->msg_id || held_has(u, e->id))
        return NULL;
    struct up_msg *m = msg_alloc(u);
    if (!m)
        return NULL;
    m->pdu = e->pdu_len <= sizeof m->pdu_inline ? m->pdu_inline
                                                : malloc(e->pdu_len);
    if (!m->pdu) {
        free(m);
        return NULL;
    }
    memcpy(m->pdu, e->pdu, e->pdu_len);
    m->len = e->pdu_len;
    copy_str(m->entry_id, sizeof m->entry_id, e->id);
    copy_str(m->account, sizeof m->account, e->account);
    copy_str(m->msg_id, sizeof m->msg_id, e->msg_id);
    m->ts_ms = e->ts_ms;
    m->body_lost = e->body_lost;
    m->entry_cost = e->cost;
    m->entry_shared = e->shared;
    if (pdu_decode(m->pdu, m->len, &p) == ESME_ROK) {
        m->registered_delivery = p.registered_delivery;
        msg_concat_key(m, &p);
    }
    unsigned b = held_bucket(m->entry_id);
    m->hnext = u->held[b];
    u->held[b] = m;
    u->n_held++;
    return m;
}

static void ready_push(struct up *u, struct up_msg *m)
{
    m->place = UP_MSG_READY;
    m->next = NULL;
    if (u->ready_tail)
        u->ready_tail->next = m;
    else
        u->ready = m;
    u->ready_tail = m;
}

/* ---- finishing a message -------------------------------------------- */

static void on_recorded(int status, void *arg);
static void on_done_entry(int status, void *arg);

/* Accepted upstream under m->upstream_id on connector m->map_conn: map
 * the id to ours and finish the entry. */
static void record_sent(struct up *u, struct up_msg *m)
{
    struct store_idmap map;
    memset(&map, 0, sizeof map);
    snprintf(map.account, sizeof map.account, "%s", m->account);
    snprintf(map.msg_id, sizeof map.msg_id, "%s", m->msg_id);
    map.ts_ms = m->ts_ms;
    map.registered_delivery = m->registered_delivery;
    map.resent = m->resent;
    m->place = UP_MSG_FINISHING;
    struct store_entry_ref entry = {m->entry_id, m->entry_cost,
                                    m->entry_shared, m->record_retry};
    if (store_queue_sent(u->st, &entry, m->map_conn, m->upstream_id,
                         m->upstream_raw, &map, u->cfg->redis.id_ttl_s,
                         on_recorded, m) != 0)
        on_recorded(-1, m);
}

/* Finish the entry of a message that was refused (or accepted without a
 * usable id), or whose outcome stayed unknown (m->fail_status a session
 * status: timeout, session lost): UNKNOWN, never REJECTED, then. */
static int finish_entry(struct up *u, struct up_msg *m)
{
    if (m->fail_status == SESS_STATUS_TIMEOUT ||
        m->fail_status == SESS_STATUS_CLOSED)
        return store_queue_unknown(u->st, m->entry_id, m->account, m->msg_id,
                                   m->fail_status == SESS_STATUS_TIMEOUT
                                       ? "timeout" : "session_lost",
                                   m->resent, on_done_entry, m);
    return store_queue_failed(u->st, m->entry_id, m->account, m->msg_id,
                              m->fail_status, m->resent, on_done_entry, m);
}

/* The id map must be written, or the receipt could not be matched: keep
 * trying; the message stays pending in the stream meanwhile. */
static void on_recorded(int status, void *arg)
{
    struct up_msg *m = arg;
    struct up *u = m->sent_on->up;
    if (status == 0) {
        msg_free(u, m);
        schedule_pump(u);
        return;
    }
    u->stats.record_errors++;
    m->record_retry = 1;
    m->next = u->record;
    u->record = m;
    if (!evtimer_pending(u->record_ev, NULL)) {
        struct timeval tv = {RECORD_RETRY_MS / 1000, 0};
        evtimer_add(u->record_ev, &tv);
    }
}

static void on_record_timer(evutil_socket_t fd, short what, void *arg)
{
    struct up *u = arg;
    struct up_msg *list = u->record;
    (void)fd;
    (void)what;
    u->record = NULL;
    while (list) {
        struct up_msg *m = list;
        list = m->next;
        if (m->done_only) {
            if (finish_entry(u, m) != 0)
                on_recorded(-1, m);
        } else {
            record_sent(u, m);
        }
    }
}

static void on_done_entry(int status, void *arg)
{
    struct up_msg *m = arg;
    struct up *u = m->sent_on->up;
    if (status == 0) {
        msg_free(u, m);
        return;
    }
    /* not finished in Redis: it would be claimed and sent again, so keep
     * it and finish it later */
    m->done_only = 1;
    on_recorded(-1, m);
}

static void failed_receipt_stored(void *arg)
{
    struct up_msg *m = arg;
    struct up *u = m->sent_on->up;
    m->place = UP_MSG_FINISHING;
    if (finish_entry(u, m) != 0)
        on_done_entry(-1, m); /* kept, and finished once Redis is back */
}

static void fail_recorded(struct up *u, struct up_msg *m, uint32_t status);

static void fail_permanently(struct up *u, struct up_msg *m, uint32_t status)
{
    u->stats.permanent++;
    log_event(LOG_INFO, TAG,
              LOG_FIELDS("account", m->account, "msg_id", m->msg_id, "status",
                         pdu_status_name(status)),
              "message %s of %s refused upstream: %s", m->msg_id, m->account,
              pdu_status_name(status));
    fail_recorded(u, m, status);
}

/* A message that cannot be sent at all (<reason>: "body-lost", its
 * shared body gone from Redis, or "undecodable"): never written
 * upstream, so its outcome is known, and it ends REJECTED with
 * ESME_RSYSERR, our own failure, not upstream's: the customer gets the
 * REJECTD receipt it asked for, the log and the metric say why. */
static void fail_unsendable(struct up *u, struct up_msg *m, const char *reason)
{
    metrics_add(u->m_unsendable, 1, METRICS_LABELS(reason));
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("account", m->account, "msg_id", m->msg_id, "reason",
                         reason),
              "message %s of %s cannot be sent (%s): recorded REJECTED, not sent",
              m->msg_id, m->account, reason);
    fail_recorded(u, m, ESME_RSYSERR);
}

/* Record <m> failed for good with <status> (its receipt, then its end). */
static void fail_recorded(struct up *u, struct up_msg *m, uint32_t status)
{
    m->fail_status = status;
    m->place = UP_MSG_FINISHING;
    if (u->hooks.on_failed)
        u->hooks.on_failed(u->hooks_ctx, m->account, m->msg_id, m->pdu, m->len,
                           status, failed_receipt_stored, m);
    else
        failed_receipt_stored(m);
}

/* ---- retries -------------------------------------------------------- */

static int is_temporary(uint32_t status)
{
    switch (status) {
    case ESME_RTHROTTLED: case ESME_RMSGQFUL: case ESME_RSYSERR:
    case ESME_RX_T_APPN: case SESS_STATUS_TIMEOUT: case SESS_STATUS_CLOSED:
        return 1;
    default:
        return 0;
    }
}

static void arm_retry(struct up *u)
{
    if (!u->retry)
        return;
    uint64_t now = clock_mono_ms();
    uint64_t wait = u->retry->due_ms > now ? u->retry->due_ms - now : 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(u->retry_ev, &tv);
}

static void retry_later(struct up *u, struct up_msg *m)
{
    const struct conf_queue *q = &u->cfg->queue;
    uint64_t backoff = q->retry_min_ms;
    for (unsigned i = 1; i < m->attempts && backoff < q->retry_max_ms; i++)
        backoff *= 2;
    if (backoff > q->retry_max_ms)
        backoff = q->retry_max_ms;
    backoff += (uint64_t)rand() % (backoff / 4 + 1); /* jitter */
    m->due_ms = clock_mono_ms() + backoff;
    m->place = UP_MSG_RETRY;
    struct up_msg **pp = &u->retry;
    while (*pp && (*pp)->due_ms <= m->due_ms)
        pp = &(*pp)->next;
    m->next = *pp;
    *pp = m;
    u->stats.retried++;
    arm_retry(u);
}

static void on_retry_timer(evutil_socket_t fd, short what, void *arg)
{
    struct up *u = arg;
    uint64_t now = clock_mono_ms();
    (void)fd;
    (void)what;
    while (u->retry && u->retry->due_ms <= now) {
        struct up_msg *m = u->retry;
        u->retry = m->next;
        ready_push(u, m);
    }
    arm_retry(u);
    up_pump(u);
}

/* ---- unknown outcomes ----------------------------------------------- */

/* 1 while a copy of <m> may have been accepted: one timed out and may
 * still be answered late, or one was lost with its session. */
static int maybe_taken(const struct up_msg *m)
{
    return m->late_pending || m->lost_copies;
}

/* May <m> go out again? Always, unless a copy may have been accepted:
 * then once at most, and only under resend_unknown = once. This is the
 * duplicate bound: at most one copy more than upstream may have taken. */
static int may_send_again(const struct up *u, const struct up_msg *m)
{
    if (!maybe_taken(m))
        return 1;
    return u->cfg->queue.resend_unknown == CONF_RESEND_ONCE && !m->resent;
}

static void unknown_count(const struct up *u, const struct up_msg *m,
                          const char *action)
{
    metrics_add(u->m_unknown, 1,
                METRICS_LABELS(m->sent_on->cfg->name, action));
}

/* Take <m> off the list its place names (READY, RETRY or WAITING). */
static void list_unlink(struct up *u, struct up_msg *m)
{
    struct up_msg **pp, *prev = NULL;
    pp = m->place == UP_MSG_READY   ? &u->ready
         : m->place == UP_MSG_RETRY ? &u->retry
                                    : &u->waiting;
    while (*pp && *pp != m) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = m->next;
    m->next = NULL;
    if (m->place == UP_MSG_READY && u->ready_tail == m)
        u->ready_tail = prev;
    if (m->place == UP_MSG_WAITING)
        u->n_waiting--;
}

static void arm_waiting(struct up *u)
{
    if (!u->waiting)
        return;
    uint64_t now = clock_mono_ms();
    uint64_t wait = u->waiting->due_ms > now ? u->waiting->due_ms - now : 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(u->waiting_ev, &tv);
}

static void finish_unknown(struct up *u, struct up_msg *m);

/* The connector a message finishes under (its metrics label, its way
 * back to <u>) when no copy went out in this run: an active one, else any
 * that was ever opened. Slot 0 is opened first, so one always exists. */
static struct up_conn *home_conn(struct up *u)
{
    for (int i = 0; i < u->n_conns; i++)
        if (u->conns[i].state == UP_CONN_ACTIVE)
            return &u->conns[i];
    for (int i = 0; i < u->n_conns; i++)
        if (u->conns[i].cfg)
            return &u->conns[i];
    return &u->conns[0];
}

/* No more copies of <m>: it waits for a late answer until the connector's
 * late_resp_grace is over. When no copy can be answered any more (all
 * were lost with their sessions, or forgotten) there is nothing to wait
 * for: it ends UNKNOWN at once. */
static void go_waiting(struct up *u, struct up_msg *m)
{
    /* stopping: what this process remembers for late answers goes with
     * it, and a restart would send the message again - past the bound */
    if (!m->late_pending || u->stopping) {
        finish_unknown(u, m);
        return;
    }
    m->place = UP_MSG_WAITING;
    m->due_ms = clock_mono_ms() + m->sent_on->cfg->late_resp_grace_ms;
    struct up_msg **pp = &u->waiting;
    while (*pp && (*pp)->due_ms <= m->due_ms)
        pp = &(*pp)->next;
    m->next = *pp;
    *pp = m;
    u->n_waiting++;
    unknown_count(u, m, "waiting");
    log_event(LOG_INFO, TAG,
              LOG_FIELDS("account", m->account, "msg_id", m->msg_id),
              "message %s of %s: outcome unknown upstream, waiting for a late "
              "answer (not sent again)", m->msg_id, m->account);
    arm_waiting(u);
}

/* No answer came (within the grace, or none can come any more): the
 * message ends UNKNOWN (a stat:UNKNOWN receipt if one was asked for),
 * never REJECTED. */
static void finish_unknown(struct up *u, struct up_msg *m)
{
    if (!m->sent_on) /* copies went out in an earlier run, none in this one */
        m->sent_on = home_conn(u);
    m->fail_status = m->late_pending || !m->lost_copies ? SESS_STATUS_TIMEOUT
                                                         : SESS_STATUS_CLOSED;
    m->place = UP_MSG_FINISHING;
    u->stats.unknown++;
    unknown_count(u, m, "unknown");
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("account", m->account, "msg_id", m->msg_id, "state",
                         "UNKNOWN"),
              "message %s of %s: no answer upstream, recorded UNKNOWN",
              m->msg_id, m->account);
    if (u->hooks.on_failed)
        u->hooks.on_failed(u->hooks_ctx, m->account, m->msg_id, m->pdu, m->len,
                           m->fail_status, failed_receipt_stored, m);
    else
        failed_receipt_stored(m);
}

static void on_waiting_timer(evutil_socket_t fd, short what, void *arg)
{
    struct up *u = arg;
    uint64_t now = clock_mono_ms();
    (void)fd;
    (void)what;
    while (u->waiting && u->waiting->due_ms <= now) {
        struct up_msg *m = u->waiting;
        list_unlink(u, m);
        finish_unknown(u, m);
    }
    arm_waiting(u);
}

/* ---- late answers --------------------------------------------------- */

/* The remembered submit <e> can no longer be answered (forgotten, or its
 * session closed): for its message, a lost copy. A message that waited
 * only for it ends UNKNOWN now rather than at the end of the grace. */
static void late_drop(const struct lateq_entry *e, void *arg)
{
    struct up *u = arg;
    struct up_msg *m = held_find(u, e->entry_id);
    if (!m || !m->late_pending)
        return;
    m->late_pending--;
    m->lost_copies++;
    if (m->place == UP_MSG_WAITING && !m->late_pending) {
        list_unlink(u, m);
        finish_unknown(u, m);
    }
}

/* Remember that <m>'s submit on <us> timed out; 0 when it cannot be (out
 * of memory): its answer, if it comes, is then a glitch. Full: the oldest
 * is forgotten (counted), so memory stays bounded whatever upstream does. */
static int late_remember(struct up_session *us, const struct up_msg *m)
{
    const struct conf_upstream *cfg = us->conn->cfg;
    uint64_t now = clock_mono_ms();
    struct lateq_entry e = {.seq = m->sent_seq,
                            .until_ms = now + cfg->late_resp_grace_ms,
                            .ts_ms = m->ts_ms,
                            .registered_delivery = m->registered_delivery};
    snprintf(e.entry_id, sizeof e.entry_id, "%s", m->entry_id);
    snprintf(e.account, sizeof e.account, "%s", m->account);
    snprintf(e.msg_id, sizeof e.msg_id, "%s", m->msg_id);
    int r = lateq_add(&us->late, &e, now);
    if (r == 1)
        metrics_add(us->conn->up->m_late_forgotten, 1,
                    METRICS_LABELS(cfg->name));
    return r >= 0;
}

/* The upstream id in <resp> from connector <c>, as a key (dlr_id_key())
 * in <canon> and as written in <raw>; 0 when there is no usable one. */
static int resp_upstream_id(const struct up_conn *c, const struct pdu *resp,
                            char *canon, size_t ccap, char *raw, size_t rcap)
{
    if (!resp || !resp->message_id.len ||
        dlr_id_key((const char *)resp->message_id.ptr, resp->message_id.len,
                   c->cfg->dlr_id_fold_case, canon, ccap) <= 0)
        return 0;
    pdu_view_copy(raw, rcap, resp->message_id);
    return 1;
}

/* A late ESME_ROK with an id for a copy of the message of <e>, sent on
 * <c>. <m> is that message if still in memory. */
static void late_accepted(struct up *u, struct up_conn *c,
                          const struct lateq_entry *e, struct up_msg *m,
                          const char *canon, const char *raw)
{
    if (m && (m->place == UP_MSG_READY || m->place == UP_MSG_RETRY ||
              m->place == UP_MSG_WAITING)) {
        list_unlink(u, m); /* no resend: that copy was taken */
        snprintf(m->upstream_id, sizeof m->upstream_id, "%s", canon);
        snprintf(m->upstream_raw, sizeof m->upstream_raw, "%s", raw);
        snprintf(m->map_conn, sizeof m->map_conn, "%s", c->cfg->name);
        u->stats.ok++;
        record_sent(u, m);
        return;
    }
    if (m && m->place == UP_MSG_SENT && !m->late_ok) {
        /* another copy is out: its answer decides which id is recorded */
        m->late_ok = 1;
        snprintf(m->late_id, sizeof m->late_id, "%s", canon);
        snprintf(m->late_raw, sizeof m->late_raw, "%s", raw);
        snprintf(m->late_conn, sizeof m->late_conn, "%s", c->cfg->name);
        return;
    }
    /* the message is finished (or finishing) under another copy: map this
     * one too, so that its receipt is not a dead letter */
    struct store_idmap map;
    memset(&map, 0, sizeof map);
    snprintf(map.account, sizeof map.account, "%s", e->account);
    snprintf(map.msg_id, sizeof map.msg_id, "%s", e->msg_id);
    map.ts_ms = e->ts_ms;
    map.registered_delivery = e->registered_delivery;
    store_idmap_add(u->st, c->cfg->name, canon, &map, u->cfg->redis.id_ttl_s);
}

/* A late refusal: it decides only for a message that waits with no other
 * copy whose outcome is unknown; then it is that message's answer. */
static void late_refused(struct up *u, struct up_msg *m, uint32_t status)
{
    if (!m || m->place != UP_MSG_WAITING || maybe_taken(m))
        return;
    list_unlink(u, m);
    if (status == ESME_ROK) {
        m->fail_status = ESME_ROK; /* accepted, no usable id: UNKNOWN */
        m->place = UP_MSG_FINISHING;
        failed_receipt_stored(m);
    } else if (!is_temporary(status) ||
               ++m->attempts >= u->cfg->queue.max_attempts) {
        fail_permanently(u, m, status);
    } else {
        retry_later(u, m);
    }
}

/* Session callback: a response that matches no outstanding request. A
 * remembered timed-out submit_sm is matched and used; anything else is
 * left to be counted as a glitch. */
static int on_late_resp(struct sess *s, const struct pdu *resp, void *ctx)
{
    struct up_session *us = ctx;
    struct up *u = us->conn->up;
    struct lateq_entry e;
    char canon[DLR_ID_MAX + 1], raw[DLR_ID_MAX + 1];
    if (us->sess != s ||
        !lateq_take(&us->late, resp->sequence_number, clock_mono_ms(), &e))
        return 0;
    uint32_t status = resp->command_status;
    struct up_msg *m = held_find(u, e.entry_id);
    if (m && m->late_pending)
        m->late_pending--;
    u->stats.late++;
    metrics_add(u->m_late, 1,
                METRICS_LABELS(us->conn->cfg->name, pdu_status_name(status)));
    log_event(LOG_INFO, TAG,
              LOG_FIELDS("account", e.account, "msg_id", e.msg_id, "status",
                         pdu_status_name(status)),
              "[%s#%d] late answer for message %s of %s: %s",
              us->conn->cfg->name, us->index, e.msg_id, e.account,
              pdu_status_name(status));
    if (status == ESME_ROK && resp->command_id != PDU_GENERIC_NACK &&
        resp_upstream_id(us->conn, resp, canon, sizeof canon, raw, sizeof raw))
        late_accepted(u, us->conn, &e, m, canon, raw);
    else
        late_refused(u, m, status);
    schedule_pump(u);
    return 1;
}

/* ---- answers to what we sent ---------------------------------------- */

static void count_resp(struct up_conn *c, uint32_t status, uint64_t sent_us);

/* An earlier copy was accepted late while this one was out: that id is
 * the message's. */
static void record_late_copy(struct up *u, struct up_msg *m)
{
    snprintf(m->upstream_id, sizeof m->upstream_id, "%s", m->late_id);
    snprintf(m->upstream_raw, sizeof m->upstream_raw, "%s", m->late_raw);
    snprintf(m->map_conn, sizeof m->map_conn, "%s", m->late_conn);
    u->stats.ok++;
    record_sent(u, m);
}

static void on_accepted(struct up *u, struct up_msg *m, const struct pdu *resp)
{
    if (resp_upstream_id(m->sent_on, resp, m->upstream_id,
                         sizeof m->upstream_id, m->upstream_raw,
                         sizeof m->upstream_raw)) {
        struct store_idmap map;
        u->stats.ok++;
        snprintf(m->map_conn, sizeof m->map_conn, "%s", m->sent_on->cfg->name);
        if (m->late_ok) { /* two copies taken: both receipts route back */
            memset(&map, 0, sizeof map);
            snprintf(map.account, sizeof map.account, "%s", m->account);
            snprintf(map.msg_id, sizeof map.msg_id, "%s", m->msg_id);
            map.ts_ms = m->ts_ms;
            map.registered_delivery = m->registered_delivery;
            store_idmap_add(u->st, m->late_conn, m->late_id, &map,
                            u->cfg->redis.id_ttl_s);
        }
        record_sent(u, m);
        return;
    }
    if (m->late_ok) {
        record_late_copy(u, m);
        return;
    }
    /* accepted, but with no usable id: its receipt cannot be matched;
     * not a rejection either */
    u->stats.ok++;
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("account", m->account, "msg_id", m->msg_id, "status",
                         pdu_status_name(ESME_ROK)),
              "message %s of %s accepted upstream without a usable id",
              m->msg_id, m->account);
    m->fail_status = ESME_ROK; /* its state: UNKNOWN, not REJECTED */
    failed_receipt_stored(m);
}

/* No answer to this copy (timed out, or its session was lost after it
 * was written): it may have been accepted. */
static void on_unknown(struct up *u, struct up_msg *m)
{
    /* stopping: no copy goes out any more, and a resend left for the next
     * run would follow copies whose late answers nobody waits for */
    if (!u->stopping && ++m->attempts < u->cfg->queue.max_attempts &&
        may_send_again(u, m)) {
        unknown_count(u, m, "resent");
        retry_later(u, m);
    } else {
        go_waiting(u, m);
    }
}

/* Upstream answered this copy with an error. */
static void on_refused(struct up *u, struct up_msg *m, uint32_t status)
{
    if (maybe_taken(m)) {
        /* an earlier copy may have been accepted: this refusal does not
         * say the message was not sent */
        if (!u->stopping && is_temporary(status) && may_send_again(u, m) &&
            ++m->attempts < u->cfg->queue.max_attempts)
            retry_later(u, m);
        else
            go_waiting(u, m);
    } else if (!is_temporary(status) ||
               ++m->attempts >= u->cfg->queue.max_attempts) {
        fail_permanently(u, m, status);
    } else {
        u->stats.temporary++;
        retry_later(u, m);
    }
}

static void on_submit_resp(struct sess *s, const struct pdu *resp,
                           uint32_t status, void *arg)
{
    struct up_msg *m = arg;
    struct up *u = m->sent_on->up;
    int unanswered = status == SESS_STATUS_TIMEOUT || status == SESS_STATUS_CLOSED;
    u->n_inflight--;
    count_resp(m->sent_on, status, m->sent_us);
    if (status == SESS_STATUS_TIMEOUT && m->sent_session->sess == s &&
        late_remember(m->sent_session, m))
        m->late_pending++;
    else if (unanswered)
        m->lost_copies++; /* no answer to it can come any more */
    if (unanswered) /* a restart or another instance must know it too */
        store_msg_note_unknown(u->st, m->account, m->msg_id, 0);
    if (status == ESME_ROK)
        on_accepted(u, m, resp);
    else if (m->late_ok)
        record_late_copy(u, m);
    else if (unanswered)
        on_unknown(u, m);
    else
        on_refused(u, m, status);
    schedule_pump(u);
}

/* ---- sending -------------------------------------------------------- */

/* The connector's tps, held across every instance (throttle.h). */
static int take_token(struct up_conn *c)
{
    c->throttled = !throttle_take(c->up->thr, c->throttle_key, c->cfg->tps, 1);
    return !c->throttled;
}

/* The session of <c> that should carry <m>: for parts of a concatenated
 * message always the same one (by key); otherwise round-robin. */
static struct up_session *pick_session(struct up_conn *c, const struct up_msg *m)
{
    struct up_session *tx[64];
    unsigned n = 0;
    for (unsigned i = 0; i < c->n_sessions && n < 64; i++)
        if (c->sessions[i].bound && c->sessions[i].transmitter)
            tx[n++] = &c->sessions[i];
    if (n == 0)
        return NULL;
    if (m->has_concat) {
        struct up_session *s = tx[m->concat_key % n];
        return sess_can_send(s->sess) ? s : NULL;
    }
    for (unsigned k = 0; k < n; k++) {
        struct up_session *s = tx[(c->rr + k) % n];
        if (sess_can_send(s->sess)) {
            c->rr = (c->rr + k + 1) % n;
            return s;
        }
    }
    return NULL;
}

/* The connector with the lowest priority number that has a bound
 * transmitter: failover is the next one taking over while it is down. */
static struct up_conn *pick_conn(struct up *u)
{
    struct up_conn *best = NULL;
    for (int i = 0; i < u->n_conns; i++) {
        struct up_conn *c = &u->conns[i];
        int bound = 0;
        if (c->state != UP_CONN_ACTIVE)
            continue;
        for (unsigned k = 0; k < c->n_sessions && !bound; k++)
            bound = c->sessions[k].bound && c->sessions[k].transmitter;
        if (bound && (!best || c->cfg->priority < best->cfg->priority))
            best = c;
    }
    return best;
}

/* 1 sent, 0 not now (kept), -1 unusable message (dropped as failed). */
static int try_send(struct up *u, struct up_conn *c, struct up_msg *m)
{
    struct up_session *s = pick_session(c, m);
    struct pdu p;
    if (!s)
        return 0;
    if (m->body_lost || pdu_decode(m->pdu, m->len, &p) != ESME_ROK) {
        m->sent_on = c;
        fail_unsendable(u, m, m->body_lost ? "body-lost" : "undecodable");
        return -1;
    }
    if (!take_token(c))
        return 0;
    /* always ask upstream for the final receipt: the message's state
     * (query_sm, the CDR) needs it; the customer gets only the receipts
     * its own registered_delivery asks for (relay.c, receipt_wanted) */
    p.registered_delivery = (uint8_t)((p.registered_delivery & ~0x03u) | 0x01u);
    m->sent_on = c;
    m->sent_us = clock_mono_us();
    if (sess_send(s->sess, &p, on_submit_resp, m, &m->sent_seq) != 0)
        return 0;
    m->sent_session = s;
    m->place = UP_MSG_SENT;
    if (maybe_taken(m)) { /* the one copy more the bound allows */
        m->resent = 1;
        u->stats.resent_unknown++;
        store_msg_note_unknown(u->st, m->account, m->msg_id, 1);
    }
    u->n_inflight++;
    u->stats.sent++;
    return 1;
}

static void arm_tps_timer(struct up *u)
{
    struct timeval tv = {0, 5000};
    if (!evtimer_pending(u->tps_ev, NULL))
        evtimer_add(u->tps_ev, &tv);
}

static void pump_ready(struct up *u)
{
    struct up_conn *c = pick_conn(u);
    struct up_msg **pp = &u->ready, *prev = NULL;
    unsigned scanned = 0;
    /* draining: what is not sent yet stays pending in the stream */
    if (!c || u->stopping)
        return;
    while (*pp && scanned++ < PUMP_SCAN_MAX) {
        struct up_msg *m = *pp;
        int r = try_send(u, c, m);
        if (r == 0 && c->throttled) {
            arm_tps_timer(u);
            break;
        }
        if (r == 0) {
            prev = m;
            pp = &m->next;
            continue;
        }
        *pp = m->next; /* sent or dropped: off the ready list */
        if (u->ready_tail == m)
            u->ready_tail = prev;
        scanned = 0;
    }
}

static unsigned capacity(const struct up *u)
{
    unsigned cap = 0;
    for (int i = 0; i < u->n_conns; i++)
        for (unsigned k = 0; u->conns[i].state == UP_CONN_ACTIVE &&
                             k < u->conns[i].n_sessions; k++)
            if (u->conns[i].sessions[k].bound &&
                u->conns[i].sessions[k].transmitter)
                cap += u->conns[i].cfg->window;
    return cap;
}

/* How many waiting messages may be held beyond the windows: as many as
 * the sessions remember timed-out submits. */
static unsigned waiting_room(const struct up *u)
{
    unsigned room = 0;
    for (int i = 0; i < u->n_conns; i++)
        if (u->conns[i].state == UP_CONN_ACTIVE)
            room += u->conns[i].n_sessions * u->conns[i].cfg->late_resp_max;
    return room;
}

static void on_entries(int status, const struct store_entry *e, size_t n,
                       void *arg);
static void on_history(int status, const struct store_entry *e, size_t n,
                       void *arg);

/* Read more from the queue while what is in memory leaves room. */
static void maybe_read(struct up *u)
{
    if (u->reading || u->stopping || !store_up(u->st))
        return;
    unsigned cap = capacity(u);
    /* messages waiting for a late answer take no window, but only so many
     * of them: a silent upstream must not make memory grow */
    unsigned room = waiting_room(u);
    unsigned used = u->n_held - (u->n_waiting < room ? u->n_waiting : room);
    if (cap == 0 || used >= cap)
        return;
    unsigned want = cap - used;
    if (want > u->cfg->queue.batch)
        want = u->cfg->queue.batch;
    if (!u->history_done) {
        if (store_queue_read_own(u->st, want, u->history_after, on_history,
                                 u) == 0)
            u->reading = 1;
        return;
    }
    if (store_queue_read(u->st, want, READ_BLOCK_MS, on_entries, u) == 0)
        u->reading = 1;
}

/* The unknown copies of a message taken back or claimed, as its record
 * says (store_msg_note_unknown): it continues where the run that sent
 * those copies stopped, so the resend bound holds across restarts and
 * instances. Not known (Redis failed): the message is let go; it stays
 * pending in the stream and is claimed again once idle. */
static void on_msg_unknown(int status, unsigned copies, int resent, void *arg)
{
    struct up_msg *m = arg;
    struct up *u = m->up_owner;
    if (status != 0) {
        msg_free(u, m);
        return;
    }
    m->lost_copies = copies; /* their late answers went with their sessions */
    m->resent = resent || copies > 1;
    if (maybe_taken(m) && (u->stopping || !may_send_again(u, m))) {
        log_event(LOG_INFO, TAG,
                  LOG_FIELDS("account", m->account, "msg_id", m->msg_id),
                  "message %s of %s: %u earlier copies with an unknown "
                  "outcome%s: not sent again", m->msg_id, m->account, copies,
                  m->resent ? ", one of them a resend" : "");
        finish_unknown(u, m);
        return;
    }
    ready_push(u, m); /* after an unknown copy, its next is the one resend */
    up_pump(u);
}

/* <m>, just taken from the stream, goes out only once its record has
 * said how many of its copies had an unknown outcome. */
static void msg_load(struct up *u, struct up_msg *m)
{
    m->place = UP_MSG_LOADING;
    m->up_owner = u;
    u->stats.claimed++;
    if (store_msg_unknown(u->st, m->account, m->msg_id, on_msg_unknown, m) != 0)
        msg_free(u, m); /* pending in the stream: claimed again once idle */
}

/* What this consumer read in a previous run and never finished (it was
 * killed, say): taken back first, before anything new. */
static void on_history(int status, const struct store_entry *e, size_t n,
                       void *arg)
{
    struct up *u = arg;
    u->reading = 0;
    if (status != 0)
        return; /* the tick tries again */
    if (n == 0)
        u->history_done = 1;
    for (size_t i = 0; status == 0 && i < n; i++) {
        struct up_msg *m = msg_new(u, &e[i]);
        snprintf(u->history_after, sizeof u->history_after, "%s", e[i].id);
        if (m)
            msg_load(u, m);
    }
    up_pump(u);
}

static void on_entries(int status, const struct store_entry *e, size_t n,
                       void *arg)
{
    struct up *u = arg;
    u->reading = 0;
    for (size_t i = 0; status == 0 && i < n; i++) {
        struct up_msg *m = msg_new(u, &e[i]);
        if (m)
            ready_push(u, m);
    }
    if (status != 0) {
        /* Redis failed the read: the tick reads again, not a tight loop */
        pump_ready(u);
        return;
    }
    up_pump(u);
}

static void up_pump(struct up *u)
{
    pump_ready(u);
    maybe_read(u);
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    up_pump(arg);
}

/* Entries another consumer (a crashed instance, say) left pending. */
static void on_claimed(int status, const struct store_entry *e, size_t n,
                       void *arg)
{
    struct up *u = arg;
    for (size_t i = 0; status == 0 && i < n; i++) {
        struct up_msg *m = msg_new(u, &e[i]);
        if (m)
            msg_load(u, m);
    }
    up_pump(u);
}

/* Keep the entries we hold from looking abandoned to other instances. */
static void touch_held(struct up *u)
{
    const char *ids[128];
    size_t n = 0;
    for (unsigned b = 0; b < HELD_BUCKETS; b++) {
        for (struct up_msg *m = u->held[b]; m; m = m->hnext) {
            ids[n++] = m->entry_id;
            if (n == ARRAY_LEN(ids)) {
                store_queue_touch(u->st, ids, n);
                n = 0;
            }
        }
    }
    if (n)
        store_queue_touch(u->st, ids, n);
}

static void on_claim_timer(evutil_socket_t fd, short what, void *arg)
{
    struct up *u = arg;
    (void)fd;
    (void)what;
    /* touched while Redis is reachable at all: an evicting Redis makes
     * the store not up for new work, but what we hold must not look
     * abandoned, or another instance would claim it and send it again */
    if (!store_connected(u->st))
        return;
    touch_held(u);
    if (store_up(u->st) && !u->stopping && capacity(u) > u->n_held)
        store_queue_claim(u->st, u->cfg->queue.claim_idle_ms,
                          u->cfg->queue.batch, on_claimed, u);
}

/* ---- sessions ------------------------------------------------------- */

static void on_connected(struct sess *s, void *ctx)
{
    struct up_session *us = ctx;
    const struct conf_upstream *c = us->conn->cfg;
    sess_bind(s, us->type, c->system_id, c->password, c->system_type,
              (uint8_t)c->interface_version);
}

static void on_bound(struct sess *s, const struct pdu *resp, void *ctx)
{
    struct up_session *us = ctx;
    (void)resp;
    us->bound = 1;
    us->backoff_ms = 0;
    log_event(LOG_INFO, TAG,
              LOG_FIELDS("connector", us->conn->cfg->name, "session", LOG_NUM(us->index),
                         "state", "bound", "type",
                         us->type == SESS_BIND_TX   ? "tx"
                         : us->type == SESS_BIND_RX ? "rx"
                                                    : "trx"),
              "[%s#%d] bound as %s, peer version 0x%02x", us->conn->cfg->name,
              us->index, sess_state_name(sess_state(s)), sess_peer_version(s));
    schedule_pump(us->conn->up);
}

static void on_up_request(struct sess *s, const struct pdu *req, void *ctx)
{
    struct up_session *us = ctx;
    struct up *u = us->conn->up;
    if (req->command_id == PDU_DELIVER_SM || req->command_id == PDU_DATA_SM) {
        if (u->hooks.on_deliver) {
            u->hooks.on_deliver(u->hooks_ctx, s, us->conn->cfg, req);
            return;
        }
        sess_reply(s, req->command_id, req->sequence_number, ESME_RX_T_APPN, NULL);
        return;
    }
    /* alert_notification and outbind take no answer */
}

static void on_up_writable(struct sess *s, void *ctx)
{
    struct up_session *us = ctx;
    (void)s;
    schedule_pump(us->conn->up);
}

static void schedule_reconnect(struct up_session *us)
{
    const struct conf_upstream *c = us->conn->cfg;
    us->backoff_ms = us->backoff_ms ? us->backoff_ms * 2 : c->reconnect_min_ms;
    if (us->backoff_ms > c->reconnect_max_ms)
        us->backoff_ms = c->reconnect_max_ms;
    /* jitter: sessions that dropped together do not return together */
    unsigned wait = us->backoff_ms / 2 + (unsigned)rand() % (us->backoff_ms / 2 + 1);
    struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
    evtimer_add(us->reconnect_ev, &tv);
}

static void on_up_close(struct sess *s, enum sess_close_reason why, void *ctx)
{
    struct up_session *us = ctx;
    struct up *u = us->conn->up;
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("connector", us->conn->cfg->name, "session", LOG_NUM(us->index),
                         "state", "down", "reason", sess_close_reason_name(why)),
              "[%s#%d] session closed: %s", us->conn->cfg->name, us->index,
              sess_close_reason_name(why));
    us->bound = 0;
    us->sess = NULL;
    /* no answer comes on a closed connection */
    lateq_clear(&us->late);
    sess_unref(s);
    if (!u->stopping && us->conn->state == UP_CONN_ACTIVE)
        schedule_reconnect(us);
}

static const struct sess_callbacks up_callbacks = {
    .on_connected = on_connected,
    .on_bound = on_bound,
    .on_request = on_up_request,
    .on_late_resp = on_late_resp,
    .on_writable = on_up_writable,
    .on_close = on_up_close,
};

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    session_connect(arg);
}

static void session_connect(struct up_session *us)
{
    struct up_conn *c = us->conn;
    struct up *u = c->up;
    struct sess_config cfg;
    if (u->stopping)
        return;
    struct bufferevent *bev = net_connect_bev(u->base, &c->addr, c->addr_len,
                                              c->tls, c->cfg->host);
    if (!bev) {
        schedule_reconnect(us);
        return;
    }
    sess_config_defaults(&cfg);
    cfg.window = c->cfg->window;
    cfg.peer_window = 1000; /* receipts from upstream being stored */
    cfg.peer_window_pause = 1; /* beyond it, TCP pushes back: no refusals */
    cfg.resp_timeout_ms = c->cfg->resp_timeout_ms;
    cfg.bind_timeout_ms = 10000;
    cfg.enquire_interval_ms = c->cfg->enquire_link_interval_ms;
    cfg.idle_timeout_ms = 0; /* enquire_link decides that the link is dead */
    cfg.max_pdu_len_unbound = PDU_MAX_LEN_DEFAULT;
    /* a rate, not a lifetime total: a long session is not closed for a
     * few stray PDUs over days (late answers are not counted at all) */
    cfg.glitch_window_ms = c->cfg->glitch_window_ms;
    us->sess = sess_new(u->base, bev, SESS_CLIENT, &cfg, &up_callbacks, us);
    if (!us->sess) {
        schedule_reconnect(us);
        return;
    }
    /* its answers and receipts before the customers' new submits */
    sess_set_priority(us->sess, EVPRIO_UPSTREAM);
    log_event(LOG_DEBUG, TAG,
              LOG_FIELDS("connector", c->cfg->name, "session", LOG_NUM(us->index),
                         "state", "connecting"),
              "[%s#%d] connecting", c->cfg->name, us->index);
}

/* ---- life cycle ----------------------------------------------------- */

/* Resolve and build what connector <cfg> needs into <plan>; -1 with
 * <err>. Name resolution blocks: it runs at start-up, and at a reload only
 * for the connectors the reload adds or changes. */
static int conn_prepare(const struct conf_upstream *cfg,
                        struct up_conn_plan *plan, char *err, size_t cap)
{
    char nerr[NET_ERR_LEN];
    memset(plan, 0, sizeof *plan);
    memcpy(&plan->cfg, cfg, sizeof plan->cfg);
    if (net_resolve(cfg->host, (int)cfg->port, &plan->addr, &plan->addr_len,
                    nerr) != 0) {
        snprintf(err, cap, "[upstream %s]: %s", cfg->name, nerr);
        return -1;
    }
    if (cfg->tls) {
        plan->tls = net_tls_client_ctx(cfg->tls_ca[0] ? cfg->tls_ca : NULL,
                                       cfg->tls_verify, nerr);
        if (!plan->tls) {
            snprintf(err, cap, "[upstream %s]: %s", cfg->name, nerr);
            return -1;
        }
    }
    return 0;
}

static void plan_free(struct up_conn_plan *plan)
{
    if (!plan)
        return;
    if (plan->tls)
        SSL_CTX_free(plan->tls);
    free(plan);
}

/* Slot <c> becomes connector <plan> (its TLS context passes to the slot).
 * Sessions connect when <connect> is set. -1 (slot left FREE) when out of
 * memory. */
static int conn_open(struct up *u, struct up_conn *c, struct up_conn_plan *plan,
                     int connect)
{
    const struct conf_upstream *cfg = &plan->cfg;
    int pairs = cfg->bind == CONF_BIND_TX_RX;
    unsigned n = cfg->sessions * (pairs ? 2 : 1);
    struct up_session *sessions = calloc(n, sizeof *sessions);
    if (!sessions)
        return -1;
    c->up = u;
    memcpy(&c->own, cfg, sizeof c->own);
    c->cfg = &c->own;
    c->addr = plan->addr;
    c->addr_len = plan->addr_len;
    c->tls = plan->tls;
    plan->tls = NULL;
    c->rr = 0;
    c->throttled = 0;
    c->unbinding = 0;
    c->m_ok = c->m_rtt = NULL; /* the slot may have named another */
    snprintf(c->throttle_key, sizeof c->throttle_key, "up:%s", cfg->name);
    c->sessions = sessions;
    c->n_sessions = n;
    for (unsigned i = 0; i < n; i++) {
        struct up_session *us = &sessions[i];
        us->conn = c;
        us->index = (int)i;
        us->type = !pairs ? SESS_BIND_TRX : (i % 2 ? SESS_BIND_RX : SESS_BIND_TX);
        us->transmitter = us->type != SESS_BIND_RX;
        us->reconnect_ev = evtimer_new(u->base, on_reconnect, us);
        lateq_init(&us->late, cfg->late_resp_max, late_drop, u);
    }
    c->state = UP_CONN_ACTIVE;
    for (unsigned i = 0; connect && i < n; i++)
        session_connect(&sessions[i]);
    return 0;
}

/* The one teardown of a connector, whether a reload retired it or the
 * bridge exits: its sessions are closed by now (or are being dropped with
 * the process), so timers and memory are what is left. The slot keeps its
 * name and owner for messages still finishing what was sent on it. */
static void conn_release(struct up_conn *c)
{
    for (unsigned k = 0; k < c->n_sessions; k++) {
        event_free(c->sessions[k].reconnect_ev);
        lateq_free(&c->sessions[k].late);
    }
    free(c->sessions);
    c->sessions = NULL;
    c->n_sessions = 0;
    if (c->tls)
        SSL_CTX_free(c->tls);
    c->tls = NULL;
    plan_free(c->next);
    c->next = NULL;
    c->state = UP_CONN_FREE;
}

static unsigned conn_inflight(const struct up_conn *c)
{
    unsigned n = 0;
    for (unsigned k = 0; k < c->n_sessions; k++)
        if (c->sessions[k].sess)
            n += sess_inflight(c->sessions[k].sess);
    return n;
}

static int conn_closed(const struct up_conn *c)
{
    for (unsigned k = 0; k < c->n_sessions; k++)
        if (c->sessions[k].sess)
            return 0;
    return 1;
}

static void arm_retire_tick(struct up *u)
{
    struct timeval tv = {0, RETIRE_TICK_MS * 1000};
    if (!evtimer_pending(u->retire_ev, NULL))
        evtimer_add(u->retire_ev, &tv);
}

/*
 * Stop sending on <c> and close it gracefully, then open it again as
 * <next> (a changed connector; owned from here) or leave the slot free
 * (<next> NULL: removed). Sessions not bound yet go at once; bound ones
 * unbind once their window has been empty for RETIRE_LINGER_MS, or after
 * the connector's resp_timeout (at most RETIRE_WAIT_MAX_MS) and the
 * linger: what is still in flight then
 * completes as "session closed", a temporary error, and is sent again on
 * another connector. Messages waiting to be sent are not tied to a
 * connector: the others take them meanwhile.
 */
static void conn_retire(struct up_conn *c, struct up_conn_plan *next)
{
    plan_free(c->next);
    c->next = next;
    if (c->state == UP_CONN_RETIRING)
        return;
    c->state = UP_CONN_RETIRING;
    c->unbinding = 0;
    unsigned wait = c->cfg->resp_timeout_ms < RETIRE_WAIT_MAX_MS
                        ? c->cfg->resp_timeout_ms : RETIRE_WAIT_MAX_MS;
    c->retire_deadline_ms = clock_mono_ms() + wait + RETIRE_LINGER_MS;
    c->empty_since_ms = 0;
    for (unsigned k = 0; k < c->n_sessions; k++) {
        struct up_session *us = &c->sessions[k];
        evtimer_del(us->reconnect_ev);
        if (us->sess && !us->bound)
            sess_close(us->sess, SESS_CLOSE_LOCAL);
    }
    arm_retire_tick(c->up);
}

/* One step of a retirement: unbind when the window has been empty for the
 * linger (or waited long enough); once every session is closed, release
 * the slot and open the new settings if there are any. */
static void conn_retire_step(struct up_conn *c)
{
    struct up *u = c->up;
    uint64_t now = clock_mono_ms();
    if (conn_inflight(c))
        c->empty_since_ms = 0;
    else if (!c->empty_since_ms)
        c->empty_since_ms = now;
    if (!c->unbinding &&
        ((c->empty_since_ms && now - c->empty_since_ms >= RETIRE_LINGER_MS) ||
         now >= c->retire_deadline_ms)) {
        c->unbinding = 1;
        for (unsigned k = 0; k < c->n_sessions; k++)
            if (c->sessions[k].sess)
                sess_unbind(c->sessions[k].sess);
    }
    if (!c->unbinding || !conn_closed(c))
        return;
    struct up_conn_plan *next = c->next;
    c->next = NULL;
    conn_release(c);
    if (!next || u->stopping)
        log_info(TAG, "[%s] connector stopped", c->cfg->name);
    else if (conn_open(u, c, next, 1) == 0)
        log_info(TAG, "[%s] connector started with its new settings",
                 c->cfg->name);
    else
        log_error(TAG, "[%s] out of memory: connector not restarted",
                  next->cfg.name);
    plan_free(next);
    schedule_pump(u);
}

static void on_retire_tick(evutil_socket_t fd, short what, void *arg)
{
    struct up *u = arg;
    int retiring = 0;
    (void)fd;
    (void)what;
    for (int i = 0; i < u->n_conns; i++) {
        if (u->conns[i].state != UP_CONN_RETIRING)
            continue;
        conn_retire_step(&u->conns[i]);
        retiring |= u->conns[i].state == UP_CONN_RETIRING;
    }
    if (retiring)
        arm_retire_tick(u);
}

static void up_metrics(struct up *u);

struct up *up_new(struct event_base *base, const struct conf *cfg,
                  struct store *st, struct throttle *thr,
                  const struct up_hooks *hooks, void *ctx)
{
    struct up *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->base = base;
    u->cfg = cfg;
    u->st = st;
    u->thr = thr;
    up_metrics(u);
    if (hooks)
        u->hooks = *hooks;
    u->hooks_ctx = ctx;
    snprintf(u->history_after, sizeof u->history_after, "0");
    u->pump_ev = event_new(base, -1, 0, on_pump, u);
    u->retry_ev = evtimer_new(base, on_retry_timer, u);
    u->record_ev = evtimer_new(base, on_record_timer, u);
    u->tps_ev = evtimer_new(base, on_pump, u);
    u->claim_ev = event_new(base, -1, EV_PERSIST, on_claim_timer, u);
    /* A read refused while Redis was away is not retried by any event of
     * its own: the tick starts it again once Redis is back. */
    u->tick_ev = event_new(base, -1, EV_PERSIST, on_pump, u);
    u->retire_ev = evtimer_new(base, on_retire_tick, u);
    u->waiting_ev = evtimer_new(base, on_waiting_timer, u);
    return u;
}

/* ---- requests about sent messages ------------------------------------ */

struct up_forward {
    up_forward_cb cb;
    void *arg;
};

static void on_forward_resp(struct sess *s, const struct pdu *resp,
                            uint32_t status, void *arg)
{
    struct up_forward *f = arg;
    (void)s;
    (void)resp;
    f->cb(status, f->arg);
    free(f);
}

int up_forward(void *up, const char *connector, struct pdu *req,
               up_forward_cb cb, void *arg)
{
    struct up *u = up;
    for (int i = 0; i < u->n_conns; i++) {
        struct up_conn *c = &u->conns[i];
        if (strcmp(c->cfg->name, connector) != 0)
            continue;
        for (unsigned k = 0; k < c->n_sessions; k++) {
            struct up_session *us = &c->sessions[k];
            if (!us->bound || !us->transmitter || !sess_can_send(us->sess))
                continue;
            struct up_forward *f = malloc(sizeof *f);
            if (!f)
                return -1;
            f->cb = cb;
            f->arg = arg;
            if (sess_send(us->sess, req, on_forward_resp, f, NULL) == 0)
                return 0;
            free(f);
        }
    }
    return -1;
}

static void arm_claim(struct up *u, unsigned claim_idle_ms)
{
    unsigned every = claim_idle_ms / 3 ? claim_idle_ms / 3 : 1;
    struct timeval tv = {every / 1000, (every % 1000) * 1000};
    event_add(u->claim_ev, &tv);
}

int up_start(struct up *u, char *err, size_t cap)
{
    struct up_conn_plan plan;
    for (int i = 0; i < u->cfg->n_upstreams; i++) {
        if (conn_prepare(&u->cfg->upstreams[i], &plan, err, cap) != 0 ||
            conn_open(u, &u->conns[i], &plan, 0) != 0) {
            if (plan.tls)
                SSL_CTX_free(plan.tls);
            return -1;
        }
        u->n_conns++;
    }
    for (int i = 0; i < u->n_conns; i++)
        for (unsigned k = 0; k < u->conns[i].n_sessions; k++)
            session_connect(&u->conns[i].sessions[k]);
    arm_claim(u, u->cfg->queue.claim_idle_ms);
    struct timeval tick = {0, 250000};
    event_add(u->tick_ev, &tick);
    return 0;
}

/* ---- reload --------------------------------------------------------- */

#define CLEAR_TAIL(field)                                                    \
    do {                                                                     \
        size_t n_ = strnlen((field), sizeof(field));                         \
        if (n_ < sizeof(field))                                              \
            memset((field) + n_, 0, sizeof(field) - n_);                     \
    } while (0)

/* 1 when <a> and <b> configure the same connector. Compared whole, so a
 * key added to struct conf_upstream is compared too; what a string left
 * past its terminator (a key set twice) is cleared first. */
static int conf_upstream_same(const struct conf_upstream *a,
                              const struct conf_upstream *b)
{
    struct conf_upstream x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    struct conf_upstream *both[2] = {&x, &y};
    for (int i = 0; i < 2; i++) {
        CLEAR_TAIL(both[i]->name);
        CLEAR_TAIL(both[i]->host);
        CLEAR_TAIL(both[i]->tls_ca);
        CLEAR_TAIL(both[i]->system_id);
        CLEAR_TAIL(both[i]->password);
        CLEAR_TAIL(both[i]->system_type);
    }
    return memcmp(&x, &y, sizeof x) == 0;
}

/* The settings slot <c> will run with once any retirement is over; NULL
 * when it is free or on its way out. */
static const struct conf_upstream *conn_target(const struct up_conn *c)
{
    if (c->state == UP_CONN_ACTIVE)
        return c->cfg;
    if (c->state == UP_CONN_RETIRING && c->next)
        return &c->next->cfg;
    return NULL;
}

static struct up_conn *conn_named(struct up *u, const char *name)
{
    for (int i = 0; i < u->n_conns; i++)
        if (u->conns[i].state != UP_CONN_FREE &&
            strcmp(u->conns[i].cfg->name, name) == 0)
            return &u->conns[i];
    return NULL;
}

/* A free slot no held message still points to (its answer may be on its
 * way to Redis under the old connector's name); slots never used first. */
static struct up_conn *free_slot(struct up *u)
{
    if (u->n_conns < UP_SLOTS)
        return &u->conns[u->n_conns];
    for (int i = 0; i < u->n_conns; i++) {
        struct up_conn *c = &u->conns[i];
        int used = 0;
        if (c->state != UP_CONN_FREE)
            continue;
        for (unsigned b = 0; b < HELD_BUCKETS && !used; b++)
            for (struct up_msg *m = u->held[b]; m && !used; m = m->hnext)
                used = m->sent_on == c;
        if (!used)
            return c;
    }
    return NULL;
}

static void note(char *out, size_t cap, const char *what, const char *name)
{
    size_t len = strlen(out);
    if (len < cap)
        snprintf(out + len, cap - len, "%supstream %s %s", len ? ", " : "",
                 name, what);
}

/* Pass 1: a plan for every connector of <next> that is new or changed;
 * nothing changes yet. -1 with <err> when one cannot be prepared. */
static int reload_prepare(struct up *u, const struct conf *next,
                          struct up_conn_plan **plans, char *err, size_t cap)
{
    int adds = 0, slots = UP_SLOTS - u->n_conns;
    for (int i = 0; i < u->n_conns; i++)
        slots += u->conns[i].state == UP_CONN_FREE;
    for (int i = 0; i < next->n_upstreams; i++) {
        const struct conf_upstream *want = &next->upstreams[i];
        struct up_conn *c = conn_named(u, want->name);
        const struct conf_upstream *now = c ? conn_target(c) : NULL;
        if (now && conf_upstream_same(now, want))
            continue;
        adds += !c;
        plans[i] = calloc(1, sizeof *plans[i]);
        if (!plans[i]) {
            snprintf(err, cap, "out of memory");
            return -1;
        }
        if (conn_prepare(want, plans[i], err, cap) != 0)
            return -1;
    }
    if (adds > slots) {
        snprintf(err, cap, "%d connector(s) to add, room for %d while removed "
                 "ones finish: reload again in a moment", adds, slots);
        return -1;
    }
    return 0;
}

int up_reload(struct up *u, const struct conf *next, char *summary,
              size_t scap, char *err, size_t ecap)
{
    struct up_conn_plan *plans[CONF_MAX_UPSTREAMS] = {NULL};
    if (scap)
        summary[0] = 0;
    if (reload_prepare(u, next, plans, err, ecap) != 0) {
        for (int i = 0; i < next->n_upstreams; i++)
            plan_free(plans[i]);
        return -1;
    }
    for (int i = 0; i < next->n_upstreams; i++) {
        const char *name = next->upstreams[i].name;
        struct up_conn *c = conn_named(u, name);
        if (!plans[i])
            continue;
        if (c) {
            conn_retire(c, plans[i]);
            note(summary, scap, "restarted", name);
        } else {
            c = free_slot(u); /* reload_prepare counted them */
            if (c == &u->conns[u->n_conns])
                u->n_conns++;
            if (conn_open(u, c, plans[i], 1) == 0)
                note(summary, scap, "added", name);
            else
                log_error(TAG, "[%s] out of memory: connector not added", name);
            plan_free(plans[i]);
        }
    }
    for (int i = 0; i < u->n_conns; i++) {
        struct up_conn *c = &u->conns[i];
        int kept = 0;
        for (int k = 0; k < next->n_upstreams && !kept; k++)
            kept = strcmp(next->upstreams[k].name, c->cfg ? c->cfg->name : "") == 0;
        if (!kept && conn_target(c)) {
            conn_retire(c, NULL);
            note(summary, scap, "removed", c->cfg->name);
        }
    }
    event_del(u->claim_ev);
    arm_claim(u, next->queue.claim_idle_ms);
    schedule_pump(u);
    return 0;
}

/* End UNKNOWN now every message on list <*head> a copy of which may have
 * been accepted (see go_waiting); the others stay on it. */
static void finish_taken_on(struct up *u, struct up_msg **head)
{
    struct up_msg *m = *head;
    while (m) {
        struct up_msg *next = m->next;
        if (maybe_taken(m)) {
            list_unlink(u, m);
            finish_unknown(u, m);
        }
        m = next;
    }
}

/* Messages waiting for a late answer, and those waiting to be sent again
 * after an unknown outcome, end UNKNOWN now (see go_waiting): a resend in
 * the next run would come after copies whose late answers no one waits
 * for any more. The drain waits for that to be written like for any
 * answer; what was never sent stays pending in the stream. */
void up_stop(struct up *u)
{
    u->stopping = 1;
    finish_taken_on(u, &u->waiting);
    finish_taken_on(u, &u->retry);
    finish_taken_on(u, &u->ready);
}

unsigned up_in_memory(const struct up *u)
{
    return u->n_held;
}

unsigned up_unanswered(const struct up *u)
{
    unsigned waiting = 0;
    for (const struct up_msg *m = u->ready; m; m = m->next)
        waiting++;
    for (const struct up_msg *m = u->retry; m; m = m->next)
        waiting++;
    /* waiting for a late answer: pending in the stream, like the others */
    waiting += u->n_waiting;
    return u->n_held - waiting;
}

unsigned up_bound_sessions(const struct up *u)
{
    unsigned n = 0;
    for (int i = 0; i < u->n_conns; i++)
        for (unsigned k = 0; u->conns[i].state == UP_CONN_ACTIVE &&
                             k < u->conns[i].n_sessions; k++)
            n += u->conns[i].sessions[k].bound &&
                 u->conns[i].sessions[k].transmitter;
    return n;
}

void up_unbind_all(struct up *u)
{
    u->stopping = 1;
    for (int i = 0; i < u->n_conns; i++)
        for (unsigned k = 0; k < u->conns[i].n_sessions; k++) {
            struct up_session *us = &u->conns[i].sessions[k];
            evtimer_del(us->reconnect_ev);
            if (us->sess)
                sess_unbind(us->sess);
        }
}

const struct up_stats *up_stats(const struct up *u)
{
    return &u->stats;
}

void up_free(struct up *u)
{
    if (!u)
        return;
    /* a session still unbinding or lingering when the loop stopped */
    u->stopping = 1;
    for (int i = 0; i < u->n_conns; i++)
        for (unsigned k = 0; k < u->conns[i].n_sessions; k++)
            if (u->conns[i].sessions[k].sess)
                sess_abort(u->conns[i].sessions[k].sess, SESS_CLOSE_LOCAL);
    for (unsigned b = 0; b < HELD_BUCKETS; b++)
        while (u->held[b])
            msg_free(u, u->held[b]);
    while (u->spare) {
        struct up_msg *m = u->spare;
        u->spare = m->next;
        free(m);
    }
    for (int i = 0; i < u->n_conns; i++)
        conn_release(&u->conns[i]);
    event_free(u->pump_ev);
    event_free(u->retry_ev);
    event_free(u->record_ev);
    event_free(u->tps_ev);
    event_free(u->claim_ev);
    event_free(u->tick_ev);
    event_free(u->retire_ev);
    event_free(u->waiting_ev);
    free(u);
}

/* ---- admin and metrics ---------------------------------------------- */

static void up_metrics(struct up *u)
{
    struct metrics *m = metrics_default();
    u->m_submits = metrics_family(m, METRICS_COUNTER,
                                  "smppbridge_upstream_submits_total",
                                  "Answers to our submit_sm upstream, by status.",
                                  "connector,status");
    u->m_rtt = metrics_family(m, METRICS_HISTOGRAM, "smppbridge_upstream_rtt_seconds",
                              "Upstream submit_sm to submit_sm_resp.", "connector");
    u->m_late = metrics_family(m, METRICS_COUNTER,
                               "smppbridge_upstream_late_responses_total",
                               "submit_sm_resp matched after resp_timeout, by status.",
                               "connector,status");
    u->m_unknown = metrics_family(m, METRICS_COUNTER,
                                  "smppbridge_upstream_unknown_outcomes_total",
                                  "Submits with an unknown outcome, by what was done: "
                                  "resent, waiting, unknown (recorded UNKNOWN).",
                                  "connector,action");
    u->m_unsendable = metrics_family(m, METRICS_COUNTER,
                                     "smppbridge_upstream_unsendable_total",
                                     "Queued messages ended REJECTED without being "
                                     "sent, by reason: body-lost, undecodable.",
                                     "reason");
    u->m_late_forgotten = metrics_family(m, METRICS_COUNTER,
                                         "smppbridge_upstream_late_forgotten_total",
                                         "Timed-out submits forgotten before their "
                                         "grace ended (late_resp_max reached).",
                                         "connector");
}

/* An answer (or its absence) to a submit_sm sent on <c> at <sent_us>. */
static void count_resp(struct up_conn *c, uint32_t status, uint64_t sent_us)
{
    const char *name = status == SESS_STATUS_TIMEOUT ? "timeout"
                       : status == SESS_STATUS_CLOSED ? "session_closed"
                                                      : pdu_status_name(status);
    if (status == ESME_ROK) {
        if (!c->m_ok)
            c->m_ok = metrics_child(c->up->m_submits,
                                    METRICS_LABELS(c->cfg->name, name));
        metrics_child_add(c->m_ok, 1);
    } else {
        metrics_add(c->up->m_submits, 1, METRICS_LABELS(c->cfg->name, name));
    }
    if (status == SESS_STATUS_TIMEOUT || status == SESS_STATUS_CLOSED)
        return;
    if (!c->m_rtt)
        c->m_rtt = metrics_child(c->up->m_rtt, METRICS_LABELS(c->cfg->name));
    metrics_child_observe(c->m_rtt, (double)(clock_mono_us() - sent_us) / 1e6);
}

void up_connectors(const struct up *u, up_connector_cb cb, void *arg)
{
    for (int i = 0; i < u->n_conns; i++) {
        const struct up_conn *c = &u->conns[i];
        struct up_connector_info info = {.name = c->cfg ? c->cfg->name : ""};
        if (c->state != UP_CONN_ACTIVE)
            continue; /* a retiring one is shown by its replacement */
        for (unsigned k = 0; k < c->n_sessions; k++) {
            const struct up_session *us = &c->sessions[k];
            if (us->bound) {
                info.bound++;
                info.window_used += sess_inflight(us->sess);
                info.window_size += us->transmitter ? c->cfg->window : 0;
            } else if (us->sess) {
                info.connecting++;
            } else {
                info.down++;
            }
        }
        cb(&info, arg);
    }
}
