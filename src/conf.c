/*
 * conf.c - the INI configuration file, driven by one table of keys per
 * section.
 *
 * A row says everything about a key: its name, type, where it lives in the
 * section's struct, its default (as text, parsed by the very code that
 * parses the file, so a default can never be a value the file could not
 * hold), its bounds and an optional validator. Parsing never stops at the
 * first problem: every one is reported as "FILE:LINE: message", then the
 * cross-field checks run on the result. Values of secret keys (passwords,
 * tokens) never appear in a message or a dump, and raw lines are never
 * echoed either, since a mistyped key may sit next to a secret value.
 *
 * Syntax: "[section]" or "[upstream NAME]"; "key = value"; "#" and ";"
 * start comments (in a value, only after whitespace); values in "..."
 * keep spaces, "#" and ";" and know the escapes \" and \\.
 */
#include "common.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "net.h"

/* ------------------------------------------------------------------ */
/* The tables                                                          */
/* ------------------------------------------------------------------ */

enum conf_type {
    CONF_T_STR = 0, /* char[size]: at most size - 1 characters */
    CONF_T_UINT,    /* unsigned, min..max */
    CONF_T_ENUM,    /* int-sized: one of names[] (bools are one) */
    CONF_T_MS,      /* duration kept in unsigned milliseconds */
    CONF_T_SEC,     /* duration kept in unsigned seconds */
    CONF_T_ADDRS,   /* char[CONF_MAX_LISTEN][CONF_STR] and an int count */
    CONF_T_LEVEL,   /* int enum log_level, debug..error */
};

#define CONF_REQUIRED 1u /* must be in the file, and not empty */
#define CONF_SECRET 2u   /* never in a message or a dump */

#define CONF_MAX_KEYS 24    /* keys in the largest section */
#define CONF_LINE_MAX 4096  /* bytes in a line, newline excluded */
#define CONF_FILE_MAX (1u << 20)
#define CONF_MSG 512

/* Durations in milliseconds, for bounds. */
#define DUR_MS(x) ((unsigned long long)(x))
#define DUR_S(x) (DUR_MS(x) * 1000u)
#define DUR_M(x) (DUR_S(x) * 60u)
#define DUR_H(x) (DUR_M(x) * 60u)
#define DUR_D(x) (DUR_H(x) * 24u)

struct conf_name {
    const char *name; /* the first name of a value is the canonical one */
    int value;
};

struct conf_key {
    const char *name;
    enum conf_type type;
    size_t off;       /* of the field in its section's struct */
    size_t size;      /* of the field */
    size_t count_off; /* CONF_T_ADDRS: of the int count */
    const char *def;  /* NULL: empty / zero */
    unsigned long long min, max; /* durations: in ms */
    const struct conf_name *names;
    int (*check)(const char *val, char *msg, size_t cap); /* strings */
    unsigned flags;
};

struct conf_section {
    const char *name;
    const struct conf_key *keys;
    size_t n_keys;
    size_t off; /* of the section in struct conf; unused for upstreams */
};

_Static_assert(sizeof(enum conf_bind_mode) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum conf_id_format) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum conf_log_format) == sizeof(int), "enum as int");
_Static_assert(sizeof(unsigned) == sizeof(int), "enum into unsigned");

#define FSIZE(S, F) sizeof(((S *)0)->F)
#define K_STR(S, N, F, D, CHK, FL)                                           \
    {.name = N, .type = CONF_T_STR, .off = offsetof(S, F),                   \
     .size = FSIZE(S, F), .def = D, .check = CHK, .flags = FL}
#define K_UINT(S, N, F, D, LO, HI)                                           \
    {.name = N, .type = CONF_T_UINT, .off = offsetof(S, F),                  \
     .size = FSIZE(S, F), .def = D, .min = LO, .max = HI}
#define K_DUR(T, S, N, F, D, LO, HI)                                         \
    {.name = N, .type = T, .off = offsetof(S, F), .size = FSIZE(S, F),       \
     .def = D, .min = LO, .max = HI}
#define K_ENUM(S, N, F, D, NAMES)                                            \
    {.name = N, .type = CONF_T_ENUM, .off = offsetof(S, F),                  \
     .size = FSIZE(S, F), .def = D, .names = NAMES}
#define K_ADDRS(S, N, F, CNT, D)                                             \
    {.name = N, .type = CONF_T_ADDRS, .off = offsetof(S, F),                 \
     .size = FSIZE(S, F), .count_off = offsetof(S, CNT), .def = D}
#define K_LEVEL(S, N, F, D)                                                  \
    {.name = N, .type = CONF_T_LEVEL, .off = offsetof(S, F),                 \
     .size = FSIZE(S, F), .def = D}

static const struct conf_name conf_bools[] = {
    {"yes", 1}, {"no", 0},  {"true", 1}, {"false", 0},
    {"on", 1},  {"off", 0}, {"1", 1},    {"0", 0},     {NULL, 0}};
static const struct conf_name conf_binds[] = {
    {"trx", CONF_BIND_TRX}, {"tx+rx", CONF_BIND_TX_RX}, {NULL, 0}};
static const struct conf_name conf_resend[] = {
    {"once", CONF_RESEND_ONCE}, {"never", CONF_RESEND_NEVER}, {NULL, 0}};
static const struct conf_name conf_id_formats[] = {{"auto", CONF_ID_AUTO},
                                                   {"hex", CONF_ID_HEX},
                                                   {"dec", CONF_ID_DEC},
                                                   {NULL, 0}};
/* dlr_id_case: the value is whether ids are folded to one case. */
static const struct conf_name conf_id_cases[] = {{"sensitive", 0},
                                                 {"insensitive", 1},
                                                 {NULL, 0}};
static const struct conf_name conf_log_formats[] = {{"text", CONF_LOG_TEXT},
                                                    {"logfmt", CONF_LOG_LOGFMT},
                                                    {"json", CONF_LOG_JSON},
                                                    {NULL, 0}};
/* Only for printing: parsing goes through log_level_parse(). */
static const struct conf_name conf_levels[] = {{"debug", LOG_DEBUG},
                                               {"info", LOG_INFO},
                                               {"warn", LOG_WARN},
                                               {"error", LOG_ERROR},
                                               {NULL, 0}};
/* interface_version: hex as on the wire, dotted as in the spec's title,
 * decimal as some SMSC portals print it. */
