/*
 * store.c - the store's life and what is left of store.h once the message
 * record (store_msg.c), the queue (store_queue.c) and the receipts
 * (store_receipts.c) are taken out: the three connections and their
 * hooks, the instance number, the maxmemory-policy check, accounts,
 * inbound routes, throttle and quota buckets, leases, events, dead
 * letters and metrics. The connections themselves are redis_conn.c's.
 */
#include "common.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "redis_conn.h"
#include "store.h"
#include "store_int.h"
#include "store_keys.h"

#define TAG STORE_TAG
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

#define POLICY_RECHECK_MS 5000u

static void policy_ask(struct store *st);

static void store_metrics(struct store *st);
static void store_scripts(struct redis_conn *c);


/* ---- commands ------------------------------------------------------- */

static void on_op_reply(redisReply *r, void *ctx)
{
    struct store_op *op = ctx;
    if (op->complete)
        op->complete(op->st, r, op);
}

struct store_op *store_send(struct store *st, struct redis_conn *c,
                            unsigned timeout_ms, store_complete_fn complete,
                            void *arg, size_t extra, int argc,
                            const char **argv, const size_t *lens)
{
    struct store_op *op = redis_conn_send(c, timeout_ms, on_op_reply,
                                          sizeof *op + extra, argc, argv, lens);
    if (op) {
        op->st = st;
        op->complete = complete;
        op->arg = arg;
    }
    return op;
}

struct store_op *store_cmd(struct store *st, store_complete_fn complete,
                           void *arg, int argc, const char **argv,
                           const size_t *lens)
{
    return store_send(st, st->cmd, st->cfg.timeout_ms, complete, arg, 0, argc,
                      argv, lens);
}

struct store_op *store_eval_ex(struct store *st, enum store_script id,
                               store_complete_fn complete, void *arg,
                               size_t extra, unsigned nkeys, int argc,
                               const char **argv, const size_t *lens)
{
    struct store_op *op = redis_conn_eval(st->cmd, id, st->cfg.timeout_ms,
                                          on_op_reply, sizeof *op + extra,
                                          nkeys, argc, argv, lens);
    if (op) {
        op->st = st;
        op->complete = complete;
        op->arg = arg;
    }
    return op;
}

struct store_op *store_eval(struct store *st, enum store_script id,
                            store_complete_fn complete, void *arg,
                            unsigned nkeys, int argc, const char **argv,
                            const size_t *lens)
{
    return store_eval_ex(st, id, complete, arg, 0, nkeys, argc, argv, lens);
}

struct store_op *store_multi(struct store *st, store_complete_fn complete,
                             void *arg, const struct redis_cmd *cmds, int n)
{
    struct store_op *op = redis_conn_multi(st->cmd, st->cfg.timeout_ms,
                                           on_op_reply, sizeof *op, cmds, n);
    if (op) {
        op->st = st;
        op->complete = complete;
        op->arg = arg;
    }
    return op;
}

int store_run(struct store *st, store_complete_fn complete, store_done_cb cb,
              void *arg, int argc, const char **argv, const size_t *lens)
{
    struct store_op *p = store_cmd(st, complete, arg, argc, argv, lens);
    if (!p)
        return -1;
    p->cb.done = cb;
    return 0;
}

int store_run_script(struct store *st, enum store_script id,
                     store_complete_fn complete, store_done_cb cb, void *arg,
                     unsigned nkeys, int argc, const char **argv,
                     const size_t *lens)
{
    struct store_op *p = store_eval(st, id, complete, arg, nkeys, argc, argv,
                                    lens);
    if (!p)
        return -1;
    p->cb.done = cb;
    return 0;
}

/* ---- connections' hooks --------------------------------------------- */

/* An existing consumer group is the expected answer at every start; a
 * missing one (the queue was deleted or evicted) is made again. */
static int on_conn_error(const char *err, size_t len, void *owner)
{
    (void)len;
    if (strncmp(err, "NOGROUP", 7) == 0)
        store_queue_ensure_group(owner);
    return strncmp(err, "BUSYGROUP", 9) == 0;
}

