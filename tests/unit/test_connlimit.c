/*
 * test_connlimit.c - connection counts and accept rates per address.
 */
#include <criterion/criterion.h>

#include "connlimit.h"

static struct connlimit *limits(unsigned total, unsigned per, unsigned rate,
                                unsigned burst)
{
    struct connlimit_config c = {.max_total = total, .max_per_address = per,
                                 .rate_per_s = rate, .burst = burst};
    struct connlimit *cl = connlimit_new(&c);
    cr_assert_not_null(cl);
    return cl;
}

Test(connlimit, per_address_cap_leaves_other_addresses_alone)
{
    struct connlimit *cl = limits(100, 3, 1000, 1000);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(connlimit_admit(cl, "10.0.0.1", 0), CONNLIMIT_OK);
    cr_assert_eq(connlimit_admit(cl, "10.0.0.1", 0), CONNLIMIT_PER_ADDRESS);
    cr_assert_eq(connlimit_admit(cl, "10.0.0.2", 0), CONNLIMIT_OK);
    cr_assert_eq(connlimit_of(cl, "10.0.0.1"), 3);
    connlimit_release(cl, "10.0.0.1");
    cr_assert_eq(connlimit_admit(cl, "10.0.0.1", 0), CONNLIMIT_OK);
    cr_assert_eq(connlimit_total(cl), 4);
    connlimit_free(cl);
}

Test(connlimit, global_cap)
{
    struct connlimit *cl = limits(2, 10, 1000, 1000);
    cr_assert_eq(connlimit_admit(cl, "a", 0), CONNLIMIT_OK);
    cr_assert_eq(connlimit_admit(cl, "b", 0), CONNLIMIT_OK);
    cr_assert_eq(connlimit_admit(cl, "c", 0), CONNLIMIT_GLOBAL);
    connlimit_release(cl, "a");
    cr_assert_eq(connlimit_admit(cl, "c", 0), CONNLIMIT_OK);
    connlimit_release(cl, "nobody"); /* unknown: no effect */
    cr_assert_eq(connlimit_total(cl), 2);
    connlimit_free(cl);
}

/* Closing and reopening does not reset the rate; time does. */
Test(connlimit, rate_survives_close_and_refills_with_time)
{
    struct connlimit *cl = limits(100, 100, 2, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(connlimit_admit(cl, "x", 10), CONNLIMIT_OK);
        connlimit_release(cl, "x");
    }
    cr_assert_eq(connlimit_admit(cl, "x", 10), CONNLIMIT_RATE);
    cr_assert_eq(connlimit_admit(cl, "x", 2000), CONNLIMIT_OK); /* swept? no: refilling */
    cr_assert_eq(connlimit_admit(cl, "y", 2000), CONNLIMIT_OK);
    /* after a long quiet time the entry is forgotten and starts full */
    connlimit_release(cl, "x");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(connlimit_admit(cl, "x", 100000), CONNLIMIT_OK);
    connlimit_free(cl);
}

Test(connlimit, verdict_names)
{
    cr_assert_str_eq(connlimit_verdict_name(CONNLIMIT_GLOBAL), "global");
    cr_assert_str_eq(connlimit_verdict_name(CONNLIMIT_PER_ADDRESS), "per_address");
    cr_assert_str_eq(connlimit_verdict_name(CONNLIMIT_RATE), "rate");
}
