/*
 * session.h - one SMPP session over a libevent bufferevent.
 *
 * Three layers, three names: the *connection* is the
 * bufferevent (plain TCP or TLS, created by the caller); the *session* is
 * one bind: its state, sequence counter, windows and timers; a
 * *transaction* is one request we sent, waiting for its _resp, keyed by
 * sequence_number.
 *
 * The session frames and decodes what arrives, answers what the protocol
 * answers by itself (enquire_link, unbind, PDUs not allowed in the current
 * state, malformed PDUs, unknown commands), and hands the rest to its
 * owner through callbacks. It works in both roles: SERVER (we are the SMSC:
 * the peer binds to us) and CLIENT (we are the ESME: we bind).
 *
 * Ownership. sess_new() takes the bufferevent. The owner holds one
 * reference; anything that will answer a request later (an asynchronous
 * Redis write, say) takes its own with sess_ref() and drops it with
 * sess_unref(). The session's memory lives until the last reference is
 * dropped and it is closed; it is never freed on its own callback stack.
 * on_close is called exactly once. Every transaction completes exactly
 * once: with its response, a generic_nack, a timeout, or the close.
 *
 * PDUs handed to callbacks are views into the input buffer: valid only
 * during the callback. Copy what must outlive it.
 */
#ifndef SMPPBRIDGE_SESSION_H
#define SMPPBRIDGE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "pdu.h"

struct bufferevent;
struct event_base;
struct sess;

enum sess_role {
    SESS_SERVER = 0,
    SESS_CLIENT,
};

enum sess_state {
    SESS_OPEN = 0,     /* connected, not bound */
    SESS_BINDING,      /* bind sent (client) or being authorised (server) */
    SESS_BOUND_TX,
    SESS_BOUND_RX,
    SESS_BOUND_TRX,
    SESS_UNBINDING,    /* unbind sent or received, waiting to close */
    SESS_CLOSED,
    SESS_STATE_MAX,
};

enum sess_bind_type {
    SESS_BIND_TX = 0,
    SESS_BIND_RX,
    SESS_BIND_TRX,
};

enum sess_close_reason {
    SESS_CLOSE_NONE = 0,
    SESS_CLOSE_LOCAL,          /* sess_close() by the owner */
    SESS_CLOSE_UNBIND,         /* orderly unbind, either side */
    SESS_CLOSE_PEER_EOF,       /* peer closed the connection */
    SESS_CLOSE_IO_ERROR,       /* socket or TLS error */
    SESS_CLOSE_CONNECT_FAILED, /* client role: connect or TLS handshake */
    SESS_CLOSE_BAD_LENGTH,     /* command_length invalid: stream unusable */
    SESS_CLOSE_BIND_TIMEOUT,   /* no bind (server) / bind_resp (client) */
    SESS_CLOSE_BIND_FAILED,    /* bind refused */
    SESS_CLOSE_IDLE_TIMEOUT,   /* nothing received for idle_timeout */
    SESS_CLOSE_ENQUIRE_TIMEOUT,/* enquire_link not answered */
    SESS_CLOSE_GLITCHES,       /* too many malformed or misplaced PDUs */
    SESS_CLOSE_HANDSHAKE_TIMEOUT, /* server role: TLS handshake too slow */
    SESS_CLOSE_REASON_MAX,
};

struct sess_config {
    uint32_t max_pdu_len;         /* once bound */
    uint32_t max_pdu_len_unbound; /* before the bind succeeds */
    unsigned window;              /* our outstanding requests */
    unsigned peer_window;         /* peer's requests we are still answering;
                                     beyond it: ESME_RTHROTTLED at once */
    int peer_window_pause;        /* instead: stop reading until there is
                                     room (nothing refused; for an SMSC
                                     sending receipts) */
    unsigned resp_timeout_ms;     /* wait for a _resp to our request */
    unsigned bind_timeout_ms;     /* connect-to-bound limit */
    unsigned idle_timeout_ms;     /* 0: never; close after this silence */
    unsigned enquire_interval_ms; /* 0: never; enquire_link after silence */
    size_t write_high_water;      /* stop reading above this output size */
    unsigned max_glitches;        /* close after this many bad PDUs ... */
    unsigned glitch_window_ms;    /* ... within this long (a rate: see
                                     sess_config_defaults) */
    unsigned handshake_timeout_ms;/* server role, 0: none; the connection
                                     must be up (TLS handshake done, or a
                                     first byte) this long after accept */
    unsigned pdus_per_read;       /* fairness: PDUs handled per callback */
    const char *system_id;        /* server role: put in bind_resp */
};