static void on_cmd_latency(uint64_t us, void *owner)
{
    struct store *st = owner;
    metrics_observe(st->m_latency, (double)us / 1e6, NULL);
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
                                 struct store_op *p)
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
static void complete_policy(struct store *st, redisReply *r, struct store_op *p)
{
    (void)p;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_STRING) {
        policy_learned(st, r->element[1]->str, r->element[1]->len);
        return;
    }
    const char *info[] = {"INFO", "memory"};
    store_cmd(st, complete_policy_info, NULL, 2, info, NULL);
}

/* Asked on every new command connection, and again every
 * POLICY_RECHECK_MS while Redis evicts: an operator may have fixed it. */
static void policy_ask(struct store *st)
{
    const char *argv[] = {"CONFIG", "GET", "maxmemory-policy"};
    struct timeval tv = clock_tv_ms(POLICY_RECHECK_MS);
    store_cmd(st, complete_policy, NULL, 3, argv, NULL);
    evtimer_add(st->policy_ev, &tv);
}

static void on_policy_tick(evutil_socket_t fd, short what, void *arg)
{
    struct store *st = arg;
    (void)fd;
    (void)what;
    if (st->evicting[0] && redis_conn_up(st->cmd))
        policy_ask(st);
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
static void complete_instance(struct store *st, redisReply *r,
                              struct store_op *p)
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
    if (redis_conn_up(st->cmd) && st->instance_want >= 0)
        instance_ask(st);
}

/* "KIND ID" published on P:events. */
static void on_event_message(const char *text, size_t len, void *arg)
{
    struct store *st = arg;
    char msg[128];
    snprintf(msg, sizeof msg, "%.*s", (int)len, text);
    char *space = strchr(msg, ' ');
    if (!space || !st->event_cb)
        return;
    *space = 0;
    st->event_cb(msg, space + 1, st->event_arg);
}

/* The command connection's first commands (after AUTH, SELECT and the
 * scripts): the consumer group, the maxmemory-policy, the instance
 * number. The owner hears of every change. */
static void on_cmd_state(struct redis_conn *c, int up, void *owner)
{
    struct store *st = owner;
    if (up) {
        store_queue_ensure_group(st);
        policy_ask(st);
        /* a fresh connection may be to a new master that lost the
         * leases (failover): the number is confirmed before more ids */
        st->instance_asking = 0;
        if (st->instance_want >= 0) {
            st->instance_until_ms = 0;
            instance_ask(st);
        } else {
            const char *incr[] = {"INCR", st->keys.instances};
            store_send(st, c, st->cfg.timeout_ms, complete_instance, NULL, 0,
                       2, incr, NULL);
        }
    }
    if (st->state_cb)
        st->state_cb(up, st->state_arg);
}

/* A lost consumer connection took the outstanding read with it. */
static void on_consumer_state(struct redis_conn *c, int up, void *owner)
{
    struct store *st = owner;
    (void)c;
    if (!up)
        st->reading = 0;
}

static void on_pubsub_state(struct redis_conn *c, int up, void *owner)
{
    struct store *st = owner;
    if (!up)
        return;
    redis_conn_subscribe(c, st->keys.events, on_event_message, st);
}

static struct redis_conn *open_conn(struct store *st, const char *name,
                                    redis_state_fn on_state)
{
    int cmd = on_state == on_cmd_state;
    struct redis_conn_opts o = {
        .name = name,
        .cfg = &st->cfg,
        .stats = &st->conn_stats,
        .owner = st,
        .on_state = on_state,
        .on_error = on_conn_error,
        .on_latency = cmd ? on_cmd_latency : NULL,
        .announce = cmd,
        .n_scripts = cmd ? SCRIPT_COUNT : 0,
    };
    return redis_conn_new(st->base, &o);
}

