/*
 * auth.c - password hashes, verified-credentials cache, CIDR allowlists
 * and the failure limiter. See auth.h for the contracts.
 */
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "auth.h"
#include "conf.h"

/* ------------------------------------------------------------------ */
/* base64 (RFC 4648 standard alphabet, padded, canonical only)          */
/* ------------------------------------------------------------------ */

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode <n> bytes into <out> (NUL-terminated); -1 when <cap> is short. */
static int b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t need = (n + 2) / 3 * 4;
    if (need + 1 > cap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64_alpha[(v >> 18) & 63];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alpha[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_alpha[v & 63] : '=';
    }
    out[o] = '\0';
    return (int)o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Decode <len> characters of padded base64 into <out> (<cap> bytes).
 * Only the canonical form is accepted (length a multiple of 4, '=' only as
 * the last one or two characters, unused bits zero), so one byte string
 * has exactly one stored spelling. Returns the byte count or -1.
 */
static int b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len == 0 || len % 4 != 0)
        return -1;
    size_t pad = 0;
    if (in[len - 1] == '=')
        pad = in[len - 2] == '=' ? 2 : 1;
    size_t n = len / 4 * 3 - pad;
    if (n > cap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        int v[4];
        for (int k = 0; k < 4; k++) {
            size_t at = i + (size_t)k;
            if (last && at >= len - pad) {
                v[k] = 0;
                continue;
            }
            v[k] = b64_value(in[at]);
            if (v[k] < 0)
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if (last && pad == 2 && (w & 0xffff) != 0)
            return -1;
        if (last && pad == 1 && (w & 0xff) != 0)
            return -1;
        out[o++] = (uint8_t)(w >> 16);
        if (o < n)
            out[o++] = (uint8_t)(w >> 8);
        if (o < n)
            out[o++] = (uint8_t)w;
    }
    return (int)n;
}

/* ------------------------------------------------------------------ */
/* scrypt                                                              */
/* ------------------------------------------------------------------ */

/* Bounds on what a stored string may ask for: 128 * N * r bytes of memory
 * at most 128 MiB (8 times today's), p at most 16. */
#define SCRYPT_MEM_MAX (128ULL << 20)
#define SCRYPT_P_MAX 16
#define SALT_MIN 8
#define SALT_MAX 64
#define KEY_MIN 16
#define KEY_MAX 64

static int scrypt_params_ok(uint64_t N, uint64_t r, uint64_t p)
{
    if (N < 2 || (N & (N - 1)) != 0 || r < 1 || p < 1 || p > SCRYPT_P_MAX)
        return 0;
    if (r > SCRYPT_MEM_MAX / 128 || N > SCRYPT_MEM_MAX / (128 * r))
        return 0;
    return 1;
}

int auth_scrypt(const char *pw, size_t pw_len, const uint8_t *salt,
                size_t salt_len, uint64_t N, uint64_t r, uint64_t p,
                uint8_t *out, size_t out_len)
{
    if (!scrypt_params_ok(N, r, p) || out_len == 0)
        return -1;
    /* OpenSSL's own check: p*128*r + 128*r*(N+2) bytes <= maxmem. */
    uint64_t maxmem = 128 * r * (N + 2) + 128 * r * p + 4096;
    if (pw == NULL)
        pw = "";
    if (EVP_PBE_scrypt(pw, pw_len, salt, salt_len, N, r, p, maxmem, out,
                       out_len) != 1)
        return -1;
    return 0;
}

int auth_hash_password(const char *pw, size_t len, char *out, size_t cap)
{
    uint8_t salt[AUTH_SALT_LEN], key[AUTH_KEY_LEN];
    char salt64[32], key64[48];
    int ret = -1;
    if (RAND_bytes(salt, sizeof salt) != 1)
        goto done;
    if (auth_scrypt(pw, len, salt, sizeof salt, AUTH_SCRYPT_N, AUTH_SCRYPT_R,
                    AUTH_SCRYPT_P, key, sizeof key) != 0)
        goto done;
    if (b64_encode(salt, sizeof salt, salt64, sizeof salt64) < 0 ||
        b64_encode(key, sizeof key, key64, sizeof key64) < 0)
        goto done;
    int n = snprintf(out, cap, "scrypt$%u$%u$%u$%s$%s", AUTH_SCRYPT_N,
                     AUTH_SCRYPT_R, AUTH_SCRYPT_P, salt64, key64);
    if (n > 0 && (size_t)n < cap)
        ret = n;
done:
    OPENSSL_cleanse(key, sizeof key);
    if (ret < 0 && cap > 0)
        out[0] = '\0';
    return ret;
}

