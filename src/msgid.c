#include "common.h"

#include <inttypes.h>
#include <stdio.h>

#include "msgid.h"

#define MSGID_EPOCH_MS 1704067200000ull /* 2024-01-01T00:00:00Z */

void msgid_init(struct msgid_gen *g, unsigned instance)
{
    g->last_ms = 0;
    g->seq = 0;
    g->instance = instance & 0x3FFu;
}

uint64_t msgid_next(struct msgid_gen *g, uint64_t unix_ms)
{
    uint64_t ms = unix_ms > MSGID_EPOCH_MS ? unix_ms - MSGID_EPOCH_MS : 0;
    if (ms > g->last_ms) {
        g->last_ms = ms;
        g->seq = 0;
    } else if (++g->seq > 0xFFFu) {
        /* more than 4096 ids in a millisecond, or the clock went back:
         * run ahead of it rather than repeat an id */
        g->last_ms++;
        g->seq = 0;
    }
    return (g->last_ms & 0x1FFFFFFFFFFull) << 22 | (uint64_t)g->instance << 12 |
           g->seq;
}

int msgid_format(uint64_t id, int decimal, char *out, size_t cap)
{
    return snprintf(out, cap, decimal ? "%" PRIu64 : "%" PRIx64, id);
}
