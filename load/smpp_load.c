/*
 * smpp_load.c - smpp-load: main, options, signals and the phase machine.
 *
 * The run is a chain of phases, each with its own handler and its own
 * bounded wait, driven by one 1 ms tick:
 *
 *   BINDING --> SENDING --> DRAINING --> RECEIPTS --> LINGER --> UNBINDING
 *   (bind        (schedule)  (last        (--dlr:      (--linger)  (unbind,
 *    timeout)                 resp)        --dlr-                   then close)
 *                                          timeout)
 *
 * SIGINT/SIGTERM jumps to UNBINDING; a second one ends the loop at once.
 */
#include "common.h"

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "smpp_load.h"

#define TICK_US 1000u     /* longest tick */
#define TICK_MIN_US 200u  /* shortest, for high rates */
#define DRAIN_SLACK_US 2000000u   /* beyond --resp-timeout */
#define UNBIND_WAIT_US 5000000u   /* for unbind_resp */
#define CLOSE_WAIT_US 3000000u    /* for closes to finish after that */
#define SYSTEM_ID_MAX 15u
#define PASSWORD_MAX 8u
#define SYSTEM_TYPE_MAX 12u
#define ADDR_MAX 20u

uint64_t smpp_load_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- usage and options ---------------------------------------------- */

static void usage(FILE *out)
{
    fputs(
"usage: smpp-load [options]\n"
"SMPP load generator: binds to an SMSC (or smppbridge), sends submit_sm on\n"
"an open-loop schedule, matches delivery receipts, reports latencies.\n"
"\n"
"Connection\n"
"  --host HOST            server address (default 127.0.0.1)\n"
"  --port PORT            server port (default 2775)\n"
"  --tls                  connect with TLS (1.2+)\n"
"  --tls-ca FILE          CA file to check the server (default: system store)\n"
"  --tls-no-verify        do not check the server certificate\n"
"  --system-id ID         bind system_id (default smppload, max 15)\n"
"  --password PW          bind password (default empty, max 8)\n"
"  --system-type TYPE     bind system_type (default empty)\n"
"  --bind trx|tx          transmitter bind type (default trx)\n"
"  --binds N              transmitting binds (default 1)\n"
"  --rx-binds N           extra receiver binds (default 0; 1 with\n"
"                         --bind tx --dlr)\n"
"  --window N             outstanding submit_sm per bind (default 10)\n"
"  --bind-timeout S       connect-to-bound limit (default 10)\n"
"  --resp-timeout S       wait for each submit_sm_resp (default 10)\n"
"  --reconnect            redial a bind the server dropped (after 1 s)\n"
"\n"
"Load\n"
"  --rate N               messages per second across all binds, open loop\n"
"                         (a message is --parts submit_sm); 0 = as fast as\n"
"                         the windows allow (default 0)\n"
"  --count N              messages to send (default 1000 unless --duration)\n"
"  --duration S           send for S seconds (with --count: first to end)\n"
"  --encoding gsm7|ucs2   text encoding (default gsm7)\n"
"  --parts N              parts per message, concatenated with a UDH\n"
"                         (default 1, max 255); each part is one submit_sm\n"
"  --src ADDR             source_addr (default smppload)\n"
"  --dst ADDR             destination_addr (default 447700900000)\n"
"  --retry-throttled      re-send ESME_RTHROTTLED submits later\n"
"  --retry-delay MS       delay before such a retry (default 100)\n"
"\n"
"Receipts\n"
"  --dlr                  registered_delivery=1 and wait for every receipt\n"
"  --intermediate         also ask for intermediate receipts (0x10); they\n"
"                         are counted apart, never as final or duplicate\n"
"  --dlr-timeout S        bound on that wait after the last response\n"
"                         (default 30)\n"
"  --dlr-id-form FORM     receipt text id vs submit_sm_resp id: same,\n"
"                         dec2hex (text decimal, resp hex), hex2dec, or auto\n"
"                         (default: the id as given; the other forms only\n"
"                         after the last response)\n"
"  --linger S             then wait S more seconds for late duplicates\n"
"                         (default 0)\n"
"\n"
"Output\n"
"  --json                 one JSON object on stdout instead of the table\n"
"  --progress             progress line every second on stderr (default:\n"
"                         when stderr is a terminal)\n"
"  --no-progress          no progress line\n"
"  --log-level LEVEL      debug, info, warn (default), error, off\n"
"  --help                 this text\n"
"\n"
"Exit status: 0 every submit got a response and, with --dlr, every\n"
"ESME_ROK submit got exactly one matching final receipt; 1 a check failed;\n"
"2 bad options or set-up error; 130 interrupted.\n",
        out);
}

