/*
 * test_log.c - the three line formats, byte for byte; escaping of hostile
 * field values (quotes, backslashes, newlines, control bytes, invalid
 * UTF-8); level filtering; lines cut at every length still being one
 * valid line (json checked by a strict parser of flat objects).
 *
 * stderr is captured through a temporary file put on descriptor 2.
 */
#include "common.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

_Static_assert(LOG_FORMAT_TEXT == (int)CONF_LOG_TEXT &&
                   LOG_FORMAT_LOGFMT == (int)CONF_LOG_LOGFMT &&
                   LOG_FORMAT_JSON == (int)CONF_LOG_JSON,
               "main.c passes the configured format through as is");

#define TS "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

/* ---- capturing stderr ------------------------------------------------ */

static FILE *cap_file;
static int saved_fd = -1;

static void capture_begin(void)
{
    cap_file = tmpfile();
    cr_assert(cap_file);
    fflush(stderr);
    saved_fd = dup(2);
    cr_assert(saved_fd >= 0);
    cr_assert(dup2(fileno(cap_file), 2) == 2);
}

/* What was written since capture_begin, NUL-terminated; caller frees. */
static char *capture_end(size_t *len)
{
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    long n = ftell(cap_file);
    cr_assert(n >= 0);
    char *out = malloc((size_t)n + 1);
    cr_assert(out);
    rewind(cap_file);
    size_t got = fread(out, 1, (size_t)n, cap_file);
    out[got] = 0;
    fclose(cap_file);
    if (len)
        *len = got;
    return out;
}

static void matches(const char *text, const char *pattern)
{
    regex_t re;
    cr_assert(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0, "%s", pattern);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    cr_expect(rc == 0, "line\n  %s\ndoes not match\n  %s", text, pattern);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- a strict parser of one flat json object ------------------------ */

#define JSON_MAX_FIELDS 32

struct json_obj {
    int n;
    char key[JSON_MAX_FIELDS][64];
    char val[JSON_MAX_FIELDS][LOG_LINE_MAX]; /* strings decoded; "true" */
};

static size_t utf8_valid_len(const unsigned char *s)
{
    unsigned c = s[0], cp, len, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    for (unsigned i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80)
        return out[0] = (char)cp, 1;
    if (cp < 0x800)
        return out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), 2;
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

/* A json string at *<p>: decoded into <out>; -1 when not valid json. */
static int json_string(const char **p, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)*p;
    size_t n = 0;
    if (*s++ != '"')
        return -1;
    while (*s != '"') {
        if (*s < 0x20 || n + 4 >= cap)
            return -1; /* raw control bytes are not json */
        if (*s == '\\') {
            s++;
            const char *simple = strchr("\"\\/bfnrt", *s);
            if (*s && simple) {
                out[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                s++;
            } else if (*s == 'u') {
                unsigned cp;
                if (sscanf((const char *)s + 1, "%4x", &cp) != 1 ||
                    (cp >= 0xD800 && cp <= 0xDFFF))
                    return -1; /* the logger never needs surrogates */
                n += put_utf8(out + n, cp);
                s += 5;
            } else {
                return -1;
            }
            continue;
        }
        size_t len = utf8_valid_len(s);
        if (!len)
            return -1;
        memcpy(out + n, s, len);
        n += len;
        s += len;
    }
    out[n] = 0;
    *p = (const char *)s + 1;
    return 0;
}

/* <line>: exactly one object of string (or true) values, then "\n". */
static int json_parse_line(const char *line, struct json_obj *o)
{
    const char *p = line;
    o->n = 0;
    if (*p++ != '{')
        return -1;
    for (;;) {
        if (o->n == JSON_MAX_FIELDS ||
            json_string(&p, o->key[o->n], sizeof o->key[o->n]) != 0 || *p++ != ':')
            return -1;
        if (strncmp(p, "true", 4) == 0) {
            snprintf(o->val[o->n], sizeof o->val[o->n], "true");
            p += 4;
        } else if (json_string(&p, o->val[o->n], sizeof o->val[o->n]) != 0) {
            return -1;
        }
        o->n++;
        if (*p == '}')
            break;
        if (*p++ != ',')
            return -1;
    }
    return strcmp(p, "}\n") == 0 ? 0 : -1;
}

static const char *json_get(const struct json_obj *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->key[i], key) == 0)
            return o->val[i];
    return NULL;
}

