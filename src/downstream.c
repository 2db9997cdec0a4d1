/*
 * downstream.c - customers' binds and submits.
 *
 * A bind is checked in this order: the source address, or this
 * system_id from this address, over the failure limit (slowed down
 * before that); account unknown; account disabled; source address
 * outside the allowlist; password; too many binds for the account or in
 * all. Everything a stranger can try is decided before the password, so
 * an address the allowlist forbids never costs a password hash and never
 * learns whether a password is right. Failures are counted per address
 * and per (system_id, address), never per system_id alone: guesses from
 * elsewhere cannot lock a customer out of its own addresses.
 *
 * Every refusal is answered with ESME_RBINDFAIL ([server] bind_fail_detail
 * = yes keeps the detailed statuses) and no sooner than refusal_floor_ms()
 * after the bind arrived, so neither the status nor the timing tells an
 * unknown system_id from a wrong password; the reason goes to the log and
 * to smppbridge_auth_failures_total{reason}.
 *
 * The account is read from Redis on every bind, so changes need no
 * restart. The slow password hash runs on a worker thread (verifier.h),
 * once per credentials thanks to auth_cache.
 *
 * Everything asynchronous holds a session reference and looks at the
 * session's state when it completes: the customer may have gone meanwhile.
 */
#include "common.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "acceptgate.h"
#include "account.h"
#include "auth.h"
#include "clock.h"
#include "conf.h"
#include "downstream.h"
#include "evprio.h"
#include "log.h"
#include "metrics.h"
#include "msgid.h"
#include "msgops.h"
#include "net.h"
#include "pdu.h"
#include "proxyproto.h"
#include "session.h"
#include "store.h"
#include "text.h"
#include "throttle.h"
#include "verifier.h"

#define TAG "down"
#define ACCOUNT_BUCKETS 256
#define SLOW_BIND_DELAY_MS 1000
#define VERIFIER_THREADS 2
#define VERIFIER_PENDING 256 /* slow checks queued; beyond: refused */
#define DRAIN_TICK_MS 50

struct down_account;

struct down_client {
    struct down *d;
    struct sess *sess;
    struct down_account *acct;        /* set once bound */
    int receiver;
    int id_decimal;
    char peer[64];
    char peer_key[AUTH_PEER_KEY_MAX]; /* also its key in d->gate */
    char pair_key[AUTH_LIMITER_KEY_MAX]; /* "system_id@peer_key" */
    struct sockaddr_storage addr;
    char system_id[16];
    const char *bind_type;            /* "tx", "rx", "trx": for the logs */
    unsigned long long sid;           /* admin: unique in this process */
    uint64_t since_ms;                /* admin: bound at (wall clock) */
    unsigned long long n_submits, n_ok, n_throttled, n_refused, n_delivered;
    char password[16];                /* only while the bind is checked */
    size_t password_len;
    struct event *delay_ev;           /* slowed down: the lookup waits */
    struct event *answer_ev;          /* a refusal waits for its floor */
    uint32_t answer_status;
    uint64_t bind_at_ms;              /* the bind arrived (monotonic) */
    struct down_client *prev, *next;  /* all clients */
    struct down_client *rx_prev, *rx_next;
};

/* Accounts with binds on this instance. */
struct down_account {
    char id[16];
    char throttle_key[24];          /* "acct:ID" */
    unsigned tps;                   /* from the account, kept up to date */
    unsigned daily_quota;           /* likewise; 0 = none */
    unsigned queue_max_messages;    /* likewise; 0 = [queue] default */
    uint64_t queue_max_bytes;
    unsigned binds;
    struct down_client *receivers;
    struct down_client *next_rx;
    struct down_account *hnext;
    /* Its children of the per-message metrics, each resolved on first
     * use (count_submit), so a message costs no hashing of labels. */
    struct metrics_child *m_ok, *m_refused_throttled, *m_refused_qfull;
    struct metrics_child *m_throttled, *m_queue_full;
};

/* Lines about connections closed before a bind (timeouts, bad PDUs,
 * silent TLS handshakes): at most this many per window, whatever rate
 * strangers choose. */
#define UNBOUND_LOG_LINES 10u
#define UNBOUND_LOG_WINDOW_MS 60000u

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
    struct proxy_wait *proxy_waits;   /* connections before their header */
    unsigned n_proxy_waits;
    struct accept_gate *gate;         /* connection limits, accept pauses */
    unsigned n_clients, n_bound;
    struct down_account *accounts[ACCOUNT_BUCKETS];
    struct auth_cache *auth_cache;
    struct verifier *verifier;
    struct verify_batch *batches;     /* password checks running */
    struct auth_limiter *by_peer, *by_pair;
    struct log_ratelimit unbound_log; /* closed before a bind */
    uint64_t verify_cost_ms;          /* recent password checks, smoothed */
    struct msgid_gen ids;
    int ids_ready;
    struct msgops *ops;               /* query_sm, cancel_sm, replace_sm */
    int draining;                     /* shutting down: see down_unbind_all */
    struct event *drain_ev;
    struct down_stats stats;
    unsigned long long last_sid;
    struct metrics_family *m_submits, *m_throttled, *m_resp, *m_auth;
    struct metrics_family *m_queue_full; /* over the account's queue caps */
    struct metrics_child *m_resp_all;    /* m_resp's one child, once used */
    /* Submits on their way into Redis, and whether customers' reading
     * is held for it (see writes_hold). */
    unsigned writes_out;
    int writes_held;
};

/* ---- accounts on this instance -------------------------------------- */

static unsigned account_bucket(const char *id)
{
    unsigned h = 5381;
    for (; *id; id++)
        h = h * 33 + (unsigned char)*id;
    return h % ACCOUNT_BUCKETS;
}

/* The account's own caps on what it may have queued (0: the [queue]
 * defaults apply, see queue_message). */
static void account_queue_caps(struct down_account *da, const struct account *a)
{
    da->queue_max_messages = a->queue_max_messages;
    da->queue_max_bytes = a->queue_max_bytes;
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

unsigned down_receiver_window(struct down *d, const char *account)
{
    struct down_account *a = account_find(d, account);
    unsigned window = 0;
    for (struct down_client *c = a ? a->receivers : NULL; c; c = c->rx_next)
        window += sess_window(c->sess);
    return window;
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
        log_event(LOG_INFO, TAG,
                  LOG_FIELDS("account", c->system_id, "type", c->bind_type, "peer",
                             c->peer, "session", LOG_NUM(c->sid), "reason",
                             sess_close_reason_name(why)),
                  "[%s %s] unbound: %s", c->system_id, c->peer,
                  sess_close_reason_name(why));
        if (c->receiver)
            receiver_remove(c->acct, c);
        c->acct->binds--;
        d->n_bound--;
        account_detach(d, c->acct);
    } else if (why != SESS_CLOSE_PEER_EOF && why != SESS_CLOSE_UNBIND &&
               why != SESS_CLOSE_BIND_FAILED &&
               log_ratelimit_allow(&d->unbound_log, clock_mono_ms(),
                                   UNBOUND_LOG_LINES, UNBOUND_LOG_WINDOW_MS)) {
        log_event(LOG_WARN, TAG,
                  LOG_FIELDS("peer", c->peer, "reason", sess_close_reason_name(why),
                             "bad_pdus", LOG_NUM(sess_stats(s)->glitches)),
                  "[- %s] closed before a bind: %s (%llu bad PDUs)", c->peer,
                  sess_close_reason_name(why),
                  (unsigned long long)sess_stats(s)->glitches);
    }
    if (c->delay_ev)
        event_free(c->delay_ev);
    if (c->answer_ev)
        event_free(c->answer_ev);
    wipe_password(c);
    gate_release(d->gate, c->peer_key);
    client_unlink(d, c);
    free(c);
    sess_unref(s);
}

