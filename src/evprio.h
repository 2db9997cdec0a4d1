/*
 * evprio.h - the event loop's priorities: which work runs first when
 * several kinds are ready in the same turn of the loop.
 *
 * libevent runs, in each pass, only the active events of the most urgent
 * priority that has any; less urgent ones wait for a pass where the more
 * urgent queues are empty. main.c sets up EVPRIO_COUNT priorities; an
 * event nobody places (timers, listeners) takes the middle one,
 * EVPRIO_DEFAULT.
 *
 * Upstream sessions come first: their submit_sm_resps and receipts are
 * what finishes messages, and the Redis commands they issue then go out
 * ahead of the new submits read in the same pass. Redis's socket comes
 * first too (redis_conn.c): its replies are what every acknowledgement
 * waits for, and its write event is what sends the pending transaction. Customers' sessions
 * come last: reading more submits is the work that can wait. It cannot
 * wait for ever: what upstream and Redis have to do is bounded by what
 * is in flight (upstream windows, commands sent), so their queues empty
 * and the customers' turn comes.
 */
#ifndef SMPPBRIDGE_EVPRIO_H
#define SMPPBRIDGE_EVPRIO_H

enum evprio {
    EVPRIO_UPSTREAM = 0,
    EVPRIO_REDIS = 0,
    EVPRIO_DEFAULT = 1,
    EVPRIO_CUSTOMER = 2,
    EVPRIO_COUNT = 3,
};

#endif
