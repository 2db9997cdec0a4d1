/*
 * test_verifier.c - slow password checks run off the event loop: right
 * and wrong passwords, the loop keeps turning meanwhile, a full queue
 * refuses, shutting down completes what is left.
 */
#include "common.h"

#include <criterion/criterion.h>
#include <event2/event.h>
#include <string.h>

#include "auth.h"
#include "verifier.h"

struct result {
    int calls;
    int ok;
};

static void on_result(int ok, void *arg)
{
    struct result *r = arg;
    r->calls++;
    r->ok = ok;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (*(int *)arg)++;
}

/* Run <base> until <done> callbacks came, or 10 s. */
static void run_until(struct event_base *base, const int *calls, int done)
{
    for (int i = 0; i < 1000 && *calls < done; i++) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

Test(verifier, right_and_wrong_password_while_the_loop_turns)
{
    char stored[AUTH_HASH_MAX];
    cr_assert_gt(auth_hash_password("secret", 6, stored, sizeof stored), 0);
    struct event_base *base = event_base_new();
    struct verifier *v = verifier_new(base, 1, 8);
    cr_assert_not_null(v);
    int ticks = 0;
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, &ticks);
    struct timeval every = {0, 5000};
    event_add(tick, &every);

    struct result good = {0, -9}, bad = {0, -9};
    cr_assert_eq(verifier_check(v, "secret", 6, stored, on_result, &good), 0);
    cr_assert_eq(verifier_check(v, "wrong!", 6, stored, on_result, &bad), 0);
    cr_assert_eq(good.calls, 0, "the answer comes later, on the loop");
    run_until(base, &bad.calls, 1);
    run_until(base, &good.calls, 1);
    cr_assert_eq(good.calls + bad.calls, 2);
    cr_assert_eq(good.ok, 1);
    cr_assert_eq(bad.ok, 0);
    /* two scrypt checks take tens of ms: a blocked loop would not tick */
    cr_assert_geq(ticks, 4, "the event loop kept turning (%d ticks)", ticks);
    event_free(tick);
    verifier_free(v);
    event_base_free(base);
}

Test(verifier, full_queue_refuses_and_shutdown_completes_the_rest)
{
    char stored[AUTH_HASH_MAX];
    cr_assert_gt(auth_hash_password("pw", 2, stored, sizeof stored), 0);
    struct event_base *base = event_base_new();
    struct verifier *v = verifier_new(base, 1, 3);
    struct result r[4];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(verifier_check(v, "pw", 2, stored, on_result, &r[i]), 0);
    cr_assert_eq(verifier_check(v, "pw", 2, stored, on_result, &r[3]), -1,
                 "a fourth check is over max_pending");
    cr_assert_eq(r[3].calls, 0);
    verifier_free(v); /* before the loop ran: nothing delivered yet */
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(r[i].calls, 1, "check %d completed exactly once", i);
        cr_assert(r[i].ok == 1 || r[i].ok == -1);
    }
    event_base_free(base);
}

Test(verifier, after_results_are_delivered_room_again)
{
    char stored[AUTH_HASH_MAX];
    cr_assert_gt(auth_hash_password("pw", 2, stored, sizeof stored), 0);
    struct event_base *base = event_base_new();
    struct verifier *v = verifier_new(base, 2, 1);
    struct result a = {0, -9}, b = {0, -9};
    cr_assert_eq(verifier_check(v, "pw", 2, stored, on_result, &a), 0);
    cr_assert_eq(verifier_check(v, "pw", 2, stored, on_result, &b), -1);
    run_until(base, &a.calls, 1);
    cr_assert_eq(a.ok, 1);
    cr_assert_eq(verifier_check(v, "pw", 2, stored, on_result, &b), 0);
    run_until(base, &b.calls, 1);
    cr_assert_eq(b.ok, 1);
    verifier_free(v);
    event_base_free(base);
}
