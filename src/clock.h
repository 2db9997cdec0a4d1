/*
 * clock.h - the two clocks the bridge reads, in milliseconds.
 *
 * libc only (clock_loop_*() aside: clock.c asks libevent's loop).
 * clock_mono_ms() for deadlines and rates (never jumps;
 * clock_mono_us() for latencies);
 * clock_wall_ms() for what is shown to people or stored (message ids,
 * submit times).
 */
#ifndef SMPPBRIDGE_CLOCK_H
#define SMPPBRIDGE_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static inline uint64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Microseconds on the monotonic clock: latencies for metrics. */
static inline uint64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t clock_wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/*
 * The same clocks read once per turn of the event loop (clock.c): for
 * deadlines, idle times and timestamps on the hot path, where what the
 * callbacks of one turn do may as well happen at one instant. Never for
 * a latency: that is clock_mono_us(). Attach the loop's base first (no
 * base: each call reads the clock).
 */
struct event_base;
void clock_loop_attach(struct event_base *base);
uint64_t clock_loop_ms(void);      /* monotonic, like clock_mono_ms() */
uint64_t clock_loop_wall_ms(void); /* like clock_wall_ms() */

/* <ms> milliseconds as a timeval for a libevent timer: tv_usec always
 * below one second (libevent does not normalise what it is given). */
static inline struct timeval clock_tv_ms(uint64_t ms)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000u);
    tv.tv_usec = (suseconds_t)(ms % 1000u) * 1000;
    return tv;
}

#endif /* SMPPBRIDGE_CLOCK_H */
