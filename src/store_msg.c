/*
 * store_msg.c - the message record P:msg:{ACCT}:ID and every change of
 * its state: created QUEUED with the queue entry (store_msg_new_fields,
 * written by store_queue_add's script), then ENROUTE once upstream took
 * it (store_queue_sent), and a final state by upstream's refusal, an
 * outcome that stayed unknown, a receipt, cancel_sm; replace_sm swaps
 * its entry. The Lua of those transitions, the CDR each final state
 * writes, and the reading of a record (query_sm, cancel_sm) are here.
 *
 * The record's fields (docs/architecture.md lists them): state, account,
 * id, submitted, src_ton, src_npi, src, dst, parts, entry (while
 * QUEUED), connector, upstream_id, sent, final, error, upstream_status,
 * resent, unknown_copies, receipted.
 */
#include "common.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pdu.h"
#include "redis_conn.h"
#include "store.h"
#include "store_int.h"
#include "store_keys.h"

static void receipt_job_free(struct receipt_job *j);

/* Field <name> of an HGETALL reply (NULL when absent). */
static const char *hash_field(const redisReply *r, const char *name)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            r->element[i + 1]->type == REDIS_REPLY_STRING &&
            strcmp(r->element[i]->str, name) == 0)
            return r->element[i + 1]->str;
    return NULL;
}

static unsigned long long field_num(const char *v)
{
    return v ? strtoull(v, NULL, 10) : 0;
}

/* ---- a new record ---------------------------------------------------- */

int store_msg_new_fields(const struct store_msg_info *mi,
                         struct store_msg_new *f, const char **argv)
{
    snprintf(f->ts, sizeof f->ts, "%" PRIu64, mi->ts_ms);
    snprintf(f->ton, sizeof f->ton, "%u", mi->src_ton);
    snprintf(f->npi, sizeof f->npi, "%u", mi->src_npi);
    const char *fields[STORE_MSG_NEW_ARGS] = {
        "state", "QUEUED", "account", mi->account, "id", mi->msg_id,
        "submitted", f->ts, "src_ton", f->ton, "src_npi", f->npi,
        "src", mi->src, "dst", mi->dst, "parts", mi->parts};
    memcpy(argv, fields, sizeof fields);
    return STORE_MSG_NEW_ARGS;
}

/* ---- transitions in Lua ---------------------------------------------- */

/*
 * Message state. Each accepted message has a hash P:msg:{ACCT}:ID (see
 * store_keys.h) whose field "state" moves QUEUED -> ENROUTE -> a final state
 * (or QUEUED -> DELETED by cancel_sm, QUEUED -> REJECTED by upstream).
 * A CDR is the hash (its queue entry field deleted first) appended to
 * P:cdr when the message's life here ends. The function below is
 * prefixed to every script that may end one: KEYS of the caller, the
 * maxlen as an argument. A final state without a script: receipt_job.
 */
#define CDR_LUA                                                              \
    "local function cdr(mkey, ckey, maxlen) "                                \
    "if ckey == '' or tonumber(maxlen) == 0 then return end "                \
    "local h = redis.call('HGETALL', mkey) "                                 \
    "if #h == 0 then return end "                                            \
    "redis.call('XADD', ckey, 'MAXLEN', '~', maxlen, '*', unpack(h)) end "

/*
 * Removing a queue entry, the one way every script does it: XDEL, and
 * when the entry was really there (a second finish of the same entry
 * finds nothing), give its account back what it cost (its field c, in
 * bytes, and one message) in the counter hash P:qc:{ACCT} (<ckey>), and
 * drop its reference to a shared body (field r: a submit_multi's common
 * part, see store_queue_add); the last reference deletes the body and
 * gives its bytes back too: the amount the entry itself carries (field
 * rb, what the body cost when the entry was added), so the exact cost
 * comes back even when the body is no longer there (it lived id_ttl
 * in older versions). A body lost that way is given back by each of its
 * entries, too much rather than never: the count heals at 0, where a
 * count too high would refuse the account for good. Entries written
 * before the counters existed
 * have no field c and were never counted: nothing to give back. The
 * counts never go below 0, so a counter hash lost or reset heals. (A
 * zero is never passed to HINCRBY: Lua writes -0 as "-0", which Redis
 * refuses as an integer, and a script stopped by an error keeps what it
 * already wrote.)
 */
#define QDEL_LUA                                                             \
    "local function qgive1(ckey, f, v) "                                     \
    "if ckey == '' or v == 0 then return end "                               \
    "if redis.call('HINCRBY', ckey, f, -v) < 0 then "                        \
    "redis.call('HSET', ckey, f, 0) end end "                                \
    "local function qgive(ckey, n, b) "                                      \
    "qgive1(ckey, 'n', n) qgive1(ckey, 'b', b) end "                         \
    "local function qdel(q, id, ckey) "                                      \
    "local e = redis.call('XRANGE', q, id, id) "                             \
    "local n = redis.call('XDEL', q, id) "                                   \
    "if n == 0 or #e == 0 then return n end "                                \
    "local f, c, r, rb = e[1][2], nil, nil, nil "                            \
    "for j = 1, #f - 1, 2 do "                                               \
    "if f[j] == 'c' then c = tonumber(f[j + 1]) "                            \
    "elseif f[j] == 'r' then r = f[j + 1] "                                  \
    "elseif f[j] == 'rb' then rb = tonumber(f[j + 1]) end end "              \
    "if c then qgive(ckey, 1, c) end "                                       \
    "if r and redis.call('HINCRBY', r, 'refs', -1) <= 0 then "               \
    "local bl = rb or tonumber(redis.call('HGET', r, 'bytes')) or "          \
    "redis.call('HSTRLEN', r, 'd') "                                         \
    "redis.call('DEL', r) "                                                  \
    "if c then qgive(ckey, 0, bl) end end "                                  \
    "return n end "

