/*
 * lateq.h - the requests one upstream session sent and stopped waiting
 * for (their response timed out), remembered for a grace period so that a
 * response arriving late can still be matched by sequence number.
 *
 * Bounded: at most <cap> entries; when full, the oldest is forgotten to
 * make room (the caller is told, to count it). Entries leave in the order
 * they came (all have the same grace), so expiry looks only at the head.
 * Pure data: no I/O, the caller passes the time.
 */
#ifndef SMPPBRIDGE_LATEQ_H
#define SMPPBRIDGE_LATEQ_H

#include <stdint.h>

/* What a late answer needs to be used even once the message has left
 * memory: which queue entry and message it was for. */
struct lateq_entry {
    uint32_t seq;            /* 0: taken (a hole until it reaches the head) */
    uint64_t until_ms;       /* forgotten at this time */
    char entry_id[32];
    char account[16];
    char msg_id[32];
    uint64_t ts_ms;
    uint8_t registered_delivery;
};

struct lateq {
    struct lateq_entry *e;   /* ring of <cap>, allocated on first add */
    unsigned cap, head, n;
};

/* Called for an entry forgotten before it was answered (for room, or by
 * lateq_clear); <e> is valid during the call. */
typedef void (*lateq_drop_fn)(const struct lateq_entry *e, void *arg);

/* An empty queue of at most <cap> entries (>= 1); nothing is allocated. */
void lateq_init(struct lateq *q, unsigned cap);

/* Remember <e> (its seq not 0) until <e>->until_ms. When full, the oldest
 * is forgotten first and passed to <dropped>. Returns 1 when one was
 * forgotten for room, 0 otherwise, -1 out of memory (nothing stored). */
int lateq_add(struct lateq *q, const struct lateq_entry *e, uint64_t now_ms,
              lateq_drop_fn dropped, void *arg);

/* The entry for <seq>, if one is remembered and not past its time: copied
 * to <out> and forgotten; 1, or 0 when there is none. */
int lateq_take(struct lateq *q, uint32_t seq, uint64_t now_ms,
               struct lateq_entry *out);

/* Forget everything (the session closed: no answer can come any more);
 * each entry still waiting goes to <dropped> (may be NULL). */
void lateq_clear(struct lateq *q, lateq_drop_fn dropped, void *arg);

/* Entries remembered (answered ones not yet at the head included). */
unsigned lateq_len(const struct lateq *q);

void lateq_free(struct lateq *q);

#endif /* SMPPBRIDGE_LATEQ_H */
