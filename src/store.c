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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "store.h"

#define TAG "redis"
#define RECONNECT_MIN_MS 100u
#define RECONNECT_MAX_MS 2000u
#define CHECK_INTERVAL_MS 50u
#define MAX_ARGS 16
#define KEY_LEN 256
#define MAX_TOUCH 128
#define MAX_DEL 128

/*
 * Finishing a queue entry after upstream answered: map the upstream id to
 * ours (when given), acknowledge and delete the entry - one command, one
 * round trip, applied whole. KEYS[1] queue, KEYS[2] id map key or "";
 * ARGV[1] entry id, ARGV[2] map value, ARGV[3] TTL seconds.
 */
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

static const char finish_script[] =
    "if KEYS[2] ~= '' then "
    "redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end "
    "redis.call('XACK', KEYS[1], 'bridge', ARGV[1]) "
    "return redis.call('XDEL', KEYS[1], ARGV[1])";

enum conn_kind {
    CONN_CMD = 0,
    CONN_CONSUMER,
    CONN_PUBSUB,
    CONN_COUNT,
};

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
        store_idmap_cb idmap;
    } cb;
    void *arg;
    int finished;          /* user callback already called */
    char id[16];           /* the account asked for (HGETALL has no id) */
    struct pending *prev, *next;
};

struct store_conn {
    struct store *st;
    enum conn_kind kind;
    redisAsyncContext *ac;
    int up;
    unsigned backoff_ms;
    struct event *retry_ev;
    struct pending *oldest, *newest;
};

struct store {
    struct event_base *base;
    struct conf_redis cfg;
    char consumer[256];
    struct store_conn conns[CONN_COUNT];
    struct event *check_ev;
    int instance;
    int reading;            /* a queue read is outstanding */
    int closing;            /* store_free: callbacks are not called */
    store_state_cb state_cb;
    void *state_arg;
    store_event_cb event_cb;
    void *event_arg;
    struct store_stats stats;
};

