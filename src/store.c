/*
 * store.c - Redis access for the bridge: connections, exactly-once
 * completion with timeouts, and the typed operations of store.h.
 *
 * hiredis 0.14 has no command timeout of its own, so every command is
 * wrapped in a struct pending kept in send order per connection; a
 * periodic check fails the ones past their deadline (the caller gets an
 * error at once) and then drops the connection, because Redis answering
 * late on a connection we gave up on would shift every later reply.
 * hiredis then calls each remaining callback with a NULL reply; a pending
 * that was already completed is just freed.
 */
#include "common.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "pdu.h"
#include "store.h"
#include "hash.h"

#define TAG "redis"
#define RECONNECT_MIN_MS 100u
#define RECONNECT_MAX_MS 2000u
#define CHECK_INTERVAL_MS 50u
/* An instance number is a lease (P:lease:{instance:N}, owner: this
 * instance's consumer name) renewed well within its life; ids are issued
 * only while the last renewal is known to hold. */
#define INSTANCE_COUNT 1024u
#define INSTANCE_LEASE_MS 30000u
#define INSTANCE_RENEW_MS 10000u
/* A lease call that failed (Redis away, or LOADING after a restart) is
 * made again this soon: no ids are issued meanwhile. */
#define INSTANCE_RETRY_MS 250u
#define MAX_ARGS 16
#define KEY_LEN 256
#define MAX_TOUCH 128
#define MAX_DEL 128

/*
 * A token bucket on Redis's clock (TIME), so that instances need not
 * agree on time. KEYS[1] bucket; ARGV rate per second, burst, wanted.
 * Returns the tokens granted.
 */
static const char bucket_script[] =
    "local t = redis.call('TIME') "
    "local now = t[1] * 1000 + math.floor(t[2] / 1000) "
    "local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) "
    "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts') "
    "local tokens, ts = tonumber(v[1]) or burst, tonumber(v[2]) or now "
    "if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end "
    "local grant = math.min(want, math.floor(tokens)) "
    "if grant < 0 then grant = 0 end "
    "redis.call('HSET', KEYS[1], 'tokens', string.format('%.3f', tokens - grant), 'ts', now) "
    "redis.call('PEXPIRE', KEYS[1], 60000) "
    "return grant";

/* KEYS[1] lease; ARGV owner, ttl ms. 1 when ours (new or extended). */
static const char *const lease_script[2] = {
    "local v = redis.call('GET', KEYS[1]) "
    "if v == false or v == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0",
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) end return 0",
};

/*
 * Message state. Each accepted message has a hash P:msg:{ACCT}:ID (see
 * store.h) whose field "state" moves QUEUED -> ENROUTE -> a final state
 * (or QUEUED -> DELETED by cancel_sm, QUEUED -> REJECTED by upstream).
 * A CDR is the hash (its queue entry field deleted first) appended to
 * P:cdr when the message's life here ends. The function below is
 * prefixed to every script that may end one: KEYS of the caller, the
 * maxlen as an argument. A final state without a script: receipt_job.
 */
#define CDR_LUA                                                              \
    "local function cdr(mkey, ckey, maxlen) "                                \
    "if ckey == '' or tonumber(maxlen) == 0 then return end "                \
    "local h = redis.call('HGETALL', mkey) "                                 \
    "if #h == 0 then return end "                                            \
    "redis.call('XADD', ckey, 'MAXLEN', '~', maxlen, '*', unpack(h)) end "

/*
 * Removing a queue entry, the one way every script does it: XDEL, and
 * when the entry was really there (a second finish of the same entry
 * finds nothing), give its account back what it cost (its field c, in
 * bytes, and one message) in the counter hash P:qc:{ACCT} (<ckey>), and
 * drop its reference to a shared body (field r: a submit_multi's common
 * part, see store_queue_add); the last reference deletes the body and
 * gives its bytes back too: the amount the entry itself carries (field
 * rb, what the body cost when the entry was added), so the exact cost
 * comes back even when the body is no longer there (it lived id_ttl
 * in older versions). A body lost that way is given back by each of its
 * entries, too much rather than never: the count heals at 0, where a
 * count too high would refuse the account for good. Entries written
 * before the counters existed
 * have no field c and were never counted: nothing to give back. The
 * counts never go below 0, so a counter hash lost or reset heals. (A
 * zero is never passed to HINCRBY: Lua writes -0 as "-0", which Redis
 * refuses as an integer, and a script stopped by an error keeps what it
 * already wrote.)
 */
#define QDEL_LUA                                                             \
    "local function qgive1(ckey, f, v) "                                     \
    "if ckey == '' or v == 0 then return end "                               \
    "if redis.call('HINCRBY', ckey, f, -v) < 0 then "                        \
    "redis.call('HSET', ckey, f, 0) end end "                                \
    "local function qgive(ckey, n, b) "                                      \
    "qgive1(ckey, 'n', n) qgive1(ckey, 'b', b) end "                         \
    "local function qdel(q, id, ckey) "                                      \
    "local e = redis.call('XRANGE', q, id, id) "                             \
    "local n = redis.call('XDEL', q, id) "                                   \
    "if n == 0 or #e == 0 then return n end "                                \
    "local f, c, r, rb = e[1][2], nil, nil, nil "                            \
    "for j = 1, #f - 1, 2 do "                                               \
    "if f[j] == 'c' then c = tonumber(f[j + 1]) "                            \
    "elseif f[j] == 'r' then r = f[j + 1] "                                  \
    "elseif f[j] == 'rb' then rb = tonumber(f[j + 1]) end end "              \
    "if c then qgive(ckey, 1, c) end "                                       \
    "if r and redis.call('HINCRBY', r, 'refs', -1) <= 0 then "               \
    "local bl = rb or tonumber(redis.call('HGET', r, 'bytes')) or "          \
    "redis.call('HSTRLEN', r, 'd') "                                         \
    "redis.call('DEL', r) "                                                  \
    "if c then qgive(ckey, 0, bl) end end "                                  \
    "return n end "

/* Finishing a queue entry after upstream answered. KEYS[1] queue, KEYS[2]
 * id map key or "", KEYS[3] message, KEYS[4] CDR stream, KEYS[5] the
 * account's queue counters; ARGV[1] entry
 * id, ARGV[2] map value, ARGV[3] TTL s, ARGV[4] new state (ENROUTE,
 * REJECTED or UNKNOWN), ARGV[5] connector, ARGV[6] upstream id or
 * upstream status, ARGV[7] now ms, ARGV[8] "1" when the life ends here
 * (refused, or accepted without a usable id), ARGV[9] CDR maxlen,
 * ARGV[10] "1" when the message was sent again after an unknown outcome
 * (the CDR's "resent" field), ARGV[11] final_ttl. An ENROUTE record lives
 * id_ttl from now: its receipt may come that late; a REJECTED one
 * final_ttl (an UNKNOWN one keeps id_ttl: its receipt may still come). */
static const char finish_script[] =
    CDR_LUA QDEL_LUA
    "if KEYS[2] ~= '' then "
    "redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end "
    "redis.call('XACK', KEYS[1], 'bridge', ARGV[1]) "
    "local n = qdel(KEYS[1], ARGV[1], KEYS[5]) "
    "if redis.call('HGET', KEYS[3], 'state') == 'QUEUED' then "
    "if ARGV[4] == 'ENROUTE' then "
    "redis.call('HSET', KEYS[3], 'state', 'ENROUTE', 'connector', ARGV[5], "
    "'upstream_id', ARGV[6], 'sent', ARGV[7]) "
    "redis.call('EXPIRE', KEYS[3], ARGV[3]) "
    "else redis.call('HSET', KEYS[3], 'state', ARGV[4], 'upstream_status', "
    "ARGV[6], 'final', ARGV[7]) end "
    "if ARGV[10] == '1' then redis.call('HSET', KEYS[3], 'resent', '1') end "
    "redis.call('HDEL', KEYS[3], 'entry') "
    "if ARGV[8] == '1' then cdr(KEYS[3], KEYS[4], ARGV[9]) "
    "if ARGV[4] == 'REJECTED' then redis.call('EXPIRE', KEYS[3], ARGV[11]) "
    "end end end "
    "return n";

/* The scripts run for every message go by their SHA1 (EVALSHA): sending
 * and hashing a few hundred bytes of Lua per call was half of Redis's
 * time per message. They are loaded on every new command connection; a
 * NOSCRIPT answer (a Redis that was flushed, or still loading its data
 * when we connected) loads them again, and that one command fails. */
enum script_id {
    SCRIPT_FINISH = 0,
    SCRIPT_SENT,
    SCRIPT_QUEUE_ADD,
    SCRIPT_BODIES,
    SCRIPT_COUNT,
};

/* After a submit_sm_resp with an id: map it, finish the entry, the
 * message is ENROUTE. KEYS[1] queue, KEYS[2] id map key, KEYS[3]
 * message, KEYS[4] the account's queue counters; ARGV[1] entry id,
 * ARGV[2] map value, ARGV[3] TTL s, ARGV[4] connector, ARGV[5] upstream
 * id as written, ARGV[6] now ms, ARGV[7] "1" when it was sent again
 * after an unknown outcome (field "resent"). The id map is set only when
 * the id is not mapped yet (GET, then SET: SET NX GET needs Redis 7): an id upstream gave to another message
 * too is never overwritten, and the reply, the value it had ("" when
 * none), says whose it was (complete_sent). Nothing else here depends on
 * what Redis holds but the entry's cost, given back by qdel. */
static const char sent_script[] =
    QDEL_LUA
    "local old = redis.call('GET', KEYS[2]) "
    "if not old then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end "
    "redis.call('XACK', KEYS[1], 'bridge', ARGV[1]) "
    "qdel(KEYS[1], ARGV[1], KEYS[4]) "
    "redis.call('HSET', KEYS[3], 'state', 'ENROUTE', 'connector', ARGV[4], "
    "'upstream_id', ARGV[5], 'sent', ARGV[6]) "
    "if ARGV[7] == '1' then redis.call('HSET', KEYS[3], 'resent', '1') end "
    "redis.call('EXPIRE', KEYS[3], ARGV[3]) return old or ''";

/*
 * Adding a message to the queue within its account's caps, in one step
 * (when the account is near a cap, see qc_fits(); or its entry names a
 * shared body):
 * the count and the write cannot drift apart, and two instances cannot
 * both take the last place. KEYS[1] queue, KEYS[2] message record,
 * KEYS[3] the account's counters P:qc:{ACCT} (fields n messages, b
 * bytes), KEYS[4] a shared body P:body:{ACCT}:ID or "" (fields d bytes,
 * bytes their count, refs). ARGV[1] account, [2] our id, [3] ts ms, [4] the PDU (or, with a
 * body, its head: the PDU is head .. d), [5] max messages, [6] max
 * bytes, [7] TTL s, [8] the body's bytes when this entry creates it, ""
 * otherwise; from [9] the record's fields and values. The entry costs
 * its own bytes (field c); a body costs its bytes once, charged when it
 * is created, and each entry names its body (r) and that cost (rb). A
 * body never expires: its entries never do, and it is deleted with the
 * last of them (qdel); an older body that still has a TTL loses it
 * here. Returns the entry id and the account's counts after it, or -1
 * over a cap (nothing written), or -2 when the body it names is gone
 * (its first entry was refused).
 */
static const char queue_add_script[] =
    "local v = redis.call('HMGET', KEYS[3], 'n', 'b') "
    "local n, b = tonumber(v[1]) or 0, tonumber(v[2]) or 0 "
    "local cost, body = #ARGV[4], ARGV[8] "
    "if KEYS[4] ~= '' and body == '' and "
    "redis.call('EXISTS', KEYS[4]) == 0 then return -2 end "
    "if n + 1 > tonumber(ARGV[5]) or "
    "b + cost + #body > tonumber(ARGV[6]) then return -1 end "
    "local e "
    "if KEYS[4] ~= '' then "
    "local rb = #body "
    "if body ~= '' then redis.call('HSET', KEYS[4], 'd', body, 'refs', 0, "
    "'bytes', rb) "
    "else rb = tonumber(redis.call('HGET', KEYS[4], 'bytes')) or "
    "redis.call('HSTRLEN', KEYS[4], 'd') end "
    "redis.call('HINCRBY', KEYS[4], 'refs', 1) "
    "redis.call('PERSIST', KEYS[4]) "
    "e = redis.call('XADD', KEYS[1], '*', 'a', ARGV[1], 'i', ARGV[2], "
    "'t', ARGV[3], 'p', ARGV[4], 'c', cost, 'r', KEYS[4], 'rb', rb) "
    "else e = redis.call('XADD', KEYS[1], '*', 'a', ARGV[1], 'i', ARGV[2], "
    "'t', ARGV[3], 'p', ARGV[4], 'c', cost) end "
    "local nn = redis.call('HINCRBY', KEYS[3], 'n', 1) "
    "local nb = redis.call('HINCRBY', KEYS[3], 'b', cost + #body) "
    "redis.call('HSET', KEYS[2], 'entry', e, unpack(ARGV, 9)) "
    "redis.call('EXPIRE', KEYS[2], ARGV[7]) "
    "return {e, nn, nb}";

/* The shared bodies of entries just read: KEYS the body keys; for each,
 * its bytes, or "" when it is gone. */
static const char bodies_script[] =
    "local out = {} "
    "for i = 1, #KEYS do "
    "out[i] = redis.call('HGET', KEYS[i], 'd') or '' end "
    "return out";

/* cancel_sm. KEYS[1] queue, KEYS[2] message, KEYS[3] CDR stream, KEYS[4]
 * the account's queue counters; ARGV now ms, maxlen, final_ttl. An entry an instance has read (it is in the group's pending
 * list) may be on the wire already: BUSY, never a false "cancelled". */
static const char msg_cancel_script[] =
    CDR_LUA QDEL_LUA
    "local v = redis.call('HMGET', KEYS[2], 'state', 'entry', 'connector', "
    "'upstream_id', 'src_ton', 'src_npi', 'src') "
    "if not v[1] then return {0} end "
    "if v[1] == 'ENROUTE' then return {2, v[3], v[4], v[5], v[6], v[7]} end "
    "if v[1] ~= 'QUEUED' then return {3} end "
    "if not v[2] then return {4} end "
    "if #redis.call('XPENDING', KEYS[1], 'bridge', v[2], v[2], 1) > 0 then "
    "return {4} end "
    "if qdel(KEYS[1], v[2], KEYS[4]) == 0 then return {4} end "
    "redis.call('HSET', KEYS[2], 'state', 'DELETED', 'final', ARGV[1]) "
    "redis.call('HDEL', KEYS[2], 'entry') "
    "cdr(KEYS[2], KEYS[3], ARGV[2]) "
    "redis.call('EXPIRE', KEYS[2], ARGV[3]) return {1}";

/* replace_sm in the queue. KEYS[1] queue, KEYS[2] message, KEYS[3] the
 * account's queue counters; ARGV old entry, pdu, account, id, ts. 1
 * replaced, 0 too late. The new entry is whole (no shared body) and
 * costs its own bytes: one message for one, so no cap is checked. */
static const char msg_replace_script[] =
    QDEL_LUA
    "local v = redis.call('HMGET', KEYS[2], 'state', 'entry') "
    "if v[1] ~= 'QUEUED' or v[2] ~= ARGV[1] then return 0 end "
    "if #redis.call('XPENDING', KEYS[1], 'bridge', ARGV[1], ARGV[1], 1) > 0 "
    "then return 0 end "
    "if qdel(KEYS[1], ARGV[1], KEYS[3]) == 0 then return 0 end "
    "local e = redis.call('XADD', KEYS[1], '*', 'a', ARGV[3], 'i', ARGV[4], "
    "'t', ARGV[5], 'p', ARGV[2], 'c', #ARGV[2]) "
    "redis.call('HINCRBY', KEYS[3], 'n', 1) "
    "redis.call('HINCRBY', KEYS[3], 'b', #ARGV[2]) "
    "redis.call('HSET', KEYS[2], 'entry', e) return 1";

