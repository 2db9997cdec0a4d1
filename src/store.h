/*
 * store.h - all of smppbridge's Redis access (hiredis async, on the
 * bridge's event loop). Nothing else talks to Redis.
 *
 * Connections: one for commands, one for the queue consumer's blocking
 * reads (a blocking XREADGROUP would hold up every other command on a
 * shared connection), one subscribed to change notifications. Each
 * reconnects on its own with backoff.
 *
 * Every command completes exactly once: with Redis's reply, or with an
 * error when Redis is down, the connection drops, or no reply came within
 * [redis] timeout (then the connection is dropped and re-made, because a
 * reply that comes late can no longer be trusted to mean anything).
 *
 * Keys (prefix P from [redis] prefix; {...} are Redis Cluster hash tags,
 * one per account, so a cluster layout stays possible):
 *   P:acct:{ID}            hash   account (see account.h)
 *   P:accounts             set    all account ids
 *   P:events               pubsub "account ID" when an account changes
 *   P:queue                stream messages accepted from customers,
 *                                 consumer group "bridge"; fields:
 *                                 a=account i=our id t=ms p=raw PDU
 *   P:up:{CONN}:UPID       string "ACCOUNT\tOURID\tTS\tRD" (TTL id_ttl)
 *                                 upstream id (canonical) -> ours
 *   P:dlr:{ID}             stream receipts and MO for account ID, ready
 *                                 to send (field p = encoded deliver_sm)
 *   P:dead                 stream what could not be routed (counted)
 *   P:instances            counter giving each instance its number
 *   P:tb:{KEY}             hash   token bucket (tokens, ts) of a rate
 *   P:numbers              hash   inbound routing: number prefix -> account
 *   P:lease:{ID}           string which instance delivers account ID now
 */
#ifndef SMPPBRIDGE_STORE_H
#define SMPPBRIDGE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct conf_redis;
struct store;
struct account;

struct store_entry {
    char id[32];            /* stream entry id "ms-seq" */
    const char *account;    /* views into the reply: valid in the callback */
    const char *msg_id;
    const uint8_t *pdu;
    size_t pdu_len;
    uint64_t ts_ms;
    unsigned deliveries;    /* XAUTOCLAIM/XPENDING delivery count, if known */
};

struct store_idmap {
    char account[16];
    char msg_id[32];
    uint64_t ts_ms;
    uint8_t registered_delivery;
    unsigned candidate;     /* store_idmap_find: which of the ids matched */
};

/* Status of a completed command: 0 ok, -1 failed (Redis down, error
 * reply, timeout). */
typedef void (*store_done_cb)(int status, void *arg);
typedef void (*store_account_cb)(int status, const struct account *a,
                                 void *arg); /* a NULL: no such account */
typedef void (*store_entries_cb)(int status, const struct store_entry *e,
                                 size_t n, void *arg);
/* Every candidate that is mapped, in candidate order (n 0: unknown). */
typedef void (*store_idmap_cb)(int status, const struct store_idmap *m,
                               size_t n, void *arg);
typedef void (*store_event_cb)(const char *kind, const char *id, void *arg);
typedef void (*store_state_cb)(int up, void *arg);

struct store *store_new(struct event_base *base, const struct conf_redis *cfg,
                        const char *consumer_name);
void store_free(struct store *st);

/* 1 when the command connection is up and answering. */
int store_up(const struct store *st);
void store_on_state(struct store *st, store_state_cb cb, void *arg);
void store_on_event(struct store *st, store_event_cb cb, void *arg);

/* Ask for this instance's number (INCR P:instances); -1 until known. */
int store_instance_number(const struct store *st);

/* Accounts. */
int store_account_get(struct store *st, const char *id, store_account_cb cb,
                      void *arg);

/* The message queue. */
int store_queue_add(struct store *st, const char *account, const char *msg_id,
                    uint64_t ts_ms, const uint8_t *pdu, size_t len,
                    store_done_cb cb, void *arg);
/* Blocking read of up to <count> new entries for this consumer (on the
 * consumer connection; at most one outstanding). */
