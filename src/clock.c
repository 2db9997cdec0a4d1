/*
 * clock.c - the loop's "now": one read of each clock per turn of the
 * event loop (see clock.h).
 *
 * libevent already reads the time once per turn, after it polls, and
 * keeps it while the callbacks of that turn run; that cached value
 * changes exactly when a new turn begins. It is not monotonic (libevent
 * adds an offset to the wall clock), so it is used only as the sign that
 * the turn changed: then our own clocks are read once and kept for the
 * rest of the turn. Outside the loop there is no cached time and every
 * call reads the clocks, as clock_mono_ms() would.
 */
#include "common.h"

#include <event2/event.h>

#include "clock.h"

static struct event_base *loop_base;
static struct timeval loop_seen;  /* libevent's time for loop_mono_ms */
static uint64_t loop_mono_ms, loop_wall_ms;

void clock_loop_attach(struct event_base *base)
{
    loop_base = base;
    loop_seen.tv_sec = 0;
    loop_seen.tv_usec = 0;
}

/* Read the clocks again unless this turn of the loop has read them. */
static void loop_refresh(void)
{
    struct timeval tv;
    if (!loop_base || event_base_gettimeofday_cached(loop_base, &tv) != 0) {
        loop_mono_ms = clock_mono_ms();
        loop_wall_ms = clock_wall_ms();
        return;
    }
    if (loop_mono_ms != 0 && tv.tv_sec == loop_seen.tv_sec &&
        tv.tv_usec == loop_seen.tv_usec)
        return;
    loop_seen = tv;
    loop_mono_ms = clock_mono_ms();
    loop_wall_ms = clock_wall_ms();
}

uint64_t clock_loop_ms(void)
{
    loop_refresh();
    return loop_mono_ms;
}

uint64_t clock_loop_wall_ms(void)
{
    loop_refresh();
    return loop_wall_ms;
}