/* Finishing a queue entry after upstream answered. KEYS[1] queue, KEYS[2]
 * id map key or "", KEYS[3] message, KEYS[4] CDR stream, KEYS[5] the
 * account's queue counters; ARGV[1] entry
 * id, ARGV[2] map value, ARGV[3] TTL s, ARGV[4] new state (ENROUTE,
 * REJECTED or UNKNOWN), ARGV[5] connector, ARGV[6] upstream id or
 * upstream status, ARGV[7] now ms, ARGV[8] "1" when the life ends here
 * (refused, or accepted without a usable id), ARGV[9] CDR maxlen,
 * ARGV[10] "1" when the message was sent again after an unknown outcome
 * (the CDR's "resent" field), ARGV[11] final_ttl. An ENROUTE record lives
 * id_ttl from now: its receipt may come that late; a REJECTED one
 * final_ttl (an UNKNOWN one keeps id_ttl: its receipt may still come). */
static const char finish_script[] =
    CDR_LUA QDEL_LUA
    "if KEYS[2] ~= '' then "
    "redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end "
    "redis.call('XACK', KEYS[1], 'bridge', ARGV[1]) "
    "local n = qdel(KEYS[1], ARGV[1], KEYS[5]) "
    "if redis.call('HGET', KEYS[3], 'state') == 'QUEUED' then "
    "if ARGV[4] == 'ENROUTE' then "
    "redis.call('HSET', KEYS[3], 'state', 'ENROUTE', 'connector', ARGV[5], "
    "'upstream_id', ARGV[6], 'sent', ARGV[7]) "
    "redis.call('EXPIRE', KEYS[3], ARGV[3]) "
    "else redis.call('HSET', KEYS[3], 'state', ARGV[4], 'upstream_status', "
    "ARGV[6], 'final', ARGV[7]) end "
    "if ARGV[10] == '1' then redis.call('HSET', KEYS[3], 'resent', '1') end "
    "redis.call('HDEL', KEYS[3], 'entry') "
    "if ARGV[8] == '1' then cdr(KEYS[3], KEYS[4], ARGV[9]) "
    "if ARGV[4] == 'REJECTED' then redis.call('EXPIRE', KEYS[3], ARGV[11]) "
    "end end end "
    "return n";

/* After a submit_sm_resp with an id: map it, finish the entry, the
 * message is ENROUTE. KEYS[1] queue, KEYS[2] id map key, KEYS[3]
 * message, KEYS[4] the account's queue counters; ARGV[1] entry id,
 * ARGV[2] map value, ARGV[3] TTL s, ARGV[4] connector, ARGV[5] upstream
 * id as written, ARGV[6] now ms, ARGV[7] "1" when it was sent again
 * after an unknown outcome (field "resent"). The id map is set only when
 * the id is not mapped yet: an id upstream gave to another message too
 * is never overwritten, and the reply, the value it had ("" when none),
 * says whose it was (complete_sent). The record changes only while it
 * is not final: this runs for entries with a shared body, and again for
 * any entry whose first recording's answer was lost (it may have been
 * applied, and the final receipt may have come since). */
static const char sent_script[] =
    QDEL_LUA
    "local old = redis.call('GET', KEYS[2]) "
    "if not old then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end "
    "redis.call('XACK', KEYS[1], 'bridge', ARGV[1]) "
    "qdel(KEYS[1], ARGV[1], KEYS[4]) "
    "local s = redis.call('HGET', KEYS[3], 'state') "
    "if s == 'QUEUED' or s == 'ENROUTE' or s == 'UNKNOWN' then "
    "redis.call('HSET', KEYS[3], 'state', 'ENROUTE', 'connector', ARGV[4], "
    "'upstream_id', ARGV[5], 'sent', ARGV[6]) "
    "if ARGV[7] == '1' then redis.call('HSET', KEYS[3], 'resent', '1') end "
    "redis.call('EXPIRE', KEYS[3], ARGV[3]) end return old or ''";

/* cancel_sm. KEYS[1] queue, KEYS[2] message, KEYS[3] CDR stream, KEYS[4]
 * the account's queue counters; ARGV now ms, maxlen, final_ttl. An entry
 * an instance has read (it is in the group's pending list) may be on the
 * wire already: BUSY, never a false "cancelled"; so may one whose record
 * has not learnt its entry yet (store_queue_add). */
