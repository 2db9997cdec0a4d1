/*
 * redis_conn.c - one asynchronous Redis connection: connect (directly or
 * through Sentinel), AUTH, SELECT, ROLE, reconnect with backoff, the
 * pending commands with their deadlines, scripts by SHA1, MULTI/EXEC.
 *
 * hiredis 0.14 has no command timeout of its own, so every command is
 * wrapped in a struct pending kept in send order; a periodic check fails
 * the ones past their deadline (the caller gets an error at once) and
 * then drops the connection, because Redis answering late on a
 * connection we gave up on would shift every later reply. hiredis then
 * calls each remaining callback with a NULL reply; a pending that was
 * already completed is just freed.
 */
#include "common.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conf.h"
#include "evprio.h"
#include "log.h"
#include "net.h"
#include "redis_conn.h"

#define TAG "redis"
#define RECONNECT_MIN_MS 100u
#define RECONNECT_MAX_MS 2000u
#define CHECK_INTERVAL_MS 50u
#define EVAL_STACK_ARGS 48

struct pending {
    struct redis_conn *conn;
    uint64_t deadline_ms;
    uint64_t sent_us;      /* for the latency hook */
    redis_reply_fn fn;     /* NULL: reply not needed (pipeline step) */
    int finished;          /* fn already called */
    struct pending *prev, *next;
    /* A command of the open transaction (see txn_join): hiredis
     * hands it "QUEUED", its reply comes in EXEC's. Freed once both
     * hiredis (queued) and the transaction (txn_done) let go of it. */
    unsigned char in_txn, queued, txn_done;
    /* redis_conn_multi's commands in the open transaction: the first
     * (lead) answers for <span> of them, the others (grouped) not. */
    unsigned char lead, grouped;
    unsigned span;
    struct pending *txn_next;
    max_align_t ctx[];     /* the caller's context */
};

/* EXEC's context: the commands it answers, in order. */
struct txn_exec {
    struct pending *head;
};

struct redis_script {
    const char *lua;       /* NULL: id not registered */
    char sha[41];
};

struct redis_conn {
    struct event_base *base;
    struct redis_conn_opts o;
    redisAsyncContext *ac;
    int up;
    int closing;               /* redis_conn_free: no callbacks */
    unsigned backoff_ms;
    struct event *retry_ev;
    struct event *connect_ev;  /* [redis] timeout for connect (and ROLE) */
    struct event *check_ev;    /* deadlines of pending commands */
    struct pending *oldest, *newest;
    char host[CONF_STR];       /* where ac goes: [redis] host or the master */
    unsigned port;
    /* With [redis] sentinels: the one being asked for the master. */
    redisAsyncContext *sentinel_ac;
    struct event *sentinel_ev; /* its answer's deadline */
    int sentinel_next;         /* index of the next one to ask */
    redis_message_fn message_fn;
    void *message_arg;
    struct redis_script *scripts;
    /* Group commit (opts.group_commit): the transaction being filled,
     * closed when the socket can take it (see conn_attach). */
    int txn_open;              /* MULTI sent, EXEC not yet */
    struct pending *txn_head, *txn_tail;
    uint64_t solo_until_ms;    /* mono: no transaction till then */
};

static void conn_connect(struct redis_conn *c);
static void load_scripts(struct redis_conn *c);
static void on_exec(struct redisReply *r, void *ctx);
static int conn_attach(struct redis_conn *c, redisAsyncContext *ac);

/* After an EXECABORT (a command refused while queued: Redis out of
 * memory, say) commands go one by one this long, so that one refused
 * write does not fail every read sent with it while it lasts. */
#define SOLO_MS 1000u