enum conn_kind {
    CONN_CMD = 0,
    CONN_CONSUMER,
    CONN_PUBSUB,
    CONN_COUNT,
};
/* The connection's name in log fields. */
#define CONN_KIND_NAME(k) \
    ((k) == CONN_CMD ? "commands" : (k) == CONN_CONSUMER ? "consumer" : "pubsub")

struct pending;
typedef void (*complete_fn)(struct store *st, redisReply *r, struct pending *p);

struct pending {
    struct store_conn *conn;
    uint64_t deadline_ms;
    complete_fn complete;  /* NULL: reply not needed (pipeline step) */
    union {
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
    } cb;
    void *arg;
    int finished;          /* user callback already called */
    uint64_t sent_us;      /* for smppbridge_redis_latency_seconds */
    char id[16];           /* the account asked for (HGETALL has no id) */
    char msg_id[32];       /* store_queue_add: whose record gets the entry */
    char *ukey;            /* store_queue_sent: the id map key;
                              store_queue_add: the record's;
                              store_idmap_find: what it asked (owned) */
    int dlr_refused;       /* store_dlr_add: refused, only measuring */
    unsigned ttl_s;        /* store_queue_sent: its time to live */
    size_t cost;           /* store_queue_sent: the entry's, given back;
                              store_queue_add: what it costs */
    struct pending *prev, *next;
};

struct store_conn {
    struct store *st;
    enum conn_kind kind;
    redisAsyncContext *ac;
    int up;
    unsigned backoff_ms;
    struct event *retry_ev;
    struct event *connect_ev;  /* [redis] timeout for connect (and ROLE) */
    struct pending *oldest, *newest;
    char host[CONF_STR];       /* where ac goes: [redis] host or the master */
    unsigned port;
    /* With [redis] sentinels: the one being asked for the master. */
    redisAsyncContext *sentinel_ac;
    struct event *sentinel_ev; /* its answer's deadline */
    int sentinel_next;         /* index of the next one to ask */
};

/* Accounts remembered as having a full receipt stream, and for how long
 * before one deliver_sm is let through to measure it again. */
#define DLR_FULL_SLOTS 64
#define DLR_FULL_RECHECK_MS 1000u

/* What an account has queued, as last seen: see qc_fits(). */
#define QC_SLOTS 256
#define QC_FRESH_MS 1000u
#define QC_MARGIN_MSGS 256u
#define QC_MARGIN_BYTES (1u << 20)

struct qc_slot {
    char account[16];
    uint64_t n, b;            /* the counts in the last reply */
    uint64_t inflight_n, inflight_b; /* added here, not answered yet */
    uint64_t seen_ms;         /* mono: when that reply came */
};

struct store {
    struct event_base *base;
    struct conf_redis cfg;
    char consumer[256];
    struct store_conn conns[CONN_COUNT];
    struct event *check_ev;
    int instance;           /* the number held, -1 none */
    int instance_want;      /* the number asked for, -1 none */
    unsigned instance_tries;
    uint64_t instance_until_ms; /* mono: the lease holds at least till then */
    uint64_t instance_asked_ms; /* mono: when the pending lease call left */
    int instance_asking;    /* a lease call is out */
    struct event *instance_ev;  /* renewal */
    struct event *instance_retry_ev; /* a failed lease call, again */
    int reading;            /* a queue read is outstanding */
    char claim_cursor[48];  /* where the next XAUTOCLAIM starts */
    char script_sha[SCRIPT_COUNT][41];
    struct receipt_job *receipt_jobs; /* waiting for a record (freed at exit) */
    struct body_job *body_jobs;       /* waiting for shared bodies (same) */
    int closing;            /* store_free: callbacks are not called */
    store_state_cb state_cb;
    void *state_arg;
    store_event_cb event_cb;
    void *event_arg;
    struct store_stats stats;
    struct metrics_family *m_latency, *m_dead, *m_dead_cut; /* store_metrics() */
    struct metrics_family *m_id_collisions;
    struct metrics_family *m_dlr_full;
    /* Accounts whose P:dlr:{ID} had dlr_maxlen entries at the last look,
     * until when upstream's deliver_sm for them are refused (see
     * dlr_stream_full()); a few at most, so a small array. */
    struct {
        char account[16];
        uint64_t until_ms;
    } dlr_full[DLR_FULL_SLOTS];
    /* Redis's maxmemory-policy when it evicts keys (anything but
     * noeviction): the store is not up while it does ("" otherwise, and
     * while it is not known). Asked on every new command connection,
     * and again every POLICY_RECHECK_MS while it evicts. */
    char evicting[48];
    uint64_t policy_asked_ms;
    struct qc_slot qc[QC_SLOTS]; /* see qc_fits() */
};

#define POLICY_RECHECK_MS 5000u

struct receipt_job;
struct body_job;
static void body_job_free(struct body_job *j);
static void conn_connect(struct store_conn *c);
static void ensure_group(struct store *st);
static void receipt_job_free(struct receipt_job *j);
static const char *hash_field(const redisReply *r, const char *name);
static void load_scripts(struct store *st);
static void policy_ask(struct store *st);
static void store_metrics(struct store *st);

/* ---- pending commands ----------------------------------------------- */

static void pending_unlink(struct pending *p)
{
    struct store_conn *c = p->conn;
    if (p->prev)
        p->prev->next = p->next;
    else if (c->oldest == p)
        c->oldest = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else if (c->newest == p)
        c->newest = p->prev;
    p->prev = p->next = NULL;
}

/* Complete <p> with <r> (NULL: failure) unless it already was. */
static void pending_finish(struct store *st, struct pending *p, redisReply *r)
{
    if (p->finished)
        return;
    p->finished = 1;
    if (!r || r->type == REDIS_REPLY_ERROR)
        st->stats.errors++;
    /* an existing consumer group is the expected answer at every start */
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)
        log_event(LOG_WARN, TAG, LOG_FIELDS("error", r->str), "command failed: %.*s",
                  (int)r->len, r->str);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0)
        load_scripts(st);
    /* the queue (and its group) was deleted or evicted: make it again */
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOGROUP", 7) == 0)
        ensure_group(st);
    /* exiting: the modules these callbacks belong to may be gone */
    if (p->complete && !st->closing)
        p->complete(st, r && r->type != REDIS_REPLY_ERROR ? r : NULL, p);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct pending *p = privdata;
    (void)ac;
    if (!p)
        return;
    struct store *st = p->conn->st;
    if (!p->finished)
        pending_unlink(p);
    if (!p->finished && p->conn->kind == CONN_CMD)
        metrics_observe(st->m_latency, (double)(clock_mono_us() - p->sent_us) / 1e6,
                        NULL);
    pending_finish(st, p, reply);
    free(p->ukey);
    free(p);
}

/* Decimal digits of <v> at <out>; returns how many. */
static size_t put_uint(char *out, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* The command in the Redis protocol, written here rather than by hiredis's
 * printf-style formatter, which was a tenth of the bridge's CPU time. */
static int send_formatted(redisAsyncContext *ac, struct pending *p, int argc,
                          const char **argv, const size_t *lens)
{
    char stack[2048];
    size_t total = 16;
    if (argc <= 0)
        return -1;
    for (int i = 0; i < argc; i++)
        total += (lens ? lens[i] : strlen(argv[i])) + 32;
    char *buf = total <= sizeof stack ? stack : malloc(total);
    if (!buf)
        return -1;
    size_t n = 0;
    buf[n++] = '*';
    n += put_uint(buf + n, (size_t)argc);
    buf[n++] = '\r';
    buf[n++] = '\n';
    for (int i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        buf[n++] = '$';
        n += put_uint(buf + n, len);
        buf[n++] = '\r';
        buf[n++] = '\n';
        if (len)
            memcpy(buf + n, argv[i], len);
        n += len;
        buf[n++] = '\r';
        buf[n++] = '\n';
    }
    int rc = redisAsyncFormattedCommand(ac, on_reply, p, buf, n);
    if (buf != stack)
        free(buf);
    return rc == REDIS_OK ? 0 : -1;
}

/* Send one command; <complete> (may be NULL) runs with the reply. */
static struct pending *send_cmd(struct store *st, enum conn_kind kind,
                                unsigned timeout_ms, complete_fn complete,
                                void *arg, int argc, const char **argv,
                                const size_t *lens)
{
    struct store_conn *c = &st->conns[kind];
    if (!c->up || !c->ac)
        return NULL;
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->conn = c;
    p->deadline_ms = clock_mono_ms() + timeout_ms;
    p->sent_us = clock_mono_us();
    p->complete = complete;
    p->arg = arg;
    if (send_formatted(c->ac, p, argc, argv, lens) != 0) {
        free(p);
        return NULL;
    }
    p->prev = c->newest;
    if (c->newest)
        c->newest->next = p;
    else
        c->oldest = p;
    c->newest = p;
    st->stats.commands++;
    return p;
}

/* Fail every pending command of <c> past its deadline, then drop <c>. */
static void conn_check_timeouts(struct store_conn *c, uint64_t now)
{
    struct store *st = c->st;
    if (!c->oldest || c->oldest->deadline_ms > now)
        return;
    /* Take the connection down first: a callback that sends a new command
     * must find it down (and fail at once), not add to the list being
     * failed here. */
    redisAsyncContext *ac = c->ac;
    struct pending *list = c->oldest;
    c->ac = NULL;
    c->up = 0;
    c->oldest = c->newest = NULL;
    if (c->kind == CONN_CONSUMER)
        st->reading = 0;
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("host", c->host, "port", LOG_NUM(c->port),
                         "connection", CONN_KIND_NAME(c->kind), "state", "down",
                         "reason", "timeout", "timeout_ms", LOG_NUM(st->cfg.timeout_ms)),
              "no reply within %u ms: reconnecting", st->cfg.timeout_ms);
    while (list) {
        struct pending *p = list;
        list = p->next;
        p->prev = p->next = NULL;
        st->stats.timeouts++;
        pending_finish(st, p, NULL); /* freed when hiredis lets go */
    }
    if (ac)
        redisAsyncFree(ac);
    if (c->kind == CONN_CMD && st->state_cb)
        st->state_cb(0, st->state_arg);
    conn_connect(c);
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
    struct store *st = arg;
    uint64_t now = clock_mono_ms();
    (void)fd;
    (void)what;
    for (int k = 0; k < CONN_COUNT; k++)
        conn_check_timeouts(&st->conns[k], now);
    if (st->evicting[0] && st->conns[CONN_CMD].up &&
        now - st->policy_asked_ms >= POLICY_RECHECK_MS)
        policy_ask(st); /* an operator may have fixed it: ready again */
}

/* ---- connections ---------------------------------------------------- */

static void schedule_reconnect(struct store_conn *c)
{
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RECONNECT_MIN_MS;
    if (c->backoff_ms > RECONNECT_MAX_MS)
        c->backoff_ms = RECONNECT_MAX_MS;
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    evtimer_add(c->retry_ev, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_connect(arg);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct store_conn *c = ac->data;
    (void)status;
    if (!c || c->ac != ac)
        return; /* we dropped it ourselves and already reconnect */
    /* with sentinels, a connection is up only once ROLE said master */
    int was_up = c->up;
    evtimer_del(c->connect_ev);
    c->ac = NULL;
    c->up = 0;
    c->oldest = c->newest = NULL; /* hiredis fails them all with NULL */
    if (c->kind == CONN_CONSUMER)
        c->st->reading = 0;
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("host", c->host, "port", LOG_NUM(c->port),
                         "connection", CONN_KIND_NAME(c->kind), "state", "down",
                         "reason", "connection lost"),
              "connection %d to %s:%u lost", (int)c->kind, c->host, c->port);
    if (c->kind == CONN_CMD && was_up && c->st->state_cb)
        c->st->state_cb(0, c->st->state_arg);
    schedule_reconnect(c);
}

/* The consumer group of the queue (MKSTREAM: the stream too). */
static void ensure_group(struct store *st)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:queue", st->cfg.prefix);
    const char *grp[] = {"XGROUP", "CREATE", key, "bridge", "0", "MKSTREAM"};
    send_cmd(st, CONN_CMD, st->cfg.timeout_ms, NULL, NULL, 6, grp, NULL);
}

/* ---- maxmemory-policy --------------------------------------------------
 * With any eviction policy Redis may drop queue entries, receipts or
 * message records when it is full, silently: acknowledged messages
 * would be lost. So the bridge refuses to be ready on such a Redis. */

static void policy_learned(struct store *st, const char *policy, size_t len)
{
    char was[sizeof st->evicting];
    snprintf(was, sizeof was, "%s", st->evicting);
    if (len == 10 && memcmp(policy, "noeviction", 10) == 0)
        st->evicting[0] = 0;
    else
        snprintf(st->evicting, sizeof st->evicting, "%.*s",
                 (int)(len < 40 ? len : 40), policy);
    if (strcmp(was, st->evicting) == 0)
        return;
    if (st->evicting[0])
        log_event(LOG_ERROR, TAG,
                  LOG_FIELDS("maxmemory_policy", st->evicting, "state", "not ready"),
                  "Redis maxmemory-policy is %s: it may evict queued messages "
                  "and receipts silently; not ready until it is noeviction",
                  st->evicting);
    else
        log_info(TAG, "Redis maxmemory-policy is noeviction: ready");
}

/* INFO memory's "maxmemory_policy:NAME" line (when CONFIG is renamed or
 * denied to our user). Not known: nothing is assumed either way. */
static void complete_policy_info(struct store *st, redisReply *r,
                                 struct pending *p)
{
    (void)p;
    const char *at = r && r->type == REDIS_REPLY_STRING
                         ? strstr(r->str, "maxmemory_policy:") : NULL;
    if (!at) {
        log_warn(TAG, "cannot learn Redis's maxmemory-policy (CONFIG GET and "
                 "INFO refused); it must be noeviction");
        return;
    }
    at += strlen("maxmemory_policy:");
    policy_learned(st, at, strcspn(at, "\r\n"));
}

/* CONFIG GET's [name, value]; an error: ask INFO instead. */
static void complete_policy(struct store *st, redisReply *r, struct pending *p)
{
    (void)p;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        policy_learned(st, r->element[1]->str, r->element[1]->len);
        return;
    }
    const char *info[] = {"INFO", "memory"};
    send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_policy_info, NULL, 2,
             info, NULL);
}

static void policy_ask(struct store *st)
{
    const char *argv[] = {"CONFIG", "GET", "maxmemory-policy"};
    st->policy_asked_ms = clock_mono_ms();
    send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_policy, NULL, 3, argv,
             NULL);
}

const char *store_unready_reason(const struct store *st)
{
    return st->evicting[0] ? st->evicting : NULL;
}

static void instance_ask(struct store *st);

/* The answer for number <st->instance_want>: ours (held until the ask's
 * departure plus the lease), or taken by a live instance: the next
 * number is tried, each at most once a round. */