static const char msg_cancel_script[] =
    CDR_LUA QDEL_LUA
    "local v = redis.call('HMGET', KEYS[2], 'state', 'entry', 'connector', "
    "'upstream_id', 'src_ton', 'src_npi', 'src') "
    "if not v[1] then return {0} end "
    "if v[1] == 'ENROUTE' then return {2, v[3], v[4], v[5], v[6], v[7]} end "
    "if v[1] ~= 'QUEUED' then return {3} end "
    "if not v[2] then return {4} end "
    "if #redis.call('XPENDING', KEYS[1], 'bridge', v[2], v[2], 1) > 0 then "
    "return {4} end "
    "if qdel(KEYS[1], v[2], KEYS[4]) == 0 then return {4} end "
    "redis.call('HSET', KEYS[2], 'state', 'DELETED', 'final', ARGV[1]) "
    "redis.call('HDEL', KEYS[2], 'entry') "
    "cdr(KEYS[2], KEYS[3], ARGV[2]) "
    "redis.call('EXPIRE', KEYS[2], ARGV[3]) return {1}";

/* replace_sm in the queue. KEYS[1] queue, KEYS[2] message, KEYS[3] the
 * account's queue counters; ARGV old entry, pdu, account, id, ts. 1
 * replaced, 0 too late. The new entry is whole (no shared body) and
 * costs its own bytes: one message for one, so no cap is checked. */
static const char msg_replace_script[] =
    QDEL_LUA
    "local v = redis.call('HMGET', KEYS[2], 'state', 'entry') "
    "if v[1] ~= 'QUEUED' or v[2] ~= ARGV[1] then return 0 end "
    "if #redis.call('XPENDING', KEYS[1], 'bridge', ARGV[1], ARGV[1], 1) > 0 "
    "then return 0 end "
    "if qdel(KEYS[1], ARGV[1], KEYS[3]) == 0 then return 0 end "
    "local e = redis.call('XADD', KEYS[1], '*', 'a', ARGV[3], 'i', ARGV[4], "
    "'t', ARGV[5], 'p', ARGV[2], 'c', #ARGV[2]) "
    "redis.call('HINCRBY', KEYS[3], 'n', 1) "
    "redis.call('HINCRBY', KEYS[3], 'b', #ARGV[2]) "
    "redis.call('HSET', KEYS[2], 'entry', e) return 1";

/* ---- the end of a queue entry ---------------------------------------- */

/* The finish script (see finish_script); <ukey> "" when there is no id
 * map to write. */
static int run_finish(struct store *st, const char *entry_id, const char *ukey,
                      const char *val, const char *ttl, const char *mkey,
                      const char *qckey, const char *state,
                      const char *connector, const char *upstream, int ends,
                      int resent,
                      store_done_cb cb, void *arg)
{
    char now[24], maxlen[16], fttl[16];
    snprintf(now, sizeof now, "%" PRIu64, clock_wall_ms());
    snprintf(maxlen, sizeof maxlen, "%u", st->cfg.cdr_maxlen);
    snprintf(fttl, sizeof fttl, "%u", st->cfg.final_ttl_s);
    const char *argv[] = {st->keys.queue, ukey, mkey, st->keys.cdr, qckey,
                          entry_id, val, ttl, state, connector, upstream, now,
                          ends ? "1" : "0", maxlen, resent ? "1" : "0", fttl};
    return store_eval(st, SCRIPT_FINISH, store_complete_done,
                      STORE_CB(done, cb), arg, 5, 16, argv, NULL) ? 0 : -1;
}

int store_queue_failed(struct store *st, const char *entry_id,
                       const char *account, const char *msg_id,
                       uint32_t status, int resent, store_done_cb cb,
                       void *arg)
{
    char mkey[KEY_LEN], qckey[KEY_LEN];
    store_key_msg(&st->keys, account, msg_id, mkey);
    store_key_queue_counts(&st->keys, account, qckey);
    return run_finish(st, entry_id, "", "", "0", mkey, qckey,
                      status == ESME_ROK ? "UNKNOWN" : "REJECTED", "",
                      pdu_status_name(status), 1, resent, cb, arg);
}

int store_queue_unknown(struct store *st, const char *entry_id,
                        const char *account, const char *msg_id,
                        const char *why, int resent, store_done_cb cb,
                        void *arg)
{
    char mkey[KEY_LEN], qckey[KEY_LEN];
    store_key_msg(&st->keys, account, msg_id, mkey);
    store_key_queue_counts(&st->keys, account, qckey);
    return run_finish(st, entry_id, "", "", "0", mkey, qckey, "UNKNOWN", "",
                      why, 1, resent, cb, arg);
}

/* A fact about a queued message that must outlive this process (see
 * store_msg_note_unknown): KEYS[1] the record; ARGV[1] "copy" (one more
 * copy whose outcome is unknown: field unknown_copies) or "resent" (a copy
 * went out after one: field resent). Only while the message is QUEUED: a
 * finished record keeps its final fields, and one that expired is not
 * made again (it would have no TTL). */
static const char note_unknown_script[] =
    "if redis.call('HGET', KEYS[1], 'state') ~= 'QUEUED' then return 0 end "
    "if ARGV[1] == 'copy' then "
    "return redis.call('HINCRBY', KEYS[1], 'unknown_copies', 1) end "
    "redis.call('HSET', KEYS[1], 'resent', '1') return 1";

