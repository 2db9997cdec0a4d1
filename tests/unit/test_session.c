/*
 * test_session.c - the session state machine against scripted peers.
 *
 * Each test runs a real event_base and a socketpair(AF_UNIX, SOCK_STREAM):
 * one end is the session's bufferevent, the other a peer the test drives
 * with plain non-blocking read() and write() (helpers/peer_script.h).
 * Every wait is bounded and waits for an event (a PDU, an EOF, a
 * callback); the timeouts in sess_config are a few hundred milliseconds.
 *
 * What "the spec says" comes from the session-state table of SMPP 3.4
 * §2.3 (who may send what in which state) and the 3.4 rules on sequence
 * numbers and generic_nack (§4.3), with the choices of docs/architecture.md,
 * "SMPP facts the code relies on" (enquire_link answered in every state);
 * expected_outcome() below restates that table on its own rather than
 * reading session.c.
 *
 * Tests named bug_* are regression tests, each named after the defect of
 * session.c it guards against.
 */
#define _DEFAULT_SOURCE /* socketpair, setsockopt */
#include "common.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pdu.h"
#include "pdu_samples.h"
#include "peer_script.h"
#include "session.h"
#include "wire.h"

#define RAW_MAX PEER_RAW_MAX
#define WAIT_MS PEER_WAIT_MS
#define MAX_RECS 512u

/* ---- fixture -------------------------------------------------------- */

enum owner_mode {
    OWNER_NOW = 0, /* answer from inside the callback */
    OWNER_HOLD,    /* leave it to the test */
};

struct req_rec {
    uint32_t id, seq;
    size_t raw_len;     /* sess_request_bytes() of the request (0: none) */
    uint8_t raw[2048];  /* the first bytes of them */
    int copy_has_raw;   /* ... and of a copy of the request: never */
};

/* One session, its scripted peer and what the owner's callbacks saw. */
struct fx {
    struct event_base *base;
    struct sess *s; /* the owner's reference; NULL once on_close dropped it */
    struct peer peer;

    enum owner_mode bind_mode;
    uint32_t bind_status;
    enum owner_mode req_mode;
    int break_on_request;
    int bind_on_connect;

    int connected, binds, bounds, writables, closes;
    enum sess_close_reason why;
    uint64_t closed_at_ms;
    uint32_t bind_id;
    uint8_t bind_version;
    char bind_system_id[17];
    uint8_t bound_version;
    unsigned nreqs;
    struct req_rec reqs[MAX_RECS];
    unsigned completions;
    int late_known;     /* on_late_resp claims what it is shown */
    unsigned lates;     /* responses shown to on_late_resp */
    uint32_t late_seq;
};

/* The completion of one request we sent. */
struct done {
    int calls;
    uint32_t status;
    int had_resp;
    uint32_t resp_id, resp_seq;
    char message_id[66];
    unsigned order;
    uint64_t at_ms;
};

#define STEP PEER_STEP
#define RUN_UNTIL(f, cond, ms) PEER_RUN_UNTIL((f)->base, cond, ms)

/* ---- owner callbacks ------------------------------------------------ */

static void cb_connected(struct sess *s, void *ctx)
{
    struct fx *f = ctx;
    f->connected++;
    if (f->bind_on_connect)
        cr_assert_eq(sess_bind(s, SESS_BIND_TRX, "esme01", "secret", "", 0x34),
                     0);
}

static void cb_bind(struct sess *s, const struct pdu *bind, void *ctx)
{
    struct fx *f = ctx;
    size_t n = bind->system_id.len < 16 ? bind->system_id.len : 16;
    f->binds++;
    f->bind_id = bind->command_id;
    f->bind_version = bind->interface_version;
    if (n)
        memcpy(f->bind_system_id, bind->system_id.ptr, n);
    f->bind_system_id[n] = 0;
    if (f->bind_mode == OWNER_NOW)
        sess_bind_reply(s, f->bind_status);
}

static void cb_bound(struct sess *s, const struct pdu *resp, void *ctx)
{
    struct fx *f = ctx;
    (void)resp;
    f->bounds++;
    f->bound_version = sess_peer_version(s);
}

static void cb_request(struct sess *s, const struct pdu *req, void *ctx)
{
    struct fx *f = ctx;
    if (f->nreqs < MAX_RECS) {
        f->reqs[f->nreqs].id = req->command_id;
        f->reqs[f->nreqs].seq = req->sequence_number;
        struct req_rec *r = &f->reqs[f->nreqs];
        size_t n = 0;
        const uint8_t *raw = sess_request_bytes(s, req, &n);
        struct pdu copy = *req;
        size_t copy_n = 0;
        r->raw_len = raw ? n : 0;
        if (raw)
            memcpy(r->raw, raw, n < sizeof r->raw ? n : sizeof r->raw);
        r->copy_has_raw = sess_request_bytes(s, &copy, &copy_n) != NULL;
    }
    f->nreqs++;
    if (f->break_on_request)
        event_base_loopbreak(f->base);
    if (f->req_mode == OWNER_NOW &&
        !(pdu_command_flags(req->command_id) & PDUF_NORESP))
        sess_reply(s, req->command_id, req->sequence_number, ESME_ROK, NULL);
}

static void cb_writable(struct sess *s, void *ctx)
{
    struct fx *f = ctx;
    (void)s;
    f->writables++;
}

static void cb_close(struct sess *s, enum sess_close_reason why, void *ctx)
{
    struct fx *f = ctx;
    f->closes++;
    f->why = why;
    f->closed_at_ms = peer_now_ms();
    cr_assert_eq(sess_state(s), SESS_CLOSED);
    if (f->s == s) {
        f->s = NULL;
        sess_unref(s);
    }
}

static int cb_late_resp(struct sess *s, const struct pdu *resp, void *ctx)
{
    struct fx *f = ctx;
    (void)s;
    f->lates++;
    f->late_seq = resp->sequence_number;
    return f->late_known;
}

static const struct sess_callbacks fx_cbs = {
    .on_late_resp = cb_late_resp,
    .on_connected = cb_connected,
    .on_bind = cb_bind,
    .on_bound = cb_bound,
    .on_request = cb_request,
    .on_writable = cb_writable,
    .on_close = cb_close,
};

static void cb_done(struct sess *s, const struct pdu *resp, uint32_t status,
                    void *arg)
{
    struct done *d = arg;
    struct fx *f = sess_ctx(s);
    d->calls++;
    d->status = status;
    d->had_resp = resp != NULL;
    d->order = f->completions++;
    d->at_ms = peer_now_ms();
    if (resp) {
        size_t n = resp->message_id.len < 65 ? resp->message_id.len : 65;
        d->resp_id = resp->command_id;
        d->resp_seq = resp->sequence_number;
        if (n)
            memcpy(d->message_id, resp->message_id.ptr, n);
        d->message_id[n] = 0;
    }
}

/* ---- building the fixture ------------------------------------------- */

/* Long timeouts and no spontaneous traffic: tests about timers set their
 * own small values. */
static struct sess_config test_cfg(void)
{
    struct sess_config c;
    sess_config_defaults(&c);
    c.resp_timeout_ms = 2000;
    c.bind_timeout_ms = 2000;
    c.idle_timeout_ms = 0;
    c.enquire_interval_ms = 0;
    return c;
}

enum { FX_SMALL_BUFS = 1 };

static struct fx *fx_alloc(void)
{
    struct fx *f = calloc(1, sizeof *f);
    signal(SIGPIPE, SIG_IGN); /* the peer may close under the session */
    cr_assert_not_null(f);
    f->peer.fd = -1;
    f->bind_status = ESME_ROK;
    f->base = event_base_new();
    cr_assert_not_null(f->base);
    f->peer.base = f->base;
    return f;
}

