/*
 * test_redis_conn.c - group commit (redis_conn.c): what goes on the wire
 * and which callback gets which reply, against a fake Redis.
 *
 * The fake is an evconnlistener on a free loopback port (127.0.0.1:0,
 * the port read back) on the test's own event_base, the one the
 * connection runs on. It speaks just enough RESP: it reads commands
 * (arrays of bulk strings), records each one, and answers +OK to SELECT
 * and MULTI, +QUEUED inside a transaction, EXEC with one distinct
 * integer per queued command (100 * the transaction's number + its
 * position, from 1), anything else :1. Per test it can hold back EXEC's
 * reply, stay silent after SELECT, or close the connection when a given
 * MULTI arrives.
 *
 * Every wait runs the loop until a condition holds or a deadline passes;
 * the connection's timeout_ms is 300.
 */
#include "common.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "redis_conn.h"

#define TIMEOUT_MS 300u
#define WAIT_MS 3000u
#define MAX_CMDS 256
#define CMD_LEN 64
#define MAX_SLOTS 8

/* ---- the fake Redis ----------------------------------------------------- */

struct fake {
    struct evconnlistener *listener;
    struct bufferevent *bev;  /* the current client connection */
    unsigned port;
    int conns;                /* connections accepted */
    int in_multi;
    int queued;               /* commands queued in the open transaction */
    int multis, execs, txns;  /* MULTI and EXEC received; EXECs answered */
    /* what the test asks for */
    int hold_exec;            /* on connection 1: EXEC never answered */
    int silent;               /* on connection 1: nothing after SELECT */
    int close_on_multi;       /* close when this MULTI (1, 2...) arrives */
    /* every command received: its connection, its words */
    int ncmds;
    int cmd_conn[MAX_CMDS];
    char cmds[MAX_CMDS][CMD_LEN];
};

/* One complete command at <p> (<n> bytes) into <out> (words joined by
 * spaces); its length, 0 when incomplete. */
static size_t resp_parse(const char *p, size_t n, char *out, size_t out_len)
{
    size_t i = 0, o = 0;
    char *end;
    cr_assert(n == 0 || p[0] == '*', "the client sends arrays");
    if (n < 4 || !memchr(p, '\n', n))
        return 0;
    long argc = strtol(p + 1, &end, 10);
    i = (size_t)(strchr(p, '\n') - p) + 1;
    out[0] = 0;
    for (long a = 0; a < argc; a++) {
        if (i >= n || !memchr(p + i, '\n', n - i))
            return 0;
        cr_assert_eq(p[i], '$', "arguments are bulk strings");
        long len = strtol(p + i + 1, &end, 10);
        i = (size_t)((const char *)memchr(p + i, '\n', n - i) - p) + 1;
        if (i + (size_t)len + 2 > n)
            return 0;
        int w = snprintf(out + o, out_len - o, "%s%.*s", a ? " " : "",
                         (int)len, p + i);
        o = w > 0 && (size_t)w < out_len - o ? o + (size_t)w : out_len - 1;
        i += (size_t)len + 2;
    }
    return i;
}

static void fake_drop(struct fake *f)
{
    if (f->bev)
        bufferevent_free(f->bev);
    f->bev = NULL;
    f->in_multi = 0;
    f->queued = 0;
}

static void fake_exec_reply(struct fake *f, struct evbuffer *out)
{
    int txn = ++f->txns;
    evbuffer_add_printf(out, "*%d\r\n", f->queued);
    for (int i = 0; i < f->queued; i++)
        evbuffer_add_printf(out, ":%d\r\n", 100 * txn + i + 1);
}