int store_msg_note_unknown(struct store *st, const char *account,
                           const char *msg_id, int resent)
{
    char mkey[KEY_LEN];
    store_key_msg(&st->keys, account, msg_id, mkey);
    const char *argv[] = {mkey, resent ? "resent" : "copy"};
    return store_eval(st, SCRIPT_NOTE_UNKNOWN, store_complete_done, STORE_NO_CB,
                      NULL, 1, 2, argv, NULL) ? 0 : -1;
}

/* HMGET unknown_copies resent: [count or nil, "1" or nil]. */
static void complete_unknown(struct store *st, redisReply *r,
                             struct store_op *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        p->cb.unknown(-1, 0, 0, p->arg);
        return;
    }
    const redisReply *c = r->element[0], *s = r->element[1];
    unsigned long copies = c->type == REDIS_REPLY_STRING
                               ? strtoul(c->str, NULL, 10) : 0;
    int resent = s->type == REDIS_REPLY_STRING && s->len == 1 &&
                 s->str[0] == '1';
    p->cb.unknown(0, copies > 1000 ? 1000 : (unsigned)copies, resent, p->arg);
}

int store_msg_unknown(struct store *st, const char *account,
                      const char *msg_id, store_unknown_cb cb, void *arg)
{
    char mkey[KEY_LEN];
    store_key_msg(&st->keys, account, msg_id, mkey);
    const char *argv[] = {"HMGET", mkey, "unknown_copies", "resent"};
    return store_cmd(st, complete_unknown, STORE_CB(unknown, cb), arg, 4, argv,
                     NULL) ? 0 : -1;
}

/* KEYS[1] an account's queue counters: a count below 0 (the hash was
 * lost or reset while entries it counted were queued) is set to 0, in
 * one step, so that any number of such fixes cannot overshoot. */
static const char qc_floor_script[] =
    "for _, f in ipairs({'n', 'b'}) do "
    "if (tonumber(redis.call('HGET', KEYS[1], f)) or 0) < 0 then "
    "redis.call('HSET', KEYS[1], f, 0) end end return 0";

/* The account's counters after the entry's cost was given back: an
 * entry that was not there any more (XDEL found nothing: a second finish
 * of the same entry) had nothing to give back, so the amounts are added
 * again; a count seen below 0 is raised to 0 (qc_floor_script). */
static void qc_settle(struct store *st, const char *account, int removed,
                      size_t cost, const redisReply *n, const redisReply *b)
{
    char key[KEY_LEN], db[24];
    store_key_queue_counts(&st->keys, account, key);
    if (!removed) {
        snprintf(db, sizeof db, "%zu", cost);
        const char *gn[] = {"HINCRBY", key, "n", "1"};
        const char *gb[] = {"HINCRBY", key, "b", db};
        store_cmd(st, NULL, STORE_NO_CB, NULL, 4, gn, NULL);
        store_cmd(st, NULL, STORE_NO_CB, NULL, 4, gb, NULL);
    }
    int below = (n && n->type == REDIS_REPLY_INTEGER && n->integer < 0) ||
                (b && b->type == REDIS_REPLY_INTEGER && b->integer < 0);
    if (below) {
        const char *argv[] = {key};
        store_eval(st, SCRIPT_QC_FLOOR, store_complete_done, STORE_NO_CB, NULL,
                   1, 1, argv, NULL);
    }
}

/* The script's reply: the id map's value before ("" when none). */
static void complete_sent(struct store *st, redisReply *r, struct store_op *p)
{
    if (r && r->type == REDIS_REPLY_STRING && r->len > 0)
        store_idmap_sent(st, p, r);
    if (p->cb.done)
        p->cb.done(r ? 0 : -1, p->arg);
}

/* The transaction's reply: SET's (the value before, nil when none), XACK,
 * XDEL, then HINCRBY n and b when the entry was counted. */
static void complete_sent_multi(struct store *st, redisReply *r,
                                struct store_op *p)
{
    redisReply *e = redis_conn_exec_reply(st->cmd, r);
    if (e && e->elements >= 3) {
        const redisReply *old = e->element[0], *del = e->element[2];
        if (old->type == REDIS_REPLY_STRING && old->len > 0)
            store_idmap_sent(st, p, old);
        if (p->cost)
            qc_settle(st, p->id,
                      del->type == REDIS_REPLY_INTEGER && del->integer > 0,
                      p->cost, e->elements > 3 ? e->element[3] : NULL,
                      e->elements > 4 ? e->element[4] : NULL);
    }
    if (p->cb.done)
        p->cb.done(e ? 0 : -1, p->arg);
}

/* What both ways of recording a sent message share. */
struct sent_args {
    char ukey[KEY_LEN], mkey[KEY_LEN], qckey[KEY_LEN];
    char val[128], ttl[16], now[24], cost[24];
};

