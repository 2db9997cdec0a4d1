/*
 * connlimit.c - connection counts and accept rates per source address.
 *
 * A chained hash table of addresses. Each entry holds the connections
 * open from that address and a token bucket for its accept rate; an
 * entry with nothing open and a full bucket carries no information and
 * is dropped by the sweep.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "connlimit.h"

#define BUCKETS 1024u
#define SWEEP_EVERY_MS 1000u

struct addr_entry {
    char key[CONNLIMIT_KEY_MAX];
    unsigned open;
    double tokens;
    uint64_t refilled_ms;
    struct addr_entry *next;
};

struct connlimit {
    struct connlimit_config cfg;
    struct addr_entry *buckets[BUCKETS];
    unsigned total;
    unsigned entries;
    uint64_t swept_ms;
};

static const char *const verdict_names[CONNLIMIT_VERDICT_MAX] = {
    [CONNLIMIT_OK] = "ok",
    [CONNLIMIT_GLOBAL] = "global",
    [CONNLIMIT_PER_ADDRESS] = "per_address",
    [CONNLIMIT_RATE] = "rate",
};

const char *connlimit_verdict_name(enum connlimit_verdict v)
{
    return v < CONNLIMIT_VERDICT_MAX ? verdict_names[v] : "?";
}

static unsigned key_hash(const char *key)
{
    unsigned h = 2166136261u;
    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h & (BUCKETS - 1);
}

struct connlimit *connlimit_new(const struct connlimit_config *cfg)
{
    struct connlimit *cl = calloc(1, sizeof *cl);
    if (cl)
        connlimit_configure(cl, cfg);
    return cl;
}

void connlimit_free(struct connlimit *cl)
{
    if (!cl)
        return;
    for (unsigned i = 0; i < BUCKETS; i++) {
        struct addr_entry *e = cl->buckets[i];
        while (e) {
            struct addr_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(cl);
}

void connlimit_configure(struct connlimit *cl, const struct connlimit_config *cfg)
{
    cl->cfg = *cfg;
    if (cl->cfg.burst < 1)
        cl->cfg.burst = 1;
}

/* Add the tokens earned since the last refill, up to the burst. */
static void refill(const struct connlimit *cl, struct addr_entry *e,
                   uint64_t now_ms)
{
    if (now_ms > e->refilled_ms) {
        e->tokens += (double)(now_ms - e->refilled_ms) * cl->cfg.rate_per_s / 1000.0;
        if (e->tokens > cl->cfg.burst)
            e->tokens = cl->cfg.burst;
    }
    e->refilled_ms = now_ms;
}

/* Forget the addresses that have nothing open and a full bucket. */
static void sweep(struct connlimit *cl, uint64_t now_ms)
{
    cl->swept_ms = now_ms;
    for (unsigned i = 0; i < BUCKETS; i++) {
        struct addr_entry **pp = &cl->buckets[i];
        while (*pp) {
            struct addr_entry *e = *pp;
            refill(cl, e, now_ms);
            if (e->open == 0 && e->tokens >= cl->cfg.burst) {
                *pp = e->next;
                free(e);
                cl->entries--;
            } else {
                pp = &e->next;
            }
        }
    }
}

static struct addr_entry *find(const struct connlimit *cl, const char *key)
{
    for (struct addr_entry *e = cl->buckets[key_hash(key)]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* A new entry with a full bucket, or NULL when the table is full. */
static struct addr_entry *add(struct connlimit *cl, const char *key,
                              uint64_t now_ms)
{
    if (cl->entries >= cl->cfg.max_total + CONNLIMIT_SPARE)
        return NULL;
    struct addr_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    size_t n = strlen(key);
    if (n >= sizeof e->key)
        n = sizeof e->key - 1;
    memcpy(e->key, key, n);
    e->tokens = cl->cfg.burst;
    e->refilled_ms = now_ms;
    unsigned b = key_hash(e->key);
    e->next = cl->buckets[b];
    cl->buckets[b] = e;
    cl->entries++;
    return e;
}

enum connlimit_verdict connlimit_admit(struct connlimit *cl, const char *key,
                                       uint64_t now_ms)
{
    if (cl->total >= cl->cfg.max_total)
        return CONNLIMIT_GLOBAL;
    if (now_ms >= cl->swept_ms + SWEEP_EVERY_MS)
        sweep(cl, now_ms);
    struct addr_entry *e = find(cl, key);
    if (!e && !(e = add(cl, key, now_ms)))
        return CONNLIMIT_RATE;
    if (e->open >= cl->cfg.max_per_address)
        return CONNLIMIT_PER_ADDRESS;
    refill(cl, e, now_ms);
    if (e->tokens < 1.0)
        return CONNLIMIT_RATE;
    e->tokens -= 1.0;
    e->open++;
    cl->total++;
    return CONNLIMIT_OK;
}

void connlimit_release(struct connlimit *cl, const char *key)
{
    struct addr_entry *e = find(cl, key);
    if (!e || e->open == 0)
        return;
    e->open--;
    cl->total--;
}

unsigned connlimit_total(const struct connlimit *cl)
{
    return cl->total;
}

unsigned connlimit_of(const struct connlimit *cl, const char *key)
{
    const struct addr_entry *e = find(cl, key);
    return e ? e->open : 0;
}

unsigned connlimit_max_total(const struct connlimit *cl)
{
    return cl->cfg.max_total;
}
