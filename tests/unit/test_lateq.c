/*
 * test_lateq.c - timed-out requests remembered for late answers: a late
 * answer finds its entry once and only once, entries expire after their
 * grace, the queue never holds more than its cap (the oldest is forgotten
 * and reported), and a clear reports what was still waiting.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lateq.h"

static struct lateq_entry entry(uint32_t seq, uint64_t until_ms)
{
    struct lateq_entry e;
    memset(&e, 0, sizeof e);
    e.seq = seq;
    e.until_ms = until_ms;
    snprintf(e.entry_id, sizeof e.entry_id, "%u-0", seq);
    snprintf(e.msg_id, sizeof e.msg_id, "m%u", seq);
    snprintf(e.account, sizeof e.account, "acct");
    return e;
}

struct drops {
    unsigned n;
    uint32_t seqs[16];
};

static void on_drop(const struct lateq_entry *e, void *arg)
{
    struct drops *d = arg;
    if (d->n < 16)
        d->seqs[d->n] = e->seq;
    d->n++;
}

Test(lateq, late_answer_matched_once)
{
    struct lateq q;
    struct lateq_entry out, e = entry(7, 1000);
    lateq_init(&q, 4);
    cr_assert_eq(lateq_take(&q, 7, 0, &out), 0, "empty queue matched");
    cr_assert_eq(lateq_add(&q, &e, 0, NULL, NULL), 0);
    cr_assert_eq(lateq_take(&q, 8, 10, &out), 0, "another sequence matched");
    cr_assert_eq(lateq_take(&q, 7, 10, &out), 1);
    cr_assert_str_eq(out.msg_id, "m7");
    cr_assert_str_eq(out.entry_id, "7-0");
    cr_assert_eq(lateq_take(&q, 7, 20, &out), 0, "matched twice");
    cr_assert_eq(lateq_take(&q, 0, 20, &out), 0, "sequence 0 matched a hole");
    lateq_free(&q);
}

Test(lateq, forgotten_after_grace)
{
    struct lateq q;
    struct lateq_entry out, a = entry(1, 100), b = entry(2, 200);
    lateq_init(&q, 4);
    lateq_add(&q, &a, 0, NULL, NULL);
    lateq_add(&q, &b, 50, NULL, NULL);
    cr_assert_eq(lateq_take(&q, 1, 100, &out), 0, "taken at its deadline");
    cr_assert_eq(lateq_take(&q, 2, 199, &out), 1);
    cr_assert_eq(lateq_len(&q), 1, "an answered head leaves at the next look");
    cr_assert_eq(lateq_take(&q, 9, 199, &out), 0);
    cr_assert_eq(lateq_len(&q), 0);
    lateq_free(&q);
}

Test(lateq, bounded_oldest_forgotten_and_reported)
{
    struct lateq q;
    struct lateq_entry out;
    struct drops d = {0};
    lateq_init(&q, 3);
    for (uint32_t s = 1; s <= 3; s++) {
        struct lateq_entry e = entry(s, 1000);
        cr_assert_eq(lateq_add(&q, &e, 0, on_drop, &d), 0);
    }
    struct lateq_entry e4 = entry(4, 1000), e5 = entry(5, 1000);
    cr_assert_eq(lateq_add(&q, &e4, 0, on_drop, &d), 1);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.seqs[0], 1, "not the oldest forgotten");
    cr_assert_eq(lateq_len(&q), 3);
    cr_assert_eq(lateq_take(&q, 1, 1, &out), 0);
    cr_assert_eq(lateq_take(&q, 2, 1, &out), 1); /* the head is a hole now */
    cr_assert_eq(lateq_add(&q, &e5, 2, on_drop, &d), 0, "the hole was room");
    cr_assert_eq(d.n, 1);
    for (uint32_t s = 3; s <= 5; s++)
        cr_assert_eq(lateq_take(&q, s, 3, &out), 1, "seq %u lost", s);
    lateq_free(&q);
}

Test(lateq, wraps_around_many_times)
{
    struct lateq q;
    struct lateq_entry out;
    lateq_init(&q, 5);
    for (uint32_t s = 1; s <= 1000; s++) {
        struct lateq_entry e = entry(s, s + 3);
        cr_assert_geq(lateq_add(&q, &e, s, NULL, NULL), 0);
        cr_assert_leq(lateq_len(&q), 5);
        if (s % 2)
            cr_assert_eq(lateq_take(&q, s, s, &out), 1);
    }
    cr_assert_eq(lateq_take(&q, 1000, 1000, &out), 1);
    cr_assert_eq(lateq_take(&q, 996, 1000, &out), 0, "past its grace");
    lateq_free(&q);
}

Test(lateq, clear_reports_only_waiting_entries)
{
    struct lateq q;
    struct lateq_entry out;
    struct drops d = {0};
    lateq_init(&q, 4);
    for (uint32_t s = 1; s <= 3; s++) {
        struct lateq_entry e = entry(s, 1000);
        lateq_add(&q, &e, 0, NULL, NULL);
    }
    lateq_take(&q, 2, 0, &out);
    lateq_clear(&q, on_drop, &d);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.seqs[0], 1);
    cr_assert_eq(d.seqs[1], 3);
    cr_assert_eq(lateq_len(&q), 0);
    cr_assert_eq(lateq_take(&q, 3, 0, &out), 0);
    lateq_free(&q);
}
