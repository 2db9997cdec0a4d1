/*
 * route.h - inbound (MO) routing: which account owns a destination
 * number. Operators keep the table with `smppctl number add|del|list`
 * (Redis hash P:numbers, prefix -> account); every instance holds a copy
 * in memory, reloaded when a change is announced. The longest matching
 * prefix wins. Pure: no I/O.
 */
#ifndef SMPPBRIDGE_ROUTE_H
#define SMPPBRIDGE_ROUTE_H

#include <stddef.h>

#define ROUTE_PREFIX_MAX 21   /* an SMPP address is at most 20 characters */

struct route_table;

struct route_table *route_table_new(void);
void route_table_free(struct route_table *t);
/* Replace the whole table; -1 (table unchanged) on allocation failure or
 * an invalid entry. */
int route_table_set(struct route_table *t, const char *const *prefixes,
                    const char *const *accounts, size_t n);
/* The account for <number> (<len> bytes), or NULL. */
const char *route_lookup(const struct route_table *t, const char *number,
                         size_t len);
size_t route_table_size(const struct route_table *t);
/* 1 when <prefix> can be a route: 1-20 digits, optionally after a '+'. */
int route_prefix_valid(const char *prefix);

#endif /* SMPPBRIDGE_ROUTE_H */
