/*
 * metrics.c - counters, gauges and histograms with labels; Prometheus
 * text rendering (see metrics.h).
 */
#include "common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define CHILD_BUCKETS 64
#define FAMILY_MAX 256

const double metrics_latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.025,  0.05,  0.1,    0.25,  0.5,
                                          1,      2.5,   5,      10};
const size_t metrics_latency_nbuckets = ARRAY_LEN(metrics_latency_buckets);

struct metrics_child {
    struct metrics_family *f;         /* its family (handles reach it) */
    char *values[METRICS_MAX_LABELS]; /* one allocation: values[0] owns it */
    double value;                     /* counter, gauge; histogram: sum */
    uint64_t count;                   /* histogram */
    uint64_t *buckets;                /* histogram: per bucket, not cumulative */
    struct metrics_child *hnext;      /* in its hash bucket */
    struct metrics_child *next;       /* in first-use order */
};

struct metrics_family {
    struct metrics *m;
    enum metrics_type type;
    char *name, *help;
    char *labels[METRICS_MAX_LABELS];
    size_t n_labels;
    double bounds[METRICS_MAX_BUCKETS];
    size_t n_bounds;
    struct metrics_child *hash[CHILD_BUCKETS];
    struct metrics_child *first, *last;
    size_t n_children;
};

struct metrics {
    struct metrics_family *families[FAMILY_MAX];
    size_t n_families;
    uint64_t dropped;
};

static struct metrics *default_registry;

/* ---- registry ------------------------------------------------------- */

struct metrics *metrics_new(void)
{
    return calloc(1, sizeof(struct metrics));
}

static void child_free(struct metrics_child *c)
{
    free(c->values[0]);
    free(c->buckets);
    free(c);
}

void metrics_reset(struct metrics_family *f)
{
    if (!f)
        return;
    while (f->first) {
        struct metrics_child *c = f->first;
        f->first = c->next;
        child_free(c);
    }
    memset(f->hash, 0, sizeof f->hash);
    f->last = NULL;
    f->n_children = 0;
}

static void family_free(struct metrics_family *f)
{
    metrics_reset(f);
    free(f->name);
    free(f->help);
    for (size_t i = 0; i < f->n_labels; i++)
        free(f->labels[i]);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_families; i++)
        family_free(m->families[i]);
    free(m);
}

struct metrics *metrics_default(void)
{
    if (!default_registry)
        default_registry = metrics_new();
    return default_registry;
}

void metrics_default_free(void)
{
    metrics_free(default_registry);
    default_registry = NULL;
}

uint64_t metrics_dropped(const struct metrics *m)
{
    return m ? m->dropped : 0;
}

static int name_valid(const char *s, size_t len, int colon)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Split "a,b" into <f>'s label names; -1 when one is invalid or too many. */
static int family_set_labels(struct metrics_family *f, const char *labels)
{
    while (labels && *labels) {
        const char *comma = strchr(labels, ',');
        size_t len = comma ? (size_t)(comma - labels) : strlen(labels);
        if (f->n_labels == METRICS_MAX_LABELS || !name_valid(labels, len, 0) ||
            (len >= 2 && labels[0] == '_' && labels[1] == '_') ||
            (len == 2 && memcmp(labels, "le", 2) == 0))
            return -1;
        f->labels[f->n_labels] = strndup(labels, len);
        if (!f->labels[f->n_labels])
            return -1;
        f->n_labels++;
        labels = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* 1 when <f> has exactly the label names <labels>. */
static int family_labels_are(const struct metrics_family *f, const char *labels)
{
    size_t i = 0;
    while (labels && *labels) {
        const char *comma = strchr(labels, ',');
        size_t len = comma ? (size_t)(comma - labels) : strlen(labels);
        if (i == f->n_labels || strlen(f->labels[i]) != len ||
            memcmp(f->labels[i], labels, len) != 0)
            return 0;
        i++;
        labels = comma ? comma + 1 : NULL;
    }
    return i == f->n_labels;
}

static struct metrics_family *family_find(struct metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n_families; i++)
        if (strcmp(m->families[i]->name, name) == 0)
            return m->families[i];
    return NULL;
}

static struct metrics_family *family_register(struct metrics *m,
                                              enum metrics_type type,
                                              const char *name, const char *help,
                                              const char *labels)
{
    if (!m || !name || !name_valid(name, strlen(name), 1))
        return NULL;
    struct metrics_family *f = family_find(m, name);
    if (f)
        return f->type == type && family_labels_are(f, labels) ? f : NULL;
    if (m->n_families == FAMILY_MAX || !(f = calloc(1, sizeof *f)))
        return NULL;
    f->m = m;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help || family_set_labels(f, labels) != 0) {
        family_free(f);
        return NULL;
    }
    m->families[m->n_families++] = f;
    return f;
}

struct metrics_family *metrics_family(struct metrics *m, enum metrics_type type,
                                      const char *name, const char *help,
                                      const char *labels)
{
    if (type == METRICS_HISTOGRAM)
        return metrics_histogram(m, name, help, labels, metrics_latency_buckets,
                                 metrics_latency_nbuckets);
    return family_register(m, type, name, help, labels);
}

