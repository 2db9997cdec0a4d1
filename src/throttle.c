/*
 * throttle.c - local pools of tokens leased from Redis token buckets.
 *
 * A bucket here is only what this instance holds: tokens leased and not
 * used, whether a lease is on its way, and the rate last asked for.
 * Leased tokens unused for a second go back to nobody (they are
 * dropped): an idle instance must not sit on capacity the others need,
 * and the waste is bounded by one small lease per instance.
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
/* An instance asks for a lease at most this often, whatever it holds:
 * instances then ask equally often and share the rate fairly, instead of
 * the quickest asker taking every token as it comes. A lease (1/20 s)
 * is twice what one instance can use in that time at full rate. */
#define LEASE_INTERVAL_MS 25

struct bucket {
    char key[48];
    unsigned rate;
    unsigned pool;
    uint64_t pool_at_ms;
    uint64_t lease_at_ms;
    int leasing;
    struct throttle *t;
    struct bucket *next;
};

struct throttle {
    struct event_base *base;
    struct store *st;
    struct bucket *buckets[BUCKETS];
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
    b->leasing = 0;
    if (status != 0 || granted == 0)
        return;
    uint64_t now = clock_mono_ms();
    if (now - b->pool_at_ms > POOL_TTL_MS)
        b->pool = 0;
    b->pool += granted;
    b->pool_at_ms = now;
}

static void lease(struct throttle *t, struct bucket *b)
{
    uint64_t now = clock_mono_ms();
    if (b->leasing || now - b->lease_at_ms < LEASE_INTERVAL_MS)
        return;
    b->leasing = 1;
    b->lease_at_ms = now;
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
    if (ok)
        b->pool -= n;
    /* the next lease is asked for while half of this one is left */
    if (b->pool < lease_size(rate) / 2 + n)
        lease(t, b);
    return ok;
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
    free(t);
}
