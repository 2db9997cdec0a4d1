/*
 * test_reload.c - what a reload may change live: changed keys are named,
 * keys that need a restart are named and keep their running values, the
 * [upstream] sections are left to upstream.c, secrets are compared
 * without being shown.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "conf.h"
#include "reload.h"

static struct conf before, after;
static char errs[8192], changed[512], restart[512];

#define BASE                                                                 \
    "[server]\nlisten = 127.0.0.1:2775\nwindow = 100\n"                      \
    "[redis]\nport = 6379\ntimeout = 2s\n"                                   \
    "[log]\nlevel = info\n"                                                  \
    "[upstream a]\nhost = 127.0.0.1\nsystem_id = id\npassword = pw\n"

static int merge(const char *old_text, const char *new_text)
{
    cr_assert_eq(conf_load_string("old.conf", old_text, &before, errs,
                                  sizeof errs), 0, "%s", errs);
    cr_assert_eq(conf_load_string("new.conf", new_text, &after, errs,
                                  sizeof errs), 0, "%s", errs);
    return reload_merge(&before, &after, changed, sizeof changed, restart,
                        sizeof restart);
}

Test(reload, nothing_changed)
{
    cr_assert_eq(merge(BASE, BASE), 0);
    cr_assert_str_empty(changed);
    cr_assert_str_empty(restart);
}

Test(reload, live_keys_are_named_and_applied)
{
    cr_assert_eq(merge(BASE, "[server]\nlisten = 127.0.0.1:2775\nwindow = 300\n"
                             "[redis]\nport = 6379\ntimeout = 2s\n"
                             "[log]\nlevel = debug\n"
                             "[upstream a]\nhost = 127.0.0.1\nsystem_id = id\n"
                             "password = pw\n"), 2);
    cr_assert_str_eq(changed, "[server] window, [log] level");
    cr_assert_str_empty(restart);
    cr_assert_eq(after.server.window, 300);
}

Test(reload, listen_and_redis_need_a_restart_and_keep_their_values)
{
    merge(BASE, "[server]\nlisten = 127.0.0.1:2999\nwindow = 100\n"
                "[redis]\nport = 6380\ntimeout = 5s\n"
                "[log]\nlevel = info\n"
                "[upstream a]\nhost = 127.0.0.1\nsystem_id = id\npassword = pw\n");
    cr_assert_str_empty(changed);
    cr_assert_str_eq(restart, "[server] listen, [redis] port, [redis] timeout");
    cr_assert_str_eq(after.server.listen[0], "127.0.0.1:2775");
    cr_assert_eq(after.redis.port, 6379);
    cr_assert_eq(after.redis.timeout_ms, 2000);
}

Test(reload, upstream_sections_are_not_compared_here)
{
    merge(BASE, BASE "[upstream b]\nhost = 127.0.0.1\nsystem_id = id\n"
                     "password = pw\n");
    cr_assert_str_empty(changed);
    cr_assert_str_empty(restart);
    cr_assert_eq(after.n_upstreams, 2);
}

Test(reload, secrets_compared_not_shown)
{
    merge(BASE "[redis]\npassword = one\n[admin]\ntoken = t1\n",
          BASE "[redis]\npassword = two\n[admin]\ntoken = t2\n");
    cr_assert_str_eq(changed, "[admin] token");
    cr_assert_str_eq(restart, "[redis] password");
    cr_assert_str_eq(after.redis.password, "one");
    cr_assert_null(strstr(changed, "t2"));
}
