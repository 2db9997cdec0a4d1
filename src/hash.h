/*
 * hash.h - the one string hash for the bridge's own tables: FNV-1a,
 * 32 bits. Tables keyed by short ids (accounts, connectors) need spread,
 * not resistance to chosen keys: none of them is keyed by what a client
 * may pick without limit.
 */
#ifndef SMPPBRIDGE_HASH_H
#define SMPPBRIDGE_HASH_H

#include <stdint.h>

static inline uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

#endif
