/*
 * relay.c - receipts from upstream into the accounts' delivery streams,
 * and from there to the customers' receivers.
 *
 * A PDU handed over by a session is a view into its input buffer, so
 * whatever must wait for Redis is first encoded into a buffer of ours.
 */
#include "common.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "clock.h"
#include "conf.h"
#include "dlr.h"
#include "downstream.h"
#include "hash.h"
#include "log.h"
#include "pdu.h"
#include "relay.h"
#include "route.h"
#include "session.h"
#include "store.h"

#define TAG "relay"
#define ACCT_BUCKETS 256
/* Entries asked for per read of an account's stream: its receivers'
 * windows in all, within these bounds. One read is out at a time, so the
 * delivery rate is at most a read's worth per Redis round trip; that
 * trip is longest when customers submit the most (their commands share
 * the connection). Asking only for the free part of the windows left
 * the stream growing at full load: the answers that free the rest come
 * back during the trip. What does not fit is read again (the cursor
 * stays at the last entry handed out): at most a window's worth. */
#define RANGE_COUNT_MIN 64
#define RANGE_COUNT_MAX 1024
#define REDELIVER_MS 2000
#define SM_MAX 254
/* A receipt can overtake the submit_sm_resp it belongs to (another
 * session, or a fast SMSC): an unknown id is looked up again this many
 * times, 10 ms, then 100 ms, 200 ms, 400 ms... apart, before it is called
 * unknown. The first look again is soon: the usual overtaking is by a
 * receipt that came on another upstream session than its submit_sm_resp
 * and was read first; that resp is in our input already, and is handled
 * and its id map written within a few turns of the loop. */
#define LOOKUP_ATTEMPTS 7
#define LOOKUP_FIRST_MS 10u
#define LOOKUP_THEN_MS 100u

struct relay_inflight {
    char entry_id[32];
    struct relay_inflight *next;
};

/* The entries of one account handed out and not yet deleted, by entry
 * id: every entry a range read returns is looked up here, so the lookup
 * must not cost a walk over everything in flight (up to the receivers'
 * windows plus the deletes on their way). Chained, the bucket count a
 * power of two that doubles when the entries outnumber the buckets. */
struct inflight_set {
    struct relay_inflight **buckets;
    unsigned n_buckets;       /* 0 until the first entry */
    unsigned count;
};

#define INFLIGHT_MIN_BUCKETS 64

#define DEL_BATCH 128
/* One instance at a time delivers an account's stream (P:lease:{ID}),
 * so that two instances holding binds of one customer do not both send
 * an entry. The lease is renewed while delivering and lapses when the
 * holder stops, or dies. */
#define LEASE_MS 5000
#define LEASE_RENEW_MS 2000
/* Expiry: entries moved per script call (a bounded amount of work for
 * Redis at a time), and the lease that lets one instance sweep. Account
 * ids cannot hold ':', so the name is no account's. */
#define EXPIRE_BATCH 100
#define SWEEP_LEASE "relay:sweep"

/* Delivery state of one account's stream on this instance. */
struct relay_acct {
    char id[16];
    char cursor[32];          /* last entry handed out, "-" for none */
    int reading;
    unsigned range_asked;     /* entries the read out asked for */
    struct inflight_set sent; /* handed out, not yet deleted */
    struct event *again_ev;
    struct event *del_ev;     /* flushes the deletes batched below */
    struct event *pub_ev;     /* tells the other instances, once a turn */
    int leased, leasing;      /* this instance delivers the stream */
    uint64_t lease_until_ms;
    char del[DEL_BATCH][32];  /* delivered: XDEL in one command */
    unsigned n_del;
    /* The customer refused or left unanswered an entry: the stream is
     * read again from its start (where the refused ones are) only after
     * retry_ms, which doubles while refusals go on. */
    struct event *retry_ev;
    unsigned retry_ms;        /* the last pause; 0: no refusal pending */
    char failing[32];         /* oldest refused entry; "" none */
    int expiring;             /* an expiry call for this stream is out */
    struct relay *r;
    struct relay_acct *hnext;
};

struct relay {
    struct event_base *base;
    const struct conf *cfg;
    struct store *st;
    struct down *down;
    struct relay_acct *accts[ACCT_BUCKETS];
    struct route_table *routes;
    struct {
        char name[64];
        struct dlr_radix radix; /* what its receipts were seen to use */
    } radix[16];
    struct relay_stats stats;
    /* The sweep for expired entries (one instance at a time). */
    struct event *sweep_ev;
    int sweeping;
    char (*sweep_ids)[16];    /* the accounts of this sweep */
    size_t sweep_n, sweep_i;
};

static void pump(struct relay_acct *a);
static struct dlr_radix *relay_radix(struct relay *r, const char *connector);
static void on_del_flush(evutil_socket_t fd, short what, void *arg);
static void on_pub(evutil_socket_t fd, short what, void *arg);

/* ---- per-account state ---------------------------------------------- */

static unsigned acct_bucket(const char *id)
{
    unsigned h = 5381;
    for (; *id; id++)
        h = h * 33 + (unsigned char)*id;
    return h % ACCT_BUCKETS;
}

/* A look now and then: from the start of the stream, unless refused
 * entries are waiting out their pause (then only what is new). */
static void on_again(evutil_socket_t fd, short what, void *arg)
{
    struct relay_acct *a = arg;
    (void)fd;
    (void)what;
    if (!evtimer_pending(a->retry_ev, NULL))
        snprintf(a->cursor, sizeof a->cursor, "-");
    pump(a);
}

/* The pause after a refusal is over: offer the refused entries again. */
static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct relay_acct *a = arg;
    (void)fd;
    (void)what;
    snprintf(a->cursor, sizeof a->cursor, "-");
    pump(a);
}

