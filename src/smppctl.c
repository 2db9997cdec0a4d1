/*
 * smppctl.c - the operator's command line: accounts in Redis.
 *
 *   smppctl [-c FILE] account add ID --password-stdin [OPTIONS]
 *   smppctl [-c FILE] account set ID [OPTIONS] [--password-stdin]
 *   smppctl [-c FILE] account show ID | list [--long] | del ID
 *
 * Redis comes from the config's [redis] section; the layout is documented
 * in account.h. Every change is one WATCH + MULTI/EXEC holding the writes
 * and the PUBLISH of "account <id>" on <prefix>:events, so the change and
 * its notification happen together or not at all, and two operators
 * changing one account at once cannot lose each other's change (EXEC
 * fails, we read again and retry a few times).
 *
 * Exit status: 0 done, 1 operational error (Redis unreachable or failing,
 * stored data malformed), 2 usage error (bad option, bad value, bad
 * config), 3 the account does not exist (or, for add, already exists).
 *
 * The password is read from standard input (first line), never from argv,
 * and never printed; only its scrypt hash is stored.
 */
#include "common.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <netdb.h>
#include <sys/socket.h>
#include <openssl/crypto.h>

#include "account.h"
#include "admin.h"
#include "store_keys.h"
#include "route.h"
#include "auth.h"
#include "conf.h"
#include "net.h"

#define EXIT_OPERR 1
#define EXIT_USAGE 2
#define EXIT_NOTFOUND 3

#define DEFAULT_CONF "/etc/smppbridge/smppbridge.conf"
/* SMPP 3.4 5.2.2: password is a C-Octet string of 9 octets with the NUL. */
#define SMPP_PASSWORD_MAX 8
#define WATCH_RETRIES 5
#define ADMIN_DEFAULT "127.0.0.1:9775"

static const char usage_text[] =
    "usage: smppctl [-c FILE] COMMAND ...\n"
    "\n"
    "  -c, --config FILE   configuration ([redis] section used);\n"
    "                      default " DEFAULT_CONF "\n"
    "  -h, --help          this text\n"
    "\n"
    "commands:\n"
    "  account add ID --password-stdin [OPTIONS]\n"
    "                      create an account; fails if ID exists\n"
    "  account set ID [OPTIONS] [--enabled yes|no] [--password-stdin]\n"
    "                      change an existing account\n"
    "  account show ID     the account as JSON (never the password hash)\n"
    "  account list        every account id, one a line, sorted\n"
    "  account list --long every account as JSON (as show), one a line,\n"
    "                      sorted by id\n"
    "  account del ID      delete an account\n"
    "  number add PREFIX ACCOUNT\n"
    "                      route inbound messages for numbers starting\n"
    "                      with PREFIX (digits, optional '+') to ACCOUNT;\n"
    "                      the longest matching prefix wins\n"
    "  number del PREFIX   remove a route\n"
    "  number list         every route, \"PREFIX ACCOUNT\", sorted\n"
    "  sessions [--account ID]\n"
    "                      customer binds on a running bridge: id, account,\n"
    "                      bind type, peer, since, counters\n"
    "  kick ID | kick --account ID\n"
    "                      send unbind to one bind (ID from sessions) or to\n"
    "                      every bind of an account on that bridge\n"
    "  auth blocks         addresses and system_id@address pairs with failed\n"
    "                      binds counted on a running bridge: blocked or\n"
    "                      still counting, failures, seconds left\n"
    "  auth unblock ADDRESS|SYSTEM_ID|SYSTEM_ID@ADDRESS\n"
    "                      forget those failures: an address (and every\n"
    "                      system_id at it), a system_id (at every address)\n"
    "      sessions, kick and auth ask the bridge's admin server ([admin] listen):\n"
    "      --admin HOST:PORT (default " ADMIN_DEFAULT "), --token TOKEN\n"
    "      (default: $SMPPBRIDGE_ADMIN_TOKEN)\n"
    "\n"
    "options of add and set:\n"
    "  --password-stdin    read the password from the first line of\n"
    "                      standard input (prompted without echo on a\n"
    "                      terminal); 1 to 8 characters (SMPP's limit)\n"
    "  --tps N             submits per second, 0 = unlimited (max 100000)\n"
    "  --daily-quota N     submits per UTC day across all bridges, each\n"
    "                      part of a long message counting; beyond it\n"
    "                      ESME_RTHROTTLED until 00:00 UTC; 0 = none\n"
    "                      (max 100000000)\n"
    "  --max-binds N       binds at once, 0 = unlimited (max 10000)\n"
    "                      (a new account gets --tps 100 --max-binds 10\n"
    "                      unless told otherwise)\n"
    "  --queue-max-messages N\n"
    "                      messages it may have queued for upstream at\n"
    "                      once; beyond it ESME_RMSGQFUL; 0 = the bridge's\n"
    "                      [queue] account_max_messages (max 100000000)\n"
    "  --queue-max-bytes N bytes those may take in Redis; 0 = [queue]\n"
    "                      account_max_bytes (max 4000000000)\n"
    "  --allow CIDR,...    source addresses allowed, IPv4 or IPv6 blocks;\n"
    "                      \"\" = any address\n"
    "  --id-format hex|dec message ids this customer receives\n"
    "  --enabled yes|no    a disabled account cannot bind\n"
    "\n"
    "ID is the SMPP system_id: 1 to 15 printable characters, no spaces,\n"
    "'{', '}' or ':'.\n"
    "\n"
    "Running bridges are told of every change on <prefix>:events.\n"
    "exit status: 0 ok, 1 operational error (e.g. Redis unreachable),\n"
    "2 usage or config error, 3 account not found / already exists.\n";

