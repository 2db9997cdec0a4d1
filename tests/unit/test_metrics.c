/*
 * test_metrics.c - the metrics registry and its Prometheus text: HELP and
 * TYPE lines, label escaping, histogram _bucket/_sum/_count with +Inf,
 * registration rules, the bound on children.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static struct metrics *m;
static char *text;

static void setup(void)
{
    m = metrics_new();
    cr_assert_not_null(m);
    text = NULL;
}

static void teardown(void)
{
    free(text);
    metrics_free(m);
}

static const char *render(void)
{
    free(text);
    text = metrics_render(m, NULL);
    cr_assert_not_null(text);
    return text;
}

TestSuite(metrics, .init = setup, .fini = teardown);

Test(metrics, counter_without_labels_is_zero_before_first_update)
{
    cr_assert_not_null(metrics_family(m, METRICS_COUNTER, "x_total", "Things.", NULL));
    cr_assert_str_eq(render(), "# HELP x_total Things.\n"
                               "# TYPE x_total counter\n"
                               "x_total 0\n");
}

Test(metrics, counter_with_labels_in_first_use_order)
{
    struct metrics_family *f =
        metrics_family(m, METRICS_COUNTER, "sub_total", "Submits.", "account,status");
    metrics_add(f, 1, METRICS_LABELS("acme", "ESME_ROK"));
    metrics_add(f, 2, METRICS_LABELS("beta", "ESME_RTHROTTLED"));
    metrics_add(f, 1, METRICS_LABELS("acme", "ESME_ROK"));
    metrics_add(f, -5, METRICS_LABELS("acme", "ESME_ROK")); /* counters only grow */
    cr_assert_str_eq(render(),
                     "# HELP sub_total Submits.\n"
                     "# TYPE sub_total counter\n"
                     "sub_total{account=\"acme\",status=\"ESME_ROK\"} 2\n"
                     "sub_total{account=\"beta\",status=\"ESME_RTHROTTLED\"} 2\n");
    cr_assert_eq(metrics_value(f, METRICS_LABELS("acme", "ESME_ROK")), 2);
    cr_assert_eq(metrics_value(f, METRICS_LABELS("none", "ESME_ROK")), 0);
}