struct metrics_family *metrics_histogram(struct metrics *m, const char *name,
                                         const char *help, const char *labels,
                                         const double *bounds, size_t n)
{
    if (n == 0 || n > METRICS_MAX_BUCKETS)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return NULL;
    int fresh = m && !family_find(m, name ? name : "");
    struct metrics_family *f = family_register(m, METRICS_HISTOGRAM, name, help,
                                               labels);
    if (f && fresh) {
        memcpy(f->bounds, bounds, n * sizeof *bounds);
        f->n_bounds = n;
    }
    return f;
}

/* ---- children ------------------------------------------------------- */

static unsigned values_hash(const struct metrics_family *f,
                            const char *const *values)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < f->n_labels; i++) {
        for (const char *s = values[i]; *s; s++)
            h = (h ^ (unsigned char)*s) * 16777619u;
        h = (h ^ 0xffu) * 16777619u; /* ("ab","c") differs from ("a","bc") */
    }
    return h % CHILD_BUCKETS;
}

static int values_match(const struct metrics_family *f,
                        const struct metrics_child *c, const char *const *values)
{
    for (size_t i = 0; i < f->n_labels; i++)
        if (strcmp(c->values[i], values[i]) != 0)
            return 0;
    return 1;
}

static struct metrics_child *child_find(const struct metrics_family *f,
                                        const char *const *values)
{
    struct metrics_child *c = f->hash[values_hash(f, values)];
    for (; c; c = c->hnext)
        if (values_match(f, c, values))
            return c;
    return NULL;
}

static struct metrics_child *child_new(struct metrics_family *f,
                                       const char *const *values)
{
    size_t total = 1;
    for (size_t i = 0; i < f->n_labels; i++)
        total += strlen(values[i]) + 1;
    struct metrics_child *c = calloc(1, sizeof *c);
    char *block = c ? malloc(total) : NULL;
    if (c && f->type == METRICS_HISTOGRAM)
        c->buckets = calloc(f->n_bounds + 1, sizeof *c->buckets);
    if (!block || (f->type == METRICS_HISTOGRAM && !c->buckets)) {
        free(block);
        if (c)
            free(c->buckets);
        free(c);
        return NULL;
    }
    c->f = f;
    c->values[0] = block; /* owns the block even when there is no label */
    block[0] = '\0';
    for (size_t i = 0; i < f->n_labels; i++) {
        size_t len = strlen(values[i]);
        memcpy(block, values[i], len + 1);
        c->values[i] = block;
        block += len + 1;
    }
    return c;
}

/* The child of <values>, made when new; NULL when full or out of memory. */
static struct metrics_child *child_get(struct metrics_family *f,
                                       const char *const *values)
{
    static const char *const none[1] = {""};
    if (f->n_labels == 0)
        values = none;
    for (size_t i = 0; i < f->n_labels; i++)
        if (!values || !values[i])
            return NULL;
    struct metrics_child *c = child_find(f, values);
    if (c)
        return c;
    if (f->n_children >= METRICS_MAX_CHILDREN || !(c = child_new(f, values))) {
        f->m->dropped++;
        return NULL;
    }
    unsigned b = values_hash(f, values);
    c->hnext = f->hash[b];
    f->hash[b] = c;
    if (f->last)
        f->last->next = c;
    else
        f->first = c;
    f->last = c;
    f->n_children++;
    return c;
}

static int add_allowed(const struct metrics_family *f, double v)
{
    return f->type != METRICS_HISTOGRAM && (f->type != METRICS_COUNTER || v >= 0);
}

void metrics_add(struct metrics_family *f, double v, const char *const *values)
{
    if (!f || !add_allowed(f, v))
        return;
    struct metrics_child *c = child_get(f, values);
    if (c)
        c->value += v;
}

void metrics_set(struct metrics_family *f, double v, const char *const *values)
{
    if (!f || f->type == METRICS_HISTOGRAM)
        return;
    struct metrics_child *c = child_get(f, values);
    if (c)
        c->value = v;
}

/* One observation of <v> in histogram child <c> of <f>. */
static void child_observe(const struct metrics_family *f,
                          struct metrics_child *c, double v)
{
    size_t b = 0;
    while (b < f->n_bounds && v > f->bounds[b])
        b++;
    c->buckets[b]++; /* b == n_bounds: only in +Inf */
    c->count++;
    c->value += v;
}

void metrics_observe(struct metrics_family *f, double v,
                     const char *const *values)
{
    if (!f || f->type != METRICS_HISTOGRAM || isnan(v))
        return;
    struct metrics_child *c = child_get(f, values);
    if (c)
        child_observe(f, c, v);
}

struct metrics_child *metrics_child(struct metrics_family *f,
                                    const char *const *values)
{
    return f ? child_get(f, values) : NULL;
}

void metrics_child_add(struct metrics_child *c, double v)
{
    if (c && add_allowed(c->f, v))
        c->value += v;
}

