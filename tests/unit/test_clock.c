/*
 * test_clock.c - clock.h helpers.
 */
#include <criterion/criterion.h>

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
