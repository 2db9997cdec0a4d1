/*
 * test_lateq.c - timed-out requests remembered for late answers: a late
 * answer finds its entry once and only once, entries expire after their
 * grace, the queue never holds more than its cap (the oldest is forgotten
 * and reported), a clear reports what was still waiting, an entry that
 * expires is reported too, and the search by sequence number finds every
 * entry across the sequence wrap and in a queue of the largest size.
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
    lateq_init(&q, 4, NULL, NULL);
    cr_assert_eq(lateq_take(&q, 7, 0, &out), 0, "empty queue matched");
    cr_assert_eq(lateq_add(&q, &e, 0), 0);
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
    lateq_init(&q, 4, NULL, NULL);
    lateq_add(&q, &a, 0);
    lateq_add(&q, &b, 50);
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
    lateq_init(&q, 3, on_drop, &d);
    for (uint32_t s = 1; s <= 3; s++) {
        struct lateq_entry e = entry(s, 1000);
        cr_assert_eq(lateq_add(&q, &e, 0), 0);
    }
    struct lateq_entry e4 = entry(4, 1000), e5 = entry(5, 1000);
    cr_assert_eq(lateq_add(&q, &e4, 0), 1);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.seqs[0], 1, "not the oldest forgotten");
    cr_assert_eq(lateq_len(&q), 3);
    cr_assert_eq(lateq_take(&q, 1, 1, &out), 0);
    cr_assert_eq(lateq_take(&q, 2, 1, &out), 1); /* the head is a hole now */
    cr_assert_eq(lateq_add(&q, &e5, 2), 0, "the hole was room");
    cr_assert_eq(d.n, 1);
    for (uint32_t s = 3; s <= 5; s++)
        cr_assert_eq(lateq_take(&q, s, 3, &out), 1, "seq %u lost", s);
    lateq_free(&q);
}

