/*
 * store_receipts.c - the way back: the id map P:up:{CONN}:UPID from an
 * upstream id to our message (written when upstream takes a message,
 * read for each receipt), the receipts themselves (a final one changes
 * the record: store_msg.c) and each account's delivery stream P:dlr:{ID}
 * of receipts and MO, with its bound and its expiry into dead letters.
 */
#include "common.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "redis_conn.h"
#include "store.h"
#include "store_int.h"
#include "store_keys.h"

#define TAG STORE_TAG
#define MAX_ARGS 16
#define MAX_DEL 128

/* What an id map key holds once two messages were given its id. */
#define IDMAP_COLLISION "!collision"

/* MGET of the candidate keys: every one that is mapped. */
/* The connector and the <i>th id of store_idmap_find's question
 * <asked> ("CONNECTOR\0ID0\0ID1..."). */
static void idmap_where(struct store_idmap *m, const char *asked, size_t i)
{
    snprintf(m->connector, sizeof m->connector, "%s", asked);
    const char *id = asked + strlen(asked) + 1;
    while (i-- > 0)
        id += strlen(id) + 1;
    snprintf(m->map_id, sizeof m->map_id, "%s", id);
}

static void complete_idmap(struct store *st, redisReply *r, struct store_op *p)
{
    (void)st;
    struct store_idmap found[MAX_ARGS];
    size_t n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        p->cb.idmap(-1, NULL, 0, p->arg);
        return;
    }
    for (size_t i = 0; i < r->elements && n < MAX_ARGS; i++) {
        const redisReply *v = r->element[i];
        struct store_idmap *m = &found[n];
        char buf[128];
        unsigned rd = 0;
        unsigned long long ts = 0;
        if (v->type != REDIS_REPLY_STRING)
            continue;
        memset(m, 0, sizeof *m);
        if (v->len > 0 && v->str[0] == IDMAP_COLLISION[0]) {
            m->collided = 1;
            m->candidate = (unsigned)i;
            n++;
            continue;
        }
        snprintf(buf, sizeof buf, "%.*s", (int)v->len, v->str);
        if (sscanf(buf, "%15[^\t]\t%31[^\t]\t%llu\t%u", m->account, m->msg_id,
                   &ts, &rd) != 4)
            continue;
        m->ts_ms = ts;
        m->registered_delivery = (uint8_t)rd;
        m->candidate = (unsigned)i;
        idmap_where(m, p->ukey, i);
        n++;
    }
    p->cb.idmap(0, n ? found : NULL, n, p->arg);
}

int store_idmap_add(struct store *st, const char *connector,
                    const char *upstream_id, const struct store_idmap *m,
                    unsigned ttl_s)
{
    char ukey[KEY_LEN], val[128], ttl[16];
    store_key_idmap(&st->keys, connector, upstream_id, ukey);
    store_idmap_value(m, val, sizeof val);
    snprintf(ttl, sizeof ttl, "%u", ttl_s);
    const char *argv[] = {"SET", ukey, val, "EX", ttl};
    return store_cmd(st, store_complete_done, STORE_NO_CB, NULL, 5, argv,
                     NULL) ? 0 : -1;
}

/* Whether id map value <v> of <len> bytes names message <msg_id> of
 * <account> (a retried transaction finds its own earlier write). */
static int idmap_names(const char *v, size_t len, const char *account,
                       const char *msg_id)
{
    size_t a = strlen(account), k = strlen(msg_id);
    return len > a + k + 1 && memcmp(v, account, a) == 0 && v[a] == '\t' &&
           memcmp(v + a + 1, msg_id, k) == 0 && v[a + 1 + k] == '\t';
}

/* The id was mapped to another message already: mark it (a third one
 * finds the mark and leaves it), log and count. The mark lives a full
 * id_ttl from now, as long as the newer message's receipt may take. */