static struct timeval tv_ms(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static void set_state(struct redis_conn *c, int up)
{
    if (c->o.on_state)
        c->o.on_state(c, up, c->o.owner);
}

/* ---- pending commands ----------------------------------------------- */

static void pending_unlink(struct pending *p)
{
    struct redis_conn *c = p->conn;
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

/* An error reply: counted, logged unless the owner expects it, and a
 * missing script loads them all again. */
static void reply_error(struct redis_conn *c, const char *err, size_t len)
{
    c->o.stats->errors++;
    int expected = c->o.on_error && c->o.on_error(err, len, c->o.owner);
    if (!expected)
        log_event(LOG_WARN, TAG, LOG_FIELDS("error", err),
                  "command failed: %.*s", (int)len, err);
    if (strncmp(err, "NOSCRIPT", 8) == 0)
        load_scripts(c);
    if (strncmp(err, "EXECABORT", 9) == 0)
        c->solo_until_ms = clock_mono_ms() + SOLO_MS;
}

/* Complete <p> with <r> (NULL: failure) unless it already was. */
static void pending_finish(struct redis_conn *c, struct pending *p,
                           redisReply *r)
{
    if (p->finished)
        return;
    p->finished = 1;
    if (!r)
        c->o.stats->errors++;
    else if (r->type == REDIS_REPLY_ERROR)
        reply_error(c, r->str, r->len);
    /* exiting: the modules these callbacks belong to may be gone (a
     * transaction's EXEC still lets its members go) */
    if (p->fn && (!c->closing || p->fn == on_exec))
        p->fn(r && r->type != REDIS_REPLY_ERROR ? r : NULL, p->ctx);
}

/* A member of a transaction let go by the transaction (answered, or
 * abandoned with its connection). */
static void member_release(struct pending *p)
{
    p->txn_done = 1;
    if (p->queued)
        free(p);
}

/* hiredis's answer to a member: "QUEUED" (its reply comes with EXEC's),
 * a refusal while queueing (EXEC then answers EXECABORT), or NULL when
 * the connection went. */
static void member_queued(struct pending *p, redisReply *r)
{
    p->queued = 1;
    if (!r) {
        if (!p->finished) {
            pending_unlink(p); /* whoever finishes a pending unlinks it */
            pending_finish(p->conn, p, NULL);
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        reply_error(p->conn, r->str, r->len);
    }
    if (p->txn_done)
        free(p);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct pending *p = privdata;
    (void)ac;
    if (!p)
        return;
    if (p->in_txn) {
        member_queued(p, reply);
        return;
    }
    struct redis_conn *c = p->conn;
    if (!p->finished) {
        pending_unlink(p);
        if (c->o.on_latency)
            c->o.on_latency(clock_mono_us() - p->sent_us, c->o.owner);
    }
    pending_finish(c, p, reply);
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

/* "<c><n>\r\n" at <out>; returns its length. */
static size_t put_header(char *out, char c, size_t n)
{
    size_t k = 0;
    out[k++] = c;
    k += put_uint(out + k, n);
    out[k++] = '\r';
    out[k++] = '\n';
    return k;
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
    size_t n = put_header(buf, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        n += put_header(buf + n, '$', len);
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

/* One command on the wire as it is, whatever transaction is open. */
static struct pending *pending_send(struct redis_conn *c, unsigned timeout_ms,
                                    redis_reply_fn fn, size_t ctx_size,
                                    int argc, const char **argv,
                                    const size_t *lens)
{
    if (!c->up || !c->ac)
        return NULL;
    struct pending *p = calloc(1, sizeof *p + ctx_size);
    if (!p)
        return NULL;
    p->conn = c;
    p->deadline_ms = clock_mono_ms() + timeout_ms;
    p->sent_us = clock_mono_us();
    p->fn = fn;
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
    c->o.stats->commands++;
    return p;
}

/* ---- group commit ----------------------------------------------------
 * With opts.group_commit, the commands sent between two writes to the
 * socket (everything the loop's callbacks asked for since the last one)
 * go between one MULTI and one EXEC, appended when the socket can take
 * them (conn_attach's write event): Redis applies them whole, in one
 * step, and the cost of a transaction (MULTI, EXEC, their propagation to
 * the AOF) is paid once per write instead of once per message. Nothing
 * waits on a timer: a quiet loop writes a transaction of one command.
 * Each command still completes on its own, with its own element of
 * EXEC's reply; replies keep the order the callers sent in. While a
 * transaction is open every command must be in it: one sent outside
 * would be queued by Redis all the same. */

/* Whether the next command goes in the open transaction (opened by
 * this call if need be): 1 yes, 0 alone, -1 cannot be sent. */
static int txn_join(struct redis_conn *c)
{
    const char *multi[] = {"MULTI"};
    if (c->txn_open)
        return 1;
    if (!c->o.group_commit || clock_mono_ms() < c->solo_until_ms)
        return 0;
    if (!pending_send(c, c->o.cfg->timeout_ms, NULL, 0, 1, multi, NULL))
        return -1;
    c->txn_open = 1;
    return 1;
}

static void txn_append(struct redis_conn *c, struct pending *p)
{
    p->in_txn = 1;
    if (c->txn_tail)
        c->txn_tail->txn_next = p;
    else
        c->txn_head = p;
    c->txn_tail = p;
}

/* One reply of EXEC's for member <p> (NULL: failed), then let it go. */
static void member_done(struct redis_conn *c, struct pending *p,
                        redisReply *r)
{
    if (!p->finished) {
        pending_unlink(p);
        if (c->o.on_latency)
            c->o.on_latency(clock_mono_us() - p->sent_us, c->o.owner);
    }
    pending_finish(c, p, r);
    member_release(p);
}

/* EXEC's reply (NULL: the transaction failed, or the connection went):
 * each member gets its own element; a redis_conn_multi leader gets its
 * commands' elements as an array of their own. */
static void on_exec(redisReply *r, void *ctx)
{
    struct txn_exec *x = ctx;
    struct pending *p = x->head, *next;
    size_t i = 0;
    for (; p; p = next) {
        next = p->txn_next;
        redisReply *e = NULL, group;
        struct redis_conn *c = p->conn;
        if (p->grouped) { /* its leader answers for it */
            pending_unlink(p);
            p->finished = 1;
            member_release(p);
            continue;
        }
        size_t span = p->lead ? p->span : 1;
        if (r && p->lead && i + span <= r->elements) {
            group = (redisReply){.type = REDIS_REPLY_ARRAY,
                                 .elements = span,
                                 .element = r->element + i};
            e = &group;
        } else if (r && !p->lead && i < r->elements) {
            e = r->element[i];
        }
        i += span;
        member_done(c, p, e);
    }
}

/* The socket can take what was sent: EXEC closes the transaction. When
 * it cannot be sent the connection is dropped (a MULTI left open would
 * swallow every later command) and txn_abandon fails the members. */
static void txn_close(struct redis_conn *c)
{
    const char *exec[] = {"EXEC"};
    if (!c->txn_open)
        return;
    struct pending *x = pending_send(c, c->o.cfg->timeout_ms, on_exec,
                                     sizeof(struct txn_exec), 1, exec, NULL);
    if (!x) {
        if (c->ac)
            redisAsyncDisconnect(c->ac);
        return;
    }
    struct txn_exec *t = (void *)x->ctx;
    t->head = c->txn_head;
    c->txn_open = 0;
    c->txn_head = c->txn_tail = NULL;
}

/* The connection went with a transaction open (no EXEC sent): its
 * members fail. Called once hiredis has let go of them. */
static void txn_abandon(struct redis_conn *c)
{
    struct pending *p = c->txn_head, *next;
    c->txn_open = 0;
    c->txn_head = c->txn_tail = NULL;
    for (; p; p = next) {
        next = p->txn_next;
        pending_finish(c, p, NULL);
        member_release(p);
    }
}

void *redis_conn_send(struct redis_conn *c, unsigned timeout_ms,
                      redis_reply_fn fn, size_t ctx_size, int argc,
                      const char **argv, const size_t *lens)
{
    int in_txn = txn_join(c);
    if (in_txn < 0)
        return NULL;
    struct pending *p = pending_send(c, timeout_ms, fn, ctx_size, argc, argv,
                                     lens);
    if (!p)
        return NULL;
    if (in_txn)
        txn_append(c, p);
    return p->ctx;
}

void *redis_conn_eval(struct redis_conn *c, unsigned id, unsigned timeout_ms,
                      redis_reply_fn fn, size_t ctx_size, unsigned nkeys,
                      int argc, const char **argv, const size_t *lens)
{
    const char *stack[EVAL_STACK_ARGS], **all = stack;
    size_t stack_lens[EVAL_STACK_ARGS], *all_lens = stack_lens;
    char nk[16];
    if (id >= c->o.n_scripts || !c->scripts[id].lua || argc < 0)
        return NULL;
    size_t n = (size_t)argc + 3;
    if (n > EVAL_STACK_ARGS) { /* many keys: a read's shared bodies */
        all = malloc(n * sizeof *all);
        all_lens = malloc(n * sizeof *all_lens);
    }
    void *ctx = NULL;
    if (all && all_lens) {
        all[0] = "EVALSHA";
        all[1] = c->scripts[id].sha;
        all[2] = nk;
        all_lens[0] = 7;
        all_lens[1] = 40;
        all_lens[2] = put_uint(nk, nkeys);
        for (int i = 0; i < argc; i++) {
            all[3 + i] = argv[i];
            all_lens[3 + i] = lens ? lens[i] : strlen(argv[i]);
        }
        ctx = redis_conn_send(c, timeout_ms, fn, ctx_size, (int)n, all,
                              all_lens);
    }
    if (all != stack)
        free(all);
    if (all_lens != stack_lens)
        free(all_lens);
    return ctx;
}

/* Inside the turn's transaction: the commands as members, the first
 * one answering for all of them. */
static void *multi_in_txn(struct redis_conn *c, unsigned timeout_ms,
                          redis_reply_fn fn, size_t ctx_size,
                          const struct redis_cmd *cmds, int n)
{
    struct pending *lead = NULL;
    for (int i = 0; i < n; i++) {
        struct pending *p = pending_send(c, timeout_ms, i ? NULL : fn,
                                         i ? 0 : ctx_size, cmds[i].argc,
                                         cmds[i].argv, cmds[i].lens);
        if (!p) {
            /* half a transaction must not be applied; the caller hears
             * NULL, so its callback must never come */
            if (lead)
                lead->fn = NULL;
            if (c->ac)
                redisAsyncDisconnect(c->ac);
            return NULL;
        }
        txn_append(c, p);
        if (i) {
            p->grouped = 1;
        } else {
            lead = p;
            p->lead = 1;
        }
    }
    lead->span = (unsigned)n;
    return lead->ctx;
}

void *redis_conn_multi(struct redis_conn *c, unsigned timeout_ms,
                       redis_reply_fn fn, size_t ctx_size,
                       const struct redis_cmd *cmds, int n)
{
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    int in_txn = n > 0 ? txn_join(c) : -1;
    if (in_txn < 0)
        return NULL;
    if (in_txn)
        return multi_in_txn(c, timeout_ms, fn, ctx_size, cmds, n);
    if (!pending_send(c, timeout_ms, NULL, 0, 1, multi, NULL))
        return NULL;
    for (int i = 0; i < n; i++)
        if (!pending_send(c, timeout_ms, NULL, 0, cmds[i].argc, cmds[i].argv,
                          cmds[i].lens))
            goto broken;
    struct pending *x = pending_send(c, timeout_ms, fn, ctx_size, 1, exec,
                                     NULL);
    if (x)
        return x->ctx;
broken:
    /* a MULTI left open would swallow every later command */
    redisAsyncDisconnect(c->ac);
    return NULL;
}

redisReply *redis_conn_exec_reply(struct redis_conn *c, redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_ERROR) {
            reply_error(c, e->str, e->len);
            return NULL;
        }
    }
    return r;
}

/* Fail every pending command of <c> past its deadline, then drop <c>. */
static void check_timeouts(struct redis_conn *c, uint64_t now)
{
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
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("host", c->host, "port", LOG_NUM(c->port),
                         "connection", c->o.name, "state", "down",
                         "reason", "timeout", "timeout_ms",
                         LOG_NUM(c->o.cfg->timeout_ms)),
              "no reply within %u ms: reconnecting", c->o.cfg->timeout_ms);
    while (list) {
        struct pending *p = list;
        list = p->next;
        p->prev = p->next = NULL;
        c->o.stats->timeouts++;
        pending_finish(c, p, NULL); /* freed when hiredis lets go */
    }
    if (ac)
        redisAsyncFree(ac);
    txn_abandon(c);
    set_state(c, 0);
    conn_connect(c);
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    check_timeouts(arg, clock_mono_ms());
}

/* ---- scripts -------------------------------------------------------- */

void redis_conn_script(struct redis_conn *c, unsigned id, const char *lua)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (id >= c->o.n_scripts)
        return;
    c->scripts[id].lua = lua;
    EVP_Digest(lua, strlen(lua), md, &len, EVP_sha1(), NULL);
    for (unsigned k = 0; k < len && k < 20; k++)
        snprintf(c->scripts[id].sha + 2 * k, 3, "%02x", md[k]);
}

/* Fire and forget: commands sent after these on the same connection find
 * them loaded. */
static void load_scripts(struct redis_conn *c)
{
    for (unsigned i = 0; i < c->o.n_scripts; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", c->scripts[i].lua};
        if (argv[2])
            redis_conn_send(c, c->o.cfg->timeout_ms, NULL, 0, 3, argv, NULL);
    }
}

/* ---- connections ---------------------------------------------------- */

static void schedule_reconnect(struct redis_conn *c)
{
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RECONNECT_MIN_MS;
    if (c->backoff_ms > RECONNECT_MAX_MS)
        c->backoff_ms = RECONNECT_MAX_MS;
    struct timeval tv = tv_ms(c->backoff_ms);
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
    struct redis_conn *c = ac->data;
    (void)status;
    if (!c || c->ac != ac)
        return; /* we dropped it ourselves and already reconnect */
    /* with sentinels, a connection is up only once ROLE said master */
    int was_up = c->up;
    evtimer_del(c->connect_ev);
    c->ac = NULL;
    c->up = 0;
    c->oldest = c->newest = NULL; /* hiredis failed them all with NULL */
    txn_abandon(c);
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("host", c->host, "port", LOG_NUM(c->port),
                         "connection", c->o.name, "state", "down",
                         "reason", "connection lost"),
              "connection %s to %s:%u lost", c->o.name, c->host, c->port);
    if (was_up)
        set_state(c, 0);
    schedule_reconnect(c);
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

/* First commands on a fresh connection: AUTH, SELECT, the scripts; then
 * the owner's own. */
static void conn_setup(struct redis_conn *c)
{
    const struct conf_redis *cfg = c->o.cfg;
    char db[16];
    const char *argv[3];
    int argc = auth_argv(cfg->username, cfg->password, argv);
    /* before any transaction: MULTI itself needs AUTH */
    if (argc)
        pending_send(c, cfg->timeout_ms, NULL, 0, argc, argv, NULL);
    snprintf(db, sizeof db, "%u", cfg->db);
    argv[0] = "SELECT";
    argv[1] = db;
    pending_send(c, cfg->timeout_ms, NULL, 0, 2, argv, NULL);
    load_scripts(c);
}

/* The connection is usable: commands may go, the owner hears "up". */
static void conn_ready(struct redis_conn *c)
{
    evtimer_del(c->connect_ev);
    c->up = 1;
    c->backoff_ms = 0;
    /* a half-open connection (a pub/sub one waits for ever) is noticed */
    redisEnableKeepAlive((redisContext *)&c->ac->c);
    conn_setup(c);
    if (c->o.announce)
        log_event(LOG_INFO, TAG,
                  LOG_FIELDS("host", c->host, "port", LOG_NUM(c->port),
                             "connection", c->o.name, "state", "up"),
                  "connected to %s:%u", c->host, c->port);
    set_state(c, 1);
}

/* Give up a connection that is not up yet (no pending of ours on it) and
 * try again after the backoff. */
static void conn_abandon(struct redis_conn *c, const char *reason,
                         const char *detail)
{
    redisAsyncContext *ac = c->ac;
    evtimer_del(c->connect_ev);
    c->ac = NULL; /* on_disconnect and on_role then ignore it */
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("host", c->host, "port", LOG_NUM(c->port),
                         "connection", c->o.name, "state", "down",
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
    struct redis_conn *c = privdata;
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
static void conn_check_role(struct redis_conn *c)
{
    const char *auth[3];
    int argc = auth_argv(c->o.cfg->username, c->o.cfg->password, auth);
    if (argc)
        redisAsyncCommandArgv(c->ac, NULL, NULL, argc, auth, NULL);
    const char *role[] = {"ROLE"};
    redisAsyncCommandArgv(c->ac, on_role, c, 1, role, NULL);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct redis_conn *c = ac->data;
    if (!c || c->ac != ac)
        return;
    if (status != REDIS_OK) {
        evtimer_del(c->connect_ev);
        c->ac = NULL; /* hiredis frees it after this callback */
        schedule_reconnect(c);
        return;
    }
    if (c->o.cfg->n_sentinels > 0)
        conn_check_role(c);
    else
        conn_ready(c);
}

/* hiredis 0.14 has no connect timeout: a SYN nobody answers would leave
 * the connection "connecting" for minutes, and nothing retried. */
static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct redis_conn *c = arg;
    char detail[96];
    (void)fd;
    (void)what;
    if (!c->ac || c->up)
        return;
    snprintf(detail, sizeof detail, "not connected within %u ms",
             c->o.cfg->timeout_ms);
    conn_abandon(c, "connect timeout", detail);
}

/* Connect <c> to c->host:c->port. */
static void conn_open(struct redis_conn *c)
{
    redisAsyncContext *ac = redisAsyncConnect(c->host, (int)c->port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    ac->data = c;
    c->ac = ac;
    c->o.stats->reconnects++;
    if (conn_attach(c, ac) != 0) {
        c->ac = NULL;
        redisAsyncFree(ac);
        schedule_reconnect(c);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    struct timeval tv = tv_ms(c->o.cfg->timeout_ms);
    evtimer_add(c->connect_ev, &tv);
}

/* ---- the connection's events ------------------------------------------
 * hiredis's own libevent adapter, with two differences: writing first
 * closes the open transaction (group commit: the batch is what the
 * callbacks sent since the socket last took bytes), and the events have
 * the loop's first priority when it has several, since Redis's replies
 * are what every acknowledgement waits for. */
struct conn_events {
    redisAsyncContext *ac;
    struct event *rev, *wev;
};

static void conn_ev_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn_events *e = arg;
    (void)fd;
    (void)what;
    redisAsyncHandleRead(e->ac);
}

static void conn_ev_write(evutil_socket_t fd, short what, void *arg)
{
    struct conn_events *e = arg;
    redisAsyncContext *ac = e->ac; /* e goes if the connection does */
    struct redis_conn *c = ac->data;
    (void)fd;
    (void)what;
    if (c && c->ac == ac)
        txn_close(c);
    redisAsyncHandleWrite(ac);
    /* The first write event also completes the connect: hiredis called
     * on_connect, the owner's first commands, and wrote them in the
     * call above, without EXEC. Closed now, or they would wait for the
     * next command to come (or fail by timeout). */
    if (c && c->ac == ac && c->txn_open)
        txn_close(c);
}

static void conn_ev_add_read(void *arg)
{
    event_add(((struct conn_events *)arg)->rev, NULL);
}

static void conn_ev_del_read(void *arg)
{
    event_del(((struct conn_events *)arg)->rev);
}

static void conn_ev_add_write(void *arg)
{
    event_add(((struct conn_events *)arg)->wev, NULL);
}

static void conn_ev_del_write(void *arg)
{
    event_del(((struct conn_events *)arg)->wev);
}

static void conn_ev_cleanup(void *arg)
{
    struct conn_events *e = arg;
    event_free(e->rev);
    event_free(e->wev);
    free(e);
}

static int conn_attach(struct redis_conn *c, redisAsyncContext *ac)
{
    struct conn_events *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->ac = ac;
    e->rev = event_new(c->base, ac->c.fd, EV_READ, conn_ev_read, e);
    e->wev = event_new(c->base, ac->c.fd, EV_WRITE, conn_ev_write, e);
    if (!e->rev || !e->wev) {
        if (e->rev)
            event_free(e->rev);
        if (e->wev)
            event_free(e->wev);
        free(e);
        return -1;
    }
    event_priority_set(e->rev, EVPRIO_REDIS);
    event_priority_set(e->wev, EVPRIO_REDIS);
    ac->ev.addRead = conn_ev_add_read;
    ac->ev.delRead = conn_ev_del_read;
    ac->ev.addWrite = conn_ev_add_write;
    ac->ev.delWrite = conn_ev_del_write;
    ac->ev.cleanup = conn_ev_cleanup;
    ac->ev.data = e;
    event_add(e->rev, NULL);
    event_add(e->wev, NULL);
    return 0;
}

/* ---- Sentinel ------------------------------------------------------- */

static void sentinel_ask_next(struct redis_conn *c);

static const char *sentinel_asked(const struct redis_conn *c)
{
    return c->o.cfg->sentinels[c->sentinel_next - 1];
}

static void sentinel_no_answer(struct redis_conn *c, const char *why)
{
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("sentinel", sentinel_asked(c), "master_name",
                         c->o.cfg->master_name, "connection", c->o.name,
                         "reason", why),
              "sentinel %s: no address for %s: %s", sentinel_asked(c),
              c->o.cfg->master_name, why);
    sentinel_ask_next(c);
}

/* The master's address from SENTINEL get-master-addr-by-name's answer
 * <r> ([ip, port]) into c->host and c->port; NULL, or why not. */
static const char *sentinel_address(struct redis_conn *c, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return r->type == REDIS_REPLY_ERROR ? r->str : "unknown master name";
    long port = strtol(r->element[1]->str, NULL, 10);
    if (port < 1 || port > 65535 || r->element[0]->len >= sizeof c->host)
        return "unusable address";
    snprintf(c->host, sizeof c->host, "%s", r->element[0]->str);
    c->port = (unsigned)port;
    return NULL;
}

/* SENTINEL get-master-addr-by-name's answer: [ip, port], or nil when the
 * sentinel does not monitor that name. NULL: the connection failed. */
static void on_sentinel_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_conn *c = privdata;
    redisReply *r = reply;
    if (c->sentinel_ac != ac)
        return; /* given up on (timeout, redis_conn_free) */
    evtimer_del(c->sentinel_ev);
    c->sentinel_ac = NULL;
    if (!r) { /* hiredis is freeing it */
        sentinel_no_answer(c, ac->errstr && *ac->errstr ? ac->errstr
                                                        : "connection failed");
        return;
    }
    redisAsyncFree(ac); /* after this callback returns */
    const char *why = sentinel_address(c, r);
    if (why) {
        sentinel_no_answer(c, why);
        return;
    }
    log_event(LOG_DEBUG, TAG,
              LOG_FIELDS("sentinel", sentinel_asked(c), "master_name",
                         c->o.cfg->master_name, "host", c->host, "port",
                         LOG_NUM(c->port), "connection", c->o.name),
              "sentinel %s: master %s is %s:%u", sentinel_asked(c),
              c->o.cfg->master_name, c->host, c->port);
    conn_open(c);
}

static void on_sentinel_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct redis_conn *c = arg;
    redisAsyncContext *ac = c->sentinel_ac;
    char why[64];
    (void)fd;
    (void)what;
    c->sentinel_ac = NULL; /* on_sentinel_reply ignores its NULL reply */
    if (ac)
        redisAsyncFree(ac);
    snprintf(why, sizeof why, "no answer within %u ms", c->o.cfg->timeout_ms);
    sentinel_no_answer(c, why);
}

/* Ask sentinel <host>:<port> for the master; 0 when the question left. */
static int sentinel_ask(struct redis_conn *c, const char *host, int port)
{
    const struct conf_redis *cfg = c->o.cfg;
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        return -1;
    }
    ac->data = c;
    redisLibeventAttach(ac, c->base);
    const char *auth[3];
    int argc = auth_argv(cfg->sentinel_username, cfg->sentinel_password, auth);
    if (argc)
        redisAsyncCommandArgv(ac, NULL, NULL, argc, auth, NULL);
    const char *ask[] = {"SENTINEL", "get-master-addr-by-name",
                         cfg->master_name};
    c->sentinel_ac = ac;
    redisAsyncCommandArgv(ac, on_sentinel_reply, c, 3, ask, NULL);
    struct timeval tv = tv_ms(cfg->timeout_ms);
    evtimer_add(c->sentinel_ev, &tv);
    return 0;
}