static void sent_args_fill(struct store *st, struct sent_args *a,
                           const struct store_entry_ref *entry,
                           const char *connector, const char *upstream_id,
                           const struct store_idmap *m, unsigned ttl_s)
{
    store_key_idmap(&st->keys, connector, upstream_id, a->ukey);
    store_key_msg(&st->keys, m->account, m->msg_id, a->mkey);
    store_idmap_value(m, a->val, sizeof a->val);
    snprintf(a->ttl, sizeof a->ttl, "%u", ttl_s);
    store_key_queue_counts(&st->keys, m->account, a->qckey);
    snprintf(a->now, sizeof a->now, "%" PRIu64, clock_wall_ms());
    snprintf(a->cost, sizeof a->cost, "-%zu", entry->cost);
}

/* An entry without a shared body, in one transaction: no script, and no
 * read of the entry, because its cost came with it (Lua's own overhead
 * was most of Redis's time for a message). SET NX GET (Redis 7.0) writes
 * the id map only when the id is not mapped yet, and says whose it was. */
static struct store_op *sent_multi(struct store *st, const struct sent_args *a,
                                   const struct store_entry_ref *entry,
                                   const char *connector,
                                   const char *upstream_raw, int resent,
                                   store_done_cb cb, void *arg)
{
    const char *set[] = {"SET", a->ukey, a->val, "NX", "GET", "EX", a->ttl};
    const char *ack[] = {"XACK", st->keys.queue, "bridge", entry->id};
    const char *del[] = {"XDEL", st->keys.queue, entry->id};
    const char *gn[] = {"HINCRBY", a->qckey, "n", "-1"};
    const char *gb[] = {"HINCRBY", a->qckey, "b", a->cost};
    const char *rec[] = {"HSET", a->mkey, "state", "ENROUTE", "connector",
                         connector, "upstream_id", upstream_raw, "sent", a->now,
                         "resent", "1"};
    const char *exp[] = {"EXPIRE", a->mkey, a->ttl};
    struct redis_cmd cmds[7];
    int n = 0;
    cmds[n++] = (struct redis_cmd){7, set, NULL};
    cmds[n++] = (struct redis_cmd){4, ack, NULL};
    cmds[n++] = (struct redis_cmd){3, del, NULL};
    if (entry->cost) {
        cmds[n++] = (struct redis_cmd){4, gn, NULL};
        cmds[n++] = (struct redis_cmd){4, gb, NULL};
    }
    cmds[n++] = (struct redis_cmd){resent ? 12 : 10, rec, NULL};
    cmds[n++] = (struct redis_cmd){3, exp, NULL};
    return store_multi_ex(st, complete_sent_multi, STORE_CB(done, cb), arg,
                          strlen(a->ukey) + 1, cmds, n);
}

int store_queue_sent(struct store *st, const struct store_entry_ref *entry,
                     const char *connector, const char *upstream_id,
                     const char *upstream_raw, const struct store_idmap *m,
                     unsigned ttl_s, store_done_cb cb, void *arg)
{
    struct sent_args a;
    struct store_op *p;
    sent_args_fill(st, &a, entry, connector, upstream_id, m, ttl_s);
    size_t ukey_len = strlen(a.ukey);
    /* The record cannot be final yet: its receipt is matched through the
     * id map written here, and an entry an instance holds is never
     * cancelled. It lives id_ttl from now: its receipt may come so late.
     * The final receipt is always asked for upstream: the life of the
     * message (and its CDR) ends with it. Its "entry" field stays: only a
     * QUEUED record's entry is used, and the CDR leaves it out. An entry
     * with a shared body gives the body's reference back too, and a
     * retry must not undo a final state: the script does those. */
    if (!entry->shared && !entry->retry) {
        p = sent_multi(st, &a, entry, connector, upstream_raw, m->resent, cb,
                       arg);
    } else {
        const char *argv[] = {st->keys.queue, a.ukey, a.mkey, a.qckey,
                              entry->id, a.val, a.ttl, connector, upstream_raw,
                              a.now, m->resent ? "1" : "0"};
        p = store_eval_ex(st, SCRIPT_SENT, complete_sent, STORE_CB(done, cb),
                          arg, ukey_len + 1, 4, 11, argv, NULL);
    }
    if (!p)
        return -1;
    p->ukey = (char *)(p + 1); /* the context's tail, freed with it */
    memcpy(p->ukey, a.ukey, ukey_len + 1);
    p->ttl_s = ttl_s;
    p->cost = entry->shared || entry->retry ? 0 : entry->cost;
    snprintf(p->id, sizeof p->id, "%s", m->account);
    snprintf(p->msg_id, sizeof p->msg_id, "%s", m->msg_id);
    return 0;
}

/* ---- a final state without Lua --------------------------------------- */

/* A final receipt in two steps, without Lua (scripts cost Redis several
 * times what the same commands cost bare): read the message's record,
 * then one transaction writes its final state, its CDR (the record with
 * the final fields) and the customer's copy of the receipt. A record
 * already final is left alone: a receipt upstream sent twice makes no
 * second CDR, and a record a real final receipt already reached (field
 * "receipted", set by the first whether or not the customer asked for
 * it) gives the customer no second one - the second copy of a message
 * sent again after an unknown outcome has its own receipt, which may
 * differ (DELIVRD, then UNDELIV). A record that ended UNKNOWN still
 * passes the real one on. Read and write are two steps: two instances
 * taking the two copies' receipts in the same few milliseconds may both
 * pass theirs on; a script would close that, at the cost above. */