static void conn_connect(struct store_conn *c);
static void ensure_group(struct store *st);

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
        log_warn(TAG, "command failed: %.*s", (int)r->len, r->str);
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
    pending_finish(st, p, reply);
    free(p);
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
    p->complete = complete;
    p->arg = arg;
    if (redisAsyncCommandArgv(c->ac, on_reply, p, argc, argv, lens) != REDIS_OK) {
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
    log_warn(TAG, "no reply within %u ms: reconnecting", st->cfg.timeout_ms);
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
    c->ac = NULL;
    c->up = 0;
    c->oldest = c->newest = NULL; /* hiredis fails them all with NULL */
    if (c->kind == CONN_CONSUMER)
        c->st->reading = 0;
    log_warn(TAG, "connection %d to %s:%u lost", (int)c->kind, c->st->cfg.host,
             c->st->cfg.port);
    if (c->kind == CONN_CMD && c->st->state_cb)
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

static void complete_instance(struct store *st, redisReply *r, struct pending *p)
{
    (void)p;
    if (r && r->type == REDIS_REPLY_INTEGER)
        st->instance = (int)(r->integer % 1024);
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

/* First commands on a fresh connection: AUTH, SELECT, and per kind the
 * consumer group, the instance number or the subscription. */
static void conn_setup(struct store_conn *c)
{
    struct store *st = c->st;
    char db[16], key[KEY_LEN];
    const char *argv[8];
    if (st->cfg.password[0]) {
        argv[0] = "AUTH";
        argv[1] = st->cfg.password;
        send_cmd(st, c->kind, st->cfg.timeout_ms, NULL, NULL, 2, argv, NULL);
    }
    snprintf(db, sizeof db, "%u", st->cfg.db);
    argv[0] = "SELECT";
    argv[1] = db;
    send_cmd(st, c->kind, st->cfg.timeout_ms, NULL, NULL, 2, argv, NULL);
    if (c->kind == CONN_CMD) {
        ensure_group(st);
        if (st->instance < 0) {
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

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct store_conn *c = ac->data;
    if (!c || c->ac != ac)
        return;
    if (status != REDIS_OK) {
        c->ac = NULL; /* hiredis frees it after this callback */
        schedule_reconnect(c);
        return;
    }
    c->up = 1;
    c->backoff_ms = 0;
    /* a half-open connection (a pub/sub one waits for ever) is noticed */
    redisEnableKeepAlive((redisContext *)&c->ac->c);
    conn_setup(c);
    if (c->kind == CONN_CMD) {
        log_info(TAG, "connected to %s:%u", c->st->cfg.host, c->st->cfg.port);
        if (c->st->state_cb)
            c->st->state_cb(1, c->st->state_arg);
    }
}

static void conn_connect(struct store_conn *c)
{
    struct store *st = c->st;
    redisAsyncContext *ac = redisAsyncConnect(st->cfg.host, (int)st->cfg.port);
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
    snprintf(st->consumer, sizeof st->consumer, "%s", consumer_name);
    for (int k = 0; k < CONN_COUNT; k++) {
        struct store_conn *c = &st->conns[k];
        c->st = st;
        c->kind = (enum conn_kind)k;
        c->retry_ev = evtimer_new(base, on_retry, c);
        conn_connect(c);
    }
    struct timeval tv = {0, CHECK_INTERVAL_MS * 1000};
    st->check_ev = event_new(base, -1, EV_PERSIST, on_check, st);
    event_add(st->check_ev, &tv);
    return st;
}

void store_free(struct store *st)
{
    if (!st)
        return;
    st->closing = 1;
    event_free(st->check_ev);
    for (int k = 0; k < CONN_COUNT; k++) {
        struct store_conn *c = &st->conns[k];
        redisAsyncContext *ac = c->ac;
        c->ac = NULL;
        c->up = 0;
        if (ac)
            redisAsyncFree(ac); /* fails what is pending */
        event_free(c->retry_ev);
    }
    free(st);
}

int store_up(const struct store *st)
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
        log_warn(TAG, "account %s unreadable: %s", p->id, err);
        p->cb.account(-1, NULL, p->arg);
        return;
    }
    snprintf(a.id, sizeof a.id, "%s", p->id);
    p->cb.account(0, &a, p->arg);
}

/* One stream entry [id, [field, value, ...]] into <e>; -1 if it is not
 * one of ours (or was deleted: nil). */
static int parse_entry(const redisReply *r, struct store_entry *e)
{
    memset(e, 0, sizeof *e);
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
        default: break;
        }
    }
    return e->pdu ? 0 : -1;
}

/* Call <p>'s entries callback with the entries in array <list>. */
static void deliver_entries(const redisReply *list, struct pending *p)
{
    size_t n = 0, cap = list ? list->elements : 0;
    struct store_entry *es = cap ? calloc(cap, sizeof *es) : NULL;
    for (size_t i = 0; es && i < cap; i++)
        if (parse_entry(list->element[i], &es[n]) == 0)
            n++;
    p->cb.entries(cap && !es ? -1 : 0, es, n, p->arg);
    free(es);
}

/* XREADGROUP: nil on timeout, else [[stream, [entries]]]. */
static void deliver_read(redisReply *r, struct pending *p)
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
    deliver_entries(r->element[0]->element[1], p);
}

static void complete_read(struct store *st, redisReply *r, struct pending *p)
{
    st->reading = 0;
    deliver_read(r, p);
}

/* Our own history is read on the command connection: no blocking read
 * is involved, so st->reading is not touched. */
static void complete_read_own(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    deliver_read(r, p);
}

/* XAUTOCLAIM: [next-start, [entries], (deleted ids)]. */
static void complete_claim(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        p->cb.entries(r ? 0 : -1, NULL, 0, p->arg);
        return;
    }
    deliver_entries(r->element[1], p);
}

static void complete_range(struct store *st, redisReply *r, struct pending *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.entries(-1, NULL, 0, p->arg);
        return;
    }
    deliver_entries(r, p);
}