/* Ask the next sentinel of the list; after the last, the backoff. */
static void sentinel_ask_next(struct redis_conn *c)
{
    const struct conf_redis *cfg = c->o.cfg;
    while (c->sentinel_next < cfg->n_sentinels) {
        char host[CONF_STR], err[NET_ERR_LEN];
        int port;
        const char *addr = cfg->sentinels[c->sentinel_next++];
        if (net_split_hostport(addr, host, sizeof host, &port, err) != 0)
            continue; /* the configuration checked it */
        if (sentinel_ask(c, host, port) == 0)
            return;
    }
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("master_name", cfg->master_name, "connection",
                         c->o.name, "state", "down", "reason",
                         "no sentinel answered"),
              "no sentinel gave the address of %s: retrying", cfg->master_name);
    schedule_reconnect(c);
}

/* Every (re)connection: straight to [redis] host:port, or with sentinels
 * to the master they name now (a failover moves it). */
static void conn_connect(struct redis_conn *c)
{
    if (c->o.cfg->n_sentinels > 0) {
        c->sentinel_next = 0;
        sentinel_ask_next(c);
        return;
    }
    conn_open(c);
}

struct redis_conn *redis_conn_new(struct event_base *base,
                                  const struct redis_conn_opts *opts)
{
    struct redis_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base = base;
    c->o = *opts;
    c->scripts = calloc(opts->n_scripts ? opts->n_scripts : 1,
                        sizeof *c->scripts);
    c->retry_ev = evtimer_new(base, on_retry, c);
    c->connect_ev = evtimer_new(base, on_connect_timeout, c);
    c->sentinel_ev = evtimer_new(base, on_sentinel_timeout, c);
    c->check_ev = event_new(base, -1, EV_PERSIST, on_check, c);
    if (!c->scripts || !c->retry_ev || !c->connect_ev || !c->sentinel_ev ||
        !c->check_ev) {
        redis_conn_free(c);
        return NULL;
    }
    snprintf(c->host, sizeof c->host, "%s", opts->cfg->host);
    c->port = opts->cfg->port;
    struct timeval tv = tv_ms(CHECK_INTERVAL_MS);
    event_add(c->check_ev, &tv);
    conn_connect(c);
    return c;
}

