/*
 * admin.c - the admin HTTP server: routes, bearer token, metrics at
 * scrape time, sessions, accounts (see admin.h).
 *
 * Requests that need Redis (GET /metrics when the queue figures are older
 * than a second, GET and PUT /accounts/ID) or a password hash (PUT with a
 * password: scrypt on a thread of its own, never on the loop) wait in a
 * struct admin_wait kept on a list, so that admin_free() can drop them.
 * Store callbacks are never called once the store is being freed
 * (store.h), and main frees this module first: a wait is never touched
 * after admin_free().
 */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "admin.h"
#include "auth.h"
#include "clock.h"
#include "conf.h"
#include "downstream.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "relay.h"
#include "store.h"
#include "upstream.h"

#ifndef SMPPBRIDGE_VERSION
#define SMPPBRIDGE_VERSION "0.1.0"
#endif

#define TAG "admin"
#define MAX_HEADERS 8192
#define CLIENT_TIMEOUT_S 10
#define REFRESH_MS 1000u       /* queue figures: at most once a second */
#define BACKLOG_ACCOUNTS 1000  /* P:dlr:* lengths asked per refresh */
#define MAX_HASHING 2          /* PUTs with a password hashing at once */
#define SMPP_PASSWORD_MAX 8    /* SMPP 3.4 5.2.2: 9 octets with the NUL */
#define PUT_FIELDS 12

/* The families the admin server sets at scrape time (the modules count
 * the others themselves). */
struct admin_families {
    struct metrics_family *binds, *queue_depth, *queue_age, *up_sessions,
        *up_window_used, *up_window_size, *receipts_relayed, *upstream_acked, *receipts_pending,
        *relay_expired, *inbound, *redis_up, *redis_errors, *redis_timeouts, *redis_reconnects,
        *build_info, *rss, *cpu, *fds, *start_time, *auth_blocked;
};

struct admin_wait {
    struct admin *a;
    struct evhttp_request *req;
    int scrape;                      /* waiting for the refresh: */
    int ready;                       /* for /readyz, not /metrics */
    char id[ACCOUNT_ID_MAX + 1];     /* GET/PUT /accounts/ID */
    /* PUT: the fields to write, values in the storage below */
    size_t n;
    const char *names[PUT_FIELDS];
    const char *values[PUT_FIELDS];
    char nums[PUT_FIELDS][24];
    char allow[ACCOUNT_ALLOW_MAX];
    char hash[AUTH_HASH_MAX];
    char password[SMPP_PASSWORD_MAX + 1];
    size_t pw_len;
    /* the password hash, on its own thread */
    int hashing, hash_ok;
    pthread_t thread;
    int pipe[2];
    struct event *hashed_ev;
    struct admin_wait *prev, *next;
};

struct admin_refresh {
    struct admin *a;
    unsigned outstanding;
    int failed;
    uint64_t depth, age_ms, backlog;
};

struct admin {
    struct event_base *base;
    const struct conf *cfg;
    struct admin_sources src;
    struct evhttp *http;
    struct admin_wait *waits;
    unsigned hashing;
    struct admin_refresh *refresh;   /* in flight, or NULL */
    uint64_t refreshed_ms;           /* monotonic; 0: never */
    uint64_t queue_depth, queue_age_ms, receipts_pending;
    double start_time;
    struct admin_families fam;
};

/* ---- replies -------------------------------------------------------- */

static const char *reason_of(int code)
{
    switch (code) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/* <s> as a JSON string: quotes, backslashes and control characters
 * escaped; other bytes as they are. */
static void json_str(struct evbuffer *b, const char *s)
{
    evbuffer_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            evbuffer_add_printf(b, "\\%c", c);
        else if (c < 0x20)
            evbuffer_add_printf(b, "\\u%04x", c);
        else
            evbuffer_add(b, s, 1);
    }
    evbuffer_add(b, "\"", 1);
}

/* Send <body> (may be NULL) with <code> and <type>; frees <body>. */
static void reply(struct evhttp_request *req, int code, const char *type,
                  struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (type)
        evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, code, reason_of(code), body);
    if (body)
        evbuffer_free(body);
}

static void reply_json(struct evhttp_request *req, int code, struct evbuffer *b)
{
    evbuffer_add(b, "\n", 1);
    reply(req, code, "application/json", b);
}

static void reply_error(struct evhttp_request *req, int code, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add_printf(b, "{\"error\":");
    json_str(b, msg);
    evbuffer_add(b, "}", 1);
    reply_json(req, code, b);
}

/* ---- waiting requests ------------------------------------------------ */

static struct admin_wait *wait_new(struct admin *a, struct evhttp_request *req)
{
    struct admin_wait *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->a = a;
    w->req = req;
    w->pipe[0] = w->pipe[1] = -1;
    w->next = a->waits;
    if (a->waits)
        a->waits->prev = w;
    a->waits = w;
    return w;
}

static void wait_free(struct admin_wait *w)
{
    struct admin *a = w->a;
    if (w->prev)
        w->prev->next = w->next;
    else
        a->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    if (w->hashing) {
        pthread_join(w->thread, NULL);
        a->hashing--;
    }
    if (w->hashed_ev)
        event_free(w->hashed_ev);
    for (int i = 0; i < 2; i++)
        if (w->pipe[i] >= 0)
            close(w->pipe[i]);
    OPENSSL_cleanse(w->password, sizeof w->password);
    free(w);
}

/* ---- /metrics ------------------------------------------------------- */