/* The connections, each connecting at once; -1 when out of memory. */
static int open_conns(struct store *st)
{
    /* the scripts are registered before the first connection is up:
     * redis_conn_new only starts connecting */
    st->cmd = open_conn(st, "commands", on_cmd_state);
    if (st->cmd)
        store_scripts(st->cmd);
    st->consumer_conn = open_conn(st, "consumer", on_consumer_state);
    st->pubsub = open_conn(st, "pubsub", on_pubsub_state);
    return st->cmd && st->consumer_conn && st->pubsub ? 0 : -1;
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
    st->stats_out = &st->stats;
    store_keys_init(&st->keys, cfg->prefix);
    snprintf(st->consumer, sizeof st->consumer, "%s", consumer_name);
    store_metrics(st);
    st->instance_ev = event_new(base, -1, EV_PERSIST, on_instance_tick, st);
    st->instance_retry_ev = evtimer_new(base, on_instance_tick, st);
    st->policy_ev = evtimer_new(base, on_policy_tick, st);
    if (!st->instance_ev || !st->instance_retry_ev || !st->policy_ev ||
        open_conns(st) != 0) {
        store_free(st);
        return NULL;
    }
    if (cfg->n_sentinels > 0)
        log_event(LOG_INFO, TAG,
                  LOG_FIELDS("master_name", cfg->master_name, "sentinels",
                             LOG_NUM(cfg->n_sentinels)),
                  "Redis master %s found through %d sentinel(s); [redis] host "
                  "and port are not used",
                  cfg->master_name, cfg->n_sentinels);
    struct timeval renew = clock_tv_ms(INSTANCE_RENEW_MS);
    event_add(st->instance_ev, &renew);
    return st;
}

static void free_event(struct event *ev)
{
    if (ev)
        event_free(ev);
}

void store_free(struct store *st)
{
    if (!st)
        return;
    free_event(st->instance_ev);
    free_event(st->instance_retry_ev);
    free_event(st->policy_ev);
    /* pending commands are dropped without their callbacks: the modules
     * they belong to may be gone */
    redis_conn_free(st->cmd);
    redis_conn_free(st->consumer_conn);
    redis_conn_free(st->pubsub);
    store_msg_free_jobs(st);
    store_queue_free_jobs(st);
    free(st);
}

int store_up(const struct store *st)
{
    return redis_conn_up(st->cmd) && !st->evicting[0];
}

int store_connected(const struct store *st)
{
    return redis_conn_up(st->cmd);
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
    struct store_stats *s = st->stats_out;
    s->commands = st->conn_stats.commands;
    s->errors = st->conn_stats.errors;
    s->timeouts = st->conn_stats.timeouts;
    s->reconnects = st->conn_stats.reconnects;
    return s;
}

/* ---- replies -------------------------------------------------------- */

void store_complete_done(struct store *st, redisReply *r, struct store_op *p)
{
    (void)st;
    if (p->cb.done)
        p->cb.done(r ? 0 : -1, p->arg);
}

static void complete_account(struct store *st, redisReply *r,
                             struct store_op *p)
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

int store_account_get(struct store *st, const char *id, store_account_cb cb,
                      void *arg)
{
    char key[KEY_LEN];
    store_key_account(&st->keys, id, key);
    const char *argv[] = {"HGETALL", key};
    struct store_op *p = store_cmd(st, complete_account, arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.account = cb;
    snprintf(p->id, sizeof p->id, "%s", id);
    return 0;
}

static void complete_routes(struct store *st, redisReply *r, struct store_op *p)
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
    const char *argv[] = {"HGETALL", st->keys.numbers};
    struct store_op *p = store_cmd(st, complete_routes, arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.routes = cb;
    return 0;
}

int store_publish(struct store *st, const char *kind, const char *id)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s %s", kind, id);
    const char *argv[] = {"PUBLISH", st->keys.events, msg};
    return store_run(st, NULL, NULL, NULL, 3, argv, NULL);
}

static void complete_lease(struct store *st, redisReply *r, struct store_op *p)
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
    store_key_lease(&st->keys, name, key);
    snprintf(ttl, sizeof ttl, "%u", ttl_ms);
    const char *argv[] = {key, owner, ttl};
    struct store_op *p = store_eval(st, SCRIPT_LEASE, complete_lease, arg, 1,
                                    3, argv, NULL);
    if (!p)
        return -1;
    p->cb.lease = cb;
    return 0;
}

int store_lease_release(struct store *st, const char *name, const char *owner)
{
    char key[KEY_LEN];
    store_key_lease(&st->keys, name, key);
    const char *argv[] = {key, owner};
    return store_eval(st, SCRIPT_LEASE_RELEASE, NULL, NULL, 1, 2, argv, NULL)
               ? 0 : -1;
}

