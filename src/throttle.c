/*
 * throttle.c - local pools of tokens leased from Redis token buckets.
 *
 * A bucket here is only what this instance holds: tokens leased and not
 * used, whether a lease is on its way, and the rate last asked for.
 * Leased tokens unused for a second go back to nobody (they are
 * dropped): an idle instance must not sit on capacity the others need,
 * and the waste is bounded by one small lease per instance.
 *
 * A daily quota here is what this instance holds of an account's day:
 * tokens leased from the day's counter and not used yet. They are not
 * dropped after a second like rate tokens (the day's count already has
 * them), only when the day ends. Redis granting less than asked means
 * the day's quota is used up: from then on the answer is "reached" at
 * once, and Redis is asked again only once a second (someone may have
 * reset the count) or when the quota given changes.
 */
#include "common.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "store.h"
#include "throttle.h"

#define BUCKETS 1024
#define LEASE_DIVISOR 20     /* a lease is 1/20 s of the rate */
#define POOL_TTL_MS 1000
/* A pool this old is renewed before it lapses: an account sending far
 * below its rate never drains half a lease, and without this its pool
 * would lapse once a second and refuse a submit while the next lease is
 * on its way. The fresh lease replaces what is left of the old one, so
 * tokens still live about a second and an instance holds one lease. */
#define POOL_RENEW_MS 900
/* An instance asks for a lease at most this often, whatever it holds:
 * instances then ask equally often and share the rate fairly, instead of
 * the quickest asker taking every token as it comes. A lease (1/20 s)
 * is twice what one instance can use in that time at full rate.
 * Each gap is drawn anew between 1/2 and 3/2 of this: with a fixed gap two
 * busy instances fall into step, and the one that asks just after the
 * other finds the bucket nearly empty every time (seen: 30/70 shares). */
#define LEASE_INTERVAL_MS 25

#define QUOTAS 1024
#define QUOTA_BATCH_DIVISOR 100  /* a batch is 1/100 of the quota... */
#define QUOTA_BATCH_MAX 50       /* ...and at most this */
#define QUOTA_RECHECK_MS 1000    /* reached: ask Redis again this often */
#define QUOTA_WAITERS_MAX 4096   /* submits held for one account's batch */
/* The day's key outlives the day by this much: an instance whose clock
 * is a little behind still counts on the key the others used. */
#define QUOTA_KEY_GRACE_S 3600
#define DAY_S 86400

struct bucket {
    char key[48];
    unsigned rate;
    unsigned pool;
    uint64_t pool_at_ms;
    uint64_t lease_at_ms;
    unsigned lease_gap_ms;     /* before the next lease may be asked for */
    uint64_t answered_at_ms;   /* Redis last answered a lease */
    unsigned debt;             /* taken on credit, repaid by the next lease */
    int leasing;
    struct throttle *t;
    struct bucket *next;
};

struct quota {
    char account[16];
    unsigned quota;            /* as last given */
    char day[THROTTLE_DAY_LEN]; /* the day the pool belongs to */
    unsigned pool;
    int leasing;
    char lease_day[THROTTLE_DAY_LEN]; /* the day the lease in flight counts on */
    unsigned lease_quota;      /* the quota it was asked under */
    unsigned lease_want;       /* and how many it asked for */
    uint64_t lease_at_ms;
    int reached;               /* Redis said: none left today */
    int reported;              /* "reached" already told today */
    struct quota_waiter *waiters, **waiters_tail; /* for the batch on its way */
    unsigned n_waiters;
    struct throttle *t;
    struct quota *next;
};

struct quota_waiter {
    throttle_ready_cb cb;
    void *arg;
    struct quota_waiter *next;
};

struct throttle {
    struct event_base *base;
    struct store *st;
    struct bucket *buckets[BUCKETS];
    struct quota *quotas[QUOTAS];
};

static struct bucket *bucket_get(struct throttle *t, const char *key)
{
    unsigned h = 5381;
    for (const char *s = key; *s; s++)
        h = h * 33 + (unsigned char)*s;
    h %= BUCKETS;
    for (struct bucket *b = t->buckets[h]; b; b = b->next)
        if (strcmp(b->key, key) == 0)
            return b;
    struct bucket *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    snprintf(b->key, sizeof b->key, "%s", key);
    b->t = t;
    b->next = t->buckets[h];
    t->buckets[h] = b;
    return b;
}

static unsigned lease_size(unsigned rate)
{
    return rate / LEASE_DIVISOR ? rate / LEASE_DIVISOR : 1;
}