static struct relay_acct *acct_get(struct relay *r, const char *id)
{
    unsigned b = acct_bucket(id);
    for (struct relay_acct *a = r->accts[b]; a; a = a->hnext)
        if (strcmp(a->id, id) == 0)
            return a;
    struct relay_acct *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->cursor, sizeof a->cursor, "-");
    a->r = r;
    a->again_ev = evtimer_new(r->base, on_again, a);
    a->retry_ev = evtimer_new(r->base, on_retry, a);
    a->del_ev = event_new(r->base, -1, 0, on_del_flush, a);
    a->pub_ev = event_new(r->base, -1, 0, on_pub, a);
    a->hnext = r->accts[b];
    r->accts[b] = a;
    return a;
}

static struct relay_inflight **inflight_bucket(const struct inflight_set *set,
                                               const char *entry_id)
{
    return &set->buckets[hash_str(entry_id) & (set->n_buckets - 1)];
}

static int inflight_has(const struct relay_acct *a, const char *entry_id)
{
    if (a->sent.n_buckets == 0)
        return 0;
    for (const struct relay_inflight *f = *inflight_bucket(&a->sent, entry_id);
         f; f = f->next)
        if (strcmp(f->entry_id, entry_id) == 0)
            return 1;
    return 0;
}

/* Twice the buckets (INFLIGHT_MIN_BUCKETS at first); on allocation
 * failure the set keeps its buckets and only its chains grow. */
static void inflight_grow(struct inflight_set *set)
{
    unsigned n = set->n_buckets ? set->n_buckets * 2 : INFLIGHT_MIN_BUCKETS;
    struct relay_inflight **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (unsigned i = 0; i < set->n_buckets; i++) {
        while (set->buckets[i]) {
            struct relay_inflight *f = set->buckets[i];
            struct relay_inflight **to = &b[hash_str(f->entry_id) & (n - 1)];
            set->buckets[i] = f->next;
            f->next = *to;
            *to = f;
        }
    }
    free(set->buckets);
    set->buckets = b;
    set->n_buckets = n;
}

/* <f> (owned by the set from here) into the account's set. -1 when the
 * set has no buckets and cannot get any. */
static int inflight_add(struct relay_acct *a, struct relay_inflight *f)
{
    struct inflight_set *set = &a->sent;
    if (set->count >= set->n_buckets)
        inflight_grow(set);
    if (set->n_buckets == 0)
        return -1;
    struct relay_inflight **b = inflight_bucket(set, f->entry_id);
    f->next = *b;
    *b = f;
    set->count++;
    return 0;
}

static void inflight_remove(struct relay_acct *a, const char *entry_id)
{
    if (a->sent.n_buckets == 0)
        return;
    for (struct relay_inflight **pp = inflight_bucket(&a->sent, entry_id); *pp;
         pp = &(*pp)->next) {
        if (strcmp((*pp)->entry_id, entry_id) == 0) {
            struct relay_inflight *f = *pp;
            *pp = f->next;
            free(f);
            a->sent.count--;
            return;
        }
    }
}

static void inflight_clear(struct inflight_set *set)
{
    for (unsigned i = 0; i < set->n_buckets; i++) {
        while (set->buckets[i]) {
            struct relay_inflight *f = set->buckets[i];
            set->buckets[i] = f->next;
            free(f);
        }
    }
    free(set->buckets);
    set->buckets = NULL;
    set->n_buckets = 0;
    set->count = 0;
}

/* ---- expiry --------------------------------------------------------- */

/* Stream entry ids are "MS-SEQ": MS is when Redis stored the entry. */
static int entry_id_cmp(const char *x, const char *y)
{
    unsigned long long xm = strtoull(x, NULL, 10), ym = strtoull(y, NULL, 10);
    const char *xs = strchr(x, '-'), *ys = strchr(y, '-');
    unsigned long long xq = xs ? strtoull(xs + 1, NULL, 10) : 0;
    unsigned long long yq = ys ? strtoull(ys + 1, NULL, 10) : 0;
    if (xm != ym)
        return xm < ym ? -1 : 1;
    return xq < yq ? -1 : xq > yq;
}

/* Older than [relay] ttl, on this instance's clock. The move itself is
 * judged on Redis's clock (store_dlr_expire): between the two, an entry
 * is held back for at most the difference of the clocks. */
static int entry_expired(const struct relay *r, const char *entry_id)
{
    uint64_t stored = strtoull(entry_id, NULL, 10), now = clock_wall_ms();
    return now >= stored && now - stored >= r->cfg->relay.ttl_ms;
}

/* Counted and logged with the account and the count, never the content. */
static void expired_report(struct relay *r, const char *account, unsigned n)
{
    r->stats.expired += n;
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("account", account, "reason", "expired", "count",
                         LOG_NUM(n), "total", LOG_NUM(r->stats.expired)),
              "account %s: %u entries older than ttl moved to dead letters "
              "(expired; %llu in all)",
              account, n, r->stats.expired);
}

static void acct_expire(struct relay_acct *a);

static void on_acct_expired(int status, unsigned n, void *arg)
{
    struct relay_acct *a = arg;
    a->expiring = 0;
    if (status != 0) {
        a->r->stats.store_errors++; /* the sweep or the next read retries */
        return;
    }
    if (n)
        expired_report(a->r, a->id, n);
    if (n == EXPIRE_BATCH)
        acct_expire(a); /* more may be left */
}

/* Expire what is due in <a>'s stream now (seen on the way to a receiver). */
static void acct_expire(struct relay_acct *a)
{
    struct relay *r = a->r;
    if (a->expiring)
        return;
    if (store_dlr_expire(r->st, a->id, r->cfg->relay.ttl_ms, EXPIRE_BATCH,
                         on_acct_expired, a) == 0)
        a->expiring = 1;
}

static void sweep_next(struct relay *r);

static void sweep_end(struct relay *r)
{
    free(r->sweep_ids);
    r->sweep_ids = NULL;
    r->sweep_n = r->sweep_i = 0;
    r->sweeping = 0;
}

static void on_sweep_expired(int status, unsigned n, void *arg)
{
    struct relay *r = arg;
    if (status != 0) {
        r->stats.store_errors++;
        sweep_end(r); /* the next sweep starts over */
        return;
    }
    if (n)
        expired_report(r, r->sweep_ids[r->sweep_i], n);
    if (n < EXPIRE_BATCH)
        r->sweep_i++; /* else the same account again: more may be left */
    sweep_next(r);
}

