/*
 * store_int.h - what the store_*.c files share, and nothing else uses:
 * struct store, the context of one command, and the scripts' ids.
 */
#ifndef SMPPBRIDGE_STORE_INT_H
#define SMPPBRIDGE_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "redis_conn.h"
#include "store.h"
#include "store_keys.h"

#define STORE_TAG "redis"
#define KEY_LEN STORE_KEY_LEN

/* Every script of the store, loaded on each command connection and run
 * by EVALSHA (redis_conn.h); each file registers its own. */
enum store_script {
    SCRIPT_FINISH = 0,
    SCRIPT_SENT,
    SCRIPT_QC_FLOOR,
    SCRIPT_CANCEL,
    SCRIPT_REPLACE,
    SCRIPT_NOTE_UNKNOWN,
    SCRIPT_QUEUE_ADD,
    SCRIPT_BODIES,
    SCRIPT_QUEUE_STATS,
    SCRIPT_DLR_EXPIRE,
    SCRIPT_BUCKET,
    SCRIPT_QUOTA,
    SCRIPT_LEASE,
    SCRIPT_LEASE_RELEASE,
    SCRIPT_ACCOUNT_UPDATE,
    SCRIPT_COUNT,
};

/* A file's scripts: a table ending with STORE_SCRIPTS_END. */
struct store_script_def {
    enum store_script id;
    const char *lua;
};
#define STORE_SCRIPTS_END {SCRIPT_COUNT, NULL}

struct store_op;
typedef void (*store_complete_fn)(struct store *st, struct redisReply *r,
                                  struct store_op *op);

/* The caller's callback, whichever of store.h's kinds it is. */
union store_cb {
    store_done_cb done;
    store_grant_cb grant;
    store_routes_cb routes;
    store_lease_cb lease;
    store_account_cb account;
    store_entries_cb entries;
    store_msg_cb msg;
    store_cancel_cb cancel;
    store_idmap_cb idmap;
    store_ids_cb ids;
    store_count_cb count;
    store_unknown_cb unknown;
    store_queue_stats_cb qstats;
};
#define STORE_CB(kind, fn) ((union store_cb){.kind = (fn)})
#define STORE_NO_CB ((union store_cb){.done = NULL})

/* One command's context, owned by the connection (redis_conn_send) until
 * <complete> returns. */
struct store_op {
    struct store *st;
    store_complete_fn complete; /* NULL: reply not needed */
    union store_cb cb;
    void *arg;
    char id[16];           /* the account asked for (HGETALL has no id) */
    char msg_id[32];       /* store_queue_sent: whose id it maps */
    char *ukey;            /* store_queue_sent: the id map key;
                              store_queue_add: the record's key (in the
                              context's tail) */
    int dlr_refused;       /* store_dlr_add: refused, only measuring */
    unsigned ttl_s;        /* store_queue_sent: its time to live */
    size_t cost;           /* store_queue_sent: the entry's, given back;
                              store_queue_add: what it costs */
};

/* Accounts remembered as having a full receipt stream, and for how long
 * before one deliver_sm is let through to measure it again. */
#define DLR_FULL_SLOTS 64
#define DLR_FULL_RECHECK_MS 1000u

struct receipt_job;
struct body_job;

/* What an account has queued, as last seen (store_queue.c, qc_fits()). */
#define STORE_QC_SLOTS 256
#define QC_FRESH_MS 100u
#define QC_MARGIN_MSGS 256u
#define QC_MARGIN_BYTES (1u << 20)

struct store_qc_slot {
    char account[16];
    uint64_t n, b;            /* the counts in the last reply */
    uint64_t inflight_n, inflight_b; /* added here, not answered yet */
    uint64_t seen_ms;         /* mono: when that reply came */
};

struct store {
    struct event_base *base;
    struct conf_redis cfg;
    char consumer[256];
    struct store_keys keys;
    /* one for commands, one for the queue consumer's blocking reads (a
     * blocking XREADGROUP would hold up every other command on a shared
     * connection), one subscribed to change notifications */
    struct redis_conn *cmd, *consumer_conn, *pubsub;
    struct redis_conn_stats conn_stats;
    struct store_stats stats;   /* what store_stats() gives out */
    struct store_stats *stats_out; /* &stats: filled by a const getter */
    int instance;           /* the number held, -1 none */
    int instance_want;      /* the number asked for, -1 none */
    unsigned instance_tries;
    uint64_t instance_until_ms; /* mono: the lease holds at least till then */
    uint64_t instance_asked_ms; /* mono: when the pending lease call left */
    int instance_asking;    /* a lease call is out */
    struct event *instance_ev;  /* renewal */
    struct event *instance_retry_ev; /* a failed lease call, again */
    struct event *policy_ev;    /* asks an evicting Redis again */
    int reading;            /* a queue read is outstanding */
    char claim_cursor[48];  /* where the next XAUTOCLAIM starts */
    struct receipt_job *receipt_jobs; /* waiting for a record (freed at exit) */
    struct body_job *body_jobs;       /* waiting for shared bodies (same) */
    store_state_cb state_cb;
    void *state_arg;
    store_event_cb event_cb;
    void *event_arg;
    struct metrics_family *m_latency, *m_dead, *m_dead_cut; /* store_metrics() */
    struct metrics_family *m_id_collisions;
    struct metrics_family *m_dlr_full;
    /* Accounts whose P:dlr:{ID} had dlr_maxlen entries at the last look,
     * until when upstream's deliver_sm for them are refused (see
     * store_dlr_full()); a few at most, so a small array. */
    struct {
        char account[16];
        uint64_t until_ms;
    } dlr_full[DLR_FULL_SLOTS];
    /* Redis's maxmemory-policy when it evicts keys (anything but
     * noeviction): the store is not up while it does ("" otherwise, and
     * while it is not known). Asked on every new command connection,
     * and again every POLICY_RECHECK_MS while it evicts. */
    char evicting[48];
    char too_old[32];       /* Redis's version when below 7.0, else "" */
    char unready[128];      /* store_unready_reason's text */
    struct store_qc_slot qc[STORE_QC_SLOTS]; /* store_queue.c */
};

