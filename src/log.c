#include "common.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static enum log_level current = LOG_INFO;
static enum log_format format = LOG_FORMAT_TEXT;
static const char *const names[] = {"debug", "info", "warn", "error", "off"};

void log_set_level(enum log_level level)
{
    current = level;
}

void log_set_format(enum log_format f)
{
    format = f <= LOG_FORMAT_JSON ? f : LOG_FORMAT_TEXT;
}

enum log_format log_get_format(void)
{
    return format;
}

enum log_level log_get_level(void)
{
    return current;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *log_num_text(char *buf24, long long n)
{
    snprintf(buf24, 24, "%lld", n);
    return buf24;
}

/* ---- one line, bounded ---------------------------------------------- */

/*
 * A line is built in <buf> up to <limit>; the bytes past it are kept for
 * what closes the line (a quote, the truncation mark, "}", the newline),
 * so a line cut short is still complete. Pieces go in whole or not at all:
 * once one does not fit, <full> is set and nothing more goes in.
 */
#define LINE_TAIL 32

struct line {
    char buf[LOG_LINE_MAX];
    size_t len;
    size_t limit;
    int full;
};

static int put(struct line *l, const char *s, size_t n)
{
    if (l->full || l->len + n > l->limit) {
        l->full = 1;
        return -1;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return 0;
}

static int put_str(struct line *l, const char *s)
{
    return put(l, s, strlen(s));
}

/* The closing bytes: into the tail kept for them. */
static void put_tail(struct line *l, const char *s)
{
    size_t n = strlen(s);
    if (l->len + n <= sizeof l->buf) {
        memcpy(l->buf + l->len, s, n);
        l->len += n;
    }
}

/* Length of the valid UTF-8 sequence at <s> (<n> bytes left), or 0 when it
 * is not one: a stray continuation byte, a short or overlong sequence, a
 * surrogate, or past U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    uint32_t cp, min;
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0)
        len = 2, cp = s[0] & 0x1Fu, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, cp = s[0] & 0x0Fu, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

enum escape_style {
    ESC_TEXT = 0, /* control bytes escaped; other bytes as they are */
    ESC_QUOTED,   /* inside "...": json and logfmt; invalid UTF-8 replaced */
    ESC_BARE,     /* unquoted logfmt value: invalid UTF-8 replaced */
};

/* The escape of the ASCII byte <c> inside quotes, or NULL when none. */
static const char *quoted_escape(unsigned char c, char *tmp7)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: break;
    }
    if (c < 0x20 || c == 0x7F) {
        snprintf(tmp7, 7, "\\u%04x", c);
        return tmp7;
    }
    return NULL;
}

/* How the character of <len> bytes at <p> is written per <style>: NULL
 * when as it is, else its escape (in <tmp8> when made up). <len> 0 is a
 * byte that is not UTF-8. */
static const char *escape_of(const unsigned char *p, size_t len,
                             enum escape_style style, char *tmp8)
{
    if (len == 0)
        return style == ESC_TEXT ? NULL : REPLACEMENT; /* text: as given */
    if (len > 1)
        return NULL;
    if (style == ESC_QUOTED)
        return quoted_escape(*p, tmp8);
    if (*p >= 0x20 && *p != 0x7F)
        return NULL;
    /* a control byte: text must stay one line (bare logfmt values never
     * hold one: they are quoted) */
    if (*p == '\n')
        return "\\n";
    if (*p == '\t')
        return "\\t";
    if (*p == '\r')
        return "\\r";
    snprintf(tmp8, 8, "\\x%02x", *p);
    return tmp8;
}

/* Append <s> escaped per <style>, one character at a time, up to the first
 * that does not fit. */
static void put_escaped(struct line *l, const char *s, enum escape_style style)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    char tmp[8];
    while (n && !l->full) {
        size_t len = utf8_len(p, n);
        const char *esc = escape_of(p, len, style, tmp);
        if (len == 0)
            len = 1;
        if (esc)
            put_str(l, esc);
        else
            put(l, (const char *)p, len);
        p += len;
        n -= len;
    }
}

/* A quoted string: what fits of it, and always its closing quote. */
static int put_quoted(struct line *l, const char *s)
{
    if (put(l, "\"", 1) != 0)
        return -1;
    put_escaped(l, s, ESC_QUOTED);
    if (put(l, "\"", 1) != 0)
        put_tail(l, "\"");
    return 0;
}

/* ---- the three formats ---------------------------------------------- */

struct event {
    char ts[32];
    const char *level, *tag, *text, *msg;
    const char *const *fields;
    int cut; /* the text was already longer than a line */
};

