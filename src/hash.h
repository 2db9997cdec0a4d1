/*
 * hash.h - string hashing for the in-memory tables: FNV-1a, 32 bits.
 * Fast on the short keys these tables hold (ids, entry ids), and good
 * enough spread for a table that picks its bucket with a mask. Not for
 * keys an attacker chooses to collide: such a table must bound its
 * chains itself.
 */
#ifndef SMPPBRIDGE_HASH_H
#define SMPPBRIDGE_HASH_H

#include <stdint.h>

#define HASH_FNV_OFFSET 2166136261u
#define HASH_FNV_PRIME 16777619u

/* FNV-1a of the NUL-terminated <s>. */
static inline uint32_t hash_str(const char *s)
{
    uint32_t h = HASH_FNV_OFFSET;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= HASH_FNV_PRIME;
    }
    return h;
}

#endif