static void set_small_bufs(int fd)
{
    int sz = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

/* A session of <role> on one end of a socketpair; the test is the other. */
static struct fx *fx_new(enum sess_role role, const struct sess_config *cfg,
                         unsigned flags)
{
    struct fx *f = fx_alloc();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (flags & FX_SMALL_BUFS) {
        set_small_bufs(sv[0]);
        set_small_bufs(sv[1]);
    }
    evutil_make_socket_nonblocking(sv[0]);
    evutil_make_socket_nonblocking(sv[1]);
    f->peer.fd = sv[1];
    struct bufferevent *bev =
        bufferevent_socket_new(f->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
    cr_assert_not_null(bev);
    f->s = sess_new(f->base, bev, role, cfg, &fx_cbs, f);
    cr_assert_not_null(f->s);
    return f;
}

/* Close what is left, check on_close came exactly once, free. */
static void fx_free(struct fx *f)
{
    if (f->s)
        sess_close(f->s, SESS_CLOSE_LOCAL);
    if (f->peer.fd >= 0) {
        close(f->peer.fd);
        f->peer.fd = -1;
    }
    RUN_UNTIL(f, f->s == NULL, 3000);
    cr_assert_null(f->s, "on_close never came");
    cr_assert_eq(f->closes, 1, "on_close called %d times", f->closes);
    event_base_free(f->base);
    free(f);
}

/* The session closes the connection (half-closes it: the peer reads to
 * EOF and closes its end, as peers do), then on_close says <why>. */
static void expect_close(struct fx *f, enum sess_close_reason why)
{
    peer_expect_eof(&f->peer);
    close(f->peer.fd);
    f->peer.fd = -1;
    RUN_UNTIL(f, f->closes == 1, WAIT_MS);
    cr_assert_eq(f->closes, 1, "%s: on_close did not come", peer_step);
    cr_assert_eq(f->why, why, "%s: closed for %s, want %s", peer_step,
                 sess_close_reason_name(f->why), sess_close_reason_name(why));
}

/* on_close came (whatever the peer saw) and says <why>. */
static void expect_closed(struct fx *f, enum sess_close_reason why)
{
    RUN_UNTIL(f, f->closes == 1, WAIT_MS);
    cr_assert_eq(f->closes, 1, "%s: on_close did not come", peer_step);
    cr_assert_eq(f->why, why, "%s: closed for %s, want %s", peer_step,
                 sess_close_reason_name(f->why), sess_close_reason_name(why));
}

/* ---- the peer's PDUs ------------------------------------------------ */

/* A full PDU of <id> with every field set (pdu_samples). */
static void peer_send_sample(struct fx *f, uint32_t id, uint32_t seq)
{
    struct pdu p;
    uint8_t scratch[1024];
    pdu_sample_build(id, &p, scratch, sizeof scratch);
    p.sequence_number = seq;
    p.command_status = 0;
    peer_send(&f->peer, &p);
}

/* ---- getting a session into a state --------------------------------- */

static void peer_bind(struct fx *f, uint32_t bind_id, uint8_t version,
                      uint32_t seq)
{
    struct pdu p;
    pdu_init(&p, bind_id, seq);
    p.system_id = pdu_view_str("esme01");
    p.password = pdu_view_str("pw");
    p.system_type = pdu_view_str("");
    p.interface_version = version;
    peer_send(&f->peer, &p);
}

/* Server role: the peer binds as <bind_id> and the owner accepts. */
static void server_bind(struct fx *f, uint32_t bind_id, uint8_t version)
{
    STEP("server bind %s", pdu_command_name(bind_id));
    peer_bind(f, bind_id, version, 1);
    peer_expect_only(&f->peer, pdu_resp_id(bind_id), 1, ESME_ROK);
    cr_assert_eq(f->binds, 1);
}

static const uint32_t bind_ids[] = {
    [SESS_BIND_TX] = PDU_BIND_TRANSMITTER,
    [SESS_BIND_RX] = PDU_BIND_RECEIVER,
    [SESS_BIND_TRX] = PDU_BIND_TRANSCEIVER,
};

static const uint8_t v34 = 0x34;

/* Client role: sess_bind(), the peer checks the bind and answers. */
static void client_bind_resp(struct fx *f, enum sess_bind_type type,
                             uint32_t status, int with_tlv)
{
    struct pdu p, r;
    uint8_t raw[RAW_MAX];
    STEP("client bind %s", pdu_command_name(bind_ids[type]));
    cr_assert_eq(sess_bind(f->s, type, "esme01", "secret", "", 0x34), 0);
    cr_assert_eq(sess_state(f->s), SESS_BINDING);
    /* the first request of a session: sequence number 1 */
    peer_expect_hdr(&f->peer, bind_ids[type], 1, ESME_ROK, &p, raw);
    cr_assert(pdu_view_eq(p.system_id, "esme01"));
    cr_assert(pdu_view_eq(p.password, "secret"));
    cr_assert_eq(p.interface_version, 0x34);
    pdu_init(&r, pdu_resp_id(bind_ids[type]), 1);
    r.command_status = status;
    r.system_id = pdu_view_str("SMSC01");
    if (with_tlv)
        pdu_tlv_add(&r, PDU_TLV_SC_INTERFACE_VERSION, &v34, 1);
    peer_send(&f->peer, &r);
}

static void client_bind(struct fx *f, enum sess_bind_type type)
{
    client_bind_resp(f, type, ESME_ROK, 1);
    RUN_UNTIL(f, f->bounds == 1, WAIT_MS);
    cr_assert_eq(f->bounds, 1, "on_bound did not come");
}

static void fill_submit(struct pdu *p)
{
    pdu_init(p, PDU_SUBMIT_SM, 0);
    p->source_addr = pdu_view_str("Bridge");
    p->dest_addr_ton = 1;
    p->dest_addr_npi = 1;
    p->destination_addr = pdu_view_str("34600000001");
    p->short_message = pdu_view_str("hello");
}

/* Client role: send a submit_sm completing into <d>; returns its seq. */
static uint32_t client_submit(struct fx *f, struct done *d)
{
    struct pdu p;
    uint32_t seq = 0;
    fill_submit(&p);
    cr_assert_eq(sess_send(f->s, &p, cb_done, d, &seq), 0);
    cr_assert_eq(p.sequence_number, seq);
    return seq;
}

/* Server role: send a deliver_sm completing into <d>; returns its seq. */
static uint32_t server_deliver(struct fx *f, struct done *d)
{
    struct pdu p;
    uint32_t seq = 0;
    pdu_init(&p, PDU_DELIVER_SM, 0);
    p.source_addr = pdu_view_str("34600000001");
    p.destination_addr = pdu_view_str("Bridge");
    p.short_message = pdu_view_str("mo text");
    cr_assert_eq(sess_send(f->s, &p, cb_done, d, &seq), 0);
    return seq;
}

/* A response with a message_id body (submit_sm_resp, deliver_sm_resp). */
static void peer_resp(struct fx *f, uint32_t id, uint32_t seq, uint32_t status,
                      const char *message_id)
{
    struct pdu r;
    pdu_init(&r, id, seq);
    r.command_status = status;
    r.message_id = pdu_view_str(message_id);
    peer_send(&f->peer, &r);
}

static void peer_submit_resp(struct fx *f, uint32_t seq, uint32_t status,
                             const char *message_id)
{
    peer_resp(f, PDU_SUBMIT_SM_RESP, seq, status, message_id);
}

/* ---- every state / PDU combination (SMPP 3.4 §2.3) ------------------ */

enum outcome {
    O_OWNER = 0,    /* on_request; the owner's answer goes out */
    O_OWNER_NORESP, /* on_request; nothing goes out */
    O_REFUSED,      /* its own _resp with ESME_RINVBNDSTS */
    O_NACKED,       /* takes no response: generic_nack ESME_RINVBNDSTS */
    O_ALYBND,       /* bind_*_resp ESME_RALYBND */
    O_ANSWERED,     /* enquire_link_resp ESME_ROK */
    O_SKIP,         /* changes the state: tested on its own */
};

/* Every request a peer can send but unbind (which closes when allowed). */
static const uint32_t table_ids[] = {
    PDU_BIND_RECEIVER, PDU_BIND_TRANSMITTER, PDU_QUERY_SM, PDU_SUBMIT_SM,
    PDU_DELIVER_SM, PDU_REPLACE_SM, PDU_CANCEL_SM, PDU_BIND_TRANSCEIVER,
    PDU_OUTBIND, PDU_ENQUIRE_LINK, PDU_SUBMIT_MULTI, PDU_ALERT_NOTIFICATION,
    PDU_DATA_SM, PDU_BROADCAST_SM, PDU_QUERY_BROADCAST_SM,
    PDU_CANCEL_BROADCAST_SM,
};

/* What the session must do with <id> from its peer, from the 3.4 §2.3 table
 * read from the receiving side: a SERVER's peer is an ESME, a CLIENT's
 * peer an SMSC. */
static enum outcome expected_outcome(enum sess_role role, enum sess_state st,
                                     uint32_t id)
{
    int tx = st == SESS_BOUND_TX || st == SESS_BOUND_TRX;
    int rx = st == SESS_BOUND_RX || st == SESS_BOUND_TRX;
    int server = role == SESS_SERVER;
    switch (id) {
    case PDU_ENQUIRE_LINK: /* every state: 5.0 allows it before the bind */
        return O_ANSWERED;
    case PDU_BIND_RECEIVER: case PDU_BIND_TRANSMITTER:
    case PDU_BIND_TRANSCEIVER: /* ESME -> SMSC, in OPEN */
        if (!server)
            return O_REFUSED;
        return st == SESS_OPEN ? O_SKIP : O_ALYBND;
    case PDU_QUERY_SM: case PDU_SUBMIT_SM: case PDU_REPLACE_SM:
    case PDU_CANCEL_SM: case PDU_SUBMIT_MULTI: case PDU_BROADCAST_SM:
    case PDU_QUERY_BROADCAST_SM: case PDU_CANCEL_BROADCAST_SM:
        return server && tx ? O_OWNER : O_REFUSED; /* ESME: TX, TRX */
    case PDU_DELIVER_SM: /* SMSC -> ESME: RX, TRX */
        return !server && rx ? O_OWNER : O_REFUSED;
    case PDU_DATA_SM: /* ESME: TX, TRX; SMSC: RX, TRX */
        return (server ? tx : rx) ? O_OWNER : O_REFUSED;
    case PDU_ALERT_NOTIFICATION: /* SMSC -> ESME: RX, TRX; no response */
        return !server && rx ? O_OWNER_NORESP : O_NACKED;
    case PDU_OUTBIND: /* SMSC -> ESME in OPEN; no response */
        return !server && st == SESS_OPEN ? O_OWNER_NORESP : O_NACKED;
    default:
        cr_assert_fail("no expectation for %s", pdu_command_name(id));
        return O_SKIP;
    }
}

static const char *const role_names[] = {"server", "client"};

/* Bring a fresh session of <role> to <st>. */
static void put_in_state(struct fx *f, enum sess_role role, enum sess_state st)
{
    int server = role == SESS_SERVER;
    switch (st) {
    case SESS_OPEN:
        break;
    case SESS_BINDING:
        if (server) {
            f->bind_mode = OWNER_HOLD; /* authorising, say, in Redis */
            peer_bind(f, PDU_BIND_TRANSCEIVER, 0x34, 1);
            RUN_UNTIL(f, f->binds == 1, WAIT_MS);
        } else {
            cr_assert_eq(sess_bind(f->s, SESS_BIND_TRX, "e", "p", "", 0x34), 0);
            peer_expect_only(&f->peer, PDU_BIND_TRANSCEIVER, 1, ESME_ROK);
        }
        break;
    case SESS_BOUND_TX:
    case SESS_BOUND_RX:
    case SESS_BOUND_TRX:
    case SESS_UNBINDING: {
        enum sess_bind_type t = st == SESS_BOUND_TX   ? SESS_BIND_TX
                              : st == SESS_BOUND_RX ? SESS_BIND_RX
                                                    : SESS_BIND_TRX;
        if (server)
            server_bind(f, bind_ids[t], 0x34);
        else
            client_bind(f, t);
        if (st == SESS_UNBINDING) {
            sess_unbind(f->s);
            peer_expect_only(&f->peer, PDU_UNBIND, server ? 1 : 2, ESME_ROK);
        }
        break;
    }
    default:
        cr_assert_fail("state %s", sess_state_name(st));
    }
    cr_assert_eq(sess_state(f->s), st, "reached %s, not %s",
                 sess_state_name(sess_state(f->s)), sess_state_name(st));
}

static void run_state_table(enum sess_role role, enum sess_state st)
{
    struct sess_config cfg = test_cfg();
    cfg.max_glitches = 0; /* every refusal below is a glitch */
    struct fx *f = fx_new(role, &cfg, 0);
    put_in_state(f, role, st);
    uint32_t seq = 100;
    for (size_t i = 0; i < ARRAY_LEN(table_ids); i++, seq++) {
        uint32_t id = table_ids[i];
        enum outcome o = expected_outcome(role, st, id);
        unsigned before = f->nreqs;
        if (o == O_SKIP)
            continue;
        STEP("%s in %s: %s", role_names[role], sess_state_name(st),
             pdu_command_name(id));
        peer_send_sample(f, id, seq);
        switch (o) {
        case O_OWNER:
            peer_expect_only(&f->peer, pdu_resp_id(id), seq, ESME_ROK);
            break;
        case O_OWNER_NORESP:
            RUN_UNTIL(f, f->nreqs > before, WAIT_MS);
            /* nothing was answered: the next PDU out is this one's resp */
            peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, seq + 1000);
            peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, seq + 1000,
                             ESME_ROK);
            break;
        case O_REFUSED:
            peer_expect_only(&f->peer, pdu_resp_id(id), seq, ESME_RINVBNDSTS);
            break;
        case O_NACKED:
            peer_expect_only(&f->peer, PDU_GENERIC_NACK, seq, ESME_RINVBNDSTS);
            break;
        case O_ALYBND:
            peer_expect_only(&f->peer, pdu_resp_id(id), seq, ESME_RALYBND);
            break;
        case O_ANSWERED:
            peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, seq, ESME_ROK);
            break;
        default:
            break;
        }
        int to_owner = o == O_OWNER || o == O_OWNER_NORESP;
        cr_assert_eq(f->nreqs, before + (to_owner ? 1u : 0u),
                     "%s: on_request %s", peer_step,
                     to_owner ? "not called" : "called");
        if (to_owner)
            cr_assert_eq(f->reqs[before].id, id, "%s", peer_step);
        cr_assert_eq(sess_state(f->s), st, "%s: state became %s", peer_step,
                     sess_state_name(sess_state(f->s)));
        cr_assert_eq(f->closes, 0, "%s: closed", peer_step);
    }
    fx_free(f);
}

