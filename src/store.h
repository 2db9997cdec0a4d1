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
 * Keys: the table and their formatters are in store_keys.h.
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
    int body_lost;          /* its shared body is gone: <pdu> is its head
                             * alone, never to be sent */
    size_t cost;            /* what it cost its account's caps (field c);
                             * 0: written before the caps were counted */
    int shared;             /* it names a shared body (field r) */
};

/* A queue entry being finished: its id and what its store_entry said it
 * cost, so that finishing it can give that back without reading it. */
struct store_entry_ref {
    const char *id;
    size_t cost;
    int shared;
    int retry;              /* recorded before, the answer lost: the first
                             * try may have been applied */
};

struct store_idmap {
    char account[16];
    char msg_id[32];
    uint64_t ts_ms;
    uint8_t registered_delivery;
    int resent;             /* store_queue_sent: sent again after an
                               unknown outcome (the CDR says so) */
    unsigned candidate;     /* store_idmap_find: which of the ids matched */
    int collided;           /* the id was issued for two messages: whose
                             * receipt it is cannot be known (no account) */
    /* store_idmap_find: where the map entry is (the connector and the
     * form of the id that matched), so that store_receipt_add can cut
     * its life to final_ttl with the message's final state. */
    char connector[64];
    char map_id[65];
};

/* Status of a completed command: 0 ok, -1 failed (Redis down, error
 * reply, timeout), STORE_FULL refused by a per-account bound. */
#define STORE_FULL (-2)
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

/* 1 when the command connection is up and answering, and Redis does not
 * evict keys (its maxmemory-policy is noeviction, or could not be
 * learned: then a warning is logged). */
int store_up(const struct store *st);
/* Why the store is not up although connected (Redis's maxmemory-policy
 * evicts keys, or Redis is older than 7.0), in words; NULL when it is. */
const char *store_unready_reason(const struct store *st);
/* 1 when the command connection is up and answering, whatever Redis's
 * eviction policy: writes that keep what this instance holds (touching
 * its pending entries) go on while the store is not up for new work. */
int store_connected(const struct store *st);
void store_on_state(struct store *st, store_state_cb cb, void *arg);
void store_on_event(struct store *st, store_event_cb cb, void *arg);

/* This instance's number (0-1023, in its message ids), or -1 while none
 * is known to be ours. A number is a lease P:lease:{instance:N} owned by
 * the consumer name, renewed every 10 s for 30 s and confirmed again on
 * every reconnect (a failover may lose it); a number another live
 * instance holds is never used: the next free one is taken. The first
 * choice comes from INCR P:instances. */
int store_instance_number(const struct store *st);

/* Accounts. */
int store_account_get(struct store *st, const char *id, store_account_cb cb,
                      void *arg);

/* What the state record of a message starts with (P:msg:{ID}:MSGID). */
struct store_msg_info {
    const char *account;
    const char *msg_id;
    uint64_t ts_ms;
    uint8_t src_ton, src_npi;
    const char *src;
    const char *dst;
    const char *parts;      /* "SEQ/TOTAL" of a concatenated message */
    /* The account's caps on what it has queued (P:qc:{ID}); 0: none. */
    uint32_t max_messages;
    uint64_t max_bytes;
    /* A shared body (one submit_multi's common part, stored once as
     * P:body:{ID}:BODY_ID and referenced by each destination's entry):
     * the PDU is its first <head_len> bytes and the body; <body_create>
     * in the first entry that names it (the body's bytes go with it), 0
     * in the others. body_id NULL: the PDU is stored whole. */
    const char *body_id;
    size_t head_len;
    int body_create;
};

/* The message queue. Adds the entry and the message's state record
 * (QUEUED) in one script call, applied whole, within the account's caps:
 * the callback's status is 0 (queued), 1 (over a cap, or the shared body
 * it names is gone: nothing written) or -1 (Redis failed). What each
 * entry costs is given back when any path removes it (sent, failed,
 * cancelled, replaced). Readers of the queue get every PDU whole. */
int store_queue_add(struct store *st, const struct store_msg_info *mi,
                    const uint8_t *pdu, size_t len, store_done_cb cb,
                    void *arg);
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
/* Refused upstream for good (<status>): XACK and XDEL the entry, record
 * the message as REJECTED and write its CDR (one script call). <status>
 * ESME_ROK: accepted without an id we can use: UNKNOWN. <resent>: it was
 * sent again after an unknown outcome (field "resent" = 1). */
