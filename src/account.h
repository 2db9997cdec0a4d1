/*
 * account.h - a customer account (one SMPP system_id) and its Redis form.
 *
 * Pure module: no I/O, no allocation. It knows the shape of the data, not
 * how it is fetched: store (the bridge, hiredis async) and smppctl
 * (hiredis sync) do the Redis calls and hand the fields here.
 *
 * Redis layout (<prefix> is [redis] prefix, "sb" by default):
 *
 *   <prefix>:acct:{<id>}   hash, one per account. The braces are a Redis
 *                          Cluster hash tag: every key of one account
 *                          lands on one slot. Fields, all decimal text:
 *       password    scrypt$N$r$p$<salt b64>$<key b64> (auth.h); never the
 *                   password itself
 *       enabled     1 or 0: a disabled account cannot bind
 *       max_binds   binds at once across all bridges, 0 = unlimited
 *       allow       comma-separated CIDR blocks the binds may come from,
 *                   "" = any address (auth_allow_match())
 *       id_format   hex or dec: the message ids this customer receives
 *       tps         submits per second across all bridges, 0 = unlimited
 *       daily_quota submits per UTC day across all bridges, 0 = none
 *                   (each part of a long message counts; throttle.h)
 *       queue_max_messages  messages it may have queued (waiting to go
 *                   upstream) at once, 0 = the bridge's [queue]
 *                   account_max_messages
 *       queue_max_bytes     bytes those may take in Redis, 0 = [queue]
 *                   account_max_bytes
 *       created     Unix time (seconds) the account was added
 *       updated     Unix time (seconds) of the last change
 *   <prefix>:accounts      set of every account id
 *   <prefix>:events        pub/sub channel: "account <id>" is published
 *                          after every change of <id> (add, set, del), in
 *                          the same MULTI/EXEC as the change, so running
 *                          bridges reload that account live (a reload that
 *                          finds no hash means the account was deleted).
 *
 * Fields this version does not know are ignored when reading, so a newer
 * smppctl may add one without breaking older bridges; a known field with
 * a bad value makes the whole account unreadable (it is never half used).
 */
#ifndef SMPPBRIDGE_ACCOUNT_H
#define SMPPBRIDGE_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

/* system_id is a C-Octet string of 16 octets with its NUL (SMPP 3.4 5.2.1). */
#define ACCOUNT_ID_MAX 15
#define ACCOUNT_HASH_MAX 256
#define ACCOUNT_ALLOW_MAX 1024
#define ACCOUNT_ERR_LEN 256
#define ACCOUNT_NFIELDS 11
/* Bounds smppctl and the parser enforce. */
#define ACCOUNT_TPS_MAX 100000u
#define ACCOUNT_BINDS_MAX 10000u
#define ACCOUNT_QUOTA_MAX 100000000u
#define ACCOUNT_QUEUE_MSGS_MAX 100000000u
#define ACCOUNT_QUEUE_BYTES_MAX 4000000000u
/* What `smppctl account add` gives a new account unless told otherwise:
 * finite, so that a customer nobody thought about cannot take every
 * bind and all of the upstream's rate. Accounts stored without the
 * fields keep reading as unlimited (account_init). */
#define ACCOUNT_NEW_TPS 100u
#define ACCOUNT_NEW_BINDS 10u

enum account_id_format {
    ACCOUNT_ID_HEX = 0,
    ACCOUNT_ID_DEC,
};

struct account {
    char id[ACCOUNT_ID_MAX + 1];
    char password_hash[ACCOUNT_HASH_MAX];
    int enabled;
    unsigned max_binds;              /* 0 = unlimited */
    char allow[ACCOUNT_ALLOW_MAX];   /* "" = any address */
    enum account_id_format id_format;
    unsigned tps;                    /* 0 = unlimited */
    unsigned daily_quota;            /* per UTC day; 0 = none */
    unsigned queue_max_messages;     /* 0 = the bridge's default */
    uint64_t queue_max_bytes;        /* 0 = the bridge's default */
    int64_t created;                 /* Unix seconds */
    int64_t updated;
};

/* A new account's defaults: enabled, unlimited, any address, hex ids, no
 * password; <id> copied (not checked). */
void account_init(struct account *a, const char *id);

/* 1 when <id> can name an account: 1 to 15 printable ASCII characters,
 * none of them a space, '{', '}' or ':' (they would break the key's hash
 * tag or its separators); 0 otherwise. */
int account_id_valid(const char *id);

/* "hex" / "dec", and back (0 or -1). */
const char *account_id_format_name(enum account_id_format f);
int account_id_format_parse(const char *s, enum account_id_format *f);

/*
 * Fill <out> from a hash's fields (HGETALL's reply: <n> pairs of
 * <names>[i] = <values>[i], each value <lens>[i] bytes, not necessarily
 * NUL-terminated). <out>->id is kept when it holds a string and set to
 * "" otherwise: the id lives in the key, set it before or after. Strict: password and enabled are required, the
 * others default to account_init()'s values (created and updated to 0,
 * for hashes written by hand); each value must
 * be canonical (numbers in decimal without sign or leading zeros and
 * within bounds, enabled "1"/"0", id_format "hex"/"dec", allow a valid
 * CIDR list, password a well-formed hash); a field given twice is an
 * error; unknown fields are ignored. 0, or -1 with a message in <err>
 * (<cap> bytes) naming the field.
 */
int account_from_fields(const char *const *names, const char *const *values,
                        const size_t *lens, size_t n, struct account *out,
                        char *err, size_t cap);

/*
 * The fields of <a> in HSET order: name[i] = value[i] (len[i] bytes), for
 * i < n (always ACCOUNT_NFIELDS). String values point into <a> and numbers
 * into <f>'s own storage: both must outlive the use of <f>.
 */
struct account_fields {
    size_t n;
    const char *name[ACCOUNT_NFIELDS];
    const char *value[ACCOUNT_NFIELDS];
    size_t len[ACCOUNT_NFIELDS];
    char num[ACCOUNT_NFIELDS][24];
};
void account_to_fields(const struct account *a, struct account_fields *f);

/*
 * <a> as one JSON object, without the password hash:
 *   {"id":"acme","enabled":true,"max_binds":0,"allow":"","id_format":"hex",
 *    "tps":50,"daily_quota":0,"queue_max_messages":0,"queue_max_bytes":0,
 *    "created":1764180000,"updated":1764180000}
 * into <out> (NUL-terminated). Its length, or -1 when <cap> is too small.
 */
int account_to_json(const struct account *a, char *out, size_t cap);

#endif /* SMPPBRIDGE_ACCOUNT_H */