static void on_instance_lease(int status, int granted, void *arg)
{
    struct store *st = arg;
    int n = st->instance_want;
    st->instance_asking = 0;
    if (n < 0)
        return;
    if (status != 0) { /* Redis away or loading: ask again soon */
        struct timeval tv = clock_tv_ms(INSTANCE_RETRY_MS);
        evtimer_add(st->instance_retry_ev, &tv);
        return;
    }
    if (granted) {
        if (st->instance != n)
            log_event(LOG_INFO, TAG,
                      LOG_FIELDS("instance", LOG_NUM(n), "owner", st->consumer),
                      "instance number %d held by %s", n, st->consumer);
        st->instance = n;
        st->instance_tries = 0;
        st->instance_until_ms = st->instance_asked_ms + INSTANCE_LEASE_MS;
        return;
    }
    if (st->instance == n)
        log_event(LOG_WARN, TAG,
                  LOG_FIELDS("instance", LOG_NUM(n), "reason", "instance-number-taken"),
                  "instance number %d is held by another instance (its lease "
                  "lapsed, or Redis lost it): taking another", n);
    st->instance = -1;
    if (++st->instance_tries >= INSTANCE_COUNT) {
        log_event(LOG_ERROR, TAG, LOG_FIELDS("reason", "instance-numbers-exhausted"),
                  "all %u instance numbers are held: no message ids until one "
                  "is free", INSTANCE_COUNT);
        st->instance_tries = 0;
        return; /* the renewal timer tries again */
    }
    st->instance_want = (int)(((unsigned)n + 1) % INSTANCE_COUNT);
    instance_ask(st);
}

static void instance_ask(struct store *st)
{
    char name[32];
    if (st->instance_asking || st->instance_want < 0)
        return;
    snprintf(name, sizeof name, "instance:%d", st->instance_want);
    st->instance_asked_ms = clock_mono_ms();
    if (store_lease(st, name, st->consumer, INSTANCE_LEASE_MS, on_instance_lease,
                    st) == 0)
        st->instance_asking = 1;
}

/* P:instances only spreads first choices; the lease decides. */
static void complete_instance(struct store *st, redisReply *r, struct pending *p)
{
    (void)p;
    if (!r || r->type != REDIS_REPLY_INTEGER || st->instance_want >= 0)
        return;
    st->instance_want = (int)((unsigned long long)r->integer % INSTANCE_COUNT);
    instance_ask(st);
}

/* Renew the number held, or go on looking for one; a number whose lease
 * may have lapsed is not used meanwhile (store_instance_number). */
static void on_instance_tick(evutil_socket_t fd, short what, void *arg)
{
    struct store *st = arg;
    (void)fd;
    (void)what;
    if (st->conns[CONN_CMD].up && st->instance_want >= 0)
        instance_ask(st);
}

static void on_pubsub_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct store *st = privdata;
    redisReply *r = reply;
    (void)ac;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    char msg[128];
    snprintf(msg, sizeof msg, "%.*s", (int)r->element[2]->len, r->element[2]->str);
    char *space = strchr(msg, ' ');
    if (!space || !st->event_cb)
        return;
    *space = 0;
    st->event_cb(msg, space + 1, st->event_arg);
}

static const char *const script_body[SCRIPT_COUNT] = {
    [SCRIPT_FINISH] = finish_script,
    [SCRIPT_SENT] = sent_script,
    [SCRIPT_QUEUE_ADD] = queue_add_script,
    [SCRIPT_BODIES] = bodies_script,
};

static void script_shas(struct store *st)
{
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_Digest(script_body[i], strlen(script_body[i]), md, &len,
                   EVP_sha1(), NULL);
        for (unsigned k = 0; k < len && k < 20; k++)
            snprintf(st->script_sha[i] + 2 * k, 3, "%02x", md[k]);
    }
}

/* Fire and forget: commands sent after these on the same connection find
 * them loaded. */
static void load_scripts(struct store *st)
{
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", script_body[i]};
        send_cmd(st, CONN_CMD, st->cfg.timeout_ms, NULL, NULL, 3, argv, NULL);
    }
}

/* The AUTH command for <user> (may be "") and <pass> into <argv>:
 * AUTH user pass for a Redis ACL user, AUTH pass for requirepass.
 * Returns its argc, 0 when there is no password (no AUTH). */
static int auth_argv(const char *user, const char *pass, const char **argv)
{
    if (!pass[0])
        return 0;
    argv[0] = "AUTH";
    if (!user[0]) {
        argv[1] = pass;
        return 2;
    }
    argv[1] = user;
    argv[2] = pass;
    return 3;
}

/* First commands on a fresh connection: AUTH, SELECT, and per kind the
 * consumer group, the instance number or the subscription. */
static void conn_setup(struct store_conn *c)
{
    struct store *st = c->st;
    char db[16], key[KEY_LEN];
    const char *argv[8];
    int argc = auth_argv(st->cfg.username, st->cfg.password, argv);
    if (argc)
        send_cmd(st, c->kind, st->cfg.timeout_ms, NULL, NULL, argc, argv, NULL);
    snprintf(db, sizeof db, "%u", st->cfg.db);
    argv[0] = "SELECT";
    argv[1] = db;
    send_cmd(st, c->kind, st->cfg.timeout_ms, NULL, NULL, 2, argv, NULL);
    if (c->kind == CONN_CMD) {
        load_scripts(st);
        ensure_group(st);
        policy_ask(st);
        /* a fresh connection may be to a new master that lost the
         * leases (failover): the number is confirmed before more ids */
        st->instance_asking = 0;
        if (st->instance_want >= 0) {
            st->instance_until_ms = 0;
            instance_ask(st);
        } else {
            snprintf(key, sizeof key, "%s:instances", st->cfg.prefix);
            const char *incr[] = {"INCR", key};
            send_cmd(st, c->kind, st->cfg.timeout_ms, complete_instance, NULL,
                     2, incr, NULL);
        }
    } else if (c->kind == CONN_PUBSUB) {
        snprintf(key, sizeof key, "%s:events", st->cfg.prefix);
        const char *sub[] = {"SUBSCRIBE", key};
        /* not a pending: hiredis calls it for every message */
        redisAsyncCommandArgv(c->ac, on_pubsub_message, st, 2, sub, NULL);
    }
}

/* The connection is usable: commands may go, the owner hears "up". */
static void conn_ready(struct store_conn *c)
{
    evtimer_del(c->connect_ev);
    c->up = 1;
    c->backoff_ms = 0;
    /* a half-open connection (a pub/sub one waits for ever) is noticed */
    redisEnableKeepAlive((redisContext *)&c->ac->c);
    conn_setup(c);
    if (c->kind == CONN_CMD) {
        log_event(LOG_INFO, TAG,
                  LOG_FIELDS("host", c->host, "port", LOG_NUM(c->port),
                             "connection", CONN_KIND_NAME(c->kind), "state", "up"),
                  "connected to %s:%u", c->host, c->port);
        if (c->st->state_cb)
            c->st->state_cb(1, c->st->state_arg);
    }
}

/* Give up a connection that is not up yet (no pending of ours on it) and
 * try again after the backoff. */
static void conn_abandon(struct store_conn *c, const char *reason,
                         const char *detail)
{
    redisAsyncContext *ac = c->ac;
    evtimer_del(c->connect_ev);
    c->ac = NULL; /* on_disconnect and on_role then ignore it */
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("host", c->host, "port", LOG_NUM(c->port),
                         "connection", CONN_KIND_NAME(c->kind), "state", "down",
                         "reason", reason),
              "%s:%u: %s: retrying", c->host, c->port, detail);
    if (ac)
        redisAsyncFree(ac); /* inside a hiredis callback: freed after it */
    schedule_reconnect(c);
}

/* ROLE's answer. A sentinel may name a replica while a failover is
 * under way (a stale answer): writes there would fail, so the connection
 * is dropped and the sentinels are asked again after the backoff. */
static void on_role(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct store_conn *c = privdata;
    redisReply *r = reply;
    if (c->ac != ac || !r)
        return; /* dropped by us, or lost: on_disconnect reconnects */
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "master") == 0) {
        conn_ready(c);
        return;
    }
    /* ROLE's first element ("slave", "sentinel"), or the error */
    const redisReply *what = r->type == REDIS_REPLY_ARRAY && r->elements > 0
                                 ? r->element[0]
                                 : r;
    char detail[160];
    snprintf(detail, sizeof detail, "not the master (ROLE: %.*s)",
             what->str ? (int)what->len : 1, what->str ? what->str : "?");
    conn_abandon(c, "not master", detail);
}

/* With sentinels, ask the new connection its ROLE before using it; the
 * connect deadline keeps running until the answer. */
static void conn_check_role(struct store_conn *c)
{
    struct store *st = c->st;
    const char *auth[3];
    int argc = auth_argv(st->cfg.username, st->cfg.password, auth);
    if (argc)
        redisAsyncCommandArgv(c->ac, NULL, NULL, argc, auth, NULL);
    const char *role[] = {"ROLE"};
    redisAsyncCommandArgv(c->ac, on_role, c, 1, role, NULL);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct store_conn *c = ac->data;
    if (!c || c->ac != ac)
        return;
    if (status != REDIS_OK) {
        evtimer_del(c->connect_ev);
        c->ac = NULL; /* hiredis frees it after this callback */
        schedule_reconnect(c);
        return;
    }
    if (c->st->cfg.n_sentinels > 0)
        conn_check_role(c);
    else
        conn_ready(c);
}

/* hiredis 0.14 has no connect timeout: a SYN nobody answers would leave
 * the connection "connecting" for minutes, and nothing retried. */
static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct store_conn *c = arg;
    char detail[96];
    (void)fd;
    (void)what;
    if (!c->ac || c->up)
        return;
    snprintf(detail, sizeof detail, "not connected within %u ms",
             c->st->cfg.timeout_ms);
    conn_abandon(c, "connect timeout", detail);
}

/* Connect <c> to c->host:c->port. */
static void conn_open(struct store_conn *c)
{
    struct store *st = c->st;
    redisAsyncContext *ac = redisAsyncConnect(c->host, (int)c->port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    ac->data = c;
    c->ac = ac;
    st->stats.reconnects++;
    redisLibeventAttach(ac, st->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    struct timeval tv = {st->cfg.timeout_ms / 1000, (st->cfg.timeout_ms % 1000) * 1000};
    evtimer_add(c->connect_ev, &tv);
}

/* ---- Sentinel ------------------------------------------------------- */

static void sentinel_ask_next(struct store_conn *c);

static const char *sentinel_asked(const struct store_conn *c)
{
    return c->st->cfg.sentinels[c->sentinel_next - 1];
}

static void sentinel_no_answer(struct store_conn *c, const char *why)
{
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("sentinel", sentinel_asked(c), "master_name",
                         c->st->cfg.master_name, "connection",
                         CONN_KIND_NAME(c->kind), "reason", why),
              "sentinel %s: no address for %s: %s", sentinel_asked(c),
              c->st->cfg.master_name, why);
    sentinel_ask_next(c);
}

/* SENTINEL get-master-addr-by-name's answer: [ip, port], or nil when the
 * sentinel does not monitor that name. NULL: the connection failed. */
static void on_sentinel_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct store_conn *c = privdata;
    redisReply *r = reply;
    if (c->sentinel_ac != ac)
        return; /* given up on (timeout, store_free) */
    evtimer_del(c->sentinel_ev);
    c->sentinel_ac = NULL;
    if (!r) { /* hiredis is freeing it */
        sentinel_no_answer(c, ac->errstr && *ac->errstr ? ac->errstr
                                                        : "connection failed");
        return;
    }
    redisAsyncFree(ac); /* after this callback returns */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        sentinel_no_answer(c, r->type == REDIS_REPLY_ERROR ? r->str
                                                           : "unknown master name");
        return;
    }
    long port = strtol(r->element[1]->str, NULL, 10);
    if (port < 1 || port > 65535 || r->element[0]->len >= sizeof c->host) {
        sentinel_no_answer(c, "unusable address");
        return;
    }
    snprintf(c->host, sizeof c->host, "%s", r->element[0]->str);
    c->port = (unsigned)port;
    log_event(LOG_DEBUG, TAG,
              LOG_FIELDS("sentinel", sentinel_asked(c), "master_name",
                         c->st->cfg.master_name, "host", c->host, "port",
                         LOG_NUM(c->port), "connection", CONN_KIND_NAME(c->kind)),
              "sentinel %s: master %s is %s:%u", sentinel_asked(c),
              c->st->cfg.master_name, c->host, c->port);
    conn_open(c);
}

static void on_sentinel_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct store_conn *c = arg;
    redisAsyncContext *ac = c->sentinel_ac;
    char why[64];
    (void)fd;
    (void)what;
    c->sentinel_ac = NULL; /* on_sentinel_reply ignores its NULL reply */
    if (ac)
        redisAsyncFree(ac);
    snprintf(why, sizeof why, "no answer within %u ms", c->st->cfg.timeout_ms);
    sentinel_no_answer(c, why);
}

/* Ask the next sentinel of the list; after the last, the backoff. */
static void sentinel_ask_next(struct store_conn *c)
{
    struct store *st = c->st;
    while (c->sentinel_next < st->cfg.n_sentinels) {
        char host[CONF_STR], err[NET_ERR_LEN];
        int port;
        const char *addr = st->cfg.sentinels[c->sentinel_next++];
        if (net_split_hostport(addr, host, sizeof host, &port, err) != 0)
            continue; /* the configuration checked it */
        redisAsyncContext *ac = redisAsyncConnect(host, port);
        if (!ac || ac->err) {
            if (ac)
                redisAsyncFree(ac);
            continue;
        }
        ac->data = c;
        redisLibeventAttach(ac, st->base);
        const char *auth[3];
        int argc = auth_argv(st->cfg.sentinel_username,
                             st->cfg.sentinel_password, auth);
        if (argc)
            redisAsyncCommandArgv(ac, NULL, NULL, argc, auth, NULL);
        const char *ask[] = {"SENTINEL", "get-master-addr-by-name",
                             st->cfg.master_name};
        c->sentinel_ac = ac;
        redisAsyncCommandArgv(ac, on_sentinel_reply, c, 3, ask, NULL);
        struct timeval tv = {st->cfg.timeout_ms / 1000,
                             (st->cfg.timeout_ms % 1000) * 1000};
        evtimer_add(c->sentinel_ev, &tv);
        return;
    }
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("master_name", st->cfg.master_name, "connection",
                         CONN_KIND_NAME(c->kind), "state", "down", "reason",
                         "no sentinel answered"),
              "no sentinel gave the address of %s: retrying", st->cfg.master_name);
    schedule_reconnect(c);
}

/* Every (re)connection: straight to [redis] host:port, or with sentinels
 * to the master they name now (a failover moves it). */
static void conn_connect(struct store_conn *c)
{
    if (c->st->cfg.n_sentinels > 0) {
        c->sentinel_next = 0;
        sentinel_ask_next(c);
        return;
    }
    conn_open(c);
}

struct store *store_new(struct event_base *base, const struct conf_redis *cfg,
                        const char *consumer_name)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->base = base;
    st->cfg = *cfg;
    st->instance = -1;
    st->instance_want = -1;
    snprintf(st->consumer, sizeof st->consumer, "%s", consumer_name);
    script_shas(st);
    store_metrics(st);
    for (int k = 0; k < CONN_COUNT; k++) {
        struct store_conn *c = &st->conns[k];
        c->st = st;
        c->kind = (enum conn_kind)k;
        c->retry_ev = evtimer_new(base, on_retry, c);
        c->connect_ev = evtimer_new(base, on_connect_timeout, c);
        c->sentinel_ev = evtimer_new(base, on_sentinel_timeout, c);
        snprintf(c->host, sizeof c->host, "%s", cfg->host);
        c->port = cfg->port;
        conn_connect(c);
    }
    if (cfg->n_sentinels > 0)
        log_event(LOG_INFO, TAG,
                  LOG_FIELDS("master_name", cfg->master_name, "sentinels",
                             LOG_NUM(cfg->n_sentinels)),
                  "Redis master %s found through %d sentinel(s); [redis] host "
                  "and port are not used",
                  cfg->master_name, cfg->n_sentinels);
    struct timeval tv = {0, CHECK_INTERVAL_MS * 1000};
    st->check_ev = event_new(base, -1, EV_PERSIST, on_check, st);
    event_add(st->check_ev, &tv);
    struct timeval renew = clock_tv_ms(INSTANCE_RENEW_MS);
    st->instance_ev = event_new(base, -1, EV_PERSIST, on_instance_tick, st);
    event_add(st->instance_ev, &renew);
    st->instance_retry_ev = evtimer_new(base, on_instance_tick, st);
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    st->closing = 1;
    event_free(st->check_ev);
    event_free(st->instance_ev);
    event_free(st->instance_retry_ev);
    for (int k = 0; k < CONN_COUNT; k++) {
        struct store_conn *c = &st->conns[k];
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        c->up = 0;
        if (ac)
            redisAsyncFree(ac); /* fails what is pending */
        ac = c->sentinel_ac;
        c->sentinel_ac = NULL;
        if (ac)
            redisAsyncFree(ac);
        event_free(c->retry_ev);
        event_free(c->connect_ev);
        event_free(c->sentinel_ev);
    }
    while (st->receipt_jobs)
        receipt_job_free(st->receipt_jobs);
    while (st->body_jobs)
        body_job_free(st->body_jobs);
    free(st);
}

