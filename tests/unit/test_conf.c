/*
 * test_conf.c - the configuration file: the shipped example parses and
 * says what it documents, every kind of error is reported with its line,
 * every type and bound, the cross-field checks, and secrets never leak.
 *
 * Tests run from the repository root, where conf/smppbridge.conf is.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define EXAMPLE "conf/smppbridge.conf"

/* Big (about 50 KB): kept out of the tests' stack frames. */
static struct conf c;
static struct conf c2;
static char errs[16384];

/* The smallest upstream that passes: every other test adds to it. */
#define UP "[upstream u]\nhost = smsc.example\nsystem_id = id\npassword = pw\n"

static int load(const char *text)
{
    return conf_load_string("t.conf", text, &c, errs, sizeof errs);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* <want> is one of the reported lines, whole. */
static void expect_err(const char *want)
{
    char line[600];
    snprintf(line, sizeof line, "%s\n", want);
    cr_assert(strstr(errs, line) != NULL, "missing error \"%s\" in:\n%s", want,
              errs);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "cannot open %s (run from the repo root)", path);
    static char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* A file in /tmp with <text>, unique per test process. */
static void temp_file(char *path, size_t cap, const char *text)
{
    snprintf(path, cap, "/tmp/test_conf.XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

/* ------------------------------------------------------------------ */
/* The shipped example                                                 */
/* ------------------------------------------------------------------ */

Test(example, parses_with_no_error_and_documented_values)
{
    int n = conf_load(EXAMPLE, &c, errs, sizeof errs);
    cr_assert_eq(n, 0, "%s", errs);
    cr_assert_str_eq(errs, "");
    cr_assert_str_eq(c.path, EXAMPLE);
    cr_assert_eq(c.server.n_listen, 1);
    cr_assert_str_eq(c.server.listen[0], "127.0.0.1:2775");
    cr_assert_str_eq(c.server.system_id, "smppbridge");
    cr_assert_eq(c.server.max_pdu_size, 70000);
    cr_assert_eq(c.tls.n_listen, 0);
    cr_assert_str_eq(c.redis.host, "127.0.0.1");
    cr_assert_eq(c.redis.port, 6379);
    cr_assert_str_eq(c.admin.listen, "127.0.0.1:9775");
    cr_assert_eq(c.n_upstreams, 1);
    const struct conf_upstream *u = &c.upstreams[0];
    cr_assert_str_eq(u->name, "sim");
    cr_assert_str_eq(u->host, "127.0.0.1");
    cr_assert_eq(u->port, 2776);
    cr_assert_str_eq(u->system_id, "smppbridge");
    cr_assert_str_eq(u->password, "simpass");
    cr_assert_eq(u->bind, CONF_BIND_TRX);
    cr_assert_eq(u->tls, 0);
}

/* The example shows the defaults: a value written there that differs from
 * the table would mislead whoever reads one and not the other. */
Test(example, shows_the_defaults)
{
    cr_assert_eq(conf_load(EXAMPLE, &c, errs, sizeof errs), 0, "%s", errs);
    conf_defaults(&c2);
    cr_assert(memcmp(&c.server, &c2.server, sizeof c.server) == 0);
    cr_assert(memcmp(&c.tls, &c2.tls, sizeof c.tls) == 0);
    cr_assert(memcmp(&c.redis, &c2.redis, sizeof c.redis) == 0);
    cr_assert(memcmp(&c.admin, &c2.admin, sizeof c.admin) == 0);
    cr_assert(memcmp(&c.log, &c2.log, sizeof c.log) == 0);
    cr_assert(memcmp(&c.queue, &c2.queue, sizeof c.queue) == 0);
    cr_assert(memcmp(&c.relay, &c2.relay, sizeof c.relay) == 0);
    /* [upstream sim] differs from an upstream's defaults only where the
     * simulator needs it. */
    struct conf_upstream sim = c.upstreams[0];
    cr_assert_eq(conf_load_string("d", "[upstream sim]\nhost = 127.0.0.1\n"
                                       "system_id = smppbridge\n"
                                       "password = simpass\nport = 2776\n",
                                  &c2, errs, sizeof errs),
                 0, "%s", errs);
    cr_assert(memcmp(&sim, &c2.upstreams[0], sizeof sim) == 0);
}

/* A section header line, set ("[x]") or commented out ("# [x]"). */
static int is_header(const char *line)
{
    const char *nl = strchr(line, '\n');
    size_t n = nl ? (size_t)(nl - line) : strlen(line);
    return n > 2 && line[n - 1] == ']' &&
           (line[0] == '[' || strncmp(line, "# [", 3) == 0);
}

/* Lines of <text> from the section header <hdr> (a line of its own, set
 * or commented out) to the next header. */
static char *section_block(char *text, const char *hdr)
{
    char line[96];
    snprintf(line, sizeof line, "\n%s\n", hdr);
    char *s = strstr(text, line);
    if (!s) {
        snprintf(line, sizeof line, "\n# %s\n", hdr);
        s = strstr(text, line);
    }
    cr_assert(s != NULL, "no %s in the example", hdr);
    s++;
    char *end = s + strlen(line) - 1;
    while ((end = strchr(end, '\n')) != NULL) {
        end++;
        if (is_header(end))
            break;
    }
    if (end)
        end[-1] = 0;
    return s;
}

/* The key of a dump line "key = value" or "# key: set (not shown)". */
static int dump_key(const char *line, char *key, size_t cap)
{
    int comment = strncmp(line, "# ", 2) == 0;
    const char *k = line + (comment ? 2 : 0);
    size_t n = strspn(k, "abcdefghijklmnopqrstuvwxyz_");
    if (n == 0 || n >= cap ||
        strncmp(k + n, comment ? ":" : " = ", comment ? 1 : 3) != 0)
        return -1;
    memcpy(key, k, n);
    key[n] = 0;
    return 0;
}

/* Every key the parser knows (as conf_dump lists them) appears in its
 * section of the example, set or commented out. */
Test(example, documents_every_key)
{
    char *dump = NULL;
    size_t dump_len = 0;
    FILE *f = open_memstream(&dump, &dump_len);
    cr_assert(load(UP) == 0, "%s", errs);
    conf_dump(&c, f);
    fclose(f);
    char *text = read_all(EXAMPLE);
    char hdr[80] = "";
    int keys = 0;
    for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n")) {
        char key[64];
        if (line[0] == '[') {
            snprintf(hdr, sizeof hdr, "%s",
                     strcmp(line, "[upstream u]") == 0 ? "[upstream sim]"
                                                       : line);
            continue;
        }
        if (!*hdr || dump_key(line, key, sizeof key) != 0)
            continue;
        char copy[1 << 17];
        snprintf(copy, sizeof copy, "%s", text);
        char *block = section_block(copy, hdr);
        char a[80], b[80];
        snprintf(a, sizeof a, "\n%s = ", key);
        snprintf(b, sizeof b, "\n# %s = ", key);
        cr_assert(strstr(block, a) || strstr(block, b),
                  "%s %s is not in the example", hdr, key);
        keys++;
    }
    cr_assert_geq(keys, 40);
    free(dump);
}

/* "# key = value" lines of the block starting at <hdr> made live. */
static void uncomment_block(char *text, const char *hdr)
{
    char *s = strstr(text, hdr);
    cr_assert(s != NULL);
    s++;
    for (char *line = s; line && *line == '#';) {
        char *nl = strchr(line, '\n');
        size_t k = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz_");
        if (is_header(line) ||
            (line[1] == ' ' && k > 0 && strncmp(line + 2 + k, " = ", 3) == 0))
            line[0] = line[1] = ' ';
        line = nl ? nl + 1 : NULL;
        if (line && *line == '\n')
            line++; /* blank lines inside the block */
    }
}

Test(example, instasent_block_parses_once_uncommented)
{
    char *text = read_all(EXAMPLE);
    uncomment_block(text, "\n# [upstream instasent]\n");
    cr_assert_eq(load(text), 0, "%s", errs);
    cr_assert_eq(c.n_upstreams, 2);
    const struct conf_upstream *u = &c.upstreams[1];
    cr_assert_str_eq(u->name, "instasent");
    cr_assert_str_eq(u->host, "smpp.instasent.com");
    cr_assert_eq(u->port, 2775);
    cr_assert_eq(u->interface_version, 0x34);
    cr_assert_eq(u->tls_verify, 1);
}

/* The [tls] example is right but for the certificate files themselves. */
Test(example, tls_block_parses_once_uncommented)
{
    char *text = read_all(EXAMPLE);
    uncomment_block(text, "\n# [tls]\n");
    cr_assert_eq(load(text), 3, "%s", errs);
    cr_assert_eq(c.tls.n_listen, 1);
    cr_assert_str_eq(c.tls.listen[0], "*:3550");
    cr_assert(strstr(errs, "[tls] cert: cannot read"), "%s", errs);
    cr_assert(strstr(errs, "[tls] key: cannot read"), "%s", errs);
    cr_assert(strstr(errs, "[tls] ca: cannot read"), "%s", errs);
}

/* ------------------------------------------------------------------ */
/* Defaults                                                            */
/* ------------------------------------------------------------------ */

static void check_defaults(const struct conf *d)
{
    cr_assert_eq(d->server.n_listen, 1);
    cr_assert_str_eq(d->server.listen[0], "127.0.0.1:2775");
    cr_assert_str_eq(d->server.system_id, "smppbridge");
    cr_assert_eq(d->server.window, 100);
    cr_assert_eq(d->server.max_binds, 1000);
    cr_assert_eq(d->server.bind_timeout_ms, 10000);
    cr_assert_eq(d->server.idle_timeout_ms, 120000);
    cr_assert_eq(d->server.enquire_link_interval_ms, 30000);
    cr_assert_eq(d->server.max_pdu_size, 70000);
    cr_assert_eq(d->server.auth_fail_limit, 5);
    cr_assert_eq(d->server.auth_fail_window_ms, 60000);
    cr_assert_eq(d->server.auth_block_ms, 300000);
    cr_assert_eq(d->server.bind_fail_detail, 0);
    cr_assert_eq(d->server.bind_fail_delay_ms, 500);
    cr_assert_eq(d->tls.n_listen, 0);
    cr_assert_str_eq(d->tls.cert, "");
    cr_assert_str_eq(d->tls.ca, "");
    cr_assert_str_eq(d->redis.host, "127.0.0.1");
    cr_assert_eq(d->redis.port, 6379);
    cr_assert_eq(d->redis.db, 0);
    cr_assert_str_eq(d->redis.password, "");
    cr_assert_eq(d->redis.timeout_ms, 2000);
    cr_assert_eq(d->redis.id_ttl_s, 72 * 3600);
    cr_assert_eq(d->redis.cdr_maxlen, 1000000);
    cr_assert_str_eq(d->redis.prefix, "sb");
    cr_assert_eq(d->redis.n_sentinels, 0);
    cr_assert_str_eq(d->redis.master_name, "mymaster");
    cr_assert_str_eq(d->redis.sentinel_password, "");
    cr_assert_str_eq(d->admin.listen, "127.0.0.1:9775"); /* on, loopback */
    cr_assert_str_eq(d->admin.token, "");
    cr_assert_eq(d->log.level, LOG_INFO);
    cr_assert_eq(d->log.format, CONF_LOG_TEXT);
    cr_assert_eq(d->queue.batch, 64);
    cr_assert_eq(d->queue.claim_idle_ms, 30000);
    cr_assert_eq(d->queue.retry_min_ms, 1000);
    cr_assert_eq(d->queue.retry_max_ms, 60000);
    cr_assert_eq(d->queue.max_attempts, 10);
    cr_assert_eq(d->queue.resend_unknown, CONF_RESEND_ONCE);
    cr_assert_eq(d->relay.ttl_ms, 72 * 3600000u);
    cr_assert_eq(d->relay.sweep_interval_ms, 60000);
    cr_assert_eq(d->relay.retry_min_ms, 1000);
    cr_assert_eq(d->relay.retry_max_ms, 60000);
}

Test(defaults, conf_defaults_has_every_default_and_no_upstream)
{
    memset(&c, 0x5a, sizeof c);
    conf_defaults(&c);
    check_defaults(&c);
    cr_assert_eq(c.n_upstreams, 0);
}

Test(defaults, absent_keys_take_their_default)
{
    cr_assert_eq(load(UP), 0, "%s", errs);
    check_defaults(&c);
    const struct conf_upstream *u = &c.upstreams[0];
    cr_assert_str_eq(u->name, "u");
    cr_assert_eq(u->port, 2775);
    cr_assert_eq(u->tls, 0);
    cr_assert_str_eq(u->tls_ca, "");
    cr_assert_eq(u->tls_verify, 1);
    cr_assert_str_eq(u->system_type, "");
    cr_assert_eq(u->bind, CONF_BIND_TRX);
    cr_assert_eq(u->interface_version, 0x34);
    cr_assert_eq(u->sessions, 2);
    cr_assert_eq(u->window, 50);
    cr_assert_eq(u->tps, 0);
    cr_assert_eq(u->enquire_link_interval_ms, 30000);
    cr_assert_eq(u->reconnect_min_ms, 1000);
    cr_assert_eq(u->reconnect_max_ms, 60000);
    cr_assert_eq(u->priority, 10);
    cr_assert_eq(u->dlr_id_format, CONF_ID_AUTO);
    cr_assert_eq(u->resp_timeout_ms, 30000);
    cr_assert_eq(u->late_resp_grace_ms, 300000);
    cr_assert_eq(u->late_resp_max, 1024);
    cr_assert_eq(u->glitch_window_ms, 60000);
}

/* What bounds the copies of a message whose outcome is unknown, and how
 * long a late answer is waited for: bad values are refused. */
Test(types, unknown_outcome_keys)
{
    cr_assert_eq(load(UP "late_resp_grace = 90s\nlate_resp_max = 7\n"
                         "glitch_window = 10m\n[queue]\nresend_unknown = never\n"),
                 0, "%s", errs);
    cr_assert_eq(c.upstreams[0].late_resp_grace_ms, 90000);
    cr_assert_eq(c.upstreams[0].late_resp_max, 7);
    cr_assert_eq(c.upstreams[0].glitch_window_ms, 600000);
    cr_assert_eq(c.queue.resend_unknown, CONF_RESEND_NEVER);
    cr_assert_eq(load(UP "late_resp_grace = 2h\nlate_resp_max = 0\n"
                         "[queue]\nresend_unknown = twice\n"),
                 3, "%s", errs);
    expect_err("resend_unknown: 'twice' is not one of once, never");
}

/* ------------------------------------------------------------------ */
/* Errors: all of them, each on its line                               */
/* ------------------------------------------------------------------ */

Test(errors, every_problem_reported_with_its_line)
{
    const char *text =
        "window = 5\n"                           /* 1: before any section */
        "[server]\n"                             /* 2 */
        "window = 0\n"                           /* 3: below min */
        "max_binds = lots\n"                     /* 4: not a number */
        "bind_timeout = 10\n"                    /* 5: no unit */
        "system_id = much_too_long_an_id\n"      /* 6: over 15 */
        "windw = 5\n"                            /* 7: unknown key */
        "just some words\n"                      /* 8: no '=' */
        "[nonsense]\n"                           /* 9: unknown section */
        "whatever = 1\n"                         /* 10: skipped, no error */
        "[log]\n"                                /* 11 */
        "level = loud\n"                         /* 12: bad level */
        "format = xml\n"                         /* 13: bad enum */
        "format = json\n"                        /* 14: set twice */
        "[redis]\n"                              /* 15 */
        "port = 70000\n"                         /* 16: above max */
        "prefix = \"a b\"\n"                     /* 17: validator */
        "host = \"unterminated\n"                /* 18: quote */
        " = 3\n"                                 /* 19: no key */
        UP                                       /* 20-23 */
        "tls = maybe\n";                         /* 24: bad bool */
    int n = load(text);
    expect_err("t.conf:1: window: outside any section");
    expect_err("t.conf:3: window: '0' out of range (1..10000)");
    expect_err("t.conf:4: max_binds: 'lots' is not a whole number");
    expect_err("t.conf:5: bind_timeout: '10' is not a duration: a whole "
               "number and a unit (ms, s, m, h or d), e.g. 30s");
    expect_err("t.conf:6: system_id: 'much_too_long_an_id' too long (max 15)");
    expect_err("t.conf:7: unknown key 'windw' in [server]");
    expect_err("t.conf:8: expected 'key = value' or '[section]'");
    expect_err("t.conf:9: unknown section [nonsense]");
    expect_err("t.conf:12: level: 'loud' is not one of debug, info, warn, "
               "error");
    expect_err("t.conf:13: format: 'xml' is not one of text, logfmt, json");
    expect_err("t.conf:14: format: set twice (first at line 13)");
    expect_err("t.conf:16: port: '70000' out of range (1..65535)");
    expect_err("t.conf:17: prefix: 'a b': use letters, digits, '_', '-', '.'");
    expect_err("t.conf:18: host: unterminated quoted value");
    expect_err("t.conf:19: missing key before '='");
    expect_err("t.conf:24: tls: 'maybe' is not one of yes, no, true, false, "
               "on, off, 1, 0");
    cr_assert_eq(n, 16, "%s", errs);
    cr_assert_eq(count_lines(errs), 16, "%s", errs);
}

Test(errors, unknown_section_keys_are_skipped_and_parsing_goes_on)
{
    int n = load("[servr]\nwindow = 0\nbogus = 1\n[server]\nwindow = 7\n" UP);
    cr_assert_eq(n, 1, "%s", errs);
    expect_err("t.conf:1: unknown section [servr]");
    cr_assert_eq(c.server.window, 7);
}

Test(errors, section_header_mistakes)
{
    int n = load("[server\n"              /* 1 */
                 "[server] junk\n"        /* 2 */
                 "[server extra]\n"       /* 3 */
                 "[log] # comment\n"      /* 4: fine */
                 "[upstream]\n"           /* 5 */
                 "[upstream a/b]\n"       /* 6 */
                 UP);
    expect_err("t.conf:1: section header without ']'");
    expect_err("t.conf:2: unexpected text after ']'");
    expect_err("t.conf:3: section [server] takes no name");
    expect_err("t.conf:5: [upstream] needs a name: [upstream NAME]");
    expect_err("t.conf:6: upstream name: use letters, digits, '_', '-', '.'");
    cr_assert_eq(n, 5, "%s", errs);
    cr_assert_eq(c.n_upstreams, 1);
    cr_assert_str_eq(c.upstreams[0].name, "u");
    char text[256];
    snprintf(text, sizeof text, "[upstream %064d]\nhost = h\n" UP, 0);
    cr_assert_eq(load(text), 1, "%s", errs);
    expect_err("t.conf:1: upstream name too long (max 63)");
}

Test(errors, key_set_twice)
{
    cr_assert_eq(load("[queue]\nbatch = 5\n\nbatch = 6\n" UP), 1);
    expect_err("t.conf:4: batch: set twice (first at line 2)");
    cr_assert_eq(c.queue.batch, 5);
}

Test(errors, sections_may_be_reopened)
{
    cr_assert_eq(load("[queue]\nbatch = 5\n[log]\n[queue]\nmax_attempts = 3\n"
                      UP),
                 0, "%s", errs);
    cr_assert_eq(c.queue.batch, 5);
    cr_assert_eq(c.queue.max_attempts, 3);
}

Test(errors, line_too_long)
{
    static char text[8192];
    snprintf(text, sizeof text, "[server]\nsystem_id = %05000d\n%s", 1, UP);
    cr_assert_eq(load(text), 1, "%s", errs);
    expect_err("t.conf:2: line too long (max 4095 bytes)");
}

Test(errors, small_buffer_truncates_but_counts_everything)
{
    char small[40];
    int n = conf_load_string("t.conf", "[a]\n[b]\n[c]\n" UP, &c, small,
                             sizeof small);
    cr_assert_eq(n, 3);
    cr_assert_lt(strlen(small), sizeof small);
    const char *first = "t.conf:1: unknown section [a]\n";
    cr_assert(strncmp(small, first, strlen(first)) == 0, "%s", small);
    cr_assert_eq(conf_load_string("t.conf", "[a]\n" UP, &c, NULL, 0), 1);
}

Test(errors, missing_file)
{
    cr_assert_eq(conf_load("/nonexistent/smppbridge.conf", &c, errs,
                           sizeof errs),
                 1);
    expect_err("/nonexistent/smppbridge.conf: cannot open: No such file or "
               "directory");
}

Test(errors, binary_file_refused)
{
    char path[64];
    temp_file(path, sizeof path, "[server]\n");
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fputs(UP, f);
    fclose(f);
    cr_assert_eq(conf_load(path, &c, errs, sizeof errs), 1);
    cr_assert(strstr(errs, "contains a NUL byte"), "%s", errs);
    unlink(path);
}

Test(errors, load_from_file_reports_its_path)
{
    char path[64], want[128];
    temp_file(path, sizeof path, "[server]\n\nwindow = 0\n" UP);
    cr_assert_eq(conf_load(path, &c, errs, sizeof errs), 1);
    snprintf(want, sizeof want, "%s:3: window: '0' out of range (1..10000)",
             path);
    expect_err(want);
    unlink(path);
}

/* ------------------------------------------------------------------ */
/* Syntax                                                              */
/* ------------------------------------------------------------------ */

Test(syntax, comments_blank_lines_and_whitespace)
{
    cr_assert_eq(load("# comment\n; another\n\n   \t\n"
                      "  [server]   ; why not\n"
                      "\twindow\t=\t42   # the window\n"
                      "max_binds=7;no space before ';': still a comment? no\n"
                      "\n" UP),
                 1, "%s", errs);
    cr_assert_eq(c.server.window, 42);
    /* ';' right after a value is part of it: here, not a number. */
    cr_assert(strstr(errs, "t.conf:7: max_binds: '7;no space"), "%s", errs);
}

Test(syntax, quoted_values_keep_spaces_hash_and_semicolon)
{
    cr_assert_eq(load(UP "system_type = \"a b # c\"   # comment\n"
                      "[redis]\npassword = \"p#ss; x \"\n"
                      "prefix = \"sb2\"\n"
                      "[admin]\ntoken = \"q\\\"t\\\\\"\n"),
                 0, "%s", errs);
    cr_assert_str_eq(c.upstreams[0].system_type, "a b # c");
    cr_assert_str_eq(c.redis.password, "p#ss; x ");
    cr_assert_str_eq(c.redis.prefix, "sb2");
    cr_assert_str_eq(c.admin.token, "q\"t\\");
}

Test(syntax, bare_values)
{
    /* '#' inside a bare value is kept: a password is not cut short. */
    cr_assert_eq(load("[upstream u]\nhost = h\nsystem_id = id\n"
                      "password = ab#cd ; comment\n"
                      "system_type = two words\n"),
                 0, "%s", errs);
    cr_assert_str_eq(c.upstreams[0].password, "ab#cd");
    cr_assert_str_eq(c.upstreams[0].system_type, "two words");
}

Test(syntax, quote_errors)
{
    cr_assert_eq(load(UP "system_type = \"abc\" def\n"
                      "tls_ca = \"open\n"),
                 2, "%s", errs);
    expect_err("t.conf:5: system_type: unexpected text after the closing "
               "quote");
    expect_err("t.conf:6: tls_ca: unterminated quoted value");
}

Test(syntax, crlf_and_bom)
{
    cr_assert_eq(load("\xEF\xBB\xBF[server]\r\nwindow = 7\r\n"
                      "[upstream u]\r\nhost = h\r\nsystem_id = i\r\n"
                      "password = \"p\"\r\n"),
                 0, "%s", errs);
    cr_assert_eq(c.server.window, 7);
    cr_assert_str_eq(c.upstreams[0].password, "p");
}

/* ------------------------------------------------------------------ */
/* Types and bounds                                                    */
/* ------------------------------------------------------------------ */

static unsigned idle_of(const char *v)
{
    char text[256];
    snprintf(text, sizeof text, "[server]\nidle_timeout = %s\n" UP, v);
    cr_assert_eq(load(text), 0, "%s: %s", v, errs);
    return c.server.idle_timeout_ms;
}

Test(types, durations_in_each_unit)
{
    cr_assert_eq(idle_of("1500ms"), 1500);
    cr_assert_eq(idle_of("45s"), 45000);
    cr_assert_eq(idle_of("2m"), 120000);
    cr_assert_eq(idle_of("3h"), 3 * 3600000u);
    cr_assert_eq(idle_of("1d"), 86400000u);
    cr_assert_eq(idle_of("10 s"), 10000);
    cr_assert_eq(load("[server]\nauth_block = 2d\n[redis]\nid_ttl = 90m\n" UP),
                 0, "%s", errs);
    cr_assert_eq(c.server.auth_block_ms, 2 * 86400000u);
    cr_assert_eq(c.redis.id_ttl_s, 5400);
    cr_assert_eq(load("[redis]\nid_ttl = 3d\n" UP), 0, "%s", errs);
    cr_assert_eq(c.redis.id_ttl_s, 3 * 86400);
}

Test(types, duration_errors)
{
    int n = load("[server]\n"
                 "idle_timeout = 1.5s\n"                  /* 2 */
                 "bind_timeout = 10S\n"                   /* 3 */
                 "auth_block = 0\n"                       /* 4 */
                 "auth_fail_window = 99999999999999999999d\n" /* 5 */
                 "enquire_link_interval = s\n"            /* 6 */
                 "[redis]\n"
                 "id_ttl = 3600500ms\n"                   /* 8 */
                 "timeout = 5ms\n" UP);                   /* 9 */
    cr_assert_eq(n, 7, "%s", errs);
    expect_err("t.conf:2: idle_timeout: '1.5s' is not a duration: a whole "
               "number and a unit (ms, s, m, h or d), e.g. 30s");
    cr_assert(strstr(errs, "t.conf:3: bind_timeout: '10S' is not a duration"),
              "%s", errs);
    expect_err("t.conf:4: auth_block: '0' out of range (1s..7d)");
    expect_err("t.conf:5: auth_fail_window: '99999999999999999999d' out of "
               "range (1s..1d)");
    cr_assert(strstr(errs, "t.conf:6: enquire_link_interval: 's' is not a"),
              "%s", errs);
    expect_err("t.conf:8: id_ttl: '3600500ms' must be whole seconds");
    expect_err("t.conf:9: timeout: '5ms' out of range (10ms..1m)");
}

/* [relay]: every key in the units a test rig and an operator use. */
Test(relay, durations_are_read)
{
    cr_assert_eq(load("[relay]\nttl = 2s\nsweep_interval = 500ms\n"
                      "retry_min = 250ms\nretry_max = 2m\n" UP),
                 0, "%s", errs);
    cr_assert_eq(c.relay.ttl_ms, 2000);
    cr_assert_eq(c.relay.sweep_interval_ms, 500);
    cr_assert_eq(c.relay.retry_min_ms, 250);
    cr_assert_eq(c.relay.retry_max_ms, 120000);
    cr_assert_eq(load("[relay]\nttl = 30d\nsweep_interval = 1h\n"
                      "retry_min = 1h\nretry_max = 24h\n" UP),
                 0, "%s", errs);
    cr_assert_eq(c.relay.ttl_ms, 30 * 86400000u);
    cr_assert_eq(c.relay.sweep_interval_ms, 3600000u);
    cr_assert_eq(c.relay.retry_max_ms, 86400000u);
    /* the other sections keep their defaults */
    cr_assert_eq(c.queue.retry_min_ms, 1000);
    cr_assert_eq(c.redis.id_ttl_s, 72 * 3600);
}

Test(relay, bounds_and_errors)
{
    int n = load("[relay]\n"
                 "ttl = 999ms\n"            /* 2 */
                 "sweep_interval = 99ms\n"  /* 3 */
                 "retry_min = 5ms\n"        /* 4 */
                 "retry_max = 25h\n"        /* 5 */
                 "[relay]\n"
                 "ttl = 31d\n"              /* 7: set twice */
                 "expiry = 1h\n" UP);       /* 8 */
    cr_assert_eq(n, 6, "%s", errs);
    expect_err("t.conf:2: ttl: '999ms' out of range (1s..30d)");
    expect_err("t.conf:3: sweep_interval: '99ms' out of range (100ms..1h)");
    expect_err("t.conf:4: retry_min: '5ms' out of range (10ms..1h)");
    expect_err("t.conf:5: retry_max: '25h' out of range (10ms..1d)");
    expect_err("t.conf:7: ttl: set twice (first at line 2)");
    expect_err("t.conf:8: unknown key 'expiry' in [relay]");
    cr_assert_eq(load("[relay]\nttl = 1.5h\n" UP), 1);
    cr_assert(strstr(errs, "t.conf:2: ttl: '1.5h' is not a duration"), "%s",
              errs);
    cr_assert_eq(load("[relay]\nttl = 0\n" UP), 1);
    cr_assert_eq(load("[relay x]\n" UP), 1);
    expect_err("t.conf:1: section [relay] takes no name");
}

Test(relay, dump_reads_back)
{
    cr_assert_eq(load("[relay]\nttl = 36h\nsweep_interval = 1500ms\n"
                      "retry_min = 2s\nretry_max = 90s\n" UP),
                 0, "%s", errs);
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    conf_dump(&c, f);
    fclose(f);
    cr_assert(strstr(dump, "\n[relay]\nttl = 36h\nsweep_interval = 1500ms\n"
                           "retry_min = 2s\nretry_max = 90s\n"),
              "%s", dump);
    /* the upstream password back where the dump left a comment */
    const char *hidden = "# password: set (not shown)\n";
    const char *hit = strstr(dump, hidden);
    cr_assert(hit != NULL);
    static char back[16384];
    snprintf(back, sizeof back, "%.*spassword = p\n%s", (int)(hit - dump),
             dump, hit + strlen(hidden));
    cr_assert_eq(conf_load_string("t.conf", back, &c2, errs, sizeof errs), 0,
                 "%s\n%s", errs, back);
    cr_assert(memcmp(&c.relay, &c2.relay, sizeof c.relay) == 0, "%s", back);
    free(dump);
}

/* ------------------------------------------------------------------ */
/* Redis Sentinel                                                      */
/* ------------------------------------------------------------------ */

Test(sentinel, list_name_and_password_are_read)
{
    cr_assert_eq(load("[redis]\nsentinels = 10.0.0.1:26379, 10.0.0.2:26379\n"
                      "sentinels = [::1]:26380\nmaster_name = bridge-main\n"
                      "sentinel_password = \"s3nt #1\"\n" UP),
                 0, "%s", errs);
    cr_assert_eq(c.redis.n_sentinels, 3);
    cr_assert_str_eq(c.redis.sentinels[0], "10.0.0.1:26379");
    cr_assert_str_eq(c.redis.sentinels[1], "10.0.0.2:26379");
    cr_assert_str_eq(c.redis.sentinels[2], "[::1]:26380");
    cr_assert_str_eq(c.redis.master_name, "bridge-main");
    cr_assert_str_eq(c.redis.sentinel_password, "s3nt #1");
    /* host and port keep their values: they are simply not used */
    cr_assert_str_eq(c.redis.host, "127.0.0.1");
    cr_assert_eq(load("[redis]\nsentinels = \"\"\n" UP), 0, "%s", errs);
    cr_assert_eq(c.redis.n_sentinels, 0);
}

Test(sentinel, errors)
{
    int n = load("[redis]\n"
                 "sentinels = s1\n"                  /* 2 */
                 "sentinels = s2:26379, s2:26379\n"  /* 3 */
                 "sentinels = s3:70000\n"            /* 4 */
                 "master_name = \"\"\n"              /* 5 */
                 "sentinels = a:1, a:2, a:3, a:4, a:5, a:6, a:7, a:8\n" /* 6 */
                 "sentinel_password = x\nsentinel_password = y\n" /* 8 */
                 UP);
    cr_assert_eq(n, 6, "%s", errs);
    expect_err("t.conf:2: sentinels: bad address 's1': want HOST:PORT");
    expect_err("t.conf:3: sentinels: 's2:26379' given twice");
    expect_err("t.conf:4: sentinels: bad port in 's3:70000'");
    expect_err("t.conf:5: master_name: must not be empty");
    expect_err("t.conf:6: sentinels: more than 8 addresses");
    expect_err("t.conf:8: sentinel_password: set twice (first at line 7)");
}

Test(sentinel, dump_reads_back_without_the_password)
{
    cr_assert_eq(load("[redis]\nsentinels = 127.0.0.1:26379, 127.0.0.2:26379\n"
                      "master_name = m2\nsentinel_password = sentpw\n" UP),
                 0, "%s", errs);
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    conf_dump(&c, f);
    fclose(f);
    cr_assert(strstr(dump, "\nsentinels = 127.0.0.1:26379\n"
                           "sentinels = 127.0.0.2:26379\nmaster_name = m2\n"
                           "# sentinel_password: set (not shown)\n"),
              "%s", dump);
    cr_assert_null(strstr(dump, "sentpw"));
    /* both passwords back where the dump left comments */
    static char back[16384];
    snprintf(back, sizeof back, "%s", dump);
    const char *hidden[] = {"# sentinel_password: set (not shown)\n",
                            "# password: set (not shown)\n"};
    const char *given[] = {"sentinel_password = sentpw\n", "password = p\n"};
    for (int i = 0; i < 2; i++) {
        static char tmp[16384];
        char *hit = strstr(back, hidden[i]);
        cr_assert(hit != NULL, "%s", back);
        snprintf(tmp, sizeof tmp, "%.*s%s%s", (int)(hit - back), back,
                 given[i], hit + strlen(hidden[i]));
        snprintf(back, sizeof back, "%s", tmp);
    }
    cr_assert_eq(conf_load_string("t.conf", back, &c2, errs, sizeof errs), 0,
                 "%s\n%s", errs, back);
    cr_assert(memcmp(&c.redis, &c2.redis, sizeof c.redis) == 0, "%s", back);
    free(dump);
}

Test(types, unsigned_bounds)
{
    cr_assert_eq(load("[server]\nwindow = 1\n" UP), 0);
    cr_assert_eq(c.server.window, 1);
    cr_assert_eq(load("[server]\nwindow = 10000\n" UP), 0);
    cr_assert_eq(c.server.window, 10000);
    cr_assert_eq(load("[server]\nwindow = 10001\n" UP), 1);
    expect_err("t.conf:2: window: '10001' out of range (1..10000)");
    cr_assert_eq(load("[server]\nwindow = -1\n" UP), 1);
    expect_err("t.conf:2: window: '-1' is not a whole number");
    cr_assert_eq(load("[server]\nwindow = +5\n" UP), 1);
    cr_assert_eq(load("[server]\nwindow = 5x\n" UP), 1);
    cr_assert_eq(load("[server]\nwindow = 99999999999999999999999\n" UP), 1);
    expect_err("t.conf:2: window: '99999999999999999999999' out of range "
               "(1..10000)");
    cr_assert_eq(load("[server]\nmax_pdu_size = 1023\n" UP), 1);
    expect_err("t.conf:2: max_pdu_size: '1023' out of range (1024..1048576)");
    cr_assert_eq(load("[server]\nbind_timeout = 50ms\n" UP), 1);
    expect_err("t.conf:2: bind_timeout: '50ms' out of range (100ms..5m)");
    cr_assert_eq(load(UP "tps = 0\nsessions = 65\n"), 1);
    expect_err("t.conf:6: sessions: '65' out of range (1..64)");
}

Test(types, string_lengths)
{
    cr_assert_eq(load("[upstream u]\nhost = h\nsystem_id = 123456789012345\n"
                      "password = 12345678\nsystem_type = 123456789012\n"),
                 0, "%s", errs);
    cr_assert_eq(load("[upstream u]\nhost = h\nsystem_id = 1234567890123456\n"
                      "password = 123456789\nsystem_type = 1234567890123\n"),
                 3, "%s", errs);
    expect_err("t.conf:3: system_id: '1234567890123456' too long (max 15)");
    expect_err("t.conf:4: password: too long (max 8)");
    expect_err("t.conf:5: system_type: '1234567890123' too long (max 12)");
}

Test(types, booleans)
{
    static const char *yes[] = {"yes", "true", "on", "1", "YES", "True"};
    static const char *no[] = {"no", "false", "off", "0", "No", "OFF"};
    char text[256];
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        snprintf(text, sizeof text, UP "tls = %s\ntls_verify = %s\n", yes[i],
                 no[i]);
        cr_assert_eq(load(text), 0, "%s", errs);
        cr_assert_eq(c.upstreams[0].tls, 1, "%s", yes[i]);
        cr_assert_eq(c.upstreams[0].tls_verify, 0, "%s", no[i]);
    }
}

Test(types, interface_version_spellings)
{
    static const struct {
        const char *text;
        unsigned want;
    } v[] = {{"0x34", 0x34}, {"3.4", 0x34}, {"52", 0x34},
             {"0x50", 0x50}, {"5.0", 0x50}, {"80", 0x50}};
    char text[256];
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        snprintf(text, sizeof text, UP "interface_version = %s\n", v[i].text);
        cr_assert_eq(load(text), 0, "%s", errs);
        cr_assert_eq(c.upstreams[0].interface_version, v[i].want, "%s",
                     v[i].text);
    }
    cr_assert_eq(load(UP "interface_version = 3.3\n"), 1);
    expect_err("t.conf:5: interface_version: '3.3' is not one of 0x34, 0x50, "
               "3.4, 5.0, 52, 80");
}