struct stored_hash {
    uint64_t N, r, p;
    uint8_t salt[SALT_MAX];
    size_t salt_len;
    uint8_t key[KEY_MAX];
    size_t key_len;
};

/* A decimal number of 1..10 digits without a leading zero, ending at '$';
 * advances *<s> past the '$'. */
static int parse_param(const char **s, uint64_t *v)
{
    const char *p = *s;
    uint64_t n = 0;
    size_t digits = 0;
    if (*p == '0')
        return -1;
    while (*p >= '0' && *p <= '9' && digits < 10) {
        n = n * 10 + (uint64_t)(*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || *p != '$')
        return -1;
    *v = n;
    *s = p + 1;
    return 0;
}

/* Parse "scrypt$N$r$p$salt$key" strictly into <h>: 0 or -1. */
static int stored_parse(const char *stored, struct stored_hash *h)
{
    if (stored == NULL || strnlen(stored, AUTH_STORED_MAX) >= AUTH_STORED_MAX)
        return -1;
    if (strncmp(stored, "scrypt$", 7) != 0)
        return -1;
    const char *s = stored + 7;
    if (parse_param(&s, &h->N) < 0 || parse_param(&s, &h->r) < 0 ||
        parse_param(&s, &h->p) < 0 || !scrypt_params_ok(h->N, h->r, h->p))
        return -1;
    const char *dollar = strchr(s, '$');
    if (dollar == NULL)
        return -1;
    int n = b64_decode(s, (size_t)(dollar - s), h->salt, sizeof h->salt);
    if (n < SALT_MIN)
        return -1;
    h->salt_len = (size_t)n;
    s = dollar + 1;
    n = b64_decode(s, strlen(s), h->key, sizeof h->key);
    if (n < KEY_MIN)
        return -1;
    h->key_len = (size_t)n;
    return 0;
}

int auth_hash_wellformed(const char *stored)
{
    struct stored_hash h;
    return stored_parse(stored, &h) == 0;
}

int auth_verify_password(const char *pw, size_t len, const char *stored)
{
    struct stored_hash h;
    uint8_t key[KEY_MAX];
    int ok = 0;
    if (stored_parse(stored, &h) != 0)
        return 0;
    if (auth_scrypt(pw, len, h.salt, h.salt_len, h.N, h.r, h.p, key,
                    h.key_len) == 0)
        ok = CRYPTO_memcmp(key, h.key, h.key_len) == 0;
    OPENSSL_cleanse(key, sizeof key);
    return ok;
}

/* ------------------------------------------------------------------ */
/* SipHash-2-4 (Aumasson and Bernstein), for bucket indexes             */
/* ------------------------------------------------------------------ */

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#define SIPROUND                                                              \
    do {                                                                      \
        v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);         \
        v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;                              \
        v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;                              \
        v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);         \
    } while (0)

