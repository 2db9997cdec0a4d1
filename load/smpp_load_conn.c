/*
 * smpp_load_conn.c - the bind slots: connect, bind, inbound PDUs, close,
 * reconnect.
 *
 * Slots 0..ntx-1 transmit (TRX, or TX with --bind tx); the slots after
 * them are receivers (RX). A slot keeps its place when its session dies,
 * so round robin and counters stay simple; with --reconnect it dials
 * again after a second, while the run still needs it.
 */
#include "common.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "smpp_load.h"

#define RECONNECT_DELAY_MS 1000u
#define INTERFACE_VERSION_34 0x34u

const char *smpp_load_bind_name(enum sess_bind_type t)
{
    return t == SESS_BIND_TX ? "tx" : t == SESS_BIND_RX ? "rx" : "trx";
}

static int conn_connect(struct smpp_load_conn *c);

static void on_connected(struct sess *s, void *ctx)
{
    struct smpp_load_conn *c = ctx;
    const struct smpp_load_opts *o = &c->ld->opts;
    if (sess_bind(s, c->type, o->system_id, o->password, o->system_type,
                  INTERFACE_VERSION_34) != 0) {
        log_error(c->tag, "cannot send bind");
        sess_close(s, SESS_CLOSE_LOCAL);
    }
}

static void on_bound(struct sess *s, const struct pdu *resp, void *ctx)
{
    struct smpp_load_conn *c = ctx;
    (void)resp;
    c->bound = 1;
    log_debug(c->tag, "bound as %s to %s", smpp_load_bind_name(c->type),
              sess_peer_system_id(s));
    if (c->ld->phase == SMPP_LOAD_PH_SENDING)
        smpp_load_fill(c->ld, c, smpp_load_now_us());
}

/* Receipts and MO arrive as deliver_sm (or data_sm): count, then answer
 * ESME_ROK with an empty message_id. Anything else the session passes up
 * takes no answer (alert_notification). */
static void on_request(struct sess *s, const struct pdu *req, void *ctx)
{
    struct smpp_load_conn *c = ctx;
    if (req->command_id != PDU_DELIVER_SM && req->command_id != PDU_DATA_SM)
        return;
    smpp_load_dlr_inbound(c->ld, req, smpp_load_now_us());
    sess_reply(s, req->command_id, req->sequence_number, ESME_ROK, NULL);
}

static void on_writable(struct sess *s, void *ctx)
{
    struct smpp_load_conn *c = ctx;
    (void)s;
    smpp_load_fill(c->ld, c, smpp_load_now_us());
}

/* Reconnect only while the run still has a use for the slot. */
static int want_reconnect(const struct smpp_load_conn *c)
{
    const struct smpp_load *ld = c->ld;
    return ld->opts.reconnect && !ld->interrupted &&
           ld->phase <= SMPP_LOAD_PH_RECEIPTS;
}

static void schedule_reconnect(struct smpp_load_conn *c)
{
    struct timeval tv = {RECONNECT_DELAY_MS / 1000u,
                         (RECONNECT_DELAY_MS % 1000u) * 1000u};
    if (want_reconnect(c))
        evtimer_add(c->reconnect_ev, &tv);
}

static void on_close(struct sess *s, enum sess_close_reason why, void *ctx)
{
    struct smpp_load_conn *c = ctx;
    struct smpp_load *ld = c->ld;
    int was_bound = c->bound;
    c->s = NULL;
    c->bound = 0;
    if (ld->phase < SMPP_LOAD_PH_UNBINDING) {
        /* We did not ask for this one. */
        ld->c.sessions_closed++;
        ld->c.close_reasons[why]++;
        if (why == SESS_CLOSE_BIND_FAILED)
            ld->c.bind_failed++;
        log_warn(c->tag, "session closed (%s)%s", sess_close_reason_name(why),
                 was_bound ? "" : " before bind");
        schedule_reconnect(c);
    } else {
        log_debug(c->tag, "closed (%s)", sess_close_reason_name(why));
    }
    sess_unref(s);
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    struct smpp_load_conn *c = arg;
    (void)fd;
    (void)what;
    if (c->s || !want_reconnect(c))
        return;
    c->ld->c.reconnects++;
    log_info(c->tag, "reconnecting");
    if (conn_connect(c) != 0)
        schedule_reconnect(c);
}

static const struct sess_callbacks conn_cbs = {
    .on_connected = on_connected,
    .on_bound = on_bound,
    .on_request = on_request,
    .on_writable = on_writable,
    .on_close = on_close,
};

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

/*
 * WORKAROUND for net_connect_bev(): it sends <server_name> as SNI and
 * checks it as a DNS name (SSL_set1_host), which never matches a
 * certificate for an IP address (RFC 6066 also forbids an IP in SNI). For
 * an IP literal we pass no name and check the address instead. The
 * handshake starts only once the TCP connect completes in the loop, so
 * setting the parameter after the call is in time.
 */
static struct bufferevent *connect_bev(struct smpp_load *ld)
{
    int ip = ld->tls && is_ip_literal(ld->opts.host);
    struct bufferevent *bev = net_connect_bev(ld->base, &ld->addr,
                                              ld->addr_len, ld->tls,
                                              ip ? NULL : ld->opts.host);
    if (bev && ip && ld->opts.tls_verify) {
        SSL *ssl = bufferevent_openssl_get_ssl(bev);
        if (!ssl || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                                  ld->opts.host) != 1) {
            bufferevent_free(bev);
            return NULL;
        }
    }
    return bev;
}