int store_up(const struct store *st)
{
    return st->conns[CONN_CMD].up && !st->evicting[0];
}

int store_connected(const struct store *st)
{
    return st->conns[CONN_CMD].up;
}

void store_on_state(struct store *st, store_state_cb cb, void *arg)
{
    st->state_cb = cb;
    st->state_arg = arg;
}

void store_on_event(struct store *st, store_event_cb cb, void *arg)
{
    st->event_cb = cb;
    st->event_arg = arg;
}

int store_instance_number(const struct store *st)
{
    if (st->instance < 0 || clock_mono_ms() >= st->instance_until_ms)
        return -1;
    return st->instance;
}

const struct store_stats *store_stats(const struct store *st)
{
    return &st->stats;
}

/* ---- replies -------------------------------------------------------- */

static void complete_done(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (p->cb.done)
        p->cb.done(r ? 0 : -1, p->arg);
}

static void complete_account(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.account(-1, NULL, p->arg);
        return;
    }
    if (r->elements == 0) {
        p->cb.account(0, NULL, p->arg);
        return;
    }
    const char *names[32], *values[32];
    size_t lens[32], n = 0;
    for (size_t i = 0; i + 1 < r->elements && n < 32; i += 2) {
        names[n] = r->element[i]->str;
        values[n] = r->element[i + 1]->str;
        lens[n] = r->element[i + 1]->len;
        n++;
    }
    struct account a;
    char err[128];
    if (account_from_fields(names, values, lens, n, &a, err, sizeof err) != 0) {
        log_event(LOG_WARN, TAG, LOG_FIELDS("account", p->id, "error", err),
                  "account %s unreadable: %s", p->id, err);
        p->cb.account(-1, NULL, p->arg);
        return;
    }
    snprintf(a.id, sizeof a.id, "%s", p->id);
    p->cb.account(0, &a, p->arg);
}

/* One stream entry [id, [field, value, ...]] into <e>, and the key of
 * its shared body (field r) into <body> (NULL when whole); -1 if it is
 * not one of ours (or was deleted: nil). */
static int parse_entry(const redisReply *r, struct store_entry *e,
                       const redisReply **body)
{
    memset(e, 0, sizeof *e);
    *body = NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    snprintf(e->id, sizeof e->id, "%.*s", (int)r->element[0]->len,
             r->element[0]->str);
    const redisReply *f = r->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            k->len != 1)
            continue;
        switch (k->str[0]) {
        case 'a': e->account = v->str; break;
        case 'i': e->msg_id = v->str; break;
        case 't': e->ts_ms = strtoull(v->str, NULL, 10); break;
        case 'p':
            e->pdu = (const uint8_t *)v->str;
            e->pdu_len = v->len;
            break;
        case 'c': e->cost = strtoull(v->str, NULL, 10); break;
        case 'r':
            *body = v;
            e->shared = 1;
            break;
        default: break;
        }
    }
    return e->pdu ? 0 : -1;
}

/*
 * Entries some of which name a shared body (a submit_multi's common
 * part): copied out of the reply, which does not outlive its callback,
 * while the bodies are fetched; then each such PDU is its head and its
 * body. One allocation per entry, owned here until the callback
 * returns.
 */
struct held_entry {
    char account[32];
    char msg_id[48];
    char body_key[KEY_LEN];     /* "" when whole */
    size_t len;
    uint8_t pdu[];
};

struct body_job {
    struct store *st;           /* NULL until it is on st->body_jobs */
    store_entries_cb cb;
    void *arg;
    size_t n;
    struct store_entry *es;
    struct held_entry **held;
    struct body_job *prev, *next;
};

/* Free <j>, off the store's list when it is on it: store_free frees the
 * ones whose fetch is still out (it drops pending commands without
 * calling them back). */
static void body_job_free(struct body_job *j)
{
    if (j->st && j->prev)
        j->prev->next = j->next;
    else if (j->st)
        j->st->body_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    for (size_t i = 0; i < j->n; i++)
        free(j->held[i]);
    free(j->held);
    free(j->es);
    free(j);
}

/* The head of entry <i> and its body <b> into one PDU. A body named but
 * gone ("") leaves the head alone and the entry marked body_lost: its
 * reader ends the message without sending it (a head alone would not
 * decode, and must never go out as if it were the message). */
static void body_join(struct body_job *j, size_t i, const redisReply *b)
{
    struct held_entry *h = j->held[i];
    if (b && b->type == REDIS_REPLY_STRING && b->len) {
        struct held_entry *w = realloc(h, sizeof *h + h->len + b->len);
        if (w) {
            memcpy(w->pdu + w->len, b->str, b->len);
            w->len += b->len;
            j->held[i] = h = w;
        }
    } else if (h->body_key[0]) {
        j->es[i].body_lost = 1;
    }
    j->es[i].account = h->account;
    j->es[i].msg_id = h->msg_id;
    j->es[i].pdu = h->pdu;
    j->es[i].pdu_len = h->len;
}

static void complete_bodies(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    struct body_job *j = p->arg;
    size_t k = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        /* read, not delivered: they are claimed again once idle */
        j->cb(-1, NULL, 0, j->arg);
        body_job_free(j);
        return;
    }
    for (size_t i = 0; i < j->n; i++)
        body_join(j, i, j->held[i]->body_key[0] && k < r->elements
                            ? r->element[k++] : NULL);
    j->cb(0, j->es, j->n, j->arg);
    body_job_free(j);
}

/* Copy entry <e> (body key <body>) into the job's slot <i>. */
static int body_hold(struct body_job *j, size_t i, const struct store_entry *e,
                     const redisReply *body)
{
    struct held_entry *h = malloc(sizeof *h + e->pdu_len);
    if (!h)
        return -1;
    snprintf(h->account, sizeof h->account, "%s", e->account ? e->account : "");
    snprintf(h->msg_id, sizeof h->msg_id, "%s", e->msg_id ? e->msg_id : "");
    snprintf(h->body_key, sizeof h->body_key, "%.*s",
             body ? (int)body->len : 0, body ? body->str : "");
    memcpy(h->pdu, e->pdu, e->pdu_len);
    h->len = e->pdu_len;
    j->held[i] = h;
    j->es[i] = *e;
    return 0;
}

/* Fetch the bodies of <n> entries <es> (<bodies> their keys) and then
 * call <p>'s callback; -1 when that cannot be started. */
static int bodies_fetch(struct store *st, struct pending *p,
                        const struct store_entry *es,
                        const redisReply *const *bodies, size_t n)
{
    struct body_job *j = calloc(1, sizeof *j);
    const char **argv = calloc(n + 3, sizeof *argv);
    size_t nkeys = 0;
    char nk[16];
    if (!j || !argv || !(j->es = calloc(n, sizeof *j->es)) ||
        !(j->held = calloc(n, sizeof *j->held)))
        goto fail;
    j->cb = p->cb.entries;
    j->arg = p->arg;
    for (; j->n < n; j->n++)
        if (body_hold(j, j->n, &es[j->n], bodies[j->n]) != 0)
            goto fail;
    for (size_t i = 0; i < n; i++)
        if (j->held[i]->body_key[0])
            argv[3 + nkeys++] = j->held[i]->body_key;
    snprintf(nk, sizeof nk, "%zu", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = st->script_sha[SCRIPT_BODIES];
    argv[2] = nk;
    if (!send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_bodies, j,
                  (int)nkeys + 3, argv, NULL))
        goto fail;
    free(argv);
    j->st = st;
    j->next = st->body_jobs;
    if (st->body_jobs)
        st->body_jobs->prev = j;
    st->body_jobs = j;
    return 0;
fail:
    free(argv);
    if (j)
        body_job_free(j);
    return -1;
}

/* Call <p>'s entries callback with the entries in array <list> (after
 * fetching the shared bodies some of them name). */
static void deliver_entries(struct store *st, const redisReply *list,
                            struct pending *p)
{
    size_t n = 0, shared = 0, cap = list ? list->elements : 0;
    struct store_entry *es = cap ? calloc(cap, sizeof *es) : NULL;
    const redisReply **bodies = cap ? calloc(cap, sizeof *bodies) : NULL;
    for (size_t i = 0; es && bodies && i < cap; i++)
        if (parse_entry(list->element[i], &es[n], &bodies[n]) == 0)
            shared += bodies[n++] != NULL;
    if (cap && (!es || !bodies))
        p->cb.entries(-1, NULL, 0, p->arg);
    else if (shared == 0)
        p->cb.entries(0, es, n, p->arg);
    else if (bodies_fetch(st, p, es, bodies, n) != 0)
        p->cb.entries(-1, NULL, 0, p->arg); /* claimed again once idle */
    free(bodies);
    free(es);
}

/* XREADGROUP: nil on timeout, else [[stream, [entries]]]. */
static void deliver_read(struct store *st, redisReply *r, struct pending *p)
{
    if (!r) {
        p->cb.entries(-1, NULL, 0, p->arg);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 ||
        r->element[0]->type != REDIS_REPLY_ARRAY ||
        r->element[0]->elements != 2) {
        p->cb.entries(0, NULL, 0, p->arg);
        return;
    }
    deliver_entries(st, r->element[0]->element[1], p);
}

static void complete_read(struct store *st, redisReply *r, struct pending *p)
{
    st->reading = 0;
    deliver_read(st, r, p);
}

/* Our own history is read on the command connection: no blocking read
 * is involved, so st->reading is not touched. */
static void complete_read_own(struct store *st, redisReply *r, struct pending *p)
{
    deliver_read(st, r, p);
}

/* XAUTOCLAIM: [next-start, [entries], (deleted ids)]. */
static void complete_claim(struct store *st, redisReply *r, struct pending *p)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        p->cb.entries(r ? 0 : -1, NULL, 0, p->arg);
        return;
    }
    /* Redis looks at a bounded part of the pending list per call: the
     * next call goes on from where this one stopped ("0-0": all seen) */
    if (r->element[0]->type == REDIS_REPLY_STRING)
        snprintf(st->claim_cursor, sizeof st->claim_cursor, "%.*s",
                 (int)r->element[0]->len, r->element[0]->str);
    deliver_entries(st, r->element[1], p);
}

static void complete_range(struct store *st, redisReply *r, struct pending *p)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.entries(-1, NULL, 0, p->arg);
        return;
    }
    deliver_entries(st, r, p);
}

/* What an id map key holds once two messages were given its id. */
#define IDMAP_COLLISION "!collision"

/* MGET of the candidate keys: every one that is mapped. */
/* The connector and the <i>th id of store_idmap_find's question. */
static void idmap_where(struct store_idmap *m, const char *asked, size_t i)
{
    if (!asked)
        return;
    snprintf(m->connector, sizeof m->connector, "%s", asked);
    const char *id = asked + strlen(asked) + 1;
    while (i-- > 0)
        id += strlen(id) + 1;
    snprintf(m->map_id, sizeof m->map_id, "%s", id);
}

static void complete_idmap(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    struct store_idmap found[MAX_ARGS];
    size_t n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.idmap(-1, NULL, 0, p->arg);
        return;
    }
    for (size_t i = 0; i < r->elements && n < MAX_ARGS; i++) {
        const redisReply *v = r->element[i];
        struct store_idmap *m = &found[n];
        char buf[128];
        unsigned rd = 0;
        unsigned long long ts = 0;
        if (v->type != REDIS_REPLY_STRING)
            continue;
        memset(m, 0, sizeof *m);
        if (v->len > 0 && v->str[0] == IDMAP_COLLISION[0]) {
            m->collided = 1;
            m->candidate = (unsigned)i;
            n++;
            continue;
        }
        snprintf(buf, sizeof buf, "%.*s", (int)v->len, v->str);
        if (sscanf(buf, "%15[^\t]\t%31[^\t]\t%llu\t%u", m->account, m->msg_id,
                   &ts, &rd) != 4)
            continue;
        m->ts_ms = ts;
        m->registered_delivery = (uint8_t)rd;
        m->candidate = (unsigned)i;
        idmap_where(m, p->ukey, i);
        n++;
    }
    p->cb.idmap(0, n ? found : NULL, n, p->arg);
}

/* ---- operations ----------------------------------------------------- */

/* Run one command on the command connection; -1 when it cannot be sent
 * (then no callback will come). */
static int run(struct store *st, complete_fn complete, store_done_cb cb,
               void *arg, int argc, const char **argv, const size_t *lens)
{
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete,
                                 arg, argc, argv, lens);
    if (!p)
        return -1;
    p->cb.done = cb;
    return 0;
}

/* One command of a transaction. */
struct store_cmd {
    int argc;
    const char **argv;
    const size_t *lens;
};

/* Several commands as one transaction (MULTI ... EXEC): one round trip,
 * applied whole, and cheaper for Redis than a Lua script. <complete> gets
 * EXEC's reply (the commands' replies), or NULL when it failed. */
static struct pending *run_multi(struct store *st, complete_fn complete,
                                 void *arg, const struct store_cmd *cmds,
                                 int n)
{
    struct store_conn *c = &st->conns[CONN_CMD];
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    unsigned t = st->cfg.timeout_ms;
    if (!c->up || !c->ac || !send_cmd(st, CONN_CMD, t, NULL, NULL, 1, multi, NULL))
        return NULL;
    for (int i = 0; i < n; i++)
        if (!send_cmd(st, CONN_CMD, t, NULL, NULL, cmds[i].argc, cmds[i].argv,
                      cmds[i].lens))
            goto broken;
    struct pending *p = send_cmd(st, CONN_CMD, t, complete, arg, 1, exec, NULL);
    if (p)
        return p;
broken:
    /* a MULTI left open would swallow every later command */
    redisAsyncDisconnect(c->ac);
    return NULL;
}

/* EXEC's reply, or NULL when the transaction or one of its commands
 * failed (a failed command inside is not an error reply of EXEC). */
static redisReply *exec_reply(struct store *st, redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ERROR)
            continue;
        st->stats.errors++;
        log_warn(TAG, "command failed: %.*s", (int)e->len, e->str);
        if (strncmp(e->str, "NOGROUP", 7) == 0)
            ensure_group(st);
        return NULL;
    }
    return r;
}

int store_account_get(struct store *st, const char *id, store_account_cb cb,
                      void *arg)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:acct:{%s}", st->cfg.prefix, id);
    const char *argv[] = {"HGETALL", key};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_account, arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.account = cb;
    snprintf(p->id, sizeof p->id, "%s", id);
    return 0;
}

static void msg_key(const struct store *st, const char *account,
                    const char *msg_id, char *out, size_t cap)
{
    snprintf(out, cap, "%s:msg:{%s}:%s", st->cfg.prefix, account, msg_id);
}

