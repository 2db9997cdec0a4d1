/*
 * relay.h - receipts back to the customers, with our ids.
 *
 * From upstream: a receipt's upstream id is looked up in Redis (in every
 * form the connector's dlr_id_format allows: its key form, the other
 * radix; a receipt that does not name exactly one message, in the radix
 * the connector was learnt to use, goes to dead letters with the
 * reason), the text id: and TLV receipted_message_id are rewritten
 * to our id, and the receipt is stored in the account's delivery stream
 * before deliver_sm_resp goes upstream - so a crash makes upstream resend
 * rather than lose it. Only receipts that registered_delivery asked for
 * are kept.
 *
 * To the customers: each account's stream is delivered to its bound
 * receivers on this instance, round-robin; an entry leaves the stream
 * only on deliver_sm_resp ESME_ROK and is retried otherwise, after a
 * pause per account that doubles from [relay] retry_min to retry_max.
 *
 * Expiry: an entry older than [relay] ttl is never delivered; it is moved
 * to P:dead (reason "expired"), counted and logged. One instance at a
 * time (lease "relay:sweep") looks through every account's stream each
 * sweep_interval, so entries expire whether or not the customer binds.
 */
#ifndef SMPPBRIDGE_RELAY_H
#define SMPPBRIDGE_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct conf;
struct conf_upstream;
struct store;
struct down;
struct sess;
struct pdu;
struct relay;

struct relay *relay_new(struct event_base *base, const struct conf *cfg,
                        struct store *st, struct down *down);
void relay_free(struct relay *r);

/* Hooks for upstream.h and downstream.h. */
void relay_on_upstream_deliver(void *relay, struct sess *s,
                               const struct conf_upstream *c,
                               const struct pdu *p);
void relay_on_failed(void *relay, const char *account, const char *msg_id,
                     const uint8_t *pdu, size_t len, uint32_t status,
                     void (*done)(void *done_arg), void *done_arg);
void relay_receiver_ready(void *relay, const char *account);
/* (Re)load the inbound routing table from Redis. */
void relay_reload_routes(void *relay);

struct relay_stats {
    unsigned long long receipts_in, receipts_stored, receipts_unwanted,
        receipts_unknown, receipts_delivered, receipts_redelivered,
        failure_receipts, mo_routed, mo_unrouted, store_errors,
        expired; /* entries older than [relay] ttl, moved to P:dead */
    /* deliver_sm from upstream answered ESME_ROK: done with, for good */
    unsigned long long upstream_acked;
};
const struct relay_stats *relay_stats(const struct relay *r);

#endif /* SMPPBRIDGE_RELAY_H */
