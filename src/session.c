/*
 * session.c - SMPP session state machine over a bufferevent.
 *
 * Reading: frame with pdu_frame(), pull up exactly one PDU, decode it,
 * act, drain it; at most cfg.pdus_per_read per callback, then yield to
 * the loop (fairness). Writing: encode straight into the bufferevent's
 * output; above cfg.write_high_water stop reading until it drains, so a
 * peer that does not read cannot grow our memory.
 *
 * Transactions (our requests waiting for a _resp) live in a fixed table
 * sized from the window, found by sequence number through a small hash,
 * and kept in a list in send order: the response timeout is the same for
 * all, so the list is also in deadline order and one timer serves all.
 *
 * Freeing: sess_close() only marks and flushes; the connection is torn
 * down and on_close called from a deferred event, and the memory goes
 * when the last reference is dropped - never on a callback's own stack.
 */
#include "common.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "session.h"

#define SEQ_MAX 0x7FFFFFFFu
#define CLOSE_FLUSH_MS 2000u
/* after our half-close: how long the peer has to read and close too */
#define CLOSE_LINGER_MS 2000u
/* Slots beyond the window for the session's own requests: bind,
 * enquire_link, unbind. */
#define TXN_RESERVED 3u

struct txn {
    uint32_t seq;
    uint32_t command_id;
    uint64_t deadline_ms;
    sess_resp_cb cb;
    void *arg;
    int internal;       /* bind / enquire_link / unbind: not in window */
    struct txn *prev;   /* send order == deadline order */
    struct txn *next;
    struct txn *hnext;  /* hash chain, or free list */
};

struct sess {
    struct event_base *base;
    struct bufferevent *bev;
    enum sess_role role;
    enum sess_state state;
    struct sess_config cfg;
    struct sess_callbacks cbs;
    void *ctx;

    /* The request being handed to the owner now, and the bytes it was
     * decoded from (sess_request_bytes); NULL between requests. */
    const struct pdu *cur_req;
    const uint8_t *cur_raw;
    size_t cur_len;

    int refs;
    int connected;      /* the connection came up (client role) */
    int dead;           /* EOF or error: nothing more can be written */
    int finished;       /* connection gone, on_close called */
    int in_finish;
    int read_paused;    /* output over high water */
    int peer_paused;    /* peer window full (cfg.peer_window_pause) */
    int held;           /* the owner holds reading (sess_hold_reading) */
    int want_writable;  /* someone was told "no": tell them when yes */
    int half_closed;    /* closing: our FIN is sent, waiting for theirs */
    int handshaking;    /* server role: not up yet (TLS handshake) */
    enum sess_close_reason close_reason;

    struct event *timer;
    struct event *deferred;
    uint64_t timer_at_ms;   /* 0: not armed */
    uint64_t last_rx_ms;
    uint64_t bind_deadline_ms;
    uint64_t close_deadline_ms; /* flushing, then lingering */
    uint64_t handshake_deadline_ms;
    uint64_t *glitch_times;     /* ring: the last max_glitches bad PDUs */
    unsigned glitch_next, glitch_count;
    int enquire_outstanding;

    struct txn *txns;
    struct txn **buckets;
    uint32_t bucket_mask;
    struct txn *free_txns;
    struct txn *oldest, *newest;
    unsigned inflight;      /* window-counted transactions */
    unsigned peer_inflight;
    uint32_t next_seq;

    enum sess_bind_type bind_type;
    uint32_t bind_seq;      /* server role: the bind being authorised */
    uint8_t peer_version;
    char peer_system_id[17];
    struct sess_stats stats;
};

static void sess_arm_timer(struct sess *s);
static void sess_schedule(struct sess *s);

/* ---- small helpers -------------------------------------------------- */

static const char *const state_names[SESS_STATE_MAX] = {
    [SESS_OPEN] = "OPEN",           [SESS_BINDING] = "BINDING",
    [SESS_BOUND_TX] = "BOUND_TX",   [SESS_BOUND_RX] = "BOUND_RX",
    [SESS_BOUND_TRX] = "BOUND_TRX", [SESS_UNBINDING] = "UNBINDING",
    [SESS_CLOSED] = "CLOSED",
};

static const char *const close_names[SESS_CLOSE_REASON_MAX] = {
    [SESS_CLOSE_NONE] = "none",
    [SESS_CLOSE_LOCAL] = "local",
    [SESS_CLOSE_UNBIND] = "unbind",
    [SESS_CLOSE_PEER_EOF] = "peer_eof",
    [SESS_CLOSE_IO_ERROR] = "io_error",
    [SESS_CLOSE_CONNECT_FAILED] = "connect_failed",
    [SESS_CLOSE_BAD_LENGTH] = "bad_length",
    [SESS_CLOSE_BIND_TIMEOUT] = "bind_timeout",
    [SESS_CLOSE_BIND_FAILED] = "bind_failed",
    [SESS_CLOSE_IDLE_TIMEOUT] = "idle_timeout",
    [SESS_CLOSE_ENQUIRE_TIMEOUT] = "enquire_timeout",
    [SESS_CLOSE_GLITCHES] = "glitches",
    [SESS_CLOSE_HANDSHAKE_TIMEOUT] = "handshake_timeout",
};

const char *sess_state_name(enum sess_state st)
{
    return st < SESS_STATE_MAX ? state_names[st] : "?";
}