Test(types, enums)
{
    cr_assert_eq(load(UP "bind = tx+rx\ndlr_id_format = hex\n"
                         "[log]\nformat = logfmt\nlevel = debug\n"),
                 0, "%s", errs);
    cr_assert_eq(c.upstreams[0].bind, CONF_BIND_TX_RX);
    cr_assert_eq(c.upstreams[0].dlr_id_format, CONF_ID_HEX);
    cr_assert_eq(c.log.format, CONF_LOG_LOGFMT);
    cr_assert_eq(c.log.level, LOG_DEBUG);
    cr_assert_eq(load(UP "bind = trx\ndlr_id_format = dec\n"
                         "[log]\nformat = json\nlevel = error\n"),
                 0, "%s", errs);
    cr_assert_eq(c.upstreams[0].bind, CONF_BIND_TRX);
    cr_assert_eq(c.upstreams[0].dlr_id_format, CONF_ID_DEC);
    cr_assert_eq(c.log.format, CONF_LOG_JSON);
    cr_assert_eq(c.log.level, LOG_ERROR);
    cr_assert_eq(load(UP "[log]\nlevel = warn\n"), 0);
    cr_assert_eq(c.log.level, LOG_WARN);
    cr_assert_eq(load(UP "bind = tx\ndlr_id_format = oct\n"
                         "[log]\nlevel = off\n"),
                 3, "%s", errs);
    expect_err("t.conf:5: bind: 'tx' is not one of trx, tx+rx");
    expect_err("t.conf:6: dlr_id_format: 'oct' is not one of auto, hex, dec");
    expect_err("t.conf:8: level: 'off' is not one of debug, info, warn, "
               "error");
}

