/*
 * acceptgate.c - connection limits and accept-error backoff for the
 * customer-facing listeners.
 */
#include "common.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "acceptgate.h"
#include "clock.h"
#include "conf.h"
#include "connlimit.h"
#include "log.h"
#include "metrics.h"
#include "net.h"

#define TAG "accept"
#define MAX_LISTENERS 16
#define PAUSE_MIN_MS 10u
#define PAUSE_MAX_MS 1000u
/* log budget for refusals and pauses: a few lines a minute at most */
#define LOG_LINES 3u
#define LOG_WINDOW_MS 60000u

struct accept_gate {
    struct event_base *base;
    struct connlimit *limits;
    struct evconnlistener *listeners[MAX_LISTENERS];
    int n_listeners;
    struct event *resume_ev;
    unsigned pause_ms;          /* the next pause; 0: none yet */
    int paused, stopped;
    unsigned long long pauses;  /* since the last pause line */
    struct log_ratelimit refused_log, pause_log;
    struct metrics_family *m_refused, *m_paused, *m_open;
};

/* The global cap: max_connections, or what the descriptor limit leaves
 * after the bridge's own needs, whichever is lower. */
static unsigned global_cap(const struct conf *cfg, const char **why)
{
    unsigned cap = cfg->server.max_connections;
    unsigned long long own = cfg->server.fd_reserve;
    struct rlimit nofile;
    *why = "max_connections";
    for (int i = 0; i < cfg->n_upstreams; i++)
        own += (unsigned long long)cfg->upstreams[i].sessions *
               (cfg->upstreams[i].bind == CONF_BIND_TX_RX ? 2 : 1);
    if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur == RLIM_INFINITY)
        return cap;
    unsigned long long left = nofile.rlim_cur > own ? nofile.rlim_cur - own : 1;
    if (left < cap) {
        cap = (unsigned)left;
        *why = "descriptor limit less fd_reserve and upstream sessions";
    }
    return cap;
}

static void limits_of(const struct conf *cfg, struct connlimit_config *lc)
{
    const char *why;
    lc->max_total = global_cap(cfg, &why);
    lc->max_per_address = cfg->server.max_connections_per_address;
    lc->rate_per_s = cfg->server.accepts_per_second_per_address;
    lc->burst = cfg->server.accept_burst_per_address;
    log_event(LOG_INFO, TAG,
              LOG_FIELDS("max_connections", LOG_NUM(lc->max_total), "from", why),
              "connection cap %u (%s); %u per address, %u/s (burst %u) per "
              "address",
              lc->max_total, why, lc->max_per_address, lc->rate_per_s,
              lc->burst);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct accept_gate *g = arg;
    (void)fd;
    (void)what;
    g->paused = 0;
    if (g->stopped)
        return;
    for (int i = 0; i < g->n_listeners; i++)
        evconnlistener_enable(g->listeners[i]);
}

static int out_of_descriptors(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* Pause every listener for g->pause_ms, and double it for next time. */
static void pause_listeners(struct accept_gate *g, int err)
{
    uint64_t now = clock_mono_ms();
    unsigned ms = g->pause_ms ? g->pause_ms : PAUSE_MIN_MS;
    for (int i = 0; i < g->n_listeners; i++)
        evconnlistener_disable(g->listeners[i]);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(g->resume_ev, &tv);
    g->paused = 1;
    g->pause_ms = ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : ms * 2;
    g->pauses++;
    metrics_add(g->m_paused, 1, NULL);
    if (!log_ratelimit_allow(&g->pause_log, now, LOG_LINES, LOG_WINDOW_MS))
        return;
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("error", strerror(err), "pause_ms", LOG_NUM(ms),
                         "pauses", LOG_NUM(g->pauses)),
              "accept() failed: %s: listeners paused for %u ms (%llu pause(s) "
              "since the last such line); raise ulimit -n or lower "
              "max_connections",
              strerror(err), ms, g->pauses);
    g->pauses = 0;
}