Test(metrics, label_values_and_help_are_escaped)
{
    struct metrics_family *f = metrics_family(
        m, METRICS_GAUGE, "g", "Back\\slash \"quoted\"\nsecond line.", "v");
    metrics_set(f, 1.5, METRICS_LABELS("a\"b\\c\nd"));
    cr_assert_str_eq(render(),
                     "# HELP g Back\\\\slash \"quoted\"\\nsecond line.\n"
                     "# TYPE g gauge\n"
                     "g{v=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

Test(metrics, gauge_set_and_reset)
{
    struct metrics_family *f = metrics_family(m, METRICS_GAUGE, "binds", "B.", "account");
    metrics_set(f, 3, METRICS_LABELS("a"));
    metrics_set(f, 1, METRICS_LABELS("a"));
    metrics_add(f, -2, METRICS_LABELS("a")); /* gauges go down */
    cr_assert_eq(metrics_value(f, METRICS_LABELS("a")), -1);
    metrics_reset(f);
    cr_assert_str_eq(render(), "# HELP binds B.\n# TYPE binds gauge\n");
}

Test(metrics, histogram_buckets_sum_count_and_inf)
{
    static const double bounds[] = {0.1, 1, 2.5};
    struct metrics_family *f =
        metrics_histogram(m, "lat_seconds", "Latency.", "c", bounds, 3);
    cr_assert_not_null(f);
    metrics_observe(f, 0.05, METRICS_LABELS("up"));
    metrics_observe(f, 0.1, METRICS_LABELS("up")); /* le is inclusive */
    metrics_observe(f, 2, METRICS_LABELS("up"));
    metrics_observe(f, 30, METRICS_LABELS("up")); /* only in +Inf */
    cr_assert_str_eq(render(),
                     "# HELP lat_seconds Latency.\n"
                     "# TYPE lat_seconds histogram\n"
                     "lat_seconds_bucket{c=\"up\",le=\"0.1\"} 2\n"
                     "lat_seconds_bucket{c=\"up\",le=\"1\"} 2\n"
                     "lat_seconds_bucket{c=\"up\",le=\"2.5\"} 3\n"
                     "lat_seconds_bucket{c=\"up\",le=\"+Inf\"} 4\n"
                     "lat_seconds_sum{c=\"up\"} 32.149999999999999\n"
                     "lat_seconds_count{c=\"up\"} 4\n");
    cr_assert_eq(metrics_count(f, METRICS_LABELS("up")), 4);
}

Test(metrics, histogram_without_labels_renders_empty_buckets)
{
    struct metrics_family *f =
        metrics_family(m, METRICS_HISTOGRAM, "h_seconds", "H.", NULL);
    cr_assert_not_null(f);
    const char *t = render();
    cr_assert_not_null(strstr(t, "h_seconds_bucket{le=\"0.0005\"} 0\n"));
    cr_assert_not_null(strstr(t, "h_seconds_bucket{le=\"10\"} 0\n"));
    cr_assert_not_null(strstr(t, "h_seconds_bucket{le=\"+Inf\"} 0\n"));
    cr_assert_not_null(strstr(t, "h_seconds_sum 0\nh_seconds_count 0\n"));
    metrics_observe(f, 0.003, NULL);
    t = render();
    cr_assert_not_null(strstr(t, "h_seconds_bucket{le=\"0.0025\"} 0\n"));
    cr_assert_not_null(strstr(t, "h_seconds_bucket{le=\"0.005\"} 1\n"));
    cr_assert_not_null(strstr(t, "h_seconds_count 1\n"));
}

Test(metrics, special_values)
{
    struct metrics_family *f = metrics_family(m, METRICS_GAUGE, "v", "V.", "k");
    metrics_set(f, 1.0 / 0.0, METRICS_LABELS("inf"));
    metrics_set(f, -1.0 / 0.0, METRICS_LABELS("ninf"));
    metrics_set(f, 0.0 / 0.0, METRICS_LABELS("nan"));
    metrics_set(f, 1e20, METRICS_LABELS("big"));
    const char *t = render();
    cr_assert_not_null(strstr(t, "v{k=\"inf\"} +Inf\n"));
    cr_assert_not_null(strstr(t, "v{k=\"ninf\"} -Inf\n"));
    cr_assert_not_null(strstr(t, "v{k=\"nan\"} NaN\n"));
    cr_assert_not_null(strstr(t, "v{k=\"big\"} 1e+20\n"));
}

Test(metrics, registration_is_idempotent_and_checked)
{
    struct metrics_family *a = metrics_family(m, METRICS_COUNTER, "a_total", "A.", "x,y");
    cr_assert_not_null(a);
    cr_assert_eq(metrics_family(m, METRICS_COUNTER, "a_total", "other", "x,y"), a);
    cr_assert_null(metrics_family(m, METRICS_GAUGE, "a_total", "A.", "x,y"));
    cr_assert_null(metrics_family(m, METRICS_COUNTER, "a_total", "A.", "x"));
    cr_assert_null(metrics_family(m, METRICS_COUNTER, "9bad", "", NULL));
    cr_assert_null(metrics_family(m, METRICS_COUNTER, "bad-name", "", NULL));
    cr_assert_null(metrics_family(m, METRICS_COUNTER, "ok", "", "bad:label"));
    cr_assert_null(metrics_family(m, METRICS_HISTOGRAM, "h", "", "le"));
    static const double unsorted[] = {1, 0.5};
    cr_assert_null(metrics_histogram(m, "h2", "", NULL, unsorted, 2));
    /* NULL families are no-ops */
    metrics_add(NULL, 1, NULL);
    metrics_observe(NULL, 1, NULL);
    metrics_reset(NULL);
}

Test(metrics, missing_label_value_is_ignored)
{
    struct metrics_family *f = metrics_family(m, METRICS_COUNTER, "c_total", "C.", "a");
    metrics_add(f, 1, NULL);
    metrics_add(f, 1, METRICS_LABELS(NULL));
    cr_assert_str_eq(render(), "# HELP c_total C.\n# TYPE c_total counter\n");
}

Test(metrics, children_are_bounded)
{
    struct metrics_family *f = metrics_family(m, METRICS_COUNTER, "many_total", "M.", "id");
    char id[16];
    for (int i = 0; i < METRICS_MAX_CHILDREN + 10; i++) {
        snprintf(id, sizeof id, "%d", i);
        metrics_add(f, 1, METRICS_LABELS(id));
    }
    cr_assert_eq(metrics_dropped(m), 10);
    cr_assert_eq(metrics_value(f, METRICS_LABELS("0")), 1);
    cr_assert_eq(metrics_value(f, METRICS_LABELS("10005")), 0);
}

Test(metrics, default_registry_is_shared)
{
    struct metrics *d = metrics_default();
    cr_assert_not_null(d);
    cr_assert_eq(metrics_default(), d);
    metrics_default_free();
}

Test(metrics, handle_updates_the_same_child_as_labels)
{
    struct metrics_family *f =
        metrics_family(m, METRICS_COUNTER, "sub_total", "Submits.", "account,status");
    struct metrics_child *ok = metrics_child(f, METRICS_LABELS("acme", "ESME_ROK"));
    cr_assert_not_null(ok);
    cr_assert_eq(metrics_child(f, METRICS_LABELS("acme", "ESME_ROK")), ok);
    metrics_child_add(ok, 2);
    metrics_child_add(ok, -1); /* counters only grow, through a handle too */
    metrics_add(f, 1, METRICS_LABELS("acme", "ESME_ROK"));
    cr_assert_eq(metrics_value(f, METRICS_LABELS("acme", "ESME_ROK")), 3);
    metrics_child_observe(ok, 1); /* not a histogram: ignored */
    cr_assert_eq(metrics_count(f, METRICS_LABELS("acme", "ESME_ROK")), 0);
    metrics_child_add(NULL, 1);   /* a failed resolution is harmless */
    cr_assert_null(metrics_child(NULL, METRICS_LABELS("acme", "ESME_ROK")));
}

Test(metrics, handle_observes_a_histogram)
{
    static const double bounds[] = {0.1, 1};
    struct metrics_family *f = metrics_histogram(m, "lat_seconds", "L.", "c", bounds, 2);
    struct metrics_child *up = metrics_child(f, METRICS_LABELS("up"));
    metrics_child_observe(up, 0.05);
    metrics_child_observe(up, 5);
    metrics_child_add(up, 1); /* a histogram takes observations only */
    cr_assert_eq(metrics_count(f, METRICS_LABELS("up")), 2);
    cr_assert_eq(metrics_value(f, METRICS_LABELS("up")), 5.05);
}
