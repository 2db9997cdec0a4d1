/*
 * smsc_sim_msgs.c - the simulator's message records (see smsc_sim_msgs.h).
 *
 * Chained hash table keyed by message id, grown by doubling while the
 * load passes one record per bucket. Final records sit on a list in the
 * order they became final, so forgetting the oldest is O(1) and the time
 * limit is checked at the list's head only.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "dlr.h"
#include "smsc_sim_msgs.h"

#define MSGS_MIN_BITS 10

struct sim_msgs {
    struct sim_msg **buckets;
    unsigned bits;
    size_t count, max;
    uint64_t keep_ms;
    struct sim_msg *final_head, *final_tail;
};

static size_t bucket_of(uint64_t id, unsigned bits)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

struct sim_msgs *sim_msgs_new(size_t max, unsigned keep_s)
{
    struct sim_msgs *ms = calloc(1, sizeof *ms);
    if (!ms)
        return NULL;
    ms->bits = MSGS_MIN_BITS;
    ms->buckets = calloc((size_t)1 << ms->bits, sizeof *ms->buckets);
    if (!ms->buckets) {
        free(ms);
        return NULL;
    }
    ms->max = max;
    ms->keep_ms = (uint64_t)keep_s * 1000u;
    return ms;
}

void sim_msgs_free(struct sim_msgs *ms)
{
    if (!ms)
        return;
    for (size_t b = 0; b < (size_t)1 << ms->bits; b++) {
        struct sim_msg *m = ms->buckets[b];
        while (m) {
            struct sim_msg *next = m->hnext;
            free(m);
            m = next;
        }
    }
    free(ms->buckets);
    free(ms);
}

size_t sim_msgs_count(const struct sim_msgs *ms)
{
    return ms ? ms->count : 0;
}

/* Double the buckets; on allocation failure keep the longer chains. */
static void grow(struct sim_msgs *ms)
{
    unsigned nbits = ms->bits + 1;
    struct sim_msg **nb = calloc((size_t)1 << nbits, sizeof *nb);
    if (!nb)
        return;
    for (size_t b = 0; b < (size_t)1 << ms->bits; b++) {
        struct sim_msg *m = ms->buckets[b];
        while (m) {
            struct sim_msg *next = m->hnext;
            size_t nbk = bucket_of(m->id, nbits);
            m->hnext = nb[nbk];
            nb[nbk] = m;
            m = next;
        }
    }
    free(ms->buckets);
    ms->buckets = nb;
    ms->bits = nbits;
}

static void final_unlink(struct sim_msgs *ms, struct sim_msg *m)
{
    if (m->fprev)
        m->fprev->fnext = m->fnext;
    else
        ms->final_head = m->fnext;
    if (m->fnext)
        m->fnext->fprev = m->fprev;
    else
        ms->final_tail = m->fprev;
    m->fprev = m->fnext = NULL;
}

/* Take <m> (a final record) out of the table and free it. */
static void forget(struct sim_msgs *ms, struct sim_msg *m)
{
    struct sim_msg **pp = &ms->buckets[bucket_of(m->id, ms->bits)];
    while (*pp && *pp != m)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = m->hnext;
    final_unlink(ms, m);
    ms->count--;
    free(m);
}

/* Forget the final records older than the time limit. */
static void forget_expired(struct sim_msgs *ms, uint64_t now_ms)
{
    while (ms->final_head && now_ms - ms->final_head->final_mono_ms >= ms->keep_ms)
        forget(ms, ms->final_head);
}

struct sim_msg *sim_msgs_add(struct sim_msgs *ms, uint64_t id, uint64_t now_ms)
{
    if (!ms || ms->max == 0)
        return NULL;
    forget_expired(ms, now_ms);
    if (ms->count >= ms->max && ms->final_head)
        forget(ms, ms->final_head);
    if (ms->count >= ms->max)
        return NULL;
    struct sim_msg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (ms->count >= (size_t)1 << ms->bits && ms->bits < 30)
        grow(ms);
    m->id = id;
    m->state = DLR_STATE_ENROUTE;
    m->outcome = DLR_STATE_DELIVERED;
    size_t b = bucket_of(id, ms->bits);
    m->hnext = ms->buckets[b];
    ms->buckets[b] = m;
    ms->count++;
    return m;
}

struct sim_msg *sim_msgs_find(struct sim_msgs *ms, uint64_t id, uint64_t now_ms)
{
    if (!ms)
        return NULL;
    forget_expired(ms, now_ms);
    for (struct sim_msg *m = ms->buckets[bucket_of(id, ms->bits)]; m; m = m->hnext)
        if (m->id == id)
            return m;
    return NULL;
}

void sim_msgs_set_final(struct sim_msgs *ms, struct sim_msg *m, int state,
                        time_t now, uint64_t now_ms)
{
    if (m->state != DLR_STATE_ENROUTE)
        return;
    m->state = state;
    m->final_at = now;
    m->final_mono_ms = now_ms;
    m->fnext = NULL;
    m->fprev = ms->final_tail;
    if (ms->final_tail)
        ms->final_tail->fnext = m;
    else
        ms->final_head = m;
    ms->final_tail = m;
}
