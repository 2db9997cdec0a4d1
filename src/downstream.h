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
#include <stdint.h>
#include "msgops.h"

#include <openssl/ssl.h>

struct event_base;
struct conf;
struct conf_server;
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
/* Where cancel_sm and replace_sm of messages already sent upstream go
 * (msgops.h). */
void down_set_forwarder(struct down *d, msgops_forward_fn fn, void *ctx);
const struct msgops_stats *down_msgops_stats(const struct down *d);
/* Open every [server] and [tls] listener; -1 with <err> on failure. */
int down_listen(struct down *d, char *err, size_t cap);
void down_stop_accepting(struct down *d);
/* Shutdown: send unbind to every customer once every request already read
 * from it is answered (accepted submits are in Redis before their
 * ESME_ROK); meanwhile new submits are refused with ESME_RTHROTTLED.
 * down_bind_count() falls to 0 as customers answer or time out. */
void down_unbind_all(struct down *d);
/* A reload changed the configuration <d> was made with (same struct, new
 * values; <before> is the old [server]): new binds get the new session
 * settings (window, timeouts, max_pdu_size); max_binds applies to the next
 * bind; changed auth limits replace the failure limiters (failures counted
 * so far are forgotten). <tls>, when not NULL, is the new context of the
 * TLS listeners (owned from here): new connections use it, existing ones
 * keep theirs. */
void down_reload(struct down *d, const struct conf_server *before,
                 SSL_CTX *tls);
void down_free(struct down *d);

unsigned down_bind_count(const struct down *d);

/* A bound receiver of <account> that can take a PDU now (round-robin
 * among them), or NULL. */
struct sess *down_pick_receiver(struct down *d, const char *account);
/* 1 when <account> has a bound receiver on this instance. */
int down_has_receiver(struct down *d, const char *account);
/* The deliver_sm the account's bound receivers may have outstanding, in
 * all (the sum of their windows). */
unsigned down_receiver_window(struct down *d, const char *account);

/* An account changed in Redis: reload it and apply it to live binds
 * (disabled: unbind them; address no longer allowed: unbind those). */
void down_account_changed(struct down *d, const char *account);

struct down_stats {
    unsigned long long binds_ok, binds_failed, submits, submits_ok,
        submits_refused, submits_throttled, queue_errors, proxy_refused,
        submits_quota, /* refused: the account's daily quota is used up */
        queue_full;    /* refused: the account's queue caps are reached */
};
const struct down_stats *down_stats(const struct down *d);

/* ---- admin ---------------------------------------------------------- */

/* One bound customer session, for GET /sessions and the binds gauge.
 * Strings are valid during the callback. */
struct down_session_info {
    unsigned long long id;       /* unique in this process, never reused */
    const char *account;
    const char *bind_type;       /* "tx", "rx" or "trx" */
    const char *peer;            /* "ADDR:PORT" */
    uint64_t since_ms;           /* bound at, Unix ms */
    unsigned long long submits;  /* answers to submits, by outcome: */
    unsigned long long ok, throttled, refused;
    unsigned long long delivered;      /* deliver_sm answered ESME_ROK */
    unsigned long long window_refused; /* over the window: ESME_RTHROTTLED */
    unsigned inflight;                 /* our deliver_sm not answered yet */
};
typedef void (*down_session_cb)(const struct down_session_info *s, void *arg);
/* Every bound session, in no particular order. */
void down_sessions(struct down *d, down_session_cb cb, void *arg);
/* Send unbind to session <id> (then it closes as on any unbind); 0, or
 * -1 when there is no such bound session. */
int down_kick(struct down *d, unsigned long long id);
/* The same for every bind of <account>; how many were unbound. */
unsigned down_kick_account(struct down *d, const char *account);

/* One key of the failed-bind limiter: <scope> "address" (key: the
 * address, an IPv6 one as its /64) or "pair" (key: "SYSTEM_ID@ADDRESS").
 * <remaining_ms> is what is left of the block when <blocked>, else of the
 * window counting <failures>. Strings are valid during the callback. */
struct down_auth_block {
    const char *scope;
    const char *key;
    unsigned failures;
    int blocked;
    uint64_t remaining_ms;
};
typedef void (*down_auth_block_cb)(const struct down_auth_block *b, void *arg);
/* Every address and pair with failures counted on this instance. */
void down_auth_blocks(struct down *d, down_auth_block_cb cb, void *arg);
/* How many addresses and pairs are blocked now. */
void down_auth_blocked(struct down *d, size_t *addresses, size_t *pairs);
/* Forget the failures of <what>: an address (every pair at it too), a
 * system_id (its pairs at every address) or one "SYSTEM_ID@ADDRESS".
 * How many entries went. */
size_t down_auth_unblock(struct down *d, const char *what);
/* The relay: a deliver_sm on <s> was answered ESME_ROK. */
void down_note_delivered(struct sess *s);

#endif /* SMPPBRIDGE_DOWNSTREAM_H */
