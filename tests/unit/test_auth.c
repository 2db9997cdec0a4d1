/*
 * test_auth.c - password hashes (with RFC 7914's scrypt vectors and hashes
 * made by another implementation), the verified-credentials cache, CIDR
 * allowlists and the failure limiter.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "auth.h"
#include "conf.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static struct sockaddr_storage peer_ss;

/* A sockaddr for a numeric address, IPv4 or IPv6. */
static const struct sockaddr *peer(const char *addr)
{
    memset(&peer_ss, 0, sizeof peer_ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&peer_ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&peer_ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(40000);
    } else {
        cr_assert_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1,
                     "test address %s", addr);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(40000);
    }
    return (const struct sockaddr *)&peer_ss;
}

static void hex_eq(const uint8_t *got, const char *hex, size_t n)
{
    char buf[300];
    cr_assert(n * 2 < sizeof buf);
    for (size_t i = 0; i < n; i++)
        snprintf(buf + 2 * i, 3, "%02x", got[i]);
    cr_assert_str_eq(buf, hex);
}

/* ------------------------------------------------------------------ */
/* scrypt known answers (RFC 7914 section 12)                          */
/* ------------------------------------------------------------------ */

Test(scrypt, rfc7914_vector_3_pleaseletmein)
{
    uint8_t out[64];
    cr_assert_eq(auth_scrypt("pleaseletmein", 13,
                             (const uint8_t *)"SodiumChloride", 14, 16384, 8,
                             1, out, sizeof out),
                 0);
    hex_eq(out,
           "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
           "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887",
           64);
}

Test(scrypt, rfc7914_vector_1_empty)
{
    uint8_t out[64];
    cr_assert_eq(auth_scrypt("", 0, (const uint8_t *)"", 0, 16, 1, 1, out,
                             sizeof out),
                 0);
    hex_eq(out,
           "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
           "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
           64);
}

Test(scrypt, rfc7914_vector_2_password_nacl)
{
    uint8_t out[64];
    cr_assert_eq(auth_scrypt("password", 8, (const uint8_t *)"NaCl", 4, 1024,
                             8, 16, out, sizeof out),
                 0);
    hex_eq(out,
           "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
           "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
           64);
}

Test(scrypt, bad_parameters_refused)
{
    uint8_t out[32];
    const uint8_t salt[16] = {0};
    cr_assert_eq(auth_scrypt("x", 1, salt, 16, 16383, 8, 1, out, 32), -1);
    cr_assert_eq(auth_scrypt("x", 1, salt, 16, 1, 8, 1, out, 32), -1);
    cr_assert_eq(auth_scrypt("x", 1, salt, 16, 16384, 0, 1, out, 32), -1);
    cr_assert_eq(auth_scrypt("x", 1, salt, 16, 16384, 8, 0, out, 32), -1);
    cr_assert_eq(auth_scrypt("x", 1, salt, 16, 16384, 8, 17, out, 32), -1);
    /* 128 * 2^20 * 8 = 1 GiB: over the memory bound */
    cr_assert_eq(auth_scrypt("x", 1, salt, 16, 1u << 20, 8, 1, out, 32), -1);
}

/* ------------------------------------------------------------------ */
/* Password hashes                                                     */
/* ------------------------------------------------------------------ */

Test(hash, round_trip)
{
    char h[AUTH_HASH_MAX];
    int n = auth_hash_password("secret08", 8, h, sizeof h);
    cr_assert_gt(n, 0);
    cr_assert_eq((size_t)n, strlen(h));
    cr_assert_eq(strncmp(h, "scrypt$16384$8$1$", 17), 0, "%s", h);
    cr_assert_eq(n, 17 + 24 + 1 + 44, "%s", h);
    cr_assert(auth_hash_wellformed(h));
    cr_assert_eq(auth_verify_password("secret08", 8, h), 1);
    cr_assert_null(strstr(h, "secret08"));
}

Test(hash, wrong_password)
{
    char h[AUTH_HASH_MAX];
    cr_assert_gt(auth_hash_password("secret08", 8, h, sizeof h), 0);
    cr_assert_eq(auth_verify_password("secret09", 8, h), 0);
    cr_assert_eq(auth_verify_password("Secret08", 8, h), 0);
    cr_assert_eq(auth_verify_password("secret0", 7, h), 0);
    cr_assert_eq(auth_verify_password("", 0, h), 0);
    cr_assert_eq(auth_verify_password("secret08x", 9, h), 0);
}