/* Answer command <cmd>; 0 when the connection was closed. */
static int fake_answer(struct fake *f, const char *cmd)
{
    struct evbuffer *out = bufferevent_get_output(f->bev);
    int first_conn = f->conns == 1;
    cr_assert_lt(f->ncmds, MAX_CMDS);
    f->cmd_conn[f->ncmds] = f->conns;
    snprintf(f->cmds[f->ncmds++], CMD_LEN, "%s", cmd);
    int is_multi = strcmp(cmd, "MULTI") == 0, is_exec = !strcmp(cmd, "EXEC");
    if (is_multi && ++f->multis == f->close_on_multi) {
        fake_drop(f);
        return 0;
    }
    if (is_exec)
        f->execs++;
    if (strncmp(cmd, "SELECT ", 7) == 0) {
        evbuffer_add_printf(out, "+OK\r\n");
    } else if (first_conn && f->silent) {
        /* nothing */
    } else if (is_multi) {
        f->in_multi = 1;
        f->queued = 0;
        evbuffer_add_printf(out, "+OK\r\n");
    } else if (is_exec) {
        if (!(first_conn && f->hold_exec))
            fake_exec_reply(f, out);
        f->in_multi = 0;
        f->queued = 0;
    } else if (f->in_multi) {
        f->queued++;
        evbuffer_add_printf(out, "+QUEUED\r\n");
    } else {
        evbuffer_add_printf(out, ":1\r\n");
    }
    return 1;
}

static void fake_read(struct bufferevent *bev, void *arg)
{
    struct fake *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t n = evbuffer_get_length(in);
        char cmd[CMD_LEN];
        const char *p = (const char *)evbuffer_pullup(in, -1);
        size_t used = n ? resp_parse(p, n, cmd, sizeof cmd) : 0;
        if (!used)
            return;
        evbuffer_drain(in, used);
        if (!fake_answer(f, cmd))
            return; /* bev is gone */
    }
}

static void fake_event(struct bufferevent *bev, short what, void *arg)
{
    struct fake *f = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        fake_drop(f);
}

static void fake_accept(struct evconnlistener *l, evutil_socket_t fd,
                        struct sockaddr *sa, int salen, void *arg)
{
    struct fake *f = arg;
    (void)sa;
    (void)salen;
    fake_drop(f); /* one client at a time: the previous one is gone */
    f->bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
                                    BEV_OPT_CLOSE_ON_FREE);
    cr_assert_not_null(f->bev);
    f->conns++;
    bufferevent_setcb(f->bev, fake_read, NULL, fake_event, f);
    bufferevent_enable(f->bev, EV_READ);
}

static void fake_start(struct fake *f, struct event_base *base)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->listener = evconnlistener_new_bind(
        base, fake_accept, f, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
        (struct sockaddr *)&sin, sizeof sin);
    cr_assert_not_null(f->listener, "listen on 127.0.0.1:0");
    cr_assert_eq(getsockname(evconnlistener_get_fd(f->listener),
                             (struct sockaddr *)&sin, &len), 0);
    f->port = ntohs(sin.sin_port);
}

static void fake_stop(struct fake *f)
{
    fake_drop(f);
    if (f->listener)
        evconnlistener_free(f->listener);
    f->listener = NULL;
}

/* ---- fixture: one connection and what its callbacks saw ----------------- */

struct slot_ctx {
    int slot;
};

struct fx {
    struct event_base *base;
    struct fake fake;
    struct conf_redis cfg;
    struct redis_conn_stats stats;
    struct redis_conn *c;
    int ups, downs;
    void (*on_first_up)(struct fx *f);
    /* per slot: calls, last reply's integer (-1: NULL), its element count
     * when it was an array (the array's integers in items) */
    int calls[MAX_SLOTS];
    long long got[MAX_SLOTS];
    int array_len[MAX_SLOTS];
    long long items[MAX_SLOTS][4];
    int exec_reply_ok[MAX_SLOTS];
    int calls_after_free;
    int freed;
};

static struct fx fx;

static void on_state(struct redis_conn *c, int up, void *owner)
{
    struct fx *f = owner;
    (void)c;
    if (!up) {
        f->downs++;
        return;
    }
    if (++f->ups == 1 && f->on_first_up)
        f->on_first_up(f);
}

