/*
 * downstream.c - customers' binds and submits.
 *
 * A bind is checked in this order, each failure with its own status:
 * source address or system_id over the failure limit (ESME_RBINDFAIL,
 * and slowed down before that), account unknown (ESME_RINVSYSID),
 * password (ESME_RINVPASWD), disabled (ESME_RBINDFAIL), source address
 * outside the allowlist (ESME_RBINDFAIL), too many binds for the account
 * or in all (ESME_RBINDFAIL). The account is read from Redis on every
 * bind, so changes need no restart. The slow password hash runs on a
 * worker thread (verifier.h), once per credentials thanks to auth_cache.
 *
 * Everything asynchronous holds a session reference and looks at the
 * session's state when it completes: the customer may have gone meanwhile.
 */
#include "common.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "account.h"
#include "auth.h"
#include "clock.h"
#include "conf.h"
#include "downstream.h"
#include "log.h"
#include "msgid.h"
#include "net.h"
#include "pdu.h"
#include "session.h"
#include "store.h"
#include "throttle.h"
#include "verifier.h"

#define TAG "down"
#define ACCOUNT_BUCKETS 256
#define SLOW_BIND_DELAY_MS 1000
#define VERIFIER_THREADS 2
#define VERIFIER_PENDING 256 /* slow checks queued; beyond: refused */

struct down_account;

struct down_client {
    struct down *d;
    struct sess *sess;
    struct down_account *acct;        /* set once bound */
    int receiver;
    int id_decimal;
    char peer[64];
    char peer_key[AUTH_PEER_KEY_MAX];
    struct sockaddr_storage addr;
    char system_id[16];
    char password[16];                /* only while the bind is checked */
    size_t password_len;
    struct event *delay_ev;
    struct down_client *prev, *next;  /* all clients */
    struct down_client *rx_prev, *rx_next;
};

/* Accounts with binds on this instance. */
struct down_account {
    char id[16];
    char throttle_key[24];          /* "acct:ID" */
    unsigned tps;                   /* from the account, kept up to date */
    unsigned binds;
    struct down_client *receivers;
    struct down_client *next_rx;
    struct down_account *hnext;
};

struct down {
    struct event_base *base;
    const struct conf *cfg;
    struct store *st;
    struct throttle *thr;
    struct down_hooks hooks;
    void *hooks_ctx;
    struct sess_config sess_cfg;
    SSL_CTX *tls;
    struct evconnlistener *listeners[2 * CONF_MAX_LISTEN];
    int n_listeners;
    struct down_client *clients;
    unsigned n_clients, n_bound;
    struct down_account *accounts[ACCOUNT_BUCKETS];
    struct auth_cache *auth_cache;
    struct verifier *verifier;
    struct verify_batch *batches;     /* password checks running */
    struct auth_limiter *by_peer, *by_system_id;
    struct msgid_gen ids;
    int ids_ready;
    struct down_stats stats;
};

/* ---- accounts on this instance -------------------------------------- */

static unsigned account_bucket(const char *id)
{
    unsigned h = 5381;
    for (; *id; id++)
        h = h * 33 + (unsigned char)*id;
    return h % ACCOUNT_BUCKETS;
}

static struct down_account *account_find(struct down *d, const char *id)
{
    for (struct down_account *a = d->accounts[account_bucket(id)]; a; a = a->hnext)
        if (strcmp(a->id, id) == 0)
            return a;
    return NULL;
}

static struct down_account *account_attach(struct down *d, const char *id)
{
    struct down_account *a = account_find(d, id);
    if (a)
        return a;
    a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->throttle_key, sizeof a->throttle_key, "acct:%s", id);
    unsigned b = account_bucket(id);
    a->hnext = d->accounts[b];
    d->accounts[b] = a;
    return a;
}

static void account_detach(struct down *d, struct down_account *a)
{
    if (a->binds)
        return;
    struct down_account **pp = &d->accounts[account_bucket(a->id)];
    while (*pp != a)
        pp = &(*pp)->hnext;
    *pp = a->hnext;
    free(a);
}

static void receiver_add(struct down_account *a, struct down_client *c)
{
    c->rx_prev = NULL;
    c->rx_next = a->receivers;
    if (a->receivers)
        a->receivers->rx_prev = c;
    a->receivers = c;
}

