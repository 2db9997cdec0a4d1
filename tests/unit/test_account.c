/*
 * test_account.c - account ids, the Redis hash fields both ways
 * (strictly), and the JSON form (never the password hash).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "account.h"

/* A well-formed stored hash (salt 00..0f, password "secret"). */
static const char HASH[] = "scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$"
                           "lUTkiXnaPIlt+39/W8AV+zIOgQ+DcviNZtmSHaWiqmU=";

/* Parse <n> name/value pairs given as one NULL-terminated list. */
static int parse(struct account *a, char *err, const char *const *kv)
{
    const char *names[32], *values[32];
    size_t lens[32], n = 0;
    for (; kv[2 * n] != NULL; n++) {
        names[n] = kv[2 * n];
        values[n] = kv[2 * n + 1];
        lens[n] = strlen(kv[2 * n + 1]);
    }
    err[0] = '\0';
    return account_from_fields(names, values, lens, n, a, err,
                               ACCOUNT_ERR_LEN);
}

static struct account sample(void)
{
    struct account a;
    account_init(&a, "acme");
    snprintf(a.password_hash, sizeof a.password_hash, "%s", HASH);
    a.enabled = 0;
    a.max_binds = 4;
    snprintf(a.allow, sizeof a.allow, "10.0.0.0/8,2001:db8::/32");
    a.id_format = ACCOUNT_ID_DEC;
    a.tps = 250;
    a.daily_quota = 20000;
    a.queue_max_messages = 500;
    a.queue_max_bytes = 1048576;
    a.created = 1764180000;
    a.updated = 1764183600;
    return a;
}

static void account_eq(const struct account *x, const struct account *y)
{
    cr_assert_str_eq(x->id, y->id);
    cr_assert_str_eq(x->password_hash, y->password_hash);
    cr_assert_eq(x->enabled, y->enabled);
    cr_assert_eq(x->max_binds, y->max_binds);
    cr_assert_str_eq(x->allow, y->allow);
    cr_assert_eq(x->id_format, y->id_format);
    cr_assert_eq(x->tps, y->tps);
    cr_assert_eq(x->daily_quota, y->daily_quota);
    cr_assert_eq(x->queue_max_messages, y->queue_max_messages);
    cr_assert_eq(x->queue_max_bytes, y->queue_max_bytes);
    cr_assert_eq(x->created, y->created);
    cr_assert_eq(x->updated, y->updated);
}

/* ------------------------------------------------------------------ */
/* ids and keys                                                        */
/* ------------------------------------------------------------------ */

Test(account_id, valid)
{
    cr_assert(account_id_valid("acme"));
    cr_assert(account_id_valid("a"));
    cr_assert(account_id_valid("fifteen-chars-x"));
    cr_assert(account_id_valid("a-b_c.d@e+f!#"));
    cr_assert(account_id_valid("SMPP3TEST"));
}