static void register_families(struct admin *a)
{
    struct metrics *m = metrics_default();
    struct admin_families *f = &a->fam;
#define G(field, name, help, labels) \
    f->field = metrics_family(m, METRICS_GAUGE, name, help, labels)
#define C(field, name, help, labels) \
    f->field = metrics_family(m, METRICS_COUNTER, name, help, labels)
    G(binds, "smppbridge_binds", "Customer binds on this instance.", "account,type");
    G(auth_blocked, "smppbridge_auth_blocked",
      "Refused for failed binds now: addresses, system_id@address pairs.", "scope");
    G(queue_depth, "smppbridge_queue_depth", "Entries in P:queue (XLEN).", NULL);
    G(queue_age, "smppbridge_queue_oldest_age_seconds",
      "Age of the first entry in P:queue.", NULL);
    G(up_sessions, "smppbridge_upstream_sessions",
      "Upstream sessions by state (bound, connecting, down).", "connector,state");
    G(up_window_used, "smppbridge_upstream_window_used",
      "submit_sm sent upstream and not answered yet.", "connector");
    G(up_window_size, "smppbridge_upstream_window_size",
      "Room for outstanding submit_sm on the bound sessions.", "connector");
    C(receipts_relayed, "smppbridge_receipts_relayed_total",
      "deliver_sm to customers answered ESME_ROK.", NULL);
    C(upstream_acked, "smppbridge_upstream_deliver_acked_total",
      "deliver_sm (receipts, MO) from upstream answered ESME_ROK.", NULL);
    G(receipts_pending, "smppbridge_receipts_pending",
      "Entries in P:dlr:* of the accounts bound here.", NULL);
    C(relay_expired, "smppbridge_relay_expired_total",
      "Receipts and MO older than [relay] ttl, moved to P:dead.", NULL);
    C(inbound, "smppbridge_inbound_total", "MO messages by result.", "result");
    G(redis_up, "smppbridge_redis_up", "1 when Redis answers.", NULL);
    C(redis_errors, "smppbridge_redis_errors_total", "Redis commands failed.", NULL);
    C(redis_timeouts, "smppbridge_redis_timeouts_total",
      "Redis commands without a reply in time.", NULL);
    C(redis_reconnects, "smppbridge_redis_reconnects_total",
      "Redis connections made again.", NULL);
    G(build_info, "smppbridge_build_info", "The bridge's version.", "version");
    G(rss, "process_resident_memory_bytes", "Resident memory size in bytes.", NULL);
    C(cpu, "process_cpu_seconds_total", "User and system CPU time in seconds.", NULL);
    G(fds, "process_open_fds", "Open file descriptors.", NULL);
    G(start_time, "process_start_time_seconds",
      "Start time of the process since the Unix epoch in seconds.", NULL);
#undef G
#undef C
    /* the modules count these; registered here too so that a scrape shows
     * them (as 0) before the first event */
    metrics_family(m, METRICS_COUNTER, "smppbridge_submits_total",
                   "Answers to submit_sm, data_sm and submit_multi, by status.",
                   "account,status");
    metrics_family(m, METRICS_COUNTER, "smppbridge_throttled_total",
                   "Submits refused over the account's rate.", "account");
    metrics_family(m, METRICS_HISTOGRAM, "smppbridge_submit_resp_seconds",
                   "Customer submits: request read to response written.", NULL);
    metrics_family(m, METRICS_COUNTER, "smppbridge_upstream_submits_total",
                   "Answers to our submit_sm upstream, by status.",
                   "connector,status");
    metrics_family(m, METRICS_HISTOGRAM, "smppbridge_upstream_rtt_seconds",
                   "Upstream submit_sm to submit_sm_resp.", "connector");
    metrics_family(m, METRICS_COUNTER, "smppbridge_dead_letters_total",
                   "Entries written to P:dead, by reason.", "reason");
    metrics_family(m, METRICS_COUNTER, "smppbridge_auth_failures_total",
                   "Binds refused, by reason.", "reason");
    metrics_family(m, METRICS_HISTOGRAM, "smppbridge_redis_latency_seconds",
                   "Redis commands on the command connection: sent to reply.",
                   NULL);
}

static void process_metrics(struct admin *a)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        metrics_set(a->fam.cpu,
                    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                        (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
                    NULL);
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size, resident;
    if (f && fscanf(f, "%lu %lu", &size, &resident) == 2)
        metrics_set(a->fam.rss, (double)resident * (double)sysconf(_SC_PAGESIZE),
                    NULL);
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        unsigned n = 0;
        for (struct dirent *e; (e = readdir(d));)
            n += e->d_name[0] != '.';
        closedir(d);
        metrics_set(a->fam.fds, n ? n - 1 : 0, NULL); /* less opendir's own */
    }
    metrics_set(a->fam.start_time, a->start_time, NULL);
}

static void count_bind(const struct down_session_info *s, void *arg)
{
    struct admin *a = arg;
    metrics_add(a->fam.binds, 1, METRICS_LABELS(s->account, s->bind_type));
}

static void connector_metrics(const struct up_connector_info *c, void *arg)
{
    struct admin *a = arg;
    metrics_set(a->fam.up_sessions, c->bound, METRICS_LABELS(c->name, "bound"));
    metrics_set(a->fam.up_sessions, c->connecting,
                METRICS_LABELS(c->name, "connecting"));
    metrics_set(a->fam.up_sessions, c->down, METRICS_LABELS(c->name, "down"));
    metrics_set(a->fam.up_window_used, c->window_used, METRICS_LABELS(c->name));
    metrics_set(a->fam.up_window_size, c->window_size, METRICS_LABELS(c->name));
}