static void receiver_remove(struct down_account *a, struct down_client *c)
{
    if (a->next_rx == c)
        a->next_rx = c->rx_next;
    if (c->rx_prev)
        c->rx_prev->rx_next = c->rx_next;
    else
        a->receivers = c->rx_next;
    if (c->rx_next)
        c->rx_next->rx_prev = c->rx_prev;
    c->rx_prev = c->rx_next = NULL;
}

struct sess *down_pick_receiver(struct down *d, const char *account)
{
    struct down_account *a = account_find(d, account);
    if (!a || !a->receivers)
        return NULL;
    struct down_client *start = a->next_rx ? a->next_rx : a->receivers;
    struct down_client *c = start;
    do {
        struct down_client *next = c->rx_next ? c->rx_next : a->receivers;
        if (sess_can_send(c->sess)) {
            a->next_rx = next;
            return c->sess;
        }
        c = next;
    } while (c != start);
    return NULL;
}

int down_has_receiver(struct down *d, const char *account)
{
    struct down_account *a = account_find(d, account);
    return a && a->receivers;
}

/* ---- session callbacks ---------------------------------------------- */

static void wipe_password(struct down_client *c)
{
    memset(c->password, 0, sizeof c->password);
    c->password_len = 0;
}

static void client_unlink(struct down *d, struct down_client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        d->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    d->n_clients--;
}

static void on_close(struct sess *s, enum sess_close_reason why, void *ctx)
{
    struct down_client *c = ctx;
    struct down *d = c->d;
    if (c->acct) {
        log_info(TAG, "[%s %s] unbound: %s", c->system_id, c->peer,
                 sess_close_reason_name(why));
        if (c->receiver)
            receiver_remove(c->acct, c);
        c->acct->binds--;
        d->n_bound--;
        account_detach(d, c->acct);
    } else if (why != SESS_CLOSE_PEER_EOF && why != SESS_CLOSE_UNBIND &&
               why != SESS_CLOSE_BIND_FAILED) {
        log_warn(TAG, "[- %s] closed before a bind: %s (%llu bad PDUs)",
                 c->peer, sess_close_reason_name(why),
                 (unsigned long long)sess_stats(s)->glitches);
    }
    if (c->delay_ev)
        event_free(c->delay_ev);
    wipe_password(c);
    client_unlink(d, c);
    free(c);
    sess_unref(s);
}

static void bind_refuse(struct down_client *c, uint32_t status, const char *why)
{
    struct down *d = c->d;
    uint64_t now = clock_mono_ms();
    d->stats.binds_failed++;
    log_warn(TAG, "[%s %s] bind refused: %s (%s)", c->system_id, c->peer, why,
             pdu_status_name(status));
    if (status == ESME_RINVPASWD || status == ESME_RINVSYSID) {
        auth_limiter_fail(d->by_peer, c->peer_key, now);
        auth_limiter_fail(d->by_system_id, c->system_id, now);
    }
    wipe_password(c);
    sess_bind_reply(c->sess, status);
}

/* The account's rules after the password, in the order the header
 * comment gives. */
static uint32_t account_verdict(struct down *d, struct down_client *c,
                                const struct account *a, const char **why)
{
    struct down_account *da = account_find(d, a->id);
    if (!a->enabled)
        return *why = "account disabled", ESME_RBINDFAIL;
    if (auth_allow_match(a->allow, (const struct sockaddr *)&c->addr) != 1)
        return *why = "address not allowed", ESME_RBINDFAIL;
    if (a->max_binds && da && da->binds >= a->max_binds)
        return *why = "too many binds for the account", ESME_RBINDFAIL;
    if (d->n_bound >= d->cfg->server.max_binds)
        return *why = "too many binds in all", ESME_RBINDFAIL;
    return ESME_ROK;
}

