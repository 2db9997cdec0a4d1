/* test_route.c - longest-prefix routing of inbound destination numbers. */
#include "common.h"

#include <criterion/criterion.h>
#include <string.h>

#include "route.h"

static const char *look(const struct route_table *t, const char *n)
{
    return route_lookup(t, n, strlen(n));
}

Test(route, longest_prefix_wins)
{
    struct route_table *t = route_table_new();
    const char *p[] = {"34", "+34600", "346", "4412345"};
    const char *a[] = {"spain", "shortcode", "mobile", "uk"};
    cr_assert_eq(route_table_set(t, p, a, 4), 0);
    cr_assert_str_eq(look(t, "34600123456"), "shortcode");
    cr_assert_str_eq(look(t, "+34600123456"), "shortcode");
    cr_assert_str_eq(look(t, "34611111111"), "mobile");
    cr_assert_str_eq(look(t, "34911111111"), "spain");
    cr_assert_str_eq(look(t, "4412345"), "uk");
    cr_assert_null(look(t, "441234"), "shorter than every matching prefix");
    cr_assert_null(look(t, "1555"));
    cr_assert_null(look(t, ""));
    cr_assert_eq(route_table_size(t), 4);
    route_table_free(t);
}

Test(route, invalid_entries_leave_the_table_alone)
{
    struct route_table *t = route_table_new();
    const char *p[] = {"34"}, *a[] = {"spain"};
    cr_assert_eq(route_table_set(t, p, a, 1), 0);
    const char *bad[] = {"34a"}, *bada[] = {"x"};
    cr_assert_eq(route_table_set(t, bad, bada, 1), -1);
    cr_assert_str_eq(look(t, "3400"), "spain");
    cr_assert(!route_prefix_valid(""));
    cr_assert(!route_prefix_valid("+"));
    cr_assert(!route_prefix_valid("123456789012345678901"));
    cr_assert(route_prefix_valid("+12345678901234567890"));
    cr_assert_eq(route_table_set(t, NULL, NULL, 0), 0, "empty table");
    cr_assert_null(look(t, "3400"));
    route_table_free(t);
}