/* Everything read at scrape time into the registry. */
static void scrape_metrics(struct admin *a)
{
    struct admin_families *f = &a->fam;
    metrics_reset(f->binds);
    down_sessions(a->src.down, count_bind, a);
    size_t blocked_addresses, blocked_pairs;
    down_auth_blocked(a->src.down, &blocked_addresses, &blocked_pairs);
    metrics_set(f->auth_blocked, (double)blocked_addresses, METRICS_LABELS("address"));
    metrics_set(f->auth_blocked, (double)blocked_pairs, METRICS_LABELS("pair"));
    up_connectors(a->src.up, connector_metrics, a);
    const struct relay_stats *rs = relay_stats(a->src.relay);
    metrics_set(f->receipts_relayed, (double)rs->receipts_delivered, NULL);
    metrics_set(f->upstream_acked, (double)rs->upstream_acked, NULL);
    metrics_set(f->relay_expired, (double)rs->expired, NULL);
    metrics_set(f->inbound, (double)rs->mo_routed, METRICS_LABELS("routed"));
    metrics_set(f->inbound, (double)rs->mo_unrouted, METRICS_LABELS("unroutable"));
    const struct store_stats *ss = store_stats(a->src.st);
    metrics_set(f->redis_up, store_up(a->src.st) ? 1 : 0, NULL);
    metrics_set(f->redis_errors, (double)ss->errors, NULL);
    metrics_set(f->redis_timeouts, (double)ss->timeouts, NULL);
    metrics_set(f->redis_reconnects, (double)ss->reconnects, NULL);
    metrics_set(f->queue_depth, (double)a->queue_depth, NULL);
    metrics_set(f->queue_age, (double)a->queue_age_ms / 1000.0, NULL);
    metrics_set(f->receipts_pending, (double)a->receipts_pending, NULL);
    metrics_set(f->build_info, 1, METRICS_LABELS(SMPPBRIDGE_VERSION));
    process_metrics(a);
}

static void answer_metrics(struct admin *a, struct evhttp_request *req)
{
    size_t len = 0;
    scrape_metrics(a);
    char *text = metrics_render(metrics_default(), &len);
    struct evbuffer *b = text ? evbuffer_new() : NULL;
    if (!b) {
        free(text);
        reply_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(b, text, len);
    free(text);
    reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", b);
}

static void answer_readyz(struct admin *a, struct evhttp_request *req);

/* The refresh is over: keep what it found, answer who waited for it. */
static void refresh_done(struct admin_refresh *r)
{
    struct admin *a = r->a;
    if (!r->failed) {
        a->queue_depth = r->depth;
        a->queue_age_ms = r->age_ms;
        a->receipts_pending = r->backlog;
    }
    a->refresh = NULL;
    a->refreshed_ms = clock_mono_ms();
    free(r);
    for (struct admin_wait *w = a->waits, *next; w; w = next) {
        next = w->next;
        if (w->scrape && w->ready) {
            answer_readyz(a, w->req);
            wait_free(w);
        } else if (w->scrape) {
            answer_metrics(a, w->req);
            wait_free(w);
        }
    }
}

static void on_queue_stats(int status, uint64_t depth, uint64_t age_ms,
                           void *arg)
{
    struct admin_refresh *r = arg;
    r->failed |= status != 0;
    r->depth = depth;
    r->age_ms = age_ms;
    if (--r->outstanding == 0)
        refresh_done(r);
}

static void on_backlog(int status, unsigned n, void *arg)
{
    struct admin_refresh *r = arg;
    r->failed |= status != 0;
    r->backlog += n;
    if (--r->outstanding == 0)
        refresh_done(r);
}

/* Accounts bound here, each asked once (sessions come grouped by
 * nothing: a small scan of what was asked already does). */
struct backlog_scan {
    struct admin_refresh *r;
    char seen[BACKLOG_ACCOUNTS][ACCOUNT_ID_MAX + 1];
    unsigned n;
};

static void ask_backlog(const struct down_session_info *s, void *arg)
{
    struct backlog_scan *b = arg;
    for (unsigned i = 0; i < b->n; i++)
        if (strcmp(b->seen[i], s->account) == 0)
            return;
    if (b->n == BACKLOG_ACCOUNTS)
        return;
    snprintf(b->seen[b->n++], sizeof b->seen[0], "%s", s->account);
    b->r->outstanding++;
    if (store_dlr_len(b->r->a->src.st, s->account, on_backlog, b->r) != 0) {
        b->r->outstanding--;
        b->r->failed = 1;
    }
}

/* Ask Redis for the queue figures; 0 when asked (the refresh completes
 * later), -1 when nothing could be asked. */
static int refresh_start(struct admin *a)
{
    struct admin_refresh *r = calloc(1, sizeof *r);
    struct backlog_scan *scan = r ? calloc(1, sizeof *scan) : NULL;
    if (!scan) {
        free(r);
        return -1;
    }
    r->a = a;
    r->outstanding = 1; /* held until every question is out */
    if (store_queue_stats(a->src.st, on_queue_stats, r) == 0)
        r->outstanding++;
    else
        r->failed = 1;
    scan->r = r;
    down_sessions(a->src.down, ask_backlog, scan);
    free(scan);
    a->refresh = r;
    if (--r->outstanding == 0) {
        refresh_done(r);
        return -1;
    }
    return 0;
}

/* Answer <req> (/metrics or /readyz) after a refresh of the Redis
 * figures when the last one is older than REFRESH_MS. The refresh is
 * also how /readyz learns that Redis stopped answering: an idle bridge
 * may send Redis nothing else for a while. */
static void after_refresh(struct admin *a, struct evhttp_request *req, int ready)
{
    uint64_t now = clock_mono_ms();
    if (!a->refresh && store_up(a->src.st) &&
        (a->refreshed_ms == 0 || now - a->refreshed_ms >= REFRESH_MS))
        refresh_start(a);
    struct admin_wait *w = a->refresh ? wait_new(a, req) : NULL;
    if (w) {
        w->scrape = 1;
        w->ready = ready;
    } else if (ready) {
        answer_readyz(a, req);
    } else {
        answer_metrics(a, req);
    }
}

static void route_metrics(struct admin *a, struct evhttp_request *req)
{
    after_refresh(a, req, 0);
}

/* ---- health --------------------------------------------------------- */

static void route_healthz(struct admin *a, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    (void)a;
    if (b)
        evbuffer_add(b, "ok\n", 3);
    reply(req, 200, "text/plain; charset=utf-8", b);
}

static void answer_readyz(struct admin *a, struct evhttp_request *req)
{
    int redis = store_up(a->src.st);
    unsigned bound = up_bound_sessions(a->src.up);
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add_printf(b, "{\"ready\":%s,\"redis\":%s,\"upstream_bound\":%u",
                        redis && bound ? "true" : "false",
                        redis ? "true" : "false", bound);
    if (!redis || !bound)
        evbuffer_add_printf(b, ",\"missing\":[%s%s%s]", redis ? "" : "\"redis\"",
                            !redis && !bound ? "," : "",
                            bound ? "" : "\"upstream\"");
    /* connected, but Redis may drop what we store, or cannot take our
     * commands: say why (Redis's policy name or version in it: short
     * tokens, checked for quotes all the same) */
    const char *why = store_unready_reason(a->src.st);
    if (why && !strchr(why, '"') && !strchr(why, '\\'))
        evbuffer_add_printf(b, ",\"redis_reason\":\"%s\"", why);
    evbuffer_add(b, "}", 1);
    reply_json(req, redis && bound ? 200 : 503, b);
}

static void route_readyz(struct admin *a, struct evhttp_request *req)
{
    after_refresh(a, req, 1);
}

/* ---- /sessions ------------------------------------------------------ */

struct session_list {
    struct evbuffer *b;
    const char *account; /* filter, or NULL */
    unsigned n;
};

static void iso8601(uint64_t wall_ms, char *out, size_t cap)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "1970-01-01T00:00:00Z");
}

