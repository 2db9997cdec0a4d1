/*
 * log.h - one line per event on stderr, with a level and a tag.
 *
 * libc only. Lines look like
 *   2026-11-26T18:00:00.123Z info [sim acme#3] bound as trx
 * Callers never pass passwords or message content.
 */
#ifndef SMPPBRIDGE_LOG_H
#define SMPPBRIDGE_LOG_H

#include "common.h"

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
    LOG_OFF,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "debug", "info", "warn", "error", "off"; -1 when unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *tag, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

#define log_debug(tag, ...) log_msg(LOG_DEBUG, tag, __VA_ARGS__)
#define log_info(tag, ...) log_msg(LOG_INFO, tag, __VA_ARGS__)
#define log_warn(tag, ...) log_msg(LOG_WARN, tag, __VA_ARGS__)
#define log_error(tag, ...) log_msg(LOG_ERROR, tag, __VA_ARGS__)

#endif /* SMPPBRIDGE_LOG_H */