/* ------------------------------------------------------------------ */
/* Address lists                                                       */
/* ------------------------------------------------------------------ */

Test(listen, repeated_and_comma_separated_replace_the_default)
{
    cr_assert_eq(load("[server]\nlisten = 10.0.0.1:2775\n"
                      "listen = [::1]:2775 ,  *:2776\n" UP),
                 0, "%s", errs);
    cr_assert_eq(c.server.n_listen, 3);
    cr_assert_str_eq(c.server.listen[0], "10.0.0.1:2775");
    cr_assert_str_eq(c.server.listen[1], "[::1]:2775");
    cr_assert_str_eq(c.server.listen[2], "*:2776");
}

Test(listen, errors)
{
    int n = load("[server]\n"
                 "listen = nohost\n"                      /* 2 */
                 "listen = 1.2.3.4:99999\n"               /* 3 */
                 "listen = a:1,,b:2\n"                    /* 4 */
                 "listen = c:1, c:1\n"                    /* 5 */
                 "listen = [::1:5\n" UP);                 /* 6 */
    cr_assert_eq(n, 5, "%s", errs);
    expect_err("t.conf:2: listen: bad address 'nohost': want HOST:PORT");
    expect_err("t.conf:3: listen: bad port in '1.2.3.4:99999'");
    expect_err("t.conf:4: listen: empty address in the list");
    expect_err("t.conf:5: listen: 'c:1' given twice");
    expect_err("t.conf:6: listen: bad address '[::1:5': want [V6]:PORT");
}

