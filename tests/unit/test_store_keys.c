/*
 * test_store_keys.c - the Redis key names (store_keys.h): operators,
 * smppctl and other instances rely on their exact layout.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "store_keys.h"

Test(store_keys, fixed_keys)
{
    struct store_keys k;
    store_keys_init(&k, "sb");
    cr_assert_str_eq(k.queue, "sb:queue");
    cr_assert_str_eq(k.cdr, "sb:cdr");
    cr_assert_str_eq(k.dead, "sb:dead");
    cr_assert_str_eq(k.events, "sb:events");
    cr_assert_str_eq(k.accounts, "sb:accounts");
    cr_assert_str_eq(k.numbers, "sb:numbers");
    cr_assert_str_eq(k.instances, "sb:instances");
}

Test(store_keys, families)
{
    struct store_keys k;
    char out[STORE_KEY_LEN];
    store_keys_init(&k, "prod:eu");
    cr_assert_eq(store_key_account(&k, "acme", out), 19);
    cr_assert_str_eq(out, "prod:eu:acct:{acme}");
    store_key_queue_counts(&k, "acme", out);
    cr_assert_str_eq(out, "prod:eu:qc:{acme}");
    store_key_body(&k, "acme", "b1", out);
    cr_assert_str_eq(out, "prod:eu:body:{acme}:b1");
    store_key_idmap(&k, "up1", "0A1B", out);
    cr_assert_str_eq(out, "prod:eu:up:{up1}:0A1B");
    store_key_receipts(&k, "acme", out);
    cr_assert_str_eq(out, "prod:eu:dlr:{acme}");
    store_key_bucket(&k, "acct:acme", out);
    cr_assert_str_eq(out, "prod:eu:tb:{acct:acme}");
    store_key_quota(&k, "acme", "20260101", out);
    cr_assert_str_eq(out, "prod:eu:quota:{acme}:20260101");
    store_key_lease(&k, "instance:3", out);
    cr_assert_str_eq(out, "prod:eu:lease:{instance:3}");
    cr_assert_eq(store_key_msg(&k, "acme", "00ff", out), 23);
    cr_assert_str_eq(out, "prod:eu:msg:{acme}:00ff");
}

/* The longest prefix and account id fit; a longer key is cut, never
 * written past the buffer. */
Test(store_keys, bounds)
{
    struct store_keys k;
    char prefix[64], out[STORE_KEY_LEN + 8], part[300];
    memset(prefix, 'p', 63);
    prefix[63] = '\0';
    store_keys_init(&k, prefix);
    cr_assert_eq(store_key_account(&k, "fifteen-chars-x", out), 63 + 23);
    memset(part, 'x', sizeof part - 1);
    part[sizeof part - 1] = '\0';
    memset(out, '#', sizeof out);
    cr_assert_eq(store_key_msg(&k, "acme", part, out), STORE_KEY_LEN - 1);
    cr_assert_eq(out[STORE_KEY_LEN - 1], '\0');
    cr_assert_eq(out[STORE_KEY_LEN], '#');
}