Test(lateq, wraps_around_many_times)
{
    struct lateq q;
    struct lateq_entry out;
    lateq_init(&q, 5, NULL, NULL);
    for (uint32_t s = 1; s <= 1000; s++) {
        struct lateq_entry e = entry(s, s + 3);
        cr_assert_geq(lateq_add(&q, &e, s), 0);
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
    lateq_init(&q, 4, on_drop, &d);
    for (uint32_t s = 1; s <= 3; s++) {
        struct lateq_entry e = entry(s, 1000);
        lateq_add(&q, &e, 0);
    }
    lateq_take(&q, 2, 0, &out);
    lateq_clear(&q);
    cr_assert_eq(d.n, 2);
    cr_assert_eq(d.seqs[0], 1);
    cr_assert_eq(d.seqs[1], 3);
    cr_assert_eq(lateq_len(&q), 0);
    cr_assert_eq(lateq_take(&q, 3, 0, &out), 0);
    lateq_free(&q);
}

/* An entry past its grace is forgotten unanswered: the callback hears of
 * it (its message's count of copies that may still be answered drops),
 * once, and an answered one is not reported. */
Test(lateq, expired_entries_reported_once)
{
    struct lateq q;
    struct lateq_entry out;
    struct drops d = {0};
    lateq_init(&q, 8, on_drop, &d);
    struct lateq_entry a = entry(1, 100), b = entry(2, 150), c = entry(3, 500);
    lateq_add(&q, &a, 0);
    lateq_add(&q, &b, 10);
    lateq_add(&q, &c, 20);
    cr_assert_eq(lateq_take(&q, 2, 50, &out), 1);
    cr_assert_eq(d.n, 0);
    cr_assert_eq(lateq_take(&q, 9, 200, &out), 0);
    cr_assert_eq(d.n, 1, "expired entries not reported: %u", d.n);
    cr_assert_eq(d.seqs[0], 1, "the answered one reported, or the wrong one");
    cr_assert_eq(lateq_len(&q), 1);
    struct lateq_entry e = entry(4, 900);
    lateq_add(&q, &e, 600);
    cr_assert_eq(d.n, 2, "expiry at an add not reported");
    cr_assert_eq(d.seqs[1], 3);
    lateq_clear(&q);
    cr_assert_eq(d.n, 3);
    cr_assert_eq(d.seqs[2], 4);
    lateq_free(&q);
}

/* Sequence numbers wrap from 0x7FFFFFFF to 1: the search still finds
 * every entry on both sides of the wrap, and nothing that is not there. */
Test(lateq, found_across_the_sequence_wrap)
{
    struct lateq q;
    struct lateq_entry out;
    lateq_init(&q, 64, NULL, NULL);
    uint32_t s = LATEQ_SEQ_MAX - 20;
    uint32_t seqs[40];
    for (unsigned i = 0; i < 40; i++) {
        seqs[i] = s;
        struct lateq_entry e = entry(s, 1000);
        cr_assert_eq(lateq_add(&q, &e, 0), 0);
        s = s == LATEQ_SEQ_MAX ? 1 : s + 1;
    }
    cr_assert_eq(lateq_take(&q, 100, 1, &out), 0, "a number not sent matched");
    cr_assert_eq(lateq_take(&q, LATEQ_SEQ_MAX - 21, 1, &out), 0);
    for (unsigned i = 0; i < 40; i += 3)
        cr_assert_eq(lateq_take(&q, seqs[i], 1, &out), 1, "seq %u lost",
                     seqs[i]);
    for (unsigned i = 0; i < 40; i++)
        cr_assert_eq(lateq_take(&q, seqs[i], 1, &out), i % 3 != 0,
                     "seq %u: taken twice or lost", seqs[i]);
    lateq_free(&q);
}

/* A full queue of the largest size: each answer is found (by search)
 * and the queue stays consistent as holes leave from the head. */
Test(lateq, large_queue_every_entry_found)
{
    struct lateq q;
    struct lateq_entry out;
    enum { CAP = 100000 };
    lateq_init(&q, CAP, NULL, NULL);
    for (uint32_t s = 1; s <= CAP; s++) {
        struct lateq_entry e = entry(s * 2, 1000);
        cr_assert_eq(lateq_add(&q, &e, 0), 0);
    }
    for (uint32_t s = CAP; s >= 1; s--) {
        cr_assert_eq(lateq_take(&q, s * 2 + 1, 1, &out), 0);
        cr_assert_eq(lateq_take(&q, s * 2, 1, &out), 1, "seq %u lost", s * 2);
    }
    cr_assert_eq(lateq_len(&q), CAP, "holes leave only from the head");
    cr_assert_eq(lateq_take(&q, 2, 1, &out), 0);
    cr_assert_eq(lateq_len(&q), 0);
    lateq_free(&q);
}

/* Out of sequence order (should a session ever be renumbered): still
 * found, by a scan, and search comes back once the queue is empty. */
Test(lateq, out_of_order_still_found)
{
    struct lateq q;
    struct lateq_entry out;
    lateq_init(&q, 8, NULL, NULL);
    uint32_t seqs[] = {50, 60, 10, 70};
    for (unsigned i = 0; i < 4; i++) {
        struct lateq_entry e = entry(seqs[i], 1000);
        lateq_add(&q, &e, 0);
    }
    for (unsigned i = 0; i < 4; i++)
        cr_assert_eq(lateq_take(&q, seqs[i], 1, &out), 1, "seq %u lost",
                     seqs[i]);
    cr_assert_eq(lateq_take(&q, 1, 2, &out), 0);
    cr_assert_eq(lateq_len(&q), 0);
    struct lateq_entry a = entry(5, 1000), b = entry(6, 1000);
    lateq_add(&q, &a, 3);
    lateq_add(&q, &b, 3);
    cr_assert_eq(lateq_take(&q, 6, 4, &out), 1);
    cr_assert_eq(lateq_take(&q, 5, 4, &out), 1);
    lateq_free(&q);
}