static void line_text(struct line *l, const struct event *e)
{
    put_str(l, e->ts);
    put_str(l, " ");
    put_str(l, e->level);
    put_str(l, " [");
    put_escaped(l, e->tag, ESC_TEXT);
    put_str(l, "] ");
    put_escaped(l, e->text, ESC_TEXT);
    put_tail(l, "\n");
}

static void json_field(struct line *l, const char *key, const char *val)
{
    size_t mark = l->len;
    if (l->full)
        return;
    if (mark > 1) /* after "{" the first needs no comma */
        put(l, ",", 1);
    put_quoted(l, key);
    if (l->full || put(l, ":", 1) != 0 || put_quoted(l, val) != 0)
        l->len = mark; /* a key alone would not be valid json */
}

static void line_json(struct line *l, const struct event *e)
{
    put_str(l, "{");
    json_field(l, "ts", e->ts);
    json_field(l, "level", e->level);
    json_field(l, "tag", e->tag);
    json_field(l, "msg", e->msg);
    for (const char *const *f = e->fields; f && f[0]; f += 2)
        if (f[1])
            json_field(l, f[0], f[1]);
    if (l->full || e->cut)
        put_tail(l, ",\"truncated\":true");
    put_tail(l, "}\n");
}

static int logfmt_needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7F)
            return 1;
    return 0;
}

static void logfmt_key(struct line *l, const char *key)
{
    /* keys are constants from the code; still, nothing may break the line */
    for (const char *k = key; *k && !l->full; k++) {
        char c = *k;
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        put(l, plain ? &c : "_", 1);
    }
}

static void logfmt_field(struct line *l, const char *key, const char *val)
{
    size_t mark = l->len;
    if (l->full)
        return;
    if (mark)
        put(l, " ", 1);
    logfmt_key(l, key);
    put(l, "=", 1);
    size_t value_at = l->len;
    if (!l->full && logfmt_needs_quotes(val))
        put_quoted(l, val);
    else if (!l->full)
        put_escaped(l, val, ESC_BARE);
    if (l->full && l->len == value_at)
        l->len = mark; /* not even the start of the value fit */
}

static void line_logfmt(struct line *l, const struct event *e)
{
    logfmt_field(l, "ts", e->ts);
    logfmt_field(l, "level", e->level);
    logfmt_field(l, "tag", e->tag);
    logfmt_field(l, "msg", e->msg);
    for (const char *const *f = e->fields; f && f[0]; f += 2)
        if (f[1])
            logfmt_field(l, f[0], f[1]);
    if (l->full || e->cut)
        put_tail(l, " truncated=true");
    put_tail(l, "\n");
}

/* ---- events --------------------------------------------------------- */

static void format_ts(char *out, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03uZ", (unsigned)(tv.tv_usec / 1000) % 1000u);
}

/* The message without a leading "[label] ", which the fields carry. */
static const char *without_label(const char *text)
{
    if (text[0] != '[')
        return text;
    const char *end = strchr(text, ']');
    return end && end[1] == ' ' && end[2] ? end + 2 : text;
}

static void log_write(enum log_level level, const char *tag,
                      const char *const *fields, const char *fmt, va_list ap)
{
    char text[LOG_LINE_MAX];
    struct line l;
    struct event e = {.level = names[level], .tag = tag ? tag : "-",
                      .text = text, .fields = fields};
    int n = vsnprintf(text, sizeof text, fmt, ap);
    if (n < 0)
        text[0] = 0;
    e.cut = n >= (int)sizeof text;
    e.msg = fields ? without_label(text) : text;
    format_ts(e.ts, sizeof e.ts);
    l.len = 0;
    l.limit = sizeof l.buf - LINE_TAIL;
    l.full = 0;
    if (format == LOG_FORMAT_JSON)
        line_json(&l, &e);
    else if (format == LOG_FORMAT_LOGFMT)
        line_logfmt(&l, &e);
    else
        line_text(&l, &e);
    /* stderr is unbuffered: one write, lines from threads do not mix */
    fwrite(l.buf, 1, l.len, stderr);
}

void log_msg(enum log_level level, const char *tag, const char *fmt, ...)
{
    if (level < current || level >= LOG_OFF)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, tag, NULL, fmt, ap);
    va_end(ap);
}

void log_event(enum log_level level, const char *tag, const char *const *fields,
               const char *fmt, ...)
{
    if (level < current || level >= LOG_OFF)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write(level, tag, fields, fmt, ap);
    va_end(ap);
}

int log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms,
                        unsigned max_lines, unsigned window_ms)
{
    if (rl->lines == 0 || now_ms >= rl->window_start_ms + window_ms) {
        rl->window_start_ms = now_ms;
        rl->lines = 0;
    }
    if (rl->lines >= max_lines) {
        rl->suppressed++;
        return 0;
    }
    rl->lines++;
    return 1;
}