static unsigned burst_of(unsigned rate)
{
    return rate / 10 ? rate / 10 : 1;
}

static void on_lease(int status, unsigned granted, void *arg)
{
    struct bucket *b = arg;
    uint64_t now = clock_mono_ms();
    b->leasing = 0;
    if (status != 0)
        return;
    b->answered_at_ms = now;
    unsigned repaid = granted < b->debt ? granted : b->debt;
    b->debt -= repaid;
    granted -= repaid;
    if (granted == 0)
        return;
    if (now - b->pool_at_ms > POOL_RENEW_MS)
        b->pool = 0;
    b->pool += granted;
    b->pool_at_ms = now;
}

static void lease(struct throttle *t, struct bucket *b)
{
    uint64_t now = clock_mono_ms();
    if (b->leasing || now - b->lease_at_ms < b->lease_gap_ms)
        return;
    b->leasing = 1;
    b->lease_at_ms = now;
    b->lease_gap_ms = LEASE_INTERVAL_MS / 2 + (unsigned)rand() % (LEASE_INTERVAL_MS + 1);
    if (store_throttle_lease(t->st, b->key, b->rate, burst_of(b->rate),
                             lease_size(b->rate), on_lease, b) != 0)
        b->leasing = 0;
}

int throttle_take(struct throttle *t, const char *key, unsigned rate,
                  unsigned n)
{
    if (rate == 0)
        return 1;
    struct bucket *b = bucket_get(t, key);
    if (!b)
        return 0;
    if (b->rate != rate) {
        b->rate = rate;
        b->pool = b->pool < lease_size(rate) ? b->pool : lease_size(rate);
    }
    if (clock_mono_ms() - b->pool_at_ms > POOL_TTL_MS)
        b->pool = 0;
    int ok = b->pool >= n;
    if (ok) {
        b->pool -= n;
    } else if (b->debt == 0 &&
               clock_mono_ms() - b->answered_at_ms > POOL_TTL_MS) {
        /* an account idle for a while has no lease yet: its first
         * message must not be refused for that, so it goes on credit,
         * repaid from the lease asked for now (at most one message per
         * idle spell: the rate over any window stays within one token) */
        b->debt = n;
        ok = 1;
    }
    /* the next lease is asked for while half of this one is left, or
     * before this one lapses */
    if (b->pool < lease_size(rate) / 2 + n ||
        clock_mono_ms() - b->pool_at_ms > POOL_RENEW_MS)
        lease(t, b);
    return ok;
}

/* ---- daily quotas --------------------------------------------------- */

