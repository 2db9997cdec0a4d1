/*
 * throttle.h - rates held across every bridge instance sharing one Redis.
 *
 * Each rate (an account's tps, an upstream connector's tps) is a token
 * bucket in Redis, refilled by a Lua script on Redis's own clock, so
 * instances need no clock agreement and together never take more than
 * the rate plus one burst. An instance leases small batches of tokens
 * (a twentieth of a second's worth) into a local pool and answers from
 * the pool at once: no Redis round trip per message, no waiting. It asks
 * for the next lease before the pool runs dry; when it is dry the answer
 * is "no" now (the customer gets ESME_RTHROTTLED), never "wait".
 */
#ifndef SMPPBRIDGE_THROTTLE_H
#define SMPPBRIDGE_THROTTLE_H

struct event_base;
struct store;
struct throttle;

struct throttle *throttle_new(struct event_base *base, struct store *st);
void throttle_free(struct throttle *t);

/*
 * Take <n> tokens from the bucket <key> that fills at <rate> per second
 * (<rate> 0: unlimited). 1 taken, 0 not now. The rate given with each
 * call is the one used from then on, so a changed account applies at the
 * next message; the burst is a tenth of a second's worth (at least 1),
 * which keeps any 10 s window within 1% of the rate.
 */
int throttle_take(struct throttle *t, const char *key, unsigned rate,
                  unsigned n);

#endif /* SMPPBRIDGE_THROTTLE_H */
