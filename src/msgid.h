/*
 * msgid.h - the bridge's own message ids, unique across instances.
 *
 * 64 bits: milliseconds since 2024-01-01 (41 bits, until 2093), the
 * instance number (10 bits, from Redis at start-up) and a sequence within
 * the millisecond (12 bits; past 4096 in one millisecond the clock is
 * borrowed from, so ids stay unique and increasing). Customers see them
 * as lower-case hex (default) or decimal, per account.
 */
#ifndef SMPPBRIDGE_MSGID_H
#define SMPPBRIDGE_MSGID_H

#include <stddef.h>
#include <stdint.h>

#define MSGID_TEXT_MAX 21 /* 20 decimal digits and the NUL */

struct msgid_gen {
    uint64_t last_ms;
    unsigned seq;
    unsigned instance;
};

void msgid_init(struct msgid_gen *g, unsigned instance);
/* The next id; <unix_ms> is the wall clock in milliseconds. */
uint64_t msgid_next(struct msgid_gen *g, uint64_t unix_ms);
/* Text form into <out>; returns its length. */
int msgid_format(uint64_t id, int decimal, char *out, size_t cap);

#endif