static void idmap_collision(struct store *st, const struct store_op *p,
                            const redisReply *old)
{
    char ttl[16];
    int marked = old->len > 0 && old->str[0] == IDMAP_COLLISION[0];
    metrics_add(st->m_id_collisions, 1, NULL);
    log_event(LOG_WARN, TAG,
              LOG_FIELDS("key", p->ukey, "account", p->id, "msg_id", p->msg_id,
                         "reason", "upstream-id-collision"),
              "upstream gave message %s of %s an id already mapped to %s "
              "(%s): its receipts go to dead letters",
              p->msg_id, p->id, marked ? "two messages" : "another message",
              p->ukey);
    snprintf(ttl, sizeof ttl, "%u", p->ttl_s);
    const char *set[] = {"SET", p->ukey, IDMAP_COLLISION, "EX", ttl};
    store_cmd(st, NULL, STORE_NO_CB, NULL, 5, set, NULL);
}

int store_idmap_find(struct store *st, const char *connector,
                     const char *const *ids, size_t n, store_idmap_cb cb,
                     void *arg)
{
    char keys[MAX_ARGS][KEY_LEN];
    const char *argv[MAX_ARGS + 1];
    if (n == 0 || n > MAX_ARGS)
        return -1;
    /* what was asked goes with the command, for the answer */
    size_t len = strlen(connector) + 1, at;
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++) {
        store_key_idmap(&st->keys, connector, ids[i], keys[i]);
        argv[i + 1] = keys[i];
        len += strlen(ids[i]) + 1;
    }
    struct store_op *p = store_send(st, st->cmd, st->cfg.timeout_ms,
                                    complete_idmap, STORE_CB(idmap, cb), arg,
                                    len, (int)n + 1, argv, NULL);
    if (!p)
        return -1;
    p->ukey = (char *)(p + 1);
    at = strlen(connector) + 1;
    memcpy(p->ukey, connector, at);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(ids[i]) + 1;
        memcpy(p->ukey + at, ids[i], l);
        at += l;
    }
    return 0;
}

/* ---- the bound on each account's receipt stream ------------------------
 * Receipts and MO wait in P:dlr:{ID} while the customer is away, up to
 * [relay] ttl. Each write also measures the stream (XLEN in the same
 * transaction); at dlr_maxlen the account is remembered as full, and
 * upstream's deliver_sm for it are refused (STORE_FULL: the relay answers
 * ESME_RX_T_APPN, upstream keeps them and sends them again) until
 * DLR_FULL_RECHECK_MS later, when one is let through to measure again.
 * The bound is soft by the writes already on their way. */

int store_dlr_full(struct store *st, const char *account)
{
    uint64_t now = clock_mono_ms();
    for (size_t i = 0; i < DLR_FULL_SLOTS; i++)
        if (st->dlr_full[i].until_ms > now &&
            strcmp(st->dlr_full[i].account, account) == 0)
            return 1;
    return 0;
}

/* What a write found: <len> entries waiting for <account>. */
static void dlr_stream_measured(struct store *st, const char *account,
                                long long len)
{
    size_t slot = DLR_FULL_SLOTS, i;
    for (i = 0; i < DLR_FULL_SLOTS; i++) {
        if (strcmp(st->dlr_full[i].account, account) == 0)
            break;
        if (slot == DLR_FULL_SLOTS && st->dlr_full[i].until_ms <= clock_mono_ms())
            slot = i; /* a free (or lapsed) slot */
    }
    if (len < (long long)st->cfg.dlr_maxlen) {
        if (i < DLR_FULL_SLOTS)
            st->dlr_full[i].until_ms = 0;
        return;
    }
    if (i == DLR_FULL_SLOTS)
        i = slot < DLR_FULL_SLOTS ? slot : 0;
    if (st->dlr_full[i].until_ms == 0 || strcmp(st->dlr_full[i].account, account))
        log_event(LOG_WARN, TAG,
                  LOG_FIELDS("account", account, "reason", "receipt-stream-full"),
                  "%lld receipts and MO wait for %s ([redis] dlr_maxlen %u): "
                  "upstream's deliver_sm for it are refused until it reads them",
                  len, account, st->cfg.dlr_maxlen);
    snprintf(st->dlr_full[i].account, sizeof st->dlr_full[i].account, "%s",
             account);
    st->dlr_full[i].until_ms = clock_mono_ms() + DLR_FULL_RECHECK_MS;
}