/* scrypt keys its HMAC with the password, and HMAC pads short keys with
 * zeros: trailing NULs do not change the key (RFC 7914 as specified, and
 * Python's hashlib agrees). SMPP passwords are C-Octet strings and cannot
 * hold a NUL, so no bind can tell; this test pins the behaviour down. */
Test(hash, trailing_nul_is_hmac_padding)
{
    char h[AUTH_HASH_MAX];
    cr_assert_gt(auth_hash_password("secret08", 8, h, sizeof h), 0);
    cr_assert_eq(auth_verify_password("secret08\0", 9, h), 1);
    cr_assert_eq(auth_verify_password("secret08\0x", 10, h), 0);
}

Test(hash, salted_hashes_differ)
{
    char a[AUTH_HASH_MAX], b[AUTH_HASH_MAX];
    cr_assert_gt(auth_hash_password("same", 4, a, sizeof a), 0);
    cr_assert_gt(auth_hash_password("same", 4, b, sizeof b), 0);
    cr_assert_str_neq(a, b);
    /* the salts themselves differ, not only the keys */
    cr_assert_neq(strncmp(a, b, 17 + 24), 0);
    cr_assert_eq(auth_verify_password("same", 4, a), 1);
    cr_assert_eq(auth_verify_password("same", 4, b), 1);
}

Test(hash, any_length_and_bytes)
{
    char h[AUTH_HASH_MAX], longpw[300];
    memset(longpw, 'p', sizeof longpw);
    cr_assert_gt(auth_hash_password(longpw, sizeof longpw, h, sizeof h), 0);
    cr_assert_eq(auth_verify_password(longpw, sizeof longpw, h), 1);
    cr_assert_eq(auth_verify_password(longpw, sizeof longpw - 1, h), 0);
    static const char bin[] = {'a', '\0', 'b', '\xff'};
    cr_assert_gt(auth_hash_password(bin, sizeof bin, h, sizeof h), 0);
    cr_assert_eq(auth_verify_password(bin, sizeof bin, h), 1);
    cr_assert_eq(auth_verify_password("a", 1, h), 0);
}

Test(hash, output_too_small)
{
    char h[40];
    cr_assert_eq(auth_hash_password("x", 1, h, sizeof h), -1);
    cr_assert_str_eq(h, "");
}

/* Made by Python's hashlib.scrypt (OpenSSL underneath but another
 * caller): salt 00..0f, password "secret", today's parameters. */
Test(hash, verifies_foreign_hash)
{
    const char *h = "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
                    "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=";
    cr_assert(auth_hash_wellformed(h));
    cr_assert_eq(auth_verify_password("secret", 6, h), 1);
    cr_assert_eq(auth_verify_password("secreT", 6, h), 0);
}

/* Parameters come from the stored string: other N, r, p, salt and key
 * lengths still verify (hashlib.scrypt, N=1024 r=4 p=2, 8-byte salt
 * "saltsalt", 24-byte key). */
Test(hash, parameters_from_stored_string)
{
    const char *h = "scrypt$1024$4$2$c2FsdHNhbHQ=$"
                    "x92sVH41VNYw+GU31gr2FwWF+JBKxFdb";
    cr_assert_eq(auth_verify_password("smpp", 4, h), 1);
    cr_assert_eq(auth_verify_password("smpq", 4, h), 0);
}

Test(hash, malformed_stored_rejected)
{
    static const char *const bad[] = {
        "",
        "scrypt",
        "scrypt$",
        "scrypt$16384$8$1$",
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==",
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$",
        "bcrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "SCRYPT$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        /* N not a power of two, N = 1, leading zero, sign, empty */
        "scrypt$16383$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$1$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$016384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$+16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        /* r = 0, p = 0, p = 17, memory past the bound (1 GiB), overflow */
        "scrypt$16384$0$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$16384$8$0$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$16384$8$17$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$1048576$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$99999999999$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        /* base64: bad character, missing padding, non-canonical tail */
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0OD*==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODx==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmV=",
        "scrypt$16384$8$1$AAEC=wQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        /* salt of 4 bytes, key of 8 bytes */
        "scrypt$16384$8$1$AAECAw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$lUTkiXnaPIk=",
        /* an extra field, trailing junk, spaces */
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=$x",
        "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU= ",
        " scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
        "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=",
        /* a plain password stored by mistake */
        "secret",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(auth_hash_wellformed(bad[i]), 0, "accepted [%zu] %s", i,
                     bad[i]);
        cr_assert_eq(auth_verify_password("secret", 6, bad[i]), 0,
                     "verified [%zu] %s", i, bad[i]);
    }
    cr_assert_eq(auth_hash_wellformed(NULL), 0);
    cr_assert_eq(auth_verify_password("secret", 6, NULL), 0);
    char huge[1000];
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    memcpy(huge, "scrypt$16384$8$1$", 17);
    cr_assert_eq(auth_hash_wellformed(huge), 0);
}

