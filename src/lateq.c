/*
 * lateq.c - timed-out requests remembered for late answers (lateq.h).
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "lateq.h"

void lateq_init(struct lateq *q, unsigned cap)
{
    memset(q, 0, sizeof *q);
    q->cap = cap ? cap : 1;
}

static struct lateq_entry *at(const struct lateq *q, unsigned i)
{
    return &q->e[(q->head + i) % q->cap];
}

static void pop_head(struct lateq *q)
{
    q->head = (q->head + 1) % q->cap;
    q->n--;
}

/* Drop answered entries and those past their time from the head. */
static void expire(struct lateq *q, uint64_t now_ms)
{
    while (q->n && (at(q, 0)->seq == 0 || at(q, 0)->until_ms <= now_ms))
        pop_head(q);
}

int lateq_add(struct lateq *q, const struct lateq_entry *e, uint64_t now_ms,
              lateq_drop_fn dropped, void *arg)
{
    int forgot = 0;
    if (!q->e && !(q->e = calloc(q->cap, sizeof *q->e)))
        return -1;
    expire(q, now_ms);
    if (q->n == q->cap) {
        if (dropped)
            dropped(at(q, 0), arg);
        pop_head(q);
        forgot = 1;
    }
    *at(q, q->n++) = *e;
    return forgot;
}

int lateq_take(struct lateq *q, uint32_t seq, uint64_t now_ms,
               struct lateq_entry *out)
{
    if (!q->e || seq == 0)
        return 0;
    expire(q, now_ms);
    for (unsigned i = 0; i < q->n; i++) {
        struct lateq_entry *e = at(q, i);
        if (e->seq == seq) {
            *out = *e;
            e->seq = 0; /* a hole: leaves when it reaches the head */
            return 1;
        }
    }
    return 0;
}

void lateq_clear(struct lateq *q, lateq_drop_fn dropped, void *arg)
{
    for (unsigned i = 0; dropped && i < q->n; i++)
        if (at(q, i)->seq)
            dropped(at(q, i), arg);
    q->head = 0;
    q->n = 0;
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
