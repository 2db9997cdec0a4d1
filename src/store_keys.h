/*
 * store_keys.h - the names of smppbridge's Redis keys, one formatter per
 * family. Everything that names a key (the store, smppctl) goes through
 * these, so a key's layout is written in one place.
 *
 * Keys (prefix P from [redis] prefix; {...} are Redis Cluster hash tags,
 * one per account, so a cluster layout stays possible):
 *   P:acct:{ID}            hash   account (see account.h)
 *   P:accounts             set    all account ids
 *   P:events               pubsub "account ID" when an account changes
 *   P:queue                stream messages accepted from customers,
 *                                 consumer group "bridge"; fields:
 *                                 a=account i=our id t=ms p=raw PDU
 *                                 c=bytes it cost, r=its shared body
 *   P:qc:{ID}              hash   what account ID has queued: n
 *                                 messages, b bytes (store_queue_add)
 *   P:body:{ID}:BODY       hash   a submit_multi's common part, stored
 *                                 once: d=bytes, refs=entries naming it
 *   P:up:{CONN}:UPID       string "ACCOUNT\tOURID\tTS\tRD" (TTL id_ttl)
 *                                 upstream id (dlr_id_key()) -> ours;
 *                                 "!collision" once two messages got it
 *   P:dlr:{ID}             stream receipts and MO for account ID, ready
 *                                 to send (field p = encoded deliver_sm)
 *   P:dead                 stream what could not be routed, and receipts
 *                                 and MO past [relay] ttl (counted)
 *   P:instances            counter spreading instances' first choice of
 *                                 a number ({instance:N} leases decide)
 *   P:tb:{KEY}             hash   token bucket (tokens, ts) of a rate
 *   P:quota:{ID}:YYYYMMDD  string submits account ID took that UTC day
 *                                 (daily quota); expires after the day
 *   P:numbers              hash   inbound routing: number prefix -> account
 *   P:lease:{ID}           string which instance delivers account ID now
 *                                 ({relay:sweep}: which one expires entries;
 *                                 {instance:N}: which one has number N)
 *   P:msg:{ID}:MSGID       hash   the state of our message MSGID of account
 *                                 ID (query_sm, cancel_sm, replace_sm), TTL
 *                                 id_ttl; fields in docs/architecture.md
 *   P:cdr                  stream one record per message that reached
 *                                 the end of its life here (capped)
 *
 * The keys without a variable part are formatted once (store_keys_init);
 * the others by a function that copies the prefix and the parts (no
 * printf: they are formatted for every message) into a buffer of
 * STORE_KEY_LEN bytes and returns the key's length. A key that would not
 * fit is cut short, as snprintf would (no id the bridge accepts comes
 * near).
 */
#ifndef SMPPBRIDGE_STORE_KEYS_H
#define SMPPBRIDGE_STORE_KEYS_H

#include <stddef.h>

#define STORE_KEY_LEN 256
#define STORE_PREFIX_MAX 64

struct store_keys {
    char prefix[STORE_PREFIX_MAX];
    size_t prefix_len;
    /* the fixed keys */
    char queue[STORE_KEY_LEN];
    char cdr[STORE_KEY_LEN];
    char dead[STORE_KEY_LEN];
    char events[STORE_KEY_LEN];
    char accounts[STORE_KEY_LEN];
    char numbers[STORE_KEY_LEN];
    char instances[STORE_KEY_LEN];
};

/* <prefix> (cut to STORE_PREFIX_MAX - 1 bytes) and the fixed keys. */
void store_keys_init(struct store_keys *k, const char *prefix);

/* P:acct:{ID} */
size_t store_key_account(const struct store_keys *k, const char *account,
                         char *out);
/* P:qc:{ID} */
size_t store_key_queue_counts(const struct store_keys *k, const char *account,
                              char *out);
/* P:body:{ID}:BODY */
size_t store_key_body(const struct store_keys *k, const char *account,
                      const char *body_id, char *out);
/* P:up:{CONN}:UPID */
size_t store_key_idmap(const struct store_keys *k, const char *connector,
                       const char *upstream_id, char *out);
/* P:dlr:{ID} */
size_t store_key_receipts(const struct store_keys *k, const char *account,
                          char *out);
/* P:tb:{KEY} */
size_t store_key_bucket(const struct store_keys *k, const char *bucket,
                        char *out);
/* P:quota:{ID}:DAY */
size_t store_key_quota(const struct store_keys *k, const char *account,
                       const char *day, char *out);
/* P:lease:{NAME} */
size_t store_key_lease(const struct store_keys *k, const char *name,
                       char *out);
/* P:msg:{ID}:MSGID */
size_t store_key_msg(const struct store_keys *k, const char *account,
                     const char *msg_id, char *out);

#endif /* SMPPBRIDGE_STORE_KEYS_H */