static void on_reply(struct redisReply *r, void *ctx)
{
    struct slot_ctx *s = ctx;
    struct fx *f = &fx;
    cr_assert(s->slot >= 0 && s->slot < MAX_SLOTS);
    if (f->freed)
        f->calls_after_free++;
    f->calls[s->slot]++;
    f->got[s->slot] = -1;
    f->array_len[s->slot] = -1;
    if (!r)
        return;
    if (r->type == REDIS_REPLY_INTEGER) {
        f->got[s->slot] = r->integer;
    } else if (r->type == REDIS_REPLY_ARRAY) {
        f->array_len[s->slot] = (int)r->elements;
        for (size_t i = 0; i < r->elements && i < 4; i++)
            f->items[s->slot][i] = r->element[i]->type == REDIS_REPLY_INTEGER
                                       ? r->element[i]->integer
                                       : -1;
        f->exec_reply_ok[s->slot] = redis_conn_exec_reply(f->c, r) == r;
    }
}

static void fx_setup(void)
{
    memset(&fx, 0, sizeof fx);
    log_set_level(LOG_OFF);
    fx.base = event_base_new();
    cr_assert_not_null(fx.base);
    fake_start(&fx.fake, fx.base);
    snprintf(fx.cfg.host, sizeof fx.cfg.host, "127.0.0.1");
    fx.cfg.port = fx.fake.port;
    fx.cfg.timeout_ms = TIMEOUT_MS;
    fx.cfg.db = 0;
}

static void fx_connect(void)
{
    struct redis_conn_opts o = {
        .name = "test",
        .cfg = &fx.cfg,
        .stats = &fx.stats,
        .owner = &fx,
        .on_state = on_state,
        .group_commit = 1,
        .n_scripts = 0,
    };
    fx.c = redis_conn_new(fx.base, &o);
    cr_assert_not_null(fx.c);
}

static void fx_teardown(void)
{
    if (fx.c)
        redis_conn_free(fx.c);
    fx.c = NULL;
    fake_stop(&fx.fake);
    if (fx.base)
        event_base_free(fx.base);
    fx.base = NULL;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Run the loop until <done> holds or <ms> passed (<done> NULL: <ms>);
 * whether it held. */
static int run_until(int (*done)(void), unsigned ms)
{
    struct event *tick = event_new(fx.base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {0, 5000};
    uint64_t deadline = clock_mono_ms() + ms;
    int held = 0;
    event_add(tick, &tv);
    while (!(held = done && done()) && clock_mono_ms() < deadline)
        event_base_loop(fx.base, EVLOOP_ONCE);
    event_free(tick);
    return held;
}

static int is_up(void)
{
    return fx.ups >= 1 && redis_conn_up(fx.c);
}

/* Send INCR <name> whose reply goes to <slot>. */
static void send_slot(int slot, const char *name)
{
    const char *argv[] = {"INCR", name};
    struct slot_ctx *s = redis_conn_send(fx.c, TIMEOUT_MS, on_reply,
                                         sizeof *s, 2, argv, NULL);
    cr_assert_not_null(s, "INCR %s sent", name);
    s->slot = slot;
}

/* A redis_conn_multi of INCR <names...> (<n> of them) answering <slot>. */
static void multi_slot(int slot, const char **names, int n)
{
    const char *argv[4][2];
    struct redis_cmd cmds[4];
    cr_assert_leq(n, 4);
    for (int i = 0; i < n; i++) {
        argv[i][0] = "INCR";
        argv[i][1] = names[i];
        cmds[i] = (struct redis_cmd){.argc = 2, .argv = argv[i]};
    }
    struct slot_ctx *s = redis_conn_multi(fx.c, TIMEOUT_MS, on_reply,
                                          sizeof *s, cmds, n);
    cr_assert_not_null(s, "multi of %d sent", n);
    s->slot = slot;
}

static int total_calls(void)
{
    int n = 0;
    for (int i = 0; i < MAX_SLOTS; i++)
        n += fx.calls[i];
    return n;
}

static int slots_0_1_2_called(void)
{
    return fx.calls[0] && fx.calls[1] && fx.calls[2];
}

static int slots_0_1_called(void)
{
    return fx.calls[0] && fx.calls[1];
}

/* The commands connection <conn> received, from <from> on, are <want>. */
static void assert_wire(int conn, int from, const char *const *want, int n)
{
    int k = 0;
    for (int i = 0; i < fx.fake.ncmds; i++) {
        if (fx.fake.cmd_conn[i] != conn)
            continue;
        if (k >= from && k - from < n)
            cr_assert_str_eq(fx.fake.cmds[i], want[k - from],
                             "command %d on connection %d", k, conn);
        k++;
    }
    cr_assert_eq(k - from, n, "%d commands on connection %d after %d, not %d",
                 k - from, conn, from, n);
}

TestSuite(group_commit, .init = fx_setup, .fini = fx_teardown, .timeout = 20);

/* ---- 1: one callback's commands, one transaction ------------------------ */

static void three_sends(struct fx *f)
{
    (void)f;
    send_slot(0, "a");
    send_slot(1, "b");
    send_slot(2, "c");
}

Test(group_commit, three_sends_in_one_turn_are_one_transaction)
{
    fx.on_first_up = three_sends;
    fx_connect();
    cr_assert(run_until(slots_0_1_2_called, WAIT_MS), "three replies");
    run_until(NULL, 50); /* nothing more comes */
    const char *want[] = {"SELECT 0", "MULTI", "INCR a", "INCR b", "INCR c",
                          "EXEC"};
    assert_wire(1, 0, want, 6);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fx.calls[i], 1, "slot %d called once", i);
        cr_assert_eq(fx.got[i], 101 + i, "slot %d got its own element", i);
    }
    cr_assert_eq(total_calls(), 3);
    cr_assert_eq(fx.downs, 0);
}

