/*
 * peer_script.c - a scripted SMPP peer for session tests (peer_script.h).
 */
#include "common.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "peer_script.h"
#include "wire.h"

char peer_step[200];

uint64_t peer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void peer_loop_for(struct event_base *base, unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* An error (ECONNRESET: the session closed with our bytes unread) counts
 * as the end of the stream. */
void peer_pump(struct peer *p)
{
    while (!p->eof && p->len < sizeof p->buf) {
        ssize_t n = read(p->fd, p->buf + p->len, sizeof p->buf - p->len);
        if (n > 0)
            p->len += (size_t)n;
        else if (n == 0)
            p->eof = 1;
        else if (errno == EINTR)
            continue;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        else
            p->eof = 1;
    }
}

int peer_take(struct peer *p, struct pdu *out, uint8_t *raw)
{
    uint32_t len;
    if (p->len < 4)
        return 0;
    enum pdu_frame_result fr = pdu_frame(p->buf, p->len, PEER_RAW_MAX, &len);
    cr_assert_neq(fr, PDU_FRAME_INVALID, "%s: the session wrote length %u",
                  peer_step, wire_read_u32(p->buf));
    if (fr != PDU_FRAME_READY)
        return 0;
    memcpy(raw, p->buf, len);
    memmove(p->buf, p->buf + len, p->len - len);
    p->len -= len;
    uint32_t st = pdu_decode(raw, len, out);
    cr_assert_eq(st, ESME_ROK, "%s: the session wrote a bad %s (%s)",
                 peer_step, pdu_command_name(out->command_id),
                 pdu_status_name(st));
    return 1;
}

int peer_expect(struct peer *p, unsigned ms, struct pdu *out, uint8_t *raw)
{
    uint64_t until = peer_now_ms() + ms;
    for (;;) {
        peer_pump(p);
        if (peer_take(p, out, raw))
            return 1;
        if (p->eof)
            return -1;
        if (peer_now_ms() >= until)
            return 0;
        peer_loop_for(p->base, 2);
    }
}

void peer_expect_hdr(struct peer *p, uint32_t id, uint32_t seq,
                     uint32_t status, struct pdu *out, uint8_t *raw)
{
    int r = peer_expect(p, PEER_WAIT_MS, out, raw);
    cr_assert_eq(r, 1, "%s: waiting for %s seq %u: %s", peer_step,
                 pdu_command_name(id), seq, r == 0 ? "timeout" : "EOF");
    cr_assert_eq(out->command_id, id, "%s: got %s (%s), want %s", peer_step,
                 pdu_command_name(out->command_id),
                 pdu_status_name(out->command_status), pdu_command_name(id));
    cr_assert_eq(out->sequence_number, seq, "%s: %s seq %u, want %u",
                 peer_step, pdu_command_name(id), out->sequence_number, seq);
    cr_assert_eq(out->command_status, status, "%s: %s status %s, want %s",
                 peer_step, pdu_command_name(id),
                 pdu_status_name(out->command_status),
                 pdu_status_name(status));
}

void peer_expect_only(struct peer *p, uint32_t id, uint32_t seq,
                      uint32_t status)
{
    struct pdu out;
    uint8_t raw[PEER_RAW_MAX];
    peer_expect_hdr(p, id, seq, status, &out, raw);
}

void peer_expect_eof(struct peer *p)
{
    struct pdu out;
    uint8_t raw[PEER_RAW_MAX];
    int r = peer_expect(p, 2 * PEER_WAIT_MS, &out, raw);
    cr_assert_neq(r, 1, "%s: %s (%s) seq %u instead of EOF", peer_step,
                  pdu_command_name(out.command_id),
                  pdu_status_name(out.command_status), out.sequence_number);
    cr_assert_eq(r, -1, "%s: no EOF", peer_step);
}

void peer_write_all(struct peer *p, const uint8_t *b, size_t n)
{
    uint64_t until = peer_now_ms() + PEER_WAIT_MS;
    while (n) {
        ssize_t w = write(p->fd, b, n);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
            continue;
        }
        cr_assert(w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                            errno == EINTR),
                  "%s: peer write: %s", peer_step, strerror(errno));
        cr_assert_lt(peer_now_ms(), until, "%s: peer write blocked",
                     peer_step);
        peer_loop_for(p->base, 2);
    }
}

void peer_send(struct peer *p, const struct pdu *pdu)
{
    uint8_t b[PEER_RAW_MAX];
    size_t n = pdu_encode(pdu, b, sizeof b);
    cr_assert_gt(n, 0, "%s: cannot encode %s", peer_step,
                 pdu_command_name(pdu->command_id));
    peer_write_all(p, b, n);
}

void peer_send_hdr(struct peer *p, uint32_t id, uint32_t status, uint32_t seq)
{
    uint8_t b[16];
    wire_write_u32(b, 16);
    wire_write_u32(b + 4, id);
    wire_write_u32(b + 8, status);
    wire_write_u32(b + 12, seq);
    peer_write_all(p, b, sizeof b);
}

void peer_send_hex(struct peer *p, const char *hex)
{
    uint8_t b[PEER_RAW_MAX];
    size_t n = peer_hex(hex, b, sizeof b);
    peer_write_all(p, b, n);
}

size_t peer_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        while (*s == ' ')
            s++;
        size_t len = strcspn(s, " ");
        if (len == 0)
            break;
        cr_assert(len <= 2 || len % 2 == 0, "odd hex token in %s", s);
        for (size_t i = 0; i < len; i += 2) {
            char tok[3] = {s[i], i + 1 < len ? s[i + 1] : 0, 0};
            cr_assert_lt(n, cap);
            out[n++] = (uint8_t)strtoul(tok, NULL, 16);
        }
        s += len;
    }
    return n;
}
