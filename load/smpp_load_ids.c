/*
 * smpp_load_ids.c - the message id table receipts are matched against.
 *
 * Keys are canonical message ids (dlr_id_canonical: upper case, leading
 * zeros stripped), so "0000029095" from a submit_sm_resp and "29095" in a
 * receipt meet. Within a generation, entries live in one growing array,
 * keys in one growing arena, and an open-addressing index (linear probing,
 * load <= 1/2) maps a key to its entry; nothing is removed from it.
 *
 * A long run (a soak of millions of messages) would make one generation
 * grow with every submit, about 60 bytes each. So the table keeps two:
 * when the current one holds SMPP_LOAD_IDS_GEN ids, the older one is
 * dropped if none of its entries still waits for anything (a receipt, or
 * the resp of a parked receipt), and the current one becomes the older.
 * An older generation that still waits is kept, and dropping is tried
 * again later: no match is ever lost, only the memory of ids matched long
 * ago (a duplicate receipt for such an id then counts as unmatched).
 * Runs of up to SMPP_LOAD_IDS_GEN ids never drop anything.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "smpp_load.h"

/* FNV-1a: short ASCII keys, no adversary. */
static uint32_t id_hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 16777619u;
    }
    return h;
}

/* Sized for <expect> ids up front, within one generation. */
static int gen_init(struct smpp_load_id_gen *g, size_t expect)
{
    memset(g, 0, sizeof *g);
    if (expect > SMPP_LOAD_IDS_GEN)
        expect = SMPP_LOAD_IDS_GEN;
    size_t nslots = 1024;
    while (nslots < 2 * expect)
        nslots <<= 1;
    g->slots = calloc(nslots, sizeof *g->slots);
    if (!g->slots)
        return -1;
    g->nslots = nslots;
    return 0;
}

static void gen_free(struct smpp_load_id_gen *g)
{
    free(g->e);
    free(g->slots);
    free(g->keys);
    memset(g, 0, sizeof *g);
}

int smpp_load_ids_init(struct smpp_load_ids *t, size_t expect)
{
    memset(t, 0, sizeof *t);
    t->retry_at = SMPP_LOAD_IDS_GEN;
    /* The older generation starts empty, with an index to probe. */
    if (gen_init(&t->gen[0], expect) != 0 || gen_init(&t->gen[1], 0) != 0) {
        smpp_load_ids_free(t);
        return -1;
    }
    return 0;
}

void smpp_load_ids_free(struct smpp_load_ids *t)
{
    gen_free(&t->gen[0]);
    gen_free(&t->gen[1]);
}

const char *smpp_load_ids_key(const struct smpp_load_id_gen *g,
                              const struct smpp_load_id *e)
{
    return g->keys + e->key_off;
}

static int key_eq(const struct smpp_load_id_gen *g,
                  const struct smpp_load_id *e, const char *key, size_t len)
{
    return e->key_len == len && memcmp(g->keys + e->key_off, key, len) == 0;
}

static struct smpp_load_id *gen_find(struct smpp_load_id_gen *g,
                                     const char *key, size_t len,
                                     uint32_t hash)
{
    size_t mask = g->nslots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t v = g->slots[i];
        if (v == 0)
            return NULL;
        if (key_eq(g, &g->e[v - 1], key, len))
            return &g->e[v - 1];
    }
}

struct smpp_load_id *smpp_load_ids_find(struct smpp_load_ids *t,
                                        const char *key, size_t len)
{
    uint32_t h = id_hash(key, len);
    struct smpp_load_id *e = gen_find(&t->gen[0], key, len, h);
    return e ? e : gen_find(&t->gen[1], key, len, h);
}

static void slot_insert(uint32_t *slots, size_t nslots, uint32_t hash,
                        uint32_t val)
{
    size_t mask = nslots - 1;
    size_t i = hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = val;
}

/* Double the index when it would pass half full: probes stay short. */
static int grow_slots(struct smpp_load_id_gen *g)
{
    if (2 * (g->n + 1) <= g->nslots)
        return 0;
    size_t nslots = g->nslots * 2;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < g->n; i++) {
        const struct smpp_load_id *e = &g->e[i];
        slot_insert(slots, nslots, id_hash(g->keys + e->key_off, e->key_len),
                    (uint32_t)(i + 1));
    }
    free(g->slots);
    g->slots = slots;
    g->nslots = nslots;
    return 0;
}

static int grow_arrays(struct smpp_load_id_gen *g, size_t len)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 1024;
        struct smpp_load_id *e = realloc(g->e, cap * sizeof *e);
        if (!e)
            return -1;
        g->e = e;
        g->cap = cap;
    }
    if (g->keys_len + len + 1 > g->keys_cap) {
        size_t cap = g->keys_cap ? g->keys_cap * 2 : 16384;
        while (cap < g->keys_len + len + 1)
            cap *= 2;
        char *k = realloc(g->keys, cap);
        if (!k)
            return -1;
        g->keys = k;
        g->keys_cap = cap;
    }
    return 0;
}

/* Does any entry of <g> still wait: a submit for its receipt, a parked
 * receipt for its resp? */
static int gen_waiting(const struct smpp_load_id_gen *g)
{
    for (size_t i = 0; i < g->n; i++)
        if (!g->e[i].matched)
            return 1;
    return 0;
}

/* The current generation is full: drop the older one when nothing in it
 * waits, else try again an eighth of a generation later. */
static void maybe_rotate(struct smpp_load_ids *t)
{
    if (t->gen[0].n < t->retry_at)
        return;
    if (gen_waiting(&t->gen[1])) {
        t->retry_at = t->gen[0].n + SMPP_LOAD_IDS_GEN / 8;
        return;
    }
    struct smpp_load_id_gen fresh;
    if (gen_init(&fresh, SMPP_LOAD_IDS_GEN) != 0)
        return; /* keep growing the current one */
    t->forgotten += t->gen[1].n;
    gen_free(&t->gen[1]);
    t->gen[1] = t->gen[0];
    t->gen[0] = fresh;
    t->retry_at = SMPP_LOAD_IDS_GEN;
}

struct smpp_load_id *smpp_load_ids_add(struct smpp_load_ids *t,
                                       const char *key, size_t len,
                                       uint64_t t_us,
                                       enum smpp_load_id_kind kind)
{
    maybe_rotate(t);
    struct smpp_load_id_gen *g = &t->gen[0];
    /* uint32 offsets and indices: 4 G entries or key bytes is far past
     * what one generation holds. */
    if (len > DLR_ID_MAX || g->n >= UINT32_MAX - 1 ||
        g->keys_len + len + 1 > UINT32_MAX)
        return NULL;
    if (grow_slots(g) != 0 || grow_arrays(g, len) != 0)
        return NULL;
    struct smpp_load_id *e = &g->e[g->n];
    memset(e, 0, sizeof *e);
    e->t_us = t_us;
    e->key_off = (uint32_t)g->keys_len;
    e->key_len = (uint8_t)len;
    e->kind = (uint8_t)kind;
    memcpy(g->keys + g->keys_len, key, len);
    g->keys[g->keys_len + len] = 0;
    g->keys_len += len + 1;
    slot_insert(g->slots, g->nslots, id_hash(key, len), (uint32_t)(g->n + 1));
    g->n++;
    return e;
}