struct acct_opts {
    int password;                 /* --password-stdin */
    int has_tps, has_binds, has_allow, has_format, has_enabled, has_quota;
    int has_qmsgs, has_qbytes;
    unsigned tps, max_binds, daily_quota, queue_msgs, queue_bytes;
    char allow[ACCOUNT_ALLOW_MAX];
    enum account_id_format format;
    int enabled;
};

struct ctl {
    struct conf conf;
    redisContext *rc;
    char where[CONF_STR + 16];    /* "host:port" for messages */
    struct store_keys keys;       /* under [redis] prefix (set_names) */
    char key[STORE_KEY_LEN];      /* the account's */
    char event[32];               /* "account <id>" */
};

static struct ctl ctl;

static int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("smppctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'smppctl --help'.\n", stderr);
    return EXIT_USAGE;
}

/* <s> with anything but printable ASCII replaced by '?', for messages. */
static const char *printable(const char *s, char *buf, size_t cap)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < cap && i < 40; i++)
        buf[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */
/* ------------------------------------------------------------------ */

static int parse_count(const char *opt, const char *v, unsigned max,
                       unsigned *out)
{
    size_t n = strlen(v);
    unsigned long x = 0;
    if (n == 0 || n > 10 || strspn(v, "0123456789") != n) {
        char tmp[48];
        return usage_error("%s wants a whole number, not '%s'", opt,
                           printable(v, tmp, sizeof tmp));
    }
    x = strtoul(v, NULL, 10);
    if (x > max)
        return usage_error("%s %lu is more than the maximum %u", opt, x, max);
    *out = (unsigned)x;
    return 0;
}

/* One option of add/set with its value <v>; 0 or an exit status. */
static int parse_opt_value(const char *opt, const char *v,
                           struct acct_opts *o)
{
    char err[AUTH_ERR_LEN];
    if (strcmp(opt, "--tps") == 0) {
        o->has_tps = 1;
        return parse_count(opt, v, ACCOUNT_TPS_MAX, &o->tps);
    }
    if (strcmp(opt, "--queue-max-messages") == 0) {
        o->has_qmsgs = 1;
        return parse_count(opt, v, ACCOUNT_QUEUE_MSGS_MAX, &o->queue_msgs);
    }
    if (strcmp(opt, "--queue-max-bytes") == 0) {
        o->has_qbytes = 1;
        return parse_count(opt, v, ACCOUNT_QUEUE_BYTES_MAX, &o->queue_bytes);
    }
    if (strcmp(opt, "--daily-quota") == 0) {
        o->has_quota = 1;
        return parse_count(opt, v, ACCOUNT_QUOTA_MAX, &o->daily_quota);
    }
    if (strcmp(opt, "--max-binds") == 0) {
        o->has_binds = 1;
        return parse_count(opt, v, ACCOUNT_BINDS_MAX, &o->max_binds);
    }
    if (strcmp(opt, "--allow") == 0) {
        if (strlen(v) >= sizeof o->allow)
            return usage_error("--allow: list longer than %zu characters",
                               sizeof o->allow - 1);
        if (!auth_cidr_list_valid(v, err, sizeof err))
            return usage_error("--allow: %s", err);
        o->has_allow = 1;
        snprintf(o->allow, sizeof o->allow, "%s", v);
        return 0;
    }
    if (strcmp(opt, "--id-format") == 0) {
        o->has_format = 1;
        if (account_id_format_parse(v, &o->format) < 0)
            return usage_error("--id-format wants hex or dec");
        return 0;
    }
    if (strcmp(opt, "--enabled") == 0) {
        o->has_enabled = 1;
        o->enabled = strcmp(v, "yes") == 0;
        if (!o->enabled && strcmp(v, "no") != 0)
            return usage_error("--enabled wants yes or no");
        return 0;
    }
    return usage_error("unknown option '%s'", opt);
}

/* The options after "account add|set ID"; "--opt=value" or "--opt value". */
static int parse_acct_opts(int argc, char **argv, struct acct_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--password-stdin") == 0) {
            o->password = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            char tmp[48];
            return usage_error("unexpected argument '%s'",
                               printable(a, tmp, sizeof tmp));
        }
        char opt[32];
        const char *eq = strchr(a, '=');
        const char *v;
        if (eq != NULL) {
            snprintf(opt, sizeof opt, "%.*s", (int)(eq - a), a);
            v = eq + 1;
        } else {
            snprintf(opt, sizeof opt, "%s", a);
            if (i + 1 >= argc)
                return usage_error("%s needs a value", opt);
            v = argv[++i];
        }
        int rc = parse_opt_value(opt, v, o);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Password                                                            */
/* ------------------------------------------------------------------ */

/* The terminal's settings while echo is off, restored on SIGINT/SIGTERM
 * too, so an interrupted prompt does not leave the terminal silent. */
static struct termios saved_tty;

static void restore_tty(int sig)
{
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    _exit(128 + sig);
}

/*
 * The first line of standard input into <pw> (<cap> bytes), without its
 * line end; prompted with echo off when stdin is a terminal. 0, or an
 * exit status after a message (which never contains the password).
 */
static int read_password(char *pw, size_t cap, size_t *len)
{
    struct termios old, quiet;
    struct sigaction sa, old_int, old_term;
    int tty = isatty(STDIN_FILENO) &&
              tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        saved_tty = old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = restore_tty;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        /* echo off before the prompt, so nothing typed after it shows */
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fputs("Password: ", stderr);
        fflush(stderr);
    }
    size_t n = 0;
    int c, too_long = 0, bad = 0, any = 0;
    while ((c = getchar()) != EOF && c != '\n') {
        any = 1;
        if (n + 1 >= cap) {
            too_long = 1;
            continue;
        }
        bad |= c == '\0';
        pw[n++] = (char)c;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        fputc('\n', stderr);
    }
    if (n > 0 && pw[n - 1] == '\r')
        n--;
    pw[n] = '\0';
    *len = n;
    if (!any && c == EOF)
        return usage_error("--password-stdin: nothing on standard input");
    if (n == 0)
        return usage_error("--password-stdin: the password is empty");
    if (bad)
        return usage_error("--password-stdin: the password contains a NUL");
    if (too_long || n > SMPP_PASSWORD_MAX)
        return usage_error("--password-stdin: longer than %d characters, "
                           "which no SMPP bind can carry",
                           SMPP_PASSWORD_MAX);
    return 0;
}

