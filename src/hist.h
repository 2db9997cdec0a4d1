/*
 * hist.h - log-linear latency histogram (load tools, bridge metrics).
 *
 * Pure: libc only, no I/O, no clock. Values are unsigned integers in the
 * caller's unit (the load tools use microseconds).
 *
 * Log-linear buckets in the manner of HdrHistogram: every value below
 * HIST_SUB (2048) has a bucket of its own (1 us resolution up to ~2 ms);
 * above that each power of two is cut into HIST_SUB / 2 equal buckets, so
 * a bucket is never wider than 1/1024 of its values: three significant
 * digits. The largest value bucketed is HIST_LIMIT (~67 s in us); larger
 * values land in the top bucket and are counted in <overflow>, while
 * hist_max() still reports them exactly.
 *
 * A struct hist is about 140 KB: allocate it (hist_new) rather than put it
 * on the stack.
 */
#ifndef SMPPBRIDGE_HIST_H
#define SMPPBRIDGE_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 11u
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_HALF (HIST_SUB / 2u)
#define HIST_TOP_BIT 26u /* values below 2^26 are bucketed exactly */
#define HIST_LIMIT ((UINT64_C(1) << HIST_TOP_BIT) - 1u)
#define HIST_BUCKETS (HIST_SUB + (HIST_TOP_BIT - HIST_SUB_BITS) * HIST_HALF)

struct hist {
    uint64_t count;
    uint64_t sum;      /* for the mean; wraps only past 584,000 years of us */
    uint64_t min;      /* UINT64_MAX while empty */
    uint64_t max;
    uint64_t overflow; /* values above HIST_LIMIT */
    uint64_t buckets[HIST_BUCKETS];
};

/* A zeroed histogram from calloc, or NULL. hist_free(NULL) is a no-op. */
struct hist *hist_new(void);
void hist_free(struct hist *h);

/* Empty <h> again. */
void hist_reset(struct hist *h);

/* Count one <value>. */
void hist_record(struct hist *h, uint64_t value);

/* Add every count of <src> to <dst>. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * The value at percentile <p> (0..100): the smallest recorded bucket such
 * that at least p% of the values are at or below it, reported as the
 * highest value that bucket holds, but never above hist_max() nor below
 * hist_min(). 0 for an empty histogram. p <= 0 gives the min, p >= 100 the
 * max.
 */
uint64_t hist_percentile(const struct hist *h, double p);

uint64_t hist_count(const struct hist *h);
uint64_t hist_max(const struct hist *h);  /* 0 when empty */
uint64_t hist_min(const struct hist *h);  /* 0 when empty */
double hist_mean(const struct hist *h);   /* 0 when empty */

/* Bucket arithmetic, exposed for tests: the bucket <value> falls in, and
 * the lowest and highest values of bucket <idx>. */
size_t hist_bucket_of(uint64_t value);
uint64_t hist_bucket_low(size_t idx);
uint64_t hist_bucket_high(size_t idx);

#endif /* SMPPBRIDGE_HIST_H */
