/*
 * lateq.c - timed-out requests remembered for late answers (lateq.h).
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "lateq.h"

void lateq_init(struct lateq *q, unsigned cap, lateq_drop_fn dropped,
                void *arg)
{
    memset(q, 0, sizeof *q);
    q->cap = cap ? cap : 1;
    q->dropped = dropped;
    q->drop_arg = arg;
}

static struct lateq_entry *at(const struct lateq *q, unsigned i)
{
    return &q->e[(q->head + i) % q->cap];
}

/* Forget the head; one not answered yet goes to the callback first. */
static void pop_head(struct lateq *q)
{
    struct lateq_entry *h = at(q, 0);
    if (!h->taken && q->dropped)
        q->dropped(h, q->drop_arg);
    q->head = (q->head + 1) % q->cap;
    if (--q->n == 0)
        q->unordered = 0;
}

/* Drop answered entries and those past their time from the head. */
static void expire(struct lateq *q, uint64_t now_ms)
{
    while (q->n && (at(q, 0)->taken || at(q, 0)->until_ms <= now_ms))
        pop_head(q);
}

/* How far sequence number <seq> comes after <from>, wrapping from
 * LATEQ_SEQ_MAX to 1: the order the session sent them in. */
static uint32_t seq_distance(uint32_t from, uint32_t seq)
{
    return seq >= from ? seq - from : seq + (LATEQ_SEQ_MAX - from);
}

int lateq_add(struct lateq *q, const struct lateq_entry *e, uint64_t now_ms)
{
    int forgot = 0;
    if (!q->e && !(q->e = calloc(q->cap, sizeof *q->e)))
        return -1;
    expire(q, now_ms);
    if (q->n == q->cap) {
        pop_head(q);
        forgot = 1;
    }
    if (q->n && seq_distance(at(q, 0)->seq, e->seq) <=
                    seq_distance(at(q, 0)->seq, at(q, q->n - 1)->seq))
        q->unordered = 1;
    *at(q, q->n++) = *e;
    at(q, q->n - 1)->taken = 0;
    return forgot;
}

/* Index of <seq> among the entries, or -1: binary search on the distance
 * from the head's number while the entries are in sequence order. */
static long find(const struct lateq *q, uint32_t seq)
{
    if (q->unordered) {
        for (unsigned i = 0; i < q->n; i++)
            if (at(q, i)->seq == seq)
                return i;
        return -1;
    }
    uint32_t base = at(q, 0)->seq, want = seq_distance(base, seq);
    unsigned lo = 0, hi = q->n; /* [lo, hi) */
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        uint32_t d = seq_distance(base, at(q, mid)->seq);
        if (d == want)
            return mid;
        if (d < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int lateq_take(struct lateq *q, uint32_t seq, uint64_t now_ms,
               struct lateq_entry *out)
{
    if (!q->e || seq == 0)
        return 0;
    expire(q, now_ms);
    if (q->n == 0)
        return 0;
    long i = find(q, seq);
    if (i < 0)
        return 0;
    struct lateq_entry *e = at(q, (unsigned)i);
    /* out of order, an entry behind the head may be past its time */
    if (e->taken || e->until_ms <= now_ms)
        return 0;
    *out = *e;
    e->taken = 1; /* a hole: leaves when it reaches the head */
    return 1;
}

void lateq_clear(struct lateq *q)
{
    while (q->n)
        pop_head(q);
    q->head = 0;
}

unsigned lateq_len(const struct lateq *q)
{
    return q->n;
}

void lateq_free(struct lateq *q)
{
    free(q->e);
    q->e = NULL;
    q->n = 0;
}
