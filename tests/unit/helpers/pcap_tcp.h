/*
 * pcap_tcp.h - write a classic libpcap file holding one IPv4 TCP connection,
 * for the tests that hand our encoded PDUs to an external dissector
 * (tshark).
 *
 * Link type LINKTYPE_RAW (101): every record is an IPv4 packet, no
 * Ethernet header. IP and TCP headers are built by hand with correct
 * checksums (the TCP one over the pseudo-header too), so the capture passes
 * tshark with ip.check_checksum and tcp.check_checksum turned on.
 *
 * The connection is client -> server: pcap_tcp_open() writes the file
 * header and the three-way handshake, then each pcap_tcp_send() writes one
 * data segment (PSH|ACK) from the client with the next sequence number.
 */
#ifndef SMPPBRIDGE_TEST_PCAP_TCP_H
#define SMPPBRIDGE_TEST_PCAP_TCP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PCAP_TCP_LINKTYPE_RAW 101u
/* Largest payload of one segment: IPv4 total length is 16 bits. */
#define PCAP_TCP_MAX_PAYLOAD (65535u - 20u - 20u)

struct pcap_tcp {
    FILE *f;
    uint32_t client_ip, server_ip; /* host byte order */
    uint16_t client_port, server_port;
    uint32_t client_seq; /* next sequence number the client sends */
    uint32_t server_seq; /* next sequence number the server sends */
    uint16_t ip_id;
    uint32_t ts_sec, ts_usec;
    unsigned frames; /* records written so far (frame numbers are 1-based) */
};

/*
 * Start a capture in <f> (opened for writing, binary): file header, then
 * SYN, SYN-ACK and ACK between <client_ip>:<client_port> and
 * <server_ip>:<server_port> (addresses in host byte order). Returns 0, or
 * -1 on a write error.
 */
int pcap_tcp_open(struct pcap_tcp *w, FILE *f, uint32_t client_ip,
                  uint16_t client_port, uint32_t server_ip,
                  uint16_t server_port);

/* One client -> server data segment carrying <len> bytes (1 to
 * PCAP_TCP_MAX_PAYLOAD). Returns the frame number it got, or 0 on error. */
unsigned pcap_tcp_send(struct pcap_tcp *w, const uint8_t *data, size_t len);

/* Internet checksum (RFC 1071) of <len> bytes, folded and complemented. */
uint16_t pcap_inet_checksum(const uint8_t *data, size_t len);

#endif