const char *sess_close_reason_name(enum sess_close_reason why)
{
    return why < SESS_CLOSE_REASON_MAX ? close_names[why] : "?";
}

void sess_config_defaults(struct sess_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_pdu_len = PDU_MAX_LEN_DEFAULT;
    cfg->max_pdu_len_unbound = 1024;
    cfg->window = 100;
    cfg->peer_window = 100;
    cfg->resp_timeout_ms = 10000;
    cfg->bind_timeout_ms = 10000;
    cfg->idle_timeout_ms = 90000;
    cfg->enquire_interval_ms = 30000;
    cfg->write_high_water = 1u << 20;
    cfg->max_glitches = 16;
    cfg->glitch_window_ms = 60000;
    cfg->pdus_per_read = 64;
    cfg->system_id = "smppbridge";
}

static int state_is_bound(enum sess_state st)
{
    return st == SESS_BOUND_TX || st == SESS_BOUND_RX || st == SESS_BOUND_TRX;
}

static int state_can_transmit(enum sess_state st)
{
    return st == SESS_BOUND_TX || st == SESS_BOUND_TRX;
}

static int state_can_receive(enum sess_state st)
{
    return st == SESS_BOUND_RX || st == SESS_BOUND_TRX;
}

/* State changes go through here so that a wrong one is caught early. */
static void sess_set_state(struct sess *s, enum sess_state st)
{
    if (st >= SESS_STATE_MAX)
        abort();
    s->state = st;
}

/* ---- transactions --------------------------------------------------- */

static struct txn *txn_find(struct sess *s, uint32_t seq)
{
    for (struct txn *t = s->buckets[seq & s->bucket_mask]; t; t = t->hnext)
        if (t->seq == seq)
            return t;
    return NULL;
}

static uint32_t next_sequence(struct sess *s)
{
    for (;;) {
        uint32_t seq = s->next_seq;
        s->next_seq = seq == SEQ_MAX ? 1 : seq + 1;
        if (!txn_find(s, seq))
            return seq;
    }
}

static struct txn *txn_start(struct sess *s, uint32_t seq, uint32_t cmd,
                             sess_resp_cb cb, void *arg, int internal)
{
    struct txn *t = s->free_txns;
    if (!t)
        return NULL;
    s->free_txns = t->hnext;
    t->seq = seq;
    t->command_id = cmd;
    t->deadline_ms = clock_loop_ms() + s->cfg.resp_timeout_ms;
    t->cb = cb;
    t->arg = arg;
    t->internal = internal;
    t->hnext = s->buckets[seq & s->bucket_mask];
    s->buckets[seq & s->bucket_mask] = t;
    t->next = NULL;
    t->prev = s->newest;
    if (s->newest)
        s->newest->next = t;
    else
        s->oldest = t;
    s->newest = t;
    if (!internal)
        s->inflight++;
    return t;
}

/* Unlink <t> from the hash and the list and return it to the free list.
 * Its callback and argument are copied out by the caller first. */
static void txn_release(struct sess *s, struct txn *t)
{
    struct txn **pp = &s->buckets[t->seq & s->bucket_mask];
    while (*pp != t)
        pp = &(*pp)->hnext;
    *pp = t->hnext;
    if (t->prev)
        t->prev->next = t->next;
    else
        s->oldest = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        s->newest = t->prev;
    if (!t->internal)
        s->inflight--;
    t->hnext = s->free_txns;
    s->free_txns = t;
}

/* Complete <t> exactly once: release it, then call its callback. A freed
 * window slot may let the owner send again. */
static void txn_complete(struct sess *s, struct txn *t, const struct pdu *resp,
                         uint32_t status)
{
    sess_resp_cb cb = t->cb;
    void *arg = t->arg;
    int was_full = !t->internal && s->inflight == s->cfg.window;
    txn_release(s, t);
    if (cb)
        cb(s, resp, status, arg);
    if (was_full && s->state != SESS_CLOSED)
        s->want_writable = 1, sess_schedule(s);
}

static int txn_table_init(struct sess *s)
{
    unsigned n = s->cfg.window + TXN_RESERVED;
    uint32_t buckets = 16;
    while (buckets < 2 * n)
        buckets <<= 1;
    s->txns = calloc(n, sizeof *s->txns);
    s->buckets = calloc(buckets, sizeof *s->buckets);
    if (!s->txns || !s->buckets)
        return -1;
    s->bucket_mask = buckets - 1;
    for (unsigned i = 0; i < n; i++) {
        s->txns[i].hnext = s->free_txns;
        s->free_txns = &s->txns[i];
    }
    return 0;
}

/* ---- writing -------------------------------------------------------- */

static size_t output_len(const struct sess *s)
{
    return evbuffer_get_length(bufferevent_get_output(s->bev));
}

static int write_pdu(struct sess *s, const struct pdu *p)
{
    if (pdu_encode_evbuffer(p, bufferevent_get_output(s->bev)) != 0)
        return -1;
    s->stats.tx_pdus++;
    return 0;
}

/* An answer the session gives by itself (or a bodyless one). */
static void send_resp(struct sess *s, uint32_t req_id, uint32_t seq,
                      uint32_t status)
{
    struct pdu r;
    pdu_init(&r, pdu_resp_id(req_id), seq);
    r.command_status = status;
    write_pdu(s, &r);
}