/* Defaults: 64 KiB+ PDUs, window 100, 10 s responses, 10 s bind, 30 s
 * enquire_link, 90 s idle, 1 MiB high water, 16 glitches within 60 s,
 * 64 PDUs, no handshake limit (the bind timeout still applies).
 *
 * Glitches are a rate, not a lifetime count: the session closes when
 * max_glitches of them fall within any glitch_window_ms (0: within the
 * session's life), so a client that errs now and then is never cut off.
 * The times of the last max_glitches are kept: 8 bytes each, allocated on
 * the first glitch. */
void sess_config_defaults(struct sess_config *cfg);

/* A request we sent has completed. <resp> is the response (or the
 * generic_nack standing in for it), or NULL on timeout or close; <status>
 * is its command_status, or ESME_RSYSERR-free local codes below. */
#define SESS_STATUS_TIMEOUT 0xFFFF0001u
#define SESS_STATUS_CLOSED 0xFFFF0002u
typedef void (*sess_resp_cb)(struct sess *s, const struct pdu *resp,
                             uint32_t status, void *arg);

struct sess_callbacks {
    /* Client role: the connection is up; typically call sess_bind(). */
    void (*on_connected)(struct sess *s, void *ctx);
    /* Server role: a bind arrived in OPEN. Answer with sess_bind_reply(),
     * now or later (hold a reference meanwhile). */
    void (*on_bind)(struct sess *s, const struct pdu *bind, void *ctx);
    /* Client role: bind_resp ESME_ROK; the session is bound. */
    void (*on_bound)(struct sess *s, const struct pdu *resp, void *ctx);
    /* A request the state allows (submit_sm, deliver_sm, data_sm, ...).
     * Answer with sess_reply(), now or later; PDUs that take no answer
     * (outbind, alert_notification) are only reported. */
    void (*on_request)(struct sess *s, const struct pdu *req, void *ctx);
    /* Optional. A response whose sequence_number matches nothing
     * outstanding (its request timed out, say). Return 1 when the owner
     * recognises it as a late answer: then it is not counted as a
     * glitch; 0 counts it. <resp> is a view, valid during the call. */
    int (*on_late_resp)(struct sess *s, const struct pdu *resp, void *ctx);
    /* There is room again after sess_can_send() said no. */
    void (*on_writable)(struct sess *s, void *ctx);
    /* Closed; called once. Drop the owner's reference here. */
    void (*on_close)(struct sess *s, enum sess_close_reason why, void *ctx);
};

/* A new session on <bev> (ownership passes to the session). Client role
 * with a connecting bufferevent: on_connected fires when it is up. Server
 * role: the bind timer starts now. Returns NULL on allocation failure
 * (then <bev> is freed). */
struct sess *sess_new(struct event_base *base, struct bufferevent *bev,
                      enum sess_role role, const struct sess_config *cfg,
                      const struct sess_callbacks *cbs, void *ctx);

void sess_ref(struct sess *s);
void sess_unref(struct sess *s);

/* Client role: send bind_<type>. The outcome arrives as on_bound or a
 * close with SESS_CLOSE_BIND_FAILED. Returns -1 if not in OPEN. */
int sess_bind(struct sess *s, enum sess_bind_type type, const char *system_id,
              const char *password, const char *system_type,
              uint8_t interface_version);

/* Server role: answer the pending bind. ESME_ROK binds the session as
 * the type asked; anything else is sent and the session closes once it is
 * written. sc_interface_version goes in the resp only to 3.4+ peers. */
void sess_bind_reply(struct sess *s, uint32_t status);