const char *store_consumer(const struct store *st)
{
    return st->consumer;
}

static void complete_grant(struct store *st, redisReply *r, struct store_op *p)
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
    store_key_bucket(&st->keys, key, bkey);
    snprintf(r, sizeof r, "%u", rate);
    snprintf(b, sizeof b, "%u", burst);
    snprintf(w, sizeof w, "%u", want);
    const char *argv[] = {bkey, r, b, w};
    struct store_op *p = store_eval(st, SCRIPT_BUCKET, complete_grant, arg, 1,
                                    4, argv, NULL);
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
    store_key_quota(&st->keys, account, day, key);
    snprintf(q, sizeof q, "%u", quota);
    snprintf(w, sizeof w, "%u", want);
    snprintf(e, sizeof e, "%" PRId64, expire_at);
    const char *argv[] = {key, q, w, e};
    struct store_op *p = store_eval(st, SCRIPT_QUOTA, complete_grant, arg, 1,
                                    4, argv, NULL);
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
    char maxlen[16], full[24];
    snprintf(maxlen, sizeof maxlen, "%u", st->cfg.dead_maxlen);
    snprintf(full, sizeof full, "%zu", len);
    metrics_add(st->m_dead, 1, METRICS_LABELS(reason));
    if (len > st->cfg.dead_entry_max) {
        len = st->cfg.dead_entry_max;
        metrics_add(st->m_dead_cut, 1, NULL);
    }
    const char *argv[] = {"XADD", st->keys.dead, "MAXLEN", "~", maxlen, "*",
                          "reason", reason, "p", (const char *)pdu, "len", full};
    size_t lens[12];
    for (size_t i = 0; i < 12; i++)
        lens[i] = i == 9 ? len : strlen(argv[i]);
    return store_run(st, store_complete_done, cb, arg, 12, argv, lens);
}

static void complete_ids(struct store *st, redisReply *r, struct store_op *p)
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
    const char *argv[] = {"SMEMBERS", st->keys.accounts};
    struct store_op *p = store_cmd(st, complete_ids, arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.ids = cb;
    return 0;
}

void store_complete_count(struct store *st, redisReply *r, struct store_op *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
        p->cb.count(-1, 0, p->arg);
        return;
    }
    p->cb.count(0, (unsigned)r->integer, p->arg);
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
    char key[KEY_LEN], msg[64];
    const char *argv[3 + 2 * MAX_ARGS];
    if (n == 0 || n > MAX_ARGS)
        return -1;
    store_key_account(&st->keys, id, key);
    snprintf(msg, sizeof msg, "account %s", id);
    int argc = 0;
    argv[argc++] = key;
    argv[argc++] = st->keys.events;
    argv[argc++] = msg;
    for (size_t i = 0; i < n; i++) {
        argv[argc++] = names[i];
        argv[argc++] = values[i];
    }
    struct store_op *p = store_eval(st, SCRIPT_ACCOUNT_UPDATE,
                                    store_complete_count,
                                    arg, 1, argc, argv, NULL);
    if (!p)
        return -1;
    p->cb.count = cb;
    return 0;
}

/* ---- scripts -------------------------------------------------------- */

static void register_own_scripts(struct redis_conn *c)
{
    redis_conn_script(c, SCRIPT_BUCKET, bucket_script);
    redis_conn_script(c, SCRIPT_QUOTA, quota_script);
    redis_conn_script(c, SCRIPT_LEASE, lease_script[0]);
    redis_conn_script(c, SCRIPT_LEASE_RELEASE, lease_script[1]);
    redis_conn_script(c, SCRIPT_ACCOUNT_UPDATE, account_update_script);
}

/* Every script of the store, on the command connection. */
static void store_scripts(struct redis_conn *c)
{
    store_msg_scripts(c);
    store_queue_scripts(c);
    store_receipts_scripts(c);
    register_own_scripts(c);
}

/* ==== the queue ==== */

#define MAX_TOUCH 128