struct receipt_job {
    struct store *st;
    char account[16], msg_id[32], state[16], final_ms[24], error[16];
    char map_key[KEY_LEN];  /* the id map entry that found it, or "" */
    int from_upstream;  /* a real receipt (store_msg_final: not) */
    uint8_t *pdu;
    size_t len;
    store_done_cb cb;
    void *arg;
    struct receipt_job *prev, *next;
};

static void receipt_job_free(struct receipt_job *j)
{
    struct store *st = j->st;
    if (j->prev)
        j->prev->next = j->next;
    else
        st->receipt_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    free(j->pdu);
    free(j);
}

static void receipt_job_done(struct receipt_job *j, int status)
{
    if (j->cb)
        j->cb(status, j->arg);
    receipt_job_free(j);
}

static void complete_receipt_exec(struct store *st, redisReply *r,
                                  struct store_op *p)
{
    struct receipt_job *j = p->arg;
    redisReply *e = redis_conn_exec_reply(st->cmd, r);
    if (e && j->pdu)
        store_dlr_measured(st, j->account, e);
    receipt_job_done(j, e ? 0 : -1);
}

static int is_final_state(const char *s)
{
    return s && strcmp(s, "QUEUED") != 0 && strcmp(s, "ENROUTE") != 0;
}

#define CDR_MAX_ARGS 64

/* A final receipt's transaction being put together: the commands and
 * the arguments they point at. */
struct final_txn {
    char mkey[KEY_LEN], dkey[KEY_LEN], maxlen[16], ttl[16];
    const char *cdr[CDR_MAX_ARGS], *hset[8], *hdel[CDR_MAX_ARGS];
    const char *xadd[5], *mark[4], *xlen[2], *exp[3], *mexp[3];
    size_t xlens[5];
    struct redis_cmd cmds[9];
    int n;
};

/* What a record keeps once its message's life has ended: what query_sm
 * answers with and checks (state, final date, error, the source
 * address), the connector and upstream's id for the operator who asks
 * upstream about it, and the marker that holds back a second copy's
 * receipt. The rest is in its CDR. */
static const char *const final_kept[] = {"state", "final", "error", "src",
                                         "connector", "upstream_id",
                                         "receipted"};

static int final_kept_field(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(final_kept); i++)
        if (strcmp(name, final_kept[i]) == 0)
            return 1;
    return 0;
}

/* The record shrinks to what it keeps, and it and the id map entry that
 * found it (<map_key>, "" when none) live final_ttl from now. */
static void final_shrink_cmds(struct store *st, const char *map_key,
                              const redisReply *r, struct final_txn *x)
{
    int nd = 0;
    x->hdel[nd++] = "HDEL";
    x->hdel[nd++] = x->mkey;
    for (size_t i = 0; i + 1 < r->elements && nd < CDR_MAX_ARGS; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING &&
            !final_kept_field(r->element[i]->str))
            x->hdel[nd++] = r->element[i]->str;
    if (nd > 2)
        x->cmds[x->n++] = (struct redis_cmd){nd, x->hdel, NULL};
    snprintf(x->ttl, sizeof x->ttl, "%u", st->cfg.final_ttl_s);
    /* A message sent more than once (after an unknown outcome) has
     * another copy whose id map lives id_ttl: its record, which holds
     * that copy's receipt back, keeps the id_ttl it has. */
    int copies = hash_field(r, "resent") || hash_field(r, "unknown_copies");
    x->exp[0] = "EXPIRE", x->exp[1] = x->mkey, x->exp[2] = x->ttl;
    if (!copies)
        x->cmds[x->n++] = (struct redis_cmd){3, x->exp, NULL};
    if (map_key[0]) {
        x->mexp[0] = "EXPIRE", x->mexp[1] = map_key, x->mexp[2] = x->ttl;
        x->cmds[x->n++] = (struct redis_cmd){3, x->mexp, NULL};
    }
}

/* The final state, and the CDR: the record <r> with the final fields. */
static void final_state_cmds(struct store *st, const struct receipt_job *j,
                             const redisReply *r, struct final_txn *x)
{
    int nc = 0;
    const char *h[] = {"HSET", x->mkey, "state", j->state, "final",
                       j->final_ms, "error", j->error};
    memcpy(x->hset, h, sizeof h);
    x->cmds[x->n++] = (struct redis_cmd){8, x->hset, NULL};
    final_shrink_cmds(st, j->map_key, r, x);
    if (!st->cfg.cdr_maxlen)
        return;
    snprintf(x->maxlen, sizeof x->maxlen, "%u", st->cfg.cdr_maxlen);
    const char *head[] = {"XADD", st->keys.cdr, "MAXLEN", "~", x->maxlen,
                          "*", "state", j->state, "final", j->final_ms,
                          "error", j->error};
    for (size_t i = 0; i < ARRAY_LEN(head); i++)
        x->cdr[nc++] = head[i];
    for (size_t i = 0; i + 1 < r->elements && nc + 2 <= CDR_MAX_ARGS; i += 2) {
        const char *k = r->element[i]->str;
        if (strcmp(k, "state") && strcmp(k, "final") && strcmp(k, "error") &&
            strcmp(k, "entry")) {
            x->cdr[nc++] = k;
            x->cdr[nc++] = r->element[i + 1]->str;
        }
    }
    x->cmds[x->n++] = (struct redis_cmd){nc, x->cdr, NULL};
}