/* ------------------------------------------------------------------ */
/* Verified-credentials cache                                          */
/* ------------------------------------------------------------------ */

static const char H1[] = "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
                         "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=";
static const char H2[] = "scrypt$1024$4$2$c2FsdHNhbHQ=$"
                         "x92sVH41VNYw+GU31gr2FwWF+JBKxFdb";

Test(cache, miss_then_hit)
{
    struct auth_cache *c = auth_cache_new(0);
    cr_assert_not_null(c);
    cr_assert_eq(auth_cache_check(c, "acme", H1, "secret", 6), 0);
    auth_cache_put(c, "acme", H1, "secret", 6);
    cr_assert_eq(auth_cache_check(c, "acme", H1, "secret", 6), 1);
    cr_assert_eq(auth_cache_check(c, "acme", H1, "secret", 6), 1);
    auth_cache_free(c);
}

Test(cache, wrong_password_or_other_id_misses)
{
    struct auth_cache *c = auth_cache_new(0);
    auth_cache_put(c, "acme", H1, "secret", 6);
    cr_assert_eq(auth_cache_check(c, "acme", H1, "secreT", 6), 0);
    cr_assert_eq(auth_cache_check(c, "acme", H1, "secret", 5), 0);
    cr_assert_eq(auth_cache_check(c, "acme", H1, "", 0), 0);
    cr_assert_eq(auth_cache_check(c, "acme2", H1, "secret", 6), 0);
    cr_assert_eq(auth_cache_check(c, "ACME", H1, "secret", 6), 0);
    /* still there for the right password */
    cr_assert_eq(auth_cache_check(c, "acme", H1, "secret", 6), 1);
    auth_cache_free(c);
}

Test(cache, stored_hash_changed_misses)
{
    struct auth_cache *c = auth_cache_new(0);
    auth_cache_put(c, "acme", H1, "secret", 6);
    /* the operator changed the password: a new stored hash */
    cr_assert_eq(auth_cache_check(c, "acme", H2, "secret", 6), 0);
    /* the new password verified slowly is put, and the old one is gone */
    auth_cache_put(c, "acme", H2, "smpp", 4);
    cr_assert_eq(auth_cache_check(c, "acme", H2, "smpp", 4), 1);
    cr_assert_eq(auth_cache_check(c, "acme", H1, "secret", 6), 0);
    auth_cache_free(c);
}

Test(cache, forget)
{
    struct auth_cache *c = auth_cache_new(0);
    auth_cache_put(c, "acme", H1, "secret", 6);
    auth_cache_forget(c, "acme");
    cr_assert_eq(auth_cache_check(c, "acme", H1, "secret", 6), 0);
    auth_cache_free(c);
}

Test(cache, ids_outside_smpp_limits_not_cached)
{
    struct auth_cache *c = auth_cache_new(0);
    auth_cache_put(c, "", H1, "secret", 6);
    cr_assert_eq(auth_cache_check(c, "", H1, "secret", 6), 0);
    auth_cache_put(c, "sixteen-chars-id", H1, "secret", 6);
    cr_assert_eq(auth_cache_check(c, "sixteen-chars-id", H1, "secret", 6), 0);
    auth_cache_free(c);
}

Test(cache, lru_within_a_set)
{
    /* 4 entries = one set of 4 ways: every id shares it */
    struct auth_cache *c = auth_cache_new(4);
    auth_cache_put(c, "a", H1, "pw", 2);
    auth_cache_put(c, "b", H1, "pw", 2);
    auth_cache_put(c, "c", H1, "pw", 2);
    auth_cache_put(c, "d", H1, "pw", 2);
    cr_assert_eq(auth_cache_check(c, "a", H1, "pw", 2), 1); /* a is fresh */
    auth_cache_put(c, "e", H1, "pw", 2);                     /* b goes */
    cr_assert_eq(auth_cache_check(c, "b", H1, "pw", 2), 0);
    cr_assert_eq(auth_cache_check(c, "a", H1, "pw", 2), 1);
    cr_assert_eq(auth_cache_check(c, "c", H1, "pw", 2), 1);
    cr_assert_eq(auth_cache_check(c, "d", H1, "pw", 2), 1);
    cr_assert_eq(auth_cache_check(c, "e", H1, "pw", 2), 1);
    auth_cache_free(c);
}