static void send_generic_nack(struct sess *s, uint32_t status, uint32_t seq)
{
    struct pdu r;
    pdu_init(&r, PDU_GENERIC_NACK, seq);
    r.command_status = status;
    write_pdu(s, &r);
}

/* Record a bad PDU at <now> in the ring of the last max_glitches ones;
 * 1 when max_glitches of them fell within glitch_window_ms. Without the
 * ring (out of memory) it falls back to a lifetime count. */
static int glitch_window_full(struct sess *s, uint64_t now)
{
    unsigned n = s->cfg.max_glitches;
    if (!s->glitch_times && s->cfg.glitch_window_ms)
        s->glitch_times = calloc(n, sizeof *s->glitch_times);
    if (!s->glitch_times)
        return s->stats.glitches >= n;
    s->glitch_times[s->glitch_next] = now;
    s->glitch_next = (s->glitch_next + 1) % n;
    if (s->glitch_count < n)
        s->glitch_count++;
    /* once full, the next slot holds the oldest of the last n */
    return s->glitch_count == n &&
           now - s->glitch_times[s->glitch_next] < s->cfg.glitch_window_ms;
}

/* A malformed or misplaced PDU from the peer (its answer is already
 * written). max_glitches of them within glitch_window_ms and we close;
 * a client that errs now and then is never cut off. */
static void glitch(struct sess *s)
{
    s->stats.glitches++;
    if (s->cfg.max_glitches && glitch_window_full(s, clock_mono_ms()))
        sess_close(s, SESS_CLOSE_GLITCHES);
}

/* Send a request of ours; the session's own ones skip the window. */
static int send_request(struct sess *s, struct pdu *req, sess_resp_cb cb,
                        void *arg, int internal, uint32_t *seq_out)
{
    uint32_t seq = next_sequence(s);
    req->sequence_number = seq;
    req->command_status = 0;
    if (pdu_encoded_len(req) == 0)
        return -1;
    int was_idle = s->oldest == NULL;
    struct txn *t = txn_start(s, seq, req->command_id, cb, arg, internal);
    if (!t)
        return -1;
    write_pdu(s, req);
    if (seq_out)
        *seq_out = seq;
    if (was_idle)
        sess_arm_timer(s);
    return 0;
}

/* ---- closing -------------------------------------------------------- */

static void fail_all_txns(struct sess *s)
{
    while (s->oldest)
        txn_complete(s, s->oldest, NULL, SESS_STATUS_CLOSED);
}

static void sess_free(struct sess *s)
{
    if (s->timer)
        event_free(s->timer);
    if (s->deferred)
        event_free(s->deferred);
    free(s->txns);
    free(s->buckets);
    free(s->glitch_times);
    free(s);
}

/* From the deferred event: drop the connection, tell the owner, and free
 * the memory if nobody holds a reference. */