int64_t throttle_quota_day(int64_t unix_s, char day[THROTTLE_DAY_LEN])
{
    struct tm tm;
    time_t tt = (time_t)unix_s;
    if (unix_s < 0 || !gmtime_r(&tt, &tm) ||
        snprintf(day, THROTTLE_DAY_LEN, "%04d%02d%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday) != THROTTLE_DAY_LEN - 1) {
        snprintf(day, THROTTLE_DAY_LEN, "19700101");
        return DAY_S;
    }
    /* Unix time has no leap seconds: every UTC day is 86400 s long */
    return (unix_s / DAY_S + 1) * DAY_S;
}

unsigned throttle_quota_batch(unsigned quota)
{
    unsigned b = quota / QUOTA_BATCH_DIVISOR;
    return b < 1 ? 1 : b > QUOTA_BATCH_MAX ? QUOTA_BATCH_MAX : b;
}

static struct quota *quota_get(struct throttle *t, const char *account)
{
    unsigned h = 5381;
    for (const char *s = account; *s; s++)
        h = h * 33 + (unsigned char)*s;
    h %= QUOTAS;
    for (struct quota *q = t->quotas[h]; q; q = q->next)
        if (strcmp(q->account, account) == 0)
            return q;
    struct quota *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    snprintf(q->account, sizeof q->account, "%s", account);
    q->t = t;
    q->next = t->quotas[h];
    t->quotas[h] = q;
    return q;
}

/* Call and free every waiter of <q>, in the order they came, with the
 * batch's <status>. A callback may take again, start the next batch and
 * wait for it: the list is detached first. */
static void quota_wake(struct quota *q, int status)
{
    struct quota_waiter *w = q->waiters;
    q->waiters = NULL;
    q->waiters_tail = &q->waiters;
    q->n_waiters = 0;
    while (w) {
        struct quota_waiter *next = w->next;
        w->cb(status, w->arg);
        free(w);
        w = next;
    }
}

static void on_quota_lease(int status, unsigned granted, void *arg)
{
    struct quota *q = arg;
    q->leasing = 0;
    /* a lease that counted on a day that has ended is of no use today */
    if (status == 0 && strcmp(q->lease_day, q->day) == 0) {
        q->pool += granted;
        /* less than asked: the script stopped at the quota */
        if (q->lease_quota == q->quota)
            q->reached = granted < q->lease_want;
    }
    quota_wake(q, status);
}

int throttle_quota_wait(struct throttle *t, const char *account,
                        throttle_ready_cb cb, void *arg)
{
    struct quota *q = quota_get(t, account);
    if (!q || !q->leasing || q->n_waiters >= QUOTA_WAITERS_MAX)
        return -1;
    struct quota_waiter *w = calloc(1, sizeof *w);
    if (!w)
        return -1;
    w->cb = cb;
    w->arg = arg;
    if (!q->waiters)
        q->waiters_tail = &q->waiters;
    *q->waiters_tail = w;
    q->waiters_tail = &w->next;
    q->n_waiters++;
    return 0;
}

static void quota_lease(struct throttle *t, struct quota *q, unsigned n)
{
    char day[THROTTLE_DAY_LEN];
    unsigned want = throttle_quota_batch(q->quota);
    if (q->leasing)
        return;
    int64_t day_end = throttle_quota_day((int64_t)(clock_wall_ms() / 1000), day);
    if (strcmp(day, q->day) != 0)
        return; /* the next take starts the new day */
    q->leasing = 1;
    q->lease_at_ms = clock_mono_ms();
    q->lease_quota = q->quota;
    q->lease_want = want > n ? want : n;
    memcpy(q->lease_day, q->day, sizeof q->lease_day);
    if (store_quota_lease(t->st, q->account, q->day, q->quota,
                          q->lease_want, day_end + QUOTA_KEY_GRACE_S,
                          on_quota_lease, q) != 0)
        q->leasing = 0;
}

/* A new day, or a quota other than the last one: what was known about
 * the old one no longer holds. */
static void quota_refresh(struct quota *q, unsigned quota)
{
    char day[THROTTLE_DAY_LEN];
    throttle_quota_day((int64_t)(clock_wall_ms() / 1000), day);
    if (strcmp(day, q->day) != 0) {
        memcpy(q->day, day, sizeof q->day);
        q->pool = 0; /* leased on yesterday's count */
        q->reached = q->reported = 0;
    }
    if (q->quota != quota) {
        unsigned batch = throttle_quota_batch(quota);
        q->quota = quota;
        q->pool = q->pool < batch ? q->pool : batch;
        q->reached = q->reported = 0;
    }
}

enum thr_quota throttle_quota_take(struct throttle *t, const char *account,
                                   unsigned quota, unsigned n, int *first)
{
    *first = 0;
    if (quota == 0)
        return THR_QUOTA_OK;
    struct quota *q = quota_get(t, account);
    if (!q)
        return THR_QUOTA_NOT_NOW;
    quota_refresh(q, quota);
    if (q->pool >= n) {
        q->pool -= n;
        /* the next batch is asked for while half of this one is left */
        if (!q->reached && q->pool < throttle_quota_batch(quota) / 2 + n)
            quota_lease(t, q, n);
        return THR_QUOTA_OK;
    }
    if (!q->reached) {
        quota_lease(t, q, n);
        return THR_QUOTA_NOT_NOW;
    }
    if (clock_mono_ms() - q->lease_at_ms >= QUOTA_RECHECK_MS)
        quota_lease(t, q, n);
    if (!q->reported)
        *first = q->reported = 1;
    return THR_QUOTA_REACHED;
}

struct throttle *throttle_new(struct event_base *base, struct store *st)
{
    struct throttle *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->base = base;
    t->st = st;
    return t;
}

void throttle_free(struct throttle *t)
{
    if (!t)
        return;
    for (unsigned i = 0; i < BUCKETS; i++) {
        while (t->buckets[i]) {
            struct bucket *b = t->buckets[i];
            t->buckets[i] = b->next;
            free(b);
        }
    }
    for (unsigned i = 0; i < QUOTAS; i++) {
        while (t->quotas[i]) {
            struct quota *q = t->quotas[i];
            t->quotas[i] = q->next;
            /* leaving: the store has dropped what was on its way without
             * calling back, and the waiters' owners are gone */
            while (q->waiters) {
                struct quota_waiter *w = q->waiters;
                q->waiters = w->next;
                free(w);
            }
            free(q);
        }
    }
    free(t);
}