static void bind_accept(struct down_client *c, const struct account *a)
{
    struct down *d = c->d;
    struct down_account *da = account_attach(d, a->id);
    if (!da) {
        bind_refuse(c, ESME_RSYSERR, "out of memory");
        return;
    }
    wipe_password(c);
    auth_limiter_success(d->by_peer, c->peer_key);
    auth_limiter_success(d->by_system_id, c->system_id);
    c->acct = da;
    da->tps = a->tps;
    c->id_decimal = a->id_format == ACCOUNT_ID_DEC;
    da->binds++;
    d->n_bound++;
    d->stats.binds_ok++;
    sess_bind_reply(c->sess, ESME_ROK);
    c->receiver = sess_state(c->sess) == SESS_BOUND_RX ||
                  sess_state(c->sess) == SESS_BOUND_TRX;
    log_info(TAG, "[%s %s] bound as %s", c->system_id, c->peer,
             sess_state_name(sess_state(c->sess)));
    if (c->receiver) {
        receiver_add(da, c);
        if (d->hooks.receiver_ready)
            d->hooks.receiver_ready(d->hooks_ctx, da->id);
    }
}

static void bind_decide(struct down_client *c, const struct account *a)
{
    const char *why = NULL;
    uint32_t v = account_verdict(c->d, c, a, &why);
    if (v == ESME_ROK)
        bind_accept(c, a);
    else
        bind_refuse(c, v, why);
}

/*
 * Binds waiting for one slow password check on a worker thread. Binds of
 * one account with the same password (a reconnection storm: hundreds at
 * once, before the first check is done) wait for the same check instead
 * of each queueing its own: one scrypt answers them all.
 */
struct bind_wait {
    struct sess *sess;
    struct bind_wait *next;
};

struct verify_batch {
    struct down *d;
    struct account acct;
    char pw[16];
    size_t pw_len;
    struct bind_wait *waiters;
    struct verify_batch *next;
};

static void on_verified(int ok, void *arg)
{
    struct verify_batch *b = arg;
    struct down *d = b->d;
    for (struct verify_batch **pp = &d->batches; *pp; pp = &(*pp)->next)
        if (*pp == b) {
            *pp = b->next;
            break;
        }
    if (ok == 1)
        auth_cache_put(d->auth_cache, b->acct.id, b->acct.password_hash, b->pw,
                       b->pw_len);
    while (b->waiters) {
        struct bind_wait *w = b->waiters;
        b->waiters = w->next;
        if (sess_state(w->sess) == SESS_BINDING) {
            struct down_client *c = sess_ctx(w->sess);
            if (ok == 1)
                bind_decide(c, &b->acct);
            else
                bind_refuse(c, ok == 0 ? ESME_RINVPASWD : ESME_RBINDFAIL,
                            ok == 0 ? "wrong password" : "shutting down");
        }
        sess_unref(w->sess);
        free(w);
    }
    memset(b->pw, 0, sizeof b->pw);
    free(b);
}

/* A check already running for these very credentials, or NULL. */
static struct verify_batch *batch_find(struct down *d, const struct account *a,
                                       const struct down_client *c)
{
    for (struct verify_batch *b = d->batches; b; b = b->next)
        if (strcmp(b->acct.id, a->id) == 0 &&
            strcmp(b->acct.password_hash, a->password_hash) == 0 &&
            b->pw_len == c->password_len &&
            CRYPTO_memcmp(b->pw, c->password, c->password_len) == 0)
            return b;
    return NULL;
}

static struct verify_batch *batch_start(struct down *d, const struct account *a,
                                        const struct down_client *c)
{
    struct verify_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->d = d;
    b->acct = *a;
    memcpy(b->pw, c->password, c->password_len);
    b->pw_len = c->password_len;
    if (verifier_check(d->verifier, b->pw, b->pw_len, a->password_hash,
                       on_verified, b) != 0) {
        free(b);
        return NULL;
    }
    b->next = d->batches;
    d->batches = b;
    return b;
}

/* The password: the cache answers repeated binds at once; otherwise the
 * check runs on a worker and the bind continues in on_verified. */
static void check_password(struct down_client *c, const struct account *a)
{
    struct down *d = c->d;
    if (auth_cache_check(d->auth_cache, a->id, a->password_hash, c->password,
                         c->password_len)) {
        bind_decide(c, a);
        return;
    }
    struct bind_wait *w = calloc(1, sizeof *w);
    struct verify_batch *b = w ? batch_find(d, a, c) : NULL;
    if (w && !b)
        b = batch_start(d, a, c);
    if (!b) {
        free(w);
        bind_refuse(c, ESME_RBINDFAIL, "too many binds being checked");
        return;
    }
    w->sess = c->sess;
    sess_ref(c->sess);
    w->next = b->waiters;
    b->waiters = w;
}

