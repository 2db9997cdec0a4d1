/*
 * store_queue.c - the message queue P:queue (a stream, consumer group
 * "bridge"): adding an entry within its account's caps (with the
 * message's record, and a submit_multi's shared body stored once),
 * reading new entries, this consumer's own history, claiming idle ones,
 * keeping ours from being claimed, one entry by id, and the queue's
 * depth. Taking an entry out is a change of the record's state:
 * store_msg.c.
 */
#include "common.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hash.h"
#include "redis_conn.h"
#include "store.h"
#include "store_int.h"
#include "store_keys.h"

#define MAX_TOUCH 128

/*
 * Adding a message to the queue within its account's caps, in one step:
 * the count and the write cannot drift apart, and two instances cannot
 * both take the last place. KEYS[1] queue, KEYS[2] message record,
 * KEYS[3] the account's counters P:qc:{ACCT} (fields n messages, b
 * bytes), KEYS[4] a shared body P:body:{ACCT}:ID or "" (fields d bytes,
 * bytes their count, refs). ARGV[1] account, [2] our id, [3] ts ms, [4] the PDU (or, with a
 * body, its head: the PDU is head .. d), [5] max messages, [6] max
 * bytes, [7] TTL s, [8] the body's bytes when this entry creates it, ""
 * otherwise; from [9] the record's fields and values. The entry costs
 * its own bytes (field c); a body costs its bytes once, charged when it
 * is created, and each entry names its body (r) and that cost (rb). A
 * body never expires: its entries never do, and it is deleted with the
 * last of them (qdel); an older body that still has a TTL loses it
 * here. Returns the entry id and the account's counts after it, or -1
 * over a cap (nothing written), or -2 when the body it names is gone
 * (its first entry was refused). Used near an account's caps (see
 * qc_fits()) and for entries with a shared body; otherwise a plain
 * transaction adds the message.
 */
static const char queue_add_script[] =
    "local v = redis.call('HMGET', KEYS[3], 'n', 'b') "
    "local n, b = tonumber(v[1]) or 0, tonumber(v[2]) or 0 "
    "local cost, body = #ARGV[4], ARGV[8] "
    "if KEYS[4] ~= '' and body == '' and "
    "redis.call('EXISTS', KEYS[4]) == 0 then return -2 end "
    "if n + 1 > tonumber(ARGV[5]) or "
    "b + cost + #body > tonumber(ARGV[6]) then return -1 end "
    "local e "
    "if KEYS[4] ~= '' then "
    "local rb = #body "
    "if body ~= '' then redis.call('HSET', KEYS[4], 'd', body, 'refs', 0, "
    "'bytes', rb) "
    "else rb = tonumber(redis.call('HGET', KEYS[4], 'bytes')) or "
    "redis.call('HSTRLEN', KEYS[4], 'd') end "
    "redis.call('HINCRBY', KEYS[4], 'refs', 1) "
    "redis.call('PERSIST', KEYS[4]) "
    "e = redis.call('XADD', KEYS[1], '*', 'a', ARGV[1], 'i', ARGV[2], "
    "'t', ARGV[3], 'p', ARGV[4], 'c', cost, 'r', KEYS[4], 'rb', rb) "
    "else e = redis.call('XADD', KEYS[1], '*', 'a', ARGV[1], 'i', ARGV[2], "
    "'t', ARGV[3], 'p', ARGV[4], 'c', cost) end "
    "local nn = redis.call('HINCRBY', KEYS[3], 'n', 1) "
    "local nb = redis.call('HINCRBY', KEYS[3], 'b', cost + #body) "
    "redis.call('HSET', KEYS[2], 'entry', e, unpack(ARGV, 9)) "
    "redis.call('EXPIRE', KEYS[2], ARGV[7]) "
    "return {e, nn, nb}";

/* The shared bodies of entries just read: KEYS the body keys; for each,
 * its bytes, or "" when it is gone. */