Test(session_states, server_open)
{
    run_state_table(SESS_SERVER, SESS_OPEN);
}

Test(session_states, server_binding)
{
    run_state_table(SESS_SERVER, SESS_BINDING);
}

Test(session_states, server_bound_tx)
{
    run_state_table(SESS_SERVER, SESS_BOUND_TX);
}

Test(session_states, server_bound_rx)
{
    run_state_table(SESS_SERVER, SESS_BOUND_RX);
}

Test(session_states, server_bound_trx)
{
    run_state_table(SESS_SERVER, SESS_BOUND_TRX);
}

Test(session_states, server_unbinding)
{
    run_state_table(SESS_SERVER, SESS_UNBINDING);
}

Test(session_states, client_open)
{
    run_state_table(SESS_CLIENT, SESS_OPEN);
}

Test(session_states, client_binding)
{
    run_state_table(SESS_CLIENT, SESS_BINDING);
}

Test(session_states, client_bound_tx)
{
    run_state_table(SESS_CLIENT, SESS_BOUND_TX);
}

Test(session_states, client_bound_rx)
{
    run_state_table(SESS_CLIENT, SESS_BOUND_RX);
}

Test(session_states, client_bound_trx)
{
    run_state_table(SESS_CLIENT, SESS_BOUND_TRX);
}

Test(session_states, client_unbinding)
{
    run_state_table(SESS_CLIENT, SESS_UNBINDING);
}

/* The cases the requirement names, one by one, with the glitch count. */
static void refused_once(enum sess_role role, enum sess_state st, uint32_t id)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(role, &cfg, 0);
    put_in_state(f, role, st);
    STEP("%s from the peer in %s", pdu_command_name(id), sess_state_name(st));
    peer_send_sample(f, id, 42);
    peer_expect_only(&f->peer, pdu_resp_id(id), 42, ESME_RINVBNDSTS);
    cr_assert_eq(f->nreqs, 0);
    cr_assert_eq(sess_stats(f->s)->glitches, 1);
    cr_assert_eq(sess_state(f->s), st);
    fx_free(f);
}

Test(session_states, server_deliver_sm_from_esme_refused)
{
    refused_once(SESS_SERVER, SESS_BOUND_TRX, PDU_DELIVER_SM);
}

Test(session_states, server_submit_sm_on_rx_bind_refused)
{
    refused_once(SESS_SERVER, SESS_BOUND_RX, PDU_SUBMIT_SM);
}

Test(session_states, server_submit_sm_before_bind_refused)
{
    refused_once(SESS_SERVER, SESS_OPEN, PDU_SUBMIT_SM);
}

Test(session_states, client_submit_sm_from_smsc_refused)
{
    refused_once(SESS_CLIENT, SESS_BOUND_TRX, PDU_SUBMIT_SM);
}

Test(session_states, unbind_before_bind_refused)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    STEP("unbind in OPEN");
    peer_send_hdr(&f->peer, PDU_UNBIND, 0, 3);
    peer_expect_only(&f->peer, PDU_UNBIND_RESP, 3, ESME_RINVBNDSTS);
    cr_assert_eq(sess_state(f->s), SESS_OPEN);
    put_in_state(f, SESS_SERVER, SESS_BINDING);
    STEP("unbind in BINDING");
    peer_send_hdr(&f->peer, PDU_UNBIND, 0, 4);
    peer_expect_only(&f->peer, PDU_UNBIND_RESP, 4, ESME_RINVBNDSTS);
    cr_assert_eq(sess_state(f->s), SESS_BINDING);
    cr_assert_eq(sess_stats(f->s)->glitches, 2);
    fx_free(f);
}

/* We may send only what our role and state allow. */
Test(session_states, send_refused_outside_role_and_state)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct done d = {0};
    struct pdu p;
    fill_submit(&p);
    cr_assert_eq(sess_can_send(f->s), 0, "OPEN: nothing may be sent");
    cr_assert_eq(sess_send(f->s, &p, cb_done, &d, NULL), -1);
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    pdu_init(&p, PDU_DELIVER_SM, 0); /* a TX bind receives nothing */
    cr_assert_eq(sess_send(f->s, &p, cb_done, &d, NULL), -1);
    fill_submit(&p); /* and an SMSC never sends submit_sm */
    cr_assert_eq(sess_send(f->s, &p, cb_done, &d, NULL), -1);
    cr_assert_eq(sess_inflight(f->s), 0);
    fx_free(f);
    cr_assert_eq(d.calls, 0, "a refused send must not complete");
}

/* ---- server role: bind ---------------------------------------------- */

Test(session_bind, server_accepts_bind_tlv_for_v34)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu r;
    uint8_t raw[RAW_MAX], v = 0;
    cr_assert_eq(sess_state(f->s), SESS_OPEN);
    STEP("bind_transceiver 0x34");
    peer_bind(f, PDU_BIND_TRANSCEIVER, 0x34, 1);
    peer_expect_hdr(&f->peer, PDU_BIND_TRANSCEIVER_RESP, 1, ESME_ROK, &r, raw);
    cr_assert_eq(f->binds, 1);
    cr_assert_eq(f->bind_id, PDU_BIND_TRANSCEIVER);
    cr_assert_eq(f->bind_version, 0x34);
    cr_assert_str_eq(f->bind_system_id, "esme01");
    cr_assert(pdu_view_eq(r.system_id, "smppbridge"));
    cr_assert_eq(r.tlv_count, 1);
    cr_assert_eq(pdu_tlv_u8(&r, PDU_TLV_SC_INTERFACE_VERSION, &v), 0);
    cr_assert_eq(v, 0x34);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TRX);
    cr_assert_eq(sess_peer_version(f->s), 0x34);
    cr_assert_str_eq(sess_peer_system_id(f->s), "esme01");
    fx_free(f);
}

Test(session_bind, server_v33_bind_gets_no_tlv)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu r;
    uint8_t raw[RAW_MAX];
    STEP("bind_transmitter 0x33");
    peer_bind(f, PDU_BIND_TRANSMITTER, 0x33, 9);
    peer_expect_hdr(&f->peer, PDU_BIND_TRANSMITTER_RESP, 9, ESME_ROK, &r, raw);
    cr_assert_eq(r.tlv_count, 0, "a 3.3 peer must get no TLV");
    cr_assert(pdu_view_eq(r.system_id, "smppbridge"));
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TX);
    cr_assert_eq(sess_peer_version(f->s), 0x33);
    fx_free(f);
}

Test(session_bind, server_v50_bind_gets_v34_tlv)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu r;
    uint8_t raw[RAW_MAX], v = 0;
    STEP("bind_receiver 0x50");
    peer_bind(f, PDU_BIND_RECEIVER, 0x50, 2);
    peer_expect_hdr(&f->peer, PDU_BIND_RECEIVER_RESP, 2, ESME_ROK, &r, raw);
    cr_assert_eq(pdu_tlv_u8(&r, PDU_TLV_SC_INTERFACE_VERSION, &v), 0);
    cr_assert_eq(v, 0x34);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_RX);
    fx_free(f);
}

Test(session_bind, server_refused_bind_bodyless_resp_then_close)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu r;
    uint8_t raw[RAW_MAX];
    f->bind_status = ESME_RINVPASWD;
    STEP("refused bind");
    peer_bind(f, PDU_BIND_TRANSCEIVER, 0x34, 5);
    peer_expect_hdr(&f->peer, PDU_BIND_TRANSCEIVER_RESP, 5, ESME_RINVPASWD, &r,
                    raw);
    cr_assert_eq(r.command_length, 16, "a refused bind_resp has no body");
    expect_close(f, SESS_CLOSE_BIND_FAILED);
    fx_free(f);
}

/* The owner may answer the bind later, holding a reference meanwhile. */
Test(session_bind, server_bind_answered_later)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    f->bind_mode = OWNER_HOLD;
    STEP("held bind");
    peer_bind(f, PDU_BIND_TRANSMITTER, 0x34, 1);
    RUN_UNTIL(f, f->binds == 1, WAIT_MS);
    cr_assert_eq(f->binds, 1);
    cr_assert_eq(sess_state(f->s), SESS_BINDING);
    sess_ref(f->s);
    struct sess *s = f->s;
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 2); /* answered meanwhile */
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 2, ESME_ROK);
    sess_bind_reply(s, ESME_ROK);
    sess_unref(s);
    peer_expect_only(&f->peer, PDU_BIND_TRANSMITTER_RESP, 1, ESME_ROK);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TX);
    fx_free(f);
}

Test(session_bind, server_second_bind_already_bound)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu r;
    uint8_t raw[RAW_MAX];
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    STEP("second bind");
    peer_bind(f, PDU_BIND_TRANSCEIVER, 0x34, 2);
    peer_expect_hdr(&f->peer, PDU_BIND_TRANSCEIVER_RESP, 2, ESME_RALYBND, &r,
                    raw);
    cr_assert_eq(r.command_length, 16);
    cr_assert_eq(f->binds, 1, "on_bind must not see the second bind");
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TX);
    cr_assert_eq(sess_stats(f->s)->glitches, 1);
    fx_free(f);
}

/* No bind within bind_timeout_ms: closed, and enquire_links in OPEN do not
 * buy time. */
Test(session_bind, server_bind_timeout)
{
    struct sess_config cfg = test_cfg();
    cfg.bind_timeout_ms = 150;
    uint64_t t0 = peer_now_ms();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    for (uint32_t i = 0; i < 3; i++) {
        STEP("enquire_link %u in OPEN", i);
        peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 10 + i);
        peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 10 + i, ESME_ROK);
        RUN_UNTIL(f, peer_now_ms() >= t0 + 40 * (i + 1), WAIT_MS); /* pace */
    }
    STEP("bind timeout");
    expect_close(f, SESS_CLOSE_BIND_TIMEOUT);
    uint64_t el = f->closed_at_ms - t0;
    cr_assert(el >= 145 && el <= 800, "closed after %lu ms, want ~150",
              (unsigned long)el);
    fx_free(f);
}

/* A bind the owner never answers also ends at the bind deadline; a late
 * answer is then a no-op. */