/* The length XLEN reported as the last reply of transaction reply <e>. */
void store_dlr_measured(struct store *st, const char *account,
                              const redisReply *e)
{
    if (e && e->elements > 0 &&
        e->element[e->elements - 1]->type == REDIS_REPLY_INTEGER)
        dlr_stream_measured(st, account, e->element[e->elements - 1]->integer);
}

/* A deliver_sm refused for a full stream, counted by account. */
void store_dlr_refused(struct store *st, const char *account)
{
    metrics_add(st->m_dlr_full, 1, METRICS_LABELS(account));
}

/* store_dlr_add's transaction: XADD, XLEN; or, refused, XLEN alone. */
static void complete_dlr_add(struct store *st, redisReply *r,
                             struct store_op *p)
{
    if (p->dlr_refused) {
        if (r && r->type == REDIS_REPLY_INTEGER)
            dlr_stream_measured(st, p->id, r->integer);
        p->cb.done(STORE_FULL, p->arg);
        return;
    }
    redisReply *e = redis_conn_exec_reply(st->cmd, r);
    store_dlr_measured(st, p->id, e);
    p->cb.done(e ? 0 : -1, p->arg);
}

int store_dlr_add(struct store *st, const char *account, const uint8_t *pdu,
                  size_t len, int from_upstream, store_done_cb cb, void *arg)
{
    char key[KEY_LEN];
    struct store_op *p;
    store_key_receipts(&st->keys, account, key);
    const char *xlen[] = {"XLEN", key};
    if (from_upstream && store_dlr_full(st, account)) {
        /* refused; the length is asked again so that the mark is lifted
         * as soon as the customer has read enough */
        store_dlr_refused(st, account);
        p = store_cmd(st, complete_dlr_add, STORE_CB(done, cb), arg, 2, xlen,
                      NULL);
        if (p)
            p->dlr_refused = 1;
    } else {
        const char *xadd[] = {"XADD", key, "*", "p", (const char *)pdu};
        size_t lens[] = {4, strlen(key), 1, 1, len};
        const struct redis_cmd cmds[] = {{5, xadd, lens}, {2, xlen, NULL}};
        p = store_multi(st, complete_dlr_add, STORE_CB(done, cb), arg, cmds, 2);
    }
    if (!p)
        return -1;
    snprintf(p->id, sizeof p->id, "%s", account);
    return 0;
}

int store_dlr_range(struct store *st, const char *account, const char *after,
                    unsigned count, store_entries_cb cb, void *arg)
{
    char key[KEY_LEN], start[40], cnt[16];
    store_key_receipts(&st->keys, account, key);
    /* "(" makes the start exclusive (Redis 6.2+) */
    if (strcmp(after, "-") == 0)
        snprintf(start, sizeof start, "-");
    else
        snprintf(start, sizeof start, "(%s", after);
    snprintf(cnt, sizeof cnt, "%u", count);
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", cnt};
    return store_cmd(st, store_complete_range, STORE_CB(entries, cb), arg, 6,
                     argv, NULL) ? 0 : -1;
}

int store_dlr_del(struct store *st, const char *account,
                  const char *const *ids, size_t n, store_done_cb cb, void *arg)
{
    char key[KEY_LEN];
    const char *argv[2 + MAX_DEL];
    if (n == 0 || n > MAX_DEL)
        return -1;
    store_key_receipts(&st->keys, account, key);
    argv[0] = "XDEL";
    argv[1] = key;
    for (size_t i = 0; i < n; i++)
        argv[2 + i] = ids[i];
    return store_cmd(st, store_complete_done, STORE_CB(done, cb), arg,
                     (int)n + 2, argv, NULL) ? 0 : -1;
}