/* MGET of the candidate keys: every one that is mapped. */
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

int store_queue_add(struct store *st, const char *account, const char *msg_id,
                    uint64_t ts_ms, const uint8_t *pdu, size_t len,
                    store_done_cb cb, void *arg)
{
    char key[KEY_LEN], ts[24];
    snprintf(key, sizeof key, "%s:queue", st->cfg.prefix);
    snprintf(ts, sizeof ts, "%" PRIu64, ts_ms);
    const char *argv[] = {"XADD", key, "*", "a", account, "i", msg_id,
                          "t", ts, "p", (const char *)pdu};
    size_t lens[] = {4, strlen(key), 1, 1, strlen(account), 1, strlen(msg_id),
                     1, strlen(ts), 1, len};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_done, arg, 11, argv, lens);
    if (!p)
        return -1;
    p->cb.done = cb;
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
    const char *argv[] = {"XAUTOCLAIM", key, "bridge", st->consumer, idle,
                          "0-0", "COUNT", cnt};
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_claim, arg, 8, argv, NULL);
    if (!p)
        return -1;
    p->cb.entries = cb;
    return 0;
}

/* The finish script; <ukey> "" when there is no id map to write. */
static int run_finish(struct store *st, const char *entry_id, const char *ukey,
                      const char *val, const char *ttl, store_done_cb cb,
                      void *arg)
{
    char qkey[KEY_LEN];
    snprintf(qkey, sizeof qkey, "%s:queue", st->cfg.prefix);
    /* EVAL, not EVALSHA: after a Redis restart (or while it loads its
     * data) a script loaded earlier is gone, and Redis caches EVAL'd
     * scripts by their hash anyway */
    const char *argv[] = {"EVAL", finish_script, "2", qkey, ukey,
                          entry_id, val, ttl};
    return run(st, complete_done, cb, arg, 8, argv, NULL);
}

int store_queue_done(struct store *st, const char *entry_id, store_done_cb cb,
                     void *arg)
{
    return run_finish(st, entry_id, "", "", "0", cb, arg);
}

int store_queue_sent(struct store *st, const char *entry_id,
                     const char *connector, const char *upstream_id,
                     const struct store_idmap *m, unsigned ttl_s,
                     store_done_cb cb, void *arg)
{
    char ukey[KEY_LEN], val[128], ttl[16];
    snprintf(ukey, sizeof ukey, "%s:up:{%s}:%s", st->cfg.prefix, connector,
             upstream_id);
    snprintf(val, sizeof val, "%s\t%s\t%" PRIu64 "\t%u", m->account, m->msg_id,
             m->ts_ms, m->registered_delivery);
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    return run_finish(st, entry_id, ukey, val, ttl, cb, arg);
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
    struct pending *p = send_cmd(st, CONN_CMD, st->cfg.timeout_ms,
                                 complete_idmap, arg, (int)n + 1, argv, NULL);
    if (!p)
        return -1;
    p->cb.idmap = cb;
    return 0;
}

int store_dlr_add(struct store *st, const char *account, const uint8_t *pdu,
                  size_t len, store_done_cb cb, void *arg)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:dlr:{%s}", st->cfg.prefix, account);
    const char *argv[] = {"XADD", key, "*", "p", (const char *)pdu};
    size_t lens[] = {4, strlen(key), 1, 1, len};
    return run(st, complete_done, cb, arg, 5, argv, lens);
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

int store_dead_add(struct store *st, const char *reason, const uint8_t *pdu,
                   size_t len, store_done_cb cb, void *arg)
{
    char key[KEY_LEN];
    snprintf(key, sizeof key, "%s:dead", st->cfg.prefix);
    const char *argv[] = {"XADD", key, "MAXLEN", "~", "1000000", "*",
                          "reason", reason, "p", (const char *)pdu};
    size_t lens[] = {4, strlen(key), 6, 1, 7, 1, 6, strlen(reason), 1, len};
    return run(st, complete_done, cb, arg, 10, argv, lens);
}