/* One account at a time, so that a sweep puts one call at a time on
 * Redis however many accounts there are. */
static void sweep_next(struct relay *r)
{
    if (r->sweep_i >= r->sweep_n ||
        store_dlr_expire(r->st, r->sweep_ids[r->sweep_i], r->cfg->relay.ttl_ms,
                         EXPIRE_BATCH, on_sweep_expired, r) != 0)
        sweep_end(r);
}

static void on_sweep_accounts(int status, const char *const *ids, size_t n,
                              void *arg)
{
    struct relay *r = arg;
    if (status != 0 || n == 0 ||
        !(r->sweep_ids = calloc(n, sizeof r->sweep_ids[0]))) {
        sweep_end(r);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strlen(ids[i]) < sizeof r->sweep_ids[0])
            snprintf(r->sweep_ids[r->sweep_n++], sizeof r->sweep_ids[0], "%s",
                     ids[i]);
    sweep_next(r);
}

static void on_sweep_lease(int status, int granted, void *arg)
{
    struct relay *r = arg;
    if (status != 0 || !granted ||
        store_account_ids(r->st, on_sweep_accounts, r) != 0)
        sweep_end(r); /* another instance sweeps, or Redis is away */
}

/* The next sweep in sweep_interval, as configured now (a reload may
 * change it; the configuration is read through its pointer). */
static int sweep_arm(struct relay *r)
{
    unsigned every = r->cfg->relay.sweep_interval_ms;
    struct timeval tv = {(time_t)(every / 1000),
                         (suseconds_t)(every % 1000) * 1000};
    return evtimer_add(r->sweep_ev, &tv);
}

/* Every sweep_interval: the instance holding the sweep lease (kept for two
 * intervals, renewed at each) expires what is due in every account's
 * stream, bound or not. */
static void on_sweep_tick(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    unsigned interval = r->cfg->relay.sweep_interval_ms;
    (void)fd;
    (void)what;
    sweep_arm(r);
    if (r->sweeping)
        return; /* the last one is still going */
    if (store_lease(r->st, SWEEP_LEASE, store_consumer(r->st), 2 * interval,
                    on_sweep_lease, r) == 0)
        r->sweeping = 1;
}

/* ---- to the customers ----------------------------------------------- */

struct delivery {
    struct relay_acct *a;
    char entry_id[32];
};

static void on_deleted(int status, void *arg)
{
    (void)status; /* not deleted: delivered again later, at least once */
    (void)arg;
}

struct del_wait {
    struct relay_acct *a;
    unsigned n;
    char ids[DEL_BATCH][32];
};

/* The entries leave the in-flight set only once Redis deleted them, so
 * that a re-read in between cannot hand them out again. */
static void on_batch_deleted(int status, void *arg)
{
    struct del_wait *w = arg;
    (void)status;
    for (unsigned i = 0; i < w->n; i++)
        inflight_remove(w->a, w->ids[i]);
    free(w);
}

/* Delete what was delivered, in one XDEL; the entries stay in the
 * in-flight set until then, so a re-read cannot hand them out again. */
static void del_flush(struct relay_acct *a)
{
    const char *ids[DEL_BATCH];
    if (a->n_del == 0)
        return;
    struct del_wait *w = malloc(sizeof *w);
    for (unsigned i = 0; i < a->n_del; i++)
        ids[i] = a->del[i];
    if (w) {
        w->a = a;
        w->n = a->n_del;
        memcpy(w->ids, a->del, sizeof w->ids[0] * a->n_del);
    }
    if (!w || store_dlr_del(a->r->st, a->id, ids, a->n_del, on_batch_deleted,
                            w) != 0) {
        free(w);
        for (unsigned i = 0; i < a->n_del; i++)
            inflight_remove(a, a->del[i]); /* delivered again later */
    }
    a->n_del = 0;
}

static void on_del_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    del_flush(arg);
}

static void del_later(struct relay_acct *a, const char *entry_id)
{
    snprintf(a->del[a->n_del], sizeof a->del[0], "%s", entry_id);
    if (++a->n_del == DEL_BATCH)
        del_flush(a);
    else if (a->n_del == 1)
        event_active(a->del_ev, EV_TIMEOUT, 1); /* after this loop turn */
}

static void redeliver_later(struct relay_acct *a)
{
    struct timeval tv = {REDELIVER_MS / 1000, 0};
    if (!evtimer_pending(a->again_ev, NULL))
        evtimer_add(a->again_ev, &tv);
}

/* The refused entry has expired (moved to P:dead by now, or soon): it
 * no longer holds the account's pause up. */
static void failing_forget_if_expired(struct relay_acct *a)
{
    if (a->failing[0] && entry_expired(a->r, a->failing)) {
        a->failing[0] = 0;
        a->retry_ms = 0;
    }
}

/*
 * The customer refused <entry_id> with <status> (or left it unanswered,
 * or its session closed). The refused entries are offered again once a
 * pause is over: retry_min first, doubling up to retry_max while
 * refusals go on, back to retry_min once the oldest refused entry is
 * taken (or expires). Only the rewind waits: entries stored meanwhile go
 * out at once. Refusals that come while a pause is running are part of
 * the same round (a window's worth of them doubles the pause once).
 */
static void retry_later(struct relay_acct *a, const char *entry_id,
                        uint32_t status)
{
    const struct conf_relay *rc = &a->r->cfg->relay;
    failing_forget_if_expired(a);
    if (!a->failing[0] || entry_id_cmp(entry_id, a->failing) < 0)
        snprintf(a->failing, sizeof a->failing, "%s", entry_id);
    if (evtimer_pending(a->retry_ev, NULL))
        return;
    if (a->retry_ms == 0)
        a->retry_ms = rc->retry_min_ms;
    else
        a->retry_ms = a->retry_ms >= rc->retry_max_ms / 2 ? rc->retry_max_ms
                                                         : a->retry_ms * 2;
    struct timeval tv = {(time_t)(a->retry_ms / 1000),
                         (suseconds_t)(a->retry_ms % 1000) * 1000};
    evtimer_add(a->retry_ev, &tv);
    const char *why = status == SESS_STATUS_TIMEOUT  ? "no answer"
                      : status == SESS_STATUS_CLOSED ? "session closed"
                                                     : pdu_status_name(status);
    log_event(LOG_INFO, TAG,
              LOG_FIELDS("account", a->id, "status", why, "retry_ms",
                         LOG_NUM(a->retry_ms)),
              "account %s: deliver_sm not taken (%s): offered again in %u ms",
              a->id, why, a->retry_ms);
}