/* P:qc:{ACCT}: the account's queued messages (n) and bytes (b). */
static void qc_key(const struct store *st, const char *account, char *out,
                   size_t cap)
{
    snprintf(out, cap, "%s:qc:{%s}", st->cfg.prefix, account);
}

/*
 * What each account has queued (P:qc:{ACCT}), as the last reply about
 * it said: while an account is well under its caps, a message is added
 * in a plain transaction instead of the capping script (whose Lua cost
 * Redis more than the writes themselves). Near a cap the script decides,
 * exactly. "Well under" leaves room for what this instance has sent and
 * not yet seen answered, plus a margin for what other instances add
 * meanwhile; a count older than QC_FRESH_MS is not trusted (another
 * instance may have filled the account since). Direct-mapped: an account
 * that loses its slot is learnt again by its next script call.
 */
static struct qc_slot *qc_slot(struct store *st, const char *account)
{
    return &st->qc[hash_str(account) % QC_SLOTS];
}

static uint64_t qc_margin(uint64_t cap, uint64_t floor)
{
    return cap / 8 > floor ? cap / 8 : floor;
}

/* Whether one more message of <cost> bytes surely fits under the caps,
 * with the margin for other instances. */
static int qc_fits(struct store *st, const struct store_msg_info *mi,
                   uint64_t cost)
{
    const struct qc_slot *s = qc_slot(st, mi->account);
    uint64_t maxn = mi->max_messages ? mi->max_messages : UINT64_C(1) << 50;
    uint64_t maxb = mi->max_bytes ? mi->max_bytes : UINT64_C(1) << 50;
    if (strcmp(s->account, mi->account) != 0 ||
        clock_mono_ms() - s->seen_ms > QC_FRESH_MS)
        return 0;
    return s->n + s->inflight_n + 1 + qc_margin(maxn, QC_MARGIN_MSGS) <= maxn &&
           s->b + s->inflight_b + cost + qc_margin(maxb, QC_MARGIN_BYTES) <= maxb;
}

/* Counts Redis just gave for <account> (NULL replies: none). */
static void qc_learn(struct store *st, const char *account,
                     const redisReply *n, const redisReply *b)
{
    struct qc_slot *s = qc_slot(st, account);
    if (!n || !b || n->type != REDIS_REPLY_INTEGER ||
        b->type != REDIS_REPLY_INTEGER)
        return;
    if (strcmp(s->account, account) != 0) {
        memset(s, 0, sizeof *s);
        snprintf(s->account, sizeof s->account, "%s", account);
    }
    s->n = n->integer > 0 ? (uint64_t)n->integer : 0;
    s->b = b->integer > 0 ? (uint64_t)b->integer : 0;
    s->seen_ms = clock_mono_ms();
}

static void qc_inflight(struct store *st, const char *account, int sign,
                        uint64_t cost)
{
    struct qc_slot *s = qc_slot(st, account);
    if (strcmp(s->account, account) != 0)
        return;
    if (sign > 0) {
        s->inflight_n++, s->inflight_b += cost;
    } else {
        s->inflight_n -= s->inflight_n > 0;
        s->inflight_b -= s->inflight_b > cost ? cost : s->inflight_b;
    }
}

/* The script's answer: [entry id, n, b]; -1 or -2: over the account's
 * caps (or the shared body is gone): status 1, nothing was written. */
static void complete_queue_add(struct store *st, redisReply *r,
                               struct pending *p)
{
    int status = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        status = 0;
        qc_learn(st, p->id, r->element[1], r->element[2]);
    } else if (r && r->type == REDIS_REPLY_INTEGER && r->integer < 0) {
        status = 1;
    }
    if (p->cb.done)
        p->cb.done(status, p->arg);
}

/* The transaction's answer: XADD's entry id, HINCRBY n and b, HSET,
 * EXPIRE. The record learns its entry (for cancel_sm and replace_sm)
 * right after, before the customer can know the message's id. */
static void complete_queue_add_multi(struct store *st, redisReply *r,
                                     struct pending *p)
{
    redisReply *e = exec_reply(st, r);
    qc_inflight(st, p->id, -1, p->cost);
    if (e && e->elements >= 3 && e->element[0]->type == REDIS_REPLY_STRING) {
        qc_learn(st, p->id, e->element[1], e->element[2]);
        const char *set[] = {"HSET", p->ukey, "entry", e->element[0]->str};
        send_cmd(st, CONN_CMD, st->cfg.timeout_ms, NULL, NULL, 4, set, NULL);
    } else {
        e = NULL;
    }
    if (p->cb.done)
        p->cb.done(e ? 0 : -1, p->arg);
}

/* The record's fields as a new message has them. */
struct queue_add_args {
    char qkey[KEY_LEN], mkey[KEY_LEN], ckey[KEY_LEN], bkey[KEY_LEN];
    char ts[24], ttl[16], ton[4], npi[4], cost[24];
};

static void queue_add_args_fill(struct store *st, struct queue_add_args *a,
                                const struct store_msg_info *mi, int shared,
                                uint64_t cost)
{
    snprintf(a->qkey, sizeof a->qkey, "%s:queue", st->cfg.prefix);
    msg_key(st, mi->account, mi->msg_id, a->mkey, sizeof a->mkey);
    qc_key(st, mi->account, a->ckey, sizeof a->ckey);
    a->bkey[0] = '\0';
    if (shared)
        snprintf(a->bkey, sizeof a->bkey, "%s:body:{%s}:%s", st->cfg.prefix,
                 mi->account, mi->body_id);
    snprintf(a->ts, sizeof a->ts, "%" PRIu64, mi->ts_ms);
    snprintf(a->ttl, sizeof a->ttl, "%u", st->cfg.id_ttl_s);
    snprintf(a->ton, sizeof a->ton, "%u", mi->src_ton);
    snprintf(a->npi, sizeof a->npi, "%u", mi->src_npi);
    snprintf(a->cost, sizeof a->cost, "%" PRIu64, cost);
}

/* A whole PDU (no shared body) for an account well under its caps. */
static struct pending *queue_add_multi(struct store *st,
                                       const struct queue_add_args *a,
                                       const struct store_msg_info *mi,
                                       const uint8_t *pdu, size_t len)
{
    const char *xadd[] = {"XADD", a->qkey, "*", "a", mi->account, "i",
                          mi->msg_id, "t", a->ts, "p", (const char *)pdu, "c",
                          a->cost};
    size_t xlens[ARRAY_LEN(xadd)];
    for (size_t i = 0; i < ARRAY_LEN(xadd); i++)
        xlens[i] = strlen(xadd[i]);
    xlens[10] = len;
    const char *gn[] = {"HINCRBY", a->ckey, "n", "1"};
    const char *gb[] = {"HINCRBY", a->ckey, "b", a->cost};
    const char *rec[] = {"HSET", a->mkey, "state", "QUEUED", "account",
                         mi->account, "id", mi->msg_id, "submitted", a->ts,
                         "src_ton", a->ton, "src_npi", a->npi, "src", mi->src,
                         "dst", mi->dst, "parts", mi->parts};
    const char *exp[] = {"EXPIRE", a->mkey, a->ttl};
    const struct store_cmd cmds[] = {
        {(int)ARRAY_LEN(xadd), xadd, xlens}, {4, gn, NULL}, {4, gb, NULL},
        {(int)ARRAY_LEN(rec), rec, NULL}, {3, exp, NULL}};
    return run_multi(st, complete_queue_add_multi, NULL, cmds, 5);
}

static struct pending *queue_add_capped(struct store *st,
                                        const struct queue_add_args *a,
                                        const struct store_msg_info *mi,
                                        const uint8_t *pdu, size_t len,
                                        int shared)
{
    char maxn[24], maxb[24];
    snprintf(maxn, sizeof maxn, "%" PRIu64,
             mi->max_messages ? (uint64_t)mi->max_messages : UINT64_C(1) << 50);
    snprintf(maxb, sizeof maxb, "%" PRIu64,
             mi->max_bytes ? mi->max_bytes : UINT64_C(1) << 50);
    const char *argv[] = {
        "EVALSHA", st->script_sha[SCRIPT_QUEUE_ADD], "4", a->qkey, a->mkey,
        a->ckey, a->bkey, mi->account, mi->msg_id, a->ts, (const char *)pdu,
        maxn, maxb, a->ttl,
        shared && mi->body_create ? (const char *)pdu + mi->head_len : "",
        "state", "QUEUED", "account", mi->account, "id", mi->msg_id,
        "submitted", a->ts, "src_ton", a->ton, "src_npi", a->npi, "src",
        mi->src, "dst", mi->dst, "parts", mi->parts};
    enum { NARGS = ARRAY_LEN(argv) };
    size_t lens[NARGS];
    for (size_t i = 0; i < NARGS; i++)
        lens[i] = strlen(argv[i]);
    lens[10] = shared ? mi->head_len : len;
    lens[14] = shared && mi->body_create ? len - mi->head_len : 0;
    return send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_queue_add, NULL,
                    NARGS, argv, lens);
}

int store_queue_add(struct store *st, const struct store_msg_info *mi,
                    const uint8_t *pdu, size_t len, store_done_cb cb,
                    void *arg)
{
    struct queue_add_args a;
    struct pending *p;
    int shared = mi->body_id != NULL && mi->head_len < len;
    uint64_t cost = shared ? mi->head_len : len;
    int fast = !shared && qc_fits(st, mi, cost);
    queue_add_args_fill(st, &a, mi, shared, cost);
    char *mkey = fast ? strdup(a.mkey) : NULL;
    if (fast && !mkey)
        return -1;
    p = fast ? queue_add_multi(st, &a, mi, pdu, len)
             : queue_add_capped(st, &a, mi, pdu, len, shared);
    if (!p) {
        free(mkey);
        return -1;
    }
    p->arg = arg;
    p->cb.done = cb;
    p->ukey = mkey;
    p->cost = cost;
    snprintf(p->id, sizeof p->id, "%s", mi->account);
    if (fast)
        qc_inflight(st, mi->account, +1, cost);
    return 0;
}

int store_queue_read(struct store *st, unsigned count, unsigned block_ms,
                     store_entries_cb cb, void *arg)
{
    char key[KEY_LEN], cnt[16], blk[16];
    if (st->reading)
        return -1;
    snprintf(key, sizeof key, "%s:queue", st->cfg.prefix);
    snprintf(cnt, sizeof cnt, "%u", count);
    snprintf(blk, sizeof blk, "%u", block_ms);
    const char *argv[] = {"XREADGROUP", "GROUP", "bridge", st->consumer,
                          "COUNT", cnt, "BLOCK", blk, "STREAMS", key, ">"};
    struct pending *p = send_cmd(st, CONN_CONSUMER,
                                 block_ms + st->cfg.timeout_ms, complete_read,
                                 arg, 11, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    st->reading = 1;
    return 0;
}

int store_queue_read_own(struct store *st, unsigned count, const char *after,
                         store_entries_cb cb, void *arg)
{
    char key[KEY_LEN], cnt[16];
    snprintf(key, sizeof key, "%s:queue", st->cfg.prefix);
    snprintf(cnt, sizeof cnt, "%u", count);
    const char *argv[] = {"XREADGROUP", "GROUP", "bridge", st->consumer,
                          "COUNT", cnt, "STREAMS", key, after};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_read_own, arg, 9, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    return 0;
}

int store_queue_touch(struct store *st, const char *const *ids, size_t n)
{
    char key[KEY_LEN];
    const char *argv[6 + MAX_TOUCH];
    if (n == 0 || n > MAX_TOUCH)
        return -1;
    snprintf(key, sizeof key, "%s:queue", st->cfg.prefix);
    argv[0] = "XCLAIM";
    argv[1] = key;
    argv[2] = "bridge";
    argv[3] = st->consumer;
    argv[4] = "0";
    for (size_t i = 0; i < n; i++)
        argv[5 + i] = ids[i];
    argv[5 + n] = "JUSTID";
    return send_cmd(st, CONN_CMD, st->cfg.timeout_ms, NULL, NULL, (int)n + 6,
                    argv, NULL) ? 0 : -1;
}

int store_queue_claim(struct store *st, unsigned idle_ms, unsigned count,
                      store_entries_cb cb, void *arg)
{
    char key[KEY_LEN], idle[16], cnt[16];
    snprintf(key, sizeof key, "%s:queue", st->cfg.prefix);
    snprintf(idle, sizeof idle, "%u", idle_ms);
    snprintf(cnt, sizeof cnt, "%u", count);
    if (!st->claim_cursor[0])
        snprintf(st->claim_cursor, sizeof st->claim_cursor, "0-0");
    const char *argv[] = {"XAUTOCLAIM", key, "bridge", st->consumer, idle,
                          st->claim_cursor, "COUNT", cnt};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_claim, arg, 8, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    return 0;
}

/* The finish script (see finish_script); <ukey> "" when there is no id
 * map to write. */
static int run_finish(struct store *st, const char *entry_id, const char *ukey,
                      const char *val, const char *ttl, const char *mkey,
                      const char *qckey, const char *state,
                      const char *connector, const char *upstream, int ends,
                      int resent,
                      store_done_cb cb, void *arg)
{
    char qkey[KEY_LEN], ckey[KEY_LEN], now[24], maxlen[16], fttl[16];
    snprintf(qkey, sizeof qkey, "%s:queue", st->cfg.prefix);
    snprintf(ckey, sizeof ckey, "%s:cdr", st->cfg.prefix);
    snprintf(now, sizeof now, "%" PRIu64, clock_wall_ms());
    snprintf(maxlen, sizeof maxlen, "%u", st->cfg.cdr_maxlen);
    snprintf(fttl, sizeof fttl, "%u", st->cfg.final_ttl_s);
    const char *argv[] = {"EVALSHA", st->script_sha[SCRIPT_FINISH], "5", qkey,
                          ukey, mkey, ckey, qckey,
                          entry_id, val, ttl, state, connector, upstream, now,
                          ends ? "1" : "0", maxlen, resent ? "1" : "0", fttl};
    return run(st, complete_done, cb, arg, 19, argv, NULL);
}

int store_queue_failed(struct store *st, const char *entry_id,
                       const char *account, const char *msg_id,
                       uint32_t status, int resent, store_done_cb cb,
                       void *arg)
{
    char mkey[KEY_LEN], qckey[KEY_LEN];
    msg_key(st, account, msg_id, mkey, sizeof mkey);
    qc_key(st, account, qckey, sizeof qckey);
    return run_finish(st, entry_id, "", "", "0", mkey, qckey,
                      status == ESME_ROK ? "UNKNOWN" : "REJECTED", "",
                      pdu_status_name(status), 1, resent, cb, arg);
}

int store_queue_unknown(struct store *st, const char *entry_id,
                        const char *account, const char *msg_id,
                        const char *why, int resent, store_done_cb cb,
                        void *arg)
{
    char mkey[KEY_LEN], qckey[KEY_LEN];
    msg_key(st, account, msg_id, mkey, sizeof mkey);
    qc_key(st, account, qckey, sizeof qckey);
    return run_finish(st, entry_id, "", "", "0", mkey, qckey, "UNKNOWN", "",
                      why, 1, resent, cb, arg);
}

/* A fact about a queued message that must outlive this process (see
 * store_msg_note_unknown): KEYS[1] the record; ARGV[1] "copy" (one more
 * copy whose outcome is unknown: field unknown_copies) or "resent" (a copy
 * went out after one: field resent). Only while the message is QUEUED: a
 * finished record keeps its final fields, and one that expired is not
 * made again (it would have no TTL). Rare (only unknown outcomes), so
 * sent whole (EVAL) rather than kept loaded. */
static const char note_unknown_script[] =
    "if redis.call('HGET', KEYS[1], 'state') ~= 'QUEUED' then return 0 end "
    "if ARGV[1] == 'copy' then "
    "return redis.call('HINCRBY', KEYS[1], 'unknown_copies', 1) end "
    "redis.call('HSET', KEYS[1], 'resent', '1') return 1";

int store_msg_note_unknown(struct store *st, const char *account,
                           const char *msg_id, int resent)
{
    char mkey[KEY_LEN];
    msg_key(st, account, msg_id, mkey, sizeof mkey);
    const char *argv[] = {"EVAL", note_unknown_script, "1", mkey,
                          resent ? "resent" : "copy"};
    return run(st, complete_done, NULL, NULL, 5, argv, NULL);
}

/* HMGET unknown_copies resent: [count or nil, "1" or nil]. */
static void complete_unknown(struct store *st, redisReply *r,
                             struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        p->cb.unknown(-1, 0, 0, p->arg);
        return;
    }
    const redisReply *c = r->element[0], *s = r->element[1];
    unsigned long copies = c->type == REDIS_REPLY_STRING
                               ? strtoul(c->str, NULL, 10) : 0;
    int resent = s->type == REDIS_REPLY_STRING && s->len == 1 &&
                 s->str[0] == '1';
    p->cb.unknown(0, copies > 1000 ? 1000 : (unsigned)copies, resent, p->arg);
}