Test(listen, at_most_eight)
{
    cr_assert_eq(load("[server]\nlisten = a:1, a:2, a:3, a:4\n"
                      "listen = a:5, a:6, a:7, a:8\nlisten = a:9\n" UP),
                 1, "%s", errs);
    expect_err("t.conf:4: listen: more than 8 addresses");
    cr_assert_eq(c.server.n_listen, 8);
}

Test(listen, empty_turns_plain_off_and_tls_alone_is_enough)
{
    char crt[64], key[64], text[512];
    temp_file(crt, sizeof crt, "cert");
    temp_file(key, sizeof key, "key");
    snprintf(text, sizeof text,
             "[server]\nlisten = \"\"\n[tls]\nlisten = *:3550\ncert = %s\n"
             "key = %s\n" UP,
             crt, key);
    cr_assert_eq(load(text), 0, "%s", errs);
    cr_assert_eq(c.server.n_listen, 0);
    cr_assert_eq(c.tls.n_listen, 1);
    cr_assert_str_eq(c.tls.cert, crt);
    unlink(crt);
    unlink(key);
}

/* ------------------------------------------------------------------ */
/* Upstreams                                                           */
/* ------------------------------------------------------------------ */

Test(upstream, duplicate_name)
{
    int n = load("[upstream a]\nhost = h\nsystem_id = i\npassword = p\n"
                 "\n"
                 "[upstream a]\n"        /* 6 */
                 "window = 0\n");        /* 7: still checked */
    cr_assert_eq(n, 2, "%s", errs);
    expect_err("t.conf:6: duplicate upstream 'a' (first at line 1)");
    expect_err("t.conf:7: window: '0' out of range (1..10000)");
    cr_assert_eq(c.n_upstreams, 1);
    cr_assert_eq(c.upstreams[0].window, 50);
}

