/*
 * auth.h - bind credentials policy: password hashes, a cache of verified
 * credentials, source address allowlists and a failure limiter.
 *
 * OpenSSL for the hash, the MAC and random numbers; no sockets, no event
 * loop, no Redis, no logging. Nothing here is thread-safe: each object
 * belongs to one event loop. Allocation happens only in the *_new()
 * functions.
 *
 * Password hashes (never the password itself) are scrypt (RFC 7914) through
 * OpenSSL's EVP_PBE_scrypt, stored as
 *
 *   scrypt$<N>$<r>$<p>$<salt>$<key>
 *
 * where <salt> (16 random bytes) and <key> (32 bytes) are standard base64
 * with padding. Today's parameters are N=16384, r=8, p=1: 16 MiB and
 * about 75 ms per verification on one core of the project's machine.
 * Every stored string carries its own parameters, so raising them later
 * leaves old hashes verifiable.
 *
 * A bind storm must not put thousands of those 75 ms computations on the
 * event loop (the first verification of each account should run off the
 * loop, in a worker thread): after one slow verification succeeds the
 * caller puts the credentials into an auth_cache, and later binds with
 * the same system_id, the same stored hash and the same password are
 * answered from a keyed MAC (about 1.5 us). Failed binds are counted in
 * auth_limiter tables (one keyed by source address, one by the pair
 * (system_id, source address)) which slow down and then refuse the source
 * of repeated failures. Nothing is ever keyed by the system_id alone: a
 * stranger's failures must not lock a customer out of its own addresses.
 */
#ifndef SMPPBRIDGE_AUTH_H
#define SMPPBRIDGE_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct conf_server;

/* ------------------------------------------------------------------ */
/* Password hashes                                                     */
/* ------------------------------------------------------------------ */

#define AUTH_SCRYPT_N 16384
#define AUTH_SCRYPT_R 8
#define AUTH_SCRYPT_P 1
#define AUTH_SALT_LEN 16
#define AUTH_KEY_LEN 32
/* Room for any string auth_hash_password() writes, with its NUL
 * ("scrypt$16384$8$1$" + 24 + "$" + 44 is 87 characters). */
#define AUTH_HASH_MAX 128
/* Longest stored string auth_verify_password() considers. */
#define AUTH_STORED_MAX 256
#define AUTH_ERR_LEN 256

/*
 * scrypt(<pw>, <salt>, <N>, <r>, <p>) into <out> (<out_len> bytes): the one
 * derivation every hash goes through, exposed for the RFC 7914 known-answer
 * test. <N> must be a power of two > 1; memory is about 128 * N * r bytes.
 * 0, or -1 when the parameters are out of range or OpenSSL fails.
 */
int auth_scrypt(const char *pw, size_t pw_len, const uint8_t *salt,
                size_t salt_len, uint64_t N, uint64_t r, uint64_t p,
                uint8_t *out, size_t out_len);

/*
 * Hash <pw> (<len> bytes, any content) with a fresh random salt and today's
 * parameters into <out> (NUL-terminated, <cap> >= AUTH_HASH_MAX is always
 * enough). Returns the string's length, or -1 (no randomness, OpenSSL
 * failure, <cap> too small).
 */
int auth_hash_password(const char *pw, size_t len, char *out, size_t cap);

/*
 * 1 when <pw> (<len> bytes) is the password <stored> was made from, else 0.
 * Parameters come from <stored>; a malformed <stored> (unknown scheme,
 * parameters out of range, bad base64, lengths outside 8..64 bytes of salt
 * and 16..64 of key) is 0, never a crash or a huge allocation. The keys are
 * compared with CRYPTO_memcmp. Slow by design: never call it on the event
 * loop for every bind without the auth_cache in front.
 *
 * As in every HMAC-based KDF, trailing NUL bytes do not change the key
 * ("pw" and "pw\0" verify alike); SMPP passwords are C-Octet strings and
 * cannot contain a NUL, so no bind can tell.
 */
int auth_verify_password(const char *pw, size_t len, const char *stored);

/* 1 when <stored> parses as a hash auth_verify_password() would check. */
int auth_hash_wellformed(const char *stored);

/* ------------------------------------------------------------------ */
/* Verified-credentials cache                                          */
/* ------------------------------------------------------------------ */

#define AUTH_CACHE_DEFAULT 4096

struct auth_cache;

/*
 * A cache of at most <entries> verified credentials (rounded up to a
 * multiple of 4; 0 means AUTH_CACHE_DEFAULT), with a per-process random
 * MAC key. Each entry is (system_id, HMAC-SHA256 over the system_id, the
 * stored hash string and the password): no password and no hash is kept
 * in memory. At most one entry per system_id; eviction is LRU within
 * 4-way sets. NULL when out of memory or randomness.
 */
struct auth_cache *auth_cache_new(size_t entries);
void auth_cache_free(struct auth_cache *c);

/*
 * 1 when (<system_id>, <stored_hash>, <pw>) was put in the cache and is
 * still there: the password is right without the slow hash. 0 for a miss,
 * a wrong password or a stored hash that changed since (password changed):
 * the caller then runs auth_verify_password(). Constant-time comparison.
 */
int auth_cache_check(struct auth_cache *c, const char *system_id,
                     const char *stored_hash, const char *pw, size_t len);

/* Remember credentials that auth_verify_password() just accepted;
 * replaces the system_id's previous entry. */
void auth_cache_put(struct auth_cache *c, const char *system_id,
                    const char *stored_hash, const char *pw, size_t len);

/* Drop <system_id>'s entry (account deleted or changed). */
void auth_cache_forget(struct auth_cache *c, const char *system_id);

/* ------------------------------------------------------------------ */
/* Source address allowlists                                           */
/* ------------------------------------------------------------------ */