/* ---- 2: redis_conn_multi inside an open transaction --------------------- */

static void send_then_multi_of_one(struct fx *f)
{
    const char *names[] = {"b"};
    (void)f;
    send_slot(0, "a");
    multi_slot(1, names, 1);
}

Test(group_commit, multi_of_one_in_a_transaction_gets_an_array)
{
    fx.on_first_up = send_then_multi_of_one;
    fx_connect();
    cr_assert(run_until(slots_0_1_called, WAIT_MS), "two replies");
    run_until(NULL, 50);
    const char *want[] = {"SELECT 0", "MULTI", "INCR a", "INCR b", "EXEC"};
    assert_wire(1, 0, want, 5);
    cr_assert_eq(fx.calls[0], 1);
    cr_assert_eq(fx.got[0], 101);
    cr_assert_eq(fx.calls[1], 1);
    cr_assert_eq(fx.array_len[1], 1, "an array of 1, not its element");
    cr_assert_eq(fx.items[1][0], 102);
    cr_assert(fx.exec_reply_ok[1], "redis_conn_exec_reply returns it");
    cr_assert_eq(total_calls(), 2);
}

static void send_then_multi_of_two(struct fx *f)
{
    const char *names[] = {"b", "c"};
    (void)f;
    send_slot(0, "a");
    multi_slot(1, names, 2);
}

Test(group_commit, multi_of_two_in_a_transaction_gets_an_array)
{
    fx.on_first_up = send_then_multi_of_two;
    fx_connect();
    cr_assert(run_until(slots_0_1_called, WAIT_MS), "two replies");
    run_until(NULL, 50);
    const char *want[] = {"SELECT 0", "MULTI", "INCR a", "INCR b", "INCR c",
                          "EXEC"};
    assert_wire(1, 0, want, 6);
    cr_assert_eq(fx.calls[0], 1);
    cr_assert_eq(fx.got[0], 101);
    cr_assert_eq(fx.calls[1], 1);
    cr_assert_eq(fx.array_len[1], 2);
    cr_assert_eq(fx.items[1][0], 102);
    cr_assert_eq(fx.items[1][1], 103);
    cr_assert(fx.exec_reply_ok[1]);
    cr_assert_eq(total_calls(), 2);
}

/* ---- 3: the connection drops with EXEC outstanding ---------------------- */

static void one_send(struct fx *f)
{
    (void)f;
    send_slot(0, "a");
}

static int first_exec_received(void)
{
    return fx.fake.execs >= 1;
}

static int dropped_and_back(void)
{
    return fx.downs >= 1 && fx.ups >= 2 && slots_0_1_2_called();
}