/* Read and hash the password into <a>; 0 or an exit status. */
static int set_password(struct account *a)
{
    char pw[64];
    size_t len = 0;
    int rc = read_password(pw, sizeof pw, &len);
    if (rc == 0 && auth_hash_password(pw, len, a->password_hash,
                                      sizeof a->password_hash) < 0) {
        fprintf(stderr, "smppctl: hashing the password failed\n");
        rc = EXIT_OPERR;
    }
    OPENSSL_cleanse(pw, sizeof pw);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Redis                                                               */
/* ------------------------------------------------------------------ */

static int redis_fail(const char *what, const char *detail)
{
    fprintf(stderr, "smppctl: Redis at %s: %s%s%s\n", ctl.where, what,
            detail ? ": " : "", detail ? detail : "");
    return EXIT_OPERR;
}

static int redis_connect(void)
{
    const struct conf_redis *r = &ctl.conf.redis;
    struct timeval tv = {(time_t)(r->timeout_ms / 1000),
                         (suseconds_t)(r->timeout_ms % 1000) * 1000};
    if (r->host[0] == '/') {
        snprintf(ctl.where, sizeof ctl.where, "%s", r->host);
        ctl.rc = redisConnectUnixWithTimeout(r->host, tv);
    } else {
        snprintf(ctl.where, sizeof ctl.where,
                 strchr(r->host, ':') ? "[%s]:%u" : "%s:%u", r->host, r->port);
        ctl.rc = redisConnectWithTimeout(r->host, (int)r->port, tv);
    }
    if (ctl.rc == NULL || ctl.rc->err) {
        fprintf(stderr, "smppctl: cannot connect to Redis at %s: %s\n",
                ctl.where, ctl.rc ? ctl.rc->errstr : "out of memory");
        return EXIT_OPERR;
    }
    if (redisSetTimeout(ctl.rc, tv) != REDIS_OK)
        return redis_fail("cannot set the timeout", ctl.rc->errstr);
    redisReply *rep = NULL;
    if (r->password[0] != '\0') {
        /* AUTH user pass for a Redis ACL user, AUTH pass otherwise */
        const char *argv[] = {"AUTH", r->username[0] ? r->username : r->password,
                              r->password};
        rep = redisCommandArgv(ctl.rc, r->username[0] ? 3 : 2, argv, NULL);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            int rc = redis_fail("AUTH refused",
                                rep ? rep->str : ctl.rc->errstr);
            freeReplyObject(rep);
            return rc;
        }
        freeReplyObject(rep);
    }
    if (r->db != 0) {
        rep = redisCommand(ctl.rc, "SELECT %u", r->db);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            int rc = redis_fail("SELECT failed",
                                rep ? rep->str : ctl.rc->errstr);
            freeReplyObject(rep);
            return rc;
        }
        freeReplyObject(rep);
    }
    return 0;
}

/* Run one command; NULL after a message when it failed or Redis
 * answered an error. */