uint64_t auth_siphash(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ------------------------------------------------------------------ */
/* Verified-credentials cache                                          */
/* ------------------------------------------------------------------ */

#define CACHE_WAYS 4
#define CACHE_ID_MAX 15

struct cache_entry {
    char id[CACHE_ID_MAX + 1]; /* "" = free */
    uint8_t mac[32];
    uint64_t used;             /* tick of the last put or hit */
};

struct auth_cache {
    EVP_MAC *mac;
    EVP_MAC_CTX *base;         /* keyed; dup'ed for each computation */
    uint8_t index_key[16];
    size_t nsets;
    uint64_t tick;
    struct cache_entry *e;     /* nsets * CACHE_WAYS */
};

struct auth_cache *auth_cache_new(size_t entries)
{
    if (entries == 0)
        entries = AUTH_CACHE_DEFAULT;
    struct auth_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->nsets = (entries + CACHE_WAYS - 1) / CACHE_WAYS;
    c->e = calloc(c->nsets * CACHE_WAYS, sizeof *c->e);
    uint8_t key[32];
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    c->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (c->e == NULL || c->mac == NULL || RAND_bytes(key, sizeof key) != 1 ||
        RAND_bytes(c->index_key, sizeof c->index_key) != 1)
        goto fail;
    c->base = EVP_MAC_CTX_new(c->mac);
    if (c->base == NULL || EVP_MAC_init(c->base, key, sizeof key, params) != 1)
        goto fail;
    OPENSSL_cleanse(key, sizeof key);
    return c;
fail:
    OPENSSL_cleanse(key, sizeof key);
    auth_cache_free(c);
    return NULL;
}

void auth_cache_free(struct auth_cache *c)
{
    if (c == NULL)
        return;
    EVP_MAC_CTX_free(c->base);
    EVP_MAC_free(c->mac);
    if (c->e != NULL)
        OPENSSL_cleanse(c->e, c->nsets * CACHE_WAYS * sizeof *c->e);
    free(c->e);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

/* HMAC over an unambiguous encoding of the three inputs; 0 or -1. */
static int cache_mac(struct auth_cache *c, const char *id, size_t id_len,
                     const char *stored, const char *pw, size_t len,
                     uint8_t out[32])
{
    static const char domain[] = "smppbridge auth cache v1";
    size_t stored_len = strlen(stored);
    uint8_t idl = (uint8_t)id_len;
    uint8_t sl[4] = {(uint8_t)(stored_len >> 24), (uint8_t)(stored_len >> 16),
                     (uint8_t)(stored_len >> 8), (uint8_t)stored_len};
    size_t outl = 0;
    int ok = 0;
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(c->base);
    if (m != NULL &&
        EVP_MAC_update(m, (const uint8_t *)domain, sizeof domain) &&
        EVP_MAC_update(m, &idl, 1) &&
        EVP_MAC_update(m, (const uint8_t *)id, id_len) &&
        EVP_MAC_update(m, sl, sizeof sl) &&
        EVP_MAC_update(m, (const uint8_t *)stored, stored_len) &&
        (len == 0 || EVP_MAC_update(m, (const uint8_t *)pw, len)) &&
        EVP_MAC_final(m, out, &outl, 32) && outl == 32)
        ok = 1;
    EVP_MAC_CTX_free(m);
    return ok ? 0 : -1;
}

/* The set <id> belongs to, or NULL for ids the cache does not hold. */
static struct cache_entry *cache_set(struct auth_cache *c, const char *id,
                                     size_t *id_len)
{
    if (id == NULL)
        return NULL;
    *id_len = strnlen(id, CACHE_ID_MAX + 1);
    if (*id_len == 0 || *id_len > CACHE_ID_MAX)
        return NULL;
    uint64_t h = auth_siphash(c->index_key, id, *id_len);
    return c->e + (h % c->nsets) * CACHE_WAYS;
}

int auth_cache_check(struct auth_cache *c, const char *system_id,
                     const char *stored_hash, const char *pw, size_t len)
{
    size_t id_len;
    struct cache_entry *set = cache_set(c, system_id, &id_len);
    if (set == NULL || stored_hash == NULL)
        return 0;
    for (int w = 0; w < CACHE_WAYS; w++) {
        struct cache_entry *e = &set[w];
        if (strcmp(e->id, system_id) != 0)
            continue;
        uint8_t mac[32];
        int hit = cache_mac(c, system_id, id_len, stored_hash, pw, len,
                            mac) == 0 &&
                  CRYPTO_memcmp(mac, e->mac, sizeof mac) == 0;
        OPENSSL_cleanse(mac, sizeof mac);
        if (hit)
            e->used = ++c->tick;
        return hit;
    }
    return 0;
}

void auth_cache_put(struct auth_cache *c, const char *system_id,
                    const char *stored_hash, const char *pw, size_t len)
{
    size_t id_len;
    struct cache_entry *set = cache_set(c, system_id, &id_len);
    if (set == NULL || stored_hash == NULL)
        return;
    struct cache_entry *slot = NULL;
    for (int w = 0; w < CACHE_WAYS && slot == NULL; w++)
        if (strcmp(set[w].id, system_id) == 0)
            slot = &set[w];
    for (int w = 0; w < CACHE_WAYS && slot == NULL; w++)
        if (set[w].id[0] == '\0')
            slot = &set[w];
    if (slot == NULL) {
        slot = &set[0];
        for (int w = 1; w < CACHE_WAYS; w++)
            if (set[w].used < slot->used)
                slot = &set[w];
    }
    if (cache_mac(c, system_id, id_len, stored_hash, pw, len, slot->mac) != 0) {
        memset(slot, 0, sizeof *slot);
        return;
    }
    memcpy(slot->id, system_id, id_len + 1);
    slot->used = ++c->tick;
}

void auth_cache_forget(struct auth_cache *c, const char *system_id)
{
    size_t id_len;
    struct cache_entry *set = cache_set(c, system_id, &id_len);
    if (set == NULL)
        return;
    for (int w = 0; w < CACHE_WAYS; w++)
        if (strcmp(set[w].id, system_id) == 0)
            OPENSSL_cleanse(&set[w], sizeof set[w]);
}

/* ------------------------------------------------------------------ */
/* CIDR allowlists                                                     */
/* ------------------------------------------------------------------ */

struct ipaddr {
    int v6;                    /* 0: IPv4 in a[0..3]; 1: IPv6 in a[0..15] */
    uint8_t a[16];
};

struct cidr {
    struct ipaddr ip;
    unsigned bits;
};

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* <peer> as an ipaddr, IPv4-mapped IPv6 unwrapped to IPv4; -1 otherwise. */
static int peer_addr(const struct sockaddr *peer, struct ipaddr *ip)
{
    memset(ip, 0, sizeof *ip);
    if (peer == NULL)
        return -1;
    if (peer->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, peer, sizeof sin);
        memcpy(ip->a, &sin.sin_addr, 4);
        return 0;
    }
    if (peer->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, peer, sizeof sin6);
        if (memcmp(&sin6.sin6_addr, v4mapped, sizeof v4mapped) == 0) {
            memcpy(ip->a, (const uint8_t *)&sin6.sin6_addr + 12, 4);
        } else {
            ip->v6 = 1;
            memcpy(ip->a, &sin6.sin6_addr, 16);
        }
        return 0;
    }
    return -1;
}

