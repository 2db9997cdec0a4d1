/*
 * test_hist.c - the log-linear latency histogram: bucket layout, exact
 * small values, percentiles of 200,000 random values against the exact
 * sorted answer (within 1/1024), merge, overflow.
 */
#define _DEFAULT_SOURCE /* random() */
#include "common.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#define CHECK(c, ...) cr_expect(c, __VA_ARGS__)

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rnd(void)
{
    return ((uint64_t)random() << 31) ^ (uint64_t)random();
}

Test(hist, layout_percentiles_merge_overflow)
{
    srandom(42);
    /* bucket continuity */
    for (size_t i = 0; i + 1 < HIST_BUCKETS; i++) {
        CHECK(hist_bucket_of(hist_bucket_low(i)) == i, "low %zu", i);
        CHECK(hist_bucket_of(hist_bucket_high(i)) == i, "high %zu", i);
        CHECK(hist_bucket_high(i) + 1 == hist_bucket_low(i + 1), "cont %zu", i);
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        CHECK((double)(hi - lo) <= (double)lo / 1024.0 + 1e-9 || lo < HIST_SUB, "width %zu", i);
    }
    CHECK(hist_bucket_high(HIST_BUCKETS - 1) == HIST_LIMIT, "top %llu", (unsigned long long)hist_bucket_high(HIST_BUCKETS-1));
    CHECK(hist_bucket_of(UINT64_MAX) == HIST_BUCKETS - 1, "clamp");
    /* empty */
    struct hist *h = hist_new(), *a = hist_new(), *b = hist_new();
    CHECK(hist_percentile(h, 50) == 0 && hist_max(h) == 0 && hist_min(h) == 0 && hist_count(h) == 0, "empty");
    /* exact small values */
    for (uint64_t v = 1; v <= 100; v++) hist_record(h, v);
    CHECK(hist_percentile(h, 50) == 50, "p50 %llu", (unsigned long long)hist_percentile(h, 50));
    CHECK(hist_percentile(h, 99) == 99, "p99");
    CHECK(hist_percentile(h, 99.9) == 100, "p999");
    CHECK(hist_percentile(h, 100) == 100 && hist_percentile(h, 0) == 1, "ends");
    CHECK(fabs(hist_mean(h) - 50.5) < 1e-9, "mean");
    /* random log-uniform vs exact sorted */
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof *v);
    hist_reset(h);
    for (size_t i = 0; i < n; i++) {
        double e = (double)(random() % 1000000) / 1000000.0 * 25.0; /* up to 2^25 us ~ 33 s */
        v[i] = (uint64_t)pow(2.0, e) + rnd() % 3;
        hist_record(h, v[i]);
        hist_record(i % 2 ? a : b, v[i]);
    }
    qsort(v, n, sizeof *v, cmp);
    double ps[] = {1, 10, 50, 90, 99, 99.9, 99.99};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        double want = ps[k] / 100.0 * (double)n;
        size_t rank = (size_t)ceil(want);
        uint64_t exact = v[rank - 1];
        uint64_t got = hist_percentile(h, ps[k]);
        double rel = fabs((double)got - (double)exact) / (double)exact;
        CHECK(got >= exact && rel <= 1.0 / 1024.0 + 1e-12, "p%g exact %llu got %llu rel %g", ps[k], (unsigned long long)exact, (unsigned long long)got, rel);
    }
    CHECK(hist_max(h) == v[n - 1] && hist_min(h) == v[0], "minmax");
    /* merge equals direct */
    struct hist *m = hist_new();
    hist_merge(m, a); hist_merge(m, b);
    CHECK(memcmp(m->buckets, h->buckets, sizeof h->buckets) == 0 && m->count == h->count && m->max == h->max && m->min == h->min && m->sum == h->sum, "merge");
    /* overflow */
    hist_reset(h); hist_record(h, 100000000ull); hist_record(h, 5);
    CHECK(h->overflow == 1 && hist_max(h) == 100000000ull && hist_percentile(h, 100) == 100000000ull, "overflow");
    CHECK(hist_percentile(h, 99) == 100000000ull, "overflow p99 %llu", (unsigned long long)hist_percentile(h, 99));
    free(v);
    hist_free(h);
    hist_free(a);
    hist_free(b);
    hist_free(m);
}