Test(cache, bounded)
{
    struct auth_cache *c = auth_cache_new(64);
    char id[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "id%d", i);
        auth_cache_put(c, id, H1, "pw", 2);
    }
    int hits = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "id%d", i);
        hits += auth_cache_check(c, id, H1, "pw", 2);
    }
    cr_assert_leq(hits, 64);
    cr_assert_gt(hits, 0);
    /* the last one put is always there */
    cr_assert_eq(auth_cache_check(c, "id19999", H1, "pw", 2), 1);
    auth_cache_free(c);
}

/* ------------------------------------------------------------------ */
/* CIDR allowlists                                                     */
/* ------------------------------------------------------------------ */

Test(cidr, empty_list_allows_everything)
{
    cr_assert_eq(auth_allow_match("", peer("192.0.2.1")), 1);
    cr_assert_eq(auth_allow_match("", peer("2001:db8::1")), 1);
    cr_assert_eq(auth_allow_match("  \t", peer("::ffff:192.0.2.1")), 1);
    char err[AUTH_ERR_LEN];
    cr_assert_eq(auth_cidr_list_valid("", err, sizeof err), 1);
}

Test(cidr, v4_slash_0_8_32)
{
    cr_assert_eq(auth_allow_match("0.0.0.0/0", peer("203.0.113.9")), 1);
    cr_assert_eq(auth_allow_match("0.0.0.0/0", peer("0.0.0.0")), 1);
    cr_assert_eq(auth_allow_match("10.0.0.0/8", peer("10.255.1.2")), 1);
    cr_assert_eq(auth_allow_match("10.0.0.0/8", peer("10.0.0.0")), 1);
    cr_assert_eq(auth_allow_match("10.0.0.0/8", peer("11.0.0.1")), 0);
    cr_assert_eq(auth_allow_match("10.0.0.0/8", peer("9.255.255.255")), 0);
    cr_assert_eq(auth_allow_match("192.0.2.7/32", peer("192.0.2.7")), 1);
    cr_assert_eq(auth_allow_match("192.0.2.7/32", peer("192.0.2.6")), 0);
    cr_assert_eq(auth_allow_match("192.0.2.7", peer("192.0.2.7")), 1);
    cr_assert_eq(auth_allow_match("192.0.2.7", peer("192.0.2.8")), 0);
}

Test(cidr, v4_odd_prefix)
{
    cr_assert_eq(auth_allow_match("192.168.0.0/23", peer("192.168.1.255")), 1);
    cr_assert_eq(auth_allow_match("192.168.0.0/23", peer("192.168.2.0")), 0);
    cr_assert_eq(auth_allow_match("172.16.0.0/12", peer("172.31.255.1")), 1);
    cr_assert_eq(auth_allow_match("172.16.0.0/12", peer("172.32.0.1")), 0);
}

Test(cidr, v6_slash_0_64_128)
{
    cr_assert_eq(auth_allow_match("::/0", peer("2001:db8::1")), 1);
    cr_assert_eq(auth_allow_match("::/0", peer("::1")), 1);
    cr_assert_eq(auth_allow_match("2001:db8:1:2::/64",
                                  peer("2001:db8:1:2:ffff:ffff:ffff:ffff")),
                 1);
    cr_assert_eq(auth_allow_match("2001:db8:1:2::/64", peer("2001:db8:1:3::1")),
                 0);
    cr_assert_eq(auth_allow_match("2001:db8::1/128", peer("2001:db8::1")), 1);
    cr_assert_eq(auth_allow_match("2001:db8::1/128", peer("2001:db8::2")), 0);
    cr_assert_eq(auth_allow_match("2001:db8::1", peer("2001:db8::1")), 1);
    cr_assert_eq(auth_allow_match("2001:db8::/33", peer("2001:db8:7fff::1")),
                 1);
    cr_assert_eq(auth_allow_match("2001:db8::/33", peer("2001:db8:8000::1")),
                 0);
}