static void on_delivered(struct sess *s, const struct pdu *resp,
                         uint32_t status, void *arg)
{
    struct delivery *dv = arg;
    struct relay_acct *a = dv->a;
    struct relay *r = a->r;
    (void)resp;
    if (status == ESME_ROK) {
        r->stats.receipts_delivered++;
        down_note_delivered(s); /* the session's counter (admin) */
        if (strcmp(a->failing, dv->entry_id) == 0) {
            a->failing[0] = 0; /* taken at last: the pause starts over */
            a->retry_ms = 0;
        }
        del_later(a, dv->entry_id);
        pump(a);
    } else {
        inflight_remove(a, dv->entry_id);
        r->stats.receipts_redelivered++;
        retry_later(a, dv->entry_id, status);
    }
    free(dv);
}

/* Send one stored deliver_sm to a receiver; 1 sent, 0 no room, -1 bad
 * or expired (never sent: moved to the dead letters). */
static int deliver_entry(struct relay_acct *a, const struct store_entry *e)
{
    struct relay *r = a->r;
    if (entry_expired(r, e->id)) {
        failing_forget_if_expired(a);
        acct_expire(a);
        return -1;
    }
    struct sess *s = down_pick_receiver(r->down, a->id);
    struct pdu p;
    if (!s)
        return 0;
    if (pdu_decode(e->pdu, e->pdu_len, &p) != ESME_ROK) {
        const char *id = e->id;
        store_dlr_del(r->st, a->id, &id, 1, on_deleted, NULL);
        return -1;
    }
    if (sess_peer_version(s) < 0x34)
        p.tlv_count = 0; /* a 3.3 client gets no TLVs: they came with 3.4 */
    struct delivery *dv = calloc(1, sizeof *dv);
    struct relay_inflight *f = calloc(1, sizeof *f);
    if (!dv || !f) {
        free(dv);
        free(f);
        return 0;
    }
    dv->a = a;
    snprintf(dv->entry_id, sizeof dv->entry_id, "%s", e->id);
    snprintf(f->entry_id, sizeof f->entry_id, "%s", e->id);
    if (inflight_add(a, f) != 0) {
        free(dv);
        free(f);
        return 0;
    }
    if (sess_send(s, &p, on_delivered, dv, NULL) != 0) {
        inflight_remove(a, e->id); /* frees <f> */
        free(dv);
        return 0;
    }
    return 1;
}

static void on_range(int status, const struct store_entry *e, size_t n,
                     void *arg)
{
    struct relay_acct *a = arg;
    size_t i;
    a->reading = 0;
    if (status != 0) {
        a->r->stats.store_errors++;
        redeliver_later(a);
        return;
    }
    for (i = 0; i < n; i++) {
        if (!inflight_has(a, e[i].id) && deliver_entry(a, &e[i]) == 0)
            break; /* no receiver with room: continue from here later */
        snprintf(a->cursor, sizeof a->cursor, "%s", e[i].id);
    }
    if (i == n && n == a->range_asked)
        pump(a);
    else if (down_has_receiver(a->r->down, a->id))
        redeliver_later(a); /* a look now and then: nothing waits for ever */
}

static void on_lease(int status, int granted, void *arg)
{
    struct relay_acct *a = arg;
    a->leasing = 0;
    a->leased = status == 0 && granted;
    if (!a->leased) {
        redeliver_later(a); /* another instance delivers; try again later */
        return;
    }
    a->lease_until_ms = clock_mono_ms() + LEASE_MS;
    pump(a);
}

static void pump(struct relay_acct *a)
{
    struct relay *r = a->r;
    if (a->reading || a->leasing)
        return;
    if (!down_has_receiver(r->down, a->id)) {
        if (a->leased) /* nobody here to deliver to: let another take it */
            store_lease_release(r->st, a->id, store_consumer(r->st));
        a->leased = 0;
        return;
    }
    if (!a->leased || clock_mono_ms() + LEASE_MS - LEASE_RENEW_MS > a->lease_until_ms) {
        if (store_lease(r->st, a->id, store_consumer(r->st), LEASE_MS, on_lease,
                        a) == 0)
            a->leasing = 1;
        return;
    }
    unsigned window = down_receiver_window(r->down, a->id);
    a->range_asked = window < RANGE_COUNT_MIN   ? RANGE_COUNT_MIN
                     : window > RANGE_COUNT_MAX ? RANGE_COUNT_MAX
                                                : window;
    if (store_dlr_range(r->st, a->id, a->cursor, a->range_asked, on_range,
                        a) == 0)
        a->reading = 1;
    else
        redeliver_later(a); /* Redis away: try again, do not stop for good */
}

/* Another instance may hold this account's binds: tell them all. */
static void on_pub(evutil_socket_t fd, short what, void *arg)
{
    struct relay_acct *a = arg;
    (void)fd;
    (void)what;
    store_publish(a->r->st, "dlr", a->id);
}

void relay_receiver_ready(void *relay, const char *account)
{
    struct relay_acct *a = acct_get(relay, account);
    if (a)
        pump(a);
}

/* ---- from upstream -------------------------------------------------- */

struct incoming {
    struct relay *r;
    struct sess *sess;        /* upstream session, referenced */
    uint32_t command_id, seq;
    uint8_t *raw;
    size_t len;
    struct store_idmap map;
    const struct conf_upstream *conn;
    char cand[DLR_ID_FORMS_MAX][DLR_ID_MAX + 1];
    int kind[DLR_ID_FORMS_MAX];     /* enum dlr_id_kind of each */
    size_t n_cand;
    unsigned lookups;
};