/* ---- the formats ---------------------------------------------------- */

static void bound_event(void)
{
    log_event(LOG_INFO, "down",
              LOG_FIELDS("account", "acme", "type", "trx", "peer", "127.0.0.1:5555"),
              "[%s %s] bound as %s", "acme", "127.0.0.1:5555", "BOUND_TRX");
}

Test(log, text_is_the_line_people_read)
{
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_TEXT);
    capture_begin();
    bound_event();
    log_msg(LOG_WARN, "up", "plain %d", 7);
    char *out = capture_end(NULL);
    matches(out, "^" TS " info \\[down\\] \\[acme 127\\.0\\.0\\.1:5555\\] bound as BOUND_TRX\n"
                 TS " warn \\[up\\] plain 7\n$");
    free(out);
}

Test(log, logfmt_shape)
{
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_LOGFMT);
    capture_begin();
    bound_event();
    log_msg(LOG_ERROR, "main", "[x] no fields: the label stays");
    char *out = capture_end(NULL);
    matches(out, "^ts=" TS " level=info tag=down msg=\"bound as BOUND_TRX\" "
                 "account=acme type=trx peer=127\\.0\\.0\\.1:5555\n"
                 "ts=" TS " level=error tag=main msg=\"\\[x\\] no fields: the label stays\"\n$");
    free(out);
}

Test(log, json_shape)
{
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_JSON);
    capture_begin();
    bound_event();
    char *out = capture_end(NULL);
    matches(out, "^\\{\"ts\":\"" TS "\",\"level\":\"info\",\"tag\":\"down\","
                 "\"msg\":\"bound as BOUND_TRX\",\"account\":\"acme\",\"type\":\"trx\","
                 "\"peer\":\"127\\.0\\.0\\.1:5555\"\\}\n$");
    struct json_obj o;
    cr_expect(json_parse_line(out, &o) == 0, "%s", out);
    free(out);
}

Test(log, numbers_and_absent_values)
{
    log_set_level(LOG_DEBUG);
    log_set_format(LOG_FORMAT_LOGFMT);
    capture_begin();
    log_event(LOG_DEBUG, "up", LOG_FIELDS("connector", "sim", "session", LOG_NUM(-12),
                                          "reason", NULL, "count", LOG_NUM(1234567890123LL)),
              "[sim#-12] connecting");
    log_event(LOG_INFO, "up", NULL, "no fields");
    log_event(LOG_INFO, "up", LOG_FIELDS("empty", ""), "[only a label]");
    log_event(LOG_INFO, "up", LOG_FIELDS("k", "v", "dangling"), "a key without a value");
    char *out = capture_end(NULL);
    matches(out, "^ts=" TS " level=debug tag=up msg=connecting connector=sim "
                 "session=-12 count=1234567890123\n"
                 "ts=" TS " level=info tag=up msg=\"no fields\"\n"
                 "ts=" TS " level=info tag=up msg=\"\\[only a label\\]\" empty=\"\"\n"
                 "ts=" TS " level=info tag=up msg=\"a key without a value\" k=v\n$");
    free(out);
}

/* ---- hostile values ------------------------------------------------- */

/* quote, backslash, newline, CR, tab, 0x01, DEL, a stray 0xff, a cut
 * sequence, an overlong '/', a surrogate, then valid 2- and 4-byte UTF-8 */