int store_msg_unknown(struct store *st, const char *account,
                      const char *msg_id, store_unknown_cb cb, void *arg)
{
    char mkey[KEY_LEN];
    msg_key(st, account, msg_id, mkey, sizeof mkey);
    const char *argv[] = {"HMGET", mkey, "unknown_copies", "resent"};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_unknown, arg, 4, argv, NULL);
    if (!p)
        return -1;
    p->cb.unknown = cb;
    return 0;
}

int store_idmap_add(struct store *st, const char *connector,
                    const char *upstream_id, const struct store_idmap *m,
                    unsigned ttl_s)
{
    char ukey[KEY_LEN], val[128], ttl[16];
    snprintf(ukey, sizeof ukey, "%s:up:{%s}:%s", st->cfg.prefix, connector,
             upstream_id);
    snprintf(val, sizeof val, "%s\t%s\t%" PRIu64 "\t%u", m->account, m->msg_id,
             m->ts_ms, m->registered_delivery);
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    const char *argv[] = {"SET", ukey, val, "EX", ttl};
    return run(st, complete_done, NULL, NULL, 5, argv, NULL);
}

/* Whether id map value <v> of <len> bytes names message <msg_id> of
 * <account> (a retried transaction finds its own earlier write). */
static int idmap_names(const char *v, size_t len, const char *account,
                       const char *msg_id)
{
    size_t a = strlen(account), k = strlen(msg_id);
    return len > a + k + 1 && memcmp(v, account, a) == 0 && v[a] == '\t' &&
           memcmp(v + a + 1, msg_id, k) == 0 && v[a + 1 + k] == '\t';
}

/* The id was mapped to another message already: mark it (a third one
 * finds the mark and leaves it), log and count. The mark lives a full
 * id_ttl from now, as long as the newer message's receipt may take. */
static void idmap_collision(struct store *st, const struct pending *p,
                            const redisReply *old)
{
    char ttl[16];
    int marked = old->len > 0 && old->str[0] == IDMAP_COLLISION[0];
    metrics_add(st->m_id_collisions, 1, NULL);
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("key", p->ukey, "account", p->id, "msg_id", p->msg_id,
                         "reason", "upstream-id-collision"),
              "upstream gave message %s of %s an id already mapped to %s "
              "(%s): its receipts go to dead letters",
              p->msg_id, p->id, marked ? "two messages" : "another message",
              p->ukey);
    snprintf(ttl, sizeof ttl, "%u", p->ttl_s);
    const char *set[] = {"SET", p->ukey, IDMAP_COLLISION, "EX", ttl};
    send_cmd(st, CONN_CMD, st->cfg.timeout_ms, NULL, NULL, 5, set, NULL);
}

/* The account's counters after the entry's cost was given back: an
 * entry that was not there any more (XDEL found nothing: a second finish
 * of the same entry) had nothing to give back, so the amounts are added
 * again; a count below 0 (its counter hash was lost or reset) is raised
 * to 0 by what it lacks, which a concurrent change cannot undo. */
static void qc_settle(struct store *st, const char *account, int removed,
                      size_t cost, const redisReply *n, const redisReply *b)
{
    char key[KEY_LEN], dn[24], db[24];
    long long an = removed ? 0 : 1, ab = removed ? 0 : (long long)cost;
    if (n && n->type == REDIS_REPLY_INTEGER && n->integer + an < 0)
        an = -n->integer;
    if (b && b->type == REDIS_REPLY_INTEGER && b->integer + ab < 0)
        ab = -b->integer;
    if (an == 0 && ab == 0)
        return;
    qc_key(st, account, key, sizeof key);
    snprintf(dn, sizeof dn, "%lld", an);
    snprintf(db, sizeof db, "%lld", ab);
    const char *fix[] = {"HINCRBY", key, "n", dn};
    if (an)
        send_cmd(st, CONN_CMD, st->cfg.timeout_ms, NULL, NULL, 4, fix, NULL);
    fix[2] = "b", fix[3] = db;
    if (ab)
        send_cmd(st, CONN_CMD, st->cfg.timeout_ms, NULL, NULL, 4, fix, NULL);
}

static void sent_collision_check(struct store *st, struct pending *p,
                                 const redisReply *old)
{
    if (old && old->type == REDIS_REPLY_STRING && old->len > 0 &&
        !idmap_names(old->str, old->len, p->id, p->msg_id))
        idmap_collision(st, p, old);
}

/* The script's reply: the id map's value before ("" when none). */
static void complete_sent(struct store *st, redisReply *r, struct pending *p)
{
    sent_collision_check(st, p, r);
    if (p->cb.done)
        p->cb.done(r ? 0 : -1, p->arg);
}

/* The transaction's reply: SET's (the value before, nil when none), XACK,
 * XDEL, then HINCRBY n and b when the entry was counted. */
static void complete_sent_multi(struct store *st, redisReply *r,
                                struct pending *p)
{
    redisReply *e = exec_reply(st, r);
    if (e && e->elements >= 3) {
        sent_collision_check(st, p, e->element[0]);
        if (p->cost)
            qc_settle(st, p->id, e->element[2]->type == REDIS_REPLY_INTEGER &&
                                     e->element[2]->integer > 0,
                      p->cost, e->elements > 3 ? e->element[3] : NULL,
                      e->elements > 4 ? e->element[4] : NULL);
    }
    if (p->cb.done)
        p->cb.done(e ? 0 : -1, p->arg);
}

/* What both ways of recording a sent message share. */
struct sent_args {
    char ukey[KEY_LEN], mkey[KEY_LEN], qkey[KEY_LEN], qckey[KEY_LEN];
    char val[128], ttl[16], now[24], cost[24];
};

static void sent_args_fill(struct store *st, struct sent_args *a,
                           const struct store_entry_ref *entry,
                           const char *connector, const char *upstream_id,
                           const struct store_idmap *m, unsigned ttl_s)
{
    snprintf(a->ukey, sizeof a->ukey, "%s:up:{%s}:%s", st->cfg.prefix,
             connector, upstream_id);
    msg_key(st, m->account, m->msg_id, a->mkey, sizeof a->mkey);
    snprintf(a->val, sizeof a->val, "%s\t%s\t%" PRIu64 "\t%u", m->account,
             m->msg_id, m->ts_ms, m->registered_delivery);
    snprintf(a->ttl, sizeof a->ttl, "%u", ttl_s);
    snprintf(a->qkey, sizeof a->qkey, "%s:queue", st->cfg.prefix);
    qc_key(st, m->account, a->qckey, sizeof a->qckey);
    snprintf(a->now, sizeof a->now, "%" PRIu64, clock_wall_ms());
    snprintf(a->cost, sizeof a->cost, "-%zu", entry->cost);
}

/* An entry without a shared body, in one transaction: no script, and no
 * read of the entry, because its cost came with it (Lua's own overhead
 * was most of Redis's time for a message). SET NX GET (Redis 7.0) writes
 * the id map only when the id is not mapped yet, and says whose it was. */
static struct pending *sent_multi(struct store *st, const struct sent_args *a,
                                  const struct store_entry_ref *entry,
                                  const char *connector,
                                  const char *upstream_raw, int resent)
{
    const char *set[] = {"SET", a->ukey, a->val, "NX", "GET", "EX", a->ttl};
    const char *ack[] = {"XACK", a->qkey, "bridge", entry->id};
    const char *del[] = {"XDEL", a->qkey, entry->id};
    const char *gn[] = {"HINCRBY", a->qckey, "n", "-1"};
    const char *gb[] = {"HINCRBY", a->qckey, "b", a->cost};
    const char *rec[] = {"HSET", a->mkey, "state", "ENROUTE", "connector",
                         connector, "upstream_id", upstream_raw, "sent", a->now,
                         "resent", "1"};
    const char *exp[] = {"EXPIRE", a->mkey, a->ttl};
    struct store_cmd cmds[7];
    int n = 0;
    cmds[n++] = (struct store_cmd){7, set, NULL};
    cmds[n++] = (struct store_cmd){4, ack, NULL};
    cmds[n++] = (struct store_cmd){3, del, NULL};
    if (entry->cost) {
        cmds[n++] = (struct store_cmd){4, gn, NULL};
        cmds[n++] = (struct store_cmd){4, gb, NULL};
    }
    cmds[n++] = (struct store_cmd){resent ? 12 : 10, rec, NULL};
    cmds[n++] = (struct store_cmd){3, exp, NULL};
    return run_multi(st, complete_sent_multi, NULL, cmds, n);
}

int store_queue_sent(struct store *st, const struct store_entry_ref *entry,
                     const char *connector, const char *upstream_id,
                     const char *upstream_raw, const struct store_idmap *m,
                     unsigned ttl_s, store_done_cb cb, void *arg)
{
    struct sent_args a;
    struct pending *p;
    sent_args_fill(st, &a, entry, connector, upstream_id, m, ttl_s);
    char *ukey_copy = strdup(a.ukey);
    if (!ukey_copy)
        return -1;
    /* The record cannot be final yet: its receipt is matched through the
     * id map written here, and an entry an instance holds is never
     * cancelled. It lives id_ttl from now: its receipt may come so late.
     * The final receipt is always asked for upstream: the life of the
     * message (and its CDR) ends with it. Its "entry" field stays: only a
     * QUEUED record's entry is used, and the CDR leaves it out. An entry
     * with a shared body gives the body's reference back too: the
     * script does that. */
    if (!entry->shared) {
        p = sent_multi(st, &a, entry, connector, upstream_raw, m->resent);
    } else {
        const char *argv[] = {"EVALSHA", st->script_sha[SCRIPT_SENT], "4",
                              a.qkey, a.ukey, a.mkey, a.qckey, entry->id, a.val,
                              a.ttl, connector, upstream_raw, a.now,
                              m->resent ? "1" : "0"};
        p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_sent, NULL, 14,
                     argv, NULL);
    }
    if (!p) {
        free(ukey_copy);
        return -1;
    }
    p->arg = arg;
    p->cb.done = cb;
    p->ukey = ukey_copy;
    p->ttl_s = ttl_s;
    p->cost = entry->shared ? 0 : entry->cost;
    snprintf(p->id, sizeof p->id, "%s", m->account);
    snprintf(p->msg_id, sizeof p->msg_id, "%s", m->msg_id);
    return 0;
}

int store_idmap_find(struct store *st, const char *connector,
                     const char *const *ids, size_t n, store_idmap_cb cb,
                     void *arg)
{
    char keys[MAX_ARGS][KEY_LEN];
    const char *argv[MAX_ARGS + 1];
    if (n == 0 || n > MAX_ARGS)
        return -1;
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], KEY_LEN, "%s:up:{%s}:%s", st->cfg.prefix, connector,
                 ids[i]);
        argv[i + 1] = keys[i];
    }
    /* what was asked, for the answer: "CONNECTOR\0ID0\0ID1..." */
    size_t len = strlen(connector) + 1, at;
    for (size_t i = 0; i < n; i++)
        len += strlen(ids[i]) + 1;
    char *asked = malloc(len);
    if (!asked)
        return -1;
    at = strlen(connector) + 1;
    memcpy(asked, connector, at);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(ids[i]) + 1;
        memcpy(asked + at, ids[i], l);
        at += l;
    }
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_idmap, arg, (int)n + 1, argv, NULL);
    if (!p) {
        free(asked);
        return -1;
    }
    p->cb.idmap = cb;
    p->ukey = asked;
    return 0;
}

/* A final receipt in two steps, without Lua (scripts cost Redis several
 * times what the same commands cost bare): read the message's record,
 * then one transaction writes its final state, its CDR (the record with
 * the final fields) and the customer's copy of the receipt. A record
 * already final is left alone: a receipt upstream sent twice makes no
 * second CDR, and a record a real final receipt already reached (field
 * "receipted", set by the first whether or not the customer asked for
 * it) gives the customer no second one - the second copy of a message
 * sent again after an unknown outcome has its own receipt, which may
 * differ (DELIVRD, then UNDELIV). A record that ended UNKNOWN still
 * passes the real one on. Read and write are two steps: two instances
 * taking the two copies' receipts in the same few milliseconds may both
 * pass theirs on; a script would close that, at the cost above. */
/* ---- the bound on each account's receipt stream ------------------------
 * Receipts and MO wait in P:dlr:{ID} while the customer is away, up to
 * [relay] ttl. Each write also measures the stream (XLEN in the same
 * transaction); at dlr_maxlen the account is remembered as full, and
 * upstream's deliver_sm for it are refused (STORE_FULL: the relay answers
 * ESME_RX_T_APPN, upstream keeps them and sends them again) until
 * DLR_FULL_RECHECK_MS later, when one is let through to measure again.
 * The bound is soft by the writes already on their way. */

static int dlr_stream_full(struct store *st, const char *account)
{
    uint64_t now = clock_mono_ms();
    for (size_t i = 0; i < DLR_FULL_SLOTS; i++)
        if (st->dlr_full[i].until_ms > now &&
            strcmp(st->dlr_full[i].account, account) == 0)
            return 1;
    return 0;
}

/* What a write found: <len> entries waiting for <account>. */
static void dlr_stream_measured(struct store *st, const char *account,
                                long long len)
{
    size_t slot = DLR_FULL_SLOTS, i;
    for (i = 0; i < DLR_FULL_SLOTS; i++) {
        if (strcmp(st->dlr_full[i].account, account) == 0)
            break;
        if (slot == DLR_FULL_SLOTS && st->dlr_full[i].until_ms <= clock_mono_ms())
            slot = i; /* a free (or lapsed) slot */
    }
    if (len < (long long)st->cfg.dlr_maxlen) {
        if (i < DLR_FULL_SLOTS)
            st->dlr_full[i].until_ms = 0;
        return;
    }
    if (i == DLR_FULL_SLOTS)
        i = slot < DLR_FULL_SLOTS ? slot : 0;
    if (st->dlr_full[i].until_ms == 0 || strcmp(st->dlr_full[i].account, account))
        log_event(LOG_WARN, TAG,
                  LOG_FIELDS("account", account, "reason", "receipt-stream-full"),
                  "%lld receipts and MO wait for %s ([redis] dlr_maxlen %u): "
                  "upstream's deliver_sm for it are refused until it reads them",
                  len, account, st->cfg.dlr_maxlen);
    snprintf(st->dlr_full[i].account, sizeof st->dlr_full[i].account, "%s",
             account);
    st->dlr_full[i].until_ms = clock_mono_ms() + DLR_FULL_RECHECK_MS;
}