Test(account_id, invalid)
{
    static const char *const bad[] = {
        "", "sixteen-chars-xx", "a b", " a", "a{b", "a}", "{a}", "a:b",
        "a\tb", "caf\xc3\xa9", "a\x7f", "a\nb",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(account_id_valid(bad[i]), 0, "accepted '%s'", bad[i]);
    cr_assert_eq(account_id_valid(NULL), 0);
}

Test(account_id_format, names)
{
    enum account_id_format f;
    cr_assert_eq(account_id_format_parse("hex", &f), 0);
    cr_assert_eq(f, ACCOUNT_ID_HEX);
    cr_assert_eq(account_id_format_parse("dec", &f), 0);
    cr_assert_eq(f, ACCOUNT_ID_DEC);
    cr_assert_eq(account_id_format_parse("HEX", &f), -1);
    cr_assert_eq(account_id_format_parse("", &f), -1);
    cr_assert_str_eq(account_id_format_name(ACCOUNT_ID_HEX), "hex");
    cr_assert_str_eq(account_id_format_name(ACCOUNT_ID_DEC), "dec");
}

Test(account, init_defaults)
{
    struct account a;
    account_init(&a, "acme");
    cr_assert_str_eq(a.id, "acme");
    cr_assert_eq(a.enabled, 1);
    cr_assert_eq(a.max_binds, 0);
    cr_assert_eq(a.tps, 0);
    cr_assert_str_eq(a.allow, "");
    cr_assert_eq(a.id_format, ACCOUNT_ID_HEX);
    cr_assert_str_eq(a.password_hash, "");
}

/* ------------------------------------------------------------------ */
/* fields                                                              */
/* ------------------------------------------------------------------ */

Test(account_fields, shape)
{
    struct account a = sample();
    struct account_fields f;
    account_to_fields(&a, &f);
    cr_assert_eq(f.n, ACCOUNT_NFIELDS);
    static const char *const want[][2] = {
        {"password", HASH}, {"enabled", "0"},
        {"max_binds", "4"}, {"allow", "10.0.0.0/8,2001:db8::/32"},
        {"id_format", "dec"}, {"tps", "250"}, {"daily_quota", "20000"},
        {"queue_max_messages", "500"}, {"queue_max_bytes", "1048576"},
        {"created", "1764180000"}, {"updated", "1764183600"},
    };
    for (size_t i = 0; i < f.n; i++) {
        cr_assert_str_eq(f.name[i], want[i][0]);
        cr_assert_eq(f.len[i], strlen(want[i][1]));
        cr_assert_eq(memcmp(f.value[i], want[i][1], f.len[i]), 0, "%s",
                     f.name[i]);
    }
}

Test(account_fields, round_trip)
{
    struct account a = sample(), b;
    struct account_fields f;
    char err[ACCOUNT_ERR_LEN];
    account_to_fields(&a, &f);
    memset(&b, 0x5a, sizeof b);
    snprintf(b.id, sizeof b.id, "acme");
    cr_assert_eq(account_from_fields(f.name, f.value, f.len, f.n, &b, err,
                                     sizeof err),
                 0, "%s", err);
    account_eq(&a, &b);
    /* the defaults survive too */
    account_init(&a, "x");
    snprintf(a.password_hash, sizeof a.password_hash, "%s", HASH);
    account_to_fields(&a, &f);
    account_init(&b, "x");
    cr_assert_eq(account_from_fields(f.name, f.value, f.len, f.n, &b, err,
                                     sizeof err),
                 0, "%s", err);
    account_eq(&a, &b);
}

Test(account_fields, optional_fields_default_and_unknown_ignored)
{
    struct account a;
    char err[ACCOUNT_ERR_LEN];
    account_init(&a, "acme");
    const char *const kv[] = {"password", HASH, "enabled", "1",
                              "future_field", "whatever", NULL};
    cr_assert_eq(parse(&a, err, kv), 0, "%s", err);
    cr_assert_str_eq(a.id, "acme");
    cr_assert_eq(a.enabled, 1);
    cr_assert_eq(a.tps, 0);
    cr_assert_eq(a.daily_quota, 0);
    cr_assert_eq(a.max_binds, 0);
    cr_assert_str_eq(a.allow, "");
    cr_assert_eq(a.id_format, ACCOUNT_ID_HEX);
    cr_assert_eq(a.created, 0);
}

Test(account_fields, required_fields)
{
    struct account a;
    char err[ACCOUNT_ERR_LEN];
    account_init(&a, "acme");
    const char *const no_pw[] = {"enabled", "1", NULL};
    cr_assert_eq(parse(&a, err, no_pw), -1);
    cr_assert_not_null(strstr(err, "password"), "%s", err);
    const char *const no_en[] = {"password", HASH, NULL};
    cr_assert_eq(parse(&a, err, no_en), -1);
    cr_assert_not_null(strstr(err, "enabled"), "%s", err);
    const char *const none[] = {NULL};
    cr_assert_eq(parse(&a, err, none), -1);
}

Test(account_fields, duplicate_field)
{
    struct account a;
    char err[ACCOUNT_ERR_LEN];
    account_init(&a, "acme");
    const char *const kv[] = {"password", HASH, "enabled", "1",
                              "tps", "5", "tps", "6", NULL};
    cr_assert_eq(parse(&a, err, kv), -1);
    cr_assert_not_null(strstr(err, "tps"), "%s", err);
}

Test(account_fields, bad_values)
{
    static const char *const bad[][2] = {
        {"enabled", "2"},        {"enabled", "yes"},
        {"enabled", ""},         {"enabled", "01"},
        {"tps", "-1"},           {"tps", "01"},
        {"tps", "abc"},          {"tps", "100001"},
        {"tps", "1e3"},          {"tps", " 5"},
        {"tps", "5 "},           {"tps", ""},
        {"tps", "+5"},           {"max_binds", "10001"},
        {"max_binds", "0x10"},   {"id_format", "HEX"},
        {"id_format", "oct"},    {"id_format", ""},
        {"allow", "10.0.0.1/8"}, {"allow", "bogus"},
        {"allow", "10.0.0.0/8,"}, {"created", "-5"},
        {"created", "99999999999999999999"}, {"updated", "253402300800"},
        {"password", "plaintext"}, {"password", ""},
        {"daily_quota", "100000001"}, {"daily_quota", "-1"},
        {"daily_quota", "007"},  {"daily_quota", ""},
        {"queue_max_messages", "100000001"}, {"queue_max_bytes", "4000000001"},
        {"queue_max_bytes", "-1"},
    };
    char err[ACCOUNT_ERR_LEN];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct account a;
        account_init(&a, "acme");
        const char *f = bad[i][0], *v = bad[i][1];
        const char *const as_pw[] = {"password", v, "enabled", "1", NULL};
        const char *const as_en[] = {"password", HASH, "enabled", v, NULL};
        const char *const other[] = {"password", HASH, "enabled", "1",
                                     f, v, NULL};
        const char *const *kv = !strcmp(f, "password")  ? as_pw
                                : !strcmp(f, "enabled") ? as_en
                                                        : other;
        cr_assert_eq(parse(&a, err, kv), -1, "accepted %s='%s'", f, v);
        cr_assert_not_null(strstr(err, bad[i][0]), "%s", err);
    }
}