static const char hostile[] = "a\"b\\c\nd\re\tf\x01g\x7fh\xffi\xc3(j\xc0\xafk"
                              "\xed\xa0\x80l\xc3\xa9m\xf0\x9f\x98\x80n";
#define FFFD "\xef\xbf\xbd"

Test(log, json_escapes_hostile_values)
{
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_JSON);
    capture_begin();
    log_event(LOG_WARN, "down", LOG_FIELDS("account", hostile, hostile, "key"),
              "[%s] bind refused: %s", hostile, hostile);
    size_t len;
    char *out = capture_end(&len);
    cr_expect(count_lines(out) == 1 && out[len - 1] == '\n', "%s", out);
    cr_expect(strstr(out, "\"account\":\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007fh" FFFD "i" FFFD
                          "(j" FFFD FFFD "k" FFFD FFFD FFFD "l\xc3\xa9m\xf0\x9f\x98\x80n\"") != NULL,
              "%s", out);
    struct json_obj o;
    cr_assert(json_parse_line(out, &o) == 0, "not valid json: %s", out);
    const char *want = "a\"b\\c\nd\re\tf\x01g\x7fh" FFFD "i" FFFD "(j" FFFD FFFD "k" FFFD FFFD
                       FFFD "l\xc3\xa9m\xf0\x9f\x98\x80n";
    cr_expect_str_eq(json_get(&o, "account"), want);
    cr_expect_str_eq(json_get(&o, want), "key", "a hostile key is escaped too");
    /* the label ends at the first "] ": the rest of the message is escaped */
    cr_expect(json_get(&o, "msg") != NULL);
    free(out);
}

Test(log, logfmt_escapes_hostile_values)
{
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_LOGFMT);
    capture_begin();
    log_event(LOG_WARN, "down",
              LOG_FIELDS("account", hostile, "peer", "x=y", "bad key", "\xff", "plain", "ok"),
              "refused");
    size_t len;
    char *out = capture_end(&len);
    cr_expect(count_lines(out) == 1 && out[len - 1] == '\n', "%s", out);
    const char *want = " msg=refused account=\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007fh" FFFD "i"
                       FFFD "(j" FFFD FFFD "k" FFFD FFFD FFFD "l\xc3\xa9m\xf0\x9f\x98\x80n\""
                       " peer=\"x=y\" bad_key=" FFFD " plain=ok\n";
    cr_expect(strstr(out, want) != NULL, "%s\nwants\n%s", out, want);
    free(out);
}

Test(log, text_stays_one_line)
{
    log_set_level(LOG_INFO);
    log_set_format(LOG_FORMAT_TEXT);
    capture_begin();
    log_event(LOG_WARN, "down", LOG_FIELDS("account", hostile), "[%s 1.2.3.4:5] bind refused",
              hostile);
    size_t len;
    char *out = capture_end(&len);
    cr_expect(count_lines(out) == 1 && out[len - 1] == '\n', "%s", out);
    cr_expect(strstr(out, "[a\"b\\c\\nd\\re\\tf\\x01g\\x7fh\xffi\xc3(j") != NULL,
              "control bytes escaped, other bytes as given: %s", out);
    free(out);
}

/* ---- levels --------------------------------------------------------- */

Test(log, level_filtering)
{
    log_set_format(LOG_FORMAT_JSON);
    log_set_level(LOG_WARN);
    cr_expect(log_get_level() == LOG_WARN);
    capture_begin();
    log_debug("t", "debug");
    log_info("t", "info");
    log_event(LOG_INFO, "t", LOG_FIELDS("k", "v"), "info event");
    log_warn("t", "warn");
    log_event(LOG_ERROR, "t", LOG_FIELDS("k", "v"), "error event");
    log_event(LOG_OFF, "t", NULL, "never: off is not a level to write at");
    char *out = capture_end(NULL);
    cr_expect(count_lines(out) == 2, "%s", out);
    cr_expect(strstr(out, "\"msg\":\"warn\"") && strstr(out, "\"msg\":\"error event\""), "%s", out);
    free(out);
    log_set_level(LOG_OFF);
    capture_begin();
    log_error("t", "error");
    out = capture_end(NULL);
    cr_expect_str_eq(out, "");
    free(out);
    cr_expect(log_level_parse("warn") == LOG_WARN && log_level_parse("loud") == -1);
}