static void incoming_finish(struct incoming *in, uint32_t status)
{
    if (status == ESME_ROK)
        in->r->stats.upstream_acked++;
    if (sess_answering(in->sess)) /* a closing session still answers */
        sess_reply(in->sess, in->command_id, in->seq, status, NULL);
    sess_unref(in->sess);
    free(in->raw);
    free(in);
}

/* Acknowledge upstream only once the dead letter is in Redis; if Redis
 * does not take it, upstream is asked to send it again. */
static void on_dead_stored(int status, void *arg)
{
    incoming_finish(arg, status == 0 ? ESME_ROK : ESME_RX_T_APPN);
}

static void dead_letter(struct incoming *in, const char *reason)
{
    if (store_dead_add(in->r->st, reason, in->raw, in->len, on_dead_stored,
                       in) != 0)
        incoming_finish(in, ESME_RX_T_APPN);
}

/* The receipt's text: short_message, or message_payload when
 * short_message is empty (some SMSCs send it there). */
static struct pdu_view receipt_text(const struct pdu *p, int *in_payload)
{
    const struct pdu_tlv *t = pdu_tlv_find(p, PDU_TLV_MESSAGE_PAYLOAD);
    *in_payload = 0;
    if (p->short_message.len == 0 && t) {
        struct pdu_view v = {t->val, t->len};
        *in_payload = 1;
        return v;
    }
    return p->short_message;
}

/* The message state a receipt reports: TLV first, then the text. */
static int receipt_state(const struct pdu *p)
{
    uint8_t st;
    if (pdu_tlv_u8(p, PDU_TLV_MESSAGE_STATE, &st) == 0)
        return st;
    int in_payload;
    struct pdu_view text = receipt_text(p, &in_payload);
    struct dlr_receipt d;
    if (dlr_parse((const char *)text.ptr, text.len, &d) == 0 && d.stat.present)
        return dlr_stat_to_state((const char *)text.ptr + d.stat.off, d.stat.len);
    return -1;
}

/* registered_delivery (SMPP 3.4 §5.2.17) against what the receipt says. */
static int receipt_wanted(uint8_t rd, const struct pdu *p)
{
    int state = receipt_state(p);
    if ((p->esm_class & 0x3C) == 0x20 || state == DLR_STATE_ENROUTE ||
        state == DLR_STATE_SCHEDULED)
        return (rd & 0x10) != 0;
    switch (rd & 0x03) {
    case 1: return 1;
    case 2: return state != DLR_STATE_DELIVERED;
    case 3: return state == DLR_STATE_DELIVERED;
    default: return 0;
    }
}

/* The network error code a receipt gives: the TLV, else err: in text. */
static unsigned receipt_error(const struct pdu *p)
{
    const struct pdu_tlv *t = pdu_tlv_find(p, PDU_TLV_NETWORK_ERROR_CODE);
    if (t && t->len == 3)
        return (unsigned)t->val[1] << 8 | t->val[2];
    int in_payload;
    struct pdu_view text = receipt_text(p, &in_payload);
    struct dlr_receipt d;
    unsigned err = 0;
    if (dlr_parse((const char *)text.ptr, text.len, &d) == 0 && d.err.present)
        for (size_t i = 0; i < d.err.len; i++) {
            char ch = (char)text.ptr[d.err.off + i];
            if (ch < '0' || ch > '9')
                return 0; /* some SMSCs put hex or words there */
            err = err * 10 + (unsigned)(ch - '0');
            if (err > 0xFFFF)
                return 0;
        }
    return err;
}

/* A receipt the customer did not ask for: only its state was kept. */
static void on_state_stored(int status, void *arg)
{
    struct incoming *in = arg;
    if (status != 0)
        in->r->stats.store_errors++;
    incoming_finish(in, status == 0 ? ESME_ROK : ESME_RX_T_APPN);
}

static void on_receipt_stored(int status, void *arg)
{
    struct incoming *in = arg;
    struct relay *r = in->r;
    if (status != 0) {
        if (status != STORE_FULL) /* a full stream is logged by the store */
            r->stats.store_errors++;
        incoming_finish(in, ESME_RX_T_APPN); /* upstream resends it */
        return;
    }
    r->stats.receipts_stored++;
    struct relay_acct *a = acct_get(r, in->map.account);
    incoming_finish(in, ESME_ROK);
    if (!a)
        return;
    if (down_has_receiver(r->down, a->id) && a->leased)
        pump(a);
    else if (!event_pending(a->pub_ev, EV_TIMEOUT, NULL))
        event_active(a->pub_ev, EV_TIMEOUT, 1); /* one PUBLISH per turn */
}

/* Put our id into the text and the TLV; keep every other byte. */
static int rewrite_receipt(struct pdu *p, const char *our_id, char *text_buf,
                           size_t cap)
{
    int in_payload;
    struct pdu_view text = receipt_text(p, &in_payload);
    int n = dlr_rewrite_id((const char *)text.ptr, text.len, our_id,
                           strlen(our_id), text_buf, cap);
    if (n >= 0) {
        if (in_payload || n > SM_MAX) {
            p->short_message.len = 0;
            if (pdu_tlv_set(p, PDU_TLV_MESSAGE_PAYLOAD, text_buf, (uint16_t)n) != 0)
                return -1;
        } else {
            p->short_message.ptr = (const uint8_t *)text_buf;
            p->short_message.len = (size_t)n;
        }
    }
    return pdu_tlv_set(p, PDU_TLV_RECEIPTED_MESSAGE_ID, our_id,
                       (uint16_t)(strlen(our_id) + 1));
}

static void lookup(struct incoming *in);

static void on_lookup_again(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lookup(arg);
}

/* The delay before lookup number <n> (1 first) of an id not found yet:
 * LOOKUP_FIRST_MS, then LOOKUP_THEN_MS doubling per attempt. */