static const char bodies_script[] =
    "local out = {} "
    "for i = 1, #KEYS do "
    "out[i] = redis.call('HGET', KEYS[i], 'd') or '' end "
    "return out";

/* KEYS[1] queue. {length, first entry id or "", Redis time in ms}. */
static const char queue_stats_script[] =
    "local n = redis.call('XLEN', KEYS[1]) "
    "local e = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1) "
    "local t = redis.call('TIME') "
    "local first = '' if #e > 0 then first = e[1][1] end "
    "return {n, first, t[1] * 1000 + math.floor(t[2] / 1000)}";

/* The consumer group of the queue (MKSTREAM: the stream too). */
void store_queue_ensure_group(struct store *st)
{
    const char *grp[] = {"XGROUP", "CREATE", st->keys.queue, "bridge", "0",
                         "MKSTREAM"};
    store_cmd(st, NULL, STORE_NO_CB, NULL, 6, grp, NULL);
}

/* One stream entry [id, [field, value, ...]] into <e>, and the key of
 * its shared body (field r) into <body> (NULL when whole); -1 if it is
 * not one of ours (or was deleted: nil). */
static int parse_entry(const redisReply *r, struct store_entry *e,
                       const redisReply **body)
{
    memset(e, 0, sizeof *e);
    *body = NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    snprintf(e->id, sizeof e->id, "%.*s", (int)r->element[0]->len,
             r->element[0]->str);
    const redisReply *f = r->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            k->len != 1)
            continue;
        switch (k->str[0]) {
        case 'a': e->account = v->str; break;
        case 'i': e->msg_id = v->str; break;
        case 't': e->ts_ms = strtoull(v->str, NULL, 10); break;
        case 'p':
            e->pdu = (const uint8_t *)v->str;
            e->pdu_len = v->len;
            break;
        case 'c': e->cost = strtoull(v->str, NULL, 10); break;
        case 'r':
            *body = v;
            e->shared = 1;
            break;
        default: break;
        }
    }
    return e->pdu ? 0 : -1;
}

/*
 * Entries some of which name a shared body (a submit_multi's common
 * part): copied out of the reply, which does not outlive its callback,
 * while the bodies are fetched; then each such PDU is its head and its
 * body. One allocation per entry, owned here until the callback
 * returns.
 */
struct held_entry {
    char account[32];
    char msg_id[48];
    char body_key[KEY_LEN];     /* "" when whole */
    size_t len;
    uint8_t pdu[];
};

struct body_job {
    struct store *st;           /* NULL until it is on st->body_jobs */
    store_entries_cb cb;
    void *arg;
    size_t n;
    struct store_entry *es;
    struct held_entry **held;
    struct body_job *prev, *next;
};

/* Free <j>, off the store's list when it is on it: store_free frees the
 * ones whose fetch is still out (it drops pending commands without
 * calling them back). */
static void body_job_free(struct body_job *j)
{
    if (j->st && j->prev)
        j->prev->next = j->next;
    else if (j->st)
        j->st->body_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    for (size_t i = 0; i < j->n; i++)
        free(j->held[i]);
    free(j->held);
    free(j->es);
    free(j);
}

/* The head of entry <i> and its body <b> into one PDU. A body named but
 * gone ("") leaves the head alone and the entry marked body_lost: its
 * reader ends the message without sending it (a head alone would not
 * decode, and must never go out as if it were the message). */
static void body_join(struct body_job *j, size_t i, const redisReply *b)
{
    struct held_entry *h = j->held[i];
    if (b && b->type == REDIS_REPLY_STRING && b->len) {
        struct held_entry *w = realloc(h, sizeof *h + h->len + b->len);
        if (w) {
            memcpy(w->pdu + w->len, b->str, b->len);
            w->len += b->len;
            j->held[i] = h = w;
        }
    } else if (h->body_key[0]) {
        j->es[i].body_lost = 1;
    }
    j->es[i].account = h->account;
    j->es[i].msg_id = h->msg_id;
    j->es[i].pdu = h->pdu;
    j->es[i].pdu_len = h->len;
}

