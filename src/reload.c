/*
 * reload.c - which keys a reload changed, and which of them must wait for
 * a restart.
 *
 * The comparison works on conf_dump()'s text rather than on the structs:
 * every key of every section is there in one canonical form (durations in
 * their largest unit, strings without what a key set twice leaves past
 * the terminator), so a key added to conf.c later is compared without a
 * change here. Secrets appear in the dump only as "set" or "not set": the
 * two of them outside [upstream] are compared directly.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "reload.h"

#define KEY_NAME_MAX 96

/* conf_dump of <c> as one string (caller frees), or NULL. */
static char *dump_text(const struct conf *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    conf_dump(c, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The name of the key a dump line sets, "[section] key", into <out>;
 * 0, or -1 for lines that set nothing (blank, header, plain comment). */
static int line_key(const char *section, const char *line, size_t len,
                    char *out, size_t cap)
{
    const char *end;
    size_t n;
    if (len > 2 && line[0] == '#' && line[1] == ' ' &&
        (end = memchr(line, ':', len)) != NULL) {
        line += 2; /* a secret: "# password: set (not shown)" */
        n = (size_t)(end - line);
    } else if (len && line[0] != '#' && line[0] != '[' &&
               (end = memchr(line, ' ', len)) != NULL) {
        n = (size_t)(end - line);
    } else {
        return -1;
    }
    /* too long for a key name: no key of ours */
    int w = snprintf(out, cap, "%s %.*s", section, (int)n, line);
    return w > 0 && (size_t)w < cap ? 0 : -1;
}

/* 1 when <text> has the line <line> (length <len>) in section <section>. */
static int has_line(const char *text, const char *section, const char *line,
                    size_t len)
{
    char cur[CONF_STR] = "";
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[0] == '[')
            snprintf(cur, sizeof cur, "%.*s", (int)n, p);
        else if (n == len && memcmp(p, line, len) == 0 &&
                 strcmp(cur, section) == 0)
            return 1;
        p += n + (nl != NULL);
    }
    return 0;
}

static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
        if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == 0))
            return 1;
    return 0;
}

static void add_name(char *list, size_t cap, const char *name)
{
    size_t len = strlen(list);
    if (listed(list, name) || len >= cap)
        return;
    snprintf(list + len, cap - len, "%s%s", len ? ", " : "", name);
}

/* Every key of <a> (outside [upstream]) with a line <b> lacks, added to
 * <names>. */
static void keys_missing(const char *a, const char *b, char *names,
                         size_t cap)
{
    char section[CONF_STR] = "", key[KEY_NAME_MAX];
    for (const char *p = a; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n && p[0] == '[')
            snprintf(section, sizeof section, "%.*s", (int)n, p);
        else if (section[0] && strncmp(section, "[upstream ", 10) != 0 &&
                 line_key(section, p, n, key, sizeof key) == 0 &&
                 !has_line(b, section, p, n))
            add_name(names, cap, key);
        p += n + (nl != NULL);
    }
}

static int restart_only(const char *name)
{
    return strcmp(name, "[server] listen") == 0 ||
           strcmp(name, "[tls] listen") == 0 ||
           strcmp(name, "[admin] listen") == 0 ||
           strncmp(name, "[redis] ", 8) == 0;
}

/* Split the names in <all> into <changed> and <restart>. */
static int classify(const char *all, char *changed, size_t ccap,
                    char *restart, size_t rcap)
{
    char name[KEY_NAME_MAX];
    int count = 0;
    for (const char *p = all; *p;) {
        const char *comma = strstr(p, ", ");
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        if (restart_only(name))
            add_name(restart, rcap, name);
        else
            add_name(changed, ccap, name);
        count++;
        p += n + (comma ? 2 : 0);
    }
    return count;
}

int reload_merge(const struct conf *old, struct conf *next, char *changed,
                 size_t ccap, char *restart, size_t rcap)
{
    char all[1024] = "";
    char *a = dump_text(old), *b = dump_text(next);
    if (ccap)
        changed[0] = 0;
    if (rcap)
        restart[0] = 0;
    if (a && b) {
        keys_missing(b, a, all, sizeof all);
        keys_missing(a, b, all, sizeof all);
    }
    free(a);
    free(b);
    if (strcmp(old->redis.password, next->redis.password) != 0)
        add_name(all, sizeof all, "[redis] password");
    if (strcmp(old->admin.token, next->admin.token) != 0)
        add_name(all, sizeof all, "[admin] token");
    int count = classify(all, changed, ccap, restart, rcap);
    /* what cannot change live keeps its running value */
    memcpy(next->server.listen, old->server.listen, sizeof next->server.listen);
    next->server.n_listen = old->server.n_listen;
    memcpy(next->tls.listen, old->tls.listen, sizeof next->tls.listen);
    next->tls.n_listen = old->tls.n_listen;
    memcpy(next->admin.listen, old->admin.listen, sizeof next->admin.listen);
    memcpy(&next->redis, &old->redis, sizeof next->redis);
    return count;
}