static struct timeval lookup_delay(unsigned n)
{
    if (n <= 1)
        return clock_tv_ms(LOOKUP_FIRST_MS);
    return clock_tv_ms((uint64_t)LOOKUP_THEN_MS << (n - 2));
}

/*
 * Which mapped candidate a receipt means (dlr_id_pick): one match, or the
 * one in the radix the connector was seen to use. Anything else is not
 * guessed: the receipt goes to dead letters with <*reason> - several
 * messages match (maybe of several customers), only the radix the
 * connector does not use matches, or the id was given to two messages.
 */
static const struct store_idmap *pick_mapping(struct relay *r,
                                              const struct incoming *in,
                                              const struct store_idmap *m,
                                              size_t n, const char **reason)
{
    int kind[DLR_ID_FORMS_MAX];
    size_t pick = 0;
    struct dlr_radix *radix = relay_radix(r, in->conn->name);
    struct dlr_radix trial = {-1, 0};
    if (radix)
        trial = *radix;
    if (n > DLR_ID_FORMS_MAX)
        n = DLR_ID_FORMS_MAX;
    for (size_t i = 0; i < n; i++)
        kind[i] = m[i].candidate < in->n_cand ? in->kind[m[i].candidate]
                                              : DLR_ID_OTHER_RADIX;
    enum dlr_pick verdict = dlr_id_pick(&trial, kind, n, &pick);
    /* a receipt that overtook its own submit_sm_resp may meanwhile match
     * only another message in the other radix: looked up again before it
     * is refused, and only the refusal counts against what was learnt */
    if (verdict == DLR_PICK_RADIX_MISMATCH && in->lookups + 1 < LOOKUP_ATTEMPTS)
        return NULL;
    if (radix)
        *radix = trial;
    switch (verdict) {
    case DLR_PICK_OK:
        break;
    case DLR_PICK_AMBIGUOUS:
        *reason = "receipt-ambiguous-id";
        return NULL;
    case DLR_PICK_RADIX_MISMATCH:
        *reason = "receipt-radix-mismatch";
        return NULL;
    default:
        return NULL; /* none: looked up again, then unknown */
    }
    if (m[pick].collided) {
        *reason = "receipt-id-collision";
        return NULL;
    }
    return &m[pick];
}

/* Store the receipt <p> of message <m> with our id in place of
 * upstream's: the one PDU of the path whose fields change, so it is
 * encoded again (at its own size); <text> holds the new receipt text. */
static void store_rewritten(struct incoming *in, struct pdu *p,
                            const struct store_idmap *m, const char *final,
                            unsigned err, char *text, size_t text_cap)
{
    struct relay *r = in->r;
    struct pdu_scratch sc = {.heap = NULL};
    const uint8_t *out;
    size_t n;
    if (rewrite_receipt(p, m->msg_id, text, text_cap) != 0 ||
        !(out = pdu_encode_scratch(p, &sc, &n))) {
        pdu_scratch_free(&sc);
        dead_letter(in, "receipt-unencodable");
        return;
    }
    int queued = store_receipt_add(r->st, m, final, clock_loop_wall_ms(),
                                   err, out, n, on_receipt_stored, in);
    pdu_scratch_free(&sc);
    if (queued != 0)
        on_receipt_stored(-1, in);
}

static void on_idmap(int status, const struct store_idmap *found, size_t nfound,
                     void *arg)
{
    struct incoming *in = arg;
    struct relay *r = in->r;
    const struct store_idmap *m = found;
    struct pdu p;
    char text[2 * SM_MAX + DLR_ID_MAX];
    if (status != 0) {
        r->stats.store_errors++;
        incoming_finish(in, ESME_RX_T_APPN);
        return;
    }
    const char *reason = NULL;
    m = nfound ? pick_mapping(r, in, found, nfound, &reason) : NULL;
    if (reason) {
        r->stats.receipts_unknown++;
        log_event(LOG_WARN, TAG,
                  LOG_FIELDS("connector", in->conn->name, "reason", reason),
                  "receipt not matched to one message (%s): kept in dead letters",
                  reason);
        dead_letter(in, reason);
        return;
    }
    if (!m && ++in->lookups < LOOKUP_ATTEMPTS) {
        struct timeval tv = lookup_delay(in->lookups);
        event_base_once(r->base, -1, EV_TIMEOUT, on_lookup_again, in, &tv);
        return;
    }
    if (!m) {
        r->stats.receipts_unknown++;
        log_event(LOG_WARN, TAG,
                  LOG_FIELDS("connector", in->conn->name, "reason", "receipt-unknown-id"),
                  "receipt for an unknown upstream id: kept in dead letters");
        dead_letter(in, "receipt-unknown-id"); /* never stall the pipe */
        return;
    }
    /* a final receipt ends the message's life here (query_sm, the CDR),
     * whether or not the customer asked to see it */
    int decoded = pdu_decode(in->raw, in->len, &p) == ESME_ROK;
    int state = decoded ? receipt_state(&p) : -1;
    const char *final = dlr_state_is_final(state) ? dlr_state_name(state) : NULL;
    unsigned err = final ? receipt_error(&p) : 0;
    in->map = *m;
    if (!decoded || !receipt_wanted(m->registered_delivery, &p)) {
        r->stats.receipts_unwanted++;
        if (!final)
            incoming_finish(in, ESME_ROK);
        else if (store_receipt_add(r->st, m, final, clock_loop_wall_ms(), err,
                                   NULL, 0, on_state_stored, in) != 0)
            on_state_stored(-1, in);
        return;
    }
    store_rewritten(in, &p, m, final, err, text, sizeof text);
}

/* The forms an upstream id may be stored under (dlr_id_lookup_forms):
 * its key, and the other radix when the connector's dlr_id_format allows
 * it. */
static size_t id_candidates(const char *id, size_t len,
                            const struct conf_upstream *c,
                            char out[][DLR_ID_MAX + 1], int kind[])
{
    unsigned allow = (c->dlr_id_format != CONF_ID_HEX ? DLR_FORMS_DEC_TO_HEX : 0) |
                     (c->dlr_id_format != CONF_ID_DEC ? DLR_FORMS_HEX_TO_DEC : 0);
    return dlr_id_lookup_forms(id, len, c->dlr_id_fold_case, allow, out, kind,
                               DLR_ID_FORMS_MAX);
}