static void complete_bodies(struct store *st, redisReply *r, struct store_op *p)
{
    (void)st;
    struct body_job *j = p->arg;
    size_t k = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        /* read, not delivered: they are claimed again once idle */
        j->cb(-1, NULL, 0, j->arg);
        body_job_free(j);
        return;
    }
    for (size_t i = 0; i < j->n; i++)
        body_join(j, i, j->held[i]->body_key[0] && k < r->elements
                            ? r->element[k++] : NULL);
    j->cb(0, j->es, j->n, j->arg);
    body_job_free(j);
}

/* Copy entry <e> (body key <body>) into the job's slot <i>. */
static int body_hold(struct body_job *j, size_t i, const struct store_entry *e,
                     const redisReply *body)
{
    struct held_entry *h = malloc(sizeof *h + e->pdu_len);
    if (!h)
        return -1;
    snprintf(h->account, sizeof h->account, "%s", e->account ? e->account : "");
    snprintf(h->msg_id, sizeof h->msg_id, "%s", e->msg_id ? e->msg_id : "");
    snprintf(h->body_key, sizeof h->body_key, "%.*s",
             body ? (int)body->len : 0, body ? body->str : "");
    memcpy(h->pdu, e->pdu, e->pdu_len);
    h->len = e->pdu_len;
    j->held[i] = h;
    j->es[i] = *e;
    return 0;
}

/* Fetch the bodies of <n> entries <es> (<bodies> their keys) and then
 * call <p>'s callback; -1 when that cannot be started. */
static int bodies_fetch(struct store *st, struct store_op *p,
                        const struct store_entry *es,
                        const redisReply *const *bodies, size_t n)
{
    struct body_job *j = calloc(1, sizeof *j);
    const char **argv = calloc(n ? n : 1, sizeof *argv);
    size_t nkeys = 0;
    if (!j || !argv || !(j->es = calloc(n, sizeof *j->es)) ||
        !(j->held = calloc(n, sizeof *j->held)))
        goto fail;
    j->cb = p->cb.entries;
    j->arg = p->arg;
    for (; j->n < n; j->n++)
        if (body_hold(j, j->n, &es[j->n], bodies[j->n]) != 0)
            goto fail;
    for (size_t i = 0; i < n; i++)
        if (j->held[i]->body_key[0])
            argv[nkeys++] = j->held[i]->body_key;
    if (!store_eval(st, SCRIPT_BODIES, complete_bodies, STORE_NO_CB, j,
                    (unsigned)nkeys, (int)nkeys, argv, NULL))
        goto fail;
    free(argv);
    j->st = st;
    j->next = st->body_jobs;
    if (st->body_jobs)
        st->body_jobs->prev = j;
    st->body_jobs = j;
    return 0;
fail:
    free(argv);
    if (j)
        body_job_free(j);
    return -1;
}

/* Call <p>'s entries callback with the entries in array <list> (after
 * fetching the shared bodies some of them name). */
static void deliver_entries(struct store *st, const redisReply *list,
                            struct store_op *p)
{
    size_t n = 0, shared = 0, cap = list ? list->elements : 0;
    struct store_entry *es = cap ? calloc(cap, sizeof *es) : NULL;
    const redisReply **bodies = cap ? calloc(cap, sizeof *bodies) : NULL;
    for (size_t i = 0; es && bodies && i < cap; i++)
        if (parse_entry(list->element[i], &es[n], &bodies[n]) == 0)
            shared += bodies[n++] != NULL;
    if (cap && (!es || !bodies))
        p->cb.entries(-1, NULL, 0, p->arg);
    else if (shared == 0)
        p->cb.entries(0, es, n, p->arg);
    else if (bodies_fetch(st, p, es, bodies, n) != 0)
        p->cb.entries(-1, NULL, 0, p->arg); /* claimed again once idle */
    free(bodies);
    free(es);
}