Test(cidr, families_do_not_mix)
{
    /* ::/0 is every IPv6 client, not IPv4 ones (native or mapped) */
    cr_assert_eq(auth_allow_match("::/0", peer("192.0.2.1")), 0);
    cr_assert_eq(auth_allow_match("::/0", peer("::ffff:192.0.2.1")), 0);
    cr_assert_eq(auth_allow_match("0.0.0.0/0", peer("2001:db8::1")), 0);
}

Test(cidr, mapped_v4_peer_matches_v4_blocks)
{
    cr_assert_eq(auth_allow_match("10.0.0.0/8", peer("::ffff:10.1.2.3")), 1);
    cr_assert_eq(auth_allow_match("10.0.0.0/8", peer("::ffff:11.1.2.3")), 0);
    cr_assert_eq(auth_allow_match("192.0.2.7", peer("::ffff:192.0.2.7")), 1);
    cr_assert_eq(auth_allow_match("0.0.0.0/0", peer("::ffff:198.51.100.1")), 1);
    /* a mapped block is the IPv4 block it maps */
    cr_assert_eq(auth_allow_match("::ffff:10.0.0.0/104", peer("10.9.9.9")), 1);
    cr_assert_eq(auth_allow_match("::ffff:10.0.0.0/104", peer("11.9.9.9")), 0);
    cr_assert_eq(auth_allow_match("::ffff:10.0.0.0/104",
                                  peer("::ffff:10.9.9.9")),
                 1);
}

Test(cidr, several_items_and_spaces)
{
    const char *l = " 10.0.0.0/8 ,192.0.2.0/24,\t2001:db8::/32 ";
    cr_assert_eq(auth_allow_match(l, peer("10.1.1.1")), 1);
    cr_assert_eq(auth_allow_match(l, peer("192.0.2.200")), 1);
    cr_assert_eq(auth_allow_match(l, peer("2001:db8:ffff::1")), 1);
    cr_assert_eq(auth_allow_match(l, peer("198.51.100.1")), 0);
    cr_assert_eq(auth_allow_match(l, peer("2001:db9::1")), 0);
    char err[AUTH_ERR_LEN];
    cr_assert_eq(auth_cidr_list_valid(l, err, sizeof err), 1, "%s", err);
}

Test(cidr, malformed_lists)
{
    static const char *const bad[] = {
        "10.0.0.0/33",    "::/129",         "10.0.0/8",       "10.0.0.0/",
        "/8",             "10.0.0.0/08",    "10.0.0.0/-1",    "10.0.0.0/8/8",
        "10.0.0.0/8,",    ",10.0.0.0/8",    "10.0.0.0/8,,::/0",
        "host.example",   "10.0.0.1/8",     "2001:db8::1/64", "fe80::1%eth0",
        "10.0.0.0/8 11.0.0.0/8",            "256.0.0.0/8",    "1.2.3.4.5",
        "10.0.0.0/8;11.0.0.0/8",            "10.0.0.0 /8",
        "2001:db8:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:1/128",
    };
    char err[AUTH_ERR_LEN];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(auth_allow_match(bad[i], peer("10.0.0.1")), -1,
                     "matched '%s'", bad[i]);
        err[0] = '\0';
        cr_assert_eq(auth_cidr_list_valid(bad[i], err, sizeof err), 0,
                     "valid '%s'", bad[i]);
        cr_assert_neq(err[0], '\0', "no message for '%s'", bad[i]);
    }
    cr_assert_eq(auth_allow_match(NULL, peer("10.0.0.1")), -1);
    cr_assert_eq(auth_cidr_list_valid(NULL, err, sizeof err), 0);
}

Test(cidr, malformed_even_after_a_match)
{
    /* the first item matches, the list is still refused as a whole */
    cr_assert_eq(auth_allow_match("10.0.0.0/8,bogus", peer("10.0.0.1")), -1);
}

Test(cidr, messages)
{
    char err[AUTH_ERR_LEN];
    cr_assert_eq(auth_cidr_list_valid("10.1.0.0/8", err, sizeof err), 0);
    cr_assert_not_null(strstr(err, "10.0.0.0/8"), "%s", err);
    cr_assert_eq(auth_cidr_list_valid("10.0.0.0/8,nope", err, sizeof err), 0);
    cr_assert_not_null(strstr(err, "nope"), "%s", err);
    cr_assert_eq(auth_cidr_list_valid("10.0.0.0/8,,::/0", err, sizeof err),
                 0);
    cr_assert_not_null(strstr(err, "empty"), "%s", err);
}

