/*
 * main.c - smppbridge: arguments, configuration, the event loop, and the
 * order in which the modules start and stop.
 *
 *   smppbridge -c FILE           run in the foreground
 *   smppbridge -c FILE --check   validate FILE, print problems, exit
 *
 * Start: store (Redis) -> relay -> downstream listeners -> upstream
 * connectors. SIGTERM/SIGINT: stop accepting, stop taking from the queue,
 * unbind the customers, wait (bounded) until every message sent upstream
 * has its answer recorded, unbind upstream, exit. What is not finished is
 * still in Redis and is taken over by another instance or the next start.
 * A second signal exits at once.
 *
 * SIGHUP: reload the configuration file (see reload_config below).
 */
#include "common.h"

#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "clock.h"
#include "conf.h"
#include "downstream.h"
#include "evprio.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "relay.h"
#include "reload.h"
#include "store.h"
#include "throttle.h"
#include "upstream.h"

#define TAG "main"
#define DRAIN_LIMIT_S 10
#define ERRS_CAP 8192

struct bridge {
    struct conf cfg;
    struct event_base *base;
    struct store *st;
    struct throttle *thr;
    struct down *down;
    struct up *up;
    struct relay *relay;
    struct admin *admin;
    struct event *sig_term, *sig_int, *drain_ev;
    struct event *sig_hup;
    int draining;
    uint64_t drain_deadline_ms;
};

/* libevent's own warnings ("Error from accept() call", ...) through our
 * logger, at most a few lines a minute: some of them can repeat at the
 * rate of a busy loop, and must not fill the disk. */
static void on_libevent_log(int severity, const char *msg)
{
    static struct log_ratelimit budget;
    enum log_level level = severity >= EVENT_LOG_ERR  ? LOG_ERROR
                         : severity >= EVENT_LOG_WARN ? LOG_WARN
                         : severity >= EVENT_LOG_MSG  ? LOG_INFO
                                                      : LOG_DEBUG;
    if (level < log_get_level() ||
        !log_ratelimit_allow(&budget, clock_mono_ms(), 5, 60000))
        return;
    log_msg(level, "libevent", "%s (%llu similar lines left out)", msg,
            budget.suppressed);
    budget.suppressed = 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: smppbridge -c FILE [--check]\n"
                 "  -c, --config FILE   configuration (see conf/smppbridge.conf)\n"
                 "      --check         validate the configuration and exit\n"
                 "  -h, --help\n");
}

/* Every 200 ms while draining: done when every customer is gone (each
 * got the answers to what it sent, then unbind) and every message sent
 * upstream has its answer recorded in Redis; or at DRAIN_LIMIT_S. What
 * was read from the queue and not sent stays pending there. */
static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct bridge *b = arg;
    (void)fd;
    (void)what;
    unsigned left = up_unanswered(b->up), binds = down_bind_count(b->down);
    if ((left == 0 && binds == 0) || clock_mono_ms() >= b->drain_deadline_ms) {
        if (left || binds)
            log_warn(TAG, "drain limit: %u customer bind(s) left, %u message(s) "
                     "sent upstream without an answer (pending in the queue)",
                     binds, left);
        else
            log_info(TAG, "drained: unbinding upstream");
        up_unbind_all(b->up);
        struct timeval tv = {1, 0};
        event_base_loopexit(b->base, &tv);
        event_del(b->drain_ev);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct bridge *b = arg;
    (void)what;
    if (b->draining) {
        log_warn(TAG, "second signal: exiting now");
        event_base_loopbreak(b->base);
        return;
    }
    b->draining = 1;
    b->drain_deadline_ms = clock_mono_ms() + DRAIN_LIMIT_S * 1000ull;
    log_info(TAG, "signal %d: draining (%u binds, %u messages in flight)",
             (int)sig, down_bind_count(b->down), up_in_memory(b->up));
    down_stop_accepting(b->down);
    up_stop(b->up);
    down_unbind_all(b->down);
    struct timeval tv = {0, 200000};
    b->drain_ev = event_new(b->base, -1, EV_PERSIST, on_drain_tick, b);
    event_add(b->drain_ev, &tv);
}

/* ---- reload (SIGHUP) ------------------------------------------------ */

/* Each line of <errs> ("FILE:LINE: message", the lines --check prints)
 * as an error in the log. */
static void log_conf_errors(const char *errs)
{
    for (const char *p = errs; *p;) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        if (n)
            log_error(TAG, "reload: %.*s", n, p);
        p += n + (nl != NULL);
    }
}

/* A new context for the TLS listeners into *<out> (NULL when there are
 * none). The files are read again even when their names did not change:
 * that is how a renewed certificate is taken. -1 with <err>. */