Test(session_bind, server_bind_timeout_while_authorising)
{
    struct sess_config cfg = test_cfg();
    cfg.bind_timeout_ms = 150;
    uint64_t t0 = peer_now_ms();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    f->bind_mode = OWNER_HOLD;
    STEP("held bind");
    peer_bind(f, PDU_BIND_TRANSCEIVER, 0x34, 1);
    RUN_UNTIL(f, f->binds == 1, WAIT_MS);
    struct sess *s = f->s;
    sess_ref(s); /* the pending authorisation */
    expect_close(f, SESS_CLOSE_BIND_TIMEOUT);
    cr_assert_geq(f->closed_at_ms - t0, 145);
    cr_assert_eq(sess_state(s), SESS_CLOSED);
    sess_bind_reply(s, ESME_ROK); /* too late: nothing happens */
    cr_assert_eq(sess_state(s), SESS_CLOSED);
    sess_unref(s);
    fx_free(f);
}

/* ---- timers once bound ---------------------------------------------- */

Test(session_timers, idle_timeout_after_silence_only)
{
    struct sess_config cfg = test_cfg();
    cfg.idle_timeout_ms = 200;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    uint64_t t0 = peer_now_ms(), last = t0;
    for (uint32_t i = 0; i < 4; i++) { /* 300 ms of traffic every 100 ms */
        STEP("activity %u", i);
        RUN_UNTIL(f, peer_now_ms() >= t0 + 100 * i, WAIT_MS); /* pace */
        last = peer_now_ms();
        peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 20 + i);
        peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 20 + i, ESME_ROK);
    }
    cr_assert_eq(f->closes, 0, "closed while the peer was talking");
    STEP("silence");
    expect_close(f, SESS_CLOSE_IDLE_TIMEOUT);
    uint64_t el = f->closed_at_ms - last;
    cr_assert(el >= 190 && el <= 900, "closed %lu ms after the last PDU",
              (unsigned long)el);
    fx_free(f);
}

/* Silence for enquire_interval_ms: an enquire_link, again and again while
 * the peer answers (resp_timeout_ms below the interval here; see the bug
 * test after this one for the other case). */
Test(session_timers, enquire_link_sent_after_silence)
{
    struct sess_config cfg = test_cfg();
    cfg.enquire_interval_ms = 100;
    cfg.resp_timeout_ms = 80;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu p;
    uint8_t raw[RAW_MAX];
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    uint64_t t = peer_now_ms();
    for (uint32_t i = 1; i <= 3; i++) {
        STEP("enquire_link %u", i);
        peer_expect_hdr(&f->peer, PDU_ENQUIRE_LINK, i, ESME_ROK, &p, raw);
        uint64_t el = peer_now_ms() - t;
        cr_assert(el >= 90 && el <= 400,
                  "enquire_link after %lu ms of silence, want 100",
                  (unsigned long)el);
        peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK_RESP, 0, p.sequence_number);
        t = peer_now_ms();
    }
    cr_assert_eq(f->closes, 0);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TRX);
    cr_assert_eq(sess_stats(f->s)->timeouts, 0);
    fx_free(f);
}

/*
 * Regression: when an enquire_link is sent, the timer is re-armed for its
 * response deadline (now + resp_timeout_ms). When the response comes,
 * enquire_resp_received() clears enquire_outstanding but does not re-arm,
 * so the next enquire_link waits for that old deadline instead of
 * last_rx + enquire_interval_ms whenever resp_timeout_ms is the longer.
 */
Test(session_timers, bug_enquire_link_waits_for_previous_resp_deadline)
{
    struct sess_config cfg = test_cfg();
    cfg.enquire_interval_ms = 100;
    cfg.resp_timeout_ms = 1500;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu p;
    uint8_t raw[RAW_MAX];
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    STEP("first enquire_link");
    peer_expect_hdr(&f->peer, PDU_ENQUIRE_LINK, 1, ESME_ROK, &p, raw);
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK_RESP, 0, 1);
    uint64_t t = peer_now_ms();
    STEP("second enquire_link");
    int r = peer_expect(&f->peer, 300, &p, raw);
    uint64_t el = peer_now_ms() - t;
    cr_expect_eq(r, 1, "no enquire_link %lu ms after the last answer "
                 "(interval 100 ms)", (unsigned long)el);
    if (r == 1)
        cr_expect_eq(p.command_id, PDU_ENQUIRE_LINK);
    fx_free(f);
}

Test(session_timers, enquire_link_unanswered_closes)
{
    struct sess_config cfg = test_cfg();
    cfg.enquire_interval_ms = 100;
    cfg.resp_timeout_ms = 100;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    STEP("enquire_link");
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK, 1, ESME_ROK);
    uint64_t t = peer_now_ms();
    STEP("no answer");
    expect_close(f, SESS_CLOSE_ENQUIRE_TIMEOUT);
    uint64_t el = f->closed_at_ms - t;
    cr_assert(el >= 90 && el <= 800, "closed %lu ms after enquire_link",
              (unsigned long)el);
    fx_free(f);
}

/* ---- unbind, both directions ---------------------------------------- */

Test(session_unbind, from_peer_closes_and_fails_outstanding)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d[2] = {{0}};
    client_bind(f, SESS_BIND_TX);
    client_submit(f, &d[0]);
    client_submit(f, &d[1]);
    STEP("submits");
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, 2, ESME_ROK);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, 3, ESME_ROK);
    STEP("peer unbind");
    peer_send_hdr(&f->peer, PDU_UNBIND, 0, 7);
    peer_expect_only(&f->peer, PDU_UNBIND_RESP, 7, ESME_ROK);
    expect_close(f, SESS_CLOSE_UNBIND);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(d[i].calls, 1, "request %d completed %d times", i,
                     d[i].calls);
        cr_assert_eq(d[i].status, SESS_STATUS_CLOSED);
        cr_assert_eq(d[i].had_resp, 0);
    }
    fx_free(f);
}

Test(session_unbind, ours_answered)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    sess_unbind(f->s);
    cr_assert_eq(sess_state(f->s), SESS_UNBINDING);
    cr_assert_eq(sess_can_send(f->s), 0);
    STEP("our unbind");
    peer_expect_only(&f->peer, PDU_UNBIND, 1, ESME_ROK);
    peer_send_hdr(&f->peer, PDU_UNBIND_RESP, 0, 1);
    expect_close(f, SESS_CLOSE_UNBIND);
    fx_free(f);
}

Test(session_unbind, ours_unanswered_closes_after_resp_timeout)
{
    struct sess_config cfg = test_cfg();
    cfg.resp_timeout_ms = 100;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    sess_unbind(f->s);
    uint64_t t0 = peer_now_ms();
    STEP("our unbind, no answer");
    peer_expect_only(&f->peer, PDU_UNBIND, 1, ESME_ROK);
    expect_close(f, SESS_CLOSE_UNBIND);
    cr_assert_geq(f->closed_at_ms - t0, 95);
    fx_free(f);
}

/* Both sides unbind at once: theirs is answered, and it ends there. */
Test(session_unbind, crossing_unbinds)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    sess_unbind(f->s);
    STEP("crossing unbinds");
    peer_expect_only(&f->peer, PDU_UNBIND, 1, ESME_ROK);
    peer_send_hdr(&f->peer, PDU_UNBIND, 0, 55);
    peer_expect_only(&f->peer, PDU_UNBIND_RESP, 55, ESME_ROK);
    expect_close(f, SESS_CLOSE_UNBIND);
    fx_free(f);
}

/* ---- malformed input (generic_nack, SMPP 3.4 §4.3) ------------------ */

Test(session_errors, unknown_command_id_generic_nack)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    STEP("unknown request id");
    peer_send_hex(&f->peer, "00000010 00000099 00000000 00001234");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 0x1234, ESME_RINVCMDID);
    STEP("reserved id 0x0A");
    peer_send_hex(&f->peer, "00000010 0000000A 00000000 00001235");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 0x1235, ESME_RINVCMDID);
    cr_assert_eq(sess_stats(f->s)->glitches, 2);
    cr_assert_eq(f->nreqs, 0);
    STEP("still alive");
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 3);
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 3, ESME_ROK);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TRX);
    fx_free(f);
}

static uint32_t decode_status_of(const char *h)
{
    uint8_t b[RAW_MAX];
    struct pdu p;
    size_t n = peer_hex(h, b, sizeof b);
    return pdu_decode(b, n, &p);
}

/* A PDU that takes no response, malformed: generic_nack with the decode
 * status; one that takes one: its own _resp with it. */
Test(session_errors, malformed_pdus_answered_with_decode_status)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    /* alert_notification whose source_addr has no NUL */
    const char *alert = "00000013 00000102 00000000 00000055 01 01 41";
    /* deliver_sm cut in the middle of source_addr */
    const char *deliver =
        "00000016 00000005 00000000 00000056 00 01 01 41 42 43";
    uint32_t st_alert = decode_status_of(alert);
    uint32_t st_deliver = decode_status_of(deliver);
    cr_assert_neq(st_alert, ESME_ROK);
    cr_assert_neq(st_deliver, ESME_ROK);
    client_bind(f, SESS_BIND_RX);
    STEP("malformed alert_notification");
    peer_send_hex(&f->peer, alert);
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 0x55, st_alert);
    STEP("malformed deliver_sm");
    peer_send_hex(&f->peer, deliver);
    peer_expect_only(&f->peer, PDU_DELIVER_SM_RESP, 0x56, st_deliver);
    cr_assert_eq(f->nreqs, 0, "a malformed PDU reached the owner");
    cr_assert_eq(sess_stats(f->s)->glitches, 2);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_RX);
    fx_free(f);
}

Test(session_errors, short_command_length_nack_then_close)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    STEP("command_length 8");
    peer_send_hex(&f->peer, "00000008 00000015 00000000 00000007");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 7, ESME_RINVCMDLEN);
    expect_close(f, SESS_CLOSE_BAD_LENGTH);
    fx_free(f);
}

/* Before the bind the cap is max_pdu_len_unbound. */
Test(session_errors, long_command_length_before_bind_nack_then_close)
{
    struct sess_config cfg = test_cfg();
    cfg.max_pdu_len_unbound = 1024;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    STEP("command_length 1025 unbound");
    peer_send_hex(&f->peer, "00000401 00000004 00000000 00000009");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 9, ESME_RINVCMDLEN);
    expect_close(f, SESS_CLOSE_BAD_LENGTH);
    fx_free(f);
}

/* Once bound the cap is max_pdu_len: bigger PDUs pass, beyond it closes. */
Test(session_errors, bound_cap_is_max_pdu_len)
{
    static uint8_t payload[1500];
    struct sess_config cfg = test_cfg();
    cfg.max_pdu_len_unbound = 1024;
    cfg.max_pdu_len = 4096;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu p;
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    fill_submit(&p);
    p.short_message.len = 0;
    p.sequence_number = 2;
    memset(payload, 'x', sizeof payload);
    pdu_tlv_add(&p, PDU_TLV_MESSAGE_PAYLOAD, payload, sizeof payload);
    STEP("1.5 KB submit_sm bound");
    peer_send(&f->peer, &p);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 2, ESME_ROK);
    cr_assert_eq(f->nreqs, 1);
    STEP("command_length 4097 bound");
    peer_send_hex(&f->peer, "00001001 00000004 00000000 00000003");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 3, ESME_RINVCMDLEN);
    expect_close(f, SESS_CLOSE_BAD_LENGTH);
    fx_free(f);
}

