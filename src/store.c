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
static const char lease_script[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == false or v == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0";

/* KEYS[1] lease; ARGV owner. Deleted when it is still ours. */
static const char lease_release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) end return 0";

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

/* The context redis_conn gave back for a command just sent (NULL: not
 * sent), filled in. */
static struct store_op *op_fill(struct store_op *op, struct store *st,
                                store_complete_fn complete, union store_cb cb,
                                void *arg)
{
    if (op) {
        op->st = st;
        op->complete = complete;
        op->cb = cb;
        op->arg = arg;
    }
    return op;
}

struct store_op *store_send(struct store *st, struct redis_conn *c,
                            unsigned timeout_ms, store_complete_fn complete,
                            union store_cb cb, void *arg, size_t extra,
                            int argc, const char **argv, const size_t *lens)
{
    return op_fill(redis_conn_send(c, timeout_ms, on_op_reply,
                                   sizeof(struct store_op) + extra, argc,
                                   argv, lens),
                   st, complete, cb, arg);
}

struct store_op *store_cmd(struct store *st, store_complete_fn complete,
                           union store_cb cb, void *arg, int argc,
                           const char **argv, const size_t *lens)
{
    return store_send(st, st->cmd, st->cfg.timeout_ms, complete, cb, arg, 0,
                      argc, argv, lens);
}

struct store_op *store_eval_ex(struct store *st, enum store_script id,
                               store_complete_fn complete, union store_cb cb,
                               void *arg, size_t extra, unsigned nkeys,
                               int argc, const char **argv,
                               const size_t *lens)
{
    return op_fill(redis_conn_eval(st->cmd, id, st->cfg.timeout_ms,
                                   on_op_reply,
                                   sizeof(struct store_op) + extra, nkeys,
                                   argc, argv, lens),
                   st, complete, cb, arg);
}

struct store_op *store_eval(struct store *st, enum store_script id,
                            store_complete_fn complete, union store_cb cb,
                            void *arg, unsigned nkeys, int argc,
                            const char **argv, const size_t *lens)
{
    return store_eval_ex(st, id, complete, cb, arg, 0, nkeys, argc, argv,
                         lens);
}

struct store_op *store_multi_ex(struct store *st, store_complete_fn complete,
                                union store_cb cb, void *arg, size_t extra,
                                const struct redis_cmd *cmds, int n)
{
    return op_fill(redis_conn_multi(st->cmd, st->cfg.timeout_ms, on_op_reply,
                                    sizeof(struct store_op) + extra, cmds, n),
                   st, complete, cb, arg);
}

struct store_op *store_multi(struct store *st, store_complete_fn complete,
                             union store_cb cb, void *arg,
                             const struct redis_cmd *cmds, int n)
{
    return store_multi_ex(st, complete, cb, arg, 0, cmds, n);
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

/* store_unready_reason's text, after either fact changed. */
static void unready_update(struct store *st)
{
    st->unready[0] = 0;
    if (st->too_old[0])
        snprintf(st->unready, sizeof st->unready,
                 "Redis %s is too old: 7.0 or later is required", st->too_old);
    else if (st->evicting[0])
        snprintf(st->unready, sizeof st->unready,
                 "maxmemory-policy %s evicts keys; noeviction is required",
                 st->evicting);
}

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
    unready_update(st);
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
    store_cmd(st, complete_policy_info, STORE_NO_CB, NULL, 2, info, NULL);
}

/* Asked on every new command connection, and again every
 * POLICY_RECHECK_MS while Redis evicts: an operator may have fixed it. */