Test(account_fields, password_value_never_in_messages)
{
    struct account a;
    char err[ACCOUNT_ERR_LEN];
    account_init(&a, "acme");
    const char *const kv[] = {"password", "hunter2", "enabled", "1", NULL};
    cr_assert_eq(parse(&a, err, kv), -1);
    cr_assert_null(strstr(err, "hunter2"), "%s", err);
}

Test(account_fields, id_kept_or_emptied)
{
    struct account a;
    char err[ACCOUNT_ERR_LEN];
    const char *const kv[] = {"password", HASH, "enabled", "1", NULL};
    account_init(&a, "acme");
    cr_assert_eq(parse(&a, err, kv), 0, "%s", err);
    cr_assert_str_eq(a.id, "acme");
    /* a caller that never set the id gets "" rather than junk */
    memset(&a, 'J', sizeof a);
    cr_assert_eq(parse(&a, err, kv), 0, "%s", err);
    cr_assert_str_eq(a.id, "");
}

Test(account_fields, values_are_views)
{
    /* lengths, not NULs, bound each value (hiredis gives both) */
    struct account a;
    char err[ACCOUNT_ERR_LEN];
    account_init(&a, "acme");
    const char *names[] = {"password", "enabled", "tps"};
    const char *values[] = {HASH, "1xyz", "50junk"};
    size_t lens[] = {strlen(HASH), 1, 2};
    cr_assert_eq(account_from_fields(names, values, lens, 3, &a, err,
                                     sizeof err),
                 0, "%s", err);
    cr_assert_eq(a.tps, 50);
    /* an embedded NUL is refused */
    const char allow[] = "10.0.0.0/8\0junk";
    const char *n2[] = {"password", "enabled", "allow"};
    const char *v2[] = {HASH, "1", allow};
    size_t l2[] = {strlen(HASH), 1, sizeof allow - 1};
    cr_assert_eq(account_from_fields(n2, v2, l2, 3, &a, err, sizeof err), -1);
}

Test(account_fields, bounds_accepted)
{
    struct account a;
    char err[ACCOUNT_ERR_LEN];
    account_init(&a, "acme");
    const char *const kv[] = {"password",  HASH,     "enabled", "0",
                              "tps",       "100000", "max_binds", "10000",
                              "daily_quota", "100000000",
                              "allow",     " 10.0.0.0/8 , ::1 ",
                              "created",   "0",      "updated", "253402300799",
                              NULL};
    cr_assert_eq(parse(&a, err, kv), 0, "%s", err);
    cr_assert_eq(a.tps, 100000);
    cr_assert_eq(a.daily_quota, 100000000);
    cr_assert_eq(a.max_binds, 10000);
    cr_assert_eq(a.enabled, 0);
    cr_assert_eq(a.updated, 253402300799LL);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

Test(account_json, exact_and_without_hash)
{
    struct account a = sample();
    char out[1024];
    int n = account_to_json(&a, out, sizeof out);
    cr_assert_gt(n, 0);
    cr_assert_eq((size_t)n, strlen(out));
    cr_assert_str_eq(out,
                     "{\"id\":\"acme\",\"enabled\":false,\"max_binds\":4,"
                     "\"allow\":\"10.0.0.0/8,2001:db8::/32\","
                     "\"id_format\":\"dec\",\"tps\":250,\"daily_quota\":20000,"
                     "\"queue_max_messages\":500,\"queue_max_bytes\":1048576,"
                     "\"created\":1764180000,\"updated\":1764183600}");
    cr_assert_null(strstr(out, "scrypt"));
    cr_assert_null(strstr(out, "password"));
    cr_assert_null(strstr(out, "AAECAw"));
}

Test(account_json, escapes)
{
    struct account a;
    account_init(&a, "a\"b\\c");
    char out[512];
    cr_assert_gt(account_to_json(&a, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "\"id\":\"a\\\"b\\\\c\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"enabled\":true"), "%s", out);
    account_init(&a, "x\x01y");
    cr_assert_gt(account_to_json(&a, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "\"x\\u0001y\""), "%s", out);
}

Test(account_json, too_small)
{
    struct account a = sample();
    char out[1024];
    int n = account_to_json(&a, out, sizeof out);
    for (size_t cap = 0; cap <= (size_t)n; cap++) {
        char small[1024];
        memset(small, 'Z', sizeof small);
        cr_assert_eq(account_to_json(&a, small, cap), -1, "cap %zu", cap);
        if (cap > 0)
            cr_assert_eq(small[0], '\0');
        cr_assert_eq(small[cap], 'Z', "wrote past %zu", cap);
    }
    cr_assert_eq(account_to_json(&a, out, (size_t)n + 1), n);
}