/* ---- overlong lines ------------------------------------------------- */

/* A value of <n> copies of <unit>. */
static char *repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    cr_assert(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = 0;
    return s;
}

/* Every cut offset: values whose escapes are 1, 2, 3 and 6 bytes long and
 * multi-byte characters, at lengths around the line limit; each line is
 * one line within LOG_LINE_MAX, json parses and says it was truncated. */
Test(log, overlong_lines_stay_one_valid_line)
{
    static const char *const units[] = {"x", "\"", "\xc3\xa9", "\x01", "\xff", "a b"};
    static const enum log_format formats[] = {LOG_FORMAT_TEXT, LOG_FORMAT_LOGFMT,
                                              LOG_FORMAT_JSON};
    log_set_level(LOG_INFO);
    for (size_t f = 0; f < ARRAY_LEN(formats); f++) {
        log_set_format(formats[f]);
        for (size_t u = 0; u < ARRAY_LEN(units); u++) {
            for (size_t n = 1; n < 2100; n++) {
                char *v = repeat(units[u], n);
                capture_begin();
                log_event(LOG_INFO, "t", LOG_FIELDS("a", v, "b", "after"), "[l] msg %s",
                          n % 3 ? "short" : v);
                size_t len;
                char *out = capture_end(&len);
                cr_assert(len > 0 && len <= LOG_LINE_MAX && count_lines(out) == 1 &&
                              out[len - 1] == '\n',
                          "format %zu unit %zu n %zu: %zu bytes", f, u, n, len);
                if (formats[f] == LOG_FORMAT_JSON) {
                    struct json_obj o;
                    cr_assert(json_parse_line(out, &o) == 0, "n %zu unit %zu: %s", n, u, out);
                    cr_assert(json_get(&o, "ts") && json_get(&o, "msg"), "%s", out);
                    const char *b = json_get(&o, "b");
                    if (json_get(&o, "truncated")) /* b cut short or left out */
                        cr_assert((!b || strncmp(b, "after", strlen(b)) == 0) &&
                                      len > LOG_LINE_MAX / 2,
                                  "n %zu: %s", n, out);
                    else
                        cr_assert(b && strcmp(b, "after") == 0, "n %zu: %s", n, out);
                } else if (formats[f] == LOG_FORMAT_LOGFMT) {
                    const char *end = out + len;
                    int cut = len > 15 && strcmp(end - 16, " truncated=true\n") == 0;
                    int whole = len > 8 && strcmp(end - 9, " b=after\n") == 0;
                    cr_assert(cut != whole, "n %zu: %s", n, out);
                    cr_assert(!cut || len > LOG_LINE_MAX / 2, "n %zu: %s", n, out);
                }
                free(out);
                free(v);
            }
        }
    }
}

/* A line budget: <max> lines per window, the rest counted; a new window
 * starts the count again. */
Test(log, ratelimit_budget_per_window)
{
    struct log_ratelimit rl = {0};
    int allowed = 0;
    for (int i = 0; i < 100; i++)
        allowed += log_ratelimit_allow(&rl, 1000 + (uint64_t)i, 3, 60000);
    cr_assert_eq(allowed, 3);
    cr_assert_eq(rl.suppressed, 97);
    rl.suppressed = 0;
    cr_assert(!log_ratelimit_allow(&rl, 60999, 3, 60000));
    cr_assert(log_ratelimit_allow(&rl, 61000, 3, 60000));
    cr_assert_eq(rl.suppressed, 1);
}