int store_queue_failed(struct store *st, const char *entry_id,
                       const char *account, const char *msg_id,
                       uint32_t status, int resent, store_done_cb cb,
                       void *arg);
/* Its outcome stayed unknown (no answer upstream within the grace for late
 * answers): finish the entry as UNKNOWN - never REJECTED: upstream may
 * well have taken it -, upstream_status <why>, and write its CDR. */
int store_queue_unknown(struct store *st, const char *entry_id,
                        const char *account, const char *msg_id,
                        const char *why, int resent, store_done_cb cb,
                        void *arg);
/* Unknown outcomes, remembered with the message so that the resend bound
 * holds across a restart and when another instance claims the entry.
 * store_msg_note_unknown: a copy of queued message <msg_id> of <account>
 * got no answer (<resent> 0: field unknown_copies + 1), or a copy went
 * out after such an outcome (<resent> 1: field resent = 1). Fire and
 * forget, only while the message is QUEUED. store_msg_unknown reads both
 * back for an entry taken from history or claimed: <copies> 0 and
 * <resent> 0 for a message that never had an unknown outcome. */
typedef void (*store_unknown_cb)(int status, unsigned copies, int resent,
                                 void *arg);
int store_msg_note_unknown(struct store *st, const char *account,
                           const char *msg_id, int resent);
int store_msg_unknown(struct store *st, const char *account,
                      const char *msg_id, store_unknown_cb cb, void *arg);
/* One more upstream id for a message (another copy of it that upstream
 * accepted): its receipt is matched like the first one's. Only the id
 * map is written; fire and forget. */
int store_idmap_add(struct store *st, const char *connector,
                    const char *upstream_id, const struct store_idmap *m,
                    unsigned ttl_s);
/* After a submit_sm_resp: map the upstream id (<upstream_id>, in
 * dlr_id_key() form) to ours and finish the entry, in one transaction (one
 * round trip, applied whole); the message is ENROUTE on <connector> from
 * now, under the id as upstream wrote it (<upstream_raw>: cancel_sm and
 * replace_sm name it so). An id already mapped to another message is
 * never overwritten: it is marked as a collision (logged, counted), so
 * that its receipts go to dead letters rather than to either message. */
int store_queue_sent(struct store *st, const struct store_entry_ref *entry,
                     const char *connector, const char *upstream_id,
                     const char *upstream_raw, const struct store_idmap *m,
                     unsigned ttl_s, store_done_cb cb, void *arg);

/* Receipts: find which of <ids> (candidate forms of one upstream id) maps
 * to one of ours. */
int store_idmap_find(struct store *st, const char *connector,
                     const char *const *ids, size_t n, store_idmap_cb cb,
                     void *arg);

/* A receipt from upstream for the message <m> found: its final state
 * (<final_state>, a message_state name, or NULL for an intermediate
 * receipt; recorded once, with the CDR), and, when <pdu> is not NULL,
 * the rewritten deliver_sm added to the account's delivery stream. The
 * record is read, then written in one transaction; with the final state
 * the record keeps only what query_sm needs, and it and its id map live
 * [redis] final_ttl from then (docs/architecture.md). Refused
 * with STORE_FULL, nothing written, while the account's stream is full
 * (store_dlr_add). */
int store_receipt_add(struct store *st, const struct store_idmap *m,
                      const char *final_state, uint64_t final_ms,
                      unsigned error, const uint8_t *pdu, size_t len,
                      store_done_cb cb, void *arg);

/* Per-account delivery queue (receipts and MO). <from_upstream>: what
 * upstream sent (an MO, an intermediate receipt), refused with
 * STORE_FULL while the account has [redis] dlr_maxlen entries waiting -
 * upstream keeps it and sends it again; our own failure receipts are
 * not (one per queued message: the queue caps bound them). */
int store_dlr_add(struct store *st, const char *account, const uint8_t *pdu,
                  size_t len, int from_upstream, store_done_cb cb, void *arg);
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
/* Daily quotas (throttle.h): take up to <want> of <account>'s <quota>
 * for <day> ("YYYYMMDD", UTC) from P:quota:{ID}:DAY, never past the
 * quota; the key expires at Unix time <expire_at>. The callback gets how
 * many were granted (0 when the quota is used up). */
int store_quota_lease(struct store *st, const char *account, const char *day,
                      unsigned quota, unsigned want, int64_t expire_at,
                      store_grant_cb cb, void *arg);

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

/* Every account id (SMEMBERS P:accounts); views valid in the callback. */
typedef void (*store_ids_cb)(int status, const char *const *ids, size_t n,
                             void *arg);
