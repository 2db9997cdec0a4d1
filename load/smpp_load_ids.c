/*
 * smpp_load_ids.c - the message id table receipts are matched against.
 *
 * Keys are canonical message ids (dlr_id_canonical: upper case, leading
 * zeros stripped), so "0000029095" from a submit_sm_resp and "29095" in a
 * receipt meet. Entries live in one growing array, keys in one growing
 * arena, and an open-addressing index (linear probing, load <= 1/2) maps
 * a key to its entry. Nothing is ever removed: the table lives for one
 * run and is bounded by the number of submits.
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

int smpp_load_ids_init(struct smpp_load_ids *t, size_t expect)
{
    memset(t, 0, sizeof *t);
    /* Sized for <expect> ids up front, within reason: past 4 M slots
     * (16 MiB) the index grows as ids arrive instead. */
    size_t nslots = 1024;
    while (nslots < 2 * expect && nslots < ((size_t)1 << 22))
        nslots <<= 1;
    t->slots = calloc(nslots, sizeof *t->slots);
    if (!t->slots)
        return -1;
    t->nslots = nslots;
    return 0;
}

void smpp_load_ids_free(struct smpp_load_ids *t)
{
    free(t->e);
    free(t->slots);
    free(t->keys);
    memset(t, 0, sizeof *t);
}

const char *smpp_load_ids_key(const struct smpp_load_ids *t, size_t idx)
{
    return t->keys + t->e[idx].key_off;
}

static int key_eq(const struct smpp_load_ids *t, const struct smpp_load_id *e,
                  const char *key, size_t len)
{
    return e->key_len == len && memcmp(t->keys + e->key_off, key, len) == 0;
}

long smpp_load_ids_find(const struct smpp_load_ids *t, const char *key,
                        size_t len)
{
    size_t mask = t->nslots - 1;
    for (size_t i = id_hash(key, len) & mask;; i = (i + 1) & mask) {
        uint32_t v = t->slots[i];
        if (v == 0)
            return -1;
        if (key_eq(t, &t->e[v - 1], key, len))
            return (long)(v - 1);
    }
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
static int grow_slots(struct smpp_load_ids *t)
{
    if (2 * (t->n + 1) <= t->nslots)
        return 0;
    size_t nslots = t->nslots * 2;
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        const struct smpp_load_id *e = &t->e[i];
        slot_insert(slots, nslots, id_hash(t->keys + e->key_off, e->key_len),
                    (uint32_t)(i + 1));
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

static int grow_arrays(struct smpp_load_ids *t, size_t len)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        struct smpp_load_id *e = realloc(t->e, cap * sizeof *e);
        if (!e)
            return -1;
        t->e = e;
        t->cap = cap;
    }
    if (t->keys_len + len + 1 > t->keys_cap) {
        size_t cap = t->keys_cap ? t->keys_cap * 2 : 16384;
        while (cap < t->keys_len + len + 1)
            cap *= 2;
        char *k = realloc(t->keys, cap);
        if (!k)
            return -1;
        t->keys = k;
        t->keys_cap = cap;
    }
    return 0;
}

long smpp_load_ids_add(struct smpp_load_ids *t, const char *key, size_t len,
                       uint64_t t_us, enum smpp_load_id_kind kind)
{
    /* uint32 offsets and indices: 4 G entries or key bytes is far past
     * what one run sends. */
    if (len > DLR_ID_MAX || t->n >= UINT32_MAX - 1 ||
        t->keys_len + len + 1 > UINT32_MAX)
        return -1;
    if (grow_slots(t) != 0 || grow_arrays(t, len) != 0)
        return -1;
    struct smpp_load_id *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->t_us = t_us;
    e->key_off = (uint32_t)t->keys_len;
    e->key_len = (uint8_t)len;
    e->kind = (uint8_t)kind;
    memcpy(t->keys + t->keys_len, key, len);
    t->keys[t->keys_len + len] = 0;
    t->keys_len += len + 1;
    slot_insert(t->slots, t->nslots, id_hash(key, len), (uint32_t)(t->n + 1));
    return (long)t->n++;
}