static void on_account(int status, const struct account *a, void *arg)
{
    struct sess *s = arg;
    if (sess_state(s) == SESS_BINDING) {
        struct down_client *c = sess_ctx(s);
        if (status != 0)
            bind_refuse(c, ESME_RBINDFAIL, "account store unavailable");
        else if (!a)
            bind_refuse(c, ESME_RINVSYSID, "unknown system_id");
        else
            check_password(c, a);
    }
    sess_unref(s);
}

static void bind_lookup(struct down_client *c)
{
    sess_ref(c->sess);
    if (store_account_get(c->d->st, c->system_id, on_account, c->sess) != 0) {
        sess_unref(c->sess);
        bind_refuse(c, ESME_RBINDFAIL, "account store unavailable");
    }
}

static void on_bind_delay(evutil_socket_t fd, short what, void *arg)
{
    struct down_client *c = arg;
    (void)fd;
    (void)what;
    if (sess_state(c->sess) == SESS_BINDING)
        bind_lookup(c);
}

static void copy_view(char *dst, size_t cap, struct pdu_view v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (n)
        memcpy(dst, v.ptr, n);
    dst[n] = 0;
}

static void on_bind(struct sess *s, const struct pdu *bind, void *ctx)
{
    struct down_client *c = ctx;
    struct down *d = c->d;
    uint64_t now = clock_mono_ms();
    copy_view(c->system_id, sizeof c->system_id, bind->system_id);
    copy_view(c->password, sizeof c->password, bind->password);
    c->password_len = strlen(c->password);
    enum auth_verdict by_peer = auth_limiter_check(d->by_peer, c->peer_key, now);
    enum auth_verdict by_id = auth_limiter_check(d->by_system_id, c->system_id, now);
    (void)s;
    if (by_peer == AUTH_BLOCKED || by_id == AUTH_BLOCKED) {
        bind_refuse(c, ESME_RBINDFAIL, "too many failed binds");
        return;
    }
    if (by_peer == AUTH_SLOW || by_id == AUTH_SLOW) {
        /* repeated failures: answer late, so guessing is slow */
        struct timeval tv = {SLOW_BIND_DELAY_MS / 1000, 0};
        c->delay_ev = evtimer_new(d->base, on_bind_delay, c);
        evtimer_add(c->delay_ev, &tv);
        return;
    }
    bind_lookup(c);
}

/* ---- submits -------------------------------------------------------- */

struct submit_wait {
    struct sess *sess;
    uint32_t command_id, seq;
    char msg_id[MSGID_TEXT_MAX];
};

static void on_queued(int status, void *arg)
{
    struct submit_wait *w = arg;
    if (sess_state(w->sess) != SESS_CLOSED) {
        struct down_client *c = sess_ctx(w->sess);
        struct down *d = c->d;
        if (status == 0) {
            struct pdu r;
            pdu_init(&r, 0, 0);
            r.message_id = pdu_view_str(w->msg_id);
            d->stats.submits_ok++;
            sess_reply(w->sess, w->command_id, w->seq, ESME_ROK, &r);
        } else {
            d->stats.queue_errors++;
            sess_reply(w->sess, w->command_id, w->seq, ESME_RMSGQFUL, NULL);
        }
    }
    sess_unref(w->sess);
    free(w);
}

static int next_msg_id(struct down *d, int decimal, char *out, size_t cap)
{
    if (!d->ids_ready) {
        int n = store_instance_number(d->st);
        if (n < 0)
            return -1; /* not known yet: Redis has not answered */
        msgid_init(&d->ids, (unsigned)n);
        d->ids_ready = 1;
    }
    msgid_format(msgid_next(&d->ids, clock_wall_ms()), decimal, out, cap);
    return 0;
}