/* A refused bind for smppbridge_auth_failures_total: <why> as a label
 * ("wrong password" -> "wrong_password"). */
static void count_refusal(struct down *d, const char *why)
{
    char reason[48];
    size_t n = 0;
    for (; *why && n + 1 < sizeof reason; why++)
        reason[n++] = (*why >= 'a' && *why <= 'z') || (*why >= '0' && *why <= '9')
                          ? *why : '_';
    reason[n] = '\0';
    metrics_add(d->m_auth, 1, METRICS_LABELS(reason));
}

/*
 * How long after its arrival a refused bind is answered: [server]
 * bind_fail_delay, or twice the recent cost of a password check when that
 * is more (a loaded machine must not make wrong passwords answer later
 * than unknown ids), but within half the bind timeout.
 */
static uint64_t refusal_floor_ms(const struct down *d)
{
    uint64_t floor = d->cfg->server.bind_fail_delay_ms;
    if (2 * d->verify_cost_ms > floor)
        floor = 2 * d->verify_cost_ms;
    if (floor > d->cfg->server.bind_timeout_ms / 2)
        floor = d->cfg->server.bind_timeout_ms / 2;
    return floor;
}

static void on_answer_due(evutil_socket_t fd, short what, void *arg)
{
    struct down_client *c = arg;
    (void)fd;
    (void)what;
    if (sess_state(c->sess) == SESS_BINDING)
        sess_bind_reply(c->sess, c->answer_status); /* may free <c> */
}

/* Send the refusal <status> once the floor since the bind's arrival has
 * passed: at once when the checks already took that long, or when we are
 * shutting down (no timer may outlive the drain). */
static void answer_refusal(struct down_client *c, uint32_t status)
{
    struct down *d = c->d;
    uint64_t now = clock_mono_ms();
    uint64_t due = d->draining ? now : c->bind_at_ms + refusal_floor_ms(d);
    if (due > now && !c->answer_ev)
        c->answer_ev = evtimer_new(d->base, on_answer_due, c);
    if (due <= now || !c->answer_ev) {
        sess_bind_reply(c->sess, status);
        return;
    }
    uint64_t wait = due - now;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    c->answer_status = status;
    evtimer_add(c->answer_ev, &tv);
}

/*
 * Refuse the bind: log and count <why>, count a failure against the
 * address and the (system_id, address) pair when <guess> (the refusal is
 * evidence of someone trying credentials), and answer <status> - or
 * ESME_RBINDFAIL unless bind_fail_detail - after the floor.
 */
static void bind_refuse(struct down_client *c, uint32_t status, const char *why,
                        int guess)
{
    struct down *d = c->d;
    uint64_t now = clock_mono_ms();
    if (!d->cfg->server.bind_fail_detail)
        status = ESME_RBINDFAIL; /* the log says what the customer saw */
    d->stats.binds_failed++;
    count_refusal(d, why);
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("account", c->system_id, "system_id", c->system_id, "type",
                         c->bind_type, "peer", c->peer, "session", LOG_NUM(c->sid),
                         "reason", why, "status", pdu_status_name(status)),
              "[%s %s] bind refused: %s (%s)", c->system_id, c->peer, why,
              pdu_status_name(status));
    if (guess) {
        auth_limiter_fail(d->by_peer, c->peer_key, now);
        auth_limiter_fail(d->by_pair, c->pair_key, now);
    }
    wipe_password(c);
    answer_refusal(c, status);
}

/* The account's rules after the password, in the order the header
 * comment gives. */
static uint32_t account_verdict(struct down *d, const struct account *a,
                                const char **why)
{
    struct down_account *da = account_find(d, a->id);
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
        bind_refuse(c, ESME_RSYSERR, "out of memory", 0);
        return;
    }
    wipe_password(c);
    auth_limiter_success(d->by_peer, c->peer_key);
    auth_limiter_success(d->by_pair, c->pair_key);
    c->acct = da;
    da->tps = a->tps;
    da->daily_quota = a->daily_quota;
    account_queue_caps(da, a);
    c->id_decimal = a->id_format == ACCOUNT_ID_DEC;
    da->binds++;
    d->n_bound++;
    d->stats.binds_ok++;
    c->since_ms = clock_wall_ms();
    sess_bind_reply(c->sess, ESME_ROK);
    c->receiver = sess_state(c->sess) == SESS_BOUND_RX ||
                  sess_state(c->sess) == SESS_BOUND_TRX;
    log_event(LOG_INFO, TAG,
              LOG_FIELDS("account", c->system_id, "type", c->bind_type, "peer", c->peer,
                         "session", LOG_NUM(c->sid)),
              "[%s %s] bound as %s", c->system_id, c->peer,
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
    uint32_t v = account_verdict(c->d, a, &why);
    if (v == ESME_ROK)
        bind_accept(c, a);
    else
        bind_refuse(c, v, why, 0);
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
    uint64_t started_ms;              /* for the refusal floor */
    struct account acct;
    char pw[16];
    size_t pw_len;
    struct bind_wait *waiters;
    struct verify_batch *next;
};

/* A password check took <ms>, queueing included: smoothed (7/8 old, 1/8
 * new) into the cost refusal_floor_ms() stays above. */