int store_queue_read(struct store *st, unsigned count, unsigned block_ms,
                     store_entries_cb cb, void *arg);
/* This consumer's own pending entries (read before and not finished: a
 * previous run under the same name), from the start of its history. */
int store_queue_read_own(struct store *st, unsigned count, const char *after,
                         store_entries_cb cb, void *arg);
/* Reset the idle time of entries this instance still holds, so that no
 * other instance claims them (XCLAIM ... JUSTID). */
int store_queue_touch(struct store *st, const char *const *ids, size_t n);
/* Entries pending longer than <idle_ms> for any consumer, now ours. */
int store_queue_claim(struct store *st, unsigned idle_ms, unsigned count,
                      store_entries_cb cb, void *arg);
/* Done with an entry: XACK and XDEL (one script call). */
int store_queue_done(struct store *st, const char *entry_id, store_done_cb cb,
                     void *arg);
/* After a submit_sm_resp: map the upstream id to ours and finish the
 * entry, in one script call (one round trip, applied whole). */
int store_queue_sent(struct store *st, const char *entry_id,
                     const char *connector, const char *upstream_id,
                     const struct store_idmap *m, unsigned ttl_s,
                     store_done_cb cb, void *arg);

/* Receipts: find which of <ids> (candidate forms of one upstream id) maps
 * to one of ours. */
int store_idmap_find(struct store *st, const char *connector,
                     const char *const *ids, size_t n, store_idmap_cb cb,
                     void *arg);

/* Per-account delivery queue (receipts and MO). */
int store_dlr_add(struct store *st, const char *account, const uint8_t *pdu,
                  size_t len, store_done_cb cb, void *arg);
/* Entries after <after> ("-" for the start), up to <count>. */
int store_dlr_range(struct store *st, const char *account, const char *after,
                    unsigned count, store_entries_cb cb, void *arg);
/* Delete delivered entries (at most 128 at once). */
int store_dlr_del(struct store *st, const char *account,
                  const char *const *ids, size_t n, store_done_cb cb, void *arg);

/* The inbound routing table (hash P:numbers: prefix -> account). */
typedef void (*store_routes_cb)(int status, const char *const *prefixes,
                                const char *const *accounts, size_t n,
                                void *arg);
int store_routes_load(struct store *st, store_routes_cb cb, void *arg);

/* Token buckets (throttle.h): take up to <want> tokens from bucket <key>
 * (P:tb:{key}) refilled at <rate>/s up to <burst>, on Redis's clock.
 * The callback gets how many were granted (0 when none are left). */
typedef void (*store_grant_cb)(int status, unsigned granted, void *arg);
int store_throttle_lease(struct store *st, const char *key, unsigned rate,
                         unsigned burst, unsigned want, store_grant_cb cb,
                         void *arg);

/* Tell every instance "<kind> <id>" on P:events (fire and forget). */
int store_publish(struct store *st, const char *kind, const char *id);

/* A lease on a name for <ttl_ms>, held by <owner>: granted when free or
 * already ours (then extended). Used so that one instance at a time
 * delivers an account's stream. Callback: 1 granted, 0 held elsewhere. */
typedef void (*store_lease_cb)(int status, int granted, void *arg);
int store_lease(struct store *st, const char *name, const char *owner,
                unsigned ttl_ms, store_lease_cb cb, void *arg);
/* Give a lease up if we hold it. */
int store_lease_release(struct store *st, const char *name, const char *owner);
/* This instance's consumer name (unique per instance). */
const char *store_consumer(const struct store *st);

/* Something that could not be routed: kept, never silently dropped. The
 * callback says whether Redis has it (0) before anyone acknowledges it. */
int store_dead_add(struct store *st, const char *reason, const uint8_t *pdu,
                   size_t len, store_done_cb cb, void *arg);

/* Counters for logs and metrics. */
struct store_stats {
    uint64_t commands, errors, timeouts, reconnects;
};
const struct store_stats *store_stats(const struct store *st);

#endif /* SMPPBRIDGE_STORE_H */