Test(upstream, several_kept_in_order)
{
    cr_assert_eq(load("[upstream one]\nhost = h1\nsystem_id = i\npassword = p\n"
                      "[upstream two]\nhost = h2\nsystem_id = i\npassword = p\n"
                      "priority = 20\n"),
                 0, "%s", errs);
    cr_assert_eq(c.n_upstreams, 2);
    cr_assert_str_eq(c.upstreams[0].name, "one");
    cr_assert_str_eq(c.upstreams[1].host, "h2");
    cr_assert_eq(c.upstreams[1].priority, 20);
    cr_assert_eq(c.upstreams[0].priority, 10);
}

Test(upstream, at_most_sixteen)
{
    static char text[8192];
    size_t used = 0;
    for (int i = 0; i < 17; i++)
        used += (size_t)snprintf(text + used, sizeof text - used,
                                 "[upstream u%d]\nhost = h\nsystem_id = i\n"
                                 "password = p\n",
                                 i);
    cr_assert_eq(load(text), 1, "%s", errs);
    expect_err("t.conf:65: too many upstreams (max 16)");
    cr_assert_eq(c.n_upstreams, 16);
}

Test(upstream, required_keys)
{
    int n = load("[upstream a]\n"     /* 1 */
                 "port = 2776\n"
                 "[upstream b]\n"     /* 3 */
                 "host = \"\"\n"      /* 4 */
                 "system_id = x\n"
                 "password = y\n");
    cr_assert_eq(n, 4, "%s", errs);
    expect_err("t.conf:1: [upstream a] missing required key 'host'");
    expect_err("t.conf:1: [upstream a] missing required key 'system_id'");
    expect_err("t.conf:1: [upstream a] missing required key 'password'");
    expect_err("t.conf:4: host: must not be empty");
}