static const struct conf_name conf_versions[] = {
    {"0x34", 0x34}, {"0x50", 0x50}, {"3.4", 0x34}, {"5.0", 0x50},
    {"52", 0x34},   {"80", 0x50},   {NULL, 0}};

static int conf_check_nonempty(const char *val, char *msg, size_t cap);
static int conf_check_hostport_opt(const char *val, char *msg, size_t cap);
static int conf_check_prefix(const char *val, char *msg, size_t cap);

#define SV struct conf_server
static const struct conf_key conf_server_keys[] = {
    K_ADDRS(SV, "listen", listen, n_listen, "127.0.0.1:2775"),
    K_STR(SV, "system_id", system_id, "smppbridge", conf_check_nonempty, 0),
    K_UINT(SV, "window", window, "100", 1, 10000),
    K_UINT(SV, "max_binds", max_binds, "1000", 1, 100000),
    K_DUR(CONF_T_MS, SV, "bind_timeout", bind_timeout_ms, "10s", DUR_MS(100),
          DUR_M(5)),
    K_DUR(CONF_T_MS, SV, "idle_timeout", idle_timeout_ms, "120s", DUR_S(1),
          DUR_H(24)),
    K_DUR(CONF_T_MS, SV, "enquire_link_interval", enquire_link_interval_ms,
          "30s", DUR_S(1), DUR_H(1)),
    K_UINT(SV, "max_pdu_size", max_pdu_size, "70000", 1024, 1048576),
    K_UINT(SV, "auth_fail_limit", auth_fail_limit, "5", 1, 1000),
    K_DUR(CONF_T_MS, SV, "auth_fail_window", auth_fail_window_ms, "60s",
          DUR_S(1), DUR_H(24)),
    K_DUR(CONF_T_MS, SV, "auth_block", auth_block_ms, "300s", DUR_S(1),
          DUR_D(7)),
    K_ENUM(SV, "proxy_protocol", proxy_protocol, "no", conf_bools),
    K_ENUM(SV, "bind_fail_detail", bind_fail_detail, "no", conf_bools),
    K_DUR(CONF_T_MS, SV, "bind_fail_delay", bind_fail_delay_ms, "500ms",
          DUR_MS(0), DUR_S(30)),
    K_UINT(SV, "max_connections", max_connections, "10000", 1, 1000000),
    K_UINT(SV, "max_connections_per_address", max_connections_per_address,
           "64", 1, 1000000),
    K_UINT(SV, "accepts_per_second_per_address",
           accepts_per_second_per_address, "20", 1, 100000),
    K_UINT(SV, "accept_burst_per_address", accept_burst_per_address, "40", 1,
           1000000),
    K_UINT(SV, "fd_reserve", fd_reserve, "32", 8, 100000),
    K_UINT(SV, "max_bad_pdus", max_bad_pdus, "16", 1, 1000),
    K_DUR(CONF_T_MS, SV, "bad_pdu_window", bad_pdu_window_ms, "60s", DUR_S(1),
          DUR_H(24)),
};
#undef SV

#define TL struct conf_tls
static const struct conf_key conf_tls_keys[] = {
    K_ADDRS(TL, "listen", listen, n_listen, NULL),
    K_STR(TL, "cert", cert, NULL, NULL, 0),
    K_STR(TL, "key", key, NULL, NULL, 0),
    K_STR(TL, "ca", ca, NULL, NULL, 0),
    K_DUR(CONF_T_MS, TL, "handshake_timeout", handshake_timeout_ms, "10s",
          DUR_MS(100), DUR_M(5)),
};
#undef TL

#define RD struct conf_redis
static const struct conf_key conf_redis_keys[] = {
    K_STR(RD, "host", host, "127.0.0.1", conf_check_nonempty, 0),
    K_UINT(RD, "port", port, "6379", 1, 65535),
    K_UINT(RD, "db", db, "0", 0, 255),
    K_STR(RD, "username", username, NULL, NULL, 0),
    K_STR(RD, "password", password, NULL, NULL, CONF_SECRET),
    K_DUR(CONF_T_MS, RD, "timeout", timeout_ms, "2s", DUR_MS(10), DUR_S(60)),
    K_DUR(CONF_T_SEC, RD, "id_ttl", id_ttl_s, "72h", DUR_H(1), DUR_D(30)),
    K_DUR(CONF_T_SEC, RD, "final_ttl", final_ttl_s, "24h", DUR_S(1), DUR_D(30)),
    K_STR(RD, "prefix", prefix, "sb", conf_check_prefix, 0),
    K_UINT(RD, "cdr_maxlen", cdr_maxlen, "1000000", 0, 100000000),
    K_UINT(RD, "dead_maxlen", dead_maxlen, "100000", 100, 10000000),
    K_UINT(RD, "dlr_maxlen", dlr_maxlen, "100000", 100, 100000000),
    K_UINT(RD, "dead_entry_max", dead_entry_max, "4096", 256, 65536),
    K_ADDRS(RD, "sentinels", sentinels, n_sentinels, NULL),
    K_STR(RD, "master_name", master_name, "mymaster", conf_check_nonempty, 0),
    K_STR(RD, "sentinel_password", sentinel_password, NULL, NULL, CONF_SECRET),
    K_STR(RD, "sentinel_username", sentinel_username, NULL, NULL, 0),
};
#undef RD

#define AD struct conf_admin
static const struct conf_key conf_admin_keys[] = {
    K_STR(AD, "listen", listen, "127.0.0.1:9775", conf_check_hostport_opt, 0),
    K_STR(AD, "token", token, NULL, NULL, CONF_SECRET),
};
#undef AD

#define LG struct conf_log
static const struct conf_key conf_log_keys[] = {
    K_LEVEL(LG, "level", level, "info"),
    K_ENUM(LG, "format", format, "text", conf_log_formats),
};
#undef LG

#define QU struct conf_queue
static const struct conf_key conf_queue_keys[] = {
    K_UINT(QU, "batch", batch, "64", 1, 10000),
    K_DUR(CONF_T_MS, QU, "claim_idle", claim_idle_ms, "30s", DUR_S(1),
          DUR_H(1)),
    K_DUR(CONF_T_MS, QU, "retry_min", retry_min_ms, "1s", DUR_MS(10),
          DUR_H(1)),
    K_DUR(CONF_T_MS, QU, "retry_max", retry_max_ms, "60s", DUR_MS(10),
          DUR_H(24)),
    K_UINT(QU, "max_attempts", max_attempts, "10", 1, 1000),
    K_UINT(QU, "account_max_messages", account_max_messages, "100000", 1,
           100000000),
    K_UINT(QU, "account_max_bytes", account_max_bytes, "67108864", 65536,
           4000000000u),
    K_UINT(QU, "max_writes", max_writes, "128", 0, 1000000),
    K_ENUM(QU, "resend_unknown", resend_unknown, "once", conf_resend),
};
#undef QU

