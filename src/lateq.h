/*
 * lateq.h - the requests one upstream session sent and stopped waiting
 * for (their response timed out), remembered for a grace period so that a
 * response arriving late can still be matched by sequence number.
 *
 * Bounded: at most <cap> entries; when full, the oldest is forgotten to
 * make room. Entries leave in the order they came (all have the same
 * grace), so expiry looks only at the head. Every entry forgotten before
 * it was answered - for room, past its grace, or by lateq_clear - goes to
 * the queue's <dropped> callback, so that the caller's count of copies
 * that may still be answered stays true.
 *
 * A session times its requests out in the order it sent them, so entries
 * come in the order of their sequence numbers (which wrap from
 * LATEQ_SEQ_MAX to 1, SMPP 3.4 section 3.2): a late answer is found by
 * binary search on the distance from the head's number, not by scanning
 * up to late_resp_max entries. Should an entry ever come out of that
 * order, the queue falls back to a scan until it is empty again.
 * Pure data: no I/O, the caller passes the time.
 */
#ifndef SMPPBRIDGE_LATEQ_H
#define SMPPBRIDGE_LATEQ_H

#include <stdint.h>

#define LATEQ_SEQ_MAX 0x7FFFFFFFu /* an SMPP sequence_number's largest */

/* What a late answer needs to be used even once the message has left
 * memory: which queue entry and message it was for. */
struct lateq_entry {
    uint32_t seq;            /* 1..LATEQ_SEQ_MAX */
    uint8_t taken;           /* answered: a hole until it reaches the head */
    uint64_t until_ms;       /* forgotten at this time */
    char entry_id[32];
    char account[16];
    char msg_id[32];
    uint64_t ts_ms;
    uint8_t registered_delivery;
};

/* Called for an entry forgotten before it was answered; <e> is valid
 * during the call, which must not use the queue. */
typedef void (*lateq_drop_fn)(const struct lateq_entry *e, void *arg);

struct lateq {
    struct lateq_entry *e;   /* ring of <cap>, allocated on first add */
    unsigned cap, head, n;
    int unordered;           /* an entry came out of sequence order */
    lateq_drop_fn dropped;
    void *drop_arg;
};

/* An empty queue of at most <cap> entries (>= 1); nothing is allocated.
 * <dropped> (may be NULL) hears of every entry forgotten unanswered. */
void lateq_init(struct lateq *q, unsigned cap, lateq_drop_fn dropped,
                void *arg);

/* Remember <e> (its seq not 0) until <e>->until_ms. When full, the oldest
 * is forgotten first. Returns 1 when one was forgotten for room, 0
 * otherwise, -1 out of memory (nothing stored). */
int lateq_add(struct lateq *q, const struct lateq_entry *e, uint64_t now_ms);

/* The entry for <seq>, if one is remembered and not past its time: copied
 * to <out> and forgotten; 1, or 0 when there is none. O(log n). */
int lateq_take(struct lateq *q, uint32_t seq, uint64_t now_ms,
               struct lateq_entry *out);

/* Forget everything (the session closed: no answer can come any more);
 * each entry still waiting goes to the <dropped> callback. */
void lateq_clear(struct lateq *q);

/* Entries remembered (answered ones not yet at the head included). */
unsigned lateq_len(const struct lateq *q);

void lateq_free(struct lateq *q);

#endif /* SMPPBRIDGE_LATEQ_H */