int store_account_ids(struct store *st, store_ids_cb cb, void *arg);

/* Expiry of an account's delivery stream, in one script call applied
 * whole: up to <max> entries of P:dlr:{ACCOUNT} older than <ttl_ms> (by
 * their id's millisecond part, on Redis's clock) are added to P:dead
 * (fields reason "expired", account, p) and deleted. The callback gets
 * how many were moved; <max> of them means more may be left. */
typedef void (*store_count_cb)(int status, unsigned n, void *arg);
int store_dlr_expire(struct store *st, const char *account, unsigned ttl_ms,
                     unsigned max, store_count_cb cb, void *arg);

/* ---- message state (query_sm, cancel_sm, replace_sm, CDRs) ---------- */

/* A message's state record; views into the reply, valid in the callback.
 * state is a message_state name: QUEUED (ours, not yet sent), ENROUTE,
 * DELIVERED, EXPIRED, DELETED, UNDELIVERABLE, ACCEPTED, UNKNOWN, REJECTED. */
struct store_msg {
    const char *state;
    const char *entry;          /* queue entry while QUEUED */
    const char *connector;      /* once sent */
    const char *upstream_id;
    const char *src;
    uint8_t src_ton, src_npi;
    uint64_t final_ms;          /* 0 until final */
    unsigned error;             /* network error code from the receipt */
};
/* <m> NULL with status 0: no such message (or no longer kept). */
typedef void (*store_msg_cb)(int status, const struct store_msg *m,
                             void *arg);
int store_msg_get(struct store *st, const char *account, const char *msg_id,
                  store_msg_cb cb, void *arg);

/* A final state we reached (a cancel upstream): recorded once, with its
 * CDR; later ones are ignored. <cb> (may be NULL) once it is written. */
int store_msg_final(struct store *st, const char *account, const char *msg_id,
                    const char *state, uint64_t final_ms, unsigned error,
                    store_done_cb cb, void *arg);

/* cancel_sm: what became of it. */
enum store_cancel_outcome {
    STORE_CANCEL_UNKNOWN = 0,   /* no such message */
    STORE_CANCEL_DONE,          /* taken out of the queue: DELETED */
    STORE_CANCEL_UPSTREAM,      /* sent: cancel it upstream (msg filled) */
    STORE_CANCEL_FINAL,         /* already in a final state */
    STORE_CANCEL_BUSY,          /* being sent right now: try again */
};
typedef void (*store_cancel_cb)(int status, enum store_cancel_outcome o,
                                const struct store_msg *m, void *arg);
int store_msg_cancel(struct store *st, const char *account, const char *msg_id,
                     store_cancel_cb cb, void *arg);

/* The queue entry <entry_id> (XRANGE), given as one store_entry (n 0:
 * gone). */
int store_queue_entry(struct store *st, const char *entry_id,
                      store_entries_cb cb, void *arg);
/* replace_sm in the queue: swap entry <old_entry> of the message for a new
 * one carrying <pdu>, if the message is still QUEUED in that entry and no
 * instance has taken it. Callback status: 0 replaced, 1 too late (taken,
 * sent or changed meanwhile), -1 Redis failed. */
int store_msg_replace(struct store *st, const struct store_msg_info *mi,
                      const char *old_entry, const uint8_t *pdu, size_t len,
                      store_done_cb cb, void *arg);

/* Counters for logs and metrics. */
struct store_stats {
    uint64_t commands, errors, timeouts, reconnects;
};
const struct store_stats *store_stats(const struct store *st);

/* ---- admin and metrics ---------------------------------------------- */

/* The queue's length (XLEN P:queue) and the age of its first entry on
 * Redis's clock (0 when empty), in one script call. */
typedef void (*store_queue_stats_cb)(int status, uint64_t depth,
                                     uint64_t oldest_age_ms, void *arg);
int store_queue_stats(struct store *st, store_queue_stats_cb cb, void *arg);
/* XLEN P:dlr:{ACCOUNT}: receipts and MO waiting for <account>. */
int store_dlr_len(struct store *st, const char *account, store_count_cb cb,
                  void *arg);
/* Change some fields of an existing account (HSET of <n> pairs <names> =
 * <values>, already valid; "updated" among them) and publish "account ID"
 * on P:events, in one script call applied whole. The callback gets 1
 * when changed, 0 when there is no such account. */
int store_account_update(struct store *st, const char *id,
                         const char *const *names, const char *const *values,
                         size_t n, store_count_cb cb, void *arg);

#endif /* SMPPBRIDGE_STORE_H */