/*
 * An allowlist is a comma-separated list of CIDR blocks, IPv4 or IPv6
 * ("10.0.0.0/8, 192.0.2.7, 2001:db8::/32"); spaces around items are
 * ignored, an address without a length is a single host, and the empty
 * (or blank) list allows every address. Host bits after the prefix must be
 * zero ("10.1.0.0/8" is refused: it is almost always a typo).
 *
 * An IPv4 peer, whether it arrived on an IPv4 socket or as an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d, on a dual-stack listener), is compared with
 * the IPv4 blocks only; a native IPv6 peer with the IPv6 blocks only. So
 * "::/0" means every IPv6 client and "0.0.0.0/0" every IPv4 client.
 */

/* 1 when <peer> is allowed by <list>, 0 when not (also for non-IP
 * families unless the list is empty), -1 when <list> is malformed: the
 * caller refuses the bind (fail closed). */
int auth_allow_match(const char *list, const struct sockaddr *peer);

/* 1 when <list> is well formed; otherwise 0 and the first problem in
 * <err> (<cap> bytes), naming the item. */
int auth_cidr_list_valid(const char *list, char *err, size_t cap);

/* ------------------------------------------------------------------ */
/* Failure limiter                                                     */
/* ------------------------------------------------------------------ */

enum auth_verdict {
    AUTH_OK = 0,
    AUTH_SLOW,    /* failures >= max(1, limit / 2): delay the answer */
    AUTH_BLOCKED, /* failures reached limit within the window: refuse */
};

#define AUTH_LIMITER_DEFAULT 8192
/* Keys are compared in full; up to this many bytes are kept for that
 * (longer keys are told apart by a 64-bit keyed hash of the whole key). */
#define AUTH_LIMITER_KEY_MAX 64
/* auth_limiter_peer_key() output fits in this. */
#define AUTH_PEER_KEY_MAX 64

struct auth_limiter;

/*
 * A table of at most <slots> keys (rounded up to a multiple of 8; 0 means
 * AUTH_LIMITER_DEFAULT) counting failed binds per key. A key with <limit>
 * failures within <window_ms> of its first is blocked for <block_ms>, after
 * which it starts again from zero; a key whose window passed without
 * reaching the limit starts again from zero. <limit> 0 disables the
 * limiter (always AUTH_OK). Memory is fixed at creation whatever the keys:
 * when a set of 8 slots is full, the entry with the least evidence goes
 * (fewest failures, then the oldest), so a flood of one-off keys does not
 * evict a blocked one. Buckets come from a keyed SipHash with a random key.
 */
struct auth_limiter *auth_limiter_new(size_t slots, unsigned limit,
                                      unsigned window_ms, unsigned block_ms);
/* The same with [server] auth_fail_limit, auth_fail_window_ms and
 * auth_block_ms. */
struct auth_limiter *auth_limiter_new_conf(const struct conf_server *s,
                                           size_t slots);
void auth_limiter_free(struct auth_limiter *l);

/* What to do with a bind from <key> at <now_ms> (any monotonic clock). */
enum auth_verdict auth_limiter_check(struct auth_limiter *l, const char *key,
                                     uint64_t now_ms);
/* Count one failure for <key>; returns the verdict after counting it. */
enum auth_verdict auth_limiter_fail(struct auth_limiter *l, const char *key,
                                    uint64_t now_ms);
/* A successful bind: forget <key>'s failures. */
void auth_limiter_success(struct auth_limiter *l, const char *key);
/* Keys held now (tests, metrics). */
size_t auth_limiter_count(const struct auth_limiter *l);

/* One live key, for listing (GET /auth/blocks). <key> is valid during the
 * callback only. <remaining_ms> is the time left of the block when
 * <blocked>, else of the window in which <failures> are counted. */
struct auth_limiter_entry {
    const char *key;
    unsigned failures;
    int blocked;
    uint64_t remaining_ms;
};
typedef void (*auth_limiter_cb)(const struct auth_limiter_entry *e, void *arg);

/* Every key still live at <now_ms>, in no particular order (expired ones
 * are dropped on the way). */
void auth_limiter_foreach(struct auth_limiter *l, uint64_t now_ms,
                          auth_limiter_cb cb, void *arg);

/* Keys blocked at <now_ms>. */
size_t auth_limiter_blocked(struct auth_limiter *l, uint64_t now_ms);

/*
 * Forget every key that is <what>, or whose system_id or address part is
 * <what> when it is a pair key (auth_limiter_pair_key): the operator's
 * unblock. How many keys were forgotten.
 */
size_t auth_limiter_forget(struct auth_limiter *l, const char *what);

/*
 * The limiter key of a (system_id, source address) pair into <out> (<cap>
 * >= AUTH_LIMITER_KEY_MAX): "SYSTEM_ID@PEER_KEY". A system_id may itself
 * contain '@' but an address key never does, so the last '@' splits it.
 * 0, or -1 when it does not fit.
 */
int auth_limiter_pair_key(const char *system_id, const char *peer_key,
                          char *out, size_t cap);

/*
 * The limiter key for a source address, into <out> (<cap> >=
 * AUTH_PEER_KEY_MAX): "a.b.c.d" for IPv4 and IPv4-mapped peers, the /64
 * ("2001:db8:1:2::/64") for IPv6 peers, since one client owns a whole /64.
 * 0, or -1 for other families.
 */
int auth_limiter_peer_key(const struct sockaddr *peer, char *out, size_t cap);

/* SipHash-2-4 of <data> under the 16-byte <key> (exposed for its test). */
uint64_t auth_siphash(const uint8_t key[16], const void *data, size_t len);

#endif /* SMPPBRIDGE_AUTH_H */