/* Fewer than 16 bytes readable: no sequence number to echo, so 0. */
Test(session_errors, bad_command_length_without_header_nack_seq_0)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    STEP("command_length 4, 8 bytes");
    peer_send_hex(&f->peer, "00000004 00000015");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 0, ESME_RINVCMDLEN);
    expect_close(f, SESS_CLOSE_BAD_LENGTH);
    fx_free(f);
}

/* PDUs arrive in any pieces: one byte at a time, then two in one write. */
Test(session_errors, pdu_split_across_reads)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    uint8_t b[RAW_MAX];
    struct pdu p;
    pdu_init(&p, PDU_BIND_TRANSMITTER, 1);
    p.system_id = pdu_view_str("esme01");
    p.password = pdu_view_str("pw");
    p.interface_version = 0x34;
    size_t n = pdu_encode(&p, b, sizeof b);
    STEP("bind one byte at a time");
    for (size_t i = 0; i < n; i++) {
        peer_write_all(&f->peer, b + i, 1);
        peer_loop_for(f->base, 1);
        cr_assert_eq(f->binds, i + 1 == n ? 1 : 0, "bind seen after %zu of "
                     "%zu bytes", i + 1, n);
    }
    peer_expect_only(&f->peer, PDU_BIND_TRANSMITTER_RESP, 1, ESME_ROK);
    STEP("two enquire_links, split inside the second header");
    peer_send_hex(&f->peer,
                  "00000010 00000015 00000000 00000002 00000010 0000");
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 2, ESME_ROK);
    peer_send_hex(&f->peer, "0015 00000000 00000003");
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 3, ESME_ROK);
    cr_assert_eq(sess_stats(f->s)->glitches, 0);
    fx_free(f);
}

Test(session_errors, glitch_limit_closes)
{
    struct sess_config cfg = test_cfg();
    cfg.max_glitches = 3;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    for (uint32_t i = 1; i <= 2; i++) {
        STEP("glitch %u", i);
        peer_send_hex(&f->peer, i == 1 ? "00000010 00000099 00000000 00000001"
                                : "00000010 00000098 00000000 00000002");
        peer_expect_only(&f->peer, PDU_GENERIC_NACK, i, ESME_RINVCMDID);
    }
    STEP("still alive after 2");
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 10);
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 10, ESME_ROK);
    cr_assert_eq(f->closes, 0);
    STEP("glitch 3");
    peer_send_hex(&f->peer, "00000010 00000097 00000000 00000003");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 3, ESME_RINVCMDID);
    expect_close(f, SESS_CLOSE_GLITCHES);
    fx_free(f);
}

/* Glitches are a rate: a peer erring more slowly than max_glitches per
 * glitch_window_ms is never cut off, whatever its lifetime total. */
Test(session_errors, glitch_trickle_never_closes)
{
    struct sess_config cfg = test_cfg();
    cfg.max_glitches = 3;
    cfg.glitch_window_ms = 300;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    for (uint32_t i = 1; i <= 8; i++) {
        STEP("slow glitch %u", i);
        peer_send_hex(&f->peer, "00000010 00000099 00000000 00000000");
        peer_expect_only(&f->peer, PDU_GENERIC_NACK, 0, ESME_RINVCMDID);
        peer_loop_for(f->base, 200); /* 3 span 400 ms > the window */
    }
    cr_assert_eq(f->closes, 0, "closed after a trickle of 8 bad PDUs");
    peer_loop_for(f->base, 400); /* the trickle out of the window */
    STEP("a burst of 3 within the window closes");
    for (uint32_t i = 1; i <= 3; i++) {
        peer_send_hex(&f->peer, "00000010 00000099 00000000 00000000");
        peer_expect_only(&f->peer, PDU_GENERIC_NACK, 0, ESME_RINVCMDID);
    }
    expect_close(f, SESS_CLOSE_GLITCHES);
    fx_free(f);
}

/* A close by the session half-closes: the peer reads every response
 * written before it, then EOF, and the session lingers (reading and
 * discarding) until the peer closes its end; no reset in between. */
Test(session_errors, close_half_closes_and_lingers_for_the_peer)
{
    struct sess_config cfg = test_cfg();
    cfg.max_glitches = 2;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    STEP("two bad PDUs and an enquire_link in one write");
    peer_send_hex(&f->peer, "00000010 00000099 00000000 00000001"
                            "00000010 00000099 00000000 00000002"
                            "00000010 00000015 00000000 00000003");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 1, ESME_RINVCMDID);
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 2, ESME_RINVCMDID);
    peer_expect_eof(&f->peer);
    STEP("the peer still writes after our FIN: no reset, still open");
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 4);
    peer_loop_for(f->base, 100);
    cr_assert_eq(f->closes, 0, "closed before the peer did");
    close(f->peer.fd);
    f->peer.fd = -1;
    expect_closed(f, SESS_CLOSE_GLITCHES);
    fx_free(f);
}

/* A submit read before the close that ended the session is still
 * answered (a customer told nothing would send it again: a duplicate),
 * and only then does the peer see EOF. */
Test(session_errors, close_waits_for_answers_already_owed)
{
    struct sess_config cfg = test_cfg();
    cfg.max_glitches = 1;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    f->req_mode = OWNER_HOLD;
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    peer_send_sample(f, PDU_SUBMIT_SM, 7);
    RUN_UNTIL(f, f->nreqs == 1, WAIT_MS);
    cr_assert_eq(f->nreqs, 1);
    STEP("a bad PDU closes while the submit is being queued");
    peer_send_hex(&f->peer, "00000010 00000099 00000000 00000008");
    peer_expect_only(&f->peer, PDU_GENERIC_NACK, 8, ESME_RINVCMDID);
    peer_loop_for(f->base, 50);
    cr_assert(sess_answering(f->s), "the owed answer can no longer go out");
    sess_reply(f->s, PDU_SUBMIT_SM, 7, ESME_ROK, NULL);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 7, ESME_ROK);
    expect_close(f, SESS_CLOSE_GLITCHES);
    fx_free(f);
}

/* ---- the peer's window ---------------------------------------------- */

Test(session_window, peer_window_overflow_throttled_at_once)
{
    struct sess_config cfg = test_cfg();
    cfg.peer_window = 2;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    f->req_mode = OWNER_HOLD;
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    for (uint32_t seq = 1; seq <= 3; seq++)
        peer_send_sample(f, PDU_SUBMIT_SM, seq);
    STEP("third submit over the peer window");
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 3, ESME_RTHROTTLED);
    cr_assert_eq(f->nreqs, 2);
    cr_assert_eq(sess_peer_inflight(f->s), 2);
    cr_assert_eq(sess_stats(f->s)->throttled, 1);
    cr_assert_eq(sess_stats(f->s)->glitches, 0, "throttling is no glitch");
    STEP("owner answers the first");
    sess_reply(f->s, PDU_SUBMIT_SM, 1, ESME_ROK, NULL);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 1, ESME_ROK);
    cr_assert_eq(sess_peer_inflight(f->s), 1);
    STEP("room again");
    peer_send_sample(f, PDU_SUBMIT_SM, 4);
    RUN_UNTIL(f, f->nreqs == 3, WAIT_MS);
    cr_assert_eq(f->nreqs, 3);
    cr_assert_eq(f->reqs[2].seq, 4);
    sess_reply(f->s, PDU_SUBMIT_SM, 4, ESME_ROK, NULL);
    sess_reply(f->s, PDU_SUBMIT_SM, 2, ESME_ROK, NULL);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 4, ESME_ROK);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 2, ESME_ROK);
    cr_assert_eq(sess_peer_inflight(f->s), 0);
    fx_free(f);
}

/* peer_window_pause: over the peer window nothing is refused; the
 * session stops reading until the owner answers, then takes the rest. */
Test(session_window, peer_window_pause_holds_instead_of_throttling)
{
    struct sess_config cfg = test_cfg();
    cfg.peer_window = 2;
    cfg.peer_window_pause = 1;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    f->req_mode = OWNER_HOLD;
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    for (uint32_t seq = 1; seq <= 5; seq++)
        peer_send_sample(f, PDU_SUBMIT_SM, seq);
    STEP("two taken, the rest left unread");
    RUN_UNTIL(f, f->nreqs == 2, WAIT_MS);
    RUN_UNTIL(f, f->nreqs > 2, 100); /* give it the chance to misbehave */
    cr_assert_eq(f->nreqs, 2);
    cr_assert_eq(sess_stats(f->s)->throttled, 0, "nothing refused");
    STEP("each answer lets one more in, in order");
    for (uint32_t seq = 1; seq <= 5; seq++) {
        sess_reply(f->s, PDU_SUBMIT_SM, seq, ESME_ROK, NULL);
        peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, seq, ESME_ROK);
        unsigned want = seq + 2 < 5 ? seq + 2 : 5;
        RUN_UNTIL(f, f->nreqs == want, WAIT_MS);
        cr_assert_eq(f->nreqs, want);
        cr_assert_eq(f->reqs[want - 1].seq, want);
    }
    cr_assert_eq(sess_stats(f->s)->throttled, 0);
    fx_free(f);
}

/* sess_hold_reading: the owner's own bound (the bridge's submits on
 * their way into Redis). Held, nothing more is read and nothing is
 * refused; released, what waited is read in order - but only once the
 * session's own limits (here the peer window) let it read too. */
Test(session_window, owner_hold_stops_reading_until_released)
{
    struct sess_config cfg = test_cfg();
    cfg.peer_window = 3;
    cfg.peer_window_pause = 1;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    f->req_mode = OWNER_HOLD;
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    peer_send_sample(f, PDU_SUBMIT_SM, 1);
    RUN_UNTIL(f, f->nreqs == 1, WAIT_MS);
    cr_assert_eq(f->nreqs, 1);
    STEP("held: four more sent, none read");
    sess_hold_reading(f->s, 1);
    for (uint32_t seq = 2; seq <= 5; seq++)
        peer_send_sample(f, PDU_SUBMIT_SM, seq);
    RUN_UNTIL(f, f->nreqs > 1, 100); /* give it the chance to misbehave */
    cr_assert_eq(f->nreqs, 1);
    STEP("released: read up to the peer window, in order");
    sess_hold_reading(f->s, 0);
    RUN_UNTIL(f, f->nreqs == 3, WAIT_MS);
    RUN_UNTIL(f, f->nreqs > 3, 100);
    cr_assert_eq(f->nreqs, 3);
    cr_assert_eq(f->reqs[2].seq, 3);
    STEP("held again: an answer opens the peer window, still nothing read");
    sess_hold_reading(f->s, 1);
    sess_reply(f->s, PDU_SUBMIT_SM, 1, ESME_ROK, NULL);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 1, ESME_ROK);
    RUN_UNTIL(f, f->nreqs > 3, 100);
    cr_assert_eq(f->nreqs, 3);
    STEP("released: the next one");
    sess_hold_reading(f->s, 0);
    RUN_UNTIL(f, f->nreqs == 4, WAIT_MS);
    cr_assert_eq(f->nreqs, 4);
    cr_assert_eq(f->reqs[3].seq, 4);
    cr_assert_eq(sess_stats(f->s)->throttled, 0, "nothing refused");
    for (uint32_t seq = 2; seq <= 4; seq++)
        sess_reply(f->s, PDU_SUBMIT_SM, seq, ESME_ROK, NULL);
    fx_free(f);
}