void metrics_child_observe(struct metrics_child *c, double v)
{
    if (c && c->f->type == METRICS_HISTOGRAM && !isnan(v))
        child_observe(c->f, c, v);
}

double metrics_value(const struct metrics_family *f, const char *const *values)
{
    static const char *const none[1] = {""};
    if (!f)
        return 0;
    const struct metrics_child *c = child_find(f, f->n_labels ? values : none);
    return c ? c->value : 0;
}

uint64_t metrics_count(const struct metrics_family *f, const char *const *values)
{
    static const char *const none[1] = {""};
    if (!f)
        return 0;
    const struct metrics_child *c = child_find(f, f->n_labels ? values : none);
    return c ? c->count : 0;
}

/* ---- rendering ------------------------------------------------------ */

struct outbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static void out_grow(struct outbuf *o, size_t more)
{
    if (o->failed || o->len + more + 1 <= o->cap)
        return;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + more + 1)
        cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) {
        o->failed = 1;
        return;
    }
    o->p = p;
    o->cap = cap;
}

static void out_mem(struct outbuf *o, const char *s, size_t n)
{
    out_grow(o, n);
    if (o->failed)
        return;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void out_str(struct outbuf *o, const char *s)
{
    out_mem(o, s, strlen(s));
}

static void out_fmt(struct outbuf *o, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void out_fmt(struct outbuf *o, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        out_mem(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* <s> with backslash and newline escaped, and double quotes too when
 * <quote> (label values; HELP text keeps its quotes). */
static void out_escaped(struct outbuf *o, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            out_str(o, "\\\\");
        else if (*s == '\n')
            out_str(o, "\\n");
        else if (*s == '"' && quote)
            out_str(o, "\\\"");
        else
            out_mem(o, s, 1);
    }
}

/* A sample value: integers without a fraction, others in full
 * precision, and the spellings Prometheus reads for the rest. */
static void out_value(struct outbuf *o, double v)
{
    if (isnan(v))
        out_str(o, "NaN");
    else if (isinf(v))
        out_str(o, v > 0 ? "+Inf" : "-Inf");
    else if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
        out_fmt(o, "%.0f", v);
    else
        out_fmt(o, "%.17g", v);
}

/* "{a="x",b="y"" (no closing brace: the caller may add le) */
static void out_labels_open(struct outbuf *o, const struct metrics_family *f,
                            const struct metrics_child *c)
{
    out_str(o, "{");
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i)
            out_str(o, ",");
        out_str(o, f->labels[i]);
        out_str(o, "=\"");
        out_escaped(o, c->values[i], 1);
        out_str(o, "\"");
    }
}

static void out_sample(struct outbuf *o, const struct metrics_family *f,
                       const struct metrics_child *c, const char *suffix,
                       const char *le, double v)
{
    out_str(o, f->name);
    out_str(o, suffix);
    if (f->n_labels || le) {
        out_labels_open(o, f, c);
        if (le) {
            out_str(o, f->n_labels ? ",le=\"" : "le=\"");
            out_str(o, le);
            out_str(o, "\"");
        }
        out_str(o, "}");
    }
    out_str(o, " ");
    out_value(o, v);
    out_str(o, "\n");
}

static void out_histogram(struct outbuf *o, const struct metrics_family *f,
                          const struct metrics_child *c)
{
    uint64_t cumulative = 0;
    char le[32];
    for (size_t b = 0; b < f->n_bounds; b++) {
        cumulative += c->buckets ? c->buckets[b] : 0;
        snprintf(le, sizeof le, "%g", f->bounds[b]);
        out_sample(o, f, c, "_bucket", le, (double)cumulative);
    }
    out_sample(o, f, c, "_bucket", "+Inf", (double)(c->buckets ? c->count : 0));
    out_sample(o, f, c, "_sum", NULL, c->value);
    out_sample(o, f, c, "_count", NULL, (double)c->count);
}

static void out_family(struct outbuf *o, const struct metrics_family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    out_str(o, "# HELP ");
    out_str(o, f->name);
    out_str(o, " ");
    out_escaped(o, f->help, 0);
    out_str(o, "\n# TYPE ");
    out_str(o, f->name);
    out_str(o, " ");
    out_str(o, types[f->type]);
    out_str(o, "\n");
    /* a family without labels exists as 0 before its first update */
    struct metrics_child zero = {.values = {(char *)(uintptr_t) ""}};
    const struct metrics_child *c = f->first;
    if (!c && f->n_labels == 0)
        c = &zero;
    for (; c; c = c->next) {
        if (f->type == METRICS_HISTOGRAM)
            out_histogram(o, f, c);
        else
            out_sample(o, f, c, "", NULL, c->value);
    }
}

char *metrics_render(const struct metrics *m, size_t *len)
{
    struct outbuf o = {0};
    out_grow(&o, 0);
    for (size_t i = 0; m && i < m->n_families; i++)
        out_family(&o, m->families[i]);
    if (o.failed || !o.p) {
        free(o.p);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.p;
}