Test(cidr, other_families)
{
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    cr_assert_eq(auth_allow_match("0.0.0.0/0", (struct sockaddr *)&un), 0);
    cr_assert_eq(auth_allow_match("", (struct sockaddr *)&un), 1);
    cr_assert_eq(auth_allow_match("0.0.0.0/0", NULL), 0);
}

/* ------------------------------------------------------------------ */
/* Failure limiter                                                     */
/* ------------------------------------------------------------------ */

Test(limiter, slow_then_blocked_then_expires)
{
    struct auth_limiter *l = auth_limiter_new(0, 6, 1000, 5000);
    cr_assert_not_null(l);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 0), AUTH_OK);
    cr_assert_eq(auth_limiter_fail(l, "192.0.2.1", 10), AUTH_OK);
    cr_assert_eq(auth_limiter_fail(l, "192.0.2.1", 20), AUTH_OK);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 25), AUTH_OK);
    /* limit / 2 = 3 failures: slow */
    cr_assert_eq(auth_limiter_fail(l, "192.0.2.1", 30), AUTH_SLOW);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 35), AUTH_SLOW);
    cr_assert_eq(auth_limiter_fail(l, "192.0.2.1", 40), AUTH_SLOW);
    cr_assert_eq(auth_limiter_fail(l, "192.0.2.1", 50), AUTH_SLOW);
    /* 6 within the window: blocked for block_ms from the 6th */
    cr_assert_eq(auth_limiter_fail(l, "192.0.2.1", 60), AUTH_BLOCKED);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 61), AUTH_BLOCKED);
    /* the window passing does not lift a block */
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 2000), AUTH_BLOCKED);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 5059), AUTH_BLOCKED);
    /* failures while blocked do not extend it */
    cr_assert_eq(auth_limiter_fail(l, "192.0.2.1", 5000), AUTH_BLOCKED);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 5060), AUTH_OK);
    /* and it starts again from zero */
    cr_assert_eq(auth_limiter_fail(l, "192.0.2.1", 5070), AUTH_OK);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 5080), AUTH_OK);
    /* other keys were never affected */
    cr_assert_eq(auth_limiter_check(l, "192.0.2.2", 61), AUTH_OK);
    auth_limiter_free(l);
}

Test(limiter, window_expiry_resets_count)
{
    struct auth_limiter *l = auth_limiter_new(0, 6, 1000, 5000);
    for (int i = 0; i < 5; i++)
        auth_limiter_fail(l, "acme", (uint64_t)i * 100);
    cr_assert_eq(auth_limiter_check(l, "acme", 999), AUTH_SLOW);
    /* a window counts from its first failure: over at 1000 */
    cr_assert_eq(auth_limiter_check(l, "acme", 1000), AUTH_OK);
    cr_assert_eq(auth_limiter_fail(l, "acme", 1001), AUTH_OK);
    cr_assert_eq(auth_limiter_fail(l, "acme", 1002), AUTH_OK);
    cr_assert_eq(auth_limiter_fail(l, "acme", 1003), AUTH_SLOW);
    auth_limiter_free(l);
}

Test(limiter, success_resets)
{
    struct auth_limiter *l = auth_limiter_new(0, 6, 1000, 5000);
    for (int i = 0; i < 5; i++)
        auth_limiter_fail(l, "acme", 10);
    cr_assert_eq(auth_limiter_check(l, "acme", 10), AUTH_SLOW);
    auth_limiter_success(l, "acme");
    cr_assert_eq(auth_limiter_check(l, "acme", 11), AUTH_OK);
    cr_assert_eq(auth_limiter_count(l), 0);
    cr_assert_eq(auth_limiter_fail(l, "acme", 12), AUTH_OK);
    auth_limiter_success(l, "never-seen"); /* harmless */
    auth_limiter_free(l);
}

Test(limiter, limit_one_and_disabled)
{
    struct auth_limiter *l = auth_limiter_new(0, 1, 1000, 5000);
    cr_assert_eq(auth_limiter_check(l, "k", 0), AUTH_OK);
    cr_assert_eq(auth_limiter_fail(l, "k", 0), AUTH_BLOCKED);
    auth_limiter_free(l);
    l = auth_limiter_new(0, 0, 1000, 5000);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(auth_limiter_fail(l, "k", 0), AUTH_OK);
    cr_assert_eq(auth_limiter_check(l, "k", 0), AUTH_OK);
    auth_limiter_free(l);
}