/* 1 when the first <bits> bits of <a> and <b> are equal. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* Zero every bit of <a> (<n> bytes) after the first <bits>. */
static void mask_host(uint8_t *a, size_t n, unsigned bits)
{
    for (size_t i = 0; i < n; i++) {
        unsigned lo = 8 * (unsigned)i;
        if (bits >= lo + 8)
            continue;
        a[i] = bits <= lo ? 0 : (uint8_t)(a[i] & (0xff << (8 - (bits - lo))));
    }
}

/* Parse one trimmed item "ADDR[/LEN]" (<len> chars); 0 or -1 with <err>. */
static int cidr_parse(const char *s, size_t len, struct cidr *c, char *err,
                      size_t cap)
{
    char item[64], buf[64];
    if (len >= sizeof buf) {
        snprintf(err, cap, "'%.40s...' is too long for an address", s);
        return -1;
    }
    memcpy(item, s, len);
    item[len] = '\0';
    memcpy(buf, item, len + 1);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash != NULL) {
        *slash = '\0';
        const char *d = slash + 1;
        size_t nd = strlen(d);
        if (nd == 0 || nd > 3 || strspn(d, "0123456789") != nd ||
            (nd > 1 && d[0] == '0')) {
            snprintf(err, cap, "'%s': bad prefix length", item);
            return -1;
        }
        bits = strtol(d, NULL, 10);
    }
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, buf, c->ip.a) == 1) {
        c->ip.v6 = 0;
        if (bits < 0)
            bits = 32;
        if (bits > 32) {
            snprintf(err, cap, "'%s': IPv4 prefix longer than 32", item);
            return -1;
        }
    } else if (inet_pton(AF_INET6, buf, c->ip.a) == 1) {
        c->ip.v6 = 1;
        if (bits < 0)
            bits = 128;
        if (bits > 128) {
            snprintf(err, cap, "'%s': IPv6 prefix longer than 128", item);
            return -1;
        }
    } else {
        snprintf(err, cap, "'%s' is not an IPv4 or IPv6 address or block",
                 item);
        return -1;
    }
    c->bits = (unsigned)bits;
    size_t n = c->ip.v6 ? 16 : 4;
    uint8_t net[16];
    memcpy(net, c->ip.a, n);
    mask_host(net, n, c->bits);
    if (memcmp(net, c->ip.a, n) != 0) {
        char txt[INET6_ADDRSTRLEN];
        inet_ntop(c->ip.v6 ? AF_INET6 : AF_INET, net, txt, sizeof txt);
        snprintf(err, cap, "'%s' has host bits set (the network is %s/%u)",
                 item, txt, c->bits);
        return -1;
    }
    /* An IPv4-mapped block is the IPv4 block it maps. */
    if (c->ip.v6 && c->bits >= 96 && memcmp(c->ip.a, v4mapped, 12) == 0) {
        memmove(c->ip.a, c->ip.a + 12, 4);
        memset(c->ip.a + 4, 0, 12);
        c->ip.v6 = 0;
        c->bits -= 96;
    }
    return 0;
}

