/*
 * fuzz_conf.c - libFuzzer target for the configuration parser: any text
 * either parses or yields error lines; never a crash, an over-read or an
 * unbounded error buffer. A text that parses also dumps (conf_dump) into
 * a text that parses again to the same values - or, since the dump
 * leaves secrets out, fails only for the upstream passwords it omitted.
 */
#define _GNU_SOURCE /* memmem, open_memstream */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when every error line is about an upstream password left out. */
static int only_missing_passwords(const char *errs)
{
    for (const char *line = errs; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len && !memmem(line, len, "missing required key 'password'", 31))
            return 0;
        line += len + (end ? 1 : 0);
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct conf c, again;
    static char errs[4096];
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    int n = conf_load_string("fuzz.conf", text, &c, errs, sizeof errs);
    if (n == 0) {
        char *dump = NULL;
        size_t dump_len = 0;
        FILE *f = open_memstream(&dump, &dump_len);
        if (f) {
            conf_dump(&c, f);
            fclose(f);
            int bad = conf_load_string("dump.conf", dump, &again, errs, sizeof errs);
            if (bad && !only_missing_passwords(errs))
                __builtin_trap();
            if (!bad && (again.n_upstreams != c.n_upstreams ||
                again.server.window != c.server.window ||
                strcmp(again.redis.host, c.redis.host) != 0))
                __builtin_trap();
            free(dump);
        }
    }
    free(text);
    return 0;
}