/* The fake closes the connection when the second transaction's MULTI
 * arrives, the first one's EXEC not answered; <quiet_first>: nothing of
 * the first one answered either (no +OK, no +QUEUED). */
static void drop_with_exec_outstanding(int quiet_first)
{
    fx.fake.hold_exec = 1;
    fx.fake.silent = quiet_first;
    fx.fake.close_on_multi = 2;
    fx.on_first_up = one_send;
    fx_connect();
    cr_assert(run_until(first_exec_received, WAIT_MS), "first EXEC sent");
    /* a second transaction while the first's reply is outstanding */
    send_slot(1, "b");
    send_slot(2, "c");
    cr_assert(run_until(dropped_and_back, WAIT_MS), "dropped, back up");
    run_until(NULL, 100);
    const char *want[] = {"SELECT 0", "MULTI", "INCR a", "EXEC", "MULTI"};
    assert_wire(1, 0, want, 5);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fx.calls[i], 1, "slot %d called once", i);
        cr_assert_eq(fx.got[i], -1, "slot %d failed (NULL)", i);
        cr_assert_eq(fx.array_len[i], -1);
    }
    cr_assert_eq(total_calls(), 3);
    cr_assert_eq(fx.downs, 1);
}

Test(group_commit, drop_with_exec_outstanding_fails_each_once)
{
    drop_with_exec_outstanding(0);
}

Test(group_commit, drop_with_a_transaction_unanswered_fails_each_once)
{
    drop_with_exec_outstanding(1);
}

/* ---- 4: no reply within timeout_ms -------------------------------------- */

static int timed_out_and_back(void)
{
    return fx.ups >= 2 && slots_0_1_2_called();
}

Test(group_commit, silence_fails_each_once_and_reconnects)
{
    fx.fake.silent = 1;
    fx.on_first_up = three_sends;
    fx_connect();
    uint64_t t0 = clock_mono_ms();
    cr_assert(run_until(timed_out_and_back, WAIT_MS), "timed out, back up");
    uint64_t took = clock_mono_ms() - t0;
    run_until(NULL, 100);
    cr_assert_geq(took, TIMEOUT_MS, "not before timeout_ms (%llu ms)",
                  (unsigned long long)took);
    const char *want[] = {"SELECT 0", "MULTI", "INCR a", "INCR b", "INCR c",
                          "EXEC"};
    assert_wire(1, 0, want, 6);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fx.calls[i], 1, "slot %d called once", i);
        cr_assert_eq(fx.got[i], -1, "slot %d failed (NULL)", i);
    }
    cr_assert_eq(total_calls(), 3);
    cr_assert_eq(fx.ups, 2, "the connection was made again");
    cr_assert_eq(fx.fake.conns, 2);
    cr_assert_geq(fx.stats.timeouts, 3);
}

/* ---- 5: redis_conn_free with a transaction open or in flight ------------ */

static int fake_closed(void)
{
    return fx.fake.bev == NULL;
}

static void free_and_check(void)
{
    redis_conn_free(fx.c);
    fx.c = NULL;
    fx.freed = 1;
    cr_assert(run_until(fake_closed, WAIT_MS), "the fake sees the close");
    run_until(NULL, 50);
    cr_assert_eq(total_calls(), 0, "no callback once freed");
    cr_assert_eq(fx.calls_after_free, 0);
}

Test(group_commit, free_with_a_transaction_open)
{
    fx_connect();
    cr_assert(run_until(is_up, WAIT_MS), "up");
    send_slot(0, "a");
    send_slot(1, "b"); /* MULTI, a, b buffered; EXEC not yet */
    free_and_check();
}

Test(group_commit, free_with_exec_in_flight)
{
    fx.fake.hold_exec = 1;
    fx_connect();
    cr_assert(run_until(is_up, WAIT_MS), "up");
    send_slot(0, "a");
    send_slot(1, "b");
    cr_assert(run_until(first_exec_received, WAIT_MS), "EXEC sent");
    const char *want[] = {"SELECT 0", "MULTI", "INCR a", "INCR b", "EXEC"};
    assert_wire(1, 0, want, 5);
    free_and_check();
}