/*
 * Walk every item of <list>; when <peer> is not NULL set *<matched> if one
 * covers it. 0, or -1 with <err> at the first malformed item: the whole
 * list is always checked so a malformed list never half-works.
 */
static int cidr_walk(const char *list, const struct ipaddr *peer, int *matched,
                     char *err, size_t cap)
{
    const char *p = list;
    if (strspn(list, " \t") == strlen(list))
        return 0;
    for (;;) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b) {
            snprintf(err, cap, "empty item in the address list");
            return -1;
        }
        struct cidr c;
        if (cidr_parse(a, (size_t)(b - a), &c, err, cap) < 0)
            return -1;
        if (peer != NULL && peer->v6 == c.ip.v6 &&
            prefix_eq(peer->a, c.ip.a, c.bits))
            *matched = 1;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

int auth_allow_match(const char *list, const struct sockaddr *peer)
{
    char err[AUTH_ERR_LEN];
    struct ipaddr ip;
    int matched = 0;
    if (list == NULL)
        return -1;
    int have_peer = peer_addr(peer, &ip) == 0;
    if (cidr_walk(list, have_peer ? &ip : NULL, &matched, err, sizeof err) < 0)
        return -1;
    if (strspn(list, " \t") == strlen(list))
        return 1;
    return matched;
}

int auth_cidr_list_valid(const char *list, char *err, size_t cap)
{
    char tmp[AUTH_ERR_LEN];
    int matched = 0;
    if (err == NULL || cap == 0) {
        err = tmp;
        cap = sizeof tmp;
    }
    err[0] = '\0';
    if (list == NULL) {
        snprintf(err, cap, "no address list");
        return 0;
    }
    return cidr_walk(list, NULL, &matched, err, cap) == 0;
}

/* ------------------------------------------------------------------ */
/* Failure limiter                                                     */
/* ------------------------------------------------------------------ */

#define LIM_WAYS 8

struct lim_entry {
    uint64_t hash;              /* keyed hash of the whole key */
    uint64_t window_start;      /* first failure of this window */
    uint64_t blocked_until;
    uint32_t failures;
    uint8_t used;
    uint8_t blocked;
    char key[AUTH_LIMITER_KEY_MAX]; /* first 63 bytes of the key */
};

struct auth_limiter {
    unsigned limit, slow_at;
    uint64_t window_ms, block_ms;
    uint8_t hash_key[16];
    size_t nsets;
    struct lim_entry *e;        /* nsets * LIM_WAYS */
};