/*
 * Adding a message to the queue within its account's caps, in one step:
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
 * here. Returns the entry id, or -1 over a cap (nothing written),
 * or -2 when the body it names is gone (its first entry was refused).
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
    "redis.call('HINCRBY', KEYS[3], 'n', 1) "
    "redis.call('HINCRBY', KEYS[3], 'b', cost + #body) "
    "redis.call('HSET', KEYS[2], 'entry', e, unpack(ARGV, 9)) "
    "redis.call('EXPIRE', KEYS[2], ARGV[7]) "
    "return e";

/* The shared bodies of entries just read: KEYS the body keys; for each,
 * its bytes, or "" when it is gone. */
static const char bodies_script[] =
    "local out = {} "
    "for i = 1, #KEYS do "
    "out[i] = redis.call('HGET', KEYS[i], 'd') or '' end "
    "return out";

/* KEYS[1] queue. {length, first entry id or "", Redis time in ms}. */
static const char queue_stats_script[] =
    "local n = redis.call('XLEN', KEYS[1]) "
    "local e = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1) "
    "local t = redis.call('TIME') "
    "local first = '' if #e > 0 then first = e[1][1] end "
    "return {n, first, t[1] * 1000 + math.floor(t[2] / 1000)}";

/* The consumer group of the queue (MKSTREAM: the stream too). */
void store_queue_ensure_group(struct store *st)
{
    const char *grp[] = {"XGROUP", "CREATE", st->keys.queue, "bridge", "0",
                         "MKSTREAM"};
    store_cmd(st, NULL, NULL, 6, grp, NULL);
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
        case 'r': *body = v; break;
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

static void complete_bodies(struct store *st, redisReply *r, struct store_op *p)
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
static int bodies_fetch(struct store *st, struct store_op *p,
                        const struct store_entry *es,
                        const redisReply *const *bodies, size_t n)
{
    struct body_job *j = calloc(1, sizeof *j);
    const char **argv = calloc(n ? n : 1, sizeof *argv);
    size_t nkeys = 0;
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
            argv[nkeys++] = j->held[i]->body_key;
    if (!store_eval(st, SCRIPT_BODIES, complete_bodies, j, (unsigned)nkeys,
                    (int)nkeys, argv, NULL))
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
                            struct store_op *p)
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
static void deliver_read(struct store *st, redisReply *r, struct store_op *p)
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

static void complete_read(struct store *st, redisReply *r, struct store_op *p)
{
    st->reading = 0;
    deliver_read(st, r, p);
}

/* Our own history is read on the command connection: no blocking read
 * is involved, so st->reading is not touched. */
static void complete_read_own(struct store *st, redisReply *r,
                              struct store_op *p)
{
    deliver_read(st, r, p);
}

/* XAUTOCLAIM: [next-start, [entries], (deleted ids)]. */
static void complete_claim(struct store *st, redisReply *r, struct store_op *p)
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

void store_complete_range(struct store *st, redisReply *r, struct store_op *p)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.entries(-1, NULL, 0, p->arg);
        return;
    }
    deliver_entries(st, r, p);
}

/* The entry and its record are in Redis (the script's answer is the
 * entry id): the customer may be told. -1 or -2: over the account's caps
 * (or the shared body is gone): status 1, nothing was written. */
static void complete_queue_add(struct store *st, redisReply *r,
                               struct store_op *p)
{
    int status = -1;
    if (r && r->type == REDIS_REPLY_STRING)
        status = 0;
    else if (r && r->type == REDIS_REPLY_INTEGER && r->integer < 0)
        status = 1;
    (void)st;
    if (p->cb.done)
        p->cb.done(status, p->arg);
}