static void note_verify_cost(struct down *d, uint64_t ms)
{
    d->verify_cost_ms = d->verify_cost_ms ? (7 * d->verify_cost_ms + ms) / 8 : ms;
}

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
    note_verify_cost(d, clock_mono_ms() - b->started_ms);
    while (b->waiters) {
        struct bind_wait *w = b->waiters;
        b->waiters = w->next;
        if (sess_state(w->sess) == SESS_BINDING) {
            struct down_client *c = sess_ctx(w->sess);
            if (ok == 1)
                bind_decide(c, &b->acct);
            else
                bind_refuse(c, ok == 0 ? ESME_RINVPASWD : ESME_RBINDFAIL,
                            ok == 0 ? "wrong password" : "shutting down", ok == 0);
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
    b->started_ms = clock_mono_ms();
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
        bind_refuse(c, ESME_RBINDFAIL, "too many binds being checked", 0);
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
            bind_refuse(c, ESME_RBINDFAIL, "account store unavailable", 0);
        else if (!a)
            bind_refuse(c, ESME_RINVSYSID, "unknown system_id", 1);
        else if (!a->enabled)
            bind_refuse(c, ESME_RBINDFAIL, "account disabled", 0);
        else if (auth_allow_match(a->allow, (const struct sockaddr *)&c->addr) != 1)
            bind_refuse(c, ESME_RBINDFAIL, "address not allowed", 1);
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
        bind_refuse(c, ESME_RBINDFAIL, "account store unavailable", 0);
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

static void on_bind(struct sess *s, const struct pdu *bind, void *ctx)
{
    struct down_client *c = ctx;
    struct down *d = c->d;
    uint64_t now = clock_mono_ms();
    pdu_view_copy(c->system_id, sizeof c->system_id, bind->system_id);
    c->bind_type = bind->command_id == PDU_BIND_TRANSMITTER ? "tx"
                   : bind->command_id == PDU_BIND_RECEIVER  ? "rx"
                                                            : "trx";
    pdu_view_copy(c->password, sizeof c->password, bind->password);
    c->password_len = strlen(c->password);
    c->bind_at_ms = now;
    if (auth_limiter_pair_key(c->system_id, c->peer_key, c->pair_key,
                              sizeof c->pair_key) != 0)
        snprintf(c->pair_key, sizeof c->pair_key, "%s", c->peer_key);
    enum auth_verdict by_peer = auth_limiter_check(d->by_peer, c->peer_key, now);
    enum auth_verdict by_pair = auth_limiter_check(d->by_pair, c->pair_key, now);
    (void)s;
    if (by_peer == AUTH_BLOCKED || by_pair == AUTH_BLOCKED) {
        bind_refuse(c, ESME_RBINDFAIL, "too many failed binds", 0);
        return;
    }
    if (by_peer == AUTH_SLOW || by_pair == AUTH_SLOW) {
        /* repeated failures: answer late, so guessing is slow */
        struct timeval tv = {SLOW_BIND_DELAY_MS / 1000, 0};
        c->delay_ev = evtimer_new(d->base, on_bind_delay, c);
        evtimer_add(c->delay_ev, &tv);
        return;
    }
    bind_lookup(c);
}

/* ---- submits -------------------------------------------------------- */

/* One message waiting for Redis: a submit_sm or data_sm, or one
 * destination of a submit_multi (then <multi> collects the outcome). */
struct submit_wait {
    struct sess *sess;
    struct multi_wait *multi;
    unsigned dest;                  /* its index in the multi */
    struct pdu_dest dst;            /* and its address (in dst_addr) */
    char dst_addr[24];
    uint32_t command_id, seq;
    char msg_id[MSGID_TEXT_MAX];
    uint64_t read_us;               /* the request read (metrics) */
    struct down *d;
    store_done_cb done;             /* the caller's completion */
};

static int next_msg_id(struct down *d, int decimal, char *out, size_t cap)
{
    /* asked every time: the number is a lease that can be lost, and then
     * another instance may issue ids under it */
    int n = store_instance_number(d->st);
    if (n < 0)
        return -1; /* not known (yet, or any more) to be ours */
    if (!d->ids_ready || d->ids.instance != (unsigned)n) {
        msgid_init(&d->ids, (unsigned)n);
        d->ids_ready = 1;
    }
    msgid_format(msgid_next(&d->ids, clock_loop_wall_ms()), decimal, out, cap);
    return 0;
}

/* "SEQ/TOTAL" of a part of a concatenated message (UDH or SAR), "" for a
 * whole one: billing counts parts. */
static void concat_parts(const struct pdu *p, char *out, size_t cap)
{
    struct text_udh udh;
    struct text_concat sar;
    uint16_t ref;
    uint8_t total, seq;
    *out = 0;
    if ((p->esm_class & 0x40) && p->short_message.len &&
        text_udh_parse(p->short_message.ptr, p->short_message.len, &udh) == 0 &&
        udh.concat.present)
        snprintf(out, cap, "%u/%u", udh.concat.seq, udh.concat.total);
    else if (pdu_tlv_u16(p, PDU_TLV_SAR_MSG_REF_NUM, &ref) == 0 &&
             pdu_tlv_u8(p, PDU_TLV_SAR_TOTAL_SEGMENTS, &total) == 0 &&
             pdu_tlv_u8(p, PDU_TLV_SAR_SEGMENT_SEQNUM, &seq) == 0 &&
             text_concat_from_sar(ref, total, seq, &sar) == 0)
        snprintf(out, cap, "%u/%u", sar.seq, sar.total);
}

enum quota_answer {
    QUOTA_TAKEN,
    QUOTA_REFUSED,    /* counted (and logged the first time in the day) */
    QUOTA_ON_ITS_WAY, /* none at hand, a batch is on its way: not counted */
};

/* The account's daily quota (throttle.h), asked only once the rate has
 * let the message through so that a refused one never spends quota. */
static enum quota_answer quota_admits(struct down_client *c)
{
    struct down *d = c->d;
    int first;
    unsigned quota = c->acct->daily_quota;
    switch (throttle_quota_take(d->thr, c->acct->id, quota, 1, &first)) {
    case THR_QUOTA_OK:
        return QUOTA_TAKEN;
    case THR_QUOTA_NOT_NOW:
        return QUOTA_ON_ITS_WAY;
    case THR_QUOTA_REACHED:
        break;
    }
    d->stats.submits_quota++;
    if (first)
        log_info(TAG, "account %s: daily quota of %u reached", c->acct->id,
                 quota);
    return QUOTA_REFUSED;
}

/* A submit's bytes: as they came (<raw>, from sess_request_bytes), or
 * NULL for a PDU to encode (one built per submit_multi destination). */
struct submit_bytes {
    const uint8_t *raw;
    size_t len;
};

static int quota_hold(struct down_client *c, const struct pdu *p,
                      struct submit_bytes b);

/* Whether one more message of this account may go now: its rate across
 * every instance (each part of a long message counts), then its daily
 * quota. ESME_ROK or the refusal, given at once: the excess is never
 * queued or delayed. The one wait: with <p> (a submit_sm or data_sm), a
 * message that finds no quota token at hand while a batch is on its way
 * is held for that batch (*held = 1: nothing to answer now). */
static uint32_t admit_one(struct down_client *c, const struct pdu *p,
                          struct submit_bytes b, int *held)
{
    struct down *d = c->d;
    *held = 0;
    if (!store_up(d->st))
        return ESME_ROK; /* the queue write answers for it */
    if (!throttle_take(d->thr, c->acct->throttle_key, c->acct->tps, 1)) {
        d->stats.submits_throttled++;
        return ESME_RTHROTTLED;
    }
    switch (quota_admits(c)) {
    case QUOTA_TAKEN:
        return ESME_ROK;
    case QUOTA_REFUSED:
        return ESME_RTHROTTLED;
    case QUOTA_ON_ITS_WAY:
        break;
    }
    if (p && quota_hold(c, p, b) == 0) {
        *held = 1;
        return ESME_ROK;
    }
    d->stats.submits_throttled++;
    return ESME_RTHROTTLED;
}

static void multi_share_body(struct multi_wait *m, const struct pdu *p,
                             const uint8_t *raw, size_t n, const char *msg_id,
                             struct store_msg_info *mi);

/*
 * The submits this instance has on their way into Redis are bounded
 * ([queue] max_writes): beyond it, the customer's session that sent the
 * last one stops being read (TCP pushes back on it, nothing is refused)
 * until half of them are answered, when every held session reads again.
 * They share the Redis connection with upstream's answers and receipts,
 * which otherwise wait behind every submit the customers' windows allow;
 * Redis takes them no faster for being sent sooner.
 */
static void writes_hold(struct down *d, struct down_client *c)
{
    unsigned max = d->cfg->queue.max_writes;
    if (max == 0 || d->writes_out < max)
        return;
    sess_hold_reading(c->sess, 1);
    d->writes_held = 1;
}

static void writes_release(struct down *d)
{
    if (!d->writes_held || d->writes_out > d->cfg->queue.max_writes / 2)
        return;
    d->writes_held = 0;
    for (struct down_client *c = d->clients; c; c = c->next)
        sess_hold_reading(c->sess, 0);
}

static void on_write_done(int status, void *arg)
{
    struct submit_wait *w = arg;
    struct down *d = w->d;
    d->writes_out--;
    writes_release(d);
    w->done(status, w);
}

/* queue_message() with <p>'s bytes at hand: <raw>, <n> of them. */
static int queue_bytes(struct down_client *c, const struct pdu *p,
                       const uint8_t *raw, size_t n, struct submit_wait *w,
                       store_done_cb cb)
{
    struct down *d = c->d;
    char src[24], dst[24], parts[16];
    if (!store_up(d->st) ||
        next_msg_id(d, c->id_decimal, w->msg_id, sizeof w->msg_id) != 0)
        return -1;
    pdu_view_copy(src, sizeof src, p->source_addr);
    pdu_view_copy(dst, sizeof dst, p->destination_addr);
    concat_parts(p, parts, sizeof parts);
    const struct conf_queue *qc = &d->cfg->queue;
    struct store_msg_info mi = {
        .account = c->acct->id, .msg_id = w->msg_id, .ts_ms = clock_loop_wall_ms(),
        .src_ton = p->source_addr_ton, .src_npi = p->source_addr_npi,
        .src = src, .dst = dst, .parts = parts,
        .max_messages = c->acct->queue_max_messages
                            ? c->acct->queue_max_messages
                            : qc->account_max_messages,
        .max_bytes = c->acct->queue_max_bytes ? c->acct->queue_max_bytes
                                              : qc->account_max_bytes,
    };
    if (w->multi)
        multi_share_body(w->multi, p, raw, n, w->msg_id, &mi);
    w->sess = c->sess;
    w->read_us = clock_mono_us();
    w->d = d;
    w->done = cb;
    sess_ref(c->sess);
    if (store_queue_add(d->st, &mi, raw, n, on_write_done, w) == 0) {
        d->writes_out++;
        writes_hold(d, c);
        return 0;
    }
    sess_unref(c->sess);
    return -1;
}

/* Give <p> our id (into w->msg_id) and add it to the queue with its state
 * record, within the account's caps; <cb> completes it (status 1: over
 * a cap). <b>: the bytes <p> came in, stored as they are, or none (then
 * <p> is encoded). -1: it cannot be queued now. */
static int queue_message(struct down_client *c, const struct pdu *p,
                         struct submit_bytes b, struct submit_wait *w,
                         store_done_cb cb)
{
    struct pdu_scratch sc = {.heap = NULL};
    const uint8_t *raw = b.raw;
    size_t n = b.len;
    if (!raw)
        raw = pdu_encode_scratch(p, &sc, &n);
    int rc = raw ? queue_bytes(c, p, raw, n, w, cb) : -1;
    pdu_scratch_free(&sc);
    return rc;
}

/* <*slot>, the child of <f> for <values>, resolved the first time. */
static struct metrics_child *child_of(struct metrics_child **slot,
                                      struct metrics_family *f,
                                      const char *const *values)
{
    if (!*slot)
        *slot = metrics_child(f, values);
    return *slot;
}

/* One answer of <status> to a submit of account <da> (NULL: none known)
 * in the metrics. The statuses of nearly every answer go through the
 * account's handles; a rarer one is looked up by its labels. */
static void count_submit(struct down *d, struct down_account *da,
                         uint32_t status)
{
    struct metrics_child **slot = NULL;
    if (!da) {
        metrics_add(d->m_submits, 1, METRICS_LABELS("", pdu_status_name(status)));
        if (status == ESME_RTHROTTLED)
            metrics_add(d->m_throttled, 1, METRICS_LABELS(""));
        return;
    }
    if (status == ESME_ROK)
        slot = &da->m_ok;
    else if (status == ESME_RTHROTTLED)
        slot = &da->m_refused_throttled;
    else if (status == ESME_RMSGQFUL)
        slot = &da->m_refused_qfull;
    if (slot)
        metrics_child_add(child_of(slot, d->m_submits,
                                   METRICS_LABELS(da->id, pdu_status_name(status))),
                          1);
    else
        metrics_add(d->m_submits, 1, METRICS_LABELS(da->id, pdu_status_name(status)));
    if (status == ESME_RTHROTTLED)
        metrics_child_add(child_of(&da->m_throttled, d->m_throttled,
                                   METRICS_LABELS(da->id)), 1);
}

/* Answer a customer's submit_sm, data_sm or submit_multi read at
 * <read_us> (0: just now) and count the answer: the session's counters
 * and the metrics (submits by status, throttled, response time). */
static void submit_reply(struct sess *s, uint32_t command_id, uint32_t seq,
                         uint32_t status, struct pdu *resp, uint64_t read_us)
{
    if (!sess_answering(s)) /* closing: answers still go out while it flushes */
        return;
    struct down_client *c = sess_ctx(s);
    struct down *d = c->d;
    sess_reply(s, command_id, seq, status, resp);
    c->n_submits++;
    c->n_ok += status == ESME_ROK;
    c->n_throttled += status == ESME_RTHROTTLED;
    c->n_refused += status != ESME_ROK && status != ESME_RTHROTTLED;
    count_submit(d, c->acct, status);
    if (!d->m_resp_all)
        d->m_resp_all = metrics_child(d->m_resp, NULL);
    uint64_t now = clock_mono_us(); /* a latency: the precise clock */
    metrics_child_observe(d->m_resp_all,
                          read_us && now > read_us ? (double)(now - read_us) / 1e6 : 0);
}

/* A queue write that did not happen: over the account's caps (status
 * 1, counted per account) or Redis failed. ESME_RMSGQFUL either way: a
 * temporary refusal, the customer sends it again later. */
static void queue_refused(struct down_client *c, int status)
{
    struct down *d = c->d;
    if (status != 1) {
        d->stats.queue_errors++;
        return;
    }
    d->stats.queue_full++;
    metrics_child_add(child_of(&c->acct->m_queue_full, d->m_queue_full,
                               METRICS_LABELS(c->acct->id)), 1);
}

static void on_queued(int status, void *arg)
{
    struct submit_wait *w = arg;
    if (sess_answering(w->sess)) {
        struct down_client *c = sess_ctx(w->sess);
        struct down *d = c->d;
        if (status == 0) {
            struct pdu r;
            pdu_init(&r, 0, 0);
            r.message_id = pdu_view_str(w->msg_id);
            d->stats.submits_ok++;
            submit_reply(w->sess, w->command_id, w->seq, ESME_ROK, &r, w->read_us);
        } else {
            queue_refused(c, status);
            submit_reply(w->sess, w->command_id, w->seq, ESME_RMSGQFUL, NULL,
                         w->read_us);
        }
    }
    sess_unref(w->sess);
    free(w);
}

/* Queue an admitted submit_sm or data_sm, read at <read_us> (0: just
 * now), that came as <b>; it is answered once Redis has it. */
static void submit_queue(struct down_client *c, const struct pdu *p,
                         struct submit_bytes b, uint64_t read_us)
{
    struct submit_wait *w = calloc(1, sizeof *w);
    if (w) {
        w->command_id = p->command_id;
        w->seq = p->sequence_number;
        if (queue_message(c, p, b, w, on_queued) == 0) {
            if (read_us)
                w->read_us = read_us;
            return;
        }
    }
    free(w);
    c->d->stats.queue_errors++;
    submit_reply(c->sess, p->command_id, p->sequence_number, ESME_RMSGQFUL, NULL,
                 read_us);
}

/* A submit held for the account's quota batch (admit_one): the PDU's
 * bytes copied, since the read buffer does not outlive the read. */
struct quota_hold {
    struct sess *sess;
    uint32_t command_id, seq;
    uint64_t read_us;
    size_t len;
    uint8_t raw[];
};

static void on_quota_ready(int status, void *arg);

/* Whether <h> may wait for one more batch: it is still inside the time
 * one Redis command may take, so a long burst of a small quota (a batch
 * of 1) is not held past what a client waits for its answer. */
static int quota_hold_again(struct down_client *c, struct quota_hold *h)
{
    uint64_t limit_us = (uint64_t)c->d->cfg->redis.timeout_ms * 1000u;
    return clock_mono_us() - h->read_us < limit_us &&
           throttle_quota_wait(c->d->thr, c->acct->id, on_quota_ready, h) == 0;
}

/* The batch <h> waited for has come (status 0) or failed. Held ones
 * beyond what it brought wait for the next, which the take has asked
 * for; after a failure they are refused like any other. */
static void on_quota_ready(int status, void *arg)
{
    struct quota_hold *h = arg;
    struct pdu p;
    if (sess_state(h->sess) == SESS_CLOSED)
        goto done;
    struct down_client *c = sess_ctx(h->sess);
    if (pdu_decode(h->raw, h->len, &p) != ESME_ROK) {
        /* cannot be: these bytes were decoded once already */
        submit_reply(h->sess, h->command_id, h->seq, ESME_RSYSERR, NULL, h->read_us);
        goto done;
    }
    switch (quota_admits(c)) {
    case QUOTA_TAKEN:
        submit_queue(c, &p, (struct submit_bytes){h->raw, h->len}, h->read_us);
        break;
    case QUOTA_ON_ITS_WAY:
        if (status == 0 && quota_hold_again(c, h))
            return; /* still held, still ours */
        c->d->stats.submits_throttled++;
        /* fall through */
    case QUOTA_REFUSED:
        submit_reply(h->sess, h->command_id, h->seq, ESME_RTHROTTLED, NULL,
                     h->read_us);
        break;
    }
done:
    sess_unref(h->sess);
    free(h);
}

static int quota_hold(struct down_client *c, const struct pdu *p,
                      struct submit_bytes b)
{
    struct pdu_scratch sc = {.heap = NULL};
    const uint8_t *raw = b.raw;
    size_t n = b.len;
    if (!raw)
        raw = pdu_encode_scratch(p, &sc, &n);
    struct quota_hold *h = raw ? malloc(sizeof *h + n) : NULL;
    if (!h) {
        pdu_scratch_free(&sc);
        return -1;
    }
    h->sess = c->sess;
    h->command_id = p->command_id;
    h->seq = p->sequence_number;
    h->read_us = clock_mono_us();
    h->len = n;
    memcpy(h->raw, raw, n);
    pdu_scratch_free(&sc);
    if (throttle_quota_wait(c->d->thr, c->acct->id, on_quota_ready, h) != 0) {
        free(h);
        return -1;
    }
    sess_ref(c->sess);
    return 0;
}

static void handle_submit(struct down_client *c, const struct pdu *p)
{
    struct down *d = c->d;
    uint32_t status = pdu_validate(p);
    int held;
    d->stats.submits++;
    if (status != ESME_ROK) {
        d->stats.submits_refused++;
        submit_reply(c->sess, p->command_id, p->sequence_number, status, NULL, 0);
        return;
    }
    struct submit_bytes b = {NULL, 0};
    b.raw = sess_request_bytes(c->sess, p, &b.len);
    if ((status = admit_one(c, p, b, &held)) != ESME_ROK) {
        submit_reply(c->sess, p->command_id, p->sequence_number, status, NULL, 0);
        return;
    }
    if (!held)
        submit_queue(c, p, b, 0);
}

/* ---- submit_multi: one message per destination ------------------------ */

/* Each SME destination becomes a message of its own with its own id; the
 * response carries the id of the first one accepted and lists every
 * destination that was not, with its status (SMPP 3.4 §4.5.2).
 * Distribution lists are not kept here: ESME_RINVDLNAME for each. */
struct multi_wait {
    struct sess *sess;
    uint32_t seq;
    uint64_t read_us;               /* the request read (metrics) */
    unsigned outstanding;           /* queue writes not answered yet */
    unsigned n_dests;
    struct pdu_unsuccess fail[PDU_MAX_DESTS];
    char fail_addr[PDU_MAX_DESTS][24];
    unsigned n_fail;
    char first_id[MSGID_TEXT_MAX];
    unsigned first_dest;            /* index of first_id's destination */
    /* The part every destination's submit_sm shares (esm_class to the
     * end: the text and TLVs), stored once in Redis when it is large
     * enough to matter; body_id names it ("": not shared yet). */
    char body_id[MSGID_TEXT_MAX];
    uint8_t *body;
    size_t body_len;
};

/* Below this a shared body costs Redis more (a key, a reference count)
 * than the copies it saves. */
#define MULTI_SHARE_MIN 256u

/* Where a submit_sm's shared part starts in its encoding: after the
 * header, service_type, and the source and destination addresses (each
 * C-Octet string with its NUL, each address after its ton and npi). */
static size_t submit_head_len(const struct pdu *p)
{
    return 16 + p->service_type.len + 1 + 2 + p->source_addr.len + 1 + 2 +
           p->destination_addr.len + 1;
}

/* Fill <mi> so that the destination's entry names <m>'s shared body: the
 * first one large enough creates it (its id is that destination's
 * <msg_id>); a later one whose tail is not the same bytes (it cannot be,
 * but it must not go out wrong) is stored whole. */
static void multi_share_body(struct multi_wait *m, const struct pdu *p,
                             const uint8_t *raw, size_t n, const char *msg_id,
                             struct store_msg_info *mi)
{
    size_t head = submit_head_len(p);
    if (head >= n || n - head < MULTI_SHARE_MIN)
        return;
    if (!m->body_id[0]) {
        m->body = malloc(n - head);
        if (!m->body)
            return;
        memcpy(m->body, raw + head, n - head);
        m->body_len = n - head;
        snprintf(m->body_id, sizeof m->body_id, "%s", msg_id);
        mi->body_create = 1;
    } else if (n - head != m->body_len ||
               memcmp(raw + head, m->body, m->body_len) != 0) {
        return;
    }
    mi->body_id = m->body_id;
    mi->head_len = head;
}

static void multi_fail(struct multi_wait *m, const struct pdu_dest *dst,
                       uint32_t status)
{
    struct pdu_unsuccess *u = &m->fail[m->n_fail];
    pdu_view_copy(m->fail_addr[m->n_fail], sizeof m->fail_addr[0], dst->addr);
    u->ton = dst->ton;
    u->npi = dst->npi;
    u->addr = pdu_view_str(m->fail_addr[m->n_fail]);
    u->error_status_code = status;
    m->n_fail++;
}

static void multi_reply(struct multi_wait *m)
{
    if (sess_answering(m->sess)) {
        struct down *d = ((struct down_client *)sess_ctx(m->sess))->d;
        uint8_t list[PDU_MAX_DESTS * 30];
        struct pdu r;
        pdu_init(&r, 0, 0);
        if (m->n_fail == m->n_dests) {
            /* nothing taken: the first destination's reason is the answer */
            submit_reply(m->sess, PDU_SUBMIT_MULTI, m->seq,
                         m->fail[0].error_status_code, NULL, m->read_us);
        } else {
            size_t n = pdu_unsuccess_build(list, sizeof list, m->fail, m->n_fail);
            r.message_id = pdu_view_str(m->first_id);
            r.no_unsuccess = (uint8_t)m->n_fail;
            r.unsuccess_list = (struct pdu_view){list, n};
            d->stats.submits_ok++;
            submit_reply(m->sess, PDU_SUBMIT_MULTI, m->seq, ESME_ROK, &r, m->read_us);
        }
    }
    sess_unref(m->sess);
    free(m->body);
    free(m);
}

static void on_multi_queued(int status, void *arg)
{
    struct submit_wait *w = arg;
    struct multi_wait *m = w->multi;
    if (status == 0) {
        /* the first destination in the request's order names the whole */
        if (!m->first_id[0] || w->dest < m->first_dest) {
            snprintf(m->first_id, sizeof m->first_id, "%s", w->msg_id);
            m->first_dest = w->dest;
        }
    } else {
        if (sess_state(w->sess) != SESS_CLOSED)
            queue_refused(sess_ctx(w->sess), status);
        w->dst.addr = pdu_view_str(w->dst_addr);
        multi_fail(m, &w->dst, ESME_RMSGQFUL);
    }
    sess_unref(w->sess);
    free(w);
    if (--m->outstanding == 0)
        multi_reply(m);
}

/* The submit_sm a destination of <p> stands for. */
static void multi_dest_pdu(const struct pdu *p, const struct pdu_dest *dst,
                           struct pdu *out)
{
    *out = *p;
    out->command_id = PDU_SUBMIT_SM;
    out->dest_addr_ton = dst->ton;
    out->dest_addr_npi = dst->npi;
    out->destination_addr = dst->addr;
    out->number_of_dests = 0;
    out->dest_list = (struct pdu_view){NULL, 0};
}

static void multi_queue_dest(struct down_client *c, struct multi_wait *m,
                             const struct pdu *p, const struct pdu_dest *dst,
                             unsigned index)
{
    struct pdu one;
    uint32_t status;
    if (dst->dest_flag != 1) {
        multi_fail(m, dst, ESME_RINVDLNAME);
        return;
    }
    multi_dest_pdu(p, dst, &one);
    int held; /* never: a destination is not held (no PDU given) */
    const struct submit_bytes encode = {NULL, 0}; /* <one> is built here */
    if ((status = pdu_validate(&one)) != ESME_ROK ||
        (status = admit_one(c, NULL, encode, &held)) != ESME_ROK) {
        multi_fail(m, dst, status);
        return;
    }
    struct submit_wait *w = calloc(1, sizeof *w);
    if (w) {
        w->multi = m;
        w->dest = index;
        w->dst = *dst;
        pdu_view_copy(w->dst_addr, sizeof w->dst_addr, dst->addr);
        m->outstanding++;
        if (queue_message(c, &one, encode, w, on_multi_queued) == 0)
            return;
        m->outstanding--;
    }
    free(w);
    c->d->stats.queue_errors++;
    multi_fail(m, dst, ESME_RMSGQFUL);
}

static void handle_submit_multi(struct down_client *c, const struct pdu *p)
{
    struct down *d = c->d;
    uint32_t status = pdu_validate(p);
    d->stats.submits++;
    if (status == ESME_ROK && p->number_of_dests == 0)
        status = ESME_RINVNUMDESTS;
    struct multi_wait *m = status == ESME_ROK ? calloc(1, sizeof *m) : NULL;
    if (!m) {
        d->stats.submits_refused++;
        submit_reply(c->sess, p->command_id, p->sequence_number,
                     status == ESME_ROK ? ESME_RSYSERR : status, NULL, 0);
        return;
    }
    m->sess = c->sess;
    m->seq = p->sequence_number;
    m->read_us = clock_mono_us();
    m->outstanding = 1; /* this function's own hold */
    sess_ref(c->sess);
    struct pdu_view cur = p->dest_list;
    struct pdu_dest dst;
    while (m->n_dests < PDU_MAX_DESTS && pdu_dest_next(&cur, &dst))
        multi_queue_dest(c, m, p, &dst, m->n_dests++);
    if (--m->outstanding == 0)
        multi_reply(m);
}

static void on_request(struct sess *s, const struct pdu *req, void *ctx)
{
    struct down_client *c = ctx;
    if (c->d->draining && (req->command_id == PDU_SUBMIT_SM ||
                           req->command_id == PDU_DATA_SM ||
                           req->command_id == PDU_SUBMIT_MULTI)) {
        /* shutting down: a temporary refusal, sent again elsewhere */
        submit_reply(s, req->command_id, req->sequence_number, ESME_RTHROTTLED,
                     NULL, 0);
        return;
    }
    switch (req->command_id) {
    case PDU_SUBMIT_SM:
    case PDU_DATA_SM:
        handle_submit(c, req);
        return;
    case PDU_SUBMIT_MULTI:
        handle_submit_multi(c, req);
        return;
    case PDU_QUERY_SM:
    case PDU_CANCEL_SM:
    case PDU_REPLACE_SM:
        msgops_request(c->d->ops, s, c->acct->id, req);
        return;
    default:
        /* the 5.0 broadcasts are not relayed by this version */
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

/* A connection's limits are checked before anything is allocated for it:
 * one refused costs an accept() and a close(). */
static void accept_client(struct down *d, int fd, struct sockaddr *peer,
                          int peer_len, SSL_CTX *tls)
{
    char key[AUTH_PEER_KEY_MAX];
    if (auth_limiter_peer_key(peer, key, sizeof key) != 0)
        net_format_peer(peer, key, sizeof key);
    if (gate_admit(d->gate, key, peer, d->n_proxy_waits) != 0) {
        evutil_closesocket(fd);
        return;
    }
    struct down_client *c = calloc(1, sizeof *c);
    if (!c)
        evutil_closesocket(fd);
    /* net_accepted_bev owns <fd> from here: closed if it fails */
    struct bufferevent *bev = c ? net_accepted_bev(d->base, fd, tls) : NULL;
    if (!bev) {
        free(c);
        gate_release(d->gate, key);
        return;
    }
    c->d = d;
    c->sid = ++d->last_sid;
    if ((size_t)peer_len <= sizeof c->addr)
        memcpy(&c->addr, peer, (size_t)peer_len);
    net_format_peer(peer, c->peer, sizeof c->peer);
    memcpy(c->peer_key, key, sizeof c->peer_key);
    struct sess_config cfg = d->sess_cfg;
    if (tls) /* a handshake that drags on holds a descriptor and CPU */
        cfg.handshake_timeout_ms = d->cfg->tls.handshake_timeout_ms;
    c->sess = sess_new(d->base, bev, SESS_SERVER, &cfg, &down_callbacks, c);
    if (!c->sess) {
        free(c);
        gate_release(d->gate, key);
        return;
    }
    /* reading new submits is what can wait (evprio.h) */
    sess_set_priority(c->sess, EVPRIO_CUSTOMER);
    c->next = d->clients;
    if (d->clients)
        d->clients->prev = c;
    d->clients = c;
    d->n_clients++;
}

/* ---- the PROXY protocol header (behind a load balancer) ------------- */

/* A connection whose PROXY header is still being read: only its socket.
 * Every byte read here is a header byte (proxyproto.h: NEED_MORE means
 * all of them are), so the customer's first SMPP or TLS bytes stay in the
 * socket for the session. */
struct proxy_wait {
    struct down *d;
    int fd;
    int tls;                       /* d->tls once the header is read: a
                                    * reload may replace it meanwhile */
    uint64_t deadline_ms;          /* the whole header, however it trickles */
    struct sockaddr_storage addr;
    int addr_len;
    struct event *ev;
    uint8_t head[PROXY_MAX_LEN];
    size_t head_len;
    struct proxy_wait *prev, *next;
};

static void proxy_wait_free(struct proxy_wait *w, int close_fd)
{
    struct down *d = w->d;
    if (w->prev)
        w->prev->next = w->next;
    else
        d->proxy_waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    event_free(w->ev);
    if (close_fd)
        evutil_closesocket(w->fd);
    d->n_proxy_waits--;
    free(w);
}

static void proxy_refuse(struct proxy_wait *w, const char *why)
{
    char peer[64];
    net_format_peer((struct sockaddr *)&w->addr, peer, sizeof peer);
    w->d->stats.proxy_refused++;
    log_warn(TAG, "closed before a bind: %s (from %s)", why, peer);
    proxy_wait_free(w, 1);
}

/* Wait for more of the header, until its deadline (one shot: a timeout
 * that restarted with every byte would let a trickle hold the socket). */
static void proxy_wait_arm(struct proxy_wait *w)
{
    uint64_t now = clock_mono_ms();
    uint64_t left = w->deadline_ms > now ? w->deadline_ms - now : 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
    event_add(w->ev, &tv);
}

/* Peek at what arrived, take the header's bytes out of the socket, and
 * hand the connection on with the address the balancer gave. */
static void on_proxy_readable(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_wait *w = arg;
    uint8_t buf[PROXY_MAX_LEN];
    struct proxy_header h;
    if ((what & EV_TIMEOUT) || clock_mono_ms() >= w->deadline_ms) {
        proxy_refuse(w, "no PROXY header in time");
        return;
    }
    memcpy(buf, w->head, w->head_len);
    ssize_t n = recv(fd, buf + w->head_len, sizeof buf - w->head_len, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        proxy_wait_arm(w);
        return;
    }
    if (n <= 0) {
        proxy_refuse(w, n == 0 ? "closed by the peer" : "read error");
        return;
    }
    size_t have = w->head_len + (size_t)n;
    enum proxy_result r = proxy_parse(buf, have, &h);
    if (r == PROXY_INVALID || (r == PROXY_NEED_MORE && have == sizeof buf)) {
        proxy_refuse(w, "no valid PROXY header");
        return;
    }
    size_t take = r == PROXY_DONE ? h.len - w->head_len : (size_t)n;
    if (recv(fd, w->head + w->head_len, take, 0) != (ssize_t)take) {
        proxy_refuse(w, "read error");
        return;
    }
    w->head_len += take;
    if (r == PROXY_NEED_MORE) {
        proxy_wait_arm(w);
        return;
    }
    struct down *d = w->d;
    SSL_CTX *tls = w->tls ? d->tls : NULL;
    struct sockaddr_storage peer = h.has_source ? h.source : w->addr;
    int peer_len = h.has_source ? (int)h.source_len : w->addr_len;
    proxy_wait_free(w, 0);
    accept_client(d, fd, (struct sockaddr *)&peer, peer_len, tls);
}

static void accept_connection(struct down *d, int fd, struct sockaddr *peer,
                              int peer_len, SSL_CTX *tls)
{
    gate_accepted(d->gate);
    if (!d->cfg->server.proxy_protocol) {
        accept_client(d, fd, peer, peer_len, tls);
        return;
    }
    /* the balancer's address is not the customer's: only the global cap
     * until the header names the customer */
    if (gate_admit(d->gate, NULL, peer, d->n_proxy_waits) != 0) {
        evutil_closesocket(fd);
        return;
    }
    struct proxy_wait *w = calloc(1, sizeof *w);
    if (w)
        w->ev = event_new(d->base, fd, EV_READ, on_proxy_readable, w);
    if (!w || !w->ev || (size_t)peer_len > sizeof w->addr) {
        free(w);
        evutil_closesocket(fd);
        return;
    }
    w->d = d;
    w->fd = fd;
    w->tls = tls != NULL;
    memcpy(&w->addr, peer, (size_t)peer_len);
    w->addr_len = peer_len;
    w->next = d->proxy_waits;
    if (d->proxy_waits)
        d->proxy_waits->prev = w;
    d->proxy_waits = w;
    d->n_proxy_waits++;
    w->deadline_ms = clock_mono_ms() + d->cfg->server.bind_timeout_ms;
    proxy_wait_arm(w);
}

static void on_accept_plain(struct evconnlistener *l, int fd,
                            struct sockaddr *peer, int len, void *arg)
{
    (void)l;
    accept_connection(arg, fd, peer, len, NULL);
}

static void on_accept_tls(struct evconnlistener *l, int fd,
                          struct sockaddr *peer, int len, void *arg)
{
    struct down *d = arg;
    (void)l;
    accept_connection(d, fd, peer, len, d->tls);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct down *d = arg;
    (void)l;
    gate_accept_failed(d->gate, EVUTIL_SOCKET_ERROR());
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
        log_event(LOG_INFO, TAG,
                  LOG_FIELDS("listen", addr, "transport", tls ? "tls" : "plain"),
                  "listening on %s (%s)", addr, tls ? "tls" : "plain");
        d->listeners[d->n_listeners++] = l;
        evconnlistener_set_error_cb(l, on_accept_error);
        gate_add_listener(d->gate, l);
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
    d->sess_cfg.max_glitches = s->max_bad_pdus;
    d->sess_cfg.glitch_window_ms = s->bad_pdu_window_ms;
}

static void down_metrics(struct down *d);

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
    down_metrics(d);
    d->auth_cache = auth_cache_new(0);
    d->verifier = verifier_new(base, VERIFIER_THREADS, VERIFIER_PENDING);
    d->by_peer = auth_limiter_new_conf(&cfg->server, 0);
    d->by_pair = auth_limiter_new_conf(&cfg->server, 0);
    d->ops = msgops_new(st);
    d->gate = gate_new(base, cfg);
    if (!d->gate || !d->auth_cache || !d->verifier || !d->by_peer || !d->by_pair ||
        !d->ops) {
        down_free(d);
        return NULL;
    }
    return d;
}

void down_set_hooks_ctx(struct down *d, void *ctx)
{
    d->hooks_ctx = ctx;
}

void down_set_forwarder(struct down *d, msgops_forward_fn fn, void *ctx)
{
    msgops_set_forwarder(d->ops, fn, ctx);
}

const struct msgops_stats *down_msgops_stats(const struct down *d)
{
    return msgops_stats(d->ops);
}

void down_stop_accepting(struct down *d)
{
    gate_stop(d->gate);
    for (int i = 0; i < d->n_listeners; i++)
        evconnlistener_disable(d->listeners[i]);
}

/* Unbind every customer whose requests are all answered; the others are
 * looked at again on the next tick. */
static void drain_step(struct down *d)
{
    for (struct down_client *c = d->clients; c; c = c->next) {
        enum sess_state st = sess_state(c->sess);
        if (st == SESS_UNBINDING || st == SESS_CLOSED)
            continue;
        if (sess_peer_inflight(c->sess) == 0 || !c->acct)
            sess_unbind(c->sess); /* not bound yet: closed at once */
    }
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    drain_step(arg);
}

void down_unbind_all(struct down *d)
{
    struct timeval tv = {0, DRAIN_TICK_MS * 1000};
    d->draining = 1;
    if (!d->drain_ev)
        d->drain_ev = event_new(d->base, -1, EV_PERSIST, on_drain_tick, d);
    if (d->drain_ev)
        event_add(d->drain_ev, &tv);
    drain_step(d);
}

void down_reload(struct down *d, const struct conf_server *before,
                 SSL_CTX *tls)
{
    const struct conf_server *now = &d->cfg->server;
    session_config(d);
    gate_configure(d->gate, d->cfg);
    if (tls) {
        if (d->tls)
            SSL_CTX_free(d->tls); /* connections made with it keep a reference */
        d->tls = tls;
    }
    if (now->auth_fail_limit == before->auth_fail_limit &&
        now->auth_fail_window_ms == before->auth_fail_window_ms &&
        now->auth_block_ms == before->auth_block_ms)
        return;
    struct auth_limiter *by_peer = auth_limiter_new_conf(now, 0);
    struct auth_limiter *by_pair = auth_limiter_new_conf(now, 0);
    if (!by_peer || !by_pair) {
        auth_limiter_free(by_peer);
        auth_limiter_free(by_pair);
        log_error(TAG, "out of memory: auth limits unchanged");
        return;
    }
    auth_limiter_free(d->by_peer);
    auth_limiter_free(d->by_pair);
    d->by_peer = by_peer;
    d->by_pair = by_pair;
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
    auth_limiter_free(d->by_pair);
    while (d->proxy_waits)
        proxy_wait_free(d->proxy_waits, 1);
    msgops_free(d->ops);
    gate_free(d->gate);
    if (d->drain_ev)
        event_free(d->drain_ev);
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
        if (da && a)
            da->daily_quota = a->daily_quota; /* and the new quota */
        if (da && a)
            account_queue_caps(da, a); /* and the new caps */
        for (struct down_client *c = d->clients; c; c = c->next) {
            if (!c->acct || strcmp(c->acct->id, w->id) != 0)
                continue;
            int keep = a && a->enabled &&
                       auth_allow_match(a->allow, (struct sockaddr *)&c->addr) == 1;
            if (a)
                c->id_decimal = a->id_format == ACCOUNT_ID_DEC;
            if (!keep) {
                log_event(LOG_INFO, TAG,
                          LOG_FIELDS("account", c->system_id, "type", c->bind_type,
                                     "peer", c->peer, "session", LOG_NUM(c->sid),
                                     "reason", "account changed"),
                          "[%s %s] account changed: unbinding", c->system_id, c->peer);
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
    log_event(LOG_INFO, TAG, LOG_FIELDS("account", account),
              "account %s changed: reloading it for its binds", account);
    struct reload_wait *w = calloc(1, sizeof *w);
    if (!w)
        return;
    w->d = d;
    snprintf(w->id, sizeof w->id, "%s", account);
    if (store_account_get(d->st, account, on_account_reloaded, w) != 0)
        free(w);
}

/* ---- admin: sessions, kicks, metrics ---------------------------------- */

static void down_metrics(struct down *d)
{
    struct metrics *m = metrics_default();
    d->m_submits = metrics_family(
        m, METRICS_COUNTER, "smppbridge_submits_total",
        "Answers to submit_sm, data_sm and submit_multi, by status.",
        "account,status");
    d->m_throttled = metrics_family(m, METRICS_COUNTER, "smppbridge_throttled_total",
                                    "Submits refused over the account's rate.",
                                    "account");
    d->m_queue_full = metrics_family(
        m, METRICS_COUNTER, "smppbridge_queue_full_total",
        "Submits refused with ESME_RMSGQFUL: the account has its "
        "queue_max_messages or queue_max_bytes queued already.",
        "account");
    d->m_resp = metrics_family(m, METRICS_HISTOGRAM, "smppbridge_submit_resp_seconds",
                               "Customer submits: request read to response written.",
                               NULL);
    d->m_auth = metrics_family(m, METRICS_COUNTER, "smppbridge_auth_failures_total",
                               "Binds refused, by reason.", "reason");
}

void down_sessions(struct down *d, down_session_cb cb, void *arg)
{
    for (struct down_client *c = d->clients; c; c = c->next) {
        if (!c->acct || sess_state(c->sess) == SESS_CLOSED)
            continue;
        struct down_session_info i = {
            .id = c->sid, .account = c->acct->id,
            .bind_type = c->bind_type ? c->bind_type : "", .peer = c->peer,
            .since_ms = c->since_ms, .submits = c->n_submits, .ok = c->n_ok,
            .throttled = c->n_throttled, .refused = c->n_refused,
            .delivered = c->n_delivered,
            .window_refused = sess_stats(c->sess)->throttled,
            .inflight = sess_inflight(c->sess),
        };
        cb(&i, arg);
    }
}

/* Unbind <c> as the session module does (close on unbind_resp or its
 * timeout); 1 when it was bound and not already leaving. */
static int kick(struct down_client *c)
{
    enum sess_state st = sess_state(c->sess);
    if (!c->acct || st == SESS_UNBINDING || st == SESS_CLOSED)
        return 0;
    log_info(TAG, "[%s %s] unbinding on the operator's request", c->system_id,
             c->peer);
    sess_unbind(c->sess);
    return 1;
}

int down_kick(struct down *d, unsigned long long id)
{
    for (struct down_client *c = d->clients; c; c = c->next)
        if (c->sid == id)
            return kick(c) ? 0 : -1;
    return -1;
}

unsigned down_kick_account(struct down *d, const char *account)
{
    unsigned n = 0;
    for (struct down_client *c = d->clients; c; c = c->next)
        if (c->acct && strcmp(c->acct->id, account) == 0)
            n += (unsigned)kick(c);
    return n;
}

void down_note_delivered(struct sess *s)
{
    if (sess_state(s) != SESS_CLOSED)
        ((struct down_client *)sess_ctx(s))->n_delivered++;
}

/* ---- the failed-bind limiter, for the admin server ---------------------- */

struct block_walk {
    const char *scope;
    down_auth_block_cb cb;
    void *arg;
};

static void report_block(const struct auth_limiter_entry *e, void *arg)
{
    struct block_walk *w = arg;
    struct down_auth_block b = {.scope = w->scope, .key = e->key,
                                .failures = e->failures, .blocked = e->blocked,
                                .remaining_ms = e->remaining_ms};
    w->cb(&b, w->arg);
}

void down_auth_blocks(struct down *d, down_auth_block_cb cb, void *arg)
{
    uint64_t now = clock_mono_ms();
    struct block_walk by_peer = {"address", cb, arg}, by_pair = {"pair", cb, arg};
    auth_limiter_foreach(d->by_peer, now, report_block, &by_peer);
    auth_limiter_foreach(d->by_pair, now, report_block, &by_pair);
}

void down_auth_blocked(struct down *d, size_t *addresses, size_t *pairs)
{
    uint64_t now = clock_mono_ms();
    *addresses = auth_limiter_blocked(d->by_peer, now);
    *pairs = auth_limiter_blocked(d->by_pair, now);
}

/* <what> as the limiter spells it: an IP address becomes its peer key
 * (an IPv6 address its /64), anything else stays as it is. */
static void limiter_spelling(const char *what, char *out, size_t cap)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    const struct sockaddr *sa = NULL;
    if (inet_pton(AF_INET, what, &sin.sin_addr) == 1)
        sa = (const struct sockaddr *)&sin;
    else if (inet_pton(AF_INET6, what, &sin6.sin6_addr) == 1)
        sa = (const struct sockaddr *)&sin6;
    if (!sa || auth_limiter_peer_key(sa, out, cap) != 0)
        snprintf(out, cap, "%s", what);
}

size_t down_auth_unblock(struct down *d, const char *what)
{
    char key[AUTH_LIMITER_KEY_MAX];
    limiter_spelling(what, key, sizeof key);
    size_t n = auth_limiter_forget(d->by_peer, key) +
               auth_limiter_forget(d->by_pair, key);
    if (n)
        log_event(LOG_INFO, TAG, LOG_FIELDS("unblocked", key),
                  "failed-bind limits lifted for %s (%zu entries)", key, n);
    return n;
}