static redisReply *cmd(int argc, const char **argv, const size_t *lens)
{
    redisReply *rep = redisCommandArgv(ctl.rc, argc, argv, lens);
    if (rep == NULL) {
        redis_fail(argv[0], ctl.rc->errstr[0] ? ctl.rc->errstr : "no reply");
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        redis_fail(argv[0], rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* A command whose reply is not needed beyond success; 0 or -1. */
static int cmd_ok(int argc, const char **argv)
{
    redisReply *rep = cmd(argc, argv, NULL);
    freeReplyObject(rep);
    return rep ? 0 : -1;
}

/* An integer command (EXISTS, SISMEMBER); -1 on failure. */
static long long cmd_int(int argc, const char **argv)
{
    redisReply *rep = cmd(argc, argv, NULL);
    long long v = -1;
    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    else if (rep != NULL)
        redis_fail(argv[0], "unexpected reply type");
    freeReplyObject(rep);
    return v;
}

static void unwatch(void)
{
    const char *argv[] = {"UNWATCH"};
    redisReply *rep = redisCommandArgv(ctl.rc, 1, argv, NULL);
    freeReplyObject(rep);
}

/*
 * MULTI, then HSET of <a>'s fields and SADD (or DEL and SREM when <a> is
 * NULL), PUBLISH, EXEC. 1 done, 0 when EXEC was aborted by the WATCH
 * (someone changed the key: retry), -1 on error after a message.
 */
static int commit(const struct account *a, const char *id)
{
    struct account_fields f;
    const char *argv[2 + 2 * ACCOUNT_NFIELDS];
    size_t lens[2 + 2 * ACCOUNT_NFIELDS];
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *set[] = {a ? "SADD" : "SREM", ctl.keys.accounts, id};
    const char *pub[] = {"PUBLISH", ctl.keys.events, ctl.event};
    const char *del[] = {"DEL", ctl.key};
    int argc = 0;
    if (a != NULL) {
        account_to_fields(a, &f);
        argv[argc] = "HSET", lens[argc++] = 4;
        argv[argc] = ctl.key, lens[argc++] = strlen(ctl.key);
        for (size_t i = 0; i < f.n; i++) {
            argv[argc] = f.name[i], lens[argc++] = strlen(f.name[i]);
            argv[argc] = f.value[i], lens[argc++] = f.len[i];
        }
    }
    if (cmd_ok(1, multi) < 0)
        return -1;
    redisReply *rep = a ? cmd(argc, argv, lens) : cmd(2, del, NULL);
    freeReplyObject(rep);
    if (rep == NULL || cmd_ok(3, set) < 0 || cmd_ok(3, pub) < 0) {
        const char *discard[] = {"DISCARD"};
        freeReplyObject(redisCommandArgv(ctl.rc, 1, discard, NULL));
        return -1;
    }
    rep = cmd(1, exec, NULL);
    if (rep == NULL)
        return -1;
    int done = rep->type == REDIS_REPLY_ARRAY;
    for (size_t i = 0; done && i < rep->elements; i++) {
        if (rep->element[i]->type == REDIS_REPLY_ERROR) {
            redis_fail("EXEC", rep->element[i]->str);
            done = -1;
        }
    }
    freeReplyObject(rep);
    return done;
}

/*
 * HGETALL the account into <a> (id set). 1 found, 0 not found (after a
 * message naming it), -1 on error or malformed data after a message.
 */
static int load_account(const char *id, struct account *a)
{
    const char *argv[] = {"HGETALL", ctl.key};
    redisReply *rep = cmd(2, argv, NULL);
    if (rep == NULL)
        return -1;
    if (rep->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        redis_fail("HGETALL", "unexpected reply type");
        return -1;
    }
    size_t n = rep->elements / 2;
    int rc = 0;
    if (n == 0) {
        fprintf(stderr, "smppctl: no account '%s'\n", id);
    } else {
        const char **names = calloc(n, sizeof *names);
        const char **values = calloc(n, sizeof *values);
        size_t *lens = calloc(n, sizeof *lens);
        char err[ACCOUNT_ERR_LEN];
        rc = -1;
        if (names && values && lens) {
            for (size_t i = 0; i < n; i++) {
                names[i] = rep->element[2 * i]->str;
                values[i] = rep->element[2 * i + 1]->str;
                lens[i] = rep->element[2 * i + 1]->len;
            }
            snprintf(a->id, sizeof a->id, "%s", id);
            if (account_from_fields(names, values, lens, n, a, err,
                                    sizeof err) == 0)
                rc = 1;
            else
                fprintf(stderr, "smppctl: account '%s' in Redis at %s is "
                        "malformed: %s\n", id, ctl.where, err);
        }
        free(names);
        free(values);
        free(lens);
    }
    freeReplyObject(rep);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

static void apply_opts(struct account *a, const struct acct_opts *o)
{
    if (o->has_tps)
        a->tps = o->tps;
    if (o->has_quota)
        a->daily_quota = o->daily_quota;
    if (o->has_qmsgs)
        a->queue_max_messages = o->queue_msgs;
    if (o->has_qbytes)
        a->queue_max_bytes = o->queue_bytes;
    if (o->has_binds)
        a->max_binds = o->max_binds;
    if (o->has_allow)
        snprintf(a->allow, sizeof a->allow, "%s", o->allow);
    if (o->has_format)
        a->id_format = o->format;
    if (o->has_enabled)
        a->enabled = o->enabled;
}

static int retries_exhausted(const char *id)
{
    fprintf(stderr, "smppctl: account '%s' kept changing under us; try "
            "again\n", id);
    return EXIT_OPERR;
}

static int do_add(const char *id, const struct acct_opts *o)
{
    struct account a;
    account_init(&a, id);
    a.tps = ACCOUNT_NEW_TPS;
    a.max_binds = ACCOUNT_NEW_BINDS;
    apply_opts(&a, o);
    a.created = a.updated = (int64_t)time(NULL);
    int rc = set_password(&a);
    if (rc != 0 || (rc = redis_connect()) != 0)
        return rc;
    for (int attempt = 0; attempt < WATCH_RETRIES; attempt++) {
        const char *watch[] = {"WATCH", ctl.key};
        const char *exists[] = {"EXISTS", ctl.key};
        if (cmd_ok(2, watch) < 0)
            return EXIT_OPERR;
        long long n = cmd_int(2, exists);
        if (n < 0)
            return EXIT_OPERR;
        if (n > 0) {
            unwatch();
            fprintf(stderr, "smppctl: account '%s' already exists\n", id);
            return EXIT_NOTFOUND;
        }
        int done = commit(&a, id);
        if (done < 0)
            return EXIT_OPERR;
        if (done) {
            printf("account %s added\n", id);
            return 0;
        }
    }
    return retries_exhausted(id);
}

static int do_set(const char *id, const struct acct_opts *o)
{
    struct account a, fresh;
    int rc;
    if (!o->password && !o->has_tps && !o->has_binds && !o->has_allow &&
        !o->has_format && !o->has_enabled && !o->has_quota &&
        !o->has_qmsgs && !o->has_qbytes)
        return usage_error("account set: nothing to change");
    account_init(&fresh, id);
    if (o->password && (rc = set_password(&fresh)) != 0)
        return rc;
    if ((rc = redis_connect()) != 0)
        return rc;
    for (int attempt = 0; attempt < WATCH_RETRIES; attempt++) {
        const char *watch[] = {"WATCH", ctl.key};
        if (cmd_ok(2, watch) < 0)
            return EXIT_OPERR;
        int found = load_account(id, &a);
        if (found <= 0) {
            unwatch();
            return found == 0 ? EXIT_NOTFOUND : EXIT_OPERR;
        }
        apply_opts(&a, o);
        if (o->password)
            memcpy(a.password_hash, fresh.password_hash,
                   sizeof a.password_hash);
        a.updated = (int64_t)time(NULL);
        int done = commit(&a, id);
        if (done < 0)
            return EXIT_OPERR;
        if (done) {
            printf("account %s updated\n", id);
            return 0;
        }
    }
    return retries_exhausted(id);
}

static int do_del(const char *id)
{
    int rc = redis_connect();
    if (rc != 0)
        return rc;
    for (int attempt = 0; attempt < WATCH_RETRIES; attempt++) {
        const char *watch[] = {"WATCH", ctl.key, ctl.keys.accounts};
        const char *exists[] = {"EXISTS", ctl.key};
        const char *member[] = {"SISMEMBER", ctl.keys.accounts, id};
        if (cmd_ok(3, watch) < 0)
            return EXIT_OPERR;
        long long e = cmd_int(2, exists), m = e < 0 ? -1 : cmd_int(3, member);
        if (e < 0 || m < 0)
            return EXIT_OPERR;
        if (e == 0 && m == 0) {
            unwatch();
            fprintf(stderr, "smppctl: no account '%s'\n", id);
            return EXIT_NOTFOUND;
        }
        int done = commit(NULL, id);
        if (done < 0)
            return EXIT_OPERR;
        if (done) {
            printf("account %s deleted\n", id);
            return 0;
        }
    }
    return retries_exhausted(id);
}

/* Account <id> (its key in ctl.key) as one JSON line; 0 or an exit
 * status after a message. */
static int print_account(const char *id)
{
    struct account a;
    char json[ACCOUNT_ALLOW_MAX * 6 + 512];
    int found = load_account(id, &a);
    if (found <= 0)
        return found == 0 ? EXIT_NOTFOUND : EXIT_OPERR;
    if (account_to_json(&a, json, sizeof json) < 0) {
        fprintf(stderr, "smppctl: account '%s' does not fit the output\n", id);
        return EXIT_OPERR;
    }
    puts(json);
    return 0;
}

static int do_show(const char *id)
{
    int rc = redis_connect();
    return rc != 0 ? rc : print_account(id);
}

/* list --long: each of the sorted <ids> as show prints it. One that
 * cannot be shown (deleted meanwhile, malformed) is skipped after a
 * message and the worst such status returned: the others still print. */
static int print_accounts(const char *const *ids, size_t n)
{
    int status = 0;
    for (size_t i = 0; i < n; i++) {
        if (!account_id_valid(ids[i]))
            continue; /* not an id smppctl writes */
        store_key_account(&ctl.keys, ids[i], ctl.key);
        int rc = print_account(ids[i]);
        if (rc == EXIT_OPERR || (rc != 0 && status == 0))
            status = rc;
    }
    return status;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int do_list(int long_form)
{
    int rc = redis_connect();
    if (rc != 0)
        return rc;
    const char *argv[] = {"SMEMBERS", ctl.keys.accounts};
    redisReply *rep = cmd(2, argv, NULL);
    if (rep == NULL)
        return EXIT_OPERR;
    if (rep->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return redis_fail("SMEMBERS", "unexpected reply type");
    }
    const char **ids = calloc(rep->elements + 1, sizeof *ids);
    if (ids == NULL) {
        freeReplyObject(rep);
        fprintf(stderr, "smppctl: out of memory\n");
        return EXIT_OPERR;
    }
    for (size_t i = 0; i < rep->elements; i++)
        ids[i] = rep->element[i]->str;
    qsort(ids, rep->elements, sizeof *ids, str_cmp);
    int status = 0;
    if (long_form)
        status = print_accounts(ids, rep->elements);
    else
        for (size_t i = 0; i < rep->elements; i++)
            puts(ids[i]);
    free(ids);
    freeReplyObject(rep);
    return status;
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static int load_config(const char *path)
{
    static char errs[8192];
    int n = conf_load(path, &ctl.conf, errs, sizeof errs);
    if (n == 0)
        return 0;
    fputs(errs, stderr);
    if (errs[0] != '\0' && errs[strlen(errs) - 1] != '\n')
        fputc('\n', stderr);
    fprintf(stderr, "smppctl: %d problem%s in %s\n", n, n == 1 ? "" : "s",
            path);
    return EXIT_USAGE;
}

/* Keys and channel names for <id> under the configured prefix. */
static void set_names(const char *id)
{
    store_keys_init(&ctl.keys, ctl.conf.redis.prefix);
    store_key_account(&ctl.keys, id, ctl.key);
    snprintf(ctl.event, sizeof ctl.event, "account %s", id);
}

/* "account SUB [ID] [OPTIONS]"; <argv> starts after "account". */
static int run_account(int argc, char **argv, const char *conf_path)
{
    struct acct_opts o;
    char tmp[48];
    if (argc < 1)
        return usage_error("account: add, set, show, list or del?");
    const char *sub = argv[0];
    int needs_id = strcmp(sub, "list") != 0;
    if (strcmp(sub, "add") && strcmp(sub, "set") && strcmp(sub, "show") &&
        strcmp(sub, "del") && strcmp(sub, "list"))
        return usage_error("account: unknown command '%s'",
                           printable(sub, tmp, sizeof tmp));
    if (needs_id && argc < 2)
        return usage_error("account %s: which ID?", sub);
    const char *id = needs_id ? argv[1] : "";
    if (needs_id && !account_id_valid(id))
        return usage_error("invalid account id '%s': 1 to 15 printable "
                           "characters, no spaces, '{', '}' or ':'",
                           printable(id, tmp, sizeof tmp));
    int long_form = !needs_id && argc > 1 && !strcmp(argv[1], "--long");
    int first_opt = needs_id ? 2 : 1 + long_form;
    int is_change = !strcmp(sub, "add") || !strcmp(sub, "set");
    if (!is_change && argc > first_opt)
        return usage_error("account %s: unexpected argument '%s'", sub,
                           printable(argv[first_opt], tmp, sizeof tmp));
    int rc = parse_acct_opts(argc - first_opt, argv + first_opt, &o);
    if (rc != 0)
        return rc;
    if (!strcmp(sub, "add") && !o.password)
        return usage_error("account add: --password-stdin is required");
    if ((rc = load_config(conf_path)) != 0)
        return rc;
    set_names(needs_id ? id : "-");
    if (!strcmp(sub, "add"))
        return do_add(id, &o);
    if (!strcmp(sub, "set"))
        return do_set(id, &o);
    if (!strcmp(sub, "show"))
        return do_show(id);
    if (!strcmp(sub, "del"))
        return do_del(id);
    return do_list(long_form);
}

/* ---- number routing (hash <prefix>:numbers) ---------------------------- */

static const char *number_names(void)
{
    store_keys_init(&ctl.keys, ctl.conf.redis.prefix);
    snprintf(ctl.event, sizeof ctl.event, "numbers *");
    return ctl.keys.numbers;
}

static int number_change(const char *op, const char *key, const char *prefix,
                         const char *account)
{
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
    const char *hset[] = {"HSET", key, prefix, account};
    const char *hdel[] = {"HDEL", key, prefix};
    const char *pub[] = {"PUBLISH", ctl.keys.events, ctl.event};
    if (cmd_ok(1, multi) != 0)
        return EXIT_OPERR;
    if (!strcmp(op, "add"))
        cmd_ok(4, hset);
    else
        cmd_ok(3, hdel);
    cmd_ok(3, pub);
    redisReply *r = cmd(1, exec, NULL);
    int ok = r && r->type == REDIS_REPLY_ARRAY;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : EXIT_OPERR;
}

static int number_list(const char *key)
{
    const char *argv[] = {"HGETALL", key};
    redisReply *r = cmd(2, argv, NULL);
    if (!r)
        return EXIT_OPERR;
    size_t n = r->elements / 2;
    char **lines = n ? calloc(n, sizeof *lines) : NULL;
    for (size_t i = 0; i < n && lines; i++) {
        size_t len = r->element[2 * i]->len + r->element[2 * i + 1]->len + 2;
        lines[i] = malloc(len);
        if (lines[i])
            snprintf(lines[i], len, "%s %s", r->element[2 * i]->str,
                     r->element[2 * i + 1]->str);
    }
    if (lines)
        qsort(lines, n, sizeof *lines, str_cmp);
    for (size_t i = 0; i < n && lines; i++) {
        if (lines[i])
            puts(lines[i]);
        free(lines[i]);
    }
    free(lines);
    freeReplyObject(r);
    return 0;
}

/* "number SUB ..."; <argv> starts after "number". */
static int run_number(int argc, char **argv, const char *conf_path)
{
    char tmp[48];
    if (argc < 1)
        return usage_error("number: add, del or list?");
    const char *sub = argv[0];
    int want = !strcmp(sub, "add") ? 3 : !strcmp(sub, "del") ? 2
             : !strcmp(sub, "list") ? 1 : 0;
    if (!want)
        return usage_error("number: unknown command '%s'",
                           printable(sub, tmp, sizeof tmp));
    if (argc != want)
        return usage_error("number %s: wrong number of arguments", sub);
    if (want >= 2 && !route_prefix_valid(argv[1]))
        return usage_error("invalid number prefix '%s': 1 to 20 digits, "
                           "optionally after '+'", printable(argv[1], tmp, sizeof tmp));
    if (want == 3 && !account_id_valid(argv[2]))
        return usage_error("invalid account id '%s'",
                           printable(argv[2], tmp, sizeof tmp));
    int rc = load_config(conf_path);
    if (rc || (rc = redis_connect()))
        return rc;
    const char *key = number_names();
    if (want == 1)
        return number_list(key);
    if (want == 3) {
        char akey[STORE_KEY_LEN];
        store_key_account(&ctl.keys, argv[2], akey);
        const char *exists[] = {"EXISTS", akey};
        if (cmd_int(2, exists) != 1) {
            fprintf(stderr, "smppctl: no account '%s'\n", argv[2]);
            return EXIT_NOTFOUND;
        }
    } else {
        const char *hexists[] = {"HEXISTS", key, argv[1]};
        if (cmd_int(3, hexists) != 1) {
            fprintf(stderr, "smppctl: no route for '%s'\n", argv[1]);
            return EXIT_NOTFOUND;
        }
    }
    rc = number_change(sub, key, argv[1], want == 3 ? argv[2] : "");
    if (rc == 0)
        printf("number %s %s\n", argv[1], want == 3 ? "added" : "deleted");
    return rc;
}

/* ---- live sessions, through the admin HTTP server ---------------------- */

/* `smppctl sessions` and `smppctl kick` ask a running bridge, not Redis:
 * a plain blocking HTTP/1.1 request to its [admin] listener. */
#define ADMIN_TIMEOUT_S 5
#define ADMIN_REPLY_MAX (4u << 20)

struct admin_opts {
    const char *addr;             /* HOST:PORT */
    const char *token;            /* "" for none */
    const char *account;          /* sessions/kick: filter, or NULL */
};

struct http_reply {
    int status;
    char *body;                   /* NUL-terminated, malloc'd */
};

static int admin_connect(const char *addr)
{
    char host[CONF_STR], err[NET_ERR_LEN], port_s[8];
    int port, fd = -1;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (net_split_hostport(addr, host, sizeof host, &port, err) != 0) {
        fprintf(stderr, "smppctl: --admin %s: %s\n", addr, err);
        return -1;
    }
    snprintf(port_s, sizeof port_s, "%d", port);
    int rc = getaddrinfo(*host ? host : "127.0.0.1", port_s, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "smppctl: %s: %s\n", addr, gai_strerror(rc));
        return -1;
    }
    struct timeval tv = {ADMIN_TIMEOUT_S, 0};
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "smppctl: cannot reach the bridge's admin server at "
                "%s (see [admin] listen, or --admin)\n", addr);
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Everything the server sends until it closes (Connection: close). */
static char *recv_all(int fd, size_t *len)
{
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (cap - n < 4096) {
            char *more = cap < ADMIN_REPLY_MAX ? realloc(buf, cap * 2) : NULL;
            if (!more)
                break;
            buf = more;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r < 0)
            break;
        if (r == 0) {
            buf[n] = '\0';
            *len = n;
            return buf;
        }
        n += (size_t)r;
    }
    free(buf);
    return NULL;
}

/* <method> <path> to the admin server; 0 with <out> filled, or an exit
 * status after a message. */
static int admin_request(const struct admin_opts *o, const char *method,
                         const char *path, struct http_reply *out)
{
    char req[1024];
    size_t len = 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                     "Content-Length: 0\r\n%s%s%s\r\n",
                     method, path, o->addr, *o->token ? "Authorization: Bearer " : "",
                     o->token, *o->token ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof req)
        return usage_error("request too long");
    int fd = admin_connect(o->addr);
    if (fd < 0)
        return EXIT_OPERR;
    char *text = send_all(fd, req, (size_t)n) == 0 ? recv_all(fd, &len) : NULL;
    close(fd);
    char *body = text ? strstr(text, "\r\n\r\n") : NULL;
    if (!body || sscanf(text, "HTTP/1.%*d %d", &out->status) != 1) {
        free(text);
        fprintf(stderr, "smppctl: no valid answer from %s\n", o->addr);
        return EXIT_OPERR;
    }
    body += 4;
    memmove(text, body, strlen(body) + 1);
    out->body = text;
    if (out->status == 401) {
        free(text);
        fprintf(stderr, "smppctl: the admin server wants a token: --token or "
                "SMPPBRIDGE_ADMIN_TOKEN\n");
        return EXIT_OPERR;
    }
    return 0;
}

/* The next {...} of a JSON array of flat objects at *<p>, as [start, end). */
static int next_object(const char **p, const char **start, const char **end)
{
    const char *s = strchr(*p, '{');
    int quoted = 0;
    if (!s)
        return 0;
    for (const char *c = s + 1; *c; c++) {
        if (quoted && *c == '\\' && c[1])
            c++;
        else if (*c == '"')
            quoted = !quoted;
        else if (!quoted && *c == '}') {
            *start = s;
            *end = c + 1;
            *p = c + 1;
            return 1;
        }
    }
    return 0;
}

static const char *member(const struct admin_json_member *m, int n,
                          const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(m[i].key, key))
            return m[i].value;
    return "-";
}

/* GET /sessions as a table, one bind a line. */
static int print_sessions(const char *body)
{
    static struct admin_json_member m[ADMIN_JSON_MAX_KEYS];
    const char *p = body, *s, *e;
    char err[128];
    printf("%-8s %-15s %-4s %-40s %-20s %9s %9s %9s %9s\n", "ID", "ACCOUNT",
           "TYPE", "PEER", "SINCE", "SUBMITS", "OK", "THROTTLED", "DELIVERED");
    while (next_object(&p, &s, &e)) {
        int n = admin_json_object(s, (size_t)(e - s), m, ARRAY_LEN(m), err,
                                  sizeof err);
        if (n < 0) {
            fprintf(stderr, "smppctl: unexpected answer: %s\n", err);
            return EXIT_OPERR;
        }
        printf("%-8s %-15s %-4s %-40s %-20s %9s %9s %9s %9s\n",
               member(m, n, "id"), member(m, n, "account"),
               member(m, n, "bind_type"), member(m, n, "peer"),
               member(m, n, "since"), member(m, n, "submits"), member(m, n, "ok"),
               member(m, n, "throttled"), member(m, n, "delivered"));
    }
    return 0;
}

/* sessions|kick [ID] [--admin HOST:PORT] [--token T] [--account ID] */
static int parse_admin_opts(int argc, char **argv, struct admin_opts *o,
                            const char **id)
{
    const char *env = getenv("SMPPBRIDGE_ADMIN_TOKEN");
    o->addr = ADMIN_DEFAULT;
    o->token = env ? env : "";
    o->account = NULL;
    *id = NULL;
    for (int i = 0; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--admin")   ? &o->addr
                           : !strcmp(argv[i], "--token") ? &o->token
                           : !strcmp(argv[i], "--account") ? &o->account
                                                           : NULL;
        char tmp[48];
        if (dst) {
            if (i + 1 >= argc)
                return usage_error("%s needs a value", argv[i]);
            *dst = argv[++i];
        } else if (argv[i][0] != '-' && !*id) {
            *id = argv[i];
        } else {
            return usage_error("unexpected argument '%s'",
                               printable(argv[i], tmp, sizeof tmp));
        }
    }
    if (o->account && !account_id_valid(o->account))
        return usage_error("invalid account id");
    if (strpbrk(o->token, "\r\n"))
        return usage_error("--token: no line breaks");
    return 0;
}

static int run_sessions(int argc, char **argv)
{
    struct admin_opts o;
    struct http_reply r = {0};
    const char *id;
    char path[64];
    int rc = parse_admin_opts(argc, argv, &o, &id);
    if (rc)
        return rc;
    if (id)
        return usage_error("sessions: unexpected argument (--account ID?)");
    snprintf(path, sizeof path, "/sessions%s%s", o.account ? "?account=" : "",
             o.account ? o.account : "");
    if ((rc = admin_request(&o, "GET", path, &r)) != 0)
        return rc;
    rc = r.status == 200 ? print_sessions(r.body) : EXIT_OPERR;
    if (r.status != 200)
        fprintf(stderr, "smppctl: the bridge answered %d: %s", r.status, r.body);
    free(r.body);
    return rc;
}

static int run_kick(int argc, char **argv)
{
    struct admin_opts o;
    struct http_reply r = {0};
    const char *id;
    char path[64];
    int rc = parse_admin_opts(argc, argv, &o, &id);
    if (rc)
        return rc;
    if (!id == !o.account)
        return usage_error("kick: a session ID or --account ID");
    if (id && (strlen(id) > 19 || strspn(id, "0123456789") != strlen(id)))
        return usage_error("kick: the session ID is a number (smppctl sessions)");
    snprintf(path, sizeof path, id ? "/sessions/%s" : "/sessions?account=%s",
             id ? id : o.account);
    if ((rc = admin_request(&o, "DELETE", path, &r)) != 0)
        return rc;
    if (r.status == 204 || r.status == 200) {
        printf("unbind sent to %s %s\n", id ? "session" : "every session of",
               id ? id : o.account);
    } else {
        fprintf(stderr, "smppctl: %s: %s", r.status == 404 ? "not found" : "failed",
                r.body);
        rc = r.status == 404 ? EXIT_NOTFOUND : EXIT_OPERR;
    }
    free(r.body);
    return rc;
}

/* ---- the failed-bind limiter, through the admin HTTP server ------------ */

/* 1 when <key> is the JSON literal true among <m>. */
static int member_true(const struct admin_json_member *m, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(m[i].key, key))
            return m[i].type == ADMIN_JSON_TRUE;
    return 0;
}

/* GET /auth/blocks as a table, one key a line. */
static int print_blocks(const char *body)
{
    static struct admin_json_member m[ADMIN_JSON_MAX_KEYS];
    const char *p = body, *s, *e;
    char err[128];
    printf("%-40s %-7s %-8s %8s %9s\n", "KEY", "SCOPE", "STATE", "FAILURES",
           "SECONDS");
    while (next_object(&p, &s, &e)) {
        int n = admin_json_object(s, (size_t)(e - s), m, ARRAY_LEN(m), err,
                                  sizeof err);
        if (n < 0) {
            fprintf(stderr, "smppctl: unexpected answer: %s\n", err);
            return EXIT_OPERR;
        }
        unsigned long long ms = strtoull(member(m, n, "remaining_ms"), NULL, 10);
        printf("%-40s %-7s %-8s %8s %9llu\n", member(m, n, "key"),
               member(m, n, "scope"),
               member_true(m, n, "blocked") ? "blocked" : "counting",
               member(m, n, "failures"), (ms + 999) / 1000);
    }
    return 0;
}

/* <in> percent-encoded for a query string into <out>; -1 when too long. */
static int query_escape(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in; in++) {
        unsigned char ch = (unsigned char)*in;
        int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL;
        if (o + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain)
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
    }
    out[o] = '\0';
    return 0;
}

