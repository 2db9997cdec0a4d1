/*
 * account.c - account fields, keys, validation and JSON. See account.h.
 */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "auth.h"

/* One row per stored field: the table is the source of truth for both
 * directions (account_from_fields and account_to_fields). */
enum account_field {
    FLD_PASSWORD = 0,
    FLD_ENABLED,
    FLD_MAX_BINDS,
    FLD_ALLOW,
    FLD_ID_FORMAT,
    FLD_TPS,
    FLD_DAILY_QUOTA,
    FLD_QUEUE_MAX_MESSAGES,
    FLD_QUEUE_MAX_BYTES,
    FLD_CREATED,
    FLD_UPDATED,
    FLD_MAX
};

static const struct {
    const char *name;
    int required;
} field_defs[FLD_MAX] = {
    [FLD_PASSWORD] = {"password", 1},   [FLD_ENABLED] = {"enabled", 1},
    [FLD_MAX_BINDS] = {"max_binds", 0}, [FLD_ALLOW] = {"allow", 0},
    [FLD_ID_FORMAT] = {"id_format", 0}, [FLD_TPS] = {"tps", 0},
    [FLD_DAILY_QUOTA] = {"daily_quota", 0},
    [FLD_QUEUE_MAX_MESSAGES] = {"queue_max_messages", 0},
    [FLD_QUEUE_MAX_BYTES] = {"queue_max_bytes", 0},
    [FLD_CREATED] = {"created", 0},     [FLD_UPDATED] = {"updated", 0},
};

/* The largest Unix time accepted (year 9999). */
#define ACCOUNT_TIME_MAX INT64_C(253402300799)

void account_init(struct account *a, const char *id)
{
    memset(a, 0, sizeof *a);
    if (id != NULL)
        snprintf(a->id, sizeof a->id, "%s", id);
    a->enabled = 1;
    a->id_format = ACCOUNT_ID_HEX;
}

int account_id_valid(const char *id)
{
    if (id == NULL)
        return 0;
    size_t n = strnlen(id, ACCOUNT_ID_MAX + 1);
    if (n == 0 || n > ACCOUNT_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}' || c == ':')
            return 0;
    }
    return 1;
}

const char *account_id_format_name(enum account_id_format f)
{
    return f == ACCOUNT_ID_DEC ? "dec" : "hex";
}

int account_id_format_parse(const char *s, enum account_id_format *f)
{
    if (strcmp(s, "hex") == 0)
        *f = ACCOUNT_ID_HEX;
    else if (strcmp(s, "dec") == 0)
        *f = ACCOUNT_ID_DEC;
    else
        return -1;
    return 0;
}