/* The receipt marker and the customer's copy, unless a real final
 * receipt reached the record before (<held_back>). */
static void final_receipt_cmds(const struct receipt_job *j, int has_record,
                               int held_back, struct final_txn *x)
{
    if (j->from_upstream && !held_back && has_record) {
        const char *k[] = {"HSET", x->mkey, "receipted", "1"};
        memcpy(x->mark, k, sizeof k);
        x->cmds[x->n++] = (struct redis_cmd){4, x->mark, NULL};
    }
    if (j->pdu && !held_back) {
        const char *a[] = {"XADD", x->dkey, "*", "p", (const char *)j->pdu};
        size_t l[] = {4, strlen(x->dkey), 1, 1, j->len};
        memcpy(x->xadd, a, sizeof a);
        memcpy(x->xlens, l, sizeof l);
        x->cmds[x->n++] = (struct redis_cmd){5, x->xadd, x->xlens};
        x->xlen[0] = "XLEN", x->xlen[1] = x->dkey;
        x->cmds[x->n++] = (struct redis_cmd){2, x->xlen, NULL}; /* last */
    }
}

static void complete_receipt_record(struct store *st, redisReply *r,
                                    struct store_op *p)
{
    struct receipt_job *j = p->arg;
    struct final_txn x;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        receipt_job_done(j, -1);
        return;
    }
    if (j->pdu && store_dlr_full(st, j->account)) {
        store_dlr_refused(st, j->account); /* nothing written: comes again */
        receipt_job_done(j, STORE_FULL);
        return;
    }
    x.n = 0;
    store_key_msg(&st->keys, j->account, j->msg_id, x.mkey);
    store_key_receipts(&st->keys, j->account, x.dkey);
    const char *state = hash_field(r, "state");
    if (r->elements > 0 && !is_final_state(state))
        final_state_cmds(st, j, r, &x);
    /* The marker goes on whenever a real receipt reaches the record,
     * whether or not the customer wanted this one (registered_delivery
     * 2 asks for failures only): the first final receipt decides, a
     * second copy's must not follow it. A state we set ourselves (a
     * cancel upstream: DELETED) is no receipt: upstream's own one for
     * it still goes to the customer. */
    int held_back = r->elements > 0 && is_final_state(state) &&
                    strcmp(state, "UNKNOWN") != 0 && hash_field(r, "receipted");
    final_receipt_cmds(j, r->elements > 0, held_back, &x);
    if (x.n == 0) {
        receipt_job_done(j, 0); /* no record (older than id_ttl), none wanted */
        return;
    }
    if (!store_multi(st, complete_receipt_exec, STORE_NO_CB, j, x.cmds, x.n))
        receipt_job_done(j, -1);
}

/* A final state for the record: store_receipt_add's job, <from_upstream>
 * when a real receipt brought it. */
int store_msg_final_add(struct store *st, const char *account,
                        const char *msg_id, const char *map_key,
                        const char *final_state, uint64_t final_ms,
                        unsigned error, int from_upstream, const uint8_t *pdu,
                        size_t len, store_done_cb cb, void *arg)
{
    struct receipt_job *j = calloc(1, sizeof *j);
    if (!j || (pdu && !(j->pdu = malloc(len)))) {
        free(j);
        return -1;
    }
    j->st = st;
    j->from_upstream = from_upstream;
    snprintf(j->account, sizeof j->account, "%s", account);
    snprintf(j->msg_id, sizeof j->msg_id, "%s", msg_id);
    snprintf(j->state, sizeof j->state, "%s", final_state);
    snprintf(j->final_ms, sizeof j->final_ms, "%" PRIu64, final_ms);
    snprintf(j->error, sizeof j->error, "%u", error);
    snprintf(j->map_key, sizeof j->map_key, "%s", map_key ? map_key : "");
    if (pdu)
        memcpy(j->pdu, pdu, len);
    j->len = len;
    j->cb = cb;
    j->arg = arg;
    char mkey[KEY_LEN];
    store_key_msg(&st->keys, account, msg_id, mkey);
    const char *argv[] = {"HGETALL", mkey};
    if (!store_cmd(st, complete_receipt_record, STORE_NO_CB, j, 2, argv,
                   NULL)) {
        free(j->pdu);
        free(j);
        return -1;
    }
    j->next = st->receipt_jobs;
    if (st->receipt_jobs)
        st->receipt_jobs->prev = j;
    st->receipt_jobs = j;
    return 0;
}

/* ---- reading a record, cancel_sm, replace_sm ------------------------- */

static void complete_msg(struct store *st, redisReply *r, struct store_op *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.msg(-1, NULL, p->arg);
        return;
    }
    struct store_msg m;
    memset(&m, 0, sizeof m);
    m.state = hash_field(r, "state");
    if (!m.state) {
        p->cb.msg(0, NULL, p->arg);
        return;
    }
    m.entry = hash_field(r, "entry");
    m.connector = hash_field(r, "connector");
    m.upstream_id = hash_field(r, "upstream_id");
    m.src = hash_field(r, "src");
    m.src_ton = (uint8_t)field_num(hash_field(r, "src_ton"));
    m.src_npi = (uint8_t)field_num(hash_field(r, "src_npi"));
    m.final_ms = field_num(hash_field(r, "final"));
    m.error = (unsigned)field_num(hash_field(r, "error"));
    p->cb.msg(0, &m, p->arg);
}