/* auth blocks | auth unblock WHAT, each with the admin options. */
static int run_auth(int argc, char **argv)
{
    struct admin_opts o;
    struct http_reply r = {0};
    const char *what;
    char path[256], esc[200];
    if (argc < 1 || (strcmp(argv[0], "blocks") && strcmp(argv[0], "unblock")))
        return usage_error("auth: blocks or unblock?");
    int unblock = !strcmp(argv[0], "unblock");
    int rc = parse_admin_opts(argc - 1, argv + 1, &o, &what);
    if (rc)
        return rc;
    if (o.account)
        return usage_error("auth: unexpected --account");
    if (unblock != (what != NULL))
        return usage_error(unblock ? "auth unblock: which ADDRESS or SYSTEM_ID?"
                                   : "auth blocks: unexpected argument");
    if (unblock && (strlen(what) > 64 || query_escape(what, esc, sizeof esc) != 0))
        return usage_error("auth unblock: longer than 64 characters");
    snprintf(path, sizeof path, unblock ? "/auth/blocks?key=%s" : "/auth/blocks",
             unblock ? esc : "");
    if ((rc = admin_request(&o, unblock ? "DELETE" : "GET", path, &r)) != 0)
        return rc;
    if (r.status == 200 && !unblock) {
        rc = print_blocks(r.body);
    } else if (r.status == 200) {
        printf("unblocked %s\n", what);
    } else {
        fprintf(stderr, "smppctl: %s: %s", r.status == 404 ? "not found" : "failed",
                r.body);
        rc = r.status == 404 ? EXIT_NOTFOUND : EXIT_OPERR;
    }
    free(r.body);
    return rc;
}