/*
 * Expired entries of a delivery stream into the dead letters, on Redis's
 * clock (TIME): the clock that wrote the entry ids, so instances need not
 * agree on time. KEYS[1] P:dlr:{ACCOUNT}, KEYS[2] P:dead; ARGV ttl ms,
 * max entries, account, P:dead's maxlen, the bytes of a PDU kept there
 * (store_dead_add). Returns how many were moved. The two keys are in
 * different hash slots: a Redis Cluster would refuse this script.
 */
static const char expire_script[] =
    "local t = redis.call('TIME') "
    "local cutoff = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[1]) "
    "if cutoff < 0 then return 0 end "
    "local es = redis.call('XRANGE', KEYS[1], '-', "
    "string.format('%.0f', cutoff), 'COUNT', ARGV[2]) "
    "local ids = {} "
    "for _, e in ipairs(es) do "
    "local p, f = '', e[2] "
    "for j = 1, #f - 1, 2 do if f[j] == 'p' then p = f[j + 1] end end "
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', "
    "'reason', 'expired', 'account', ARGV[3], "
    "'p', string.sub(p, 1, tonumber(ARGV[5])), 'len', #p) "
    "ids[#ids + 1] = e[1] end "
    "if #ids > 0 then redis.call('XDEL', KEYS[1], unpack(ids)) end "
    "return #ids";

int store_dlr_expire(struct store *st, const char *account, unsigned ttl_ms,
                     unsigned max, store_count_cb cb, void *arg)
{
    char key[KEY_LEN], ttl[16], cnt[16], dmax[16], dcut[16];
    if (max == 0 || max > MAX_DEL)
        return -1;
    snprintf(dmax, sizeof dmax, "%u", st->cfg.dead_maxlen);
    snprintf(dcut, sizeof dcut, "%u", st->cfg.dead_entry_max);
    store_key_receipts(&st->keys, account, key);
    snprintf(ttl, sizeof ttl, "%u", ttl_ms);
    snprintf(cnt, sizeof cnt, "%u", max);
    const char *argv[] = {key, st->keys.dead, ttl, cnt, account, dmax, dcut};
    return store_eval(st, SCRIPT_DLR_EXPIRE, store_complete_count,
                      STORE_CB(count, cb), arg, 2, 7, argv, NULL) ? 0 : -1;
}

int store_dlr_len(struct store *st, const char *account, store_count_cb cb,
                  void *arg)
{
    char key[KEY_LEN];
    store_key_receipts(&st->keys, account, key);
    const char *argv[] = {"XLEN", key};
    return store_cmd(st, store_complete_count, STORE_CB(count, cb), arg, 2,
                     argv, NULL) ? 0 : -1;
}

int store_receipt_add(struct store *st, const struct store_idmap *m,
                      const char *final_state, uint64_t final_ms,
                      unsigned error, const uint8_t *pdu, size_t len,
                      store_done_cb cb, void *arg)
{
    char map_key[KEY_LEN] = "";
    if (!final_state) /* not final: only the customer's copy */
        return pdu ? store_dlr_add(st, m->account, pdu, len, 1, cb, arg) : -1;
    if (m->connector[0] && m->map_id[0])
        store_key_idmap(&st->keys, m->connector, m->map_id, map_key);
    return store_msg_final_add(st, m->account, m->msg_id, map_key, final_state,
                               final_ms, error, 1, pdu, len, cb, arg);
}

size_t store_idmap_value(const struct store_idmap *m, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s\t%s\t%" PRIu64 "\t%u", m->account,
                     m->msg_id, m->ts_ms, m->registered_delivery);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void store_idmap_sent(struct store *st, const struct store_op *p,
                      const redisReply *old)
{
    if (!idmap_names(old->str, old->len, p->id, p->msg_id))
        idmap_collision(st, p, old);
}

const struct store_script_def store_receipts_scripts[] = {
    {SCRIPT_DLR_EXPIRE, expire_script},
    STORE_SCRIPTS_END,
};