void redis_conn_free(struct redis_conn *c)
{
    if (!c)
        return;
    c->closing = 1;
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->up = 0;
    if (ac)
        redisAsyncFree(ac); /* fails what is pending */
    txn_abandon(c);
    ac = c->sentinel_ac;
    c->sentinel_ac = NULL;
    if (ac)
        redisAsyncFree(ac);
    struct event *timers[] = {c->retry_ev, c->connect_ev, c->sentinel_ev,
                              c->check_ev};
    for (size_t i = 0; i < ARRAY_LEN(timers); i++)
        if (timers[i]) /* redis_conn_new may have failed half way */
            event_free(timers[i]);
    free(c->scripts);
    free(c);
}

int redis_conn_up(const struct redis_conn *c)
{
    return c->up;
}

/* ---- pub/sub -------------------------------------------------------- */

static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct redis_conn *c = privdata;
    redisReply *r = reply;
    (void)ac;
    if (!r || c->closing || !c->message_fn || r->type != REDIS_REPLY_ARRAY ||
        r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, "message") != 0 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    c->message_fn(r->element[2]->str, r->element[2]->len, c->message_arg);
}

int redis_conn_subscribe(struct redis_conn *c, const char *channel,
                         redis_message_fn fn, void *arg)
{
    const char *sub[] = {"SUBSCRIBE", channel};
    if (!c->up || !c->ac)
        return -1;
    c->message_fn = fn;
    c->message_arg = arg;
    /* not a pending: hiredis calls it for every message */
    return redisAsyncCommandArgv(c->ac, on_message, c, 2, sub, NULL) == REDIS_OK
               ? 0 : -1;
}
