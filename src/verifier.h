/*
 * verifier.h - slow password checks off the event loop.
 *
 * auth_verify_password() costs tens of milliseconds by design (scrypt).
 * Run on the event loop, a burst of first binds or of wrong passwords
 * would stall every other session for that long each. The verifier runs
 * the checks on a few worker threads; the result comes back on the event
 * loop, through a pipe, as a callback. Workers touch nothing but the
 * job's own copies: no libevent, no session, no Redis.
 */
#ifndef SMPPBRIDGE_VERIFIER_H
#define SMPPBRIDGE_VERIFIER_H

#include <stddef.h>

struct event_base;
struct verifier;

/* <ok> is 1 when the password matches, 0 when not, -1 when the check
 * could not run (shutting down). Called on the event loop. */
typedef void (*verifier_cb)(int ok, void *arg);

/* <threads> workers (at least 1); at most <max_pending> checks queued,
 * more are refused. NULL on failure. */
struct verifier *verifier_new(struct event_base *base, unsigned threads,
                              unsigned max_pending);

/* Queue a check of <pw> (<len> bytes) against <stored>; both are copied.
 * 0, or -1 when the queue is full (nothing queued, <cb> not called). */
int verifier_check(struct verifier *v, const char *pw, size_t len,
                   const char *stored, verifier_cb cb, void *arg);

/* Stop the workers; finished checks complete with their result, the
 * ones never started with -1. */
void verifier_free(struct verifier *v);

#endif /* SMPPBRIDGE_VERIFIER_H */