int main(int argc, char **argv)
{
    const char *conf_path = DEFAULT_CONF;
    int i = 1;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
            fputs(usage_text, stdout);
            return 0;
        }
    }
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) {
            if (i + 1 >= argc)
                return usage_error("%s needs a file", argv[i]);
            conf_path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            conf_path = argv[i] + 9;
        } else {
            char tmp[48];
            return usage_error("unknown option '%s'",
                               printable(argv[i], tmp, sizeof tmp));
        }
    }
    if (i >= argc)
        return usage_error("no command");
    int rc;
    if (!strcmp(argv[i], "account")) {
        rc = run_account(argc - i - 1, argv + i + 1, conf_path);
    } else if (!strcmp(argv[i], "sessions")) {
        rc = run_sessions(argc - i - 1, argv + i + 1);
    } else if (!strcmp(argv[i], "kick")) {
        rc = run_kick(argc - i - 1, argv + i + 1);
    } else if (!strcmp(argv[i], "auth")) {
        rc = run_auth(argc - i - 1, argv + i + 1);
    } else if (!strcmp(argv[i], "number")) {
        rc = run_number(argc - i - 1, argv + i + 1, conf_path);
    } else {
        char tmp[48];
        rc = usage_error("unknown command '%s'",
                         printable(argv[i], tmp, sizeof tmp));
    }
    if (ctl.rc != NULL)
        redisFree(ctl.rc);
    fflush(stdout);
    if (ferror(stdout)) {
        fprintf(stderr, "smppctl: writing the output failed\n");
        return rc == 0 ? EXIT_OPERR : rc;
    }
    return rc;
}