struct auth_limiter *auth_limiter_new(size_t slots, unsigned limit,
                                      unsigned window_ms, unsigned block_ms)
{
    if (slots == 0)
        slots = AUTH_LIMITER_DEFAULT;
    struct auth_limiter *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->nsets = (slots + LIM_WAYS - 1) / LIM_WAYS;
    l->e = calloc(l->nsets * LIM_WAYS, sizeof *l->e);
    if (l->e == NULL || RAND_bytes(l->hash_key, sizeof l->hash_key) != 1) {
        auth_limiter_free(l);
        return NULL;
    }
    l->limit = limit;
    l->slow_at = limit / 2 > 0 ? limit / 2 : 1;
    l->window_ms = window_ms;
    l->block_ms = block_ms;
    return l;
}

struct auth_limiter *auth_limiter_new_conf(const struct conf_server *s,
                                           size_t slots)
{
    return auth_limiter_new(slots, s->auth_fail_limit, s->auth_fail_window_ms,
                            s->auth_block_ms);
}

void auth_limiter_free(struct auth_limiter *l)
{
    if (l == NULL)
        return;
    free(l->e);
    free(l);
}

/* Free <e> if its block or its window is over; 1 when it is still live. */
static int lim_live(const struct auth_limiter *l, struct lim_entry *e,
                    uint64_t now)
{
    if (!e->used)
        return 0;
    int over = e->blocked ? now >= e->blocked_until
                          : now >= e->window_start &&
                                now - e->window_start >= l->window_ms;
    if (over)
        memset(e, 0, sizeof *e);
    return !over;
}

static struct lim_entry *lim_find(struct auth_limiter *l, const char *key,
                                  uint64_t *hash, struct lim_entry **set)
{
    size_t len = strlen(key);
    *hash = auth_siphash(l->hash_key, key, len);
    *set = l->e + (*hash % l->nsets) * LIM_WAYS;
    for (int w = 0; w < LIM_WAYS; w++) {
        struct lim_entry *e = &(*set)[w];
        if (e->used && e->hash == *hash &&
            strncmp(e->key, key, sizeof e->key - 1) == 0)
            return e;
    }
    return NULL;
}

/* 1 when <a> is worth less than <b> (evicted first): not blocked before
 * blocked, fewer failures, then older; blocked ones by the earliest end. */
static int lim_weaker(const struct lim_entry *a, const struct lim_entry *b)
{
    if (a->blocked != b->blocked)
        return !a->blocked;
    if (a->blocked)
        return a->blocked_until < b->blocked_until;
    if (a->failures != b->failures)
        return a->failures < b->failures;
    return a->window_start < b->window_start;
}

static enum auth_verdict lim_verdict(const struct auth_limiter *l,
                                     const struct lim_entry *e)
{
    if (e->blocked)
        return AUTH_BLOCKED;
    return e->failures >= l->slow_at ? AUTH_SLOW : AUTH_OK;
}

enum auth_verdict auth_limiter_check(struct auth_limiter *l, const char *key,
                                     uint64_t now_ms)
{
    uint64_t hash;
    struct lim_entry *set;
    if (l->limit == 0 || key == NULL)
        return AUTH_OK;
    struct lim_entry *e = lim_find(l, key, &hash, &set);
    if (e == NULL || !lim_live(l, e, now_ms))
        return AUTH_OK;
    return lim_verdict(l, e);
}

