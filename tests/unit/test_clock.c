/*
 * test_clock.c - clock.h helpers.
 */
#include <criterion/criterion.h>

#include <event2/event.h>
#include <time.h>

#include "clock.h"

/* Regression: the receipt lookup retry built {0, 100000 << n}, a tv_usec
 * of 1,600,000 for the fifth attempt, which libevent refuses. */
Test(clock, tv_ms_normalises_microseconds)
{
    const uint64_t ms[] = {0, 1, 999, 1000, 1600, 3200, 86400001};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        struct timeval tv = clock_tv_ms(ms[i]);
        cr_assert_lt(tv.tv_usec, 1000000, "%llu ms", (unsigned long long)ms[i]);
        cr_assert_geq(tv.tv_usec, 0);
        cr_assert_eq((uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u,
                     ms[i]);
    }
    struct timeval tv = clock_tv_ms(1600);
    cr_assert_eq(tv.tv_sec, 1);
    cr_assert_eq(tv.tv_usec, 600000);
}

/* The loop's clock is read once per turn: equal within one callback,
 * moving on in the next turn; with no loop attached, each call reads. */
static uint64_t turn_ms[2];
static int turns;

static void on_turn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    uint64_t first = clock_loop_ms();
    struct timespec pause = {0, 3000000}; /* 3 ms inside one turn */
    nanosleep(&pause, NULL);
    cr_assert_eq(clock_loop_ms(), first, "one turn, one reading");
    cr_assert_leq(first, clock_mono_ms());
    turn_ms[turns++] = first;
}

Test(clock, loop_clock_is_read_once_per_turn)
{
    struct event_base *base = event_base_new();
    cr_assert_not_null(base);
    clock_loop_attach(base);
    struct timeval tv = {0, 1000};
    event_base_once(base, -1, EV_TIMEOUT, on_turn, NULL, &tv);
    event_base_dispatch(base);
    event_base_once(base, -1, EV_TIMEOUT, on_turn, NULL, &tv);
    event_base_dispatch(base);
    cr_assert_eq(turns, 2);
    cr_assert_gt(turn_ms[1], turn_ms[0], "a later turn reads again");
    clock_loop_attach(NULL);
    event_base_free(base);
    uint64_t a = clock_loop_ms();
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    cr_assert_gt(clock_loop_ms(), a);
}