static void list_session(const struct down_session_info *s, void *arg)
{
    struct session_list *l = arg;
    char since[32];
    if (l->account && strcmp(l->account, s->account) != 0)
        return;
    iso8601(s->since_ms, since, sizeof since);
    evbuffer_add_printf(l->b, "%s{\"id\":%llu,\"account\":", l->n++ ? "," : "",
                        s->id);
    json_str(l->b, s->account);
    evbuffer_add_printf(l->b, ",\"bind_type\":\"%s\",\"peer\":", s->bind_type);
    json_str(l->b, s->peer);
    evbuffer_add_printf(l->b,
                        ",\"since\":\"%s\",\"submits\":%llu,\"ok\":%llu,"
                        "\"throttled\":%llu,\"refused\":%llu,\"delivered\":%llu,"
                        "\"window_refused\":%llu,\"inflight\":%u}",
                        since, s->submits, s->ok, s->throttled, s->refused,
                        s->delivered, s->window_refused, s->inflight);
}

/* The value of ?<key>= in <req>'s query, copied into <out>; 1 found. */
static int query_param(struct evhttp_request *req, const char *key, char *out,
                       size_t cap)
{
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *q = u ? evhttp_uri_get_query(u) : NULL;
    struct evkeyvalq params = {0};
    int found = 0;
    if (!q || evhttp_parse_query_str(q, &params) != 0)
        return 0;
    const char *v = evhttp_find_header(&params, key);
    if (v && strlen(v) < cap) {
        snprintf(out, cap, "%s", v);
        found = 1;
    }
    evhttp_clear_headers(&params);
    return found;
}

static void route_sessions_get(struct admin *a, struct evhttp_request *req)
{
    char account[ACCOUNT_ID_MAX + 1];
    struct session_list l = {.b = evbuffer_new()};
    if (!l.b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (query_param(req, "account", account, sizeof account))
        l.account = account;
    evbuffer_add(l.b, "[", 1);
    down_sessions(a->src.down, list_session, &l);
    evbuffer_add(l.b, "]", 1);
    reply_json(req, 200, l.b);
}

/* DELETE /sessions?account=ID: every bind of the account. */
static void route_sessions_kick_account(struct admin *a, struct evhttp_request *req)
{
    char account[64];
    if (!query_param(req, "account", account, sizeof account) || !*account) {
        reply_error(req, 400, "DELETE /sessions needs ?account=ID "
                              "(or use DELETE /sessions/ID)");
        return;
    }
    unsigned n = down_kick_account(a->src.down, account);
    if (n == 0) {
        reply_error(req, 404, "no session of that account on this instance");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "{\"unbound\":%u}", n);
    if (b)
        reply_json(req, 200, b);
    else
        evhttp_send_error(req, 500, NULL);
}

static void route_session_kick(struct admin *a, struct evhttp_request *req,
                               const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > 19 || strspn(id, "0123456789") != len) {
        reply_error(req, 404, "no such session");
        return;
    }
    unsigned long long sid = strtoull(id, NULL, 10);
    if (down_kick(a->src.down, sid) != 0) {
        reply_error(req, 404, "no such session");
        return;
    }
    reply(req, 204, NULL, NULL);
}

/* ---- /auth/blocks: the failed-bind limiter ------------------------- */

struct block_list {
    struct evbuffer *b;
    unsigned n;
};