/* ttl at least a second: below that an entry would expire before a
 * bound receiver had a fair chance to take it. */
#define RL struct conf_relay
static const struct conf_key conf_relay_keys[] = {
    K_DUR(CONF_T_MS, RL, "ttl", ttl_ms, "72h", DUR_S(1), DUR_D(30)),
    K_DUR(CONF_T_MS, RL, "sweep_interval", sweep_interval_ms, "60s",
          DUR_MS(100), DUR_H(1)),
    K_DUR(CONF_T_MS, RL, "retry_min", retry_min_ms, "1s", DUR_MS(10),
          DUR_H(1)),
    K_DUR(CONF_T_MS, RL, "retry_max", retry_max_ms, "60s", DUR_MS(10),
          DUR_H(24)),
};
#undef RL

#define UP struct conf_upstream
static const struct conf_key conf_upstream_keys[] = {
    K_STR(UP, "host", host, NULL, NULL, CONF_REQUIRED),
    K_UINT(UP, "port", port, "2775", 1, 65535),
    K_ENUM(UP, "tls", tls, "no", conf_bools),
    K_STR(UP, "tls_ca", tls_ca, NULL, NULL, 0),
    K_ENUM(UP, "tls_verify", tls_verify, "yes", conf_bools),
    K_STR(UP, "system_id", system_id, NULL, NULL, CONF_REQUIRED),
    K_STR(UP, "password", password, NULL, NULL, CONF_REQUIRED | CONF_SECRET),
    K_STR(UP, "system_type", system_type, NULL, NULL, 0),
    K_ENUM(UP, "bind", bind, "trx", conf_binds),
    K_ENUM(UP, "interface_version", interface_version, "0x34", conf_versions),
    K_UINT(UP, "sessions", sessions, "2", 1, 64),
    K_UINT(UP, "window", window, "50", 1, 10000),
    K_UINT(UP, "tps", tps, "0", 0, 1000000),
    K_DUR(CONF_T_MS, UP, "enquire_link_interval", enquire_link_interval_ms,
          "30s", DUR_S(1), DUR_H(1)),
    K_DUR(CONF_T_MS, UP, "reconnect_min", reconnect_min_ms, "1s", DUR_MS(10),
          DUR_H(1)),
    K_DUR(CONF_T_MS, UP, "reconnect_max", reconnect_max_ms, "60s", DUR_MS(10),
          DUR_H(24)),
    K_UINT(UP, "priority", priority, "10", 0, 1000),
    K_ENUM(UP, "dlr_id_format", dlr_id_format, "auto", conf_id_formats),
    K_ENUM(UP, "dlr_id_case", dlr_id_fold_case, "sensitive", conf_id_cases),
    K_DUR(CONF_T_MS, UP, "resp_timeout", resp_timeout_ms, "30s", DUR_S(1),
          DUR_M(10)),
    K_DUR(CONF_T_MS, UP, "late_resp_grace", late_resp_grace_ms, "5m", DUR_S(1),
          DUR_H(1)),
    K_UINT(UP, "late_resp_max", late_resp_max, "1024", 1, 100000),
    K_DUR(CONF_T_MS, UP, "glitch_window", glitch_window_ms, "60s", DUR_S(1),
          DUR_H(24)),
};
#undef UP

/* struct conf_lines has room for CONF_MAX_KEYS per section. */
_Static_assert(ARRAY_LEN(conf_server_keys) <= CONF_MAX_KEYS, "keys");
_Static_assert(ARRAY_LEN(conf_tls_keys) <= CONF_MAX_KEYS, "keys");
_Static_assert(ARRAY_LEN(conf_redis_keys) <= CONF_MAX_KEYS, "keys");
_Static_assert(ARRAY_LEN(conf_admin_keys) <= CONF_MAX_KEYS, "keys");
_Static_assert(ARRAY_LEN(conf_log_keys) <= CONF_MAX_KEYS, "keys");
_Static_assert(ARRAY_LEN(conf_queue_keys) <= CONF_MAX_KEYS, "keys");
_Static_assert(ARRAY_LEN(conf_relay_keys) <= CONF_MAX_KEYS, "keys");
_Static_assert(ARRAY_LEN(conf_upstream_keys) <= CONF_MAX_KEYS, "keys");

enum conf_section_id {
    CONF_S_SERVER = 0,
    CONF_S_TLS,
    CONF_S_REDIS,
    CONF_S_ADMIN,
    CONF_S_LOG,
    CONF_S_QUEUE,
    CONF_S_RELAY,
    CONF_S_UPSTREAM,
    CONF_S_MAX,
};

#define SECTION(N, KEYS, F)                                                  \
    {N, KEYS, ARRAY_LEN(KEYS), offsetof(struct conf, F)}
static const struct conf_section conf_sections[CONF_S_MAX] = {
    SECTION("server", conf_server_keys, server),
    SECTION("tls", conf_tls_keys, tls),
    SECTION("redis", conf_redis_keys, redis),
    SECTION("admin", conf_admin_keys, admin),
    SECTION("log", conf_log_keys, log),
    SECTION("queue", conf_queue_keys, queue),
    SECTION("relay", conf_relay_keys, relay),
    SECTION("upstream", conf_upstream_keys, upstreams),
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static int conf_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
           ch == '\v' || ch == '\f';
}