/* XREADGROUP: nil on timeout, else [[stream, [entries]]]. */
static void deliver_read(struct store *st, redisReply *r, struct store_op *p)
{
    if (!r) {
        p->cb.entries(-1, NULL, 0, p->arg);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 ||
        r->element[0]->type != REDIS_REPLY_ARRAY ||
        r->element[0]->elements != 2) {
        p->cb.entries(0, NULL, 0, p->arg);
        return;
    }
    deliver_entries(st, r->element[0]->element[1], p);
}

static void complete_read(struct store *st, redisReply *r, struct store_op *p)
{
    st->reading = 0;
    deliver_read(st, r, p);
}

/* Our own history is read on the command connection: no blocking read
 * is involved, so st->reading is not touched. */
static void complete_read_own(struct store *st, redisReply *r,
                              struct store_op *p)
{
    deliver_read(st, r, p);
}

/* XAUTOCLAIM: [next-start, [entries], (deleted ids)]. */
static void complete_claim(struct store *st, redisReply *r, struct store_op *p)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        p->cb.entries(r ? 0 : -1, NULL, 0, p->arg);
        return;
    }
    /* Redis looks at a bounded part of the pending list per call: the
     * next call goes on from where this one stopped ("0-0": all seen) */
    if (r->element[0]->type == REDIS_REPLY_STRING)
        snprintf(st->claim_cursor, sizeof st->claim_cursor, "%.*s",
                 (int)r->element[0]->len, r->element[0]->str);
    deliver_entries(st, r->element[1], p);
}

void store_complete_range(struct store *st, redisReply *r, struct store_op *p)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.entries(-1, NULL, 0, p->arg);
        return;
    }
    deliver_entries(st, r, p);
}

/*
 * What each account has queued (P:qc:{ACCT}), as the last reply about
 * it said: while an account is well under its caps, a message is added
 * in a plain transaction instead of the capping script (whose Lua cost
 * Redis more than the writes themselves). Near a cap the script decides,
 * exactly. "Well under" leaves room for every add this instance has
 * sent for the account and not yet seen answered (by either way), plus a
 * margin (an eighth of the cap, at least QC_MARGIN_*) for what other
 * instances add meanwhile; a count older than QC_FRESH_MS is not trusted.
 * So the caps hold exactly with one instance, and with several they can
 * be passed only by what the others add beyond the margin within
 * QC_FRESH_MS. Direct-mapped: an account takes a slot only when the
 * account there has nothing in flight, else it goes by the script.
 */
static struct store_qc_slot *qc_slot(struct store *st, const char *account)
{
    return &st->qc[hash_str(account) % STORE_QC_SLOTS];
}

/* <account>'s slot, taken for it when the one there has nothing in
 * flight (its counts not known yet: seen_ms 0); NULL when busy. */
static struct store_qc_slot *qc_claim(struct store *st, const char *account)
{
    struct store_qc_slot *s = qc_slot(st, account);
    if (strcmp(s->account, account) == 0)
        return s;
    if (s->inflight_n)
        return NULL;
    memset(s, 0, sizeof *s);
    snprintf(s->account, sizeof s->account, "%s", account);
    return s;
}

static uint64_t qc_margin(uint64_t cap, uint64_t floor)
{
    return cap / 8 > floor ? cap / 8 : floor;
}

/* Whether one more message of <cost> bytes surely fits under the caps,
 * with the margin for other instances. */
static int qc_fits(struct store *st, const struct store_msg_info *mi,
                   uint64_t cost)
{
    const struct store_qc_slot *s = qc_slot(st, mi->account);
    uint64_t maxn = mi->max_messages ? mi->max_messages : UINT64_C(1) << 50;
    uint64_t maxb = mi->max_bytes ? mi->max_bytes : UINT64_C(1) << 50;
    if (strcmp(s->account, mi->account) != 0 || !s->seen_ms ||
        clock_mono_ms() - s->seen_ms > QC_FRESH_MS)
        return 0;
    return s->n + s->inflight_n + 1 + qc_margin(maxn, QC_MARGIN_MSGS) <= maxn &&
           s->b + s->inflight_b + cost + qc_margin(maxb, QC_MARGIN_BYTES) <= maxb;
}