enum auth_verdict auth_limiter_fail(struct auth_limiter *l, const char *key,
                                    uint64_t now_ms)
{
    uint64_t hash;
    struct lim_entry *set;
    if (l->limit == 0 || key == NULL)
        return AUTH_OK;
    struct lim_entry *e = lim_find(l, key, &hash, &set);
    if (e != NULL && lim_live(l, e, now_ms)) {
        if (e->blocked) /* refused without a check: nothing new to count */
            return AUTH_BLOCKED;
    } else {
        e = NULL;
        for (int w = 0; w < LIM_WAYS && e == NULL; w++)
            if (!lim_live(l, &set[w], now_ms))
                e = &set[w];
        if (e == NULL) { /* full: the entry with the least evidence goes */
            e = &set[0];
            for (int w = 1; w < LIM_WAYS; w++)
                if (lim_weaker(&set[w], e))
                    e = &set[w];
        }
        memset(e, 0, sizeof *e);
        e->used = 1;
        e->hash = hash;
        e->window_start = now_ms;
        snprintf(e->key, sizeof e->key, "%s", key);
    }
    e->failures++;
    if (e->failures >= l->limit && l->block_ms > 0) {
        e->blocked = 1;
        e->blocked_until = now_ms + l->block_ms;
    }
    return lim_verdict(l, e);
}

void auth_limiter_success(struct auth_limiter *l, const char *key)
{
    uint64_t hash;
    struct lim_entry *set;
    if (key == NULL)
        return;
    struct lim_entry *e = lim_find(l, key, &hash, &set);
    if (e != NULL)
        memset(e, 0, sizeof *e);
}

size_t auth_limiter_count(const struct auth_limiter *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->nsets * LIM_WAYS; i++)
        n += l->e[i].used;
    return n;
}

int auth_limiter_peer_key(const struct sockaddr *peer, char *out, size_t cap)
{
    struct ipaddr ip;
    char txt[INET6_ADDRSTRLEN];
    if (peer_addr(peer, &ip) < 0)
        return -1;
    if (!ip.v6) {
        if (inet_ntop(AF_INET, ip.a, txt, sizeof txt) == NULL)
            return -1;
        return snprintf(out, cap, "%s", txt) < (int)cap ? 0 : -1;
    }
    memset(ip.a + 8, 0, 8);
    if (inet_ntop(AF_INET6, ip.a, txt, sizeof txt) == NULL)
        return -1;
    return snprintf(out, cap, "%s/64", txt) < (int)cap ? 0 : -1;
}

void auth_limiter_foreach(struct auth_limiter *l, uint64_t now_ms,
                          auth_limiter_cb cb, void *arg)
{
    for (size_t i = 0; i < l->nsets * LIM_WAYS; i++) {
        struct lim_entry *e = &l->e[i];
        if (!lim_live(l, e, now_ms))
            continue;
        uint64_t end = e->blocked ? e->blocked_until
                                  : e->window_start + l->window_ms;
        struct auth_limiter_entry out = {
            .key = e->key, .failures = e->failures, .blocked = e->blocked,
            .remaining_ms = end > now_ms ? end - now_ms : 0,
        };
        cb(&out, arg);
    }
}

size_t auth_limiter_blocked(struct auth_limiter *l, uint64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < l->nsets * LIM_WAYS; i++)
        if (lim_live(l, &l->e[i], now_ms) && l->e[i].blocked)
            n++;
    return n;
}

/* 1 when <key> is <what>, or a pair key whose system_id part (before the
 * last '@') or address part (after it) is <what>. */
static int lim_key_matches(const char *key, const char *what)
{
    if (strcmp(key, what) == 0)
        return 1;
    const char *at = strrchr(key, '@');
    if (at == NULL)
        return 0;
    size_t id_len = (size_t)(at - key);
    if (strlen(what) == id_len && memcmp(key, what, id_len) == 0)
        return 1;
    return strcmp(at + 1, what) == 0;
}

size_t auth_limiter_forget(struct auth_limiter *l, const char *what)
{
    size_t n = 0;
    if (what == NULL || *what == '\0')
        return 0;
    for (size_t i = 0; i < l->nsets * LIM_WAYS; i++) {
        struct lim_entry *e = &l->e[i];
        if (e->used && lim_key_matches(e->key, what)) {
            memset(e, 0, sizeof *e);
            n++;
        }
    }
    return n;
}

int auth_limiter_pair_key(const char *system_id, const char *peer_key,
                          char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s@%s", system_id, peer_key);
    return n > 0 && (size_t)n < cap && (size_t)n < AUTH_LIMITER_KEY_MAX ? 0 : -1;
}
