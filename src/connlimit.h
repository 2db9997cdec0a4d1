/*
 * connlimit.h - who may open one more connection to the bridge.
 *
 * Three limits, checked in this order for every accepted socket before
 * any other work is done for it: the connections open in all, those open
 * from one source address (IPv6 by its /64), and the rate at which one
 * source address opens them (a token bucket: <rate> a second, up to
 * <burst> at once). A connection admitted is counted until
 * connlimit_release(); one refused was never counted.
 *
 * An address is remembered while it has connections open or its bucket
 * is refilling, so closing and reopening does not reset its rate; the
 * rest are forgotten by a sweep (at most once a second, from admit).
 * The table is bounded: past <max_total> + CONNLIMIT_SPARE addresses,
 * new ones are refused as a rate would refuse them.
 *
 * libc only; the caller passes the time, so tests need no clock.
 */
#ifndef SMPPBRIDGE_CONNLIMIT_H
#define SMPPBRIDGE_CONNLIMIT_H

#include <stdint.h>

#define CONNLIMIT_KEY_MAX 64
/* addresses remembered beyond max_total: enough for a rate to hold
 * while many addresses come and go */
#define CONNLIMIT_SPARE 4096u

enum connlimit_verdict {
    CONNLIMIT_OK = 0,
    CONNLIMIT_GLOBAL,      /* max_connections (or the descriptor cap) */
    CONNLIMIT_PER_ADDRESS, /* max_connections_per_address */
    CONNLIMIT_RATE,        /* accepts_per_second_per_address */
    CONNLIMIT_VERDICT_MAX,
};

struct connlimit_config {
    unsigned max_total;
    unsigned max_per_address;
    unsigned rate_per_s;   /* tokens added a second */
    unsigned burst;        /* bucket size */
};

struct connlimit;

/* NULL when out of memory. */
struct connlimit *connlimit_new(const struct connlimit_config *cfg);
void connlimit_free(struct connlimit *cl);

/* Change the limits (a reload); counts and buckets are kept. */
void connlimit_configure(struct connlimit *cl, const struct connlimit_config *cfg);

/* May a connection from <key> (an address as text) be opened at <now_ms>?
 * CONNLIMIT_OK counts it; anything else counts nothing. */
enum connlimit_verdict connlimit_admit(struct connlimit *cl, const char *key,
                                       uint64_t now_ms);

/* A connection admitted for <key> has gone. */
void connlimit_release(struct connlimit *cl, const char *key);

unsigned connlimit_total(const struct connlimit *cl);
unsigned connlimit_of(const struct connlimit *cl, const char *key);
unsigned connlimit_max_total(const struct connlimit *cl);

/* "global", "per_address", "rate": a metric label. */
const char *connlimit_verdict_name(enum connlimit_verdict v);

#endif /* SMPPBRIDGE_CONNLIMIT_H */