static void sess_finish(struct sess *s)
{
    if (s->finished)
        return;
    s->finished = 1;
    s->in_finish = 1;
    if (s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
    event_del(s->timer);
    if (s->cbs.on_close)
        s->cbs.on_close(s, s->close_reason, s->ctx);
    s->in_finish = 0;
    if (s->refs == 0)
        sess_free(s);
}

/* Closing has two bounded phases: flushing what we wrote, then (after
 * our half-close) lingering until the peer closes. 1 when the current
 * one is over. */
static int close_phase_done(const struct sess *s)
{
    if (!s->bev || s->dead || clock_mono_ms() >= s->close_deadline_ms)
        return 1;
    /* the peer's requests already read are answered first (a submit
     * queued but not acknowledged would be sent again) */
    return !s->half_closed && output_len(s) == 0 && s->peer_inflight == 0;
}

/* Everything we wrote is out: send our FIN and read (discarding) until
 * the peer's, so that closing does not reset the connection while the
 * peer is still reading our last responses: a close() with unread input
 * sends RST, and a peer that gets RST may lose what it had not read yet.
 * 0 when lingering, -1 when the connection cannot half-close (a socket
 * pair in tests, an error): then it is closed at once. */
static int half_close(struct sess *s)
{
    evutil_socket_t fd = bufferevent_getfd(s->bev);
    if (s->half_closed || s->dead || output_len(s) != 0 || fd < 0 ||
        shutdown(fd, SHUT_WR) != 0)
        return -1;
    s->half_closed = 1;
    s->close_deadline_ms = clock_mono_ms() + CLOSE_LINGER_MS;
    evbuffer_drain(bufferevent_get_input(s->bev),
                   evbuffer_get_length(bufferevent_get_input(s->bev)));
    bufferevent_enable(s->bev, EV_READ);
    sess_arm_timer(s);
    return 0;
}

void sess_close(struct sess *s, enum sess_close_reason why)
{
    if (s->state == SESS_CLOSED)
        return;
    sess_set_state(s, SESS_CLOSED);
    s->close_reason = why;
    if (s->bev)
        bufferevent_disable(s->bev, EV_READ);
    s->close_deadline_ms = clock_mono_ms() + CLOSE_FLUSH_MS;
    sess_ref(s);
    fail_all_txns(s);
    sess_arm_timer(s);
    sess_schedule(s);
    sess_unref(s);
}

void sess_abort(struct sess *s, enum sess_close_reason why)
{
    if (s->finished)
        return;
    sess_ref(s);
    sess_close(s, why); /* fails what is outstanding, once */
    sess_finish(s);     /* no flush, no linger: the loop has stopped */
    sess_unref(s);
}

/* ---- bind ----------------------------------------------------------- */

static uint32_t bind_command(enum sess_bind_type t)
{
    return t == SESS_BIND_TX ? PDU_BIND_TRANSMITTER
         : t == SESS_BIND_RX ? PDU_BIND_RECEIVER : PDU_BIND_TRANSCEIVER;
}

static enum sess_state bound_state(enum sess_bind_type t)
{
    return t == SESS_BIND_TX ? SESS_BOUND_TX
         : t == SESS_BIND_RX ? SESS_BOUND_RX : SESS_BOUND_TRX;
}

static void copy_system_id(struct sess *s, struct pdu_view v)
{
    pdu_view_copy(s->peer_system_id, sizeof s->peer_system_id, v);
}

static void bind_resp_received(struct sess *s, const struct pdu *resp,
                               uint32_t status, void *arg)
{
    (void)arg;
    if (s->state != SESS_BINDING)
        return;
    if (status == SESS_STATUS_TIMEOUT) {
        sess_close(s, SESS_CLOSE_BIND_TIMEOUT);
        return;
    }
    if (status != ESME_ROK || !resp) {
        sess_close(s, SESS_CLOSE_BIND_FAILED);
        return;
    }
    uint8_t v;
    s->peer_version = pdu_tlv_u8(resp, PDU_TLV_SC_INTERFACE_VERSION, &v) == 0
                          ? v : 0x33; /* no TLV: a 3.3 SMSC (TLVs: 3.4+) */
    copy_system_id(s, resp->system_id);
    sess_set_state(s, bound_state(s->bind_type));
    s->last_rx_ms = clock_mono_ms();
    sess_arm_timer(s);
    if (s->cbs.on_bound)
        s->cbs.on_bound(s, resp, s->ctx);
}

int sess_bind(struct sess *s, enum sess_bind_type type, const char *system_id,
              const char *password, const char *system_type,
              uint8_t interface_version)
{
    if (s->role != SESS_CLIENT || s->state != SESS_OPEN)
        return -1;
    struct pdu p;
    pdu_init(&p, bind_command(type), 0);
    p.system_id = pdu_view_str(system_id);
    p.password = pdu_view_str(password);
    p.system_type = pdu_view_str(system_type ? system_type : "");
    p.interface_version = interface_version;
    s->bind_type = type;
    if (send_request(s, &p, bind_resp_received, NULL, 1, NULL) != 0)
        return -1;
    sess_set_state(s, SESS_BINDING);
    return 0;
}

void sess_bind_reply(struct sess *s, uint32_t status)
{
    if (s->state != SESS_BINDING || s->role != SESS_SERVER)
        return;
    struct pdu r;
    uint8_t version = 0x34;
    pdu_init(&r, pdu_resp_id(bind_command(s->bind_type)), s->bind_seq);
    r.command_status = status;
    r.system_id = pdu_view_str(s->cfg.system_id);
    /* Only a 3.4+ peer gets a TLV: TLVs came with 3.4, and some 3.3
     * clients fail on any TLV in a bind response. */
    if (status == ESME_ROK && s->peer_version >= 0x34)
        pdu_tlv_add(&r, PDU_TLV_SC_INTERFACE_VERSION, &version, 1);
    write_pdu(s, &r);
    if (status != ESME_ROK) {
        sess_close(s, SESS_CLOSE_BIND_FAILED);
        return;
    }
    sess_set_state(s, bound_state(s->bind_type));
    sess_arm_timer(s);
}

/* ---- requests from the peer ----------------------------------------- */

/* May the peer send <cmd> to us in our current state and role?
 * (The session-state table of SMPP 3.4 §2.3, seen from the receiving
 * side.) */
static int peer_may_send(const struct sess *s, uint32_t cmd)
{
    switch (cmd) {
    case PDU_SUBMIT_SM: case PDU_SUBMIT_MULTI: case PDU_QUERY_SM:
    case PDU_CANCEL_SM: case PDU_REPLACE_SM: case PDU_BROADCAST_SM:
    case PDU_QUERY_BROADCAST_SM: case PDU_CANCEL_BROADCAST_SM:
        return s->role == SESS_SERVER && state_can_transmit(s->state);
    case PDU_DELIVER_SM: case PDU_ALERT_NOTIFICATION:
        return s->role == SESS_CLIENT && state_can_receive(s->state);
    case PDU_DATA_SM:
        return s->role == SESS_SERVER ? state_can_transmit(s->state)
                                      : state_can_receive(s->state);
    case PDU_OUTBIND:
        return s->role == SESS_CLIENT && s->state == SESS_OPEN;
    default:
        return 0;
    }
}

/* May we send <cmd> to the peer now? */
static int we_may_send(const struct sess *s, uint32_t cmd)
{
    switch (cmd) {
    case PDU_SUBMIT_SM: case PDU_SUBMIT_MULTI: case PDU_QUERY_SM:
    case PDU_CANCEL_SM: case PDU_REPLACE_SM: case PDU_BROADCAST_SM:
    case PDU_QUERY_BROADCAST_SM: case PDU_CANCEL_BROADCAST_SM:
        return s->role == SESS_CLIENT && state_can_transmit(s->state);
    case PDU_DELIVER_SM: case PDU_ALERT_NOTIFICATION:
        return s->role == SESS_SERVER && state_can_receive(s->state);
    case PDU_DATA_SM:
        return s->role == SESS_CLIENT ? state_can_transmit(s->state)
                                      : state_can_receive(s->state);
    default:
        return 0;
    }
}

static void handle_bind(struct sess *s, const struct pdu *p)
{
    if (s->role != SESS_SERVER) {
        send_resp(s, p->command_id, p->sequence_number, ESME_RINVBNDSTS);
        glitch(s);
        return;
    }
    if (s->state != SESS_OPEN) {
        send_resp(s, p->command_id, p->sequence_number, ESME_RALYBND);
        glitch(s);
        return;
    }
    s->bind_type = p->command_id == PDU_BIND_TRANSMITTER ? SESS_BIND_TX
                 : p->command_id == PDU_BIND_RECEIVER ? SESS_BIND_RX
                                                      : SESS_BIND_TRX;
    s->bind_seq = p->sequence_number;
    s->peer_version = p->interface_version;
    copy_system_id(s, p->system_id);
    sess_set_state(s, SESS_BINDING);
    if (s->cbs.on_bind)
        s->cbs.on_bind(s, p, s->ctx);
    else
        sess_bind_reply(s, ESME_RBINDFAIL);
}

static void handle_unbind(struct sess *s, const struct pdu *p)
{
    if (!state_is_bound(s->state) && s->state != SESS_UNBINDING) {
        send_resp(s, p->command_id, p->sequence_number, ESME_RINVBNDSTS);
        glitch(s);
        return;
    }
    send_resp(s, p->command_id, p->sequence_number, ESME_ROK);
    sess_close(s, SESS_CLOSE_UNBIND);
}

/* The peer's request that the protocol leaves to the owner. */
static void handle_owner_request(struct sess *s, const struct pdu *p)
{
    unsigned flags = pdu_command_flags(p->command_id);
    if (!peer_may_send(s, p->command_id)) {
        if (flags & PDUF_NORESP)
            send_generic_nack(s, ESME_RINVBNDSTS, p->sequence_number);
        else
            send_resp(s, p->command_id, p->sequence_number, ESME_RINVBNDSTS);
        glitch(s);
        return;
    }
    if (flags & PDUF_NORESP) {
        if (s->cbs.on_request)
            s->cbs.on_request(s, p, s->ctx);
        return;
    }
    if (!s->cbs.on_request ||
        (s->peer_inflight >= s->cfg.peer_window && !s->cfg.peer_window_pause)) {
        s->stats.throttled++;
        send_resp(s, p->command_id, p->sequence_number, ESME_RTHROTTLED);
        return;
    }
    s->peer_inflight++;
    s->cbs.on_request(s, p, s->ctx);
    if (s->cfg.peer_window_pause && s->peer_inflight >= s->cfg.peer_window &&
        s->state != SESS_CLOSED && !s->peer_paused) {
        /* stop reading: TCP pushes back on the peer, nothing is refused */
        s->peer_paused = 1;
        bufferevent_disable(s->bev, EV_READ);
    }
}

static void handle_request(struct sess *s, const struct pdu *p)
{
    switch (p->command_id) {
    case PDU_ENQUIRE_LINK:
        /* answered in every state: 5.0 allows it before the bind,
         * and answering is safe with any peer */
        send_resp(s, p->command_id, p->sequence_number, ESME_ROK);
        return;
    case PDU_UNBIND:
        handle_unbind(s, p);
        return;
    case PDU_BIND_TRANSMITTER: case PDU_BIND_RECEIVER:
    case PDU_BIND_TRANSCEIVER:
        handle_bind(s, p);
        return;
    default:
        handle_owner_request(s, p);
        return;
    }
}

static void handle_response(struct sess *s, const struct pdu *p,
                            uint32_t decode_status)
{
    struct txn *t = txn_find(s, p->sequence_number);
    if (!t || (p->command_id != PDU_GENERIC_NACK &&
               p->command_id != pdu_resp_id(t->command_id))) {
        /* a response to nothing outstanding: the owner may know it as a
         * late answer to a request that timed out, which is no glitch */
        if (!t && decode_status == ESME_ROK && s->cbs.on_late_resp &&
            s->cbs.on_late_resp(s, p, s->ctx))
            return;
        glitch(s);
        return;
    }
    if (decode_status != ESME_ROK) {
        glitch(s);
        txn_complete(s, t, NULL, decode_status);
        return;
    }
    txn_complete(s, t, p, p->command_status);
}

static void handle_pdu(struct sess *s, const uint8_t *raw, size_t len)
{
    struct pdu p;
    uint32_t st = pdu_decode(raw, len, &p);
    s->stats.rx_pdus++;
    s->last_rx_ms = clock_loop_ms(); /* idle time: the turn's now will do */
    if (pdu_is_resp(p.command_id) && pdu_command_known(p.command_id)) {
        handle_response(s, &p, st);
        return;
    }
    if (st == ESME_RINVCMDID) {
        send_generic_nack(s, st, p.sequence_number);
        glitch(s);
        return;
    }
    if (st != ESME_ROK) {
        if (pdu_command_flags(p.command_id) & PDUF_NORESP)
            send_generic_nack(s, st, p.sequence_number);
        else
            send_resp(s, p.command_id, p.sequence_number, st);
        glitch(s);
        return;
    }
    const struct pdu *prev_req = s->cur_req;
    const uint8_t *prev_raw = s->cur_raw;
    size_t prev_len = s->cur_len;
    s->cur_req = &p;
    s->cur_raw = raw;
    s->cur_len = len;
    handle_request(s, &p);
    s->cur_req = prev_req;
    s->cur_raw = prev_raw;
    s->cur_len = prev_len;
}

const uint8_t *sess_request_bytes(const struct sess *s, const struct pdu *p,
                                  size_t *len)
{
    if (!s || !p || p != s->cur_req)
        return NULL;
    *len = s->cur_len;
    return s->cur_raw;
}

/* ---- reading -------------------------------------------------------- */

static uint32_t max_pdu_len(const struct sess *s)
{
    return state_is_bound(s->state) ? s->cfg.max_pdu_len
                                    : s->cfg.max_pdu_len_unbound;
}

/* The stream cannot be resynchronised after a bad command_length: nack
 * it (generic_nack, 3.4 §4.3) with the sequence number if one could be
 * read, else 0, then close. */
static void handle_bad_length(struct sess *s, struct evbuffer *in)
{
    uint8_t hdr[16];
    uint32_t seq = 0;
    if (evbuffer_copyout(in, hdr, sizeof hdr) == (ev_ssize_t)sizeof hdr)
        seq = (uint32_t)hdr[12] << 24 | (uint32_t)hdr[13] << 16 |
              (uint32_t)hdr[14] << 8 | hdr[15];
    evbuffer_drain(in, evbuffer_get_length(in));
    s->stats.glitches++;
    send_generic_nack(s, ESME_RINVCMDLEN, seq);
    sess_close(s, SESS_CLOSE_BAD_LENGTH);
}

/* Whether nothing stops reading from the peer: output under its high
 * water, the peer's window open, the owner not holding it. */
static int reading_allowed(const struct sess *s)
{
    return !s->read_paused && !s->peer_paused && !s->held;
}

/* Pause reading while the output is over its high water. */
static void check_backpressure(struct sess *s)
{
    if (s->state == SESS_CLOSED || s->read_paused)
        return;
    if (output_len(s) > s->cfg.write_high_water) {
        s->read_paused = 1;
        bufferevent_disable(s->bev, EV_READ);
    }
}

static void process_input(struct sess *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);
    unsigned handled = 0;
    s->connected = 1; /* bytes arrived: whatever the role, it is up */
    s->handshaking = 0;
    sess_ref(s);
    while (s->state != SESS_CLOSED && reading_allowed(s)) {
        size_t avail = evbuffer_get_length(in);
        uint8_t hdr[4];
        uint32_t len;
        if (avail < 4)
            break;
        if (handled == s->cfg.pdus_per_read) {
            sess_schedule(s); /* more later: let other sessions run */
            break;
        }
        evbuffer_copyout(in, hdr, 4);
        enum pdu_frame_result fr = pdu_frame(hdr, avail, max_pdu_len(s), &len);
        if (fr == PDU_FRAME_INVALID) {
            handle_bad_length(s, in);
            break;
        }
        if (fr == PDU_FRAME_NEED_MORE)
            break;
        handle_pdu(s, evbuffer_pullup(in, len), len);
        evbuffer_drain(in, len);
        handled++;
        check_backpressure(s);
    }
    sess_unref(s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct sess *s = arg;
    if (s->state == SESS_CLOSED) {
        /* lingering after our half-close: what comes is not read */
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    process_input(s);
}

/* Output drained to the low water mark: resume reading, wake senders. */
static void on_write(struct bufferevent *bev, void *arg)
{
    struct sess *s = arg;
    (void)bev;
    if (s->state == SESS_CLOSED) {
        if (output_len(s) == 0)
            sess_schedule(s);
        return;
    }
    if (s->read_paused) {
        s->read_paused = 0;
        if (reading_allowed(s))
            bufferevent_enable(s->bev, EV_READ);
        s->want_writable = 1;
        sess_schedule(s);
    } else if (s->want_writable) {
        sess_schedule(s); /* a sender was refused for the high water */
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct sess *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        s->connected = 1;
        s->handshaking = 0;
        if (s->cbs.on_connected && s->state == SESS_OPEN)
            s->cbs.on_connected(s, s->ctx);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        enum sess_close_reason why =
            !s->connected ? SESS_CLOSE_CONNECT_FAILED
            : (what & BEV_EVENT_EOF) ? SESS_CLOSE_PEER_EOF
                                     : SESS_CLOSE_IO_ERROR;
        s->dead = 1; /* nothing more can be flushed */
        if (s->state == SESS_UNBINDING)
            why = SESS_CLOSE_UNBIND;
        if (s->state != SESS_CLOSED)
            sess_close(s, why);
        else
            sess_schedule(s);
    }
}

/* ---- timers and the deferred event ---------------------------------- */

static void enquire_resp_received(struct sess *s, const struct pdu *resp,
                                  uint32_t status, void *arg)
{
    (void)resp;
    (void)arg;
    s->enquire_outstanding = 0;
    if (status == SESS_STATUS_TIMEOUT)
        sess_close(s, SESS_CLOSE_ENQUIRE_TIMEOUT);
    else
        sess_arm_timer(s); /* the next one is due sooner than the deadline */
}

static void send_enquire_link(struct sess *s)
{
    struct pdu p;
    pdu_init(&p, PDU_ENQUIRE_LINK, 0);
    if (send_request(s, &p, enquire_resp_received, NULL, 1, NULL) == 0)
        s->enquire_outstanding = 1;
}

/* Earliest moment something is due, or 0 for nothing. */
static uint64_t next_due(const struct sess *s)
{
    uint64_t due = 0;
#define CONSIDER(t) do { uint64_t t_ = (t); if (!due || t_ < due) due = t_; } while (0)
    if (s->state == SESS_CLOSED) {
        CONSIDER(s->close_deadline_ms);
        return due;
    }
    if (s->oldest)
        CONSIDER(s->oldest->deadline_ms);
    if (s->handshaking)
        CONSIDER(s->handshake_deadline_ms);
    /* both roles: a client whose connect or TLS handshake hangs, or whose
     * bind_resp never comes, must not stay OPEN for ever */
    if (!state_is_bound(s->state) && s->state != SESS_UNBINDING)
        CONSIDER(s->bind_deadline_ms);
    if (state_is_bound(s->state)) {
        if (s->cfg.enquire_interval_ms && !s->enquire_outstanding)
            CONSIDER(s->last_rx_ms + s->cfg.enquire_interval_ms);
        if (s->cfg.idle_timeout_ms)
            CONSIDER(s->last_rx_ms + s->cfg.idle_timeout_ms);
    }
#undef CONSIDER
    return due;
}

static void sess_arm_timer(struct sess *s)
{
    uint64_t due = next_due(s);
    if (!due || (s->timer_at_ms && s->timer_at_ms <= due))
        return; /* already armed early enough; it re-arms when it fires */
    uint64_t now = clock_mono_ms();
    uint64_t wait = due > now ? due - now : 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    s->timer_at_ms = due;
    evtimer_add(s->timer, &tv);
}

static void expire_txns(struct sess *s, uint64_t now)
{
    while (s->oldest && s->oldest->deadline_ms <= now &&
           s->state != SESS_CLOSED) {
        s->stats.timeouts++;
        txn_complete(s, s->oldest, NULL, SESS_STATUS_TIMEOUT);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct sess *s = arg;
    uint64_t now = clock_mono_ms();
    (void)fd;
    (void)what;
    s->timer_at_ms = 0;
    sess_ref(s);
    if (s->state == SESS_CLOSED) {
        sess_schedule(s);
    } else {
        expire_txns(s, now);
        if (s->state != SESS_CLOSED &&
            (s->state == SESS_OPEN || s->state == SESS_BINDING) &&
            now >= s->bind_deadline_ms)
            sess_close(s, SESS_CLOSE_BIND_TIMEOUT);
        if (s->state != SESS_CLOSED && s->handshaking &&
            now >= s->handshake_deadline_ms)
            sess_close(s, SESS_CLOSE_HANDSHAKE_TIMEOUT);
        if (state_is_bound(s->state) && s->cfg.idle_timeout_ms &&
            now >= s->last_rx_ms + s->cfg.idle_timeout_ms)
            sess_close(s, SESS_CLOSE_IDLE_TIMEOUT);
        if (state_is_bound(s->state) && s->cfg.enquire_interval_ms &&
            !s->enquire_outstanding &&
            now >= s->last_rx_ms + s->cfg.enquire_interval_ms)
            send_enquire_link(s);
    }
    sess_arm_timer(s);
    sess_unref(s);
}

/* Work that must not run on a caller's stack: finishing a close, more
 * input after a fairness break, telling the owner there is room. */
static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
    struct sess *s = arg;
    (void)fd;
    (void)what;
    if (s->state == SESS_CLOSED) {
        if (!close_phase_done(s))
            sess_arm_timer(s);
        else if (s->half_closed || half_close(s) != 0)
            sess_finish(s);
        return;
    }
    sess_ref(s);
    if (s->want_writable && sess_can_send(s)) {
        s->want_writable = 0;
        if (s->cbs.on_writable)
            s->cbs.on_writable(s, s->ctx);
    }
    if (s->state != SESS_CLOSED && reading_allowed(s))
        process_input(s);
    sess_unref(s);
}

static void sess_schedule(struct sess *s)
{
    if (!s->finished)
        event_active(s->deferred, EV_TIMEOUT, 1);
}

/* ---- public API ----------------------------------------------------- */

struct sess *sess_new(struct event_base *base, struct bufferevent *bev,
                      enum sess_role role, const struct sess_config *cfg,
                      const struct sess_callbacks *cbs, void *ctx)
{
    struct sess *s = calloc(1, sizeof *s);
    if (!s) {
        bufferevent_free(bev);
        return NULL;
    }
    s->base = base;
    s->bev = bev;
    s->role = role;
    s->cfg = *cfg;
    if (s->cfg.pdus_per_read == 0)
        s->cfg.pdus_per_read = 64;
    s->cbs = *cbs;
    s->ctx = ctx;
    s->refs = 1;
    s->next_seq = 1;
    s->connected = role == SESS_SERVER; /* accepted sockets are up */
    s->timer = evtimer_new(base, on_timer, s);
    s->deferred = event_new(base, -1, 0, on_deferred, s);
    if (!s->timer || !s->deferred || txn_table_init(s) != 0) {
        bufferevent_free(bev);
        sess_free(s);
        return NULL;
    }
    s->last_rx_ms = clock_mono_ms();
    s->bind_deadline_ms = s->last_rx_ms + s->cfg.bind_timeout_ms;
    s->handshaking = role == SESS_SERVER && s->cfg.handshake_timeout_ms;
    s->handshake_deadline_ms = s->last_rx_ms + s->cfg.handshake_timeout_ms;
    bufferevent_setcb(bev, on_read, on_write, on_event, s);
    bufferevent_setwatermark(bev, EV_WRITE, s->cfg.write_high_water / 2, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    sess_arm_timer(s);
    return s;
}

void sess_ref(struct sess *s)
{
    s->refs++;
}

void sess_unref(struct sess *s)
{
    if (--s->refs == 0 && s->finished && !s->in_finish)
        sess_free(s);
}

int sess_answering(const struct sess *s)
{
    if (s->state != SESS_CLOSED)
        return 1;
    return s->bev && !s->dead && !s->half_closed && !s->finished;
}

void sess_reply(struct sess *s, uint32_t req_id, uint32_t seq,
                uint32_t status, struct pdu *resp)
{
    if (s->peer_inflight)
        s->peer_inflight--;
    if (!sess_answering(s))
        return;
    if (s->state == SESS_CLOSED) {
        sess_schedule(s); /* the last answer may end the flush */
    } else if (s->peer_paused && s->peer_inflight < s->cfg.peer_window) {
        s->peer_paused = 0;
        if (reading_allowed(s))
            bufferevent_enable(s->bev, EV_READ);
        sess_schedule(s); /* what is already buffered */
    }
    if (!resp) {
        send_resp(s, req_id, seq, status);
    } else {
        resp->command_id = pdu_resp_id(req_id);
        resp->command_status = status;
        resp->sequence_number = seq;
        if (write_pdu(s, resp) != 0)
            send_resp(s, req_id, seq, ESME_RSYSERR);
    }
    check_backpressure(s);
}

unsigned sess_window(const struct sess *s)
{
    return state_is_bound(s->state) ? s->cfg.window : 0;
}

void sess_hold_reading(struct sess *s, int hold)
{
    if (!hold == !s->held)
        return;
    s->held = hold != 0;
    if (s->state == SESS_CLOSED || !s->bev)
        return;
    if (s->held) {
        bufferevent_disable(s->bev, EV_READ);
    } else if (reading_allowed(s)) {
        bufferevent_enable(s->bev, EV_READ);
        sess_schedule(s); /* what is already buffered */
    }
}

int sess_set_priority(struct sess *s, int prio)
{
    if (!s->bev || bufferevent_priority_set(s->bev, prio) != 0 ||
        event_priority_set(s->timer, prio) != 0 ||
        event_priority_set(s->deferred, prio) != 0)
        return -1;
    return 0;
}

int sess_can_send(const struct sess *s)
{
    return state_is_bound(s->state) && s->inflight < s->cfg.window &&
           output_len(s) <= s->cfg.write_high_water;
}

int sess_send(struct sess *s, struct pdu *req, sess_resp_cb cb, void *arg,
              uint32_t *seq_out)
{
    if (!sess_can_send(s) || !we_may_send(s, req->command_id)) {
        s->want_writable = 1;
        return -1;
    }
    return send_request(s, req, cb, arg, 0, seq_out);
}

static void unbind_resp_received(struct sess *s, const struct pdu *resp,
                                 uint32_t status, void *arg)
{
    (void)resp;
    (void)status;
    (void)arg;
    sess_close(s, SESS_CLOSE_UNBIND);
}

void sess_unbind(struct sess *s)
{
    if (!state_is_bound(s->state)) {
        sess_close(s, SESS_CLOSE_LOCAL);
        return;
    }
    struct pdu p;
    pdu_init(&p, PDU_UNBIND, 0);
    sess_set_state(s, SESS_UNBINDING);
    if (send_request(s, &p, unbind_resp_received, NULL, 1, NULL) != 0)
        sess_close(s, SESS_CLOSE_LOCAL);
}

void sess_set_next_sequence(struct sess *s, uint32_t seq)
{
    s->next_seq = seq >= 1 && seq <= SEQ_MAX ? seq : 1;
}

enum sess_state sess_state(const struct sess *s) { return s->state; }
enum sess_role sess_role(const struct sess *s) { return s->role; }
uint8_t sess_peer_version(const struct sess *s) { return s->peer_version; }
const char *sess_peer_system_id(const struct sess *s) { return s->peer_system_id; }
unsigned sess_inflight(const struct sess *s) { return s->inflight; }
unsigned sess_peer_inflight(const struct sess *s) { return s->peer_inflight; }
void *sess_ctx(const struct sess *s) { return s->ctx; }
void sess_set_ctx(struct sess *s, void *ctx) { s->ctx = ctx; }
struct bufferevent *sess_bufferevent(struct sess *s) { return s->bev; }
const struct sess_stats *sess_stats(const struct sess *s) { return &s->stats; }