static void handle_submit(struct down_client *c, const struct pdu *p)
{
    struct down *d = c->d;
    uint8_t raw[PDU_MAX_LEN_DEFAULT];
    uint32_t status = pdu_validate(p);
    d->stats.submits++;
    if (status != ESME_ROK) {
        d->stats.submits_refused++;
        sess_reply(c->sess, p->command_id, p->sequence_number, status, NULL);
        return;
    }
    if (store_up(d->st) && !throttle_take(d->thr, c->acct->throttle_key,
                                          c->acct->tps, 1)) {
        /* over the account's rate, across every instance: refused now,
         * never queued or delayed (each part of a long message counts) */
        d->stats.submits_throttled++;
        sess_reply(c->sess, p->command_id, p->sequence_number, ESME_RTHROTTLED,
                   NULL);
        return;
    }
    struct submit_wait *w = calloc(1, sizeof *w);
    size_t n = pdu_encode(p, raw, sizeof raw);
    if (!w || n == 0 || !store_up(d->st) ||
        next_msg_id(d, c->id_decimal, w->msg_id, sizeof w->msg_id) != 0)
        goto queue_full;
    w->sess = c->sess;
    w->command_id = p->command_id;
    w->seq = p->sequence_number;
    sess_ref(c->sess);
    if (store_queue_add(d->st, c->acct->id, w->msg_id, clock_wall_ms(), raw, n,
                        on_queued, w) == 0)
        return;
    sess_unref(c->sess);
queue_full:
    free(w);
    d->stats.queue_errors++;
    sess_reply(c->sess, p->command_id, p->sequence_number, ESME_RMSGQFUL, NULL);
}

static void on_request(struct sess *s, const struct pdu *req, void *ctx)
{
    struct down_client *c = ctx;
    switch (req->command_id) {
    case PDU_SUBMIT_SM:
    case PDU_DATA_SM:
        handle_submit(c, req);
        return;
    default:
        /* submit_multi, query_sm, cancel_sm, replace_sm and the 5.0
         * broadcasts are not relayed by this version */
        sess_reply(s, req->command_id, req->sequence_number, ESME_RINVCMDID,
                   NULL);
        return;
    }
}

static void on_writable(struct sess *s, void *ctx)
{
    struct down_client *c = ctx;
    (void)s;
    if (c->receiver && c->acct && c->d->hooks.receiver_ready)
        c->d->hooks.receiver_ready(c->d->hooks_ctx, c->acct->id);
}

static const struct sess_callbacks down_callbacks = {
    .on_bind = on_bind,
    .on_request = on_request,
    .on_writable = on_writable,
    .on_close = on_close,
};

/* ---- listeners ------------------------------------------------------ */

static void accept_client(struct down *d, int fd, struct sockaddr *peer,
                          int peer_len, SSL_CTX *tls)
{
    struct down_client *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? net_accepted_bev(d->base, fd, tls) : NULL;
    if (!bev) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->d = d;
    if ((size_t)peer_len <= sizeof c->addr)
        memcpy(&c->addr, peer, (size_t)peer_len);
    net_format_peer(peer, c->peer, sizeof c->peer);
    if (auth_limiter_peer_key(peer, c->peer_key, sizeof c->peer_key) != 0)
        snprintf(c->peer_key, sizeof c->peer_key, "%s", c->peer);
    c->sess = sess_new(d->base, bev, SESS_SERVER, &d->sess_cfg, &down_callbacks, c);
    if (!c->sess) {
        free(c);
        return;
    }
    c->next = d->clients;
    if (d->clients)
        d->clients->prev = c;
    d->clients = c;
    d->n_clients++;
}

static void on_accept_plain(struct evconnlistener *l, int fd,
                            struct sockaddr *peer, int len, void *arg)
{
    (void)l;
    accept_client(arg, fd, peer, len, NULL);
}

static void on_accept_tls(struct evconnlistener *l, int fd,
                          struct sockaddr *peer, int len, void *arg)
{
    struct down *d = arg;
    (void)l;
    accept_client(d, fd, peer, len, d->tls);
}

int down_listen(struct down *d, char *err, size_t cap)
{
    char nerr[NET_ERR_LEN];
    const struct conf *cfg = d->cfg;
    if (cfg->tls.n_listen) {
        d->tls = net_tls_server_ctx(cfg->tls.cert, cfg->tls.key, cfg->tls.ca, nerr);
        if (!d->tls) {
            snprintf(err, cap, "[tls]: %s", nerr);
            return -1;
        }
    }
    for (int i = 0; i < cfg->server.n_listen + cfg->tls.n_listen; i++) {
        int tls = i >= cfg->server.n_listen;
        const char *addr = tls ? cfg->tls.listen[i - cfg->server.n_listen]
                               : cfg->server.listen[i];
        struct evconnlistener *l = net_listen(
            d->base, addr, tls ? on_accept_tls : on_accept_plain, d, NULL, nerr);
        if (!l) {
            snprintf(err, cap, "%s", nerr);
            return -1;
        }
        log_info(TAG, "listening on %s (%s)", addr, tls ? "tls" : "plain");
        d->listeners[d->n_listeners++] = l;
    }
    return 0;
}