static void list_block(const struct down_auth_block *k, void *arg)
{
    struct block_list *l = arg;
    evbuffer_add_printf(l->b, "%s{\"key\":", l->n++ ? "," : "");
    json_str(l->b, k->key);
    evbuffer_add_printf(l->b,
                        ",\"scope\":\"%s\",\"blocked\":%s,\"failures\":%u,"
                        "\"remaining_ms\":%llu}",
                        k->scope, k->blocked ? "true" : "false", k->failures,
                        (unsigned long long)k->remaining_ms);
}

/* GET /auth/blocks: every address and system_id@address pair with
 * failures counted on this instance, blocked or still counting. */
static void route_blocks_get(struct admin *a, struct evhttp_request *req)
{
    struct block_list l = {.b = evbuffer_new()};
    if (!l.b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(l.b, "[", 1);
    down_auth_blocks(a->src.down, list_block, &l);
    evbuffer_add(l.b, "]", 1);
    reply_json(req, 200, l.b);
}

/* DELETE /auth/blocks?key=ADDRESS|SYSTEM_ID|SYSTEM_ID@ADDRESS. */
static void route_blocks_delete(struct admin *a, struct evhttp_request *req)
{
    char key[128];
    if (!query_param(req, "key", key, sizeof key) || !*key) {
        reply_error(req, 400, "DELETE /auth/blocks needs "
                              "?key=ADDRESS|SYSTEM_ID|SYSTEM_ID@ADDRESS");
        return;
    }
    size_t n = down_auth_unblock(a->src.down, key);
    if (n == 0) {
        reply_error(req, 404, "nothing counted or blocked for that key");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "{\"unblocked\":%zu}", n);
    if (b)
        reply_json(req, 200, b);
    else
        evhttp_send_error(req, 500, NULL);
}

/* ---- /accounts/ID --------------------------------------------------- */

static void on_account(int status, const struct account *acct, void *arg)
{
    struct admin_wait *w = arg;
    char json[ACCOUNT_ALLOW_MAX * 6 + 512];
    if (status != 0)
        reply_error(w->req, 503, "account store unavailable");
    else if (!acct)
        reply_error(w->req, 404, "no such account");
    else if (account_to_json(acct, json, sizeof json) < 0)
        reply_error(w->req, 500, "account does not fit the output");
    else {
        struct evbuffer *b = evbuffer_new();
        if (b) {
            evbuffer_add(b, json, strlen(json));
            reply_json(w->req, 200, b);
        } else {
            evhttp_send_error(w->req, 500, NULL);
        }
    }
    wait_free(w);
}

static void account_get(struct admin_wait *w)
{
    if (store_account_get(w->a->src.st, w->id, on_account, w) != 0) {
        reply_error(w->req, 503, "account store unavailable");
        wait_free(w);
    }
}

static void on_account_updated(int status, unsigned changed, void *arg)
{
    struct admin_wait *w = arg;
    if (status != 0) {
        reply_error(w->req, 503, "account store unavailable");
        wait_free(w);
    } else if (!changed) {
        reply_error(w->req, 404, "no such account");
        wait_free(w);
    } else {
        log_info(TAG, "account %s changed on request", w->id);
        account_get(w); /* the account as it is now */
    }
}

static void account_write(struct admin_wait *w)
{
    if (store_account_update(w->a->src.st, w->id, w->names, w->values, w->n,
                             on_account_updated, w) != 0) {
        reply_error(w->req, 503, "account store unavailable");
        wait_free(w);
    }
}

static void *hash_main(void *arg)
{
    struct admin_wait *w = arg;
    w->hash_ok = auth_hash_password(w->password, w->pw_len, w->hash,
                                    sizeof w->hash) >= 0;
    ssize_t n;
    do
        n = write(w->pipe[1], "x", 1);
    while (n < 0 && errno == EINTR);
    return NULL;
}

static void on_hashed(evutil_socket_t fd, short what, void *arg)
{
    struct admin_wait *w = arg;
    (void)fd;
    (void)what;
    pthread_join(w->thread, NULL);
    w->hashing = 0;
    w->a->hashing--;
    OPENSSL_cleanse(w->password, sizeof w->password);
    if (!w->hash_ok) {
        reply_error(w->req, 500, "hashing the password failed");
        wait_free(w);
        return;
    }
    w->names[w->n] = "password";
    w->values[w->n++] = w->hash;
    account_write(w);
}

/* scrypt on a thread of its own; on_hashed continues on the loop. */
static int hash_start(struct admin_wait *w)
{
    struct admin *a = w->a;
    if (a->hashing >= MAX_HASHING || pipe(w->pipe) != 0)
        return -1;
    w->hashed_ev = event_new(a->base, w->pipe[0], EV_READ, on_hashed, w);
    if (!w->hashed_ev || event_add(w->hashed_ev, NULL) != 0 ||
        pthread_create(&w->thread, NULL, hash_main, w) != 0)
        return -1;
    w->hashing = 1;
    a->hashing++;
    return 0;
}

/* A JSON number that is a whole decimal within <max>, written back
 * canonical (no sign, no leading zeros) into <out>. */
static int whole_number(const struct admin_json_member *m, unsigned long max,
                        char *out, size_t cap)
{
    size_t len = strlen(m->value);
    if (m->type != ADMIN_JSON_NUMBER || len == 0 || len > 10 ||
        strspn(m->value, "0123456789") != len)
        return -1;
    unsigned long v = strtoul(m->value, NULL, 10);
    if (v > max)
        return -1;
    snprintf(out, cap, "%lu", v);
    return 0;
}

/* One member of the PUT body into <w>'s fields; NULL or the problem. */
static const char *put_field(struct admin_wait *w,
                             const struct admin_json_member *m, char *err,
                             size_t cap)
{
    static const struct {
        const char *name;
        unsigned long max;
    } numbers[] = {
        {"tps", ACCOUNT_TPS_MAX},
        {"max_binds", ACCOUNT_BINDS_MAX},
#ifdef ACCOUNT_QUOTA_MAX
        {"daily_quota", ACCOUNT_QUOTA_MAX},
#endif
        {"queue_max_messages", ACCOUNT_QUEUE_MSGS_MAX},
        {"queue_max_bytes", ACCOUNT_QUEUE_BYTES_MAX},
    };
    char *num = w->nums[w->n];
    for (size_t i = 0; i < ARRAY_LEN(numbers); i++) {
        if (strcmp(m->key, numbers[i].name) != 0)
            continue;
        if (whole_number(m, numbers[i].max, num, sizeof w->nums[0]) != 0) {
            snprintf(err, cap, "%s: a whole number from 0 to %lu", m->key,
                     numbers[i].max);
            return err;
        }
        w->names[w->n] = numbers[i].name;
        w->values[w->n++] = num;
        return NULL;
    }
    if (strcmp(m->key, "enabled") == 0) {
        if (m->type != ADMIN_JSON_TRUE && m->type != ADMIN_JSON_FALSE)
            return "enabled: true or false";
        w->names[w->n] = "enabled";
        w->values[w->n++] = m->type == ADMIN_JSON_TRUE ? "1" : "0";
        return NULL;
    }
    if (strcmp(m->key, "id_format") == 0) {
        enum account_id_format f;
        if (m->type != ADMIN_JSON_STRING || account_id_format_parse(m->value, &f) < 0)
            return "id_format: \"hex\" or \"dec\"";
        w->names[w->n] = "id_format";
        w->values[w->n++] = account_id_format_name(f);
        return NULL;
    }
    if (strcmp(m->key, "allow") == 0) {
        char why[AUTH_ERR_LEN];
        if (m->type != ADMIN_JSON_STRING || strlen(m->value) >= sizeof w->allow)
            return "allow: a string of CIDR blocks separated by commas";
        if (!auth_cidr_list_valid(m->value, why, sizeof why)) {
            snprintf(err, cap, "allow: %.200s", why);
            return err;
        }
        snprintf(w->allow, sizeof w->allow, "%s", m->value);
        w->names[w->n] = "allow";
        w->values[w->n++] = w->allow;
        return NULL;
    }
    if (strcmp(m->key, "password") == 0) {
        size_t len = strlen(m->value);
        if (m->type != ADMIN_JSON_STRING || len == 0 || len > SMPP_PASSWORD_MAX)
            return "password: 1 to 8 characters (SMPP's limit)";
        memcpy(w->password, m->value, len + 1);
        w->pw_len = len;
        return NULL;
    }
    snprintf(err, cap, "unknown field '%.60s'", m->key);
    return err;
}

/* The PUT body into <w>; NULL or what is wrong with it. */
static const char *put_parse(struct admin_wait *w, struct evbuffer *body,
                             char *err, size_t cap)
{
    static struct admin_json_member members[ADMIN_JSON_MAX_KEYS];
    size_t len = evbuffer_get_length(body);
    const char *text = len ? (const char *)evbuffer_pullup(body, -1) : "";
    int n = admin_json_object(text, len, members, ARRAY_LEN(members), err, cap);
    if (n < 0)
        return err;
    if (n == 0)
        return "nothing to change";
    for (int i = 0; i < n; i++) {
        if (w->n + 2 >= PUT_FIELDS)
            return "too many fields";
        const char *why = put_field(w, &members[i], err, cap);
        if (why) {
            OPENSSL_cleanse(members, sizeof members);
            return why;
        }
    }
    OPENSSL_cleanse(members, sizeof members); /* a password may be there */
    snprintf(w->nums[PUT_FIELDS - 1], sizeof w->nums[0], "%lld",
             (long long)time(NULL));
    w->names[w->n] = "updated";
    w->values[w->n++] = w->nums[PUT_FIELDS - 1];
    return NULL;
}

static void route_account(struct admin *a, struct evhttp_request *req,
                          const char *raw_id, int put)
{
    char err[256];
    size_t id_len = 0;
    char *id = evhttp_uridecode(raw_id, 0, &id_len);
    if (!id || id_len != strlen(id) || !account_id_valid(id)) {
        free(id);
        reply_error(req, 404, "no such account");
        return;
    }
    struct admin_wait *w = wait_new(a, req);
    if (!w) {
        free(id);
        reply_error(req, 500, "out of memory");
        return;
    }
    snprintf(w->id, sizeof w->id, "%s", id);
    free(id);
    if (!put) {
        account_get(w);
        return;
    }
    const char *why = put_parse(w, evhttp_request_get_input_buffer(req), err,
                                sizeof err);
    if (why) {
        reply_error(req, 400, why);
        wait_free(w);
    } else if (!store_up(a->src.st)) {
        reply_error(req, 503, "account store unavailable");
        wait_free(w);
    } else if (w->pw_len && hash_start(w) != 0) {
        reply_error(req, 503, "busy hashing passwords: try again");
        wait_free(w);
    } else if (!w->pw_len) {
        account_write(w);
    }
}

/* ---- routing -------------------------------------------------------- */

#define M_GET (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

/* 1 when the request may go on: no token configured, or the right one. */
static int authorized(const struct admin *a, struct evhttp_request *req)
{
    const char *token = a->cfg->admin.token;
    if (!*token)
        return 1;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
                                       "Authorization");
    size_t tlen = strlen(token);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return strlen(h) == tlen && CRYPTO_memcmp(h, token, tlen) == 0;
}