/* The upstream id a receipt names: the receipted_message_id TLV first
 * (some SMSCs put the id only there), then the text. */
static int receipt_upstream_id(const struct pdu *p, struct pdu_view *id)
{
    if (pdu_tlv_cstr(p, PDU_TLV_RECEIPTED_MESSAGE_ID, id) == 0 && id->len)
        return 0;
    int in_payload;
    struct pdu_view text = receipt_text(p, &in_payload);
    struct dlr_receipt d;
    if (dlr_parse((const char *)text.ptr, text.len, &d) != 0 || !d.id.present ||
        d.id.len == 0)
        return -1;
    id->ptr = text.ptr + d.id.off;
    id->len = d.id.len;
    return 0;
}

/* An inbound message (MO): to the account that owns its destination
 * (longest prefix), stored before upstream gets its deliver_sm_resp;
 * unroutable ones are kept in P:dead, counted and acknowledged, so the
 * upstream pipe never stalls. The PDU reaches the customer as upstream
 * sent it: source, destination, data_coding, UDH and TLVs. */
static void route_inbound(struct relay *r, struct incoming *in,
                          const struct pdu *p)
{
    const char *acct = route_lookup(r->routes, (const char *)p->destination_addr.ptr,
                                    p->destination_addr.len);
    if (!acct) {
        r->stats.mo_unrouted++;
        log_event(LOG_WARN, TAG,
                  LOG_FIELDS("reason", "mo-unrouted"),
                  "inbound message for an unrouted number: kept in dead letters");
        dead_letter(in, "mo-unrouted");
        return;
    }
    r->stats.mo_routed++;
    snprintf(in->map.account, sizeof in->map.account, "%s", acct);
    if (store_dlr_add(r->st, acct, in->raw, in->len, 1, on_receipt_stored, in) != 0)
        on_receipt_stored(-1, in);
}

static void on_routes(int status, const char *const *prefixes,
                      const char *const *accounts, size_t n, void *arg)
{
    struct relay *r = arg;
    if (status != 0 || route_table_set(r->routes, prefixes, accounts, n) != 0) {
        log_warn(TAG, "inbound routing table not loaded");
        return;
    }
    log_event(LOG_INFO, TAG, LOG_FIELDS("prefixes", LOG_NUM(n)),
              "inbound routing: %zu number prefixes", n);
}

void relay_reload_routes(void *relay)
{
    struct relay *r = relay;
    store_routes_load(r->st, on_routes, r);
}

static struct incoming *incoming_new(struct relay *r, struct sess *s,
                                     const struct pdu *p)
{
    struct incoming *in = calloc(1, sizeof *in);
    struct pdu_scratch sc = {.heap = NULL};
    size_t n = 0;
    /* the bytes as upstream sent them; encoded only when there are none */
    const uint8_t *bytes = sess_request_bytes(s, p, &n);
    if (!bytes)
        bytes = pdu_encode_scratch(p, &sc, &n);
    if (!in || !bytes || !(in->raw = malloc(n))) {
        pdu_scratch_free(&sc);
        free(in);
        return NULL;
    }
    memcpy(in->raw, bytes, n);
    in->len = n;
    pdu_scratch_free(&sc);
    in->r = r;
    in->sess = s;
    in->command_id = p->command_id;
    in->seq = p->sequence_number;
    sess_ref(s);
    return in;
}

void relay_on_upstream_deliver(void *relay, struct sess *s,
                               const struct conf_upstream *c,
                               const struct pdu *p)
{
    struct relay *r = relay;
    int receipt = (p->esm_class & 0x3C) == 0x04 || (p->esm_class & 0x3C) == 0x20;
    struct incoming *in = incoming_new(r, s, p);
    struct pdu_view id;
    if (!in) {
        sess_reply(s, p->command_id, p->sequence_number, ESME_RX_T_APPN, NULL);
        return;
    }
    if (!receipt) {
        route_inbound(r, in, p);
        return;
    }
    if (receipt_upstream_id(p, &id) != 0) {
        r->stats.receipts_unknown++;
        dead_letter(in, "receipt-without-id");
        return;
    }
    r->stats.receipts_in++;
    in->conn = c;
    in->n_cand = id_candidates((const char *)id.ptr, id.len, c, in->cand,
                               in->kind);
    if (in->n_cand == 0) {
        in->lookups = LOOKUP_ATTEMPTS;
        on_idmap(0, NULL, 0, in);
        return;
    }
    lookup(in);
}

static void lookup(struct incoming *in)
{
    const char *keys[DLR_ID_FORMS_MAX];
    for (size_t i = 0; i < in->n_cand; i++)
        keys[i] = in->cand[i];
    if (sess_state(in->sess) == SESS_CLOSED) {
        incoming_finish(in, ESME_RX_T_APPN); /* upstream resends it */
        return;
    }
    if (store_idmap_find(in->r->st, in->conn->name, keys, in->n_cand, on_idmap,
                         in) != 0)
        on_idmap(-1, NULL, 0, in);
}

/* ---- receipts for messages upstream refused -------------------------- */

struct failure_wait {
    void (*done)(void *);
    void *done_arg;
    struct relay *r;
    char account[16];
    size_t len;
    uint8_t pdu[1024];
};

static void store_failure_receipt(struct failure_wait *w);

static void on_failure_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    store_failure_receipt(arg);
}

/* The receipt must be stored before the message leaves the queue: a
 * failed write is tried again until Redis takes it. */
static void on_failure_stored(int status, void *arg)
{
    struct failure_wait *w = arg;
    if (status != 0) {
        struct timeval tv = {1, 0};
        w->r->stats.store_errors++;
        event_base_once(w->r->base, -1, EV_TIMEOUT, on_failure_retry, w, &tv);
        return;
    }
    w->r->stats.failure_receipts++;
    struct relay_acct *a = acct_get(w->r, w->account);
    if (a)
        pump(a);
    w->done(w->done_arg);
    free(w);
}