static int reload_tls(const struct conf_tls *tls, SSL_CTX **out, char *err,
                      size_t cap)
{
    char nerr[NET_ERR_LEN];
    *out = NULL;
    if (!tls->n_listen)
        return 0;
    *out = net_tls_server_ctx(tls->cert, tls->key, tls->ca, nerr);
    if (!*out)
        snprintf(err, cap, "[tls]: %s", nerr);
    return *out ? 0 : -1;
}

/* "<label><what>" after what <out> holds, "; " between; nothing for an
 * empty <what>. */
static void append(char *out, size_t cap, const char *label, const char *what)
{
    size_t len = strlen(out);
    if (*what && len < cap)
        snprintf(out + len, cap - len, "%s%s%s", len ? "; " : "", label, what);
}

/*
 * SIGHUP: read the configuration file again. Invalid - a problem in the
 * file, a TLS certificate that does not load, an upstream connector that
 * cannot be prepared -: every reason is logged and nothing changes.
 * Valid: what can change live is applied (reload.h; upstream connectors:
 * up_reload), what cannot keeps its running value and is named as
 * needing a restart, and one line says what changed.
 */
static void reload_config(struct bridge *b)
{
    static struct conf next, before;
    static char errs[ERRS_CAP];
    char changed[512], restart[512], ups[1024], err[512], line[2600] = "";
    SSL_CTX *tls = NULL;
    log_info(TAG, "SIGHUP: reloading %s", b->cfg.path);
    if (conf_load(b->cfg.path, &next, errs, sizeof errs) != 0) {
        log_conf_errors(errs);
        log_error(TAG, "reload refused: %s is invalid; the running "
                  "configuration is kept", b->cfg.path);
        return;
    }
    reload_merge(&b->cfg, &next, changed, sizeof changed, restart,
                 sizeof restart);
    /* the new level first: what the connectors log as they change is
     * logged at it */
    log_set_level((enum log_level)next.log.level);
    log_set_format((enum log_format)next.log.format);
    if (reload_tls(&next.tls, &tls, err, sizeof err) != 0 ||
        up_reload(b->up, &next, ups, sizeof ups, err, sizeof err) != 0) {
        if (tls)
            SSL_CTX_free(tls);
        log_set_level((enum log_level)b->cfg.log.level);
        log_set_format((enum log_format)b->cfg.log.format);
        log_error(TAG, "reload refused: %s; the running configuration is kept",
                  err);
        return;
    }
    before = b->cfg;
    b->cfg = next; /* the modules read it through their pointers */
    down_reload(b->down, &before.server, tls);
    append(line, sizeof line, "", ups);
    append(line, sizeof line, "changed ", changed);
    append(line, sizeof line, "needs a restart (running value kept): ", restart);
    append(line, sizeof line, "", tls ? "TLS certificate reloaded" : "");
    log_info(TAG, "reload: %s", line[0] ? line : "nothing changed");
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct bridge *b = arg;
    (void)sig;
    (void)what;
    if (b->draining)
        log_warn(TAG, "SIGHUP while draining: ignored");
    else
        reload_config(b);
}

static void on_store_event(const char *kind, const char *id, void *arg)
{
    struct bridge *b = arg;
    if (strcmp(kind, "account") == 0)
        down_account_changed(b->down, id);
    else if (strcmp(kind, "numbers") == 0)
        relay_reload_routes(b->relay);
    else if (strcmp(kind, "dlr") == 0)
        relay_receiver_ready(b->relay, id); /* stored elsewhere for us? */
}

static void on_store_state(int up, void *arg)
{
    struct bridge *b = arg;
    if (!up)
        log_warn(TAG, "Redis unavailable: submits answered ESME_RMSGQFUL");
    else if (b->relay)
        relay_reload_routes(b->relay); /* changes made meanwhile */
}

/*
 * This run's identity: queue consumer name and owner of its leases. Host
 * name and first listener keep it readable in logs and XINFO; a random
 * 64-bit tag makes it unique, since two hosts may share a name (and
 * then a consumer: each would take the other's unfinished entries as its
 * own). The cost: a restarted instance no longer finds its unfinished
 * entries under its name; they are claimed after [queue] claim_idle like
 * those of any instance that went away.
 */
static void instance_identity(const struct bridge *b, char *out, size_t cap)
{
    char host[64] = "localhost";
    unsigned char r[8];
    uint64_t tag = 0;
    gethostname(host, sizeof host - 1);
    if (RAND_bytes(r, sizeof r) != 1) {
        /* no entropy source: time and pid still tell two runs apart */
        uint64_t t = clock_mono_us() ^ (uint64_t)getpid() << 40;
        memcpy(r, &t, sizeof r);
    }
    for (size_t i = 0; i < sizeof r; i++)
        tag = tag << 8 | r[i];
    snprintf(out, cap, "%.40s/%.200s#%016" PRIx64, host,
             b->cfg.server.n_listen ? b->cfg.server.listen[0] : b->cfg.tls.listen[0],
             tag);
    log_event(LOG_INFO, TAG, LOG_FIELDS("instance", out),
              "instance identity %s", out);
}

