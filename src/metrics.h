/*
 * metrics.h - a small registry of counters, gauges and histograms with
 * labels, rendered in the Prometheus text exposition format 0.0.4.
 *
 * Pure data: libc only, no I/O, no clock, no event loop. The modules that
 * count (downstream, upstream, store) register their families in the
 * process's registry (metrics_default()) when they are made, keep the
 * family pointers, and add to them on their hot paths; the admin server
 * sets the gauges that are read at scrape time and renders the whole
 * registry for GET /metrics. Everything runs on the event loop thread:
 * no locking.
 *
 * A family is one metric name with its HELP text, TYPE and label names; a
 * child is one combination of label values. Children are found through a
 * hash of their values and rendered in the order they were first used.
 * Memory is bounded: a family holds at most METRICS_MAX_CHILDREN
 * children; what would make more is dropped and counted
 * (metrics_dropped()). Label values are copied.
 *
 * Every function taking a family accepts NULL and then does nothing, so a
 * module whose registration failed (out of memory) still runs.
 */
#ifndef SMPPBRIDGE_METRICS_H
#define SMPPBRIDGE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_BUCKETS 24
#define METRICS_MAX_CHILDREN 10000

enum metrics_type {
    METRICS_COUNTER = 0,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
};

struct metrics;
struct metrics_family;

/* Label values in the order of the family's label names, e.g.
 * metrics_add(f, 1, METRICS_LABELS(account, "ESME_ROK")). */
#define METRICS_LABELS(...) ((const char *const[]){__VA_ARGS__})

/* Latency buckets in seconds: 0.5 ms to 10 s. */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_nbuckets;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* The process's registry, made on first use (NULL only when out of
 * memory); metrics_default_free() drops it at exit. */
struct metrics *metrics_default(void);
void metrics_default_free(void);

/*
 * The family <name> of <m>, registered on first call with <type>, <help>
 * and <labels> (label names separated by commas, "" or NULL for none; at
 * most METRICS_MAX_LABELS). Asking again for a registered name returns
 * the same family when type and labels agree, NULL otherwise. Names and
 * label names must be valid Prometheus names ([a-zA-Z_:][a-zA-Z0-9_:]*,
 * labels without ':'); NULL when they are not.
 */
struct metrics_family *metrics_family(struct metrics *m, enum metrics_type type,
                                      const char *name, const char *help,
                                      const char *labels);
/* The same for a histogram with <n> upper bounds <bounds> (ascending,
 * finite; +Inf is implied), at most METRICS_MAX_BUCKETS. */
struct metrics_family *metrics_histogram(struct metrics *m, const char *name,
                                         const char *help, const char *labels,
                                         const double *bounds, size_t n);

/* Counters and gauges: add <v> (a counter only grows: negative <v> is
 * ignored for counters) or set it. <values> holds one string per label
 * (NULL when the family has none). */
void metrics_add(struct metrics_family *f, double v, const char *const *values);
void metrics_set(struct metrics_family *f, double v, const char *const *values);
/* Histograms: one observation of <v>. */
void metrics_observe(struct metrics_family *f, double v,
                     const char *const *values);
/*
 * Handles, for hot paths: the child of <values> resolved once (made when
 * new), so that each later update costs no hashing of label strings.
 * NULL when <f> is NULL, full or out of memory; the updates below accept
 * NULL and do nothing. A handle lives as long as its family unless
 * metrics_reset() drops the family's children: never keep one of a
 * family that is reset.
 */
struct metrics_child;
struct metrics_child *metrics_child(struct metrics_family *f,
                                    const char *const *values);
void metrics_child_add(struct metrics_child *c, double v);
void metrics_child_observe(struct metrics_child *c, double v);

/* Drop every child (gauges whose label sets are rebuilt at each scrape). */
void metrics_reset(struct metrics_family *f);

/* The current value of a counter or gauge child (0 when it does not
 * exist), and a histogram child's count (tests, /sessions). */
double metrics_value(const struct metrics_family *f, const char *const *values);
uint64_t metrics_count(const struct metrics_family *f, const char *const *values);

/* Updates lost to METRICS_MAX_CHILDREN. */
uint64_t metrics_dropped(const struct metrics *m);

/*
 * The whole registry as Prometheus text (format 0.0.4): for each family
 * "# HELP", "# TYPE" and its samples; histograms as cumulative _bucket
 * lines with le="..." ending in le="+Inf", then _sum and _count. A family
 * without labels and never updated is rendered as 0. Label values are
 * escaped (backslash, double quote, newline), HELP text too (backslash,
 * newline). Returns a malloc'd NUL-terminated string (length in <len> if
 * not NULL) that the caller frees, or NULL when out of memory.
 */
char *metrics_render(const struct metrics *m, size_t *len);

#endif /* SMPPBRIDGE_METRICS_H */