/* The length XLEN reported as the last reply of transaction reply <e>. */
static void dlr_measured_from(struct store *st, const char *account,
                              const redisReply *e)
{
    if (e && e->elements > 0 &&
        e->element[e->elements - 1]->type == REDIS_REPLY_INTEGER)
        dlr_stream_measured(st, account, e->element[e->elements - 1]->integer);
}

/* A deliver_sm refused for a full stream, counted by account. */
static void count_dlr_refusal(struct store *st, const char *account)
{
    metrics_add(st->m_dlr_full, 1, METRICS_LABELS(account));
}

struct receipt_job {
    struct store *st;
    char account[16], msg_id[32], state[16], final_ms[24], error[16];
    char map_key[KEY_LEN];  /* the id map entry that found it, or "" */
    int from_upstream;  /* a real receipt (store_msg_final: not) */
    uint8_t *pdu;
    size_t len;
    store_done_cb cb;
    void *arg;
    struct receipt_job *prev, *next;
};

static void receipt_job_free(struct receipt_job *j)
{
    struct store *st = j->st;
    if (j->prev)
        j->prev->next = j->next;
    else
        st->receipt_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    free(j->pdu);
    free(j);
}

static void receipt_job_done(struct receipt_job *j, int status)
{
    if (j->cb)
        j->cb(status, j->arg);
    receipt_job_free(j);
}

static void complete_receipt_exec(struct store *st, redisReply *r,
                                  struct pending *p)
{
    struct receipt_job *j = p->arg;
    redisReply *e = exec_reply(st, r);
    if (e && j->pdu)
        dlr_measured_from(st, j->account, e);
    receipt_job_done(j, e ? 0 : -1);
}

static int is_final_state(const char *s)
{
    return s && strcmp(s, "QUEUED") != 0 && strcmp(s, "ENROUTE") != 0;
}

#define CDR_MAX_ARGS 64

/* What a record keeps once its message's life has ended: what query_sm
 * answers with and checks (state, final date, error, the source
 * address), the connector and upstream's id for the operator who asks
 * upstream about it, and the marker that holds back a second copy's
 * receipt. The rest is in its CDR. */
static const char *const final_kept[] = {"state", "final", "error", "src",
                                         "connector", "upstream_id",
                                         "receipted"};

static int final_kept_field(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(final_kept); i++)
        if (strcmp(name, final_kept[i]) == 0)
            return 1;
    return 0;
}

/* HDEL <mkey> of every field of record <r> (HGETALL) a final record does
 * not keep, into <argv>; its argc (2: none). */
static int final_hdel(const redisReply *r, const char *mkey,
                      const char **argv, int cap)
{
    int n = 0;
    argv[n++] = "HDEL";
    argv[n++] = mkey;
    for (size_t i = 0; i + 1 < r->elements && n < cap; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            !final_kept_field(r->element[i]->str))
            argv[n++] = r->element[i]->str;
    return n;
}

static void complete_receipt_record(struct store *st, redisReply *r,
                                    struct pending *p)
{
    struct receipt_job *j = p->arg;
    char mkey[KEY_LEN], dkey[KEY_LEN], ckey[KEY_LEN], maxlen[16];
    const char *cdr[CDR_MAX_ARGS], *hset[8], *hdel[CDR_MAX_ARGS], *xadd[5];
    const char *mark[4], *xlen[2], *exp[3], *mexp[3];
    char ttl[16];
    size_t xlens[5];
    struct store_cmd cmds[8];
    int n = 0, nc = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        receipt_job_done(j, -1);
        return;
    }
    if (j->pdu && dlr_stream_full(st, j->account)) {
        count_dlr_refusal(st, j->account); /* nothing written: it comes again */
        receipt_job_done(j, STORE_FULL);
        return;
    }
    msg_key(st, j->account, j->msg_id, mkey, sizeof mkey);
    snprintf(dkey, sizeof dkey, "%s:dlr:{%s}", st->cfg.prefix, j->account);
    snprintf(ckey, sizeof ckey, "%s:cdr", st->cfg.prefix);
    snprintf(maxlen, sizeof maxlen, "%u", st->cfg.cdr_maxlen);
    const char *state = hash_field(r, "state");
    if (r->elements > 0 && !is_final_state(state)) {
        const char *h[] = {"HSET", mkey, "state", j->state, "final",
                           j->final_ms, "error", j->error};
        memcpy(hset, h, sizeof h);
        cmds[n++] = (struct store_cmd){8, hset, NULL};
        int nd = final_hdel(r, mkey, hdel, CDR_MAX_ARGS);
        if (nd > 2)
            cmds[n++] = (struct store_cmd){nd, hdel, NULL};
        snprintf(ttl, sizeof ttl, "%u", st->cfg.final_ttl_s);
        exp[0] = "EXPIRE", exp[1] = mkey, exp[2] = ttl;
        cmds[n++] = (struct store_cmd){3, exp, NULL};
        if (j->map_key[0]) {
            mexp[0] = "EXPIRE", mexp[1] = j->map_key, mexp[2] = ttl;
            cmds[n++] = (struct store_cmd){3, mexp, NULL};
        }
        if (st->cfg.cdr_maxlen) {
            const char *head[] = {"XADD", ckey, "MAXLEN", "~", maxlen, "*",
                                  "state", j->state, "final", j->final_ms,
                                  "error", j->error};
            for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
                cdr[nc++] = head[i];
            for (size_t i = 0; i + 1 < r->elements && nc + 2 <= CDR_MAX_ARGS;
                 i += 2) {
                const char *k = r->element[i]->str;
                if (strcmp(k, "state") && strcmp(k, "final") &&
                    strcmp(k, "error") && strcmp(k, "entry")) {
                    cdr[nc++] = k;
                    cdr[nc++] = r->element[i + 1]->str;
                }
            }
            cmds[n++] = (struct store_cmd){nc, cdr, NULL};
        }
    }
    /* The marker goes on whenever a real receipt reaches the record,
     * whether or not the customer wanted this one (registered_delivery
     * 2 asks for failures only): the first final receipt decides, a
     * second copy's must not follow it. A state we set ourselves (a
     * cancel upstream: DELETED) is no receipt: upstream's own one for
     * it still goes to the customer. */
    int held_back = r->elements > 0 && is_final_state(state) &&
                    strcmp(state, "UNKNOWN") != 0 && hash_field(r, "receipted");
    if (j->from_upstream && !held_back && r->elements > 0) {
        const char *k[] = {"HSET", mkey, "receipted", "1"};
        memcpy(mark, k, sizeof k);
        cmds[n++] = (struct store_cmd){4, mark, NULL};
    }
    if (j->pdu && !held_back) {
        const char *x[] = {"XADD", dkey, "*", "p", (const char *)j->pdu};
        size_t l[] = {4, strlen(dkey), 1, 1, j->len};
        memcpy(xadd, x, sizeof x);
        memcpy(xlens, l, sizeof l);
        cmds[n++] = (struct store_cmd){5, xadd, xlens};
        xlen[0] = "XLEN", xlen[1] = dkey;
        cmds[n++] = (struct store_cmd){2, xlen, NULL}; /* measured last */
    }
    if (n == 0) {
        receipt_job_done(j, 0); /* no record (older than id_ttl), none wanted */
        return;
    }
    if (!run_multi(st, complete_receipt_exec, j, cmds, n))
        receipt_job_done(j, -1);
}

/* A final state for the record: store_receipt_add's job, <from_upstream>
 * when a real receipt brought it. */
static int final_add(struct store *st, const char *account,
                     const char *msg_id, const struct store_idmap *m,
                     const char *final_state, uint64_t final_ms,
                     unsigned error, int from_upstream, const uint8_t *pdu,
                     size_t len, store_done_cb cb, void *arg)
{
    struct receipt_job *j = calloc(1, sizeof *j);
    if (!j || (pdu && !(j->pdu = malloc(len)))) {
        free(j);
        return -1;
    }
    j->st = st;
    j->from_upstream = from_upstream;
    snprintf(j->account, sizeof j->account, "%s", account);
    snprintf(j->msg_id, sizeof j->msg_id, "%s", msg_id);
    snprintf(j->state, sizeof j->state, "%s", final_state);
    snprintf(j->final_ms, sizeof j->final_ms, "%" PRIu64, final_ms);
    snprintf(j->error, sizeof j->error, "%u", error);
    if (m && m->connector[0] && m->map_id[0])
        snprintf(j->map_key, sizeof j->map_key, "%s:up:{%s}:%s",
                 st->cfg.prefix, m->connector, m->map_id);
    if (pdu)
        memcpy(j->pdu, pdu, len);
    j->len = len;
    j->cb = cb;
    j->arg = arg;
    char mkey[KEY_LEN];
    msg_key(st, account, msg_id, mkey, sizeof mkey);
    const char *argv[] = {"HGETALL", mkey};
    if (!send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_receipt_record, j,
                  2, argv, NULL)) {
        free(j->pdu);
        free(j);
        return -1;
    }
    j->next = st->receipt_jobs;
    if (st->receipt_jobs)
        st->receipt_jobs->prev = j;
    st->receipt_jobs = j;
    return 0;
}

/* store_dlr_add's transaction: XADD, XLEN; or, refused, XLEN alone. */
static void complete_dlr_add(struct store *st, redisReply *r, struct pending *p)
{
    if (p->dlr_refused) {
        if (r && r->type == REDIS_REPLY_INTEGER)
            dlr_stream_measured(st, p->id, r->integer);
        p->cb.done(STORE_FULL, p->arg);
        return;
    }
    redisReply *e = exec_reply(st, r);
    dlr_measured_from(st, p->id, e);
    p->cb.done(e ? 0 : -1, p->arg);
}

int store_dlr_add(struct store *st, const char *account, const uint8_t *pdu,
                  size_t len, int from_upstream, store_done_cb cb, void *arg)
{
    char key[KEY_LEN];
    struct pending *p;
    snprintf(key, sizeof key, "%s:dlr:{%s}", st->cfg.prefix, account);
    const char *xlen[] = {"XLEN", key};
    if (from_upstream && dlr_stream_full(st, account)) {
        /* refused; the length is asked again so that the mark is lifted
         * as soon as the customer has read enough */
        count_dlr_refusal(st, account);
        p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_dlr_add, arg,
                     2, xlen, NULL);
        if (p)
            p->dlr_refused = 1;
    } else {
        const char *xadd[] = {"XADD", key, "*", "p", (const char *)pdu};
        size_t lens[] = {4, strlen(key), 1, 1, len};
        const struct store_cmd cmds[] = {{5, xadd, lens}, {2, xlen, NULL}};
        p = run_multi(st, complete_dlr_add, arg, cmds, 2);
    }
    if (!p)
        return -1;
    p->cb.done = cb;
    snprintf(p->id, sizeof p->id, "%s", account);
    return 0;
}

int store_dlr_range(struct store *st, const char *account, const char *after,
                    unsigned count, store_entries_cb cb, void *arg)
{
    char key[KEY_LEN], start[40], cnt[16];
    snprintf(key, sizeof key, "%s:dlr:{%s}", st->cfg.prefix, account);
    /* "(" makes the start exclusive (Redis 6.2+) */
    if (strcmp(after, "-") == 0)
        snprintf(start, sizeof start, "-");
    else
        snprintf(start, sizeof start, "(%s", after);
    snprintf(cnt, sizeof cnt, "%u", count);
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", cnt};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_range, arg, 6, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    return 0;
}

int store_dlr_del(struct store *st, const char *account,
                  const char *const *ids, size_t n, store_done_cb cb, void *arg)
{
    char key[KEY_LEN];
    const char *argv[2 + MAX_DEL];
    if (n == 0 || n > MAX_DEL)
        return -1;
    snprintf(key, sizeof key, "%s:dlr:{%s}", st->cfg.prefix, account);
    argv[0] = "XDEL";
    argv[1] = key;
    for (size_t i = 0; i < n; i++)
        argv[2 + i] = ids[i];
    return run(st, complete_done, cb, arg, (int)n + 2, argv, NULL);
}

static void complete_routes(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.routes(-1, NULL, NULL, 0, p->arg);
        return;
    }
    size_t n = r->elements / 2;
    const char **pre = n ? calloc(n, sizeof *pre) : NULL;
    const char **acc = n ? calloc(n, sizeof *acc) : NULL;
    if (n && (!pre || !acc)) {
        free(pre);
        free(acc);
        p->cb.routes(-1, NULL, NULL, 0, p->arg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pre[i] = r->element[2 * i]->str;
        acc[i] = r->element[2 * i + 1]->str;
    }
    p->cb.routes(0, pre, acc, n, p->arg);
    free(pre);
    free(acc);
}

int store_routes_load(struct store *st, store_routes_cb cb, void *arg)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:numbers", st->cfg.prefix);
    const char *argv[] = {"HGETALL", key};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_routes, arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.routes = cb;
    return 0;
}

int store_publish(struct store *st, const char *kind, const char *id)
{
    char chan[KEY_LEN], msg[128];
    snprintf(chan, sizeof chan, "%s:events", st->cfg.prefix);
    snprintf(msg, sizeof msg, "%s %s", kind, id);
    const char *argv[] = {"PUBLISH", chan, msg};
    return run(st, NULL, NULL, NULL, 3, argv, NULL);
}

static void complete_lease(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        p->cb.lease(-1, 0, p->arg);
        return;
    }
    p->cb.lease(0, r->integer == 1, p->arg);
}

int store_lease(struct store *st, const char *name, const char *owner,
                unsigned ttl_ms, store_lease_cb cb, void *arg)
{
    char key[KEY_LEN], ttl[16];
    snprintf(key, sizeof key, "%s:lease:{%s}", st->cfg.prefix, name);
    snprintf(ttl, sizeof ttl, "%u", ttl_ms);
    const char *argv[] = {"EVAL", lease_script[0], "1", key, owner, ttl};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_lease, arg, 6, argv, NULL);
    if (!p)
        return -1;
    p->cb.lease = cb;
    return 0;
}

int store_lease_release(struct store *st, const char *name, const char *owner)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:lease:{%s}", st->cfg.prefix, name);
    const char *argv[] = {"EVAL", lease_script[1], "1", key, owner};
    return run(st, NULL, NULL, NULL, 5, argv, NULL);
}

const char *store_consumer(const struct store *st)
{
    return st->consumer;
}

static void complete_grant(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
        p->cb.grant(-1, 0, p->arg);
        return;
    }
    p->cb.grant(0, (unsigned)r->integer, p->arg);
}

int store_throttle_lease(struct store *st, const char *key, unsigned rate,
                         unsigned burst, unsigned want, store_grant_cb cb,
                         void *arg)
{
    char bkey[KEY_LEN], r[16], b[16], w[16];
    snprintf(bkey, sizeof bkey, "%s:tb:{%s}", st->cfg.prefix, key);
    snprintf(r, sizeof r, "%u", rate);
    snprintf(b, sizeof b, "%u", burst);
    snprintf(w, sizeof w, "%u", want);
    const char *argv[] = {"EVAL", bucket_script, "1", bkey, r, b, w};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_grant, arg, 7, argv, NULL);
    if (!p)
        return -1;
    p->cb.grant = cb;
    return 0;
}

/*
 * A day's quota counter. KEYS[1] P:quota:{ID}:DAY; ARGV quota, wanted,
 * expiry (Unix time). Grants up to the wanted tokens without the count
 * passing the quota (a lowered quota grants nothing); returns the grant.
 */
static const char quota_script[] =
    "local used = tonumber(redis.call('GET', KEYS[1]) or '0') "
    "local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used) "
    "if grant <= 0 then return 0 end "
    "redis.call('INCRBY', KEYS[1], grant) "
    "redis.call('EXPIREAT', KEYS[1], ARGV[3]) "
    "return grant";