static void method_not_allowed(struct evhttp_request *req, const char *allow)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    reply_error(req, 405, "method not allowed");
}

static void dispatch(struct admin *a, struct evhttp_request *req,
                     const char *path, enum evhttp_cmd_type m)
{
    int get = (m & M_GET) != 0;
    if (!strcmp(path, "/metrics") || !strcmp(path, "/healthz") ||
        !strcmp(path, "/readyz")) {
        if (!get)
            method_not_allowed(req, "GET, HEAD");
        else if (path[1] == 'm')
            route_metrics(a, req);
        else if (path[1] == 'h')
            route_healthz(a, req);
        else
            route_readyz(a, req);
    } else if (!strcmp(path, "/sessions")) {
        if (get)
            route_sessions_get(a, req);
        else if (m == EVHTTP_REQ_DELETE)
            route_sessions_kick_account(a, req);
        else
            method_not_allowed(req, "GET, HEAD, DELETE");
    } else if (!strncmp(path, "/sessions/", 10)) {
        if (m == EVHTTP_REQ_DELETE)
            route_session_kick(a, req, path + 10);
        else
            method_not_allowed(req, "DELETE");
    } else if (!strcmp(path, "/auth/blocks")) {
        if (get)
            route_blocks_get(a, req);
        else if (m == EVHTTP_REQ_DELETE)
            route_blocks_delete(a, req);
        else
            method_not_allowed(req, "GET, HEAD, DELETE");
    } else if (!strncmp(path, "/accounts/", 10) && path[10] &&
               !strchr(path + 10, '/')) {
        if (get || m == EVHTTP_REQ_PUT)
            route_account(a, req, path + 10, m == EVHTTP_REQ_PUT);
        else
            method_not_allowed(req, "GET, HEAD, PUT");
    } else {
        reply_error(req, 404, "not found");
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
    const char *path = u ? evhttp_uri_get_path(u) : NULL;
    if (!authorized(a, req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req),
                          "WWW-Authenticate", "Bearer realm=\"smppbridge\"");
        reply_error(req, 401, "a valid bearer token is required");
        return;
    }
    if (!path || path[0] != '/') {
        reply_error(req, 400, "bad request target");
        return;
    }
    dispatch(a, req, path, evhttp_request_get_command(req));
}