/* Counts Redis just gave for <account>. */
static void qc_learn(struct store *st, const char *account,
                     const redisReply *n, const redisReply *b)
{
    struct store_qc_slot *s = qc_slot(st, account);
    if (n->type != REDIS_REPLY_INTEGER || b->type != REDIS_REPLY_INTEGER ||
        strcmp(s->account, account) != 0)
        return;
    s->n = n->integer > 0 ? (uint64_t)n->integer : 0;
    s->b = b->integer > 0 ? (uint64_t)b->integer : 0;
    s->seen_ms = clock_mono_ms();
}

/* An add for <account> of <cost> bytes sent (1) or answered (0). */
static void qc_inflight(struct store *st, const char *account, int sent,
                        uint64_t cost)
{
    struct store_qc_slot *s = sent ? qc_claim(st, account)
                                   : qc_slot(st, account);
    if (!s || strcmp(s->account, account) != 0)
        return;
    if (sent) {
        s->inflight_n++;
        s->inflight_b += cost;
    } else {
        s->inflight_n -= s->inflight_n > 0;
        s->inflight_b -= s->inflight_b > cost ? cost : s->inflight_b;
    }
}

/* The script's answer: [entry id, n, b]; -1 or -2: over the account's
 * caps (or the shared body is gone): status 1, nothing was written. */
static void complete_queue_add(struct store *st, redisReply *r,
                               struct store_op *p)
{
    int status = -1;
    qc_inflight(st, p->id, 0, p->cost);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        status = 0;
        qc_learn(st, p->id, r->element[1], r->element[2]);
    } else if (r && r->type == REDIS_REPLY_INTEGER && r->integer < 0) {
        status = 1;
    }
    if (p->cb.done)
        p->cb.done(status, p->arg);
}

/* The transaction's answer: XADD's entry id, HINCRBY n and b, HSET,
 * EXPIRE. The record learns its entry (for cancel_sm and replace_sm in
 * the queue) right after; until then they answer as for an entry being
 * sent. */
static void complete_queue_add_multi(struct store *st, redisReply *r,
                                     struct store_op *p)
{
    redisReply *e = redis_conn_exec_reply(st->cmd, r);
    qc_inflight(st, p->id, 0, p->cost);
    if (e && e->elements >= 3 && e->element[0]->type == REDIS_REPLY_STRING) {
        qc_learn(st, p->id, e->element[1], e->element[2]);
        const char *set[] = {"HSET", p->ukey, "entry", e->element[0]->str};
        store_cmd(st, NULL, STORE_NO_CB, NULL, 4, set, NULL);
    } else {
        e = NULL;
    }
    if (p->cb.done)
        p->cb.done(e ? 0 : -1, p->arg);
}

/* A whole PDU (no shared body) for an account well under its caps. */
static struct store_op *queue_add_multi(struct store *st,
                                        const struct store_msg_info *mi,
                                        const uint8_t *pdu, size_t len,
                                        const char *mkey, const char *ckey,
                                        store_done_cb cb, void *arg)
{
    char ttl[16], cost[24];
    struct store_msg_new f;
    const char *rec[2 + STORE_MSG_NEW_ARGS] = {"HSET", mkey};
    snprintf(ttl, sizeof ttl, "%u", st->cfg.id_ttl_s);
    snprintf(cost, sizeof cost, "%zu", len);
    int nrec = 2 + store_msg_new_fields(mi, &f, rec + 2);
    const char *xadd[] = {"XADD", st->keys.queue, "*", "a", mi->account, "i",
                          mi->msg_id, "t", f.ts, "p", (const char *)pdu, "c",
                          cost};
    size_t xlens[ARRAY_LEN(xadd)];
    for (size_t i = 0; i < ARRAY_LEN(xadd); i++)
        xlens[i] = strlen(xadd[i]);
    xlens[10] = len;
    const char *gn[] = {"HINCRBY", ckey, "n", "1"};
    const char *gb[] = {"HINCRBY", ckey, "b", cost};
    const char *exp[] = {"EXPIRE", mkey, ttl};
    const struct redis_cmd cmds[] = {
        {(int)ARRAY_LEN(xadd), xadd, xlens}, {4, gn, NULL}, {4, gb, NULL},
        {nrec, rec, NULL}, {3, exp, NULL}};
    return store_multi_ex(st, complete_queue_add_multi, STORE_CB(done, cb),
                          arg, strlen(mkey) + 1, cmds, 5);
}