int store_quota_lease(struct store *st, const char *account, const char *day,
                      unsigned quota, unsigned want, int64_t expire_at,
                      store_grant_cb cb, void *arg)
{
    char key[KEY_LEN], q[16], w[16], e[24];
    snprintf(key, sizeof key, "%s:quota:{%s}:%s", st->cfg.prefix, account,
             day);
    snprintf(q, sizeof q, "%u", quota);
    snprintf(w, sizeof w, "%u", want);
    snprintf(e, sizeof e, "%" PRId64, expire_at);
    const char *argv[] = {"EVAL", quota_script, "1", key, q, w, e};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_grant, arg, 7, argv, NULL);
    if (!p)
        return -1;
    p->cb.grant = cb;
    return 0;
}

/* Dead letters are bounded in bytes as well as in entries: at most
 * [redis] dead_maxlen entries (approximately: MAXLEN ~), each keeping at
 * most dead_entry_max bytes of its PDU; field "len" says how long the
 * PDU was, so a cut one is plain to see. */
int store_dead_add(struct store *st, const char *reason, const uint8_t *pdu,
                   size_t len, store_done_cb cb, void *arg)
{
    char key[KEY_LEN], maxlen[16], full[24];
    snprintf(key, sizeof key, "%s:dead", st->cfg.prefix);
    snprintf(maxlen, sizeof maxlen, "%u", st->cfg.dead_maxlen);
    snprintf(full, sizeof full, "%zu", len);
    metrics_add(st->m_dead, 1, METRICS_LABELS(reason));
    if (len > st->cfg.dead_entry_max) {
        len = st->cfg.dead_entry_max;
        metrics_add(st->m_dead_cut, 1, NULL);
    }
    const char *argv[] = {"XADD", key, "MAXLEN", "~", maxlen, "*",
                          "reason", reason, "p", (const char *)pdu, "len", full};
    size_t lens[12];
    for (size_t i = 0; i < 12; i++)
        lens[i] = i == 9 ? len : strlen(argv[i]);
    return run(st, complete_done, cb, arg, 12, argv, lens);
}

static void complete_ids(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.ids(-1, NULL, 0, p->arg);
        return;
    }
    const char **ids = r->elements ? calloc(r->elements, sizeof *ids) : NULL;
    size_t n = 0;
    if (r->elements && !ids) {
        p->cb.ids(-1, NULL, 0, p->arg);
        return;
    }
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            ids[n++] = r->element[i]->str;
    p->cb.ids(0, ids, n, p->arg);
    free(ids);
}

int store_account_ids(struct store *st, store_ids_cb cb, void *arg)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:accounts", st->cfg.prefix);
    const char *argv[] = {"SMEMBERS", key};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_ids, arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.ids = cb;
    return 0;
}

/*
 * Expired entries of a delivery stream into the dead letters, on Redis's
 * clock (TIME): the clock that wrote the entry ids, so instances need not
 * agree on time. KEYS[1] P:dlr:{ACCOUNT}, KEYS[2] P:dead; ARGV ttl ms,
 * max entries, account, P:dead's maxlen, the bytes of a PDU kept there
 * (store_dead_add). Returns how many were moved. The two keys are in
 * different hash slots: a Redis Cluster would refuse this script.
 */
static const char expire_script[] =
    "local t = redis.call('TIME') "
    "local cutoff = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[1]) "
    "if cutoff < 0 then return 0 end "
    "local es = redis.call('XRANGE', KEYS[1], '-', "
    "string.format('%.0f', cutoff), 'COUNT', ARGV[2]) "
    "local ids = {} "
    "for _, e in ipairs(es) do "
    "local p, f = '', e[2] "
    "for j = 1, #f - 1, 2 do if f[j] == 'p' then p = f[j + 1] end end "
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', "
    "'reason', 'expired', 'account', ARGV[3], "
    "'p', string.sub(p, 1, tonumber(ARGV[5])), 'len', #p) "
    "ids[#ids + 1] = e[1] end "
    "if #ids > 0 then redis.call('XDEL', KEYS[1], unpack(ids)) end "
    "return #ids";

static void complete_count(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
        p->cb.count(-1, 0, p->arg);
        return;
    }
    p->cb.count(0, (unsigned)r->integer, p->arg);
}

int store_dlr_expire(struct store *st, const char *account, unsigned ttl_ms,
                     unsigned max, store_count_cb cb, void *arg)
{
    char key[KEY_LEN], dead[KEY_LEN], ttl[16], cnt[16], dmax[16], dcut[16];
    if (max == 0 || max > MAX_DEL)
        return -1;
    snprintf(dmax, sizeof dmax, "%u", st->cfg.dead_maxlen);
    snprintf(dcut, sizeof dcut, "%u", st->cfg.dead_entry_max);
    snprintf(key, sizeof key, "%s:dlr:{%s}", st->cfg.prefix, account);
    snprintf(dead, sizeof dead, "%s:dead", st->cfg.prefix);
    snprintf(ttl, sizeof ttl, "%u", ttl_ms);
    snprintf(cnt, sizeof cnt, "%u", max);
    const char *argv[] = {"EVAL", expire_script, "2", key, dead, ttl, cnt,
                          account, dmax, dcut};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_count, arg, 10, argv, NULL);
    if (!p)
        return -1;
    p->cb.count = cb;
    return 0;
}

/* ---- message state -------------------------------------------------- */

/* Field <name> of an HGETALL reply (NULL when absent). */
static const char *hash_field(const redisReply *r, const char *name)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            r->element[i + 1]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[i]->str, name) == 0)
            return r->element[i + 1]->str;
    return NULL;
}

static unsigned long long field_num(const char *v)
{
    return v ? strtoull(v, NULL, 10) : 0;
}

static void complete_msg(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.msg(-1, NULL, p->arg);
        return;
    }
    struct store_msg m;
    memset(&m, 0, sizeof m);
    m.state = hash_field(r, "state");
    if (!m.state) {
        p->cb.msg(0, NULL, p->arg);
        return;
    }
    m.entry = hash_field(r, "entry");
    m.connector = hash_field(r, "connector");
    m.upstream_id = hash_field(r, "upstream_id");
    m.src = hash_field(r, "src");
    m.src_ton = (uint8_t)field_num(hash_field(r, "src_ton"));
    m.src_npi = (uint8_t)field_num(hash_field(r, "src_npi"));
    m.final_ms = field_num(hash_field(r, "final"));
    m.error = (unsigned)field_num(hash_field(r, "error"));
    p->cb.msg(0, &m, p->arg);
}

int store_msg_get(struct store *st, const char *account, const char *msg_id,
                  store_msg_cb cb, void *arg)
{
    char mkey[KEY_LEN];
    msg_key(st, account, msg_id, mkey, sizeof mkey);
    const char *argv[] = {"HGETALL", mkey};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_msg, arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.msg = cb;
    return 0;
}

int store_receipt_add(struct store *st, const struct store_idmap *m,
                      const char *final_state, uint64_t final_ms,
                      unsigned error, const uint8_t *pdu, size_t len,
                      store_done_cb cb, void *arg)
{
    if (!final_state) /* not final: only the customer's copy */
        return pdu ? store_dlr_add(st, m->account, pdu, len, 1, cb, arg) : -1;
    return final_add(st, m->account, m->msg_id, m, final_state, final_ms,
                     error, 1, pdu, len, cb, arg);
}

/* A final state we reached (a cancel upstream), nothing for the
 * customer: the same job, and no receipt marker. */
int store_msg_final(struct store *st, const char *account, const char *msg_id,
                    const char *state, uint64_t final_ms, unsigned error,
                    store_done_cb cb, void *arg)
{
    return final_add(st, account, msg_id, NULL, state, final_ms, error, 0,
                     NULL, 0, cb, arg);
}

static const char *reply_str(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING
               ? r->element[i]->str : NULL;
}

static void complete_cancel(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        p->cb.cancel(-1, STORE_CANCEL_UNKNOWN, NULL, p->arg);
        return;
    }
    enum store_cancel_outcome o = (enum store_cancel_outcome)r->element[0]->integer;
    struct store_msg m;
    memset(&m, 0, sizeof m);
    m.state = "ENROUTE";
    m.connector = reply_str(r, 1);
    m.upstream_id = reply_str(r, 2);
    m.src_ton = (uint8_t)field_num(reply_str(r, 3));
    m.src_npi = (uint8_t)field_num(reply_str(r, 4));
    m.src = reply_str(r, 5);
    if (o == STORE_CANCEL_UPSTREAM && (!m.connector || !m.upstream_id))
        o = STORE_CANCEL_FINAL; /* sent, but we never learnt its id */
    p->cb.cancel(0, o, o == STORE_CANCEL_UPSTREAM ? &m : NULL, p->arg);
}

int store_msg_cancel(struct store *st, const char *account, const char *msg_id,
                     store_cancel_cb cb, void *arg)
{
    char qkey[KEY_LEN], mkey[KEY_LEN], ckey[KEY_LEN], qckey[KEY_LEN];
    char now[24], maxlen[16], fttl[16];
    snprintf(qkey, sizeof qkey, "%s:queue", st->cfg.prefix);
    msg_key(st, account, msg_id, mkey, sizeof mkey);
    snprintf(ckey, sizeof ckey, "%s:cdr", st->cfg.prefix);
    qc_key(st, account, qckey, sizeof qckey);
    snprintf(now, sizeof now, "%" PRIu64, clock_wall_ms());
    snprintf(maxlen, sizeof maxlen, "%u", st->cfg.cdr_maxlen);
    snprintf(fttl, sizeof fttl, "%u", st->cfg.final_ttl_s);
    const char *argv[] = {"EVAL", msg_cancel_script, "4", qkey, mkey, ckey,
                          qckey, now, maxlen, fttl};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_cancel, arg, 10, argv, NULL);
    if (!p)
        return -1;
    p->cb.cancel = cb;
    return 0;
}

int store_queue_entry(struct store *st, const char *entry_id,
                      store_entries_cb cb, void *arg)
{
    char qkey[KEY_LEN];
    snprintf(qkey, sizeof qkey, "%s:queue", st->cfg.prefix);
    const char *argv[] = {"XRANGE", qkey, entry_id, entry_id};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_range, arg, 4, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    return 0;
}

static void complete_replace(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_INTEGER)
        p->cb.done(-1, p->arg);
    else
        p->cb.done(r->integer == 1 ? 0 : 1, p->arg);
}

int store_msg_replace(struct store *st, const struct store_msg_info *mi,
                      const char *old_entry, const uint8_t *pdu, size_t len,
                      store_done_cb cb, void *arg)
{
    char qkey[KEY_LEN], mkey[KEY_LEN], ts[24];
    snprintf(qkey, sizeof qkey, "%s:queue", st->cfg.prefix);
    msg_key(st, mi->account, mi->msg_id, mkey, sizeof mkey);
    snprintf(ts, sizeof ts, "%" PRIu64, mi->ts_ms);
    char qckey[KEY_LEN];
    qc_key(st, mi->account, qckey, sizeof qckey);
    const char *argv[] = {"EVAL", msg_replace_script, "3", qkey, mkey, qckey,
                          old_entry, (const char *)pdu, mi->account,
                          mi->msg_id, ts};
    size_t lens[11];
    for (size_t i = 0; i < 11; i++)
        lens[i] = i == 7 ? len : strlen(argv[i]);
    return run(st, complete_replace, cb, arg, 11, argv, lens);
}

/* ---- admin and metrics ---------------------------------------------- */

static void store_metrics(struct store *st)
{
    struct metrics *m = metrics_default();
    st->m_latency = metrics_family(
        m, METRICS_HISTOGRAM, "smppbridge_redis_latency_seconds",
        "Redis commands on the command connection: sent to reply.", NULL);
    st->m_dead = metrics_family(m, METRICS_COUNTER, "smppbridge_dead_letters_total",
                                "Entries written to P:dead, by reason.", "reason");
    st->m_dead_cut = metrics_family(
        m, METRICS_COUNTER, "smppbridge_dead_letters_truncated_total",
        "Dead letters whose PDU was cut to [redis] dead_entry_max bytes.", NULL);
    st->m_dlr_full = metrics_family(
        m, METRICS_COUNTER, "smppbridge_receipt_stream_full_total",
        "Receipts and MO from upstream refused (ESME_RX_T_APPN, upstream "
        "sends them again) while the account had [redis] dlr_maxlen waiting.",
        "account");
    st->m_id_collisions = metrics_family(
        m, METRICS_COUNTER, "smppbridge_upstream_id_collisions_total",
        "Upstream message ids already mapped to another message when sent: "
        "the id is marked, and its receipts go to dead letters.", NULL);
}

/* KEYS[1] queue. {length, first entry id or "", Redis time in ms}. */
static const char queue_stats_script[] =
    "local n = redis.call('XLEN', KEYS[1]) "
    "local e = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1) "
    "local t = redis.call('TIME') "
    "local first = '' if #e > 0 then first = e[1][1] end "
    "return {n, first, t[1] * 1000 + math.floor(t[2] / 1000)}";

static void complete_queue_stats(struct store *st, redisReply *r,
                                 struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_INTEGER) {
        p->cb.qstats(-1, 0, 0, p->arg);
        return;
    }
    uint64_t depth = (uint64_t)r->element[0]->integer, age = 0;
    uint64_t now = (uint64_t)r->element[2]->integer;
    /* an entry id is "MS-SEQ": MS is when Redis added it */
    unsigned long long first = strtoull(r->element[1]->str, NULL, 10);
    if (r->element[1]->len && first && now > first)
        age = now - first;
    p->cb.qstats(0, depth, age, p->arg);
}

int store_queue_stats(struct store *st, store_queue_stats_cb cb, void *arg)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:queue", st->cfg.prefix);
    const char *argv[] = {"EVAL", queue_stats_script, "1", key};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_queue_stats, arg, 4, argv, NULL);
    if (!p)
        return -1;
    p->cb.qstats = cb;
    return 0;
}

static void complete_len(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_INTEGER)
        p->cb.count(-1, 0, p->arg);
    else
        p->cb.count(0, (unsigned)r->integer, p->arg);
}

int store_dlr_len(struct store *st, const char *account, store_count_cb cb,
                  void *arg)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:dlr:{%s}", st->cfg.prefix, account);
    const char *argv[] = {"XLEN", key};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_len,
                                 arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.count = cb;
    return 0;
}

/* KEYS[1] account; ARGV channel, message, then field/value pairs. Only
 * an existing account is changed: a set never creates one. */
static const char account_update_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
    "redis.call('HSET', KEYS[1], unpack(ARGV, 3)) "
    "redis.call('PUBLISH', ARGV[1], ARGV[2]) "
    "return 1";

int store_account_update(struct store *st, const char *id,
                         const char *const *names, const char *const *values,
                         size_t n, store_count_cb cb, void *arg)
{
    char key[KEY_LEN], chan[KEY_LEN], msg[64];
    const char *argv[6 + 2 * MAX_ARGS];
    if (n == 0 || n > MAX_ARGS)
        return -1;
    snprintf(key, sizeof key, "%s:acct:{%s}", st->cfg.prefix, id);
    snprintf(chan, sizeof chan, "%s:events", st->cfg.prefix);
    snprintf(msg, sizeof msg, "account %s", id);
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = account_update_script;
    argv[argc++] = "1";
    argv[argc++] = key;
    argv[argc++] = chan;
    argv[argc++] = msg;
    for (size_t i = 0; i < n; i++) {
        argv[argc++] = names[i];
        argv[argc++] = values[i];
    }
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms, complete_len,
                                 arg, argc, argv, NULL);
    if (!p)
        return -1;
    p->cb.count = cb;
    return 0;
}