/* ---- life cycle ----------------------------------------------------- */

/* ---- accept errors -------------------------------------------------- */

#define ACCEPT_PAUSE_MS 250

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

/* accept() failed (out of descriptors, usually): pause the listener for
 * a moment instead of letting libevent retry at once, for ever. The
 * callback's argument is evhttp's, so the resume is a one-shot event of
 * the base (freed with it if it never fires) and the log budget is the
 * process's: there is one admin server. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    static struct log_ratelimit budget;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    (void)arg;
    evconnlistener_disable(l);
    if (event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT,
                        on_accept_resume, l, &tv) != 0)
        evconnlistener_enable(l); /* out of memory: as before */
    if (log_ratelimit_allow(&budget, clock_mono_ms(), 3, 60000))
        log_warn(TAG, "accept() failed: %s: paused for %d ms", strerror(err),
                 ACCEPT_PAUSE_MS);
}

struct admin *admin_new(struct event_base *base, const struct conf *cfg,
                        const struct admin_sources *src, char *err, size_t cap)
{
    char host[CONF_STR], nerr[NET_ERR_LEN];
    int port;
    *err = '\0';
    if (!*cfg->admin.listen)
        return NULL;
    if (net_split_hostport(cfg->admin.listen, host, sizeof host, &port, nerr) != 0) {
        snprintf(err, cap, "[admin] listen %s: %s", cfg->admin.listen, nerr);
        return NULL;
    }
    struct admin *a = calloc(1, sizeof *a);
    if (!a || !(a->http = evhttp_new(base))) {
        free(a);
        snprintf(err, cap, "[admin]: out of memory");
        return NULL;
    }
    a->base = base;
    a->cfg = cfg;
    a->src = *src;
    a->start_time = (double)clock_wall_ms() / 1000.0;
    register_families(a);
    evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
    evhttp_set_max_headers_size(a->http, MAX_HEADERS);
    evhttp_set_timeout(a->http, CLIENT_TIMEOUT_S);
    /* every method reaches the router, which answers 405 with Allow */
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                            EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
                                            EVHTTP_REQ_PATCH);
    evhttp_set_gencb(a->http, on_request, a);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(a->http, host, (ev_uint16_t)port);
    if (!bound) {
        snprintf(err, cap, "[admin] cannot listen on %s", cfg->admin.listen);
        admin_free(a);
        return NULL;
    }
    /* evhttp's listener shares the descriptor limit with the SMPP ones:
     * out of descriptors, it must pause too rather than spin */
    evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bound),
                                on_accept_error);
    log_info(TAG, "listening on %s%s", cfg->admin.listen,
             *cfg->admin.token ? " (bearer token required)" : "");
    return a;
}

void admin_free(struct admin *a)
{
    if (!a)
        return;

    while (a->waits)
        wait_free(a->waits);
    free(a->refresh); /* its callbacks never come: the store goes next */
    if (a->http)
        evhttp_free(a->http);
    free(a);
}

/* ---- JSON bodies ---------------------------------------------------- */

struct jp {
    const char *start, *p, *end;
    char *err;
    size_t cap;
};

static int jp_fail(struct jp *j, const char *what)
{
    snprintf(j->err, j->cap, "invalid JSON: %s at offset %zu", what,
             (size_t)(j->p - j->start));
    return -1;
}

