/*
 * downstream.h - the customers' side: SMPP listeners (plain and TLS),
 * authenticated binds, and submit intake into the durable queue.
 *
 * A submit_sm or data_sm is validated, given our message id, written to
 * the queue in Redis, and only when Redis has confirmed the write is
 * ESME_ROK sent with that id. Redis down or slow: ESME_RMSGQFUL.
 */
#ifndef SMPPBRIDGE_DOWNSTREAM_H
#define SMPPBRIDGE_DOWNSTREAM_H

#include <stddef.h>

struct event_base;
struct conf;
struct store;
struct sess;
struct throttle;
struct down;

struct down_hooks {
    /* A receiver (RX/TRX) of <account> bound or has room again. */
    void (*receiver_ready)(void *ctx, const char *account);
};

struct down *down_new(struct event_base *base, const struct conf *cfg,
                      struct store *st, struct throttle *thr,
                      const struct down_hooks *hooks, void *ctx);
/* The context passed to the hooks (it may exist only after down_new). */
void down_set_hooks_ctx(struct down *d, void *ctx);
/* Open every [server] and [tls] listener; -1 with <err> on failure. */
int down_listen(struct down *d, char *err, size_t cap);
void down_stop_accepting(struct down *d);
/* Send unbind to every customer (shutdown). */
void down_unbind_all(struct down *d);
void down_free(struct down *d);

unsigned down_bind_count(const struct down *d);

/* A bound receiver of <account> that can take a PDU now (round-robin
 * among them), or NULL. */
struct sess *down_pick_receiver(struct down *d, const char *account);
/* 1 when <account> has a bound receiver on this instance. */
int down_has_receiver(struct down *d, const char *account);

/* An account changed in Redis: reload it and apply it to live binds
 * (disabled: unbind them; address no longer allowed: unbind those). */
void down_account_changed(struct down *d, const char *account);

struct down_stats {
    unsigned long long binds_ok, binds_failed, submits, submits_ok,
        submits_refused, submits_throttled, queue_errors;
};
const struct down_stats *down_stats(const struct down *d);

#endif /* SMPPBRIDGE_DOWNSTREAM_H */