Test(upstream, none_at_all)
{
    cr_assert_eq(load("[server]\n"), 1);
    expect_err("t.conf: no [upstream NAME] section: submits would have "
               "nowhere to go");
}

/* ------------------------------------------------------------------ */
/* Cross-field checks                                                  */
/* ------------------------------------------------------------------ */

Test(cross, backoff_bounds_in_order)
{
    int n = load("[queue]\n"
                 "retry_max = 500ms\n"   /* 2 */
                 "retry_min = 2s\n"      /* 3: the later of the two */
                 UP                      /* 4-7 */
                 "reconnect_min = 2m\n"  /* 8 */
                 "reconnect_max = 1m\n"); /* 9 */
    cr_assert_eq(n, 2, "%s", errs);
    expect_err("t.conf:3: retry_min (2s) is greater than retry_max (500ms)");
    expect_err("t.conf:9: [upstream u] reconnect_min (2m) is greater than "
               "reconnect_max (1m)");
    cr_assert_eq(load("[queue]\nretry_min = 5s\nretry_max = 5s\n" UP), 0);
}

Test(cross, relay_backoff_bounds_in_order)
{
    int n = load("[relay]\n"
                 "retry_min = 2m\n"      /* 2 */
                 "retry_max = 90s\n" UP); /* 3: the later of the two */
    cr_assert_eq(n, 1, "%s", errs);
    expect_err("t.conf:3: [relay] retry_min (2m) is greater than retry_max "
               "(90s)");
    cr_assert_eq(load("[relay]\nretry_min = 5s\nretry_max = 5s\n" UP), 0);
    /* the [queue] pair is checked apart: no mix-up between the two */
    cr_assert_eq(load("[queue]\nretry_min = 10m\nretry_max = 20m\n"
                      "[relay]\nretry_min = 1s\nretry_max = 5s\n" UP),
                 0, "%s", errs);
}