static int start(struct bridge *b)
{
    char err[512], consumer[320];
    instance_identity(b, consumer, sizeof consumer);
    b->base = event_base_new();
    /* before any event exists: upstream first, customers last (evprio.h) */
    if (!b->base || event_base_priority_init(b->base, EVPRIO_COUNT) != 0)
        return -1;
    clock_loop_attach(b->base); /* the hot path's clock: once per turn */
    b->st = store_new(b->base, &b->cfg.redis, consumer);
    if (!b->st)
        return -1;
    store_on_event(b->st, on_store_event, b);
    b->thr = throttle_new(b->base, b->st);
    if (!b->thr)
        return -1;
    store_on_state(b->st, on_store_state, b);
    /* downstream tells the relay when a receiver is ready; the relay asks
     * downstream for receivers: the hook context is set once both exist */
    struct down_hooks dh = {.receiver_ready = relay_receiver_ready};
    b->down = down_new(b->base, &b->cfg, b->st, b->thr, &dh, NULL);
    b->relay = b->down ? relay_new(b->base, &b->cfg, b->st, b->down) : NULL;
    if (!b->relay)
        return -1;
    down_set_hooks_ctx(b->down, b->relay);
    struct up_hooks uh = {.on_deliver = relay_on_upstream_deliver,
                          .on_failed = relay_on_failed};
    b->up = up_new(b->base, &b->cfg, b->st, b->thr, &uh, b->relay);
    if (b->up)
        down_set_forwarder(b->down, up_forward, b->up);
    if (!b->up || down_listen(b->down, err, sizeof err) != 0 ||
        up_start(b->up, err, sizeof err) != 0) {
        fprintf(stderr, "smppbridge: %s\n", err);
        return -1;
    }
    /* Operators' window, not the service: a port taken (another instance
     * on this host) costs the admin server, never the customers. */
    struct admin_sources src = {b->st, b->down, b->up, b->relay};
    b->admin = admin_new(b->base, &b->cfg, &src, err, sizeof err);
    if (!b->admin && *err)
        log_error(TAG, "%s: running without the admin server", err);
    b->sig_term = evsignal_new(b->base, SIGTERM, on_signal, b);
    b->sig_int = evsignal_new(b->base, SIGINT, on_signal, b);
    evsignal_add(b->sig_term, NULL);
    evsignal_add(b->sig_int, NULL);
    b->sig_hup = evsignal_new(b->base, SIGHUP, on_hup, b);
    evsignal_add(b->sig_hup, NULL);
    return 0;
}

static void stop(struct bridge *b)
{
    admin_free(b->admin); /* first: it reads the others */
    up_free(b->up);
    down_free(b->down);
    relay_free(b->relay);
    store_free(b->st); /* drops what is pending, without calling back */
    throttle_free(b->thr);
    if (b->sig_term)
        event_free(b->sig_term);
    if (b->sig_int)
        event_free(b->sig_int);
    if (b->sig_hup)
        event_free(b->sig_hup);
    if (b->drain_ev)
        event_free(b->drain_ev);
    clock_loop_attach(NULL); /* the base goes: each read is a read again */
    if (b->base)
        event_base_free(b->base);
    metrics_default_free();
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct bridge b;
    static char errs[ERRS_CAP];
    const char *path = NULL;
    int check = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 'k': check = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!path || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (conf_load(path, &b.cfg, errs, sizeof errs) != 0) {
        fputs(errs, stderr);
        return 1;
    }
    if (check) {
        printf("%s: configuration OK\n", path);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    /* the jitter of reconnects and leases: instances started together must
     * not draw the same numbers, or they stay in step */
    srand((unsigned)(getpid() ^ clock_mono_us() ^ clock_wall_ms()));
    /* thousands of binds need thousands of descriptors: take what the
     * hard limit allows */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    log_set_level((enum log_level)b.cfg.log.level);
    log_set_format((enum log_format)b.cfg.log.format);
    event_set_log_callback(on_libevent_log);
    log_info(TAG, "starting with %s: %d listener(s), %d upstream connector(s)",
             path, b.cfg.server.n_listen + b.cfg.tls.n_listen, b.cfg.n_upstreams);
    int rc = start(&b) == 0 ? 0 : 1;
    if (rc == 0)
        event_base_dispatch(b.base);
    stop(&b);
    log_info(TAG, "stopped");
    return rc;
}
