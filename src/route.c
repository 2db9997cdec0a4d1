/*
 * route.c - longest-prefix routing of destination numbers.
 *
 * The table is sorted longest prefix first, so the first match is the
 * longest; tables are a few thousand entries at most, and the scan
 * compares only prefixes no longer than the number.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "route.h"

struct route {
    char prefix[ROUTE_PREFIX_MAX];
    size_t len;
    char account[16];
};

struct route_table {
    struct route *routes;
    size_t n;
};

struct route_table *route_table_new(void)
{
    return calloc(1, sizeof(struct route_table));
}

void route_table_free(struct route_table *t)
{
    if (!t)
        return;
    free(t->routes);
    free(t);
}

int route_prefix_valid(const char *p)
{
    size_t i = p[0] == '+' ? 1 : 0, digits = 0;
    for (; p[i]; i++, digits++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return digits >= 1 && digits <= 20;
}

static int by_length_desc(const void *a, const void *b)
{
    const struct route *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? 1 : -1;
    return strcmp(x->prefix, y->prefix);
}

/* '+' is not part of the number as SMPP carries it (TON says it). */
static const char *digits_of(const char *s, size_t *len)
{
    if (*len && s[0] == '+') {
        (*len)--;
        return s + 1;
    }
    return s;
}

int route_table_set(struct route_table *t, const char *const *prefixes,
                    const char *const *accounts, size_t n)
{
    struct route *r = n ? calloc(n, sizeof *r) : NULL;
    if (n && !r)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(prefixes[i]);
        const char *d = digits_of(prefixes[i], &len);
        if (!route_prefix_valid(prefixes[i]) ||
            strlen(accounts[i]) >= sizeof r[i].account) {
            free(r);
            return -1;
        }
        memcpy(r[i].prefix, d, len);
        r[i].len = len;
        memcpy(r[i].account, accounts[i], strlen(accounts[i]) + 1);
    }
    if (n)
        qsort(r, n, sizeof *r, by_length_desc);
    free(t->routes);
    t->routes = r;
    t->n = n;
    return 0;
}

const char *route_lookup(const struct route_table *t, const char *number,
                         size_t len)
{
    const char *d = digits_of(number, &len);
    for (size_t i = 0; i < t->n; i++)
        if (t->routes[i].len <= len && memcmp(t->routes[i].prefix, d,
                                              t->routes[i].len) == 0)
            return t->routes[i].account;
    return NULL;
}

size_t route_table_size(const struct route_table *t)
{
    return t->n;
}