/* Canonical decimal (no sign, no leading zero) of at most <max>. */
static int parse_u64(const char *v, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;
    if (len == 0 || len > 19 || (len > 1 && v[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    if (n > max)
        return -1;
    *out = n;
    return 0;
}

/* Copy a value that must be text (no NUL) and fit <cap> with its NUL. */
static int copy_text(const char *v, size_t len, char *dst, size_t cap)
{
    if (len >= cap || memchr(v, '\0', len) != NULL)
        return -1;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return 0;
}

/* Parse one known field's value into <a>; 0, or -1 with <err>. */
static int field_parse(enum account_field f, const char *v, size_t len,
                       struct account *a, char *err, size_t cap)
{
    uint64_t n;
    char tmp[ACCOUNT_ALLOW_MAX], why[AUTH_ERR_LEN];
    const char *name = field_defs[f].name;
    switch (f) {
    case FLD_PASSWORD:
        if (copy_text(v, len, a->password_hash, sizeof a->password_hash) < 0 ||
            !auth_hash_wellformed(a->password_hash))
            goto bad;
        return 0;
    case FLD_ENABLED:
        if (len != 1 || (v[0] != '0' && v[0] != '1'))
            goto bad;
        a->enabled = v[0] == '1';
        return 0;
    case FLD_MAX_BINDS:
    case FLD_TPS:
        if (parse_u64(v, len,
                      f == FLD_TPS ? ACCOUNT_TPS_MAX : ACCOUNT_BINDS_MAX,
                      &n) < 0)
            goto bad;
        *(f == FLD_TPS ? &a->tps : &a->max_binds) = (unsigned)n;
        return 0;
    case FLD_DAILY_QUOTA:
        if (parse_u64(v, len, ACCOUNT_QUOTA_MAX, &n) < 0)
            goto bad;
        a->daily_quota = (unsigned)n;
        return 0;
    case FLD_QUEUE_MAX_MESSAGES:
        if (parse_u64(v, len, ACCOUNT_QUEUE_MSGS_MAX, &n) < 0)
            goto bad;
        a->queue_max_messages = (unsigned)n;
        return 0;
    case FLD_QUEUE_MAX_BYTES:
        if (parse_u64(v, len, ACCOUNT_QUEUE_BYTES_MAX, &n) < 0)
            goto bad;
        a->queue_max_bytes = n;
        return 0;
    case FLD_ALLOW:
        if (copy_text(v, len, tmp, sizeof tmp) < 0)
            goto bad;
        if (!auth_cidr_list_valid(tmp, why, sizeof why)) {
            snprintf(err, cap, "field allow: %s", why);
            return -1;
        }
        memcpy(a->allow, tmp, len + 1);
        return 0;
    case FLD_ID_FORMAT:
        if (copy_text(v, len, tmp, 8) < 0 ||
            account_id_format_parse(tmp, &a->id_format) < 0)
            goto bad;
        return 0;
    case FLD_CREATED:
    case FLD_UPDATED:
        if (parse_u64(v, len, (uint64_t)ACCOUNT_TIME_MAX, &n) < 0)
            goto bad;
        *(f == FLD_CREATED ? &a->created : &a->updated) = (int64_t)n;
        return 0;
    case FLD_MAX:
        break;
    }
bad:
    /* Never echo the password field's value. */
    if (f == FLD_PASSWORD)
        snprintf(err, cap, "field password: not a well-formed password hash");
    else
        snprintf(err, cap, "field %s: bad value '%.*s'", name,
                 (int)(len > 40 ? 40 : len), v);
    return -1;
}

int account_from_fields(const char *const *names, const char *const *values,
                        const size_t *lens, size_t n, struct account *out,
                        char *err, size_t cap)
{
    char id[ACCOUNT_ID_MAX + 1];
    int seen[FLD_MAX] = {0};
    /* keep the caller's id, or "" when it never set one (no NUL inside) */
    memcpy(id, out->id, sizeof id);
    account_init(out, NULL);
    if (memchr(id, '\0', sizeof id) != NULL)
        memcpy(out->id, id, sizeof id);
    for (size_t i = 0; i < n; i++) {
        enum account_field f = FLD_MAX;
        for (int k = 0; k < FLD_MAX; k++)
            if (names[i] != NULL && strcmp(names[i], field_defs[k].name) == 0)
                f = (enum account_field)k;
        if (f == FLD_MAX)
            continue; /* a newer writer's field */
        if (seen[f]++) {
            snprintf(err, cap, "field %s given twice", field_defs[f].name);
            return -1;
        }
        if (values[i] == NULL ||
            field_parse(f, values[i], lens[i], out, err, cap) < 0) {
            if (values[i] == NULL)
                snprintf(err, cap, "field %s: no value", field_defs[f].name);
            return -1;
        }
    }
    for (int k = 0; k < FLD_MAX; k++) {
        if (field_defs[k].required && !seen[k]) {
            snprintf(err, cap, "field %s missing", field_defs[k].name);
            return -1;
        }
    }
    return 0;
}

void account_to_fields(const struct account *a, struct account_fields *f)
{
    memset(f, 0, sizeof *f);
    for (int k = 0; k < FLD_MAX; k++) {
        const char *v = f->num[k];
        switch ((enum account_field)k) {
        case FLD_PASSWORD:
            v = a->password_hash;
            break;
        case FLD_ENABLED:
            snprintf(f->num[k], sizeof f->num[k], "%d", a->enabled ? 1 : 0);
            break;
        case FLD_MAX_BINDS:
            snprintf(f->num[k], sizeof f->num[k], "%u", a->max_binds);
            break;
        case FLD_ALLOW:
            v = a->allow;
            break;
        case FLD_ID_FORMAT:
            v = account_id_format_name(a->id_format);
            break;
        case FLD_TPS:
            snprintf(f->num[k], sizeof f->num[k], "%u", a->tps);
            break;
        case FLD_DAILY_QUOTA:
            snprintf(f->num[k], sizeof f->num[k], "%u", a->daily_quota);
            break;
        case FLD_QUEUE_MAX_MESSAGES:
            snprintf(f->num[k], sizeof f->num[k], "%u", a->queue_max_messages);
            break;
        case FLD_QUEUE_MAX_BYTES:
            snprintf(f->num[k], sizeof f->num[k], "%" PRIu64, a->queue_max_bytes);
            break;
        case FLD_CREATED:
            snprintf(f->num[k], sizeof f->num[k], "%" PRId64, a->created);
            break;
        case FLD_UPDATED:
            snprintf(f->num[k], sizeof f->num[k], "%" PRId64, a->updated);
            break;
        case FLD_MAX:
            break;
        }
        f->name[k] = field_defs[k].name;
        f->value[k] = v;
        f->len[k] = strlen(v);
    }
    f->n = FLD_MAX;
}

/* A bounded writer: every append after an overflow is a no-op. */
struct jbuf {
    char *out;
    size_t cap, len;
    int overflow;
};

static void jb_raw(struct jbuf *b, const char *s, size_t n)
{
    if (b->overflow || b->len + n >= b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->out + b->len, s, n);
    b->len += n;
    b->out[b->len] = '\0';
}

static void jb_str(struct jbuf *b, const char *s)
{
    jb_raw(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            jb_raw(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            jb_raw(b, esc, 6);
        } else {
            jb_raw(b, (const char *)&c, 1);
        }
    }
    jb_raw(b, "\"", 1);
}

static void jb_num(struct jbuf *b, const char *key, int64_t v)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, ",\"%s\":%" PRId64, key, v);
    jb_raw(b, tmp, (size_t)n);
}

int account_to_json(const struct account *a, char *out, size_t cap)
{
    struct jbuf b = {out, cap, 0, cap == 0};
    if (cap > 0)
        out[0] = '\0';
    jb_raw(&b, "{\"id\":", 6);
    jb_str(&b, a->id);
    jb_raw(&b, a->enabled ? ",\"enabled\":true" : ",\"enabled\":false",
           a->enabled ? 15 : 16);
    jb_num(&b, "max_binds", a->max_binds);
    jb_raw(&b, ",\"allow\":", 9);
    jb_str(&b, a->allow);
    jb_raw(&b, ",\"id_format\":", 13);
    jb_str(&b, account_id_format_name(a->id_format));
    jb_num(&b, "tps", a->tps);
    jb_num(&b, "daily_quota", a->daily_quota);
    jb_num(&b, "queue_max_messages", a->queue_max_messages);
    jb_num(&b, "queue_max_bytes", (int64_t)a->queue_max_bytes);
    jb_num(&b, "created", a->created);
    jb_num(&b, "updated", a->updated);
    jb_raw(&b, "}", 1);
    if (b.overflow) {
        if (cap > 0)
            out[0] = '\0';
        return -1;
    }
    return (int)b.len;
}