int store_queue_add(struct store *st, const struct store_msg_info *mi,
                    const uint8_t *pdu, size_t len, store_done_cb cb,
                    void *arg)
{
    char mkey[KEY_LEN], ckey[KEY_LEN], bkey[KEY_LEN] = "";
    char ttl[16], maxn[24], maxb[24];
    struct store_msg_new rec;
    const char *argv[12 + STORE_MSG_NEW_ARGS];
    size_t lens[ARRAY_LEN(argv)];
    int shared = mi->body_id != NULL && mi->head_len < len;
    store_key_msg(&st->keys, mi->account, mi->msg_id, mkey);
    store_key_queue_counts(&st->keys, mi->account, ckey);
    if (shared)
        store_key_body(&st->keys, mi->account, mi->body_id, bkey);
    snprintf(ttl, sizeof ttl, "%u", st->cfg.id_ttl_s);
    snprintf(maxn, sizeof maxn, "%" PRIu64,
             mi->max_messages ? (uint64_t)mi->max_messages : UINT64_C(1) << 50);
    snprintf(maxb, sizeof maxb, "%" PRIu64,
             mi->max_bytes ? mi->max_bytes : UINT64_C(1) << 50);
    /* the record's own fields go last: from ARGV[9] */
    int argc = 12 + store_msg_new_fields(mi, &rec, argv + 12);
    const char *head[] = {
        st->keys.queue, mkey, ckey, bkey, mi->account, mi->msg_id, rec.ts,
        (const char *)pdu, maxn, maxb, ttl,
        shared && mi->body_create ? (const char *)pdu + mi->head_len : ""};
    memcpy(argv, head, sizeof head);
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    lens[7] = shared ? mi->head_len : len;
    lens[11] = shared && mi->body_create ? len - mi->head_len : 0;
    struct store_op *p = store_eval(st, SCRIPT_QUEUE_ADD, complete_queue_add,
                                    arg, 4, argc, argv, lens);
    if (!p)
        return -1;
    p->cb.done = cb;
    return 0;
}

