/*
 * test_throttle.c - the pure parts of daily quotas: which UTC day a time
 * belongs to (the Redis key's suffix), when that day ends (the key's
 * expiry is computed from it), and the batch an instance leases.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "throttle.h"

Test(quota_day, epoch)
{
    char day[THROTTLE_DAY_LEN];
    cr_assert_eq(throttle_quota_day(0, day), 86400);
    cr_assert_str_eq(day, "19700101");
}

Test(quota_day, edges_of_one_day)
{
    char day[THROTTLE_DAY_LEN];
    /* 2025-11-26 00:00:00 UTC is 1764115200 */
    const int64_t start = INT64_C(1764115200), end = start + 86400;
    cr_assert_eq(throttle_quota_day(start, day), end);
    cr_assert_str_eq(day, "20251126");
    cr_assert_eq(throttle_quota_day(start + 1, day), end);
    cr_assert_eq(throttle_quota_day(end - 1, day), end, "23:59:59 is still today");
    cr_assert_str_eq(day, "20251126");
    cr_assert_eq(throttle_quota_day(end, day), end + 86400, "midnight is tomorrow");
    cr_assert_str_eq(day, "20251127");
    cr_assert_eq(throttle_quota_day(start - 1, day), start);
    cr_assert_str_eq(day, "20251125");
}

Test(quota_day, month_year_and_leap_day)
{
    char day[THROTTLE_DAY_LEN];
    /* 2024-02-29 12:00:00 UTC */
    throttle_quota_day(INT64_C(1709208000), day);
    cr_assert_str_eq(day, "20240229");
    /* 2024-12-31 23:59:59 and 2025-01-01 00:00:00 UTC */
    cr_assert_eq(throttle_quota_day(INT64_C(1735689599), day),
                 INT64_C(1735689600));
    cr_assert_str_eq(day, "20241231");
    throttle_quota_day(INT64_C(1735689600), day);
    cr_assert_str_eq(day, "20250101");
    /* past 2038 */
    throttle_quota_day(INT64_C(4102444800), day);
    cr_assert_str_eq(day, "21000101");
}

Test(quota_day, every_day_ends_at_the_next_midnight)
{
    char day[THROTTLE_DAY_LEN], next[THROTTLE_DAY_LEN];
    for (int64_t t = INT64_C(1700000000); t < INT64_C(1700000000) + 400 * 86400;
         t += 86400 / 3 + 7) {
        int64_t end = throttle_quota_day(t, day);
        cr_assert_gt(end, t);
        cr_assert_leq(end - t, 86400);
        cr_assert_eq(end % 86400, 0);
        cr_assert_eq(strlen(day), 8);
        throttle_quota_day(end - 1, next);
        cr_assert_str_eq(next, day, "the day holds up to its last second");
        throttle_quota_day(end, next);
        cr_assert_gt(strcmp(next, day), 0, "the next day sorts later");
    }
}

Test(quota_batch, small_and_bounded)
{
    cr_assert_eq(throttle_quota_batch(1), 1);
    cr_assert_eq(throttle_quota_batch(99), 1);
    cr_assert_eq(throttle_quota_batch(199), 1);
    cr_assert_eq(throttle_quota_batch(300), 3);
    cr_assert_eq(throttle_quota_batch(5000), 50);
    cr_assert_eq(throttle_quota_batch(5099), 50);
    cr_assert_eq(throttle_quota_batch(100000000), 50);
    for (unsigned q = 1; q < 20000; q += 37)
        cr_assert_leq(throttle_quota_batch(q), q / 100 > 0 ? q / 100 : 1);
}