/* Answer the request <req_id>/<seq> that on_request reported. <resp> may
 * be NULL for a bodyless answer with <status>; otherwise its command_id,
 * status and sequence are set here. A closing session still takes the
 * answers to requests it had read (it waits for them, bounded, before it
 * half-closes); after that, and once closed, a no-op. */
void sess_reply(struct sess *s, uint32_t req_id, uint32_t seq,
                uint32_t status, struct pdu *resp);

/* The bytes <p> was decoded from (*<len> of them, header included) when
 * <p> is the very request on_request is being given now; NULL for
 * anything else (a copy, a PDU the caller built, after the callback). A
 * proxy that stores or forwards a request unchanged takes these instead
 * of encoding it again; they are a view, valid during the callback. */
const uint8_t *sess_request_bytes(const struct sess *s, const struct pdu *p,
                                  size_t *len);

/* 1 while an answer given with sess_reply() still reaches the peer: the
 * session is open, or closing and not yet past its flush. */
int sess_answering(const struct sess *s);

/* 1 when the session can take a request now: bound, window not full,
 * output under its high water. Whether the bind type allows a given
 * command (a receiver cannot submit) is sess_send()'s check. */
int sess_can_send(const struct sess *s);

/* Send request <req> (its sequence_number is assigned here and returned
 * through <seq_out> if not NULL). <cb> completes it exactly once. Returns
 * 0, or -1 (nothing sent, <cb> not called) when the session cannot send:
 * wait for on_writable. */
int sess_send(struct sess *s, struct pdu *req, sess_resp_cb cb, void *arg,
              uint32_t *seq_out);

/* Orderly end: send unbind, close on unbind_resp or timeout. */
void sess_unbind(struct sess *s);
/* Close now: fail every outstanding request, stop reading, flush what is
 * written, then half-close (shutdown for writing) and discard what the
 * peer still sends until it closes too, so that it reads every response
 * we sent and sees no reset; flush and linger are each bounded (2 s). */
void sess_close(struct sess *s, enum sess_close_reason why);
/* At exit, once the event loop has stopped: close (as sess_close) and
 * finish now - on_close is called before this returns - without the
 * flush and linger that need the loop. */
void sess_abort(struct sess *s, enum sess_close_reason why);

/* Where our sequence numbers continue (1..0x7FFFFFFF; they wrap to 1 and
 * skip numbers still outstanding). For tests of the wrap, and for a
 * resumed session that must not reuse recent numbers. */
void sess_set_next_sequence(struct sess *s, uint32_t seq);

/* <hold> 1: stop reading from the peer after the PDU being handled (TCP
 * pushes back on it; nothing is refused); 0: read again, what is
 * buffered first. For the owner's own limits, beside the session's
 * (output high water, peer window): reading resumes only when none of
 * them holds it. */
void sess_hold_reading(struct sess *s, int hold);

/* The requests of ours this session may have outstanding: its window
 * while bound, 0 otherwise. */
unsigned sess_window(const struct sess *s);

/* Run this session's events (its connection's reads and writes, its
 * timer, its deferred work) at loop priority <prio> (evprio.h). 0, or
 * -1 when the loop has no such priority (then they keep the default). */
int sess_set_priority(struct sess *s, int prio);

/* Read-only getters. */
enum sess_state sess_state(const struct sess *s);
enum sess_role sess_role(const struct sess *s);
uint8_t sess_peer_version(const struct sess *s);
const char *sess_peer_system_id(const struct sess *s); /* as bound */
unsigned sess_inflight(const struct sess *s);          /* our requests */
unsigned sess_peer_inflight(const struct sess *s);     /* theirs */
void *sess_ctx(const struct sess *s);
void sess_set_ctx(struct sess *s, void *ctx);
struct bufferevent *sess_bufferevent(struct sess *s);

const char *sess_state_name(enum sess_state st);
const char *sess_close_reason_name(enum sess_close_reason why);

/* Counters a session keeps, for logs and metrics. */
struct sess_stats {
    uint64_t rx_pdus, tx_pdus;
    uint64_t glitches;
    uint64_t timeouts;
    uint64_t throttled; /* peer requests refused for the peer window */
};
const struct sess_stats *sess_stats(const struct sess *s);

#endif /* SMPPBRIDGE_SESSION_H */