Test(limiter, long_keys_are_told_apart)
{
    struct auth_limiter *l = auth_limiter_new(0, 2, 1000, 5000);
    char a[200], b[200];
    memset(a, 'x', sizeof a - 2);
    memcpy(b, a, sizeof a);
    a[sizeof a - 2] = 'a';
    b[sizeof b - 2] = 'b';
    a[sizeof a - 1] = b[sizeof b - 1] = '\0';
    cr_assert_eq(auth_limiter_fail(l, a, 0), AUTH_SLOW);
    cr_assert_eq(auth_limiter_fail(l, a, 0), AUTH_BLOCKED);
    cr_assert_eq(auth_limiter_check(l, b, 0), AUTH_OK);
    cr_assert_eq(auth_limiter_check(l, a, 0), AUTH_BLOCKED);
    auth_limiter_free(l);
}

Test(limiter, bounded_table_keeps_blocked_keys)
{
    struct auth_limiter *l = auth_limiter_new(64, 5, 60000, 300000);
    for (int i = 0; i < 5; i++)
        auth_limiter_fail(l, "victim-attacker", 0);
    cr_assert_eq(auth_limiter_check(l, "victim-attacker", 1), AUTH_BLOCKED);
    char key[32];
    /* a flood of one-off keys (an attacker rotating system_ids) */
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "junk%d", i);
        auth_limiter_fail(l, key, 1 + (uint64_t)i / 100);
        cr_assert_leq(auth_limiter_count(l), 64);
    }
    cr_assert_eq(auth_limiter_count(l), 64);
    cr_assert_eq(auth_limiter_check(l, "victim-attacker", 2000), AUTH_BLOCKED);
    auth_limiter_free(l);
}

Test(limiter, expired_entries_make_room)
{
    struct auth_limiter *l = auth_limiter_new(8, 5, 1000, 5000);
    char key[32];
    for (int i = 0; i < 8; i++) {
        snprintf(key, sizeof key, "k%d", i);
        auth_limiter_fail(l, key, 0);
    }
    cr_assert_eq(auth_limiter_count(l), 8);
    /* all windows over: a new key takes a slot without evicting evidence */
    cr_assert_eq(auth_limiter_fail(l, "new", 5000), AUTH_OK);
    cr_assert_leq(auth_limiter_count(l), 8);
    auth_limiter_free(l);
}

Test(limiter, from_conf)
{
    struct conf_server s;
    memset(&s, 0, sizeof s);
    s.auth_fail_limit = 2;
    s.auth_fail_window_ms = 1000;
    s.auth_block_ms = 100;
    struct auth_limiter *l = auth_limiter_new_conf(&s, 16);
    cr_assert_eq(auth_limiter_fail(l, "k", 0), AUTH_SLOW);
    cr_assert_eq(auth_limiter_fail(l, "k", 0), AUTH_BLOCKED);
    cr_assert_eq(auth_limiter_check(l, "k", 99), AUTH_BLOCKED);
    cr_assert_eq(auth_limiter_check(l, "k", 100), AUTH_OK);
    auth_limiter_free(l);
}

Test(limiter, peer_keys)
{
    char k[AUTH_PEER_KEY_MAX];
    cr_assert_eq(auth_limiter_peer_key(peer("192.0.2.1"), k, sizeof k), 0);
    cr_assert_str_eq(k, "192.0.2.1");
    cr_assert_eq(auth_limiter_peer_key(peer("::ffff:192.0.2.1"), k, sizeof k),
                 0);
    cr_assert_str_eq(k, "192.0.2.1");
    cr_assert_eq(auth_limiter_peer_key(peer("2001:db8:1:2:3:4:5:6"), k,
                                       sizeof k),
                 0);
    cr_assert_str_eq(k, "2001:db8:1:2::/64");
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    cr_assert_eq(auth_limiter_peer_key((struct sockaddr *)&un, k, sizeof k),
                 -1);
}

/* SipHash-2-4 reference vectors (the paper's appendix and vectors.h). */
Test(limiter, siphash_reference)
{
    uint8_t key[16], msg[15];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    cr_assert_eq(auth_siphash(key, msg, 0), 0x726fdb47dd0e0e31ULL);
    cr_assert_eq(auth_siphash(key, msg, 15), 0xa129ca6149be45e5ULL);
}