/* The owner's answer with a body goes out with its fields; one that
 * cannot be encoded becomes ESME_RSYSERR rather than silence. */
Test(session_window, owner_reply_with_body_and_unencodable_reply)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu r, out;
    uint8_t raw[RAW_MAX];
    f->req_mode = OWNER_HOLD;
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    peer_send_sample(f, PDU_SUBMIT_SM, 11);
    peer_send_sample(f, PDU_SUBMIT_SM, 12);
    RUN_UNTIL(f, f->nreqs == 2, WAIT_MS);
    cr_assert_eq(f->nreqs, 2);
    STEP("reply with a message_id");
    pdu_init(&r, 0, 0);
    r.message_id = pdu_view_str("abc123");
    sess_reply(f->s, PDU_SUBMIT_SM, 11, ESME_ROK, &r);
    peer_expect_hdr(&f->peer, PDU_SUBMIT_SM_RESP, 11, ESME_ROK, &out, raw);
    cr_assert(pdu_view_eq(out.message_id, "abc123"));
    STEP("reply that cannot be encoded");
    pdu_init(&r, 0, 0);
    r.message_id = pdu_view_str("0123456789012345678901234567890123456789"
                                "0123456789012345678901234567890123456789");
    sess_reply(f->s, PDU_SUBMIT_SM, 12, ESME_ROK, &r);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 12, ESME_RSYSERR);
    cr_assert_eq(sess_peer_inflight(f->s), 0);
    fx_free(f);
}

/* ---- our requests: matching, timeouts, close ------------------------ */

Test(session_requests, responses_matched_out_of_order)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d[3] = {{0}};
    client_bind(f, SESS_BIND_TX);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(client_submit(f, &d[i]), (uint32_t)i + 2);
    cr_assert_eq(sess_inflight(f->s), 3);
    STEP("submits");
    for (uint32_t seq = 2; seq <= 4; seq++)
        peer_expect_only(&f->peer, PDU_SUBMIT_SM, seq, ESME_ROK);
    peer_submit_resp(f, 4, ESME_ROK, "m4");
    peer_submit_resp(f, 2, ESME_ROK, "m2");
    peer_submit_resp(f, 3, ESME_ROK, "m3");
    RUN_UNTIL(f, f->completions == 3, WAIT_MS);
    static const unsigned order[3] = {1, 2, 0};
    for (int i = 0; i < 3; i++) {
        char want[4] = {'m', (char)('2' + i), 0, 0};
        cr_assert_eq(d[i].calls, 1, "request %d completed %d times", i,
                     d[i].calls);
        cr_assert_eq(d[i].status, ESME_ROK);
        cr_assert_eq(d[i].resp_id, PDU_SUBMIT_SM_RESP);
        cr_assert_eq(d[i].resp_seq, (uint32_t)i + 2);
        cr_assert_str_eq(d[i].message_id, want);
        cr_assert_eq(d[i].order, order[i]);
    }
    cr_assert_eq(sess_inflight(f->s), 0);
    cr_assert_eq(sess_stats(f->s)->glitches, 0);
    fx_free(f);
}

Test(session_requests, generic_nack_completes_with_its_status)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d = {0};
    client_bind(f, SESS_BIND_TX);
    uint32_t seq = client_submit(f, &d);
    STEP("submit");
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, seq, ESME_ROK);
    peer_send_hdr(&f->peer, PDU_GENERIC_NACK, ESME_RTHROTTLED, seq);
    RUN_UNTIL(f, d.calls == 1, WAIT_MS);
    cr_assert_eq(d.calls, 1);
    cr_assert_eq(d.status, ESME_RTHROTTLED);
    cr_assert_eq(d.had_resp, 1);
    cr_assert_eq(d.resp_id, PDU_GENERIC_NACK);
    cr_assert_eq(sess_inflight(f->s), 0);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TX);
    fx_free(f);
}

/* A response nobody waits for is a glitch and answers nothing; a response
 * of the wrong kind does not complete the request it names. */
Test(session_requests, response_to_unknown_sequence_is_glitch)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d = {0};
    client_bind(f, SESS_BIND_TX);
    STEP("submit_sm_resp for nothing");
    peer_submit_resp(f, 77, ESME_ROK, "x");
    peer_send_hdr(&f->peer, PDU_GENERIC_NACK, ESME_RSYSERR, 78);
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 79);
    /* nothing was sent before this answer */
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 79, ESME_ROK);
    cr_assert_eq(sess_stats(f->s)->glitches, 2);
    uint32_t seq = client_submit(f, &d);
    STEP("cancel_sm_resp for a submit");
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, seq, ESME_ROK);
    peer_send_hdr(&f->peer, PDU_CANCEL_SM_RESP, 0, seq);
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 80);
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 80, ESME_ROK);
    cr_assert_eq(sess_stats(f->s)->glitches, 3);
    cr_assert_eq(d.calls, 0);
    cr_assert_eq(sess_inflight(f->s), 1);
    peer_submit_resp(f, seq, ESME_ROK, "ok");
    RUN_UNTIL(f, d.calls == 1, WAIT_MS);
    cr_assert_eq(d.calls, 1);
    cr_assert_eq(d.status, ESME_ROK);
    fx_free(f);
}

Test(session_requests, timeout_completes_once_in_order)
{
    struct sess_config cfg = test_cfg();
    cfg.resp_timeout_ms = 100;
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d[3] = {{0}};
    uint64_t sent[3];
    uint32_t seq[3];
    client_bind(f, SESS_BIND_TX);
    for (int i = 0; i < 3; i++) {
        uint64_t t = peer_now_ms();
        RUN_UNTIL(f, peer_now_ms() >= t + 20, WAIT_MS); /* pace */
        sent[i] = peer_now_ms();
        seq[i] = client_submit(f, &d[i]);
    }
    STEP("timeouts");
    RUN_UNTIL(f, f->completions == 3, WAIT_MS);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(d[i].calls, 1);
        cr_assert_eq(d[i].status, SESS_STATUS_TIMEOUT);
        cr_assert_eq(d[i].had_resp, 0);
        cr_assert_eq(d[i].order, (unsigned)i);
        cr_assert_geq(d[i].at_ms - sent[i], 95, "request %d timed out after "
                      "%lu ms", i, (unsigned long)(d[i].at_ms - sent[i]));
    }
    cr_assert_eq(sess_stats(f->s)->timeouts, 3);
    cr_assert_eq(sess_inflight(f->s), 0);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TX);
    STEP("late response");
    for (int i = 0; i < 3; i++)
        peer_expect_only(&f->peer, PDU_SUBMIT_SM, seq[i], ESME_ROK);
    peer_submit_resp(f, seq[0], ESME_ROK, "late");
    RUN_UNTIL(f, sess_stats(f->s)->glitches == 1, WAIT_MS);
    cr_assert_eq(sess_stats(f->s)->glitches, 1);
    cr_assert_eq(d[0].calls, 1, "completed again by a late response");
    fx_free(f);
}

/* A late response the owner recognises (its request timed out) is handed
 * to it and is no glitch; the request is not completed a second time. */
Test(session_requests, late_response_known_to_owner_is_no_glitch)
{
    struct sess_config cfg = test_cfg();
    cfg.resp_timeout_ms = 100;
    cfg.max_glitches = 1; /* one glitch would close */
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d = {0};
    client_bind(f, SESS_BIND_TX);
    f->late_known = 1;
    uint32_t seq = client_submit(f, &d);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, seq, ESME_ROK);
    RUN_UNTIL(f, d.calls == 1, WAIT_MS);
    cr_assert_eq(d.status, SESS_STATUS_TIMEOUT);
    STEP("late submit_sm_resp");
    peer_submit_resp(f, seq, ESME_ROK, "late");
    RUN_UNTIL(f, f->lates == 1, WAIT_MS);
    cr_assert_eq(f->late_seq, seq);
    cr_assert_eq(sess_stats(f->s)->glitches, 0);
    cr_assert_eq(d.calls, 1, "completed again by a late response");
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, 90);
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, 90, ESME_ROK);
    cr_assert_eq(f->closes, 0);
    STEP("one the owner does not know is a glitch");
    f->late_known = 0;
    peer_submit_resp(f, 4242, ESME_ROK, "stray");
    expect_close(f, SESS_CLOSE_GLITCHES);
    cr_assert_eq(f->lates, 2);
    fx_free(f);
}

Test(session_requests, close_fails_outstanding_once)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d[3] = {{0}}, after = {0};
    struct pdu p;
    client_bind(f, SESS_BIND_TX);
    for (int i = 0; i < 3; i++)
        client_submit(f, &d[i]);
    struct sess *s = f->s;
    sess_ref(s);
    sess_close(s, SESS_CLOSE_LOCAL);
    sess_close(s, SESS_CLOSE_IO_ERROR); /* a second close changes nothing */
    fill_submit(&p);
    cr_assert_eq(sess_send(s, &p, cb_done, &after, NULL), -1);
    close(f->peer.fd); /* the peer goes too: the session lingers no more */
    f->peer.fd = -1;
    expect_closed(f, SESS_CLOSE_LOCAL);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(d[i].calls, 1, "request %d completed %d times", i,
                     d[i].calls);
        cr_assert_eq(d[i].status, SESS_STATUS_CLOSED);
        cr_assert_eq(d[i].had_resp, 0);
    }
    cr_assert_eq(after.calls, 0);
    /* our reference outlives on_close: getters work, calls are no-ops */
    cr_assert_eq(sess_state(s), SESS_CLOSED);
    cr_assert_eq(sess_inflight(s), 0);
    cr_assert_eq(sess_can_send(s), 0);
    sess_reply(s, PDU_DELIVER_SM, 1, ESME_ROK, NULL);
    sess_unbind(s);
    sess_close(s, SESS_CLOSE_LOCAL);
    peer_loop_for(f->base, 20);
    cr_assert_eq(f->closes, 1);
    sess_unref(s);
    fx_free(f);
}

Test(session_requests, peer_eof_fails_outstanding_once)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d[2] = {{0}};
    client_bind(f, SESS_BIND_TX);
    client_submit(f, &d[0]);
    client_submit(f, &d[1]);
    STEP("peer closes");
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, 2, ESME_ROK);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, 3, ESME_ROK);
    close(f->peer.fd);
    f->peer.fd = -1;
    expect_closed(f, SESS_CLOSE_PEER_EOF);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(d[i].calls, 1);
        cr_assert_eq(d[i].status, SESS_STATUS_CLOSED);
    }
    fx_free(f);
}

