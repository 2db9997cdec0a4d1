/*
 * wire.h - big-endian reads and writes that work on unaligned bytes.
 *
 * libc only. memcpy of a fixed size compiles to a single load or store, so
 * these are as fast as a cast and never fault on an odd address.
 */
#ifndef SMPPBRIDGE_WIRE_H
#define SMPPBRIDGE_WIRE_H

#include <stdint.h>
#include <string.h>

static inline uint16_t wire_read_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t wire_read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void wire_write_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wire_write_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif /* SMPPBRIDGE_WIRE_H */
