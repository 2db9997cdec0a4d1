/*
 * store_keys.c - Redis key names (the table is in store_keys.h).
 */
#include "common.h"

#include <string.h>

#include "store_keys.h"

/* A key being written into a buffer of STORE_KEY_LEN bytes. */
struct key_buf {
    char *out;
    size_t len;
};

static void put(struct key_buf *b, const char *s, size_t n)
{
    size_t room = STORE_KEY_LEN - 1 - b->len;
    if (n > room)
        n = room;
    memcpy(b->out + b->len, s, n);
    b->len += n;
    b->out[b->len] = 0;
}

static void put_str(struct key_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* "P:<family>{<tag>}", and ":<rest>" when <rest> is not NULL. */
static size_t tagged(const struct store_keys *k, const char *family,
                     const char *tag, const char *rest, char *out)
{
    struct key_buf b = {out, 0};
    put(&b, k->prefix, k->prefix_len);
    put_str(&b, family);
    put(&b, "{", 1);
    put_str(&b, tag);
    put(&b, "}", 1);
    if (rest) {
        put(&b, ":", 1);
        put_str(&b, rest);
    }
    return b.len;
}

static void fixed(const struct store_keys *k, const char *name, char *out)
{
    struct key_buf b = {out, 0};
    put(&b, k->prefix, k->prefix_len);
    put_str(&b, name);
}

void store_keys_init(struct store_keys *k, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n >= sizeof k->prefix)
        n = sizeof k->prefix - 1;
    memcpy(k->prefix, prefix, n);
    k->prefix[n] = 0;
    k->prefix_len = n;
    fixed(k, ":queue", k->queue);
    fixed(k, ":cdr", k->cdr);
    fixed(k, ":dead", k->dead);
    fixed(k, ":events", k->events);
    fixed(k, ":accounts", k->accounts);
    fixed(k, ":numbers", k->numbers);
    fixed(k, ":instances", k->instances);
}

size_t store_key_account(const struct store_keys *k, const char *account,
                         char *out)
{
    return tagged(k, ":acct:", account, NULL, out);
}

size_t store_key_queue_counts(const struct store_keys *k, const char *account,
                              char *out)
{
    return tagged(k, ":qc:", account, NULL, out);
}

size_t store_key_body(const struct store_keys *k, const char *account,
                      const char *body_id, char *out)
{
    return tagged(k, ":body:", account, body_id, out);
}

size_t store_key_idmap(const struct store_keys *k, const char *connector,
                       const char *upstream_id, char *out)
{
    return tagged(k, ":up:", connector, upstream_id, out);
}

size_t store_key_receipts(const struct store_keys *k, const char *account,
                          char *out)
{
    return tagged(k, ":dlr:", account, NULL, out);
}

size_t store_key_bucket(const struct store_keys *k, const char *bucket,
                        char *out)
{
    return tagged(k, ":tb:", bucket, NULL, out);
}

size_t store_key_quota(const struct store_keys *k, const char *account,
                       const char *day, char *out)
{
    return tagged(k, ":quota:", account, day, out);
}

size_t store_key_lease(const struct store_keys *k, const char *name, char *out)
{
    return tagged(k, ":lease:", name, NULL, out);
}

size_t store_key_msg(const struct store_keys *k, const char *account,
                     const char *msg_id, char *out)
{
    return tagged(k, ":msg:", account, msg_id, out);
}
