/*
 * hist.c - log-linear latency histogram (see hist.h).
 *
 * Bucket layout, with S = HIST_SUB = 2048 and H = S / 2:
 *
 *   index 0 .. S-1          value == index            (width 1)
 *   index S + (k-1)*H + j   value in [(H+j) << k,      (width 2^k)
 *                                     (H+j+1) << k)    for k = 1, 2, ...
 *
 * so a value v >= S with its top bit at position b goes to k = b - 10:
 * v >> k is in [H, S), which keeps 11 significant bits (error < 1/1024).
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "hist.h"

struct hist *hist_new(void)
{
    struct hist *h = malloc(sizeof *h);
    if (h)
        hist_reset(h);
    return h;
}

void hist_free(struct hist *h)
{
    free(h);
}

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static unsigned top_bit(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v); /* v != 0 here */
}

size_t hist_bucket_of(uint64_t value)
{
    if (value > HIST_LIMIT)
        value = HIST_LIMIT;
    if (value < HIST_SUB)
        return (size_t)value;
    unsigned k = top_bit(value) - (HIST_SUB_BITS - 1u);
    uint64_t sub = value >> k; /* in [H, S) */
    return HIST_SUB + (size_t)(k - 1u) * HIST_HALF + (size_t)(sub - HIST_HALF);
}

uint64_t hist_bucket_low(size_t idx)
{
    if (idx < HIST_SUB)
        return idx;
    size_t rel = idx - HIST_SUB;
    unsigned k = (unsigned)(rel / HIST_HALF) + 1u;
    uint64_t sub = HIST_HALF + rel % HIST_HALF;
    return sub << k;
}

uint64_t hist_bucket_high(size_t idx)
{
    if (idx < HIST_SUB)
        return idx;
    unsigned k = (unsigned)((idx - HIST_SUB) / HIST_HALF) + 1u;
    return hist_bucket_low(idx) + ((UINT64_C(1) << k) - 1u);
}

void hist_record(struct hist *h, uint64_t value)
{
    h->buckets[hist_bucket_of(value)]++;
    h->count++;
    h->sum += value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    if (value > HIST_LIMIT)
        h->overflow++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    dst->overflow += src->overflow;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

/* Clamp a bucket's value into what was really recorded: the top bucket's
 * high end is not a value anyone saw, nor is the first bucket's low end. */
static uint64_t clamp_seen(const struct hist *h, uint64_t v)
{
    if (v > h->max)
        return h->max;
    if (v < h->min)
        return h->min;
    return v;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0.0)
        return h->min;
    if (p >= 100.0)
        return h->max;
    /* Rank of the value wanted, 1-based: ceil(p% of count), at least 1.
     * Computed in double: exact for counts up to 2^53. */
    double want = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen < rank)
            continue;
        /* The top bucket also holds what overflowed: only max bounds it. */
        if (i == HIST_BUCKETS - 1 && h->overflow)
            return h->max;
        return clamp_seen(h, hist_bucket_high(i));
    }
    return h->max;
}

uint64_t hist_count(const struct hist *h)
{
    return h->count;
}

uint64_t hist_max(const struct hist *h)
{
    return h->count ? h->max : 0;
}

uint64_t hist_min(const struct hist *h)
{
    return h->count ? h->min : 0;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