int store_queue_read(struct store *st, unsigned count, unsigned block_ms,
                     store_entries_cb cb, void *arg)
{
    char cnt[16], blk[16];
    if (st->reading)
        return -1;
    snprintf(cnt, sizeof cnt, "%u", count);
    snprintf(blk, sizeof blk, "%u", block_ms);
    const char *argv[] = {"XREADGROUP", "GROUP", "bridge", st->consumer,
                          "COUNT", cnt, "BLOCK", blk, "STREAMS",
                          st->keys.queue, ">"};
    struct store_op *p = store_send(st, st->consumer_conn,
                                    block_ms + st->cfg.timeout_ms,
                                    complete_read, arg, 0, 11, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    st->reading = 1;
    return 0;
}

int store_queue_read_own(struct store *st, unsigned count, const char *after,
                         store_entries_cb cb, void *arg)
{
    char cnt[16];
    snprintf(cnt, sizeof cnt, "%u", count);
    const char *argv[] = {"XREADGROUP", "GROUP", "bridge", st->consumer,
                          "COUNT", cnt, "STREAMS", st->keys.queue, after};
    struct store_op *p = store_cmd(st, complete_read_own, arg, 9, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    return 0;
}

int store_queue_touch(struct store *st, const char *const *ids, size_t n)
{
    const char *argv[6 + MAX_TOUCH];
    if (n == 0 || n > MAX_TOUCH)
        return -1;
    argv[0] = "XCLAIM";
    argv[1] = st->keys.queue;
    argv[2] = "bridge";
    argv[3] = st->consumer;
    argv[4] = "0";
    for (size_t i = 0; i < n; i++)
        argv[5 + i] = ids[i];
    argv[5 + n] = "JUSTID";
    return store_cmd(st, NULL, NULL, (int)n + 6,
                    argv, NULL) ? 0 : -1;
}

int store_queue_claim(struct store *st, unsigned idle_ms, unsigned count,
                      store_entries_cb cb, void *arg)
{
    char idle[16], cnt[16];
    snprintf(idle, sizeof idle, "%u", idle_ms);
    snprintf(cnt, sizeof cnt, "%u", count);
    if (!st->claim_cursor[0])
        snprintf(st->claim_cursor, sizeof st->claim_cursor, "0-0");
    const char *argv[] = {"XAUTOCLAIM", st->keys.queue, "bridge",
                          st->consumer, idle,
                          st->claim_cursor, "COUNT", cnt};
    struct store_op *p = store_cmd(st, complete_claim, arg, 8, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    return 0;
}

int store_queue_entry(struct store *st, const char *entry_id,
                      store_entries_cb cb, void *arg)
{
    const char *argv[] = {"XRANGE", st->keys.queue, entry_id, entry_id};
    struct store_op *p = store_cmd(st, store_complete_range,
                                   arg, 4, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    return 0;
}

static void complete_queue_stats(struct store *st, redisReply *r,
                                 struct store_op *p)
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
    const char *argv[] = {st->keys.queue};
    struct store_op *p = store_eval(st, SCRIPT_QUEUE_STATS,
                                    complete_queue_stats, arg, 1, 1, argv,
                                    NULL);
    if (!p)
        return -1;
    p->cb.qstats = cb;
    return 0;
}

void store_queue_free_jobs(struct store *st)
{
    while (st->body_jobs)
        body_job_free(st->body_jobs);
}

void store_queue_scripts(struct redis_conn *c)
{
    redis_conn_script(c, SCRIPT_QUEUE_ADD, queue_add_script);
    redis_conn_script(c, SCRIPT_BODIES, bodies_script);
    redis_conn_script(c, SCRIPT_QUEUE_STATS, queue_stats_script);
}

/* ==== receipts ==== */

#define MAX_DEL 128

/* What an id map key holds once two messages were given its id. */
#define IDMAP_COLLISION "!collision"

/* MGET of the candidate keys: every one that is mapped. */
static void complete_idmap(struct store *st, redisReply *r, struct store_op *p)
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
        n++;
    }
    p->cb.idmap(0, n ? found : NULL, n, p->arg);
}

int store_idmap_add(struct store *st, const char *connector,
                    const char *upstream_id, const struct store_idmap *m,
                    unsigned ttl_s)
{
    char ukey[KEY_LEN], val[128], ttl[16];
    store_key_idmap(&st->keys, connector, upstream_id, ukey);
    store_idmap_value(m, val, sizeof val);
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    const char *argv[] = {"SET", ukey, val, "EX", ttl};
    return store_run(st, store_complete_done, NULL, NULL, 5, argv, NULL);
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
static void idmap_collision(struct store *st, const struct store_op *p,
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
    store_cmd(st, NULL, NULL, 5, set, NULL);
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
        store_key_idmap(&st->keys, connector, ids[i], keys[i]);
        argv[i + 1] = keys[i];
    }
    struct store_op *p = store_cmd(st, complete_idmap,
                                   arg, (int)n + 1, argv, NULL);
    if (!p)
        return -1;
    p->cb.idmap = cb;
    return 0;
}

/* ---- the bound on each account's receipt stream ------------------------
 * Receipts and MO wait in P:dlr:{ID} while the customer is away, up to
 * [relay] ttl. Each write also measures the stream (XLEN in the same
 * transaction); at dlr_maxlen the account is remembered as full, and
 * upstream's deliver_sm for it are refused (STORE_FULL: the relay answers
 * ESME_RX_T_APPN, upstream keeps them and sends them again) until
 * DLR_FULL_RECHECK_MS later, when one is let through to measure again.
 * The bound is soft by the writes already on their way. */

int store_dlr_full(struct store *st, const char *account)
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
void store_dlr_measured(struct store *st, const char *account,
                              const redisReply *e)
{
    if (e && e->elements > 0 &&
        e->element[e->elements - 1]->type == REDIS_REPLY_INTEGER)
        dlr_stream_measured(st, account, e->element[e->elements - 1]->integer);
}

/* A deliver_sm refused for a full stream, counted by account. */
void store_dlr_refused(struct store *st, const char *account)
{
    metrics_add(st->m_dlr_full, 1, METRICS_LABELS(account));
}

/* store_dlr_add's transaction: XADD, XLEN; or, refused, XLEN alone. */
static void complete_dlr_add(struct store *st, redisReply *r,
                             struct store_op *p)
{
    if (p->dlr_refused) {
        if (r && r->type == REDIS_REPLY_INTEGER)
            dlr_stream_measured(st, p->id, r->integer);
        p->cb.done(STORE_FULL, p->arg);
        return;
    }
    redisReply *e = redis_conn_exec_reply(st->cmd, r);
    store_dlr_measured(st, p->id, e);
    p->cb.done(e ? 0 : -1, p->arg);
}

int store_dlr_add(struct store *st, const char *account, const uint8_t *pdu,
                  size_t len, int from_upstream, store_done_cb cb, void *arg)
{
    char key[KEY_LEN];
    struct store_op *p;
    store_key_receipts(&st->keys, account, key);
    const char *xlen[] = {"XLEN", key};
    if (from_upstream && store_dlr_full(st, account)) {
        /* refused; the length is asked again so that the mark is lifted
         * as soon as the customer has read enough */
        store_dlr_refused(st, account);
        p = store_cmd(st, complete_dlr_add, arg,
                     2, xlen, NULL);
        if (p)
            p->dlr_refused = 1;
    } else {
        const char *xadd[] = {"XADD", key, "*", "p", (const char *)pdu};
        size_t lens[] = {4, strlen(key), 1, 1, len};
        const struct redis_cmd cmds[] = {{5, xadd, lens}, {2, xlen, NULL}};
        p = store_multi(st, complete_dlr_add, arg, cmds, 2);
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
    store_key_receipts(&st->keys, account, key);
    /* "(" makes the start exclusive (Redis 6.2+) */
    if (strcmp(after, "-") == 0)
        snprintf(start, sizeof start, "-");
    else
        snprintf(start, sizeof start, "(%s", after);
    snprintf(cnt, sizeof cnt, "%u", count);
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", cnt};
    struct store_op *p = store_cmd(st, store_complete_range,
                                   arg, 6, argv, NULL);
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
    store_key_receipts(&st->keys, account, key);
    argv[0] = "XDEL";
    argv[1] = key;
    for (size_t i = 0; i < n; i++)
        argv[2 + i] = ids[i];
    return store_run(st, store_complete_done, cb, arg, (int)n + 2, argv, NULL);
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

int store_dlr_expire(struct store *st, const char *account, unsigned ttl_ms,
                     unsigned max, store_count_cb cb, void *arg)
{
    char key[KEY_LEN], ttl[16], cnt[16], dmax[16], dcut[16];
    if (max == 0 || max > MAX_DEL)
        return -1;
    snprintf(dmax, sizeof dmax, "%u", st->cfg.dead_maxlen);
    snprintf(dcut, sizeof dcut, "%u", st->cfg.dead_entry_max);
    store_key_receipts(&st->keys, account, key);
    snprintf(ttl, sizeof ttl, "%u", ttl_ms);
    snprintf(cnt, sizeof cnt, "%u", max);
    const char *argv[] = {key, st->keys.dead, ttl, cnt, account, dmax, dcut};
    struct store_op *p = store_eval(st, SCRIPT_DLR_EXPIRE,
                                    store_complete_count, arg, 2, 7, argv,
                                    NULL);
    if (!p)
        return -1;
    p->cb.count = cb;
    return 0;
}

int store_dlr_len(struct store *st, const char *account, store_count_cb cb,
                  void *arg)
{
    char key[KEY_LEN];
    store_key_receipts(&st->keys, account, key);
    const char *argv[] = {"XLEN", key};
    struct store_op *p = store_cmd(st, store_complete_count,
                                   arg, 2, argv, NULL);
    if (!p)
        return -1;
    p->cb.count = cb;
    return 0;
}

int store_receipt_add(struct store *st, const char *account,
                      const char *msg_id, const char *final_state,
                      uint64_t final_ms, unsigned error, const uint8_t *pdu,
                      size_t len, store_done_cb cb, void *arg)
{
    if (!final_state) /* not final: only the customer's copy */
        return pdu ? store_dlr_add(st, account, pdu, len, 1, cb, arg) : -1;
    return store_msg_final_add(st, account, msg_id, final_state, final_ms,
                               error, 1, pdu, len, cb, arg);
}

size_t store_idmap_value(const struct store_idmap *m, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s\t%s\t%" PRIu64 "\t%u", m->account,
                     m->msg_id, m->ts_ms, m->registered_delivery);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void store_idmap_sent(struct store *st, const struct store_op *p,
                      const redisReply *old)
{
    if (!idmap_names(old->str, old->len, p->id, p->msg_id))
        idmap_collision(st, p, old);
}

void store_receipts_scripts(struct redis_conn *c)
{
    redis_conn_script(c, SCRIPT_DLR_EXPIRE, expire_script);
}