static struct store_op *queue_add_capped(struct store *st,
                                         const struct store_msg_info *mi,
                                         const uint8_t *pdu, size_t len,
                                         const char *mkey, const char *ckey,
                                         store_done_cb cb, void *arg)
{
    char bkey[KEY_LEN] = "", ttl[16], maxn[24], maxb[24];
    struct store_msg_new rec;
    const char *argv[12 + STORE_MSG_NEW_ARGS];
    size_t lens[ARRAY_LEN(argv)];
    int shared = mi->body_id != NULL && mi->head_len < len;
    if (shared)
        store_key_body(&st->keys, mi->account, mi->body_id, bkey);
    snprintf(ttl, sizeof ttl, "%u", st->cfg.id_ttl_s);
    snprintf(maxn, sizeof maxn, "%" PRIu64,
             mi->max_messages ? (uint64_t)mi->max_messages : UINT64_C(1) << 50);
    snprintf(maxb, sizeof maxb, "%" PRIu64,
             mi->max_bytes ? mi->max_bytes : UINT64_C(1) << 50);
    /* the record's own fields go last: from ARGV[9] */
    int argc = 12 + store_msg_new_fields(mi, &rec, argv + 12);
    const char *head[] = {
        st->keys.queue, mkey, ckey, bkey, mi->account, mi->msg_id, rec.ts,
        (const char *)pdu, maxn, maxb, ttl,
        shared && mi->body_create ? (const char *)pdu + mi->head_len : ""};
    memcpy(argv, head, sizeof head);
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    lens[7] = shared ? mi->head_len : len;
    lens[11] = shared && mi->body_create ? len - mi->head_len : 0;
    return store_eval(st, SCRIPT_QUEUE_ADD, complete_queue_add,
                      STORE_CB(done, cb), arg, 4, argc, argv, lens);
}

int store_queue_add(struct store *st, const struct store_msg_info *mi,
                    const uint8_t *pdu, size_t len, store_done_cb cb,
                    void *arg)
{
    char mkey[KEY_LEN], ckey[KEY_LEN];
    int shared = mi->body_id != NULL && mi->head_len < len;
    uint64_t cost = shared ? mi->head_len : len;
    int fast = !shared && qc_fits(st, mi, cost);
    store_key_msg(&st->keys, mi->account, mi->msg_id, mkey);
    store_key_queue_counts(&st->keys, mi->account, ckey);
    struct store_op *p =
        fast ? queue_add_multi(st, mi, pdu, len, mkey, ckey, cb, arg)
             : queue_add_capped(st, mi, pdu, len, mkey, ckey, cb, arg);
    if (!p)
        return -1;
    snprintf(p->id, sizeof p->id, "%s", mi->account);
    if (fast) {
        p->ukey = (char *)(p + 1); /* the record's key, the context's tail */
        memcpy(p->ukey, mkey, strlen(mkey) + 1);
    }
    p->cost = cost;
    qc_inflight(st, mi->account, 1, cost);
    return 0;
}

int store_queue_read(struct store *st, unsigned count, unsigned block_ms,
                     store_entries_cb cb, void *arg)
{
    char cnt[16], blk[16];
    if (st->reading)
        return -1;
    snprintf(cnt, sizeof cnt, "%u", count);
    snprintf(blk, sizeof blk, "%u", block_ms);
    const char *argv[] = {"XREADGROUP", "GROUP", "bridge", st->consumer,
                          "COUNT", cnt, "BLOCK", blk, "STREAMS",
                          st->keys.queue, ">"};
    struct store_op *p = store_send(st, st->consumer_conn,
                                    block_ms + st->cfg.timeout_ms,
                                    complete_read, STORE_CB(entries, cb),
                                    arg, 0, 11, argv, NULL);
    if (!p)
        return -1;
    st->reading = 1;
    return 0;
}

