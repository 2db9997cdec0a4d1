/*
 * log.h - one line per event on stderr, with a level and a tag, in one of
 * three formats:
 *
 *   text    2026-11-26T18:00:00.123Z info [down] [acme 127.0.0.1:5555] bound as BOUND_TRX
 *   logfmt  ts=2026-11-26T18:00:00.123Z level=info tag=down msg="bound as BOUND_TRX"
 *           account=acme type=trx peer=127.0.0.1:5555
 *   json    {"ts":"2026-11-26T18:00:00.123Z","level":"info","tag":"down",
 *            "msg":"bound as BOUND_TRX","account":"acme","type":"trx","peer":"127.0.0.1:5555"}
 *
 * (logfmt and json on one line each.) An event may carry key/value fields:
 * text shows only the message, which says the same for people; logfmt and
 * json add them after msg, for collectors. Every line is one line: control
 * bytes are escaped in every format, json and logfmt strings are escaped
 * and invalid UTF-8 in them becomes U+FFFD, and a line longer than
 * LOG_LINE_MAX is cut where a value may end and marked truncated (json
 * stays one valid object).
 *
 * libc only. Callers never pass passwords or message content, neither in
 * the text nor in fields.
 */
#ifndef SMPPBRIDGE_LOG_H
#define SMPPBRIDGE_LOG_H

#include "common.h"

#include <stdint.h>

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
    LOG_OFF,
};

enum log_format {
    LOG_FORMAT_TEXT = 0, /* the same values as conf.h's CONF_LOG_* */
    LOG_FORMAT_LOGFMT,
    LOG_FORMAT_JSON,
};

/* Longest line written, newline included. */
#define LOG_LINE_MAX 2048

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "debug", "info", "warn", "error", "off"; -1 when unknown. */
int log_level_parse(const char *name);

void log_set_format(enum log_format format);
enum log_format log_get_format(void);

void log_msg(enum log_level level, const char *tag, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/*
 * One event with fields. <fields> is NULL or an array of key, value
 * strings ended by a NULL key, best written with LOG_FIELDS; a NULL value
 * leaves its field out. Keys are short constants and never "ts", "level",
 * "tag" or "msg". The text from <fmt> is the message; when it starts with
 * a label in brackets ("[acme 127.0.0.1:5555] bound as ..."), logfmt and
 * json leave the label out of msg: the fields say what it says.
 *
 *   log_event(LOG_INFO, TAG, LOG_FIELDS("account", id, "peer", peer),
 *             "[%s %s] bound as %s", id, peer, state);
 */
void log_event(enum log_level level, const char *tag, const char *const *fields,
               const char *fmt, ...) PRINTF_LIKE(4, 5);

/* two NULLs: a key left without its value still ends the array */
#define LOG_FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL, NULL})

/* A number as a field value, valid until the end of the enclosing block:
 * LOG_FIELDS("session", LOG_NUM(index)). */
#define LOG_NUM(n) log_num_text((char[24]){""}, (long long)(n))
const char *log_num_text(char *buf24, long long n);

/* A budget of lines for an event that can repeat at any rate (refused
 * connections, accept errors): at most <max_lines> per <window_ms>.
 * log_ratelimit_allow() says whether a line may be written at <now_ms>;
 * the lines it refused are counted in <suppressed>, for the next line
 * written to report (and reset). Zero-initialise before use. */
struct log_ratelimit {
    uint64_t window_start_ms;
    unsigned lines;
    unsigned long long suppressed;
};
int log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ms,
                        unsigned max_lines, unsigned window_ms);

#define log_debug(tag, ...) log_msg(LOG_DEBUG, tag, __VA_ARGS__)
#define log_info(tag, ...) log_msg(LOG_INFO, tag, __VA_ARGS__)
#define log_warn(tag, ...) log_msg(LOG_WARN, tag, __VA_ARGS__)
#define log_error(tag, ...) log_msg(LOG_ERROR, tag, __VA_ARGS__)

#endif /* SMPPBRIDGE_LOG_H */