/* ---- failures per address and per (system_id, address) ---------------- */

struct seen {
    char keys[8][AUTH_LIMITER_KEY_MAX];
    unsigned failures[8];
    int blocked[8];
    uint64_t remaining[8];
    int n;
};

static void collect(const struct auth_limiter_entry *e, void *arg)
{
    struct seen *s = arg;
    cr_assert_lt(s->n, 8);
    snprintf(s->keys[s->n], sizeof s->keys[0], "%s", e->key);
    s->failures[s->n] = e->failures;
    s->blocked[s->n] = e->blocked;
    s->remaining[s->n] = e->remaining_ms;
    s->n++;
}

static int seen_index(const struct seen *s, const char *key)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->keys[i], key))
            return i;
    return -1;
}

Test(limiter, pair_key_splits_at_the_last_at)
{
    char k[AUTH_LIMITER_KEY_MAX];
    cr_assert_eq(auth_limiter_pair_key("acme", "192.0.2.1", k, sizeof k), 0);
    cr_assert_str_eq(k, "acme@192.0.2.1");
    cr_assert_eq(auth_limiter_pair_key("a@b", "2001:db8::/64", k, sizeof k), 0);
    cr_assert_str_eq(k, "a@b@2001:db8::/64");
    cr_assert_eq(auth_limiter_pair_key("acme", "192.0.2.1", k, 8), -1);
}

Test(limiter, foreach_lists_live_keys_with_time_left)
{
    struct auth_limiter *l = auth_limiter_new(0, 2, 1000, 5000);
    struct seen s = {0};
    auth_limiter_fail(l, "192.0.2.1", 100);
    auth_limiter_fail(l, "192.0.2.1", 200); /* blocked until 5200 */
    auth_limiter_fail(l, "acme@192.0.2.9", 300);
    auth_limiter_foreach(l, 400, collect, &s);
    cr_assert_eq(s.n, 2);
    int a = seen_index(&s, "192.0.2.1"), p = seen_index(&s, "acme@192.0.2.9");
    cr_assert(a >= 0 && p >= 0);
    cr_assert_eq(s.blocked[a], 1);
    cr_assert_eq(s.failures[a], 2);
    cr_assert_eq(s.remaining[a], 4800);
    cr_assert_eq(s.blocked[p], 0);
    cr_assert_eq(s.failures[p], 1);
    cr_assert_eq(s.remaining[p], 900); /* window: 300 + 1000 - 400 */
    cr_assert_eq(auth_limiter_blocked(l, 400), 1);
    /* the pair's window is over at 1300, the block at 5200 */
    memset(&s, 0, sizeof s);
    auth_limiter_foreach(l, 1300, collect, &s);
    cr_assert_eq(s.n, 1);
    cr_assert_eq(auth_limiter_blocked(l, 5200), 0);
    auth_limiter_free(l);
}

/* The operator's unblock: an address (with the pairs at it), a system_id
 * (its pairs everywhere, not the addresses), or one pair. */
Test(limiter, forget_by_address_system_id_or_pair)
{
    struct auth_limiter *l = auth_limiter_new(0, 1, 1000, 5000);
    const char *keys[] = {"192.0.2.1", "acme@192.0.2.1", "acme@192.0.2.2",
                          "a@b@192.0.2.2", "other@192.0.2.1", "192.0.2.10"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_eq(auth_limiter_fail(l, keys[i], 0), AUTH_BLOCKED);
    cr_assert_eq(auth_limiter_forget(l, "192.0.2.1"), 3);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.1", 1), AUTH_OK);
    cr_assert_eq(auth_limiter_check(l, "192.0.2.10", 1), AUTH_BLOCKED);
    cr_assert_eq(auth_limiter_check(l, "acme@192.0.2.2", 1), AUTH_BLOCKED);
    /* "a" is not the system_id "a@b" */
    cr_assert_eq(auth_limiter_forget(l, "a"), 0);
    cr_assert_eq(auth_limiter_forget(l, "acme"), 1);
    cr_assert_eq(auth_limiter_check(l, "acme@192.0.2.2", 1), AUTH_OK);
    cr_assert_eq(auth_limiter_forget(l, "a@b@192.0.2.2"), 1);
    cr_assert_eq(auth_limiter_forget(l, ""), 0);
    cr_assert_eq(auth_limiter_count(l), 1);
    auth_limiter_free(l);
}
