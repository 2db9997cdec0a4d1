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

#include <stdint.h>

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

/*
 * Daily quotas: an account may take at most its daily_quota tokens per
 * UTC day across every instance. The count lives in Redis
 * (P:quota:{ID}:YYYYMMDD, expiring an hour after that day ends), taken
 * by a script that never grants past the quota. An instance leases a
 * small batch at a time (1/100 of the quota, at most 50, at least 1)
 * and asks for the next while half of one is left, so a busy account
 * costs one round trip per batch, not per message. Tokens are kept until
 * used or until the day ends; what an instance holds and never uses is
 * lost for that day (at most a batch and a half per instance: the
 * customer moved its binds to another instance, or the instance
 * stopped). The cluster never grants more than the quota.
 */
enum thr_quota {
    THR_QUOTA_OK = 0,   /* taken */
    THR_QUOTA_NOT_NOW,  /* none held here yet: a lease is on its way (or
                         * Redis is not answering); see throttle_quota_wait */
    THR_QUOTA_REACHED,  /* today's quota is used up across the cluster */
};

/*
 * Take <n> tokens of <account>'s <quota> for today (UTC, this host's
 * clock; <quota> 0: none, always OK). As with throttle_take, the quota
 * given with each call is the one used from then on, so a raised quota
 * applies at the next message. <first> is set to 1 when this is the first
 * THR_QUOTA_REACHED for the account today on this instance (to log it
 * once), else 0.
 */
enum thr_quota throttle_quota_take(struct throttle *t, const char *account,
                                   unsigned quota, unsigned n, int *first);

/*
 * After THR_QUOTA_NOT_NOW: <cb>(<status>, <arg>) is called once the
 * batch on its way for <account> has been answered (status 0) or has
 * failed (-1; bounded by Redis's command timeout), first come first
 * called; take again then. So a submit need not be refused only because
 * the day, or the instance, has just begun. 0: it will be called; -1: no
 * batch is on its way (Redis is not answering) or too many wait already.
 */
typedef void (*throttle_ready_cb)(int status, void *arg);
int throttle_quota_wait(struct throttle *t, const char *account,
                        throttle_ready_cb cb, void *arg);

/* The UTC day of <unix_s> as "YYYYMMDD" into <day> (9 bytes with the
 * NUL), and the Unix time that day ends (the next 00:00 UTC). */
#define THROTTLE_DAY_LEN 9
int64_t throttle_quota_day(int64_t unix_s, char day[THROTTLE_DAY_LEN]);

/* The batch an instance leases for <quota> (above). */
unsigned throttle_quota_batch(unsigned quota);

#endif /* SMPPBRIDGE_THROTTLE_H */