/* A peer that never reads cannot keep a closed session alive. */
Test(session_requests, close_flush_is_bounded)
{
    struct sess_config cfg = test_cfg();
    cfg.window = 2000;
    struct fx *f = fx_new(SESS_SERVER, &cfg, FX_SMALL_BUFS);
    static struct done d[2000];
    server_bind(f, PDU_BIND_RECEIVER, 0x34);
    size_t n = 0;
    while (n < 2000 && sess_can_send(f->s))
        server_deliver(f, &d[n++]);
    peer_loop_for(f->base, 20); /* fill the socket */
    cr_assert_gt(evbuffer_get_length(bufferevent_get_output(
                     sess_bufferevent(f->s))), 0,
                 "the output drained: the test needs a bigger burst");
    uint64_t t0 = peer_now_ms();
    sess_close(f->s, SESS_CLOSE_LOCAL);
    RUN_UNTIL(f, f->closes == 1, 5000);
    cr_assert_eq(f->closes, 1, "a closed session waits forever on its peer");
    cr_assert_leq(f->closed_at_ms - t0, 4000);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(d[i].calls, 1);
    fx_free(f);
}

/* ---- sequence numbers (1 to 0x7FFFFFFF, then back to 1) ------------- */

Test(session_sequence, starts_at_1_and_counts_own_requests)
{
    struct sess_config cfg = test_cfg();
    cfg.enquire_interval_ms = 100;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct done d[2] = {{0}};
    uint32_t seq;
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    seq = server_deliver(f, &d[0]);
    cr_assert_eq(seq, 1, "first sequence number %u", seq);
    STEP("deliver_sm 1");
    peer_expect_only(&f->peer, PDU_DELIVER_SM, 1, ESME_ROK);
    peer_resp(f, PDU_DELIVER_SM_RESP, 1, ESME_ROK, "");
    STEP("enquire_link takes 2");
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK, 2, ESME_ROK);
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK_RESP, 0, 2);
    RUN_UNTIL(f, d[0].calls == 1, WAIT_MS);
    cr_assert_eq(d[0].calls, 1);
    cr_assert_eq(d[0].status, ESME_ROK);
    seq = server_deliver(f, &d[1]);
    cr_assert_eq(seq, 3);
    STEP("deliver_sm 3");
    peer_expect_only(&f->peer, PDU_DELIVER_SM, 3, ESME_ROK);
    peer_resp(f, PDU_DELIVER_SM_RESP, 3, ESME_ROK, "");
    RUN_UNTIL(f, d[1].calls == 1, WAIT_MS);
    cr_assert_eq(d[1].calls, 1);
    cr_assert_eq(d[1].status, ESME_ROK);
    cr_assert_eq(sess_stats(f->s)->glitches, 0);
    fx_free(f);
}

/* The wrap from 0x7FFFFFFF to 1, reached with sess_set_next_sequence():
 * 2^31 round trips do not fit in a unit test. */
Test(session_sequence, wraps_from_7fffffff_to_1_skipping_busy)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done busy = {0}, d[4] = {{0}};
    static const uint32_t want[4] = {0x7FFFFFFEu, 0x7FFFFFFFu, 1, 3};
    client_bind(f, SESS_BIND_TX);
    cr_assert_eq(client_submit(f, &busy), 2); /* stays outstanding */
    sess_set_next_sequence(f->s, 0x7FFFFFFEu);
    for (int i = 0; i < 4; i++) {
        uint32_t seq = client_submit(f, &d[i]);
        cr_assert_eq(seq, want[i], "got 0x%x, want 0x%x", seq, want[i]);
    }
    STEP("wrapped sequence numbers");
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, 2, ESME_ROK);
    for (int i = 0; i < 4; i++) {
        peer_expect_only(&f->peer, PDU_SUBMIT_SM, want[i], ESME_ROK);
        peer_submit_resp(f, want[i], ESME_ROK, "w");
    }
    RUN_UNTIL(f, f->completions == 4, WAIT_MS);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(d[i].calls, 1);
        cr_assert_eq(d[i].resp_seq, want[i]);
    }
    cr_assert_eq(busy.calls, 0);
    fx_free(f);
}

/* ---- our window and on_writable ------------------------------------- */

Test(session_window, full_window_refuses_then_writable)
{
    struct sess_config cfg = test_cfg();
    cfg.window = 2;
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    struct done d[3] = {{0}};
    struct pdu p;
    client_bind(f, SESS_BIND_TX);
    client_submit(f, &d[0]);
    client_submit(f, &d[1]);
    cr_assert_eq(sess_inflight(f->s), 2);
    cr_assert_eq(sess_can_send(f->s), 0);
    fill_submit(&p);
    cr_assert_eq(sess_send(f->s, &p, cb_done, &d[2], NULL), -1);
    STEP("window full");
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, 2, ESME_ROK);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM, 3, ESME_ROK);
    cr_assert_eq(f->writables, 0);
    peer_submit_resp(f, 3, ESME_ROK, "a");
    RUN_UNTIL(f, f->writables == 1, WAIT_MS);
    cr_assert_eq(f->writables, 1, "on_writable after the window opened");
    cr_assert_eq(sess_can_send(f->s), 1);
    cr_assert_eq(client_submit(f, &d[2]), 4);
    cr_assert_eq(d[2].calls, 0, "the refused send must not have completed");
    fx_free(f);
}

/*
 * Regression (fixed in 15b3a66): sess_send() says no once the output is
 * over write_high_water and promises on_writable, but on_write() only
 * acted when *reading* was paused. Output filled by sess_send() alone
 * never pauses reading, so on_writable never came and the owner stalled.
 */
Test(session_window, bug_on_writable_lost_after_output_high_water)
{
    struct sess_config cfg = test_cfg();
    cfg.window = 1000;
    cfg.write_high_water = 4096;
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    static struct done d[1000];
    struct pdu p;
    size_t n = 0;
    client_bind(f, SESS_BIND_TX);
    while (n < 1000 && sess_can_send(f->s))
        client_submit(f, &d[n++]);
    cr_assert_lt(n, 1000);
    cr_assert_gt(evbuffer_get_length(bufferevent_get_output(
                     sess_bufferevent(f->s))), 4096);
    fill_submit(&p);
    cr_assert_eq(sess_send(f->s, &p, cb_done, &d[n], NULL), -1);
    STEP("output drains");
    uint64_t until = peer_now_ms() + 300; /* it drains in a few ms */
    while (f->writables == 0 && peer_now_ms() < until) {
        f->peer.len = 0; /* the peer reads and drops the submits */
        peer_pump(&f->peer);
        peer_loop_for(f->base, 2);
    }
    cr_assert_eq(evbuffer_get_length(bufferevent_get_output(
                     sess_bufferevent(f->s))), 0);
    cr_assert_eq(sess_can_send(f->s), 1);
    cr_expect_eq(f->writables, 1, "sess_send said no, the output drained, "
                 "on_writable never came");
    fx_free(f);
}

/* ---- backpressure and fairness -------------------------------------- */

/*
 * A peer that sends enquire_links and never reads: the session answers
 * until its output is over write_high_water, then stops reading, so the
 * peer's writes block and memory stays bounded. Once the peer reads, the
 * session resumes and every enquire_link is answered exactly once.
 */
Test(session_flow, backpressure_stops_reading_then_resumes)
{
    enum { BATCH = 64, MAXSEQ = 200000 };
    struct sess_config cfg = test_cfg();
    cfg.write_high_water = 4096;
    struct fx *f = fx_new(SESS_SERVER, &cfg, FX_SMALL_BUFS);
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    struct bufferevent *bev = sess_bufferevent(f->s);
    struct evbuffer *out = bufferevent_get_output(bev);
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t batch[BATCH * 16];
    uint8_t *seen = calloc(MAXSEQ + BATCH, 1);
    uint32_t next = 1; /* first seq of the batch being written */
    size_t off = 0, left = 0, max_out = 0, in_len = 0;
    int blocked = 0;
    cr_assert_not_null(seen);

    STEP("peer writes, never reads");
    uint64_t until = peer_now_ms() + 5000;
    while (blocked < 25) { /* writes stay blocked over 25 loop runs */
        cr_assert_lt(peer_now_ms(), until, "the peer's writes never block: the "
                     "session keeps reading (output %zu)",
                     evbuffer_get_length(out));
        cr_assert_lt(next, MAXSEQ);
        if (left == 0) {
            for (int i = 0; i < BATCH; i++) {
                uint8_t *b = batch + 16 * i;
                wire_write_u32(b, 16);
                wire_write_u32(b + 4, PDU_ENQUIRE_LINK);
                wire_write_u32(b + 8, 0);
                wire_write_u32(b + 12, next + (uint32_t)i);
            }
            off = 0;
            left = sizeof batch;
        }
        ssize_t w = write(f->peer.fd, batch + off, left);
        if (w > 0) {
            off += (size_t)w;
            left -= (size_t)w;
            if (left == 0)
                next += BATCH;
            blocked = 0;
        } else {
            cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "%s",
                      strerror(errno));
            if (blocked == 0)
                in_len = evbuffer_get_length(in);
            /* not reading: the input does not move while we are blocked */
            cr_assert_eq(evbuffer_get_length(in), in_len);
            blocked++;
        }
        peer_loop_for(f->base, 1);
        if (evbuffer_get_length(out) > max_out)
            max_out = evbuffer_get_length(out);
    }
    cr_assert_gt(evbuffer_get_length(out), cfg.write_high_water,
                 "stopped reading without being over the high water");
    cr_assert_leq(max_out, cfg.write_high_water + 16,
                  "output grew to %zu over a high water of %zu", max_out,
                  cfg.write_high_water);
    cr_assert_leq(evbuffer_get_length(in), 64 * 1024);

    STEP("peer reads everything");
    struct pdu p;
    uint8_t raw[RAW_MAX];
    uint32_t got = 0;
    until = peer_now_ms() + 5000;
    while (left || got < next - 1) {
        cr_assert_lt(peer_now_ms(), until, "answered %u of %u", got, next - 1);
        if (left) {
            ssize_t w = write(f->peer.fd, batch + off, left);
            if (w > 0) {
                off += (size_t)w;
                left -= (size_t)w;
                if (left == 0)
                    next += BATCH;
            }
        }
        peer_pump(&f->peer);
        while (peer_take(&f->peer, &p, raw)) {
            uint32_t seq = p.sequence_number;
            cr_assert_eq(p.command_id, PDU_ENQUIRE_LINK_RESP);
            cr_assert_eq(p.command_status, ESME_ROK);
            cr_assert(seq >= 1 && seq < next + BATCH, "seq %u", seq);
            cr_assert_eq(seen[seq], 0, "seq %u answered twice", seq);
            seen[seq] = 1;
            got++;
        }
        peer_loop_for(f->base, 1);
        if (evbuffer_get_length(out) > max_out)
            max_out = evbuffer_get_length(out);
    }
    cr_assert_eq(got, next - 1);
    cr_assert_leq(max_out, cfg.write_high_water + 16);
    STEP("nothing more");
    peer_send_hdr(&f->peer, PDU_ENQUIRE_LINK, 0, next);
    peer_expect_only(&f->peer, PDU_ENQUIRE_LINK_RESP, next, ESME_ROK);
    cr_assert_eq(f->closes, 0);
    free(seen);
    fx_free(f);
}

