/*
 * acceptgate.h - which accepted connections the bridge keeps, and what
 * its listeners do when the process runs out of descriptors.
 *
 * Every socket a listener hands over is admitted or closed here before
 * any other work is done for it (connlimit.h: in all, per address, per
 * address and second). The global cap is [server] max_connections or the
 * descriptor limit (RLIMIT_NOFILE) less [server] fd_reserve and one per
 * upstream session, whichever is lower, so customers cannot take the
 * descriptors Redis and upstream reconnects need.
 *
 * When accept() fails for want of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM) the listeners are disabled and resumed by a timer,
 * 10 ms the first time and twice as long each time it happens again, up
 * to 1 s, until a connection is accepted. Without this libevent retries
 * accept() at once, for ever, at full speed. Refusals and pauses are
 * counted in metrics and logged a few lines a minute at most.
 */
#ifndef SMPPBRIDGE_ACCEPTGATE_H
#define SMPPBRIDGE_ACCEPTGATE_H

#include <sys/socket.h>

struct event_base;
struct evconnlistener;
struct conf;
struct accept_gate;

/* NULL when out of memory. The cap is computed (and logged) here. */
struct accept_gate *gate_new(struct event_base *base, const struct conf *cfg);
void gate_free(struct accept_gate *g);

/* A [server] section changed (reload): new limits, counts kept. */
void gate_configure(struct accept_gate *g, const struct conf *cfg);

/* <l> is paused and resumed with the others. At most 16. */
int gate_add_listener(struct accept_gate *g, struct evconnlistener *l);

/* From a listener's error callback: accept() failed with <err> (errno).
 * Out of descriptors: every listener pauses (see above); otherwise the
 * error is only logged (rate-limited). */
void gate_accept_failed(struct accept_gate *g, int err);
/* A connection was accepted: the next pause starts short again. */
void gate_accepted(struct accept_gate *g);

/* Shutting down: the listeners stay disabled, whatever a pause timer
 * would do. */
void gate_stop(struct accept_gate *g);

/* Admit a connection from <key> (auth_limiter_peer_key form) and <peer>
 * (for the log). 0: admitted, gate_release() it when it goes; -1: refused
 * (counted and logged): the caller closes the socket at once. <extra> is
 * the connections the caller holds that are not admitted yet (PROXY
 * headers being read): they count against the global cap. A NULL <key>
 * checks the global cap alone and counts nothing (a connection whose
 * real address is not known yet). */
int gate_admit(struct accept_gate *g, const char *key,
               const struct sockaddr *peer, unsigned extra);
void gate_release(struct accept_gate *g, const char *key);

/* Connections admitted and open now. */
unsigned gate_open(const struct accept_gate *g);

#endif /* SMPPBRIDGE_ACCEPTGATE_H */