Test(cross, no_listener)
{
    cr_assert_eq(load("[server]\n\nlisten = \"\"\n" UP), 1);
    expect_err("t.conf:3: no listener: set [server] listen or [tls] listen");
}

Test(cross, tls_listen_needs_cert_and_key)
{
    cr_assert_eq(load("[tls]\n\nlisten = *:3550\n" UP), 2, "%s", errs);
    expect_err("t.conf:3: [tls] listen needs cert (PEM certificate chain)");
    expect_err("t.conf:3: [tls] listen needs key (PEM private key)");
}

Test(cross, tls_files_must_be_readable)
{
    char crt[64], text[512];
    temp_file(crt, sizeof crt, "cert");
    snprintf(text, sizeof text,
             "[tls]\nlisten = *:3550\ncert = %s\nkey = /nonexistent/k.pem\n"
             "ca = /nonexistent/ca.pem\n" UP,
             crt);
    cr_assert_eq(load(text), 2, "%s", errs);
    expect_err("t.conf:4: [tls] key: cannot read '/nonexistent/k.pem': No "
               "such file or directory");
    expect_err("t.conf:5: [tls] ca: cannot read '/nonexistent/ca.pem': No "
               "such file or directory");
    unlink(crt);
    /* Without a TLS listener the files are not needed. */
    cr_assert_eq(load("[tls]\ncert = /nonexistent/c.pem\n" UP), 0, "%s", errs);
}

Test(cross, tls_and_plain_on_the_same_address)
{
    char crt[64], text[512];
    temp_file(crt, sizeof crt, "pem");
    snprintf(text, sizeof text,
             "[tls]\nlisten = 127.0.0.1:2775\ncert = %s\nkey = %s\n" UP, crt,
             crt);
    cr_assert_eq(load(text), 1, "%s", errs);
    expect_err("t.conf:2: [tls] listen 127.0.0.1:2775 is also a [server] "
               "listen");
    unlink(crt);
}

Test(cross, upstream_tls_ca_readable)
{
    cr_assert_eq(load(UP "tls = yes\ntls_ca = /nonexistent/ca.pem\n"), 1);
    expect_err("t.conf:6: tls_ca: cannot read '/nonexistent/ca.pem': No such "
               "file or directory");
    cr_assert_eq(load(UP "tls = no\ntls_ca = /nonexistent/ca.pem\n"), 0);
}