/* At most pdus_per_read PDUs per callback, then the loop gets control:
 * on_request breaks the loop, so each loop run shows one callback's work. */
Test(session_flow, fairness_pdus_per_read)
{
    enum { N = 20 };
    struct sess_config cfg = test_cfg();
    cfg.pdus_per_read = 4;
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    uint8_t wire[N * 256];
    size_t len = 0;
    unsigned batches[N], nb = 0;
    server_bind(f, PDU_BIND_TRANSCEIVER, 0x34);
    for (uint32_t i = 0; i < N; i++) {
        struct pdu p;
        uint8_t scratch[1024];
        pdu_sample_build(PDU_SUBMIT_SM, &p, scratch, sizeof scratch);
        p.sequence_number = 10 + i;
        size_t n = pdu_encode(&p, wire + len, sizeof wire - len);
        cr_assert_gt(n, 0);
        len += n;
    }
    STEP("20 submits in one write");
    peer_write_all(&f->peer, wire, len);
    f->break_on_request = 1;
    uint64_t until = peer_now_ms() + WAIT_MS;
    while (f->nreqs < N && peer_now_ms() < until) {
        unsigned before = f->nreqs;
        peer_loop_for(f->base, 2);
        if (f->nreqs > before)
            batches[nb++] = f->nreqs - before;
    }
    cr_assert_eq(f->nreqs, N);
    cr_assert_eq(batches[0], 4, "first callback handled %u PDUs, want 4",
                 batches[0]);
    for (unsigned i = 0; i < nb; i++)
        cr_assert_leq(batches[i], 4, "a callback handled %u PDUs", batches[i]);
    for (uint32_t i = 0; i < N; i++) {
        cr_assert_eq(f->reqs[i].seq, 10 + i);
        peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 10 + i, ESME_ROK);
    }
    fx_free(f);
}

/* ---- client role ---------------------------------------------------- */

Test(session_client, bind_bound_with_peer_version)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    cr_assert_eq(sess_role(f->s), SESS_CLIENT);
    client_bind(f, SESS_BIND_TRX);
    cr_assert_eq(f->bound_version, 0x34);
    cr_assert_eq(sess_peer_version(f->s), 0x34);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TRX);
    cr_assert_str_eq(sess_peer_system_id(f->s), "SMSC01");
    cr_assert_eq(sess_can_send(f->s), 1);
    cr_assert_eq(sess_bind(f->s, SESS_BIND_TX, "a", "b", "", 0x34), -1,
                 "bind once bound");
    fx_free(f);
}

Test(session_client, bind_resp_without_tlv_means_v33)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    client_bind_resp(f, SESS_BIND_RX, ESME_ROK, 0);
    RUN_UNTIL(f, f->bounds == 1, WAIT_MS);
    cr_assert_eq(f->bounds, 1);
    cr_assert_eq(sess_peer_version(f->s), 0x33);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_RX);
    fx_free(f);
}

Test(session_client, bind_refused_closes_bind_failed)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    client_bind_resp(f, SESS_BIND_TX, ESME_RINVPASWD, 0);
    expect_close(f, SESS_CLOSE_BIND_FAILED);
    cr_assert_eq(f->bounds, 0);
    fx_free(f);
}

Test(session_client, bind_generic_nack_closes_bind_failed)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    cr_assert_eq(sess_bind(f->s, SESS_BIND_TRX, "esme01", "pw", NULL, 0x34), 0);
    STEP("bind");
    peer_expect_only(&f->peer, PDU_BIND_TRANSCEIVER, 1, ESME_ROK);
    peer_send_hdr(&f->peer, PDU_GENERIC_NACK, ESME_RINVCMDID, 1);
    expect_close(f, SESS_CLOSE_BIND_FAILED);
    cr_assert_eq(f->bounds, 0);
    fx_free(f);
}

Test(session_client, bind_unanswered_closes_bind_timeout)
{
    struct sess_config cfg = test_cfg();
    cfg.resp_timeout_ms = 150;
    cfg.bind_timeout_ms = 150;
    struct fx *f = fx_new(SESS_CLIENT, &cfg, 0);
    uint64_t t0 = peer_now_ms();
    cr_assert_eq(sess_bind(f->s, SESS_BIND_TRX, "esme01", "pw", "", 0x34), 0);
    STEP("bind, no answer");
    peer_expect_only(&f->peer, PDU_BIND_TRANSCEIVER, 1, ESME_ROK);
    expect_close(f, SESS_CLOSE_BIND_TIMEOUT);
    cr_assert_geq(f->closed_at_ms - t0, 145);
    fx_free(f);
}

/* The documented client path: a connecting bufferevent, on_connected,
 * sess_bind from there. TCP on loopback, since a socketpair is born
 * connected. */
static int tcp_listener(int *port, int do_listen)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    if (do_listen)
        cr_assert_eq(listen(fd, 4), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    evutil_make_socket_nonblocking(fd);
    return fd;
}

static struct fx *fx_connecting(const struct sess_config *cfg, int port)
{
    struct fx *f = fx_alloc();
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    struct bufferevent *bev =
        bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
    cr_assert_not_null(bev);
    cr_assert_eq(bufferevent_socket_connect(bev, (struct sockaddr *)&sin,
                                            sizeof sin), 0);
    f->s = sess_new(f->base, bev, SESS_CLIENT, cfg, &fx_cbs, f);
    cr_assert_not_null(f->s);
    return f;
}

Test(session_client, connect_then_bind_from_on_connected)
{
    struct sess_config cfg = test_cfg();
    int port, lfd = tcp_listener(&port, 1);
    struct fx *f = fx_connecting(&cfg, port);
    struct pdu r;
    f->bind_on_connect = 1;
    STEP("accept");
    RUN_UNTIL(f, (f->peer.fd = accept(lfd, NULL, NULL)) >= 0, WAIT_MS);
    cr_assert_geq(f->peer.fd, 0);
    evutil_make_socket_nonblocking(f->peer.fd);
    RUN_UNTIL(f, f->connected == 1, WAIT_MS);
    cr_assert_eq(f->connected, 1);
    STEP("bind from on_connected");
    peer_expect_only(&f->peer, PDU_BIND_TRANSCEIVER, 1, ESME_ROK);
    pdu_init(&r, PDU_BIND_TRANSCEIVER_RESP, 1);
    r.system_id = pdu_view_str("SMSC01");
    pdu_tlv_add(&r, PDU_TLV_SC_INTERFACE_VERSION, &v34, 1);
    peer_send(&f->peer, &r);
    RUN_UNTIL(f, f->bounds == 1, WAIT_MS);
    cr_assert_eq(f->bounds, 1);
    cr_assert_eq(sess_state(f->s), SESS_BOUND_TRX);
    fx_free(f);
    close(lfd);
}

Test(session_client, connect_refused_closes_connect_failed)
{
    struct sess_config cfg = test_cfg();
    int port, fd = tcp_listener(&port, 0); /* bound, not listening */
    struct fx *f = fx_connecting(&cfg, port);
    expect_closed(f, SESS_CLOSE_CONNECT_FAILED);
    cr_assert_eq(f->connected, 0);
    fx_free(f);
    close(fd);
}

/*
 * Regression (fixed in 15b3a66): bind_timeout_ms is the "connect-to-bound
 * limit" (session.h) and SESS_CLOSE_BIND_TIMEOUT covers "no bind_resp
 * (client)", but only the server role armed bind_deadline_ms: a client's
 * bind_resp wait was bounded by resp_timeout_ms instead, and a client that
 * connected and never bound (or whose connect hung) had no limit at all.
 */
Test(session_client, bug_client_ignores_bind_timeout_ms)
{
    struct sess_config cfg = test_cfg();
    cfg.resp_timeout_ms = 3000;
    cfg.bind_timeout_ms = 150;
    int port, lfd = tcp_listener(&port, 1);
    struct fx *f = fx_connecting(&cfg, port);
    f->bind_on_connect = 1;
    STEP("accept");
    RUN_UNTIL(f, (f->peer.fd = accept(lfd, NULL, NULL)) >= 0, WAIT_MS);
    cr_assert_geq(f->peer.fd, 0);
    evutil_make_socket_nonblocking(f->peer.fd);
    STEP("bind, no answer");
    peer_expect_only(&f->peer, PDU_BIND_TRANSCEIVER, 1, ESME_ROK);
    /* the session half-closes; on_close once the peer closes too */
    STEP("EOF within the bind timeout");
    uint64_t t0 = peer_now_ms();
    peer_expect_eof(&f->peer);
    cr_expect_leq(peer_now_ms() - t0, 400, "EOF after %llu ms",
                  (unsigned long long)(peer_now_ms() - t0));
    close(f->peer.fd);
    f->peer.fd = -1;
    RUN_UNTIL(f, f->closes == 1, 400);
    /* cr_expect: fail, but still free the fixture (no leak noise) */
    cr_expect_eq(f->closes, 1, "no bind_resp within bind_timeout_ms (150) "
                 "and the session is still waiting");
    if (f->closes == 1)
        cr_expect_eq(f->why, SESS_CLOSE_BIND_TIMEOUT, "%s",
                     sess_close_reason_name(f->why));
    fx_free(f);
    close(lfd);
}

/* The owner gets the request's bytes as they came (a proxy stores them
 * instead of encoding again), and only for the request it is given. */
Test(session_errors, request_bytes_are_the_bytes_received)
{
    struct sess_config cfg = test_cfg();
    struct fx *f = fx_new(SESS_SERVER, &cfg, 0);
    struct pdu p;
    uint8_t want[1024];
    server_bind(f, PDU_BIND_TRANSMITTER, 0x34);
    fill_submit(&p);
    p.sequence_number = 7;
    size_t n = pdu_encode(&p, want, sizeof want);
    cr_assert_gt(n, 16);
    STEP("submit_sm");
    peer_send(&f->peer, &p);
    peer_expect_only(&f->peer, PDU_SUBMIT_SM_RESP, 7, ESME_ROK);
    cr_assert_eq(f->nreqs, 1);
    cr_assert_eq(f->reqs[0].raw_len, n);
    cr_assert_arr_eq(f->reqs[0].raw, want, n);
    cr_assert_eq(f->reqs[0].copy_has_raw, 0);
    size_t len = 0;
    cr_assert_null(sess_request_bytes(f->s, &p, &len)); /* outside the call */
    fx_free(f);
}
