/*
 * peer_script.h - a scripted SMPP peer for session tests.
 *
 * The peer is the far end of a socketpair (or an accepted loopback TCP
 * socket) whose near end a session owns. The test drives it with plain
 * non-blocking read() and write() and runs the event loop in short slices
 * while it waits, so every wait is bounded and ends on an event: a whole
 * PDU, an EOF, or a condition the test names. Failures are Criterion
 * assertions carrying peer_step, a label the test sets with PEER_STEP().
 */
#ifndef SMPPBRIDGE_TEST_PEER_SCRIPT_H
#define SMPPBRIDGE_TEST_PEER_SCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pdu.h"

struct event_base;

#define PEER_RAW_MAX 8192u  /* largest PDU a peer reads or writes */
#define PEER_WAIT_MS 1000u  /* bound on waiting for what must come */

struct peer {
    struct event_base *base; /* the loop run while the peer waits */
    int fd;                  /* non-blocking; -1 when closed */
    int eof;                 /* the session closed (or reset) the stream */
    size_t len;              /* bytes read, not yet taken as PDUs */
    uint8_t buf[1u << 16];
};

/* What the test is doing, printed with every failure. */
extern char peer_step[200];
#define PEER_STEP(...) snprintf(peer_step, sizeof peer_step, __VA_ARGS__)

uint64_t peer_now_ms(void);

/* Run <base> for at most <ms>, handling events as they come. */
void peer_loop_for(struct event_base *base, unsigned ms);

/* Run <base> until <cond> holds or <ms> have passed; assert <cond> after. */
#define PEER_RUN_UNTIL(base, cond, ms)                                         \
    do {                                                                       \
        uint64_t until_ = peer_now_ms() + (ms);                                \
        while (!(cond) && peer_now_ms() < until_)                              \
            peer_loop_for((base), 2);                                          \
    } while (0)

/* Read what the session wrote into <p>->buf, without blocking. */
void peer_pump(struct peer *p);

/* Take one whole PDU off <p>->buf: bytes to <raw> (PEER_RAW_MAX), fields
 * to <out> (views into <raw>); asserts it decodes. 1 if there was one. */
int peer_take(struct peer *p, struct pdu *out, uint8_t *raw);

/* The next PDU within <ms>: 1 (in <out>/<raw>), 0 on timeout, -1 on EOF. */
int peer_expect(struct peer *p, unsigned ms, struct pdu *out, uint8_t *raw);

/* Assert that the next PDU is <id>/<seq>/<status>; <out>/<raw> get it. */
void peer_expect_hdr(struct peer *p, uint32_t id, uint32_t seq,
                     uint32_t status, struct pdu *out, uint8_t *raw);
void peer_expect_only(struct peer *p, uint32_t id, uint32_t seq,
                      uint32_t status);

/* Assert that the session closes the stream with nothing more sent. */
void peer_expect_eof(struct peer *p);

/* Write all of <b>, running the loop while the socket is full (bounded). */
void peer_write_all(struct peer *p, const uint8_t *b, size_t n);
void peer_send(struct peer *p, const struct pdu *pdu);
/* A header-only PDU: enquire_link, unbind, their resps, generic_nack. */
void peer_send_hdr(struct peer *p, uint32_t id, uint32_t status, uint32_t seq);
/* Bytes given as hex text (see peer_hex). */
void peer_send_hex(struct peer *p, const char *hex);

/* Parse hex text into <out>; returns the byte count. Tokens are separated
 * by spaces: one or two digits are one octet ("0" = 00), longer tokens are
 * read two digits per octet (as in test_pdu.c). */
size_t peer_hex(const char *s, uint8_t *out, size_t cap);

#endif
