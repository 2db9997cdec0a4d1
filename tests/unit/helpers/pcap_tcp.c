#include "common.h"

#include <stdio.h>
#include <string.h>

#include "pcap_tcp.h"
#include "wire.h"

enum {
    TCP_FIN = 0x01,
    TCP_SYN = 0x02,
    TCP_PSH = 0x08,
    TCP_ACK = 0x10,
};

#define IP_HDR_LEN 20u
#define TCP_HDR_LEN 20u
#define TCP_WINDOW 65535u

/* Add <len> bytes as big-endian 16-bit words to <acc>; an odd last byte is
 * padded with zero. Only the last chunk of a sum may have an odd length. */
static uint32_t sum_words(uint32_t acc, const uint8_t *d, size_t len)
{
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        acc += (uint32_t)d[i] << 8 | d[i + 1];
    if (i < len)
        acc += (uint32_t)d[i] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffffu) + (acc >> 16);
    return (uint16_t)~acc;
}

uint16_t pcap_inet_checksum(const uint8_t *data, size_t len)
{
    return fold(sum_words(0, data, len));
}

static void put_u32_native(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static int write_all(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1;
}

/* One IPv4/TCP packet as a pcap record. <from_client> picks the direction;
 * the sequence number of that side advances by the payload (and by one for
 * SYN). Returns the frame number, or 0 on error. */
static unsigned write_segment(struct pcap_tcp *w, int from_client,
                              uint8_t flags, const uint8_t *data, size_t len)
{
    if (len > PCAP_TCP_MAX_PAYLOAD)
        return 0;
    uint32_t src = from_client ? w->client_ip : w->server_ip;
    uint32_t dst = from_client ? w->server_ip : w->client_ip;
    uint16_t sport = from_client ? w->client_port : w->server_port;
    uint16_t dport = from_client ? w->server_port : w->client_port;
    uint32_t *seq = from_client ? &w->client_seq : &w->server_seq;
    uint32_t ack = from_client ? w->server_seq : w->client_seq;
    size_t total = IP_HDR_LEN + TCP_HDR_LEN + len;

    uint8_t ip[IP_HDR_LEN] = {0};
    ip[0] = 0x45; /* version 4, IHL 5 */
    wire_write_u16(ip + 2, (uint16_t)total);
    wire_write_u16(ip + 4, w->ip_id++);
    wire_write_u16(ip + 6, 0x4000); /* DF */
    ip[8] = 64;                     /* TTL */
    ip[9] = 6;                      /* TCP */
    wire_write_u32(ip + 12, src);
    wire_write_u32(ip + 16, dst);
    wire_write_u16(ip + 10, pcap_inet_checksum(ip, sizeof ip));

    uint8_t tcp[TCP_HDR_LEN] = {0};
    wire_write_u16(tcp, sport);
    wire_write_u16(tcp + 2, dport);
    wire_write_u32(tcp + 4, *seq);
    wire_write_u32(tcp + 8, (flags & TCP_ACK) ? ack : 0);
    tcp[12] = (TCP_HDR_LEN / 4) << 4;
    tcp[13] = flags;
    wire_write_u16(tcp + 14, TCP_WINDOW);

    uint8_t pseudo[12];
    wire_write_u32(pseudo, src);
    wire_write_u32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = 6;
    wire_write_u16(pseudo + 10, (uint16_t)(TCP_HDR_LEN + len));
    uint32_t acc = sum_words(0, pseudo, sizeof pseudo);
    acc = sum_words(acc, tcp, sizeof tcp);
    acc = sum_words(acc, data, len);
    wire_write_u16(tcp + 16, fold(acc));

    uint8_t rec[16];
    put_u32_native(rec, w->ts_sec);
    put_u32_native(rec + 4, w->ts_usec);
    put_u32_native(rec + 8, (uint32_t)total);
    put_u32_native(rec + 12, (uint32_t)total);
    if (write_all(w->f, rec, sizeof rec) || write_all(w->f, ip, sizeof ip) ||
        write_all(w->f, tcp, sizeof tcp) || write_all(w->f, data, len))
        return 0;

    *seq += (uint32_t)len + ((flags & (TCP_SYN | TCP_FIN)) ? 1u : 0u);
    w->ts_usec += 1000;
    if (w->ts_usec >= 1000000) {
        w->ts_usec -= 1000000;
        w->ts_sec++;
    }
    return ++w->frames;
}

int pcap_tcp_open(struct pcap_tcp *w, FILE *f, uint32_t client_ip,
                  uint16_t client_port, uint32_t server_ip,
                  uint16_t server_port)
{
    memset(w, 0, sizeof *w);
    w->f = f;
    w->client_ip = client_ip;
    w->server_ip = server_ip;
    w->client_port = client_port;
    w->server_port = server_port;
    w->client_seq = 0x10000000u;
    w->server_seq = 0x20000000u;
    w->ip_id = 1;
    w->ts_sec = 1764158400u; /* 2025-11-26 12:00:00 UTC */

    /* Classic header in native byte order: readers tell it by the magic. */
    uint8_t hdr[24];
    put_u32_native(hdr, 0xa1b2c3d4u);
    uint16_t major = 2, minor = 4;
    memcpy(hdr + 4, &major, 2);
    memcpy(hdr + 6, &minor, 2);
    put_u32_native(hdr + 8, 0);       /* thiszone */
    put_u32_native(hdr + 12, 0);      /* sigfigs */
    put_u32_native(hdr + 16, 65535u); /* snaplen */
    put_u32_native(hdr + 20, PCAP_TCP_LINKTYPE_RAW);
    if (write_all(f, hdr, sizeof hdr))
        return -1;

    if (!write_segment(w, 1, TCP_SYN, NULL, 0) ||
        !write_segment(w, 0, TCP_SYN | TCP_ACK, NULL, 0) ||
        !write_segment(w, 1, TCP_ACK, NULL, 0))
        return -1;
    return 0;
}

unsigned pcap_tcp_send(struct pcap_tcp *w, const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    return write_segment(w, 1, TCP_PSH | TCP_ACK, data, len);
}