/* Send a command on the command connection (store_send: on <c>, due
 * within <timeout_ms>, with <extra> bytes after the context for the
 * caller); <complete> (may be NULL) gets the reply and calls <cb>. The
 * context, or NULL when it could not be sent (no callback will come). */
struct store_op *store_send(struct store *st, struct redis_conn *c,
                            unsigned timeout_ms, store_complete_fn complete,
                            union store_cb cb, void *arg, size_t extra,
                            int argc, const char **argv, const size_t *lens);
struct store_op *store_cmd(struct store *st, store_complete_fn complete,
                           union store_cb cb, void *arg, int argc,
                           const char **argv, const size_t *lens);
/* Script <id> with <nkeys> keys among <argv>; store_eval_ex: with
 * <extra> bytes after the context, for the caller. */
struct store_op *store_eval(struct store *st, enum store_script id,
                            store_complete_fn complete, union store_cb cb,
                            void *arg, unsigned nkeys, int argc,
                            const char **argv, const size_t *lens);
struct store_op *store_eval_ex(struct store *st, enum store_script id,
                               store_complete_fn complete, union store_cb cb,
                               void *arg, size_t extra, unsigned nkeys,
                               int argc, const char **argv,
                               const size_t *lens);
/* A transaction (redis_conn_multi); <complete> gets EXEC's reply;
 * store_multi_ex: with <extra> bytes after the context. */
struct store_op *store_multi(struct store *st, store_complete_fn complete,
                             union store_cb cb, void *arg,
                             const struct redis_cmd *cmds, int n);
struct store_op *store_multi_ex(struct store *st, store_complete_fn complete,
                                union store_cb cb, void *arg, size_t extra,
                                const struct redis_cmd *cmds, int n);

/* Completions shared by several files: cb.done with 0 or -1, cb.count
 * with an integer reply, cb.entries with an XRANGE reply. */
void store_complete_done(struct store *st, struct redisReply *r,
                         struct store_op *p);
void store_complete_count(struct store *st, struct redisReply *r,
                          struct store_op *p);
void store_complete_range(struct store *st, struct redisReply *r,
                          struct store_op *p);

/* ---- store_msg.c: the message record -------------------------------- */

/* A new record's fields (state QUEUED), as name/value strings into
 * <argv> (STORE_MSG_NEW_ARGS of them, returned), its numbers formatted
 * in <f>; store_queue_add writes them with the entry. */
#define STORE_MSG_NEW_ARGS 18
struct store_msg_new {
    char ts[24], ton[4], npi[4];
};
int store_msg_new_fields(const struct store_msg_info *mi,
                         struct store_msg_new *f, const char **argv);
/* A final state for the record, with its CDR (store_msg_final), and
 * when <from_upstream> a real receipt's marker and the customer's copy
 * <pdu> (store_receipt_add); the record and the id map entry <map_key>
 * (NULL: none) then live final_ttl. */
int store_msg_final_add(struct store *st, const char *account,
                        const char *msg_id, const char *map_key,
                        const char *final_state, uint64_t final_ms,
                        unsigned error, int from_upstream, const uint8_t *pdu,
                        size_t len, store_done_cb cb, void *arg);
void store_msg_free_jobs(struct store *st);
extern const struct store_script_def store_msg_scripts[];

/* ---- store_queue.c --------------------------------------------------- */

/* XGROUP CREATE of the queue's group (MKSTREAM: the stream too). */
void store_queue_ensure_group(struct store *st);
void store_queue_free_jobs(struct store *st);
extern const struct store_script_def store_queue_scripts[];

/* ---- store_receipts.c ------------------------------------------------ */

/* The id map's value for <m>: "ACCOUNT\tOURID\tTS\tRD"; its length. */
size_t store_idmap_value(const struct store_idmap *m, char *out, size_t cap);
/* store_queue_sent found the id mapped already, to <old>: fine when it is
 * this very message (a retry), else a collision (marked, logged). */
void store_idmap_sent(struct store *st, const struct store_op *p,
                      const struct redisReply *old);
/* The bound on an account's delivery stream: 1 while it is full; a
 * refusal counted; the length XLEN reported last in transaction <e>. */
int store_dlr_full(struct store *st, const char *account);
void store_dlr_refused(struct store *st, const char *account);
void store_dlr_measured(struct store *st, const char *account,
                        const struct redisReply *e);
extern const struct store_script_def store_receipts_scripts[];

#endif /* SMPPBRIDGE_STORE_INT_H */