/* ---- life cycle ----------------------------------------------------- */

static void session_config(struct down *d)
{
    const struct conf_server *s = &d->cfg->server;
    sess_config_defaults(&d->sess_cfg);
    d->sess_cfg.max_pdu_len = s->max_pdu_size;
    d->sess_cfg.peer_window = s->window;
    d->sess_cfg.window = 100; /* receipts outstanding per customer bind */
    d->sess_cfg.bind_timeout_ms = s->bind_timeout_ms;
    d->sess_cfg.idle_timeout_ms = s->idle_timeout_ms;
    d->sess_cfg.enquire_interval_ms = s->enquire_link_interval_ms;
    d->sess_cfg.system_id = s->system_id;
}

struct down *down_new(struct event_base *base, const struct conf *cfg,
                      struct store *st, struct throttle *thr,
                      const struct down_hooks *hooks, void *ctx)
{
    struct down *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->base = base;
    d->cfg = cfg;
    d->st = st;
    d->thr = thr;
    if (hooks)
        d->hooks = *hooks;
    d->hooks_ctx = ctx;
    session_config(d);
    d->auth_cache = auth_cache_new(0);
    d->verifier = verifier_new(base, VERIFIER_THREADS, VERIFIER_PENDING);
    d->by_peer = auth_limiter_new_conf(&cfg->server, 0);
    d->by_system_id = auth_limiter_new_conf(&cfg->server, 0);
    if (!d->auth_cache || !d->verifier || !d->by_peer || !d->by_system_id) {
        down_free(d);
        return NULL;
    }
    return d;
}

void down_set_hooks_ctx(struct down *d, void *ctx)
{
    d->hooks_ctx = ctx;
}

void down_stop_accepting(struct down *d)
{
    for (int i = 0; i < d->n_listeners; i++)
        evconnlistener_disable(d->listeners[i]);
}

void down_unbind_all(struct down *d)
{
    for (struct down_client *c = d->clients; c; c = c->next)
        sess_unbind(c->sess);
}

void down_free(struct down *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n_listeners; i++)
        evconnlistener_free(d->listeners[i]);
    if (d->tls)
        SSL_CTX_free(d->tls);
    verifier_free(d->verifier);
    auth_cache_free(d->auth_cache);
    auth_limiter_free(d->by_peer);
    auth_limiter_free(d->by_system_id);
    free(d);
}

unsigned down_bind_count(const struct down *d)
{
    return d->n_bound;
}

const struct down_stats *down_stats(const struct down *d)
{
    return &d->stats;
}

/* ---- live account changes ------------------------------------------- */

struct reload_wait {
    struct down *d;
    char id[16];
};

static void on_account_reloaded(int status, const struct account *a, void *arg)
{
    struct reload_wait *w = arg;
    struct down *d = w->d;
    if (status == 0) {
        auth_cache_forget(d->auth_cache, w->id);
        struct down_account *da = account_find(d, w->id);
        if (da && a)
            da->tps = a->tps; /* the next submit uses the new rate */
        for (struct down_client *c = d->clients; c; c = c->next) {
            if (!c->acct || strcmp(c->acct->id, w->id) != 0)
                continue;
            int keep = a && a->enabled &&
                       auth_allow_match(a->allow, (struct sockaddr *)&c->addr) == 1;
            if (a)
                c->id_decimal = a->id_format == ACCOUNT_ID_DEC;
            if (!keep) {
                log_info(TAG, "[%s %s] account changed: unbinding", c->system_id,
                         c->peer);
                sess_unbind(c->sess);
            }
        }
    }
    free(w);
}

void down_account_changed(struct down *d, const char *account)
{
    auth_cache_forget(d->auth_cache, account);
    if (!account_find(d, account))
        return;
    log_info(TAG, "account %s changed: reloading it for its binds", account);
    struct reload_wait *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->d = d;
    snprintf(w->id, sizeof w->id, "%s", account);
    if (store_account_get(d->st, account, on_account_reloaded, w) != 0)
        free(w);
}