static void store_failure_receipt(struct failure_wait *w)
{
    if (store_dlr_add(w->r->st, w->account, w->pdu, w->len, 0, on_failure_stored,
                      w) != 0)
        on_failure_stored(-1, w);
}

static void format_date(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%02d%02d%02d%02d%02d", tm.tm_year % 100, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min);
}

static struct dlr_str dstr(const char *s)
{
    struct dlr_str v = {s, strlen(s)};
    return v;
}

/* 1 when <status> says upstream may have taken the message: it was
 * accepted without a usable id, or never answered (timed out, session
 * lost after the submit was written). Never a rejection. */
static int outcome_unknown(uint32_t status)
{
    return status == ESME_ROK || status == SESS_STATUS_TIMEOUT ||
           status == SESS_STATUS_CLOSED;
}

/* A REJECTD receipt naming the upstream's command_status in err:, or,
 * when the outcome is unknown, stat:UNKNOWN (message_state UNKNOWN) with
 * err:000: the customer must not be told that an SMS it may be billed
 * for was refused. */
static size_t build_failure_receipt(const struct pdu *sub, const char *msg_id,
                                    uint32_t status, uint8_t *out, size_t cap)
{
    char sdate[32], ddate[32], err[16], text[256];
    int unknown = outcome_unknown(status);
    uint8_t state = unknown ? DLR_STATE_UNKNOWN : DLR_STATE_REJECTED;
    uint8_t net_err[3] = {7, (uint8_t)(status >> 8), (uint8_t)status};
    time_t now = time(NULL);
    format_date(now, sdate, sizeof sdate);
    format_date(now, ddate, sizeof ddate);
    snprintf(err, sizeof err, "%03u", unknown ? 0 : status & 0xFFF);
    struct dlr_info info = {
        .id = dstr(msg_id), .sub = 1, .dlvrd = 0, .submit_date = dstr(sdate),
        .done_date = dstr(ddate), .stat = dstr(unknown ? "UNKNOWN" : "REJECTD"),
        .err = dstr(err), .text = dstr(""),
    };
    int n = dlr_format(&info, text, sizeof text);
    if (n < 0)
        return 0;
    struct pdu p;
    pdu_init(&p, PDU_DELIVER_SM, 0);
    p.source_addr_ton = sub->dest_addr_ton;
    p.source_addr_npi = sub->dest_addr_npi;
    p.source_addr = sub->destination_addr;
    p.dest_addr_ton = sub->source_addr_ton;
    p.dest_addr_npi = sub->source_addr_npi;
    p.destination_addr = sub->source_addr;
    p.esm_class = 0x04;
    p.short_message.ptr = (const uint8_t *)text;
    p.short_message.len = (size_t)n;
    pdu_tlv_add(&p, PDU_TLV_RECEIPTED_MESSAGE_ID, msg_id, (uint16_t)(strlen(msg_id) + 1));
    pdu_tlv_add(&p, PDU_TLV_MESSAGE_STATE, &state, 1);
    if (!unknown) /* no network said anything */
        pdu_tlv_add(&p, PDU_TLV_NETWORK_ERROR_CODE, net_err, 3);
    return pdu_encode(&p, out, cap);
}

void relay_on_failed(void *relay, const char *account, const char *msg_id,
                     const uint8_t *raw, size_t len, uint32_t status,
                     void (*done)(void *), void *done_arg)
{
    struct relay *r = relay;
    struct pdu sub;
    struct failure_wait *w = calloc(1, sizeof *w);
    if (w && pdu_decode(raw, len, &sub) == ESME_ROK &&
        ((sub.registered_delivery & 0x03) == 1 ||
         (sub.registered_delivery & 0x03) == 2))
        w->len = build_failure_receipt(&sub, msg_id, status, w->pdu,
                                       sizeof w->pdu);
    if (!w || w->len == 0) { /* no receipt asked for (or none possible) */
        free(w);
        done(done_arg);
        return;
    }
    w->done = done;
    w->done_arg = done_arg;
    w->r = r;
    snprintf(w->account, sizeof w->account, "%s", account);
    store_failure_receipt(w);
}

/* What a connector's receipts were seen to use (pick_mapping). */
static struct dlr_radix *relay_radix(struct relay *r, const char *connector)
{
    for (size_t i = 0; i < ARRAY_LEN(r->radix); i++) {
        if (!r->radix[i].name[0]) {
            snprintf(r->radix[i].name, sizeof r->radix[i].name, "%s", connector);
            r->radix[i].radix.kind = -1;
            r->radix[i].radix.against = 0;
        }
        if (strcmp(r->radix[i].name, connector) == 0)
            return &r->radix[i].radix;
    }
    return NULL;
}

/* ---- life cycle ----------------------------------------------------- */

struct relay *relay_new(struct event_base *base, const struct conf *cfg,
                        struct store *st, struct down *down)
{
    struct relay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->base = base;
    r->cfg = cfg;
    r->st = st;
    r->down = down;
    r->routes = route_table_new();
    if (!r->routes) {
        free(r);
        return NULL;
    }
    r->sweep_ev = evtimer_new(base, on_sweep_tick, r);
    if (!r->sweep_ev || sweep_arm(r) != 0) {
        if (r->sweep_ev)
            event_free(r->sweep_ev);
        route_table_free(r->routes);
        free(r);
        return NULL;
    }
    return r;
}

void relay_free(struct relay *r)
{
    if (!r)
        return;
    for (unsigned b = 0; b < ACCT_BUCKETS; b++) {
        while (r->accts[b]) {
            struct relay_acct *a = r->accts[b];
            r->accts[b] = a->hnext;
            inflight_clear(&a->sent);
            event_free(a->again_ev);
            event_free(a->retry_ev);
            event_free(a->del_ev);
            event_free(a->pub_ev);
            free(a);
        }
    }
    route_table_free(r->routes);
    event_free(r->sweep_ev);
    free(r->sweep_ids);
    free(r);
}

const struct relay_stats *relay_stats(const struct relay *r)
{
    return &r->stats;
}