int store_msg_get(struct store *st, const char *account, const char *msg_id,
                  store_msg_cb cb, void *arg)
{
    char mkey[KEY_LEN];
    store_key_msg(&st->keys, account, msg_id, mkey);
    const char *argv[] = {"HGETALL", mkey};
    return store_cmd(st, complete_msg, STORE_CB(msg, cb), arg, 2, argv,
                     NULL) ? 0 : -1;
}

/* A final state we reached (a cancel upstream), nothing for the
 * customer: the same job, and no receipt marker. */
int store_msg_final(struct store *st, const char *account, const char *msg_id,
                    const char *state, uint64_t final_ms, unsigned error,
                    store_done_cb cb, void *arg)
{
    return store_msg_final_add(st, account, msg_id, NULL, state, final_ms,
                               error, 0, NULL, 0, cb, arg);
}

static const char *reply_str(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING
               ? r->element[i]->str : NULL;
}

static void complete_cancel(struct store *st, redisReply *r, struct store_op *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_INTEGER) {
        p->cb.cancel(-1, STORE_CANCEL_UNKNOWN, NULL, p->arg);
        return;
    }
    enum store_cancel_outcome o = (enum store_cancel_outcome)r->element[0]->integer;
    struct store_msg m;
    memset(&m, 0, sizeof m);
    m.state = "ENROUTE";
    m.connector = reply_str(r, 1);
    m.upstream_id = reply_str(r, 2);
    m.src_ton = (uint8_t)field_num(reply_str(r, 3));
    m.src_npi = (uint8_t)field_num(reply_str(r, 4));
    m.src = reply_str(r, 5);
    if (o == STORE_CANCEL_UPSTREAM && (!m.connector || !m.upstream_id))
        o = STORE_CANCEL_FINAL; /* sent, but we never learnt its id */
    p->cb.cancel(0, o, o == STORE_CANCEL_UPSTREAM ? &m : NULL, p->arg);
}

int store_msg_cancel(struct store *st, const char *account, const char *msg_id,
                     store_cancel_cb cb, void *arg)
{
    char mkey[KEY_LEN], qckey[KEY_LEN];
    char now[24], maxlen[16], fttl[16];
    store_key_msg(&st->keys, account, msg_id, mkey);
    store_key_queue_counts(&st->keys, account, qckey);
    snprintf(now, sizeof now, "%" PRIu64, clock_wall_ms());
    snprintf(maxlen, sizeof maxlen, "%u", st->cfg.cdr_maxlen);
    snprintf(fttl, sizeof fttl, "%u", st->cfg.final_ttl_s);
    const char *argv[] = {st->keys.queue, mkey, st->keys.cdr, qckey, now,
                          maxlen, fttl};
    return store_eval(st, SCRIPT_CANCEL, complete_cancel, STORE_CB(cancel, cb),
                      arg, 4, 7, argv, NULL) ? 0 : -1;
}

static void complete_replace(struct store *st, redisReply *r,
                             struct store_op *p)
{
    (void)st;
    if (!r || r->type != REDIS_REPLY_INTEGER)
        p->cb.done(-1, p->arg);
    else
        p->cb.done(r->integer == 1 ? 0 : 1, p->arg);
}

int store_msg_replace(struct store *st, const struct store_msg_info *mi,
                      const char *old_entry, const uint8_t *pdu, size_t len,
                      store_done_cb cb, void *arg)
{
    char mkey[KEY_LEN], ts[24];
    store_key_msg(&st->keys, mi->account, mi->msg_id, mkey);
    snprintf(ts, sizeof ts, "%" PRIu64, mi->ts_ms);
    char qckey[KEY_LEN];
    store_key_queue_counts(&st->keys, mi->account, qckey);
    const char *argv[] = {st->keys.queue, mkey, qckey, old_entry,
                          (const char *)pdu,
                          mi->account, mi->msg_id, ts};
    size_t lens[8];
    for (size_t i = 0; i < 8; i++)
        lens[i] = i == 4 ? len : strlen(argv[i]);
    return store_eval(st, SCRIPT_REPLACE, complete_replace, STORE_CB(done, cb),
                      arg, 3, 8, argv, lens) ? 0 : -1;
}

/* ---- the store's life ------------------------------------------------ */

void store_msg_free_jobs(struct store *st)
{
    while (st->receipt_jobs)
        receipt_job_free(st->receipt_jobs);
}

const struct store_script_def store_msg_scripts[] = {
    {SCRIPT_FINISH, finish_script},
    {SCRIPT_SENT, sent_script},
    {SCRIPT_QC_FLOOR, qc_floor_script},
    {SCRIPT_CANCEL, msg_cancel_script},
    {SCRIPT_REPLACE, msg_replace_script},
    {SCRIPT_NOTE_UNKNOWN, note_unknown_script},
    STORE_SCRIPTS_END,
};