static void policy_ask(struct store *st)
{
    const char *argv[] = {"CONFIG", "GET", "maxmemory-policy"};
    struct timeval tv = clock_tv_ms(POLICY_RECHECK_MS);
    store_cmd(st, complete_policy, STORE_NO_CB, NULL, 3, argv, NULL);
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

/* ---- Redis's version ----------------------------------------------------
 * A sent message's id map is written with SET NX GET, which Redis
 * accepts from 7.0: an older Redis would refuse every one of them, so
 * the bridge is not ready on it, and says so. */
#define REDIS_MAJOR_MIN 7

static void complete_version(struct store *st, redisReply *r,
                             struct store_op *p)
{
    (void)p;
    const char *at = r && r->type == REDIS_REPLY_STRING
                         ? strstr(r->str, "redis_version:") : NULL;
    if (!at)
        return; /* not known: nothing assumed */
    at += strlen("redis_version:");
    size_t len = strcspn(at, "\r\n");
    if (atoi(at) >= REDIS_MAJOR_MIN) {
        st->too_old[0] = 0;
        unready_update(st);
        return;
    }
    snprintf(st->too_old, sizeof st->too_old, "%.*s",
             (int)(len < 30 ? len : 30), at);
    unready_update(st);
    log_event(LOG_ERROR, TAG,
              LOG_FIELDS("redis_version", st->too_old, "state", "not ready"),
              "Redis %s is too old: 7.0 or later is required; not ready",
              st->too_old);
}

static void version_ask(struct store *st)
{
    const char *argv[] = {"INFO", "server"};
    store_cmd(st, complete_version, STORE_NO_CB, NULL, 2, argv, NULL);
}

const char *store_unready_reason(const struct store *st)
{
    return st->unready[0] ? st->unready : NULL;
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
        version_ask(st);
        /* a fresh connection may be to a new master that lost the
         * leases (failover): the number is confirmed before more ids */
        st->instance_asking = 0;
        if (st->instance_want >= 0) {
            st->instance_until_ms = 0;
            instance_ask(st);
        } else {
            const char *incr[] = {"INCR", st->keys.instances};
            store_send(st, c, st->cfg.timeout_ms, complete_instance,
                       STORE_NO_CB, NULL, 0, 2, incr, NULL);
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
        .group_commit = cmd,
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

void store_free(struct store *st)
{
    if (!st)
        return;
    struct event *timers[] = {st->instance_ev, st->instance_retry_ev,
                              st->policy_ev};
    for (size_t i = 0; i < ARRAY_LEN(timers); i++)
        if (timers[i]) /* store_new may have failed half way */
            event_free(timers[i]);
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
    return redis_conn_up(st->cmd) && !st->evicting[0] && !st->too_old[0];
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

/* ---- replies and the operations of store.h left here ----------------- */

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
    struct store_op *p = store_cmd(st, complete_account, STORE_CB(account, cb),
                                   arg, 2, argv, NULL);
    if (!p)
        return -1;
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
    return store_cmd(st, complete_routes, STORE_CB(routes, cb), arg, 2, argv,
                     NULL) ? 0 : -1;
}

int store_publish(struct store *st, const char *kind, const char *id)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s %s", kind, id);
    const char *argv[] = {"PUBLISH", st->keys.events, msg};
    return store_cmd(st, NULL, STORE_NO_CB, NULL, 3, argv, NULL) ? 0 : -1;
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
    return store_eval(st, SCRIPT_LEASE, complete_lease, STORE_CB(lease, cb),
                      arg, 1, 3, argv, NULL) ? 0 : -1;
}

int store_lease_release(struct store *st, const char *name, const char *owner)
{
    char key[KEY_LEN];
    store_key_lease(&st->keys, name, key);
    const char *argv[] = {key, owner};
    return store_eval(st, SCRIPT_LEASE_RELEASE, NULL, STORE_NO_CB, NULL, 1, 2,
                      argv, NULL) ? 0 : -1;
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
    return store_eval(st, SCRIPT_BUCKET, complete_grant, STORE_CB(grant, cb),
                      arg, 1, 4, argv, NULL) ? 0 : -1;
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
    return store_eval(st, SCRIPT_QUOTA, complete_grant, STORE_CB(grant, cb),
                      arg, 1, 4, argv, NULL) ? 0 : -1;
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
    return store_cmd(st, store_complete_done, STORE_CB(done, cb), arg, 12, argv,
                     lens) ? 0 : -1;
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
    return store_cmd(st, complete_ids, STORE_CB(ids, cb), arg, 2, argv,
                     NULL) ? 0 : -1;
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
    return store_eval(st, SCRIPT_ACCOUNT_UPDATE, store_complete_count,
                      STORE_CB(count, cb), arg, 1, argc, argv, NULL) ? 0 : -1;
}

/* ---- scripts -------------------------------------------------------- */

static const struct store_script_def own_scripts[] = {
    {SCRIPT_BUCKET, bucket_script},
    {SCRIPT_QUOTA, quota_script},
    {SCRIPT_LEASE, lease_script},
    {SCRIPT_LEASE_RELEASE, lease_release_script},
    {SCRIPT_ACCOUNT_UPDATE, account_update_script},
    STORE_SCRIPTS_END,
};

/* Every script of the store, on the command connection. */
static void store_scripts(struct redis_conn *c)
{
    const struct store_script_def *const tables[] = {
        store_msg_scripts, store_queue_scripts, store_receipts_scripts,
        own_scripts,
    };
    for (size_t i = 0; i < ARRAY_LEN(tables); i++)
        for (const struct store_script_def *d = tables[i]; d->lua; d++)
            redis_conn_script(c, d->id, d->lua);
}
