/*
 * upstream.h - the connectors to the upstream SMSC (one per [upstream
 * NAME]): sessions with reconnect and backoff, the consumer of the
 * message queue, the TPS cap, retries of temporary errors, and failover
 * by priority.
 *
 * Messages come from the Redis stream (a consumer group shared by every
 * bridge instance), go out on a bound session of the connector with the
 * lowest priority number that has one, and leave the stream only when
 * upstream answered: ESME_ROK (the upstream id is mapped to ours) or a
 * permanent error (reported through on_failed, which may make a receipt).
 * Temporary errors (throttled, queue full, system error) are retried with
 * backoff. No answer (timeout, session lost) is an unknown outcome, not an
 * error: sent again at most once ([queue] resend_unknown), a late answer
 * still used, and UNKNOWN in the end if none comes (on_failed with
 * SESS_STATUS_TIMEOUT or SESS_STATUS_CLOSED). Parts of one concatenated
 * message use the same session, in order.
 */
#ifndef SMPPBRIDGE_UPSTREAM_H
#define SMPPBRIDGE_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct conf;
struct conf_upstream;
struct store;
struct throttle;
struct sess;
struct pdu;
struct up;

/* What the bridge does with what upstream sends or refuses. */
struct up_hooks {
    /* A deliver_sm/data_sm from upstream on <s>: answer it with
     * sess_reply() once it is stored (hold a reference meanwhile). */
    void (*on_deliver)(void *ctx, struct sess *s, const struct conf_upstream *c,
                       const struct pdu *p);
    /* A message failed for good with <status>, or its outcome stayed
     * unknown (<status> ESME_ROK: accepted without a usable id;
     * SESS_STATUS_TIMEOUT / SESS_STATUS_CLOSED: never answered - a
     * stat:UNKNOWN receipt, never REJECTD); <pdu> is what the customer
     * submitted. Called before the message leaves the queue; call <done>
     * with <done_arg> once any receipt is stored. */
    void (*on_failed)(void *ctx, const char *account, const char *msg_id,
                      const uint8_t *pdu, size_t len, uint32_t status,
                      void (*done)(void *done_arg), void *done_arg);
};

struct up *up_new(struct event_base *base, const struct conf *cfg,
                  struct store *st, struct throttle *thr,
                  const struct up_hooks *hooks, void *ctx);
/* Connect every session; -1 with <err> when a connector cannot start. */
int up_start(struct up *u, char *err, size_t cap);
/* Stop taking new messages from the queue (shutdown). */
void up_stop(struct up *u);
/* Messages held in memory (sent and not answered, or waiting to retry). */
unsigned up_in_memory(const struct up *u);
void up_unbind_all(struct up *u);
void up_free(struct up *u);
/* Of those, the ones sent upstream whose answer is not recorded in Redis
 * yet (a drain waits for them; the others are pending in the stream). */
unsigned up_unanswered(const struct up *u);

/*
 * A reload: make the connectors those of <next>. Added ones start;
 * removed ones stop and changed ones restart, both gracefully (no new
 * messages, the in-flight window empties - bounded -, unbind, close; a
 * restart then opens with the new settings); unchanged ones are not
 * touched. Their unfinished messages stay in the queue for the others.
 * <next>'s [queue] claim_idle sets the claim timer. <summary> gets
 * "upstream A added, upstream B restarted, ..." ("" when nothing changed).
 * -1 with <err> when a new or changed connector cannot be prepared (name
 * resolution, TLS context): then nothing has changed.
 */
int up_reload(struct up *u, const struct conf *next, char *summary,
              size_t scap, char *err, size_t ecap);

/* A request about a message that already left (cancel_sm, replace_sm),
 * sent on a bound session of <connector>. <cb> gets upstream's
 * command_status, or SESS_STATUS_TIMEOUT / SESS_STATUS_CLOSED. Returns -1
 * (and <cb> is not called) when no session of that connector can send. */
typedef void (*up_forward_cb)(uint32_t status, void *arg);
int up_forward(void *up, const char *connector, struct pdu *req,
               up_forward_cb cb, void *arg);

/* Bound sessions able to submit, over all connectors. */
unsigned up_bound_sessions(const struct up *u);

struct up_stats {
    unsigned long long sent, ok, temporary, permanent, retried, claimed,
        record_errors;
    unsigned long long late;           /* answers matched after resp_timeout */
    unsigned long long resent_unknown; /* copies sent after an unknown outcome */
    unsigned long long unknown;        /* messages recorded UNKNOWN */
};
const struct up_stats *up_stats(const struct up *u);

/* One connector's sessions and windows, for the metrics. */
struct up_connector_info {
    const char *name;
    unsigned bound, connecting, down;  /* sessions in each state */
    unsigned window_used;              /* submit_sm waiting for their resp */
    unsigned window_size;              /* window of the bound transmitters */
};
typedef void (*up_connector_cb)(const struct up_connector_info *c, void *arg);
void up_connectors(const struct up *u, up_connector_cb cb, void *arg);

#endif /* SMPPBRIDGE_UPSTREAM_H */