enum opt_id {
    OPT_HOST = 256, OPT_PORT, OPT_TLS, OPT_TLS_CA, OPT_TLS_NO_VERIFY,
    OPT_SYSTEM_ID, OPT_PASSWORD, OPT_SYSTEM_TYPE, OPT_BIND, OPT_BINDS,
    OPT_RX_BINDS, OPT_WINDOW, OPT_BIND_TIMEOUT, OPT_RESP_TIMEOUT,
    OPT_RECONNECT, OPT_RATE, OPT_COUNT, OPT_DURATION, OPT_ENCODING,
    OPT_PARTS, OPT_SRC, OPT_DST, OPT_RETRY_THROTTLED, OPT_RETRY_DELAY,
    OPT_DLR, OPT_DLR_TIMEOUT, OPT_DLR_ID_FORM, OPT_LINGER, OPT_JSON, OPT_PROGRESS,
    OPT_NO_PROGRESS, OPT_LOG_LEVEL, OPT_HELP, OPT_INTERMEDIATE,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"tls", no_argument, NULL, OPT_TLS},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-no-verify", no_argument, NULL, OPT_TLS_NO_VERIFY},
    {"system-id", required_argument, NULL, OPT_SYSTEM_ID},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"system-type", required_argument, NULL, OPT_SYSTEM_TYPE},
    {"bind", required_argument, NULL, OPT_BIND},
    {"binds", required_argument, NULL, OPT_BINDS},
    {"rx-binds", required_argument, NULL, OPT_RX_BINDS},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"bind-timeout", required_argument, NULL, OPT_BIND_TIMEOUT},
    {"resp-timeout", required_argument, NULL, OPT_RESP_TIMEOUT},
    {"reconnect", no_argument, NULL, OPT_RECONNECT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"count", required_argument, NULL, OPT_COUNT},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"encoding", required_argument, NULL, OPT_ENCODING},
    {"parts", required_argument, NULL, OPT_PARTS},
    {"src", required_argument, NULL, OPT_SRC},
    {"dst", required_argument, NULL, OPT_DST},
    {"retry-throttled", no_argument, NULL, OPT_RETRY_THROTTLED},
    {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
    {"dlr", no_argument, NULL, OPT_DLR},
    {"intermediate", no_argument, NULL, OPT_INTERMEDIATE},
    {"dlr-timeout", required_argument, NULL, OPT_DLR_TIMEOUT},
    {"dlr-id-form", required_argument, NULL, OPT_DLR_ID_FORM},
    {"linger", required_argument, NULL, OPT_LINGER},
    {"json", no_argument, NULL, OPT_JSON},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void opts_defaults(struct smpp_load_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 2775;
    o->tls_verify = 1;
    o->system_id = "smppload";
    o->password = "";
    o->system_type = "";
    o->bind = SMPP_LOAD_BIND_TRX;
    o->binds = 1;
    o->window = 10;
    o->dlr_timeout_s = 30;
    o->resp_timeout_s = 10;
    o->bind_timeout_s = 10;
    o->encoding = TEXT_ENC_GSM7;
    o->parts = 1;
    o->src = "smppload";
    o->dst = "447700900000";
    o->progress = -1;
    o->retry_delay_ms = 100;
    o->id_form = SMPP_LOAD_FORM_AUTO;
}

/* A whole number in [min, max]; -1 with a message otherwise. */
static int parse_u64(const char *name, const char *arg, uint64_t min,
                     uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max) {
        fprintf(stderr, "smpp-load: --%s wants a whole number in %llu..%llu,"
                " not '%s'\n", name, (unsigned long long)min,
                (unsigned long long)max, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_unsigned(const char *name, const char *arg, unsigned min,
                          unsigned max, unsigned *out)
{
    uint64_t v;
    if (parse_u64(name, arg, min, max, &v) != 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* A finite number of seconds (or a rate) in [min, max]. */
static int parse_double(const char *name, const char *arg, double min,
                        double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "smpp-load: --%s wants a number in %g..%g, not '%s'\n",
                name, min, max, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_choice(const char *name, const char *arg, const char *a,
                        const char *b, int *out)
{
    if (strcmp(arg, a) == 0 || strcmp(arg, b) == 0) {
        *out = strcmp(arg, b) == 0;
        return 0;
    }
    fprintf(stderr, "smpp-load: --%s wants %s or %s, not '%s'\n", name, a, b,
            arg);
    return -1;
}

static int check_len(const char *name, const char *v, size_t max)
{
    if (strlen(v) <= max)
        return 0;
    fprintf(stderr, "smpp-load: --%s is longer than %zu characters\n", name,
            max);
    return -1;
}

static const char *const id_form_names[SMPP_LOAD_FORM_MAX + 1] = {
    [SMPP_LOAD_FORM_SAME] = "same",
    [SMPP_LOAD_FORM_DEC2HEX] = "dec2hex",
    [SMPP_LOAD_FORM_HEX2DEC] = "hex2dec",
    [SMPP_LOAD_FORM_AUTO] = "auto",
};

static int parse_id_form(const char *arg, enum smpp_load_id_form *out)
{
    for (int f = 0; f <= SMPP_LOAD_FORM_MAX; f++)
        if (strcmp(arg, id_form_names[f]) == 0) {
            *out = (enum smpp_load_id_form)f;
            return 0;
        }
    fprintf(stderr, "smpp-load: --dlr-id-form wants same, dec2hex, hex2dec "
                    "or auto, not '%s'\n", arg);
    return -1;
}

/* Options with a string or a switch. 1 if <id> is not one of them. */
static int parse_text_opt(struct smpp_load_opts *o, int id, const char *arg)
{
    int v;
    switch (id) {
    case OPT_HOST: o->host = arg; return 0;
    case OPT_TLS: o->tls = 1; return 0;
    case OPT_TLS_CA: o->tls_ca = arg; return 0;
    case OPT_TLS_NO_VERIFY: o->tls_verify = 0; return 0;
    case OPT_SYSTEM_ID: o->system_id = arg; return 0;
    case OPT_PASSWORD: o->password = arg; return 0;
    case OPT_SYSTEM_TYPE: o->system_type = arg; return 0;
    case OPT_RECONNECT: o->reconnect = 1; return 0;
    case OPT_SRC: o->src = arg; return 0;
    case OPT_DST: o->dst = arg; return 0;
    case OPT_RETRY_THROTTLED: o->retry_throttled = 1; return 0;
    case OPT_DLR: o->dlr = 1; return 0;
    case OPT_INTERMEDIATE: o->intermediate = 1; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case OPT_PROGRESS: o->progress = 1; return 0;
    case OPT_NO_PROGRESS: o->progress = 0; return 0;
    case OPT_BIND:
        if (parse_choice("bind", arg, "trx", "tx", &v) != 0)
            return -1;
        o->bind = v ? SMPP_LOAD_BIND_TX : SMPP_LOAD_BIND_TRX;
        return 0;
    case OPT_ENCODING:
        if (parse_choice("encoding", arg, "gsm7", "ucs2", &v) != 0)
            return -1;
        o->encoding = v ? TEXT_ENC_UCS2 : TEXT_ENC_GSM7;
        return 0;
    case OPT_DLR_ID_FORM:
        return parse_id_form(arg, &o->id_form);
    case OPT_LOG_LEVEL:
        if ((v = log_level_parse(arg)) < 0) {
            fprintf(stderr, "smpp-load: unknown --log-level '%s'\n", arg);
            return -1;
        }
        log_set_level((enum log_level)v);
        return 0;
    default:
        return 1;
    }
}

/* Options with a number. <rx_set> records an explicit --rx-binds. */
static int parse_num_opt(struct smpp_load_opts *o, int id, const char *arg,
                         int *rx_set)
{
    unsigned port;
    switch (id) {
    case OPT_PORT:
        if (parse_unsigned("port", arg, 1, 65535, &port) != 0)
            return -1;
        o->port = (int)port;
        return 0;
    case OPT_BINDS: return parse_unsigned("binds", arg, 1, 256, &o->binds);
    case OPT_RX_BINDS:
        *rx_set = 1;
        return parse_unsigned("rx-binds", arg, 0, 256, &o->rx_binds);
    case OPT_WINDOW: return parse_unsigned("window", arg, 1, 65535, &o->window);
    case OPT_BIND_TIMEOUT:
        return parse_double("bind-timeout", arg, 0.1, 3600, &o->bind_timeout_s);
    case OPT_RESP_TIMEOUT:
        return parse_double("resp-timeout", arg, 0.01, 3600, &o->resp_timeout_s);
    case OPT_RATE: return parse_double("rate", arg, 0, 1e7, &o->rate);
    case OPT_COUNT: return parse_u64("count", arg, 1, UINT32_MAX, &o->count);
    case OPT_DURATION:
        return parse_double("duration", arg, 0.001, 86400, &o->duration_s);
    case OPT_PARTS:
        return parse_unsigned("parts", arg, 1, TEXT_CONCAT_MAX_PARTS, &o->parts);
    case OPT_RETRY_DELAY:
        return parse_unsigned("retry-delay", arg, 1, 60000, &o->retry_delay_ms);
    case OPT_DLR_TIMEOUT:
        return parse_double("dlr-timeout", arg, 0, 86400, &o->dlr_timeout_s);
    case OPT_LINGER: return parse_double("linger", arg, 0, 3600, &o->linger_s);
    default:
        fprintf(stderr, "smpp-load: try --help\n");
        return -1;
    }
}

/* Cross-option rules and defaults that depend on other options. */
static int opts_finish(struct smpp_load_opts *o, int rx_set)
{
    if (check_len("system-id", o->system_id, SYSTEM_ID_MAX) ||
        check_len("password", o->password, PASSWORD_MAX) ||
        check_len("system-type", o->system_type, SYSTEM_TYPE_MAX) ||
        check_len("src", o->src, ADDR_MAX) || check_len("dst", o->dst, ADDR_MAX))
        return -1;
    if (!o->count && o->duration_s <= 0)
        o->count = 1000;
    if (o->bind == SMPP_LOAD_BIND_TX && o->dlr && !rx_set)
        o->rx_binds = 1; /* receipts need a receiver */
    if (o->bind == SMPP_LOAD_BIND_TX && o->dlr && o->rx_binds == 0)
        fprintf(stderr, "smpp-load: warning: --dlr with --bind tx and "
                        "--rx-binds 0: no session can receive receipts\n");
    if (o->progress < 0)
        o->progress = isatty(STDERR_FILENO);
    return 0;
}

/* 0 to run, 1 after --help, -1 on a bad option. */
static int opts_parse(struct smpp_load_opts *o, int argc, char **argv)
{
    int id, rx_set = 0;
    opts_defaults(o);
    log_set_level(LOG_WARN);
    opterr = 0;
    while ((id = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (id == OPT_HELP || id == 'h') {
            usage(stdout);
            return 1;
        }
        if (id == '?') {
            fprintf(stderr, "smpp-load: unknown or incomplete option '%s'; "
                            "try --help\n", argv[optind - 1]);
            return -1;
        }
        int r = parse_text_opt(o, id, optarg);
        if (r == 1)
            r = parse_num_opt(o, id, optarg, &rx_set);
        if (r != 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "smpp-load: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return opts_finish(o, rx_set);
}

/* ---- phases --------------------------------------------------------- */

static const char *const phase_names[SMPP_LOAD_PH_MAX + 1] = {
    [SMPP_LOAD_PH_BINDING] = "binding",     [SMPP_LOAD_PH_SENDING] = "sending",
    [SMPP_LOAD_PH_DRAINING] = "draining",   [SMPP_LOAD_PH_RECEIPTS] = "receipts",
    [SMPP_LOAD_PH_LINGER] = "linger",       [SMPP_LOAD_PH_UNBINDING] = "unbinding",
    [SMPP_LOAD_PH_DONE] = "done",           [SMPP_LOAD_PH_MAX] = "?",
};

const char *smpp_load_phase_name(enum smpp_load_phase ph)
{
    return phase_names[ph < SMPP_LOAD_PH_MAX ? ph : SMPP_LOAD_PH_MAX];
}

/* Every phase change goes through here, with its deadline. */
static void set_phase(struct smpp_load *ld, enum smpp_load_phase ph,
                      uint64_t now, uint64_t wait_us)
{
    if (ph >= SMPP_LOAD_PH_MAX)
        abort();
    log_info("load", "phase %s -> %s", smpp_load_phase_name(ld->phase),
             smpp_load_phase_name(ph));
    ld->phase = ph;
    ld->phase_deadline_us = now + wait_us;
}

static void enter_unbinding(struct smpp_load *ld, uint64_t now)
{
    set_phase(ld, SMPP_LOAD_PH_UNBINDING, now, UNBIND_WAIT_US);
    smpp_load_conns_unbind(ld);
}

static void enter_linger(struct smpp_load *ld, uint64_t now)
{
    set_phase(ld, SMPP_LOAD_PH_LINGER, now,
              (uint64_t)(ld->opts.linger_s * 1e6));
}

/* Sending ends now: remember how much of the schedule fell due, so the
 * report can say how much of it a slow server left unsent. */
static void mark_send_end(struct smpp_load *ld, uint64_t now)
{
    ld->send_end_us = now;
    if (ld->phase == SMPP_LOAD_PH_SENDING)
        ld->scheduled = ld->next_msg + smpp_load_backlog(ld, now) +
                        (ld->next_part > 1); /* a message half sent */
}

static void stop_sending(struct smpp_load *ld, uint64_t now)
{
    mark_send_end(ld, now);
    set_phase(ld, SMPP_LOAD_PH_DRAINING, now,
              (uint64_t)(ld->opts.resp_timeout_s * 1e6) + DRAIN_SLACK_US +
                  (ld->opts.retry_throttled
                       ? (uint64_t)ld->opts.retry_delay_ms * 1000u : 0));
}

static void phase_binding(struct smpp_load *ld, uint64_t now)
{
    smpp_load_conns_check_binds(ld, now);
    if (!smpp_load_conns_settled(ld) && now < ld->phase_deadline_us)
        return;
    if (smpp_load_conns_bound(ld, 1) == 0) {
        log_error("load", "no transmitter could bind");
        ld->stop = SMPP_LOAD_STOP_BIND_FAILED;
        ld->send_end_us = now;
        enter_unbinding(ld, now);
        return;
    }
    if (ld->opts.dlr && smpp_load_conns_bound(ld, 0) == 0)
        log_warn("load", "--dlr but no receiver is bound");
    smpp_load_schedule_start(ld, now);
    set_phase(ld, SMPP_LOAD_PH_SENDING, now, 0);
    smpp_load_pump(ld, now);
}

static void phase_sending(struct smpp_load *ld, uint64_t now)
{
    smpp_load_conns_check_binds(ld, now);
    if (smpp_load_sending_done(ld, now)) {
        stop_sending(ld, now);
        return;
    }
    smpp_load_pump(ld, now);
}

static void phase_draining(struct smpp_load *ld, uint64_t now)
{
    smpp_load_pump(ld, now); /* due retries only */
    if ((ld->inflight || ld->retry_queued) && now < ld->phase_deadline_us)
        return;
    smpp_load_retries_abandon(ld);
    if (!ld->opts.dlr) {
        enter_linger(ld, now);
        return;
    }
    set_phase(ld, SMPP_LOAD_PH_RECEIPTS, now,
              (uint64_t)(ld->opts.dlr_timeout_s * 1e6));
    smpp_load_dlr_resolve_parked(ld); /* no resp can come for them now */
}

static void phase_receipts(struct smpp_load *ld, uint64_t now)
{
    int no_receiver = smpp_load_conns_bound(ld, 0) == 0 && !ld->opts.reconnect;
    if (smpp_load_dlr_pending(ld) && now < ld->phase_deadline_us &&
        !no_receiver)
        return;
    enter_linger(ld, now);
}

static void phase_linger(struct smpp_load *ld, uint64_t now)
{
    if (now >= ld->phase_deadline_us)
        enter_unbinding(ld, now);
}

/* Unbind, then close what did not answer, then give up waiting: the
 * process is about to exit anyway. */
static void phase_unbinding(struct smpp_load *ld, uint64_t now)
{
    if (smpp_load_conns_alive(ld) == 0) {
        set_phase(ld, SMPP_LOAD_PH_DONE, now, 0);
        event_base_loopbreak(ld->base);
        return;
    }
    if (now < ld->phase_deadline_us)
        return;
    if (!ld->forced_close) {
        ld->forced_close = 1;
        smpp_load_conns_close(ld);
        ld->phase_deadline_us = now + CLOSE_WAIT_US;
        return;
    }
    log_warn("load", "%u sessions did not close in time",
             smpp_load_conns_alive(ld));
    set_phase(ld, SMPP_LOAD_PH_DONE, now, 0);
    event_base_loopbreak(ld->base);
}

static void every_second(struct smpp_load *ld, uint64_t now)
{
    if (now < ld->next_progress_us)
        return;
    ld->next_progress_us += 1000000u;
    if (ld->next_progress_us <= now)
        ld->next_progress_us = now + 1000000u;
    if (ld->opts.progress)
        smpp_load_progress(ld, now);
    smpp_load_merge_interval(ld);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct smpp_load *ld = arg;
    uint64_t now = smpp_load_now_us();
    (void)fd;
    (void)what;
    switch (ld->phase) {
    case SMPP_LOAD_PH_BINDING: phase_binding(ld, now); break;
    case SMPP_LOAD_PH_SENDING: phase_sending(ld, now); break;
    case SMPP_LOAD_PH_DRAINING: phase_draining(ld, now); break;
    case SMPP_LOAD_PH_RECEIPTS: phase_receipts(ld, now); break;
    case SMPP_LOAD_PH_LINGER: phase_linger(ld, now); break;
    case SMPP_LOAD_PH_UNBINDING: phase_unbinding(ld, now); break;
    case SMPP_LOAD_PH_DONE: event_base_loopbreak(ld->base); break;
    case SMPP_LOAD_PH_MAX: abort();
    }
    every_second(ld, now);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct smpp_load *ld = arg;
    uint64_t now = smpp_load_now_us();
    (void)what;
    if (ld->interrupted) {
        log_warn("load", "second signal: stopping now");
        event_base_loopbreak(ld->base);
        return;
    }
    ld->interrupted = 1;
    log_warn("load", "signal %d: stopping", (int)sig);
    if (ld->phase >= SMPP_LOAD_PH_UNBINDING)
        return;
    if (ld->phase <= SMPP_LOAD_PH_SENDING) {
        ld->stop = SMPP_LOAD_STOP_SIGNAL;
        mark_send_end(ld, now);
    }
    enter_unbinding(ld, now);
}

/* ---- set-up and tear-down ------------------------------------------- */

static void sess_cfg_init(struct smpp_load *ld)
{
    struct sess_config *cfg = &ld->sess_cfg;
    sess_config_defaults(cfg);
    cfg->window = ld->opts.window;
    cfg->resp_timeout_ms = (unsigned)(ld->opts.resp_timeout_s * 1000);
    cfg->bind_timeout_ms = (unsigned)(ld->opts.bind_timeout_s * 1000);
    if (cfg->resp_timeout_ms == 0)
        cfg->resp_timeout_ms = 1;
}

static int setup_net(struct smpp_load *ld)
{
    char err[NET_ERR_LEN];
    if (net_resolve(ld->opts.host, ld->opts.port, &ld->addr, &ld->addr_len,
                    err) != 0) {
        fprintf(stderr, "smpp-load: %s\n", err);
        return -1;
    }
    if (ld->opts.tls &&
        !(ld->tls = net_tls_client_ctx(ld->opts.tls_ca, ld->opts.tls_verify,
                                       err))) {
        fprintf(stderr, "smpp-load: %s\n", err);
        return -1;
    }
    return 0;
}

/* One tick per message up to 5000/s, so a message leaves close to its
 * scheduled time; above that, batches every 200 us. */
static suseconds_t tick_us(double rate)
{
    if (rate <= 0 || 1e6 / rate >= TICK_US)
        return TICK_US;
    return 1e6 / rate <= TICK_MIN_US ? TICK_MIN_US : (suseconds_t)(1e6 / rate);
}

static int setup_events(struct smpp_load *ld)
{
    struct timeval tick = {0, tick_us(ld->opts.rate)};
    struct event_config *ec = event_config_new();
    if (!ec)
        return -1;
    /* timerfd on Linux: a 1 ms tick that epoll's millisecond timeout
     * would stretch to 1-2 ms, and the schedule with it. */
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    ld->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!ld->base)
        return -1;
    ld->tick = event_new(ld->base, -1, EV_PERSIST, on_tick, ld);
    ld->sigint_ev = evsignal_new(ld->base, SIGINT, on_signal, ld);
    ld->sigterm_ev = evsignal_new(ld->base, SIGTERM, on_signal, ld);
    if (!ld->tick || !ld->sigint_ev || !ld->sigterm_ev)
        return -1;
    evtimer_add(ld->tick, &tick);
    evsignal_add(ld->sigint_ev, NULL);
    evsignal_add(ld->sigterm_ev, NULL);
    return 0;
}

static int setup(struct smpp_load *ld)
{
    char err[128];
    signal(SIGPIPE, SIG_IGN); /* a dropped peer is an event, not a death */
    sess_cfg_init(ld);
    if (smpp_load_text_build(&ld->text, ld->opts.encoding, ld->opts.parts,
                             err, sizeof err) != 0) {
        fprintf(stderr, "smpp-load: %s\n", err);
        return -1;
    }
    size_t expect = ld->opts.count ? (size_t)ld->opts.count * ld->opts.parts
                                   : 1024;
    ld->submit_lat = hist_new();
    ld->submit_lat_iv = hist_new();
    ld->submit_svc = hist_new();
    ld->dlr_lat = hist_new();
    if (!ld->submit_lat || !ld->submit_lat_iv || !ld->submit_svc ||
        !ld->dlr_lat ||
        smpp_load_ids_init(&ld->ids, ld->opts.dlr ? expect : 0) != 0) {
        fprintf(stderr, "smpp-load: out of memory\n");
        return -1;
    }
    if (setup_net(ld) != 0 || setup_events(ld) != 0)
        return -1;
    ld->t0_us = smpp_load_now_us();
    ld->next_progress_us = ld->t0_us + 1000000u;
    ld->phase_deadline_us =
        ld->t0_us + (uint64_t)(ld->opts.bind_timeout_s * 1e6) + 1000000u;
    if (smpp_load_conns_start(ld) != 0) {
        fprintf(stderr, "smpp-load: cannot create the sessions\n");
        return -1;
    }
    return 0;
}

static void teardown(struct smpp_load *ld)
{
    if (ld->tick)
        event_free(ld->tick);
    if (ld->sigint_ev)
        event_free(ld->sigint_ev);
    if (ld->sigterm_ev)
        event_free(ld->sigterm_ev);
    /* Sessions still alive (a forced stop) keep their memory: freeing the
     * base under them would be worse, and the process ends here. */
    int clean = ld->conns == NULL || smpp_load_conns_alive(ld) == 0;
    if (ld->conns)
        smpp_load_conns_free(ld);
    if (ld->base && clean)
        event_base_free(ld->base);
    if (ld->tls)
        SSL_CTX_free(ld->tls);
    smpp_load_subs_free(ld);
    smpp_load_ids_free(&ld->ids);
    smpp_load_text_free(&ld->text);
    hist_free(ld->submit_lat);
    hist_free(ld->submit_lat_iv);
    hist_free(ld->submit_svc);
    hist_free(ld->dlr_lat);
}

static int finish(struct smpp_load *ld)
{
    char why[512];
    ld->end_us = smpp_load_now_us();
    if (!ld->send_end_us)
        ld->send_end_us = ld->end_us;
    smpp_load_merge_interval(ld);
    smpp_load_dlr_finish(ld);
    int code = smpp_load_verdict(ld, why, sizeof why);
    if (ld->opts.json)
        smpp_load_report_json(ld, stdout, code, why);
    else
        smpp_load_report_human(ld, stdout, code, why);
    fflush(stdout);
    return code;
}

int main(int argc, char **argv)
{
    static struct smpp_load ld; /* large; one per process */
    int r = opts_parse(&ld.opts, argc, argv);
    if (r != 0)
        return r > 0 ? SMPP_LOAD_EXIT_OK : SMPP_LOAD_EXIT_USAGE;
    if (setup(&ld) != 0) {
        teardown(&ld);
        return SMPP_LOAD_EXIT_USAGE;
    }
    event_base_dispatch(ld.base);
    int code = finish(&ld);
    teardown(&ld);
    return code;
}