/* <s> without leading and trailing whitespace (trailing cut in place). */
static char *conf_trim(char *s)
{
    while (conf_is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && conf_is_space(s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Decimal digits at <s> into *<v>, saturating at ULLONG_MAX so that a huge
 * number reads as out of range rather than as garbage. Returns the first
 * byte after the digits, NULL when there is none. */
static const char *conf_digits(const char *s, unsigned long long *v)
{
    const char *q = s;
    *v = 0;
    for (; *q >= '0' && *q <= '9'; q++) {
        unsigned d = (unsigned)(*q - '0');
        *v = *v > (ULLONG_MAX - d) / 10 ? ULLONG_MAX : *v * 10 + d;
    }
    return q == s ? NULL : q;
}

static const struct {
    const char *unit;
    unsigned long long ms;
} conf_units[] = {{"d", DUR_D(1)}, {"h", DUR_H(1)}, {"m", DUR_M(1)},
                  {"s", DUR_S(1)}, {"ms", DUR_MS(1)}};

/* <ms> in the largest unit that holds it exactly: "72h" reads "3d". */
static void conf_fmt_dur(unsigned long long ms, char *out, size_t cap)
{
    for (size_t i = 0; i < ARRAY_LEN(conf_units); i++) {
        if (ms % conf_units[i].ms == 0 || conf_units[i].ms == 1) {
            snprintf(out, cap, "%llu%s", ms / conf_units[i].ms,
                     conf_units[i].unit);
            return;
        }
    }
}

static void *conf_field(char *base, const struct conf_key *k)
{
    return base + k->off;
}

static int conf_get_int(const char *base, const struct conf_key *k)
{
    int v;
    memcpy(&v, base + k->off, sizeof v);
    return v;
}

static void conf_put_int(char *base, const struct conf_key *k, int v)
{
    memcpy(conf_field(base, k), &v, sizeof v);
}

static unsigned conf_get_uint(const char *base, const struct conf_key *k)
{
    unsigned v;
    memcpy(&v, base + k->off, sizeof v);
    return v;
}

static void conf_put_uint(char *base, const struct conf_key *k, unsigned v)
{
    memcpy(conf_field(base, k), &v, sizeof v);
}

static int *conf_count(char *base, const struct conf_key *k)
{
    return (int *)(void *)(base + k->count_off);
}

static const struct conf_key *conf_find_key(const struct conf_section *s,
                                            const char *name)
{
    for (size_t i = 0; i < s->n_keys; i++)
        if (strcmp(s->keys[i].name, name) == 0)
            return &s->keys[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Validators                                                          */
/* ------------------------------------------------------------------ */

static int conf_check_nonempty(const char *val, char *msg, size_t cap)
{
    if (*val)
        return 0;
    snprintf(msg, cap, "must not be empty");
    return -1;
}

/* "" (off) or HOST:PORT. */
static int conf_check_hostport_opt(const char *val, char *msg, size_t cap)
{
    char host[CONF_STR], err[NET_ERR_LEN];
    int port;
    if (!*val || net_split_hostport(val, host, sizeof host, &port, err) == 0)
        return 0;
    snprintf(msg, cap, "%s", err);
    return -1;
}

/* Key prefixes are joined with ':' and Redis Cluster hash tags use braces,
 * so a prefix keeps to characters that mean nothing to either. */
static int conf_check_prefix(const char *val, char *msg, size_t cap)
{
    if (!*val) {
        snprintf(msg, cap, "must not be empty");
        return -1;
    }
    for (const char *q = val; *q; q++) {
        if (!(*q >= 'a' && *q <= 'z') && !(*q >= 'A' && *q <= 'Z') &&
            !(*q >= '0' && *q <= '9') && !strchr("_-.", *q)) {
            snprintf(msg, cap, "'%s': use letters, digits, '_', '-', '.'",
                     val);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* One parser per type                                                 */
/* ------------------------------------------------------------------ */

/*
 * Each parser takes the unquoted <val> for key <k>, stores it into the
 * section struct at <base> and returns 0, or writes why not into <msg>
 * (without the key's name, which the caller adds) and returns -1 with the
 * field untouched.
 */
static int conf_parse_str(const struct conf_key *k, const char *val,
                          char *base, char *msg, size_t cap)
{
    size_t n = strlen(val);
    int secret = (k->flags & CONF_SECRET) != 0;
    if (n >= k->size) {
        if (secret)
            snprintf(msg, cap, "too long (max %zu)", k->size - 1);
        else
            snprintf(msg, cap, "'%s' too long (max %zu)", val, k->size - 1);
        return -1;
    }
    if ((k->flags & CONF_REQUIRED) && n == 0) {
        snprintf(msg, cap, "must not be empty");
        return -1;
    }
    if (k->check && k->check(val, msg, cap) != 0)
        return -1;
    memcpy(conf_field(base, k), val, n + 1);
    return 0;
}

static int conf_parse_uint(const struct conf_key *k, const char *val,
                           char *base, char *msg, size_t cap)
{
    unsigned long long v;
    const char *end = conf_digits(val, &v);
    if (!end || *end) {
        snprintf(msg, cap, "'%s' is not a whole number", val);
        return -1;
    }
    if (v < k->min || v > k->max) {
        snprintf(msg, cap, "'%s' out of range (%llu..%llu)", val, k->min,
                 k->max);
        return -1;
    }
    conf_put_uint(base, k, (unsigned)v);
    return 0;
}

/* "N<unit>" into milliseconds; a bare "0" needs no unit. Units are lower
 * case only: "M" could be read as months. */
static int conf_read_dur(const char *val, unsigned long long *ms, char *msg,
                         size_t cap)
{
    unsigned long long v;
    const char *end = conf_digits(val, &v);
    if (end) {
        while (conf_is_space(*end))
            end++;
        if (!*end && v == 0) {
            *ms = 0;
            return 0;
        }
        for (size_t i = 0; i < ARRAY_LEN(conf_units); i++) {
            if (strcmp(end, conf_units[i].unit) == 0) {
                unsigned long long m = conf_units[i].ms;
                *ms = v > ULLONG_MAX / m ? ULLONG_MAX : v * m;
                return 0;
            }
        }
    }
    snprintf(msg, cap, "'%s' is not a duration: a whole number and a unit "
                       "(ms, s, m, h or d), e.g. 30s",
             val);
    return -1;
}

static int conf_parse_dur(const struct conf_key *k, const char *val,
                          char *base, char *msg, size_t cap)
{
    unsigned long long ms;
    if (conf_read_dur(val, &ms, msg, cap) != 0)
        return -1;
    if (ms < k->min || ms > k->max) {
        char lo[32], hi[32];
        conf_fmt_dur(k->min, lo, sizeof lo);
        conf_fmt_dur(k->max, hi, sizeof hi);
        snprintf(msg, cap, "'%s' out of range (%s..%s)", val, lo, hi);
        return -1;
    }
    if (k->type == CONF_T_SEC && ms % 1000 != 0) {
        snprintf(msg, cap, "'%s' must be whole seconds", val);
        return -1;
    }
    conf_put_uint(base, k, (unsigned)(k->type == CONF_T_SEC ? ms / 1000 : ms));
    return 0;
}

static int conf_parse_enum(const struct conf_key *k, const char *val,
                           char *base, char *msg, size_t cap)
{
    for (const struct conf_name *n = k->names; n->name; n++) {
        if (strcasecmp(n->name, val) == 0) {
            conf_put_int(base, k, n->value);
            return 0;
        }
    }
    size_t used = (size_t)snprintf(msg, cap, "'%s' is not one of", val);
    for (const struct conf_name *n = k->names; n->name && used < cap; n++)
        used += (size_t)snprintf(msg + used, cap - used, "%s %s",
                                 n == k->names ? "" : ",", n->name);
    return -1;
}

static int conf_parse_level(const struct conf_key *k, const char *val,
                            char *base, char *msg, size_t cap)
{
    /* "off" exists in log.h, but a proxy that cannot say why it refused a
     * bind cannot be operated: error is the quietest level allowed. */
    int lv = log_level_parse(val);
    if (lv < LOG_DEBUG || lv > LOG_ERROR) {
        snprintf(msg, cap, "'%s' is not one of debug, info, warn, error", val);
        return -1;
    }
    conf_put_int(base, k, lv);
    return 0;
}

/* One HOST:PORT of a list: checked, not a repeat, room left. */
static int conf_add_addr(const struct conf_key *k, const char *a, char *base,
                         char *msg, size_t cap)
{
    char (*list)[CONF_STR] = conf_field(base, k);
    int *n = conf_count(base, k);
    char host[CONF_STR], err[NET_ERR_LEN];
    int port;
    if (!*a) {
        snprintf(msg, cap, "empty address in the list");
        return -1;
    }
    if (strlen(a) >= CONF_STR ||
        net_split_hostport(a, host, sizeof host, &port, err) != 0) {
        snprintf(msg, cap, "%s", strlen(a) >= CONF_STR ? "address too long"
                                                         : err);
        return -1;
    }
    for (int i = 0; i < *n; i++) {
        if (strcmp(list[i], a) == 0) {
            snprintf(msg, cap, "'%s' given twice", a);
            return -1;
        }
    }
    if (*n >= CONF_MAX_LISTEN) {
        snprintf(msg, cap, "more than %d addresses", CONF_MAX_LISTEN);
        return -1;
    }
    memcpy(list[(*n)++], a, strlen(a) + 1);
    return 0;
}

/* "A, B, C" appended to the list; "" leaves it as it is (the caller
 * emptied it on the key's first line, which is how a listener is
 * turned off). */
static int conf_parse_addrs(const struct conf_key *k, const char *val,
                            char *base, char *msg, size_t cap)
{
    char buf[CONF_LINE_MAX];
    snprintf(buf, sizeof buf, "%s", val);
    if (!*conf_trim(buf))
        return 0;
    char *s = buf;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = 0;
        if (conf_add_addr(k, conf_trim(s), base, msg, cap) != 0)
            return -1;
        if (!comma)
            return 0;
        s = comma + 1;
    }
}

static int conf_parse_value(const struct conf_key *k, const char *val,
                            char *base, char *msg, size_t cap)
{
    switch (k->type) {
    case CONF_T_STR: return conf_parse_str(k, val, base, msg, cap);
    case CONF_T_UINT: return conf_parse_uint(k, val, base, msg, cap);
    case CONF_T_ENUM: return conf_parse_enum(k, val, base, msg, cap);
    case CONF_T_MS:
    case CONF_T_SEC: return conf_parse_dur(k, val, base, msg, cap);
    case CONF_T_ADDRS: return conf_parse_addrs(k, val, base, msg, cap);
    case CONF_T_LEVEL: return conf_parse_level(k, val, base, msg, cap);
    }
    snprintf(msg, cap, "key of unknown type");
    return -1;
}

/* Every key of a section to its default. A default that does not parse is
 * a bug in the table, caught by the first test that loads anything. */
static void conf_apply_defaults(const struct conf_section *s, char *base)
{
    char msg[CONF_MSG];
    for (size_t i = 0; i < s->n_keys; i++) {
        const struct conf_key *k = &s->keys[i];
        if (k->type == CONF_T_ADDRS)
            *conf_count(base, k) = 0;
        if (k->type == CONF_T_STR)
            memset(conf_field(base, k), 0, k->size);
        if (k->def) {
            int rc = conf_parse_value(k, k->def, base, msg, sizeof msg);
            assert(rc == 0);
            (void)rc;
        }
    }
}

void conf_defaults(struct conf *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < CONF_S_UPSTREAM; i++)
        conf_apply_defaults(&conf_sections[i],
                            (char *)c + conf_sections[i].off);
}

/* ------------------------------------------------------------------ */
/* The parser                                                          */
/* ------------------------------------------------------------------ */

/* Where each key was set (0: not in the file) and where the section
 * header was, for one section instance. */
struct conf_lines {
    int key[CONF_MAX_KEYS];
    int header;
};

struct conf_parser {
    struct conf *c;
    const char *file;
    int line;
    char *errs;
    size_t cap, used;
    int n_errs;
    const struct conf_section *sect; /* NULL: outside any, or skipping */
    int skip;                        /* in an unknown section: ignore keys */
    char *base;                      /* the current section's struct */
    struct conf_lines *lines;        /* the current section's lines */
    struct conf_lines single[CONF_S_UPSTREAM];
    /* Upstreams, then a scratch one for a section that cannot be kept
     * (no name, duplicate, too many) but whose keys are still checked. */
    struct conf_lines up[CONF_MAX_UPSTREAMS + 1];
    struct conf_upstream scratch;
};

static void conf_err(struct conf_parser *p, int line, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/* One "FILE:LINE: message" line ("FILE: message" without a line) into the
 * caller's buffer, as much as fits; every error is counted. */
static void conf_err(struct conf_parser *p, int line, const char *fmt, ...)
{
    char msg[CONF_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->n_errs++;
    if (!p->errs || p->used + 1 >= p->cap)
        return;
    char *out = p->errs + p->used;
    size_t room = p->cap - p->used;
    int n = line > 0 ? snprintf(out, room, "%s:%d: %s\n", p->file, line, msg)
                     : snprintf(out, room, "%s: %s\n", p->file, msg);
    if (n > 0)
        p->used += (size_t)n < room ? (size_t)n : room - 1;
}

/* 0 when <name> can name a new upstream; otherwise the problem is
 * reported and -1 returned. */
static int conf_upstream_name_ok(struct conf_parser *p, const char *name)
{
    const struct conf *c = p->c;
    size_t n = strlen(name);
    int bad = 1;
    if (n == 0)
        conf_err(p, p->line, "[upstream] needs a name: [upstream NAME]");
    else if (n >= sizeof c->upstreams[0].name)
        conf_err(p, p->line, "upstream name too long (max %zu)",
                 sizeof c->upstreams[0].name - 1);
    else if (strspn(name, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n)
        conf_err(p, p->line, "upstream name: use letters, digits, '_', '-', "
                             "'.'");
    else if (c->n_upstreams >= CONF_MAX_UPSTREAMS)
        conf_err(p, p->line, "too many upstreams (max %d)",
                 CONF_MAX_UPSTREAMS);
    else
        bad = 0;
    for (int i = 0; !bad && i < c->n_upstreams; i++) {
        if (strcmp(c->upstreams[i].name, name) == 0) {
            conf_err(p, p->line, "duplicate upstream '%s' (first at line %d)",
                     name, p->up[i].header);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* Enter an [upstream NAME] section: a new upstream with every default, or
 * the scratch one when the name has a problem, so that the section's keys
 * are still checked. */
static void conf_open_upstream(struct conf_parser *p, const char *name)
{
    struct conf *c = p->c;
    struct conf_upstream *u = &p->scratch;
    int idx = CONF_MAX_UPSTREAMS;
    if (conf_upstream_name_ok(p, name) == 0) {
        idx = c->n_upstreams++;
        u = &c->upstreams[idx];
    }
    conf_apply_defaults(&conf_sections[CONF_S_UPSTREAM], (char *)u);
    if (u != &p->scratch)
        memcpy(u->name, name, strlen(name) + 1);
    memset(&p->up[idx], 0, sizeof p->up[idx]);
    p->up[idx].header = p->line;
    p->base = (char *)u;
    p->lines = &p->up[idx];
    p->sect = &conf_sections[CONF_S_UPSTREAM];
}

/* "[name]" or "[name arg]", with an optional comment after it. */
static void conf_open_section(struct conf_parser *p, char *s)
{
    char *close = strchr(s, ']');
    p->sect = NULL;
    p->skip = 1; /* until the header proves good */
    if (!close) {
        conf_err(p, p->line, "section header without ']'");
        return;
    }
    char *rest = close + 1;
    *close = 0;
    while (conf_is_space(*rest))
        rest++;
    if (*rest && *rest != '#' && *rest != ';')
        conf_err(p, p->line, "unexpected text after ']'");
    char *name = conf_trim(s + 1);
    char *arg = name + strcspn(name, " \t");
    if (*arg)
        *arg++ = 0;
    arg = conf_trim(arg);
    int i = 0;
    while (i < CONF_S_MAX && strcmp(conf_sections[i].name, name) != 0)
        i++;
    if (i == CONF_S_MAX) {
        conf_err(p, p->line, "unknown section [%.64s]", name);
        return;
    }
    p->skip = 0;
    if (i == CONF_S_UPSTREAM) {
        conf_open_upstream(p, arg);
        return;
    }
    if (*arg)
        conf_err(p, p->line, "section [%s] takes no name", name);
    p->sect = &conf_sections[i];
    p->base = (char *)p->c + conf_sections[i].off;
    p->lines = &p->single[i];
    if (!p->lines->header)
        p->lines->header = p->line;
}

/* A quoted value: \" and \\ are escapes, anything else is kept as is. */
static int conf_unquote_quoted(const char *s, char *dst, size_t cap,
                               char *msg, size_t msg_cap)
{
    size_t n = 0;
    for (s++; *s && *s != '"'; s++) {
        if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
            s++;
        if (n + 1 < cap)
            dst[n++] = *s;
    }
    dst[n] = 0;
    if (*s != '"') {
        snprintf(msg, msg_cap, "unterminated quoted value");
        return -1;
    }
    for (s++; conf_is_space(*s); s++)
        ;
    if (*s && *s != '#' && *s != ';') {
        snprintf(msg, msg_cap, "unexpected text after the closing quote");
        return -1;
    }
    return 0;
}

/*
 * The value after '=' into <dst>: quoted, or bare up to a comment. A bare
 * value's comment starts at '#' or ';' after whitespace, so "ab#cd" stays
 * whole: a password with a '#' is not silently cut short.
 */
static int conf_unquote(const char *s, char *dst, size_t cap, char *msg,
                        size_t msg_cap)
{
    while (conf_is_space(*s))
        s++;
    if (*s == '"')
        return conf_unquote_quoted(s, dst, cap, msg, msg_cap);
    size_t n = 0;
    for (; *s; s++) {
        if ((*s == '#' || *s == ';') && (n == 0 || conf_is_space(s[-1])))
            break;
        if (n + 1 < cap)
            dst[n++] = *s;
    }
    dst[n] = 0;
    conf_trim(dst);
    return 0;
}

static void conf_set(struct conf_parser *p, const struct conf_key *k,
                     const char *val)
{
    char msg[CONF_MSG];
    int *at = &p->lines->key[k - p->sect->keys];
    if (*at && k->type != CONF_T_ADDRS) {
        conf_err(p, p->line, "%s: set twice (first at line %d)", k->name,
                 *at);
        return;
    }
    /* The file's first line for a list replaces the default; later lines
     * add to it. */
    if (!*at && k->type == CONF_T_ADDRS)
        *conf_count(p->base, k) = 0;
    *at = p->line; /* even when bad: not "missing" as well */
    if (conf_parse_value(k, val, p->base, msg, sizeof msg) != 0)
        conf_err(p, p->line, "%s: %s", k->name, msg);
}

static void conf_key_value(struct conf_parser *p, char *s)
{
    char val[CONF_LINE_MAX], msg[CONF_MSG];
    char *eq = strchr(s, '=');
    if (!eq) {
        conf_err(p, p->line, "expected 'key = value' or '[section]'");
        return;
    }
    *eq = 0;
    char *key = conf_trim(s);
    if (p->skip)
        return;
    if (!*key) {
        conf_err(p, p->line, "missing key before '='");
        return;
    }
    if (!p->sect) {
        conf_err(p, p->line, "%.64s: outside any section", key);
        return;
    }
    const struct conf_key *k = conf_find_key(p->sect, key);
    if (!k) {
        conf_err(p, p->line, "unknown key '%.64s' in [%s]", key,
                 p->sect->name);
        return;
    }
    if (conf_unquote(eq + 1, val, sizeof val, msg, sizeof msg) != 0) {
        conf_err(p, p->line, "%s: %s", k->name, msg);
        int *at = &p->lines->key[k - p->sect->keys];
        *at = *at ? *at : p->line; /* bad, but not "missing" as well */
        return;
    }
    conf_set(p, k, val);
}

static void conf_parse_line(struct conf_parser *p, char *s)
{
    s = conf_trim(s);
    if (!*s || *s == '#' || *s == ';')
        return;
    if (*s == '[')
        conf_open_section(p, s);
    else
        conf_key_value(p, s);
}

/* ------------------------------------------------------------------ */
/* Cross-field checks                                                  */
/* ------------------------------------------------------------------ */

/* The line where section <sid> (or upstream lines <l>) set key <name>. */
static int conf_line_of(const struct conf_lines *l, int sid, const char *name)
{
    const struct conf_key *k = conf_find_key(&conf_sections[sid], name);
    return k ? l->key[k - conf_sections[sid].keys] : 0;
}

static int conf_later(int a, int b)
{
    return a > b ? a : b;
}

static void conf_check_readable(struct conf_parser *p, int line,
                                const char *what, const char *path)
{
    if (*path && access(path, R_OK) != 0)
        conf_err(p, line, "%s: cannot read '%s': %s", what, path,
                 strerror(errno));
}

static void conf_check_listeners(struct conf_parser *p)
{
    const struct conf *c = p->c;
    const struct conf_lines *sv = &p->single[CONF_S_SERVER];
    const struct conf_lines *tl = &p->single[CONF_S_TLS];
    int tls_line = conf_line_of(tl, CONF_S_TLS, "listen");
    if (c->server.n_listen + c->tls.n_listen == 0)
        conf_err(p, conf_line_of(sv, CONF_S_SERVER, "listen"),
                 "no listener: set [server] listen or [tls] listen");
    for (int i = 0; i < c->tls.n_listen; i++)
        for (int j = 0; j < c->server.n_listen; j++)
            if (strcmp(c->tls.listen[i], c->server.listen[j]) == 0)
                conf_err(p, tls_line,
                         "[tls] listen %s is also a [server] listen",
                         c->tls.listen[i]);
}

static void conf_check_tls(struct conf_parser *p)
{
    const struct conf_tls *t = &p->c->tls;
    const struct conf_lines *l = &p->single[CONF_S_TLS];
    int at = conf_line_of(l, CONF_S_TLS, "listen");
    if (t->n_listen == 0)
        return;
    if (!*t->cert)
        conf_err(p, at, "[tls] listen needs cert (PEM certificate chain)");
    if (!*t->key)
        conf_err(p, at, "[tls] listen needs key (PEM private key)");
    conf_check_readable(p, conf_line_of(l, CONF_S_TLS, "cert"), "[tls] cert",
                        t->cert);
    conf_check_readable(p, conf_line_of(l, CONF_S_TLS, "key"), "[tls] key",
                        t->key);
    conf_check_readable(p, conf_line_of(l, CONF_S_TLS, "ca"), "[tls] ca",
                        t->ca);
}

/* Only what is a loopback address as written: a name that merely starts
 * with "127." ("127.evil.example") is a name, resolved anywhere. */
static int conf_is_loopback(const char *host)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) != 1)
        return 0;
    if (IN6_IS_ADDR_LOOPBACK(&v6))
        return 1;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

/* The admin server can change accounts: anywhere but loopback it needs a
 * token. */
static void conf_check_admin(struct conf_parser *p)
{
    const struct conf_admin *a = &p->c->admin;
    char host[CONF_STR], err[NET_ERR_LEN];
    int port;
    if (!*a->listen || *a->token ||
        net_split_hostport(a->listen, host, sizeof host, &port, err) != 0 ||
        conf_is_loopback(host))
        return;
    conf_err(p, conf_line_of(&p->single[CONF_S_ADMIN], CONF_S_ADMIN, "listen"),
             "[admin] listen %s is not loopback: set token, or listen on "
             "127.0.0.1",
             a->listen);
}

/* <lo_key> <= <hi_key>, reported where the second of the two was set. */
static void conf_check_order(struct conf_parser *p, const char *what,
                             const struct conf_lines *l, int sid,
                             const char *lo_key, unsigned lo,
                             const char *hi_key, unsigned hi)
{
    char a[32], b[32];
    if (lo <= hi)
        return;
    conf_fmt_dur(lo, a, sizeof a);
    conf_fmt_dur(hi, b, sizeof b);
    conf_err(p,
             conf_later(conf_line_of(l, sid, lo_key),
                        conf_line_of(l, sid, hi_key)),
             "%s%s (%s) is greater than %s (%s)", what, lo_key, a, hi_key, b);
}

static void conf_check_upstream(struct conf_parser *p, int i)
{
    const struct conf_upstream *u = &p->c->upstreams[i];
    const struct conf_lines *l = &p->up[i];
    const struct conf_section *s = &conf_sections[CONF_S_UPSTREAM];
    char what[96];
    snprintf(what, sizeof what, "[upstream %s] ", u->name);
    for (size_t k = 0; k < s->n_keys; k++)
        if ((s->keys[k].flags & CONF_REQUIRED) && !l->key[k])
            conf_err(p, l->header, "%smissing required key '%s'", what,
                     s->keys[k].name);
    conf_check_order(p, what, l, CONF_S_UPSTREAM, "reconnect_min",
                     u->reconnect_min_ms, "reconnect_max", u->reconnect_max_ms);
    if (u->tls)
        conf_check_readable(p, conf_line_of(l, CONF_S_UPSTREAM, "tls_ca"),
                            "tls_ca", u->tls_ca);
}

/* An ACL user authenticates with a password: AUTH has no form without. */
static void conf_check_redis_auth(struct conf_parser *p)
{
    const struct conf_redis *r = &p->c->redis;
    const struct conf_lines *l = &p->single[CONF_S_REDIS];
    if (r->username[0] && !r->password[0])
        conf_err(p, conf_line_of(l, CONF_S_REDIS, "username"),
                 "[redis] username is set without password");
    if (r->sentinel_username[0] && !r->sentinel_password[0])
        conf_err(p, conf_line_of(l, CONF_S_REDIS, "sentinel_username"),
                 "[redis] sentinel_username is set without sentinel_password");
}

static void conf_check_all(struct conf_parser *p)
{
    const struct conf *c = p->c;
    conf_check_redis_auth(p);
    conf_check_listeners(p);
    conf_check_tls(p);
    conf_check_admin(p);
    conf_check_order(p, "", &p->single[CONF_S_QUEUE], CONF_S_QUEUE,
                     "retry_min", c->queue.retry_min_ms, "retry_max",
                     c->queue.retry_max_ms);
    conf_check_order(p, "[relay] ", &p->single[CONF_S_RELAY], CONF_S_RELAY,
                     "retry_min", c->relay.retry_min_ms, "retry_max",
                     c->relay.retry_max_ms);
    if (c->n_upstreams == 0)
        conf_err(p, 0, "no [upstream NAME] section: submits would have "
                       "nowhere to go");
    for (int i = 0; i < c->n_upstreams; i++)
        conf_check_upstream(p, i);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

static void conf_parse_text(struct conf_parser *p, const char *text)
{
    char line[CONF_LINE_MAX];
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3; /* a BOM from an editor that adds one */
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        p->line++;
        if (n >= sizeof line) {
            conf_err(p, p->line, "line too long (max %zu bytes)",
                     sizeof line - 1);
        } else {
            memcpy(line, text, n);
            line[n] = 0;
            conf_parse_line(p, line);
        }
        text += n + (nl ? 1 : 0);
    }
}

static void conf_parser_init(struct conf_parser *p, const char *name,
                             struct conf *c, char *errs, size_t errs_cap)
{
    memset(p, 0, sizeof *p);
    p->c = c;
    p->file = name;
    p->errs = errs;
    p->cap = errs ? errs_cap : 0;
    if (p->cap)
        errs[0] = 0;
    conf_defaults(c);
    snprintf(c->path, sizeof c->path, "%s", name);
}

int conf_load_string(const char *name, const char *text, struct conf *c,
                     char *errs, size_t errs_cap)
{
    struct conf_parser *p = malloc(sizeof *p);
    if (!p) {
        conf_defaults(c);
        if (errs && errs_cap)
            snprintf(errs, errs_cap, "%s: out of memory\n", name);
        return 1;
    }
    conf_parser_init(p, name, c, errs, errs_cap);
    conf_parse_text(p, text);
    conf_check_all(p);
    int n = p->n_errs;
    free(p);
    return n;
}

/* The whole file as a string, or NULL with the reason in <msg>. The size
 * cap keeps a wrong path (a log, a disk image) from eating memory. */
static char *conf_read_file(const char *path, char *msg, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, cap, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(CONF_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, CONF_FILE_MAX + 1, f) : 0;
    const char *bad = NULL;
    if (!buf)
        bad = "out of memory";
    else if (ferror(f))
        bad = "read error";
    else if (n > CONF_FILE_MAX)
        bad = "larger than 1 MiB";
    else if (memchr(buf, 0, n))
        bad = "contains a NUL byte: not a text file";
    fclose(f);
    if (bad) {
        snprintf(msg, cap, "%s", bad);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

int conf_load(const char *path, struct conf *c, char *errs, size_t errs_cap)
{
    char msg[CONF_MSG];
    char *text = conf_read_file(path, msg, sizeof msg);
    if (!text) {
        conf_defaults(c);
        snprintf(c->path, sizeof c->path, "%s", path);
        if (errs && errs_cap)
            snprintf(errs, errs_cap, "%s: %s\n", path, msg);
        return 1;
    }
    int n = conf_load_string(path, text, c, errs, errs_cap);
    free(text);
    return n;
}

/* ------------------------------------------------------------------ */
/* The effective configuration, as a file                              */
/* ------------------------------------------------------------------ */

/* A string value as the parser reads it back: quoted when needed. */
static void conf_dump_str(FILE *out, const char *v)
{
    if (*v && !strpbrk(v, "#;\"\\ \t")) {
        fprintf(out, "%s\n", v);
        return;
    }
    fputc('"', out);
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            fputc('\\', out);
        fputc(*v, out);
    }
    fputs("\"\n", out);
}

static void conf_dump_key(FILE *out, const struct conf_key *k,
                          const char *base)
{
    char buf[32];
    if (k->flags & CONF_SECRET) {
        fprintf(out, "# %s: %s\n", k->name,
                base[k->off] ? "set (not shown)" : "not set");
        return;
    }
    if (k->type == CONF_T_ADDRS) {
        int n;
        memcpy(&n, base + k->count_off, sizeof n);
        if (n == 0)
            fprintf(out, "%s = \"\"\n", k->name);
        for (int i = 0; i < n; i++)
            fprintf(out, "%s = %s\n", k->name, base + k->off + i * CONF_STR);
        return;
    }
    fprintf(out, "%s = ", k->name);
    switch (k->type) {
    case CONF_T_STR: conf_dump_str(out, base + k->off); return;
    case CONF_T_UINT: fprintf(out, "%u\n", conf_get_uint(base, k)); return;
    case CONF_T_MS:
    case CONF_T_SEC:
        conf_fmt_dur(conf_get_uint(base, k) *
                         (k->type == CONF_T_SEC ? 1000ull : 1ull),
                     buf, sizeof buf);
        fprintf(out, "%s\n", buf);
        return;
    case CONF_T_LEVEL:
    case CONF_T_ENUM:
    case CONF_T_ADDRS: break;
    }
    const struct conf_name *nm = k->type == CONF_T_LEVEL ? conf_levels
                                                         : k->names;
    while (nm->name && nm->value != conf_get_int(base, k))
        nm++;
    fprintf(out, "%s\n", nm->name ? nm->name : "?");
}

static void conf_dump_section(FILE *out, const struct conf_section *s,
                              const char *base)
{
    for (size_t i = 0; i < s->n_keys; i++)
        conf_dump_key(out, &s->keys[i], base);
}

void conf_dump(const struct conf *c, FILE *out)
{
    fprintf(out, "# effective configuration of %s\n", c->path);
    for (int i = 0; i < CONF_S_UPSTREAM; i++) {
        fprintf(out, "\n[%s]\n", conf_sections[i].name);
        conf_dump_section(out, &conf_sections[i],
                          (const char *)c + conf_sections[i].off);
    }
    for (int i = 0; i < c->n_upstreams; i++) {
        fprintf(out, "\n[upstream %s]\n", c->upstreams[i].name);
        conf_dump_section(out, &conf_sections[CONF_S_UPSTREAM],
                          (const char *)&c->upstreams[i]);
    }
}