static void jp_ws(struct jp *j)
{
    while (j->p < j->end &&
           (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jp_hex4(struct jp *j, unsigned *out)
{
    unsigned v = 0;
    if (j->end - j->p < 4)
        return jp_fail(j, "short \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return jp_fail(j, "bad \\u escape");
    }
    *out = v;
    return 0;
}

/* \uXXXX (and its low surrogate when it is a high one) as a code point. */
static int jp_codepoint(struct jp *j, unsigned *cp)
{
    if (jp_hex4(j, cp) != 0)
        return -1;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return jp_fail(j, "lone low surrogate");
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        unsigned lo;
        if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
            return jp_fail(j, "lone high surrogate");
        j->p += 2;
        if (jp_hex4(j, &lo) != 0)
            return -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return jp_fail(j, "bad low surrogate");
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (*cp == 0)
        return jp_fail(j, "NUL in a string");
    return 0;
}

static int jp_put(struct jp *j, char *out, size_t cap, size_t *n,
                  const char *bytes, size_t len)
{
    if (*n + len >= cap)
        return jp_fail(j, "string too long");
    memcpy(out + *n, bytes, len);
    *n += len;
    return 0;
}

static int jp_utf8(struct jp *j, char *out, size_t cap, size_t *n, unsigned cp)
{
    char b[4];
    size_t len;
    if (cp < 0x80) {
        b[0] = (char)cp;
        len = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        len = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        len = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        len = 4;
    }
    return jp_put(j, out, cap, n, b, len);
}

/* A string at j->p (its opening quote) into <out>, NUL-terminated. */
static int jp_string(struct jp *j, char *out, size_t cap)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    size_t n = 0;
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20)
            return jp_fail(j, "control character in a string");
        j->p++;
        if (c != '\\') {
            if (jp_put(j, out, cap, &n, (const char *)&c, 1) != 0)
                return -1;
            continue;
        }
        if (j->p == j->end)
            break;
        char e = *j->p++;
        const char *k = e ? strchr(from, e) : NULL;
        unsigned cp;
        if (k) {
            if (jp_put(j, out, cap, &n, &to[k - from], 1) != 0)
                return -1;
        } else if (e != 'u') {
            return jp_fail(j, "bad escape");
        } else if (jp_codepoint(j, &cp) != 0 || jp_utf8(j, out, cap, &n, cp) != 0) {
            return -1;
        }
    }
    if (j->p == j->end)
        return jp_fail(j, "unterminated string");
    j->p++;
    out[n] = '\0';
    return 0;
}

static int jp_digits(struct jp *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? as written. */
static int jp_number(struct jp *j, char *out, size_t cap)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (jp_digits(j) != 0)
        return jp_fail(j, "bad number");
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (jp_digits(j) != 0)
            return jp_fail(j, "bad fraction");
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (jp_digits(j) != 0)
            return jp_fail(j, "bad exponent");
    }
    size_t len = (size_t)(j->p - s);
    if (len >= cap)
        return jp_fail(j, "number too long");
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

static int jp_value(struct jp *j, struct admin_json_member *m)
{
    static const struct {
        const char *text;
        enum admin_json_type type;
    } words[] = {{"true", ADMIN_JSON_TRUE},
                 {"false", ADMIN_JSON_FALSE},
                 {"null", ADMIN_JSON_NULL}};
    if (j->p == j->end)
        return jp_fail(j, "value expected");
    if (*j->p == '"') {
        m->type = ADMIN_JSON_STRING;
        return jp_string(j, m->value, sizeof m->value);
    }
    if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
        m->type = ADMIN_JSON_NUMBER;
        return jp_number(j, m->value, sizeof m->value);
    }
    for (size_t i = 0; i < ARRAY_LEN(words); i++) {
        size_t len = strlen(words[i].text);
        if ((size_t)(j->end - j->p) >= len && memcmp(j->p, words[i].text, len) == 0) {
            j->p += len;
            m->type = words[i].type;
            m->value[0] = '\0';
            return 0;
        }
    }
    return jp_fail(j, *j->p == '{' || *j->p == '[' ? "nested value" : "bad value");
}

static int jp_member(struct jp *j, struct admin_json_member *out, size_t n)
{
    struct admin_json_member *m = &out[n];
    if (j->p == j->end || *j->p != '"')
        return jp_fail(j, "key expected");
    if (jp_string(j, m->key, sizeof m->key) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(out[i].key, m->key) == 0)
            return jp_fail(j, "duplicate key");
    jp_ws(j);
    if (j->p == j->end || *j->p != ':')
        return jp_fail(j, "':' expected");
    j->p++;
    jp_ws(j);
    return jp_value(j, m);
}

int admin_json_object(const char *text, size_t len,
                      struct admin_json_member *out, size_t max, char *err,
                      size_t cap)
{
    struct jp j = {.start = text, .p = text, .end = text + len, .err = err, .cap = cap};
    size_t n = 0;
    jp_ws(&j);
    if (j.p == j.end || *j.p != '{')
        return jp_fail(&j, "object expected");
    j.p++;
    jp_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            if (n == max)
                return jp_fail(&j, "too many members");
            if (jp_member(&j, out, n) != 0)
                return -1;
            n++;
            jp_ws(&j);
            if (j.p < j.end && *j.p == ',') {
                j.p++;
                jp_ws(&j);
                continue;
            }
            if (j.p < j.end && *j.p == '}') {
                j.p++;
                break;
            }
            return jp_fail(&j, "',' or '}' expected");
        }
    }
    jp_ws(&j);
    if (j.p != j.end)
        return jp_fail(&j, "text after the object");
    return (int)n;
}