static int conn_connect(struct smpp_load_conn *c)
{
    struct smpp_load *ld = c->ld;
    struct bufferevent *bev = connect_bev(ld);
    if (!bev) {
        log_error(c->tag, "cannot start a connection");
        return -1;
    }
    c->connect_us = smpp_load_now_us();
    c->s = sess_new(ld->base, bev, SESS_CLIENT, &ld->sess_cfg, &conn_cbs, c);
    if (!c->s) {
        log_error(c->tag, "out of memory");
        return -1;
    }
    return 0;
}

static int conn_init(struct smpp_load *ld, struct smpp_load_conn *c,
                     unsigned idx, enum sess_bind_type type)
{
    c->ld = ld;
    c->idx = idx;
    c->type = type;
    snprintf(c->tag, sizeof c->tag, "load %s#%u", smpp_load_bind_name(type),
             idx + 1);
    c->reconnect_ev = evtimer_new(ld->base, on_reconnect, c);
    return c->reconnect_ev ? 0 : -1;
}

int smpp_load_conns_start(struct smpp_load *ld)
{
    const struct smpp_load_opts *o = &ld->opts;
    ld->ntx = o->binds;
    ld->nconns = o->binds + o->rx_binds;
    ld->conns = calloc(ld->nconns, sizeof *ld->conns);
    if (!ld->conns)
        return -1;
    enum sess_bind_type txtype =
        o->bind == SMPP_LOAD_BIND_TX ? SESS_BIND_TX : SESS_BIND_TRX;
    for (unsigned i = 0; i < ld->nconns; i++) {
        struct smpp_load_conn *c = &ld->conns[i];
        if (conn_init(ld, c, i, i < ld->ntx ? txtype : SESS_BIND_RX) != 0)
            return -1;
        if (conn_connect(c) != 0) {
            ld->c.sessions_closed++;
            ld->c.close_reasons[SESS_CLOSE_CONNECT_FAILED]++;
        }
    }
    return 0;
}

/* Orderly end for every session: unbind the bound, close the rest. */
void smpp_load_conns_unbind(struct smpp_load *ld)
{
    for (unsigned i = 0; i < ld->nconns; i++) {
        struct smpp_load_conn *c = &ld->conns[i];
        evtimer_del(c->reconnect_ev);
        if (!c->s || sess_state(c->s) >= SESS_UNBINDING)
            continue;
        if (c->bound)
            sess_unbind(c->s);
        else
            sess_close(c->s, SESS_CLOSE_LOCAL);
    }
}

/* Close what an unbind did not: the unbind_resp never came. */
void smpp_load_conns_close(struct smpp_load *ld)
{
    for (unsigned i = 0; i < ld->nconns; i++)
        if (ld->conns[i].s)
            sess_close(ld->conns[i].s, SESS_CLOSE_LOCAL);
}

unsigned smpp_load_conns_alive(const struct smpp_load *ld)
{
    unsigned n = 0;
    for (unsigned i = 0; i < ld->nconns; i++)
        n += ld->conns[i].s != NULL;
    return n;
}

/* Bound transmitters (<tx_capable> 1) or bound receivers (0, TRX
 * included). */
unsigned smpp_load_conns_bound(const struct smpp_load *ld, int tx_capable)
{
    unsigned n = 0;
    for (unsigned i = 0; i < ld->nconns; i++) {
        const struct smpp_load_conn *c = &ld->conns[i];
        int match = tx_capable ? c->type != SESS_BIND_RX
                               : c->type != SESS_BIND_TX;
        n += c->bound && match;
    }
    return n;
}

/* Every slot is bound or has given up (no connection in progress). */
int smpp_load_conns_settled(const struct smpp_load *ld)
{
    for (unsigned i = 0; i < ld->nconns; i++)
        if (ld->conns[i].s && !ld->conns[i].bound)
            return 0;
    return 1;
}

/*
 * WORKAROUND: the session enforces bind_timeout_ms only in the server role
 * (session.c next_due/on_timer test role == SESS_SERVER), so a client
 * whose TCP connect or TLS handshake hangs would wait for ever. Close any
 * slot not bound within --bind-timeout of its connect.
 */
void smpp_load_conns_check_binds(struct smpp_load *ld, uint64_t now)
{
    uint64_t limit = (uint64_t)(ld->opts.bind_timeout_s * 1e6);
    for (unsigned i = 0; i < ld->nconns; i++) {
        struct smpp_load_conn *c = &ld->conns[i];
        if (c->s && !c->bound && sess_state(c->s) < SESS_UNBINDING &&
            now > c->connect_us + limit)
            sess_close(c->s, SESS_CLOSE_BIND_TIMEOUT);
    }
}

void smpp_load_conns_free(struct smpp_load *ld)
{
    for (unsigned i = 0; i < ld->nconns; i++)
        if (ld->conns[i].reconnect_ev)
            event_free(ld->conns[i].reconnect_ev);
    free(ld->conns);
    ld->conns = NULL;
    ld->nconns = 0;
}