void gate_accept_failed(struct accept_gate *g, int err)
{
    if (g->stopped || g->paused)
        return;
    if (out_of_descriptors(err)) {
        pause_listeners(g, err);
        return;
    }
    if (log_ratelimit_allow(&g->pause_log, clock_mono_ms(), LOG_LINES,
                            LOG_WINDOW_MS))
        log_warn(TAG, "accept() failed: %s", strerror(err));
}

void gate_accepted(struct accept_gate *g)
{
    g->pause_ms = 0;
}

int gate_add_listener(struct accept_gate *g, struct evconnlistener *l)
{
    if (g->n_listeners == MAX_LISTENERS)
        return -1;
    g->listeners[g->n_listeners++] = l;
    return 0;
}

static void log_refusal(struct accept_gate *g, enum connlimit_verdict v,
                        const struct sockaddr *peer)
{
    char who[64];
    if (!log_ratelimit_allow(&g->refused_log, clock_mono_ms(), LOG_LINES,
                             LOG_WINDOW_MS))
        return;
    net_format_peer(peer, who, sizeof who);
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("peer", who, "reason", connlimit_verdict_name(v),
                         "open", LOG_NUM(connlimit_total(g->limits))),
              "[- %s] connection closed at once: over the %s limit (%llu more "
              "refused since the last such line; %u open)",
              who, connlimit_verdict_name(v), g->refused_log.suppressed,
              connlimit_total(g->limits));
    g->refused_log.suppressed = 0;
}

int gate_admit(struct accept_gate *g, const char *key,
               const struct sockaddr *peer, unsigned extra)
{
    enum connlimit_verdict v =
        connlimit_total(g->limits) + extra >= connlimit_max_total(g->limits)
            ? CONNLIMIT_GLOBAL
        : key ? connlimit_admit(g->limits, key, clock_mono_ms())
              : CONNLIMIT_OK;
    if (v == CONNLIMIT_OK) {
        metrics_set(g->m_open, connlimit_total(g->limits), NULL);
        return 0;
    }
    metrics_add(g->m_refused, 1, METRICS_LABELS(connlimit_verdict_name(v)));
    log_refusal(g, v, peer);
    return -1;
}

void gate_release(struct accept_gate *g, const char *key)
{
    connlimit_release(g->limits, key);
    metrics_set(g->m_open, connlimit_total(g->limits), NULL);
}

struct accept_gate *gate_new(struct event_base *base, const struct conf *cfg)
{
    struct accept_gate *g = calloc(1, sizeof *g);
    struct connlimit_config lc;
    if (!g)
        return NULL;
    g->base = base;
    limits_of(cfg, &lc);
    g->limits = connlimit_new(&lc);
    g->resume_ev = evtimer_new(base, on_resume, g);
    if (!g->limits || !g->resume_ev) {
        gate_free(g);
        return NULL;
    }
    struct metrics *m = metrics_default();
    g->m_refused = metrics_family(
        m, METRICS_COUNTER, "smppbridge_connections_refused_total",
        "Connections closed as soon as accepted, by the limit they hit.",
        "reason");
    g->m_paused = metrics_family(
        m, METRICS_COUNTER, "smppbridge_accept_pauses_total",
        "Times the listeners paused because accept() ran out of descriptors.",
        NULL);
    g->m_open = metrics_family(m, METRICS_GAUGE, "smppbridge_connections",
                               "Customer connections open, bound or not.",
                               NULL);
    return g;
}

void gate_free(struct accept_gate *g)
{
    if (!g)
        return;
    if (g->resume_ev)
        event_free(g->resume_ev);
    connlimit_free(g->limits);
    free(g);
}

void gate_configure(struct accept_gate *g, const struct conf *cfg)
{
    struct connlimit_config lc;
    limits_of(cfg, &lc);
    connlimit_configure(g->limits, &lc);
}

void gate_stop(struct accept_gate *g)
{
    g->stopped = 1;
    event_del(g->resume_ev);
    for (int i = 0; i < g->n_listeners; i++)
        evconnlistener_disable(g->listeners[i]);
}

unsigned gate_open(const struct accept_gate *g)
{
    return connlimit_total(g->limits);
}