int store_queue_read_own(struct store *st, unsigned count, const char *after,
                         store_entries_cb cb, void *arg)
{
    char cnt[16];
    snprintf(cnt, sizeof cnt, "%u", count);
    const char *argv[] = {"XREADGROUP", "GROUP", "bridge", st->consumer,
                          "COUNT", cnt, "STREAMS", st->keys.queue, after};
    return store_cmd(st, complete_read_own, STORE_CB(entries, cb), arg, 9, argv,
                     NULL) ? 0 : -1;
}

int store_queue_touch(struct store *st, const char *const *ids, size_t n)
{
    const char *argv[6 + MAX_TOUCH];
    if (n == 0 || n > MAX_TOUCH)
        return -1;
    argv[0] = "XCLAIM";
    argv[1] = st->keys.queue;
    argv[2] = "bridge";
    argv[3] = st->consumer;
    argv[4] = "0";
    for (size_t i = 0; i < n; i++)
        argv[5 + i] = ids[i];
    argv[5 + n] = "JUSTID";
    return store_cmd(st, NULL, STORE_NO_CB, NULL, (int)n + 6, argv,
                     NULL) ? 0 : -1;
}

int store_queue_claim(struct store *st, unsigned idle_ms, unsigned count,
                      store_entries_cb cb, void *arg)
{
    char idle[16], cnt[16];
    snprintf(idle, sizeof idle, "%u", idle_ms);
    snprintf(cnt, sizeof cnt, "%u", count);
    if (!st->claim_cursor[0])
        snprintf(st->claim_cursor, sizeof st->claim_cursor, "0-0");
    const char *argv[] = {"XAUTOCLAIM", st->keys.queue, "bridge",
                          st->consumer, idle,
                          st->claim_cursor, "COUNT", cnt};
    return store_cmd(st, complete_claim, STORE_CB(entries, cb), arg, 8, argv,
                     NULL) ? 0 : -1;
}

int store_queue_entry(struct store *st, const char *entry_id,
                      store_entries_cb cb, void *arg)
{
    const char *argv[] = {"XRANGE", st->keys.queue, entry_id, entry_id};
    return store_cmd(st, store_complete_range, STORE_CB(entries, cb), arg, 4,
                     argv, NULL) ? 0 : -1;
}

static void complete_queue_stats(struct store *st, redisReply *r,
                                 struct store_op *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_INTEGER) {
        p->cb.qstats(-1, 0, 0, p->arg);
        return;
    }
    uint64_t depth = (uint64_t)r->element[0]->integer, age = 0;
    uint64_t now = (uint64_t)r->element[2]->integer;
    /* an entry id is "MS-SEQ": MS is when Redis added it */
    unsigned long long first = strtoull(r->element[1]->str, NULL, 10);
    if (r->element[1]->len && first && now > first)
        age = now - first;
    p->cb.qstats(0, depth, age, p->arg);
}

int store_queue_stats(struct store *st, store_queue_stats_cb cb, void *arg)
{
    const char *argv[] = {st->keys.queue};
    return store_eval(st, SCRIPT_QUEUE_STATS, complete_queue_stats,
                      STORE_CB(qstats, cb), arg, 1, 1, argv, NULL) ? 0 : -1;
}

void store_queue_free_jobs(struct store *st)
{
    while (st->body_jobs)
        body_job_free(st->body_jobs);
}

const struct store_script_def store_queue_scripts[] = {
    {SCRIPT_QUEUE_ADD, queue_add_script},
    {SCRIPT_BODIES, bodies_script},
    {SCRIPT_QUEUE_STATS, queue_stats_script},
    STORE_SCRIPTS_END,
};