Test(cross, admin_off_loopback_or_token)
{
    /* on by default on loopback; "" turns it off */
    cr_assert_eq(load("[admin]\nlisten = \"\"\n" UP), 0, "%s", errs);
    cr_assert_str_eq(c.admin.listen, "");
    cr_assert_eq(load("[admin]\nlisten = 127.0.0.1:8080\n" UP), 0, "%s", errs);
    cr_assert_eq(load("[admin]\nlisten = [::1]:8080\n" UP), 0, "%s", errs);
    cr_assert_eq(load("[admin]\nlisten = localhost:8080\n" UP), 0, "%s", errs);
    cr_assert_eq(load("[admin]\nlisten = 0.0.0.0:8080\n" UP), 1);
    expect_err("t.conf:2: [admin] listen 0.0.0.0:8080 is not loopback: set "
               "token, or listen on 127.0.0.1");
    cr_assert_eq(load("[admin]\nlisten = *:8080\n" UP), 1);
    cr_assert_eq(load("[admin]\nlisten = *:8080\ntoken = s3cret\n" UP), 0);
    cr_assert_eq(load("[admin]\nlisten = nope\n" UP), 1);
    expect_err("t.conf:2: listen: bad address 'nope': want HOST:PORT");
    /* loopback is an address, not a prefix of a name */
    cr_assert_eq(load("[admin]\nlisten = 127.evil.example:8080\n" UP), 1);
    cr_assert_eq(load("[admin]\nlisten = 127.0.0.2:8080\n" UP), 0, "%s", errs);
    cr_assert_eq(load("[admin]\nlisten = [::ffff:127.0.0.1]:8080\n" UP), 0,
                 "%s", errs);
    cr_assert_eq(load("[admin]\nlisten = [::ffff:10.0.0.1]:8080\n" UP), 1);
}

Test(cross, redis_prefix_and_host)
{
    cr_assert_eq(load("[redis]\nprefix = \"\"\nhost = \"\"\n" UP), 2);
    expect_err("t.conf:2: prefix: must not be empty");
    expect_err("t.conf:3: host: must not be empty");
    cr_assert_eq(load("[redis]\nprefix = a{b}\n" UP), 1);
}

/* ------------------------------------------------------------------ */
/* Secrets                                                             */
/* ------------------------------------------------------------------ */

Test(secrets, passwords_never_in_error_text)
{
    static char text[1024];
    snprintf(text, sizeof text,
             "[redis]\npassword = %0300d\n"              /* 2: too long */
             "[admin]\ntoken = \"TOKENSECRET\n"          /* 4: unterminated */
             "[upstream u]\nhost = h\nsystem_id = i\n"
             "password = supersecret123\n"                /* 8: too long */
             "password = othersecret\n"                   /* 9: twice */
             "[upstream v]\nhost = h\nsystem_id = i\n"
             "password = \"quotedsecret\" trailing\n",    /* 13 */
             7);
    int n = load(text);
    cr_assert_eq(n, 5, "%s", errs);
    expect_err("t.conf:2: password: too long (max 255)");
    expect_err("t.conf:4: token: unterminated quoted value");
    expect_err("t.conf:8: password: too long (max 8)");
    expect_err("t.conf:9: password: set twice (first at line 8)");
    expect_err("t.conf:13: password: unexpected text after the closing quote");
    cr_assert_null(strstr(errs, "secret"), "%s", errs);
    cr_assert_null(strstr(errs, "SECRET"), "%s", errs);
    cr_assert_null(strstr(errs, "0000007"), "%s", errs);
}

Test(secrets, never_in_the_dump)
{
    cr_assert_eq(load(UP "[redis]\npassword = redispw\n"
                         "[admin]\ntoken = admintok\n"),
                 0, "%s", errs);
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    conf_dump(&c, f);
    fclose(f);
    cr_assert_null(strstr(dump, "redispw"));
    cr_assert_null(strstr(dump, "admintok"));
    cr_assert_null(strstr(dump, "password = pw"));
    cr_assert(strstr(dump, "# password: set (not shown)\n"), "%s", dump);
    cr_assert(strstr(dump, "# token: set (not shown)\n"), "%s", dump);
    free(dump);
}

/* ------------------------------------------------------------------ */
/* The effective configuration                                         */
/* ------------------------------------------------------------------ */

/* What conf_dump writes reads back to the same struct (secrets excepted:
 * they are put back by hand, as an operator would). */
Test(dump, reads_back_to_the_same_configuration)
{
    const char *text =
        "[server]\nlisten = 10.1.1.1:2775, [::1]:2775\nwindow = 7\n"
        "bind_timeout = 1500ms\nauth_block = 2d\n"
        "[redis]\nid_ttl = 36h\nprefix = x.y\ndb = 3\n"
        "[admin]\nlisten = 127.0.0.1:8080\n"
        "[log]\nlevel = warn\nformat = json\n"
        "[queue]\nretry_min = 250ms\n"
        "[upstream a]\nhost = h\nsystem_id = i\npassword = p\n"
        "system_type = \"a\\\"b # c\"\nbind = tx+rx\n"
        "interface_version = 5.0\ndlr_id_format = dec\ntls = on\n"
        "[upstream b]\nhost = h2\nsystem_id = j\npassword = p\n";
    cr_assert_eq(load(text), 0, "%s", errs);
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    conf_dump(&c, f);
    fclose(f);
    /* Put the upstream passwords back where the dump left a comment. */
    static char back[16384];
    size_t used = 0;
    for (char *s = dump; *s;) {
        char *hit = strstr(s, "# password: set (not shown)\n");
        size_t n = hit ? (size_t)(hit - s) : strlen(s);
        used += (size_t)snprintf(back + used, sizeof back - used, "%.*s%s",
                                 (int)n, s, hit ? "password = p\n" : "");
        s += n + (hit ? strlen("# password: set (not shown)\n") : 0);
    }
    int n = conf_load_string("t.conf", back, &c2, errs, sizeof errs);
    cr_assert_eq(n, 0, "%s\n%s", errs, back);
    cr_assert(memcmp(&c, &c2, sizeof c) == 0, "%s", back);
    cr_assert(strstr(dump, "id_ttl = 36h\n"), "%s", dump);
    cr_assert(strstr(dump, "auth_block = 2d\n"), "%s", dump);
    cr_assert(strstr(dump, "interface_version = 0x50\n"), "%s", dump);
    cr_assert(strstr(dump, "[upstream b]\n"), "%s", dump);
    free(dump);
}

/* Redis ACL users: AUTH username password needs both. */
Test(redis_auth, username_needs_password)
{
    cr_assert_eq(load("[redis]\nusername = bridge\npassword = pw\n" UP), 0,
                 "%s", errs);
    cr_assert_str_eq(c.redis.username, "bridge");
    cr_assert_neq(load("[redis]\nusername = bridge\n" UP), 0);
    cr_assert(strstr(errs, "username is set without password"), "%s", errs);
    cr_assert_neq(load("[redis]\nsentinel_username = s\n" UP), 0);
    cr_assert(strstr(errs, "sentinel_username is set without sentinel_password"),
              "%s", errs);
    cr_assert_eq(load("[redis]\n" UP), 0, "%s", errs);
    cr_assert_str_eq(c.redis.username, "");
}
