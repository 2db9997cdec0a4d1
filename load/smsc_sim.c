/*
 * smsc_sim.c - smsc-sim: an SMSC simulator for tests, benchmarks and
 * resellers' developers. This file: options, listeners, sessions, signals
 * and the stats file. What flows through the sessions is in
 * smsc_sim_traffic.c.
 */
#include "common.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlr.h"
#include "log.h"
#include "net.h"
#include "smsc_sim.h"

#define TAG "sim"
#define SHUTDOWN_GRACE_MS 2000

struct sim {
    struct sim_opts opts;
    struct sim_stats stats;
    struct event_base *base;
    SSL_CTX *tls;
    struct evconnlistener *listeners[2 * SIM_MAX_LISTEN];
    int n_listeners;
    int ports[2 * SIM_MAX_LISTEN];
    struct sim_client *clients;
    unsigned n_clients;
    struct sess_config sess_cfg;
    struct sim_traffic *traffic;
    struct event *sig_int, *sig_term, *shutdown_timer;
    int stopping;
};

static struct sim the_sim;

struct sim *sim_get(void) { return &the_sim; }
const struct sim_opts *sim_opts(const struct sim *sim) { return &sim->opts; }
struct sim_stats *sim_stats(struct sim *sim) { return &sim->stats; }
struct event_base *sim_base(const struct sim *sim) { return sim->base; }
struct sim_traffic *sim_traffic(struct sim *sim) { return sim->traffic; }
void sim_set_traffic(struct sim *sim, struct sim_traffic *t) { sim->traffic = t; }

/* ---- sessions ------------------------------------------------------- */

static void client_unlink(struct sim_client *c)
{
    struct sim *sim = c->sim;
    if (c->prev)
        c->prev->next = c->next;
    else
        sim->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    sim->n_clients--;
}

static void on_close(struct sess *s, enum sess_close_reason why, void *ctx)
{
    struct sim_client *c = ctx;
    struct sim *sim = c->sim;
    if (why == SESS_CLOSE_UNBIND)
        sim->stats.unbinds++;
    if (!sim->opts.quiet)
        log_info(TAG, "%s %s closed: %s", c->peer,
                 c->account ? sess_peer_system_id(s) : "-",
                 sess_close_reason_name(why));
    if (c->receiver)
        sim_on_receiver_gone(c);
    client_unlink(c);
    free(c);
    sess_unref(s);
    if (sim->stopping && sim->n_clients == 0)
        event_base_loopexit(sim->base, NULL);
}

static int credentials_ok(const struct sim *sim, const struct pdu *bind)
{
    if (!sim->opts.system_id)
        return 1;
    return pdu_view_eq(bind->system_id, sim->opts.system_id) &&
           (!sim->opts.password || pdu_view_eq(bind->password, sim->opts.password));
}

static void on_bind(struct sess *s, const struct pdu *bind, void *ctx)
{
    struct sim_client *c = ctx;
    struct sim *sim = c->sim;
    if (sim->stopping || !credentials_ok(sim, bind)) {
        sim->stats.bind_failures++;
        if (!sim->opts.quiet)
            log_warn(TAG, "%s bind refused for '%.*s'", c->peer,
                     (int)bind->system_id.len, (const char *)bind->system_id.ptr);
        sess_bind_reply(s, sim->opts.system_id &&
                                   !pdu_view_eq(bind->system_id, sim->opts.system_id)
                               ? ESME_RINVSYSID : ESME_RINVPASWD);
        return;
    }
    c->account = sim_account_get(sim, sess_peer_system_id(s));
    if (!c->account) {
        sim->stats.bind_failures++;
        sess_bind_reply(s, ESME_RBINDFAIL);
        return;
    }
    sess_bind_reply(s, ESME_ROK);
    sim->stats.binds++;
    c->receiver = bind->command_id != PDU_BIND_TRANSMITTER;
    if (!sim->opts.quiet)
        log_info(TAG, "%s bound %s as %s", c->peer, sess_peer_system_id(s),
                 pdu_command_name(bind->command_id));
    if (c->receiver)
        sim_on_receiver_bound(c);
}

static void on_request(struct sess *s, const struct pdu *req, void *ctx)
{
    (void)s;
    sim_on_request(ctx, req);
}

static void on_writable(struct sess *s, void *ctx)
{
    (void)s;
    sim_on_writable(ctx);
}

static const struct sess_callbacks sim_callbacks = {
    .on_bind = on_bind,
    .on_request = on_request,
    .on_writable = on_writable,
    .on_close = on_close,
};

static void accept_client(struct event_base *base, int fd,
                          const struct sockaddr *peer, SSL_CTX *tls)
{
    struct sim *sim = &the_sim;
    struct sim_client *c = calloc(1, sizeof *c);
    if (!c)
        evutil_closesocket(fd);
    /* net_accepted_bev owns <fd> from here: closed if it fails */
    struct bufferevent *bev = c ? net_accepted_bev(base, fd, tls) : NULL;
    if (!bev) {
        free(c);
        return;
    }
    c->sim = sim;
    net_format_peer(peer, c->peer, sizeof c->peer);
    c->sess = sess_new(base, bev, SESS_SERVER, &sim->sess_cfg, &sim_callbacks, c);
    if (!c->sess) {
        free(c);
        return;
    }
    c->next = sim->clients;
    if (sim->clients)
        sim->clients->prev = c;
    sim->clients = c;
    sim->n_clients++;
    sim->stats.connections++;
}

static void on_accept_plain(struct evconnlistener *l, int fd,
                            struct sockaddr *peer, int len, void *arg)
{
    (void)len;
    (void)arg;
    accept_client(evconnlistener_get_base(l), fd, peer, NULL);
}

static void on_accept_tls(struct evconnlistener *l, int fd,
                          struct sockaddr *peer, int len, void *arg)
{
    (void)len;
    (void)arg;
    accept_client(evconnlistener_get_base(l), fd, peer, the_sim.tls);
}

/* Drop the connection at once (the --drop-every fault). */
void sim_drop_client(struct sim_client *c)
{
    c->sim->stats.sessions_dropped++;
    sess_close(c->sess, SESS_CLOSE_LOCAL);
}

/* ---- stats ---------------------------------------------------------- */

static int write_stats(const struct sim *sim, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        log_error(TAG, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    const struct sim_stats *st = &sim->stats;
#define F(name) fprintf(f, "  \"%s\": %" PRIu64 ",\n", #name, st->name)
    fprintf(f, "{\n");
    F(connections); F(binds); F(bind_failures); F(unbinds); F(sessions_dropped);
    F(submit_sm); F(data_sm); F(submit_multi); F(other_requests);
    F(resp_ok); F(resp_throttled); F(resp_error);
    F(receipts_sent); F(receipts_acked); F(receipts_failed);
    F(receipts_intermediate); F(receipts_held); F(receipts_dropped);
    F(mo_sent); F(concat_parts); F(concat_split); F(concat_disorder);
    F(query_sm); F(cancel_sm); F(replace_sm); F(cancel_ok); F(replace_ok);
    fprintf(f, "  \"mo_acked\": %" PRIu64 "\n}\n", st->mo_acked);
#undef F
    return fclose(f);
}

static int write_port_file(const struct sim *sim, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (int i = 0; i < sim->n_listeners; i++)
        fprintf(f, "%d\n", sim->ports[i]);
    return fclose(f);
}

/* ---- shutdown ------------------------------------------------------- */

static void on_shutdown_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(((struct sim *)arg)->base, NULL);
}

/* SIGINT/SIGTERM: stop accepting, unbind everyone, exit when they are
 * gone or after a grace period. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct sim *sim = arg;
    (void)what;
    if (sim->stopping)
        return;
    sim->stopping = 1;
    if (!sim->opts.quiet)
        log_info(TAG, "signal %d: unbinding %u sessions", (int)sig, sim->n_clients);
    for (int i = 0; i < sim->n_listeners; i++)
        evconnlistener_disable(sim->listeners[i]);
    for (struct sim_client *c = sim->clients; c; c = c->next)
        sess_unbind(c->sess);
    struct timeval tv = {SHUTDOWN_GRACE_MS / 1000, 0};
    sim->shutdown_timer = evtimer_new(sim->base, on_shutdown_timer, sim);
    evtimer_add(sim->shutdown_timer, &tv);
    if (sim->n_clients == 0)
        event_base_loopexit(sim->base, NULL);
}

/* ---- options -------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
"usage: smsc-sim [options]\n"
"  --listen HOST:PORT       plain SMPP listener (repeatable; default 127.0.0.1:2776)\n"
"  --tls-listen HOST:PORT   TLS listener (repeatable; needs --cert and --key)\n"
"  --cert FILE --key FILE   TLS certificate chain and private key (PEM)\n"
"  --system-id ID --password PW   accepted credentials (omitted: any bind succeeds)\n"
"  --id-format hex|dec      message ids in submit_sm_resp (default hex)\n"
"  --dlr-id-format same|hex|dec   id radix in receipts (default same)\n"
"  --resp-delay-ms N        answer submits after N ms (default 0)\n"
"  --dlr-delay-ms N         send receipts N ms after the submit (default 0)\n"
"  --dlr-mix SPEC           final states and weights (default DELIVRD:100),\n"
"                           e.g. DELIVRD:90,UNDELIV:8,EXPIRED:1,REJECTD:1\n"
"  --intermediate           ENROUTE receipts when registered_delivery asks (0x10)\n"
"  --throttle-tps N         ESME_RTHROTTLED above N submits per second\n"
"  --error-rate F           fraction (0..1) of submits failed with a temporary error\n"
"  --reject-rate F          fraction (0..1) refused for good (ESME_RINVDSTADR)\n"
"  --drop-every N           drop a session after it has sent N submits\n"
"  --ids FILE               message ids to give, in order (one a line, up to\n"
"                           23 characters, used as written in submit_sm_resp\n"
"                           and receipts), before the numbered ones; query_sm,\n"
"                           cancel_sm and replace_sm do not know them\n"
"  --mo-rate N              inbound (MO) messages per second to receivers\n"
"  --mo-from NUM --mo-to NUM      addresses of MO messages\n"
"  --window N               our outstanding deliver_sm per session (default 1000)\n"
"  --peer-window N          client's outstanding submits before RTHROTTLED (default 10000)\n"
"  --seed N                 random seed (default: time)\n"
"  --msg-track N            messages remembered for query_sm, cancel_sm and\n"
"                           replace_sm (default 200000, about 200 bytes each;\n"
"                           0: none). When full, the oldest final record goes;\n"
"                           if all are pending, new messages are not remembered\n"
"                           (their receipts still go out; queries get\n"
"                           ESME_RINVMSGID)\n"
"  --msg-keep-s S           a final record is forgotten S seconds after its\n"
"                           final state (default 3600, at least 1)\n"
"  --cancel-receipt         (default) a cancelled message whose\n"
"                           registered_delivery asks for final (or failure)\n"
"                           receipts gets one with stat:DELETED at once, right\n"
"                           after the cancel_sm_resp (the simplest: no waiting\n"
"                           for its original due time); a submit_multi gets\n"
"                           one, to its first destination\n"
"  --no-cancel-receipt      a cancel_sm sends no receipt\n"
"  --stats-json FILE        counters written at exit\n"
"  --port-file FILE         bound ports written once listening (one per line)\n"
"  --quiet                  errors only\n"
"  --help\n"
"query_sm answers ENROUTE (1) while the final receipt is pending (see\n"
"--dlr-delay-ms), then the final state with final_date; cancel_sm and\n"
"replace_sm work on pending messages only (ESME_RCANCELFAIL and\n"
"ESME_RREPLACEFAIL otherwise, ESME_RINVMSGID for unknown ids).\n");
}

static int parse_uint(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v > 0xFFFFFFFFul)
        return -1;
    *out = (unsigned)v;
    return 0;
}

#define SIM_MAX_IDS 4096

/* --ids FILE: one id a line (1 to SIM_ID_LEN - 1 printable characters, no
 * space), at most SIM_MAX_IDS; given out in order, then numbered ids. */
static int load_ids(const char *path, struct sim_opts *o, char *err, size_t cap)
{
    char line[256];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "cannot read '%s'", path);
        return -1;
    }
    free(o->ids);
    o->ids = calloc(SIM_MAX_IDS, sizeof *o->ids);
    o->n_ids = 0;
    int rc = o->ids ? 0 : -1;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = 0;
        if (n == 0)
            continue;
        int ok = n < SIM_ID_LEN && o->n_ids < SIM_MAX_IDS;
        for (size_t i = 0; ok && i < n; i++)
            ok = line[i] > ' ' && line[i] < 127;
        if (!ok) {
            snprintf(err, cap, "'%s': bad id '%.40s' (or more than %d)", path,
                     line, SIM_MAX_IDS);
            rc = -1;
            break;
        }
        memcpy(o->ids[o->n_ids++], line, n + 1);
    }
    fclose(f);
    return rc;
}

static int parse_id_format(const char *s, enum sim_id_format *out, int allow_same)
{
    if (strcmp(s, "hex") == 0)
        *out = SIM_ID_HEX;
    else if (strcmp(s, "dec") == 0)
        *out = SIM_ID_DEC;
    else if (allow_same && strcmp(s, "same") == 0)
        *out = SIM_ID_SAME;
    else
        return -1;
    return 0;
}

enum {
    OPT_LISTEN = 256, OPT_IDS, OPT_TLS_LISTEN, OPT_CERT, OPT_KEY, OPT_SYSTEM_ID,
    OPT_PASSWORD, OPT_ID_FORMAT, OPT_DLR_ID_FORMAT, OPT_RESP_DELAY,
    OPT_DLR_DELAY, OPT_DLR_MIX, OPT_INTERMEDIATE, OPT_THROTTLE, OPT_ERROR_RATE,
    OPT_REJECT_RATE,
    OPT_DROP_EVERY, OPT_MO_RATE, OPT_MO_FROM, OPT_MO_TO, OPT_STATS_JSON,
    OPT_PORT_FILE, OPT_QUIET, OPT_WINDOW, OPT_PEER_WINDOW, OPT_SEED, OPT_HELP,
    OPT_MSG_TRACK, OPT_MSG_KEEP, OPT_CANCEL_RECEIPT, OPT_NO_CANCEL_RECEIPT,
};

static const struct option long_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"tls-listen", required_argument, NULL, OPT_TLS_LISTEN},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"system-id", required_argument, NULL, OPT_SYSTEM_ID},
    {"password", required_argument, NULL, OPT_PASSWORD},
    {"id-format", required_argument, NULL, OPT_ID_FORMAT},
    {"dlr-id-format", required_argument, NULL, OPT_DLR_ID_FORMAT},
    {"ids", required_argument, NULL, OPT_IDS},
    {"resp-delay-ms", required_argument, NULL, OPT_RESP_DELAY},
    {"dlr-delay-ms", required_argument, NULL, OPT_DLR_DELAY},
    {"dlr-mix", required_argument, NULL, OPT_DLR_MIX},
    {"intermediate", no_argument, NULL, OPT_INTERMEDIATE},
    {"throttle-tps", required_argument, NULL, OPT_THROTTLE},
    {"error-rate", required_argument, NULL, OPT_ERROR_RATE},
    {"reject-rate", required_argument, NULL, OPT_REJECT_RATE},
    {"drop-every", required_argument, NULL, OPT_DROP_EVERY},
    {"mo-rate", required_argument, NULL, OPT_MO_RATE},
    {"mo-from", required_argument, NULL, OPT_MO_FROM},
    {"mo-to", required_argument, NULL, OPT_MO_TO},
    {"stats-json", required_argument, NULL, OPT_STATS_JSON},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"peer-window", required_argument, NULL, OPT_PEER_WINDOW},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, OPT_HELP},
    {"msg-track", required_argument, NULL, OPT_MSG_TRACK},
    {"msg-keep-s", required_argument, NULL, OPT_MSG_KEEP},
    {"cancel-receipt", no_argument, NULL, OPT_CANCEL_RECEIPT},
    {"no-cancel-receipt", no_argument, NULL, OPT_NO_CANCEL_RECEIPT},
    {NULL, 0, NULL, 0},
};

/* One option into <o>; 0, or -1 with a message in <err>. */
static int apply_option(struct sim_opts *o, int opt, const char *arg,
                        char *err, size_t cap)
{
    unsigned u;
    char *end;
    switch (opt) {
    case OPT_LISTEN:
        if (o->n_listen == SIM_MAX_LISTEN) goto too_many;
        o->listen[o->n_listen++] = arg;
        return 0;
    case OPT_TLS_LISTEN:
        if (o->n_tls_listen == SIM_MAX_LISTEN) goto too_many;
        o->tls_listen[o->n_tls_listen++] = arg;
        return 0;
    case OPT_CERT: o->cert = arg; return 0;
    case OPT_KEY: o->key = arg; return 0;
    case OPT_SYSTEM_ID: o->system_id = arg; return 0;
    case OPT_PASSWORD: o->password = arg; return 0;
    case OPT_ID_FORMAT:
        if (parse_id_format(arg, &o->id_format, 0) == 0) return 0;
        break;
    case OPT_DLR_ID_FORMAT:
        if (parse_id_format(arg, &o->dlr_id_format, 1) == 0) return 0;
        break;
    case OPT_IDS:
        return load_ids(arg, o, err, cap);
    case OPT_RESP_DELAY:
        if (parse_uint(arg, &o->resp_delay_ms) == 0) return 0;
        break;
    case OPT_DLR_DELAY:
        if (parse_uint(arg, &o->dlr_delay_ms) == 0) return 0;
        break;
    case OPT_DLR_MIX:
        return sim_parse_mix(arg, o, err, cap);
    case OPT_INTERMEDIATE: o->intermediate = 1; return 0;
    case OPT_THROTTLE:
        if (parse_uint(arg, &o->throttle_tps) == 0) return 0;
        break;
    case OPT_ERROR_RATE:
        o->error_rate = strtod(arg, &end);
        if (!*end && end != arg && o->error_rate >= 0 && o->error_rate <= 1)
            return 0;
        break;
    case OPT_REJECT_RATE:
        o->reject_rate = strtod(arg, &end);
        if (!*end && end != arg && o->reject_rate >= 0 && o->reject_rate <= 1)
            return 0;
        break;
    case OPT_DROP_EVERY:
        if (parse_uint(arg, &o->drop_every) == 0) return 0;
        break;
    case OPT_MO_RATE:
        if (parse_uint(arg, &o->mo_rate) == 0) return 0;
        break;
    case OPT_MO_FROM: o->mo_from = arg; return 0;
    case OPT_MO_TO: o->mo_to = arg; return 0;
    case OPT_STATS_JSON: o->stats_json = arg; return 0;
    case OPT_PORT_FILE: o->port_file = arg; return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    case OPT_WINDOW:
        if (parse_uint(arg, &u) == 0 && u > 0) { o->window = u; return 0; }
        break;
    case OPT_PEER_WINDOW:
        if (parse_uint(arg, &u) == 0 && u > 0) { o->peer_window = u; return 0; }
        break;
    case OPT_SEED:
        o->seed = strtoull(arg, &end, 10);
        if (!*end && end != arg) return 0;
        break;
    case OPT_MSG_TRACK:
        if (parse_uint(arg, &o->msg_track) == 0) return 0;
        break;
    case OPT_MSG_KEEP:
        if (parse_uint(arg, &u) == 0 && u > 0) { o->msg_keep_s = u; return 0; }
        break;
    case OPT_CANCEL_RECEIPT: o->cancel_receipt = 1; return 0;
    case OPT_NO_CANCEL_RECEIPT: o->cancel_receipt = 0; return 0;
    default:
        snprintf(err, cap, "unknown option");
        return -1;
    }
    snprintf(err, cap, "invalid value '%s'", arg);
    return -1;
too_many:
    snprintf(err, cap, "at most %d listeners of each kind", SIM_MAX_LISTEN);
    return -1;
}

static int parse_args(int argc, char **argv, struct sim_opts *o)
{
    int opt;
    char err[256];
    memset(o, 0, sizeof *o);
    o->dlr_id_format = SIM_ID_SAME;
    o->window = 1000;
    o->peer_window = 10000;
    o->msg_track = 200000;
    o->msg_keep_s = 3600;
    o->cancel_receipt = 1;
    o->mo_from = "34600000000";
    o->mo_to = "12345";
    o->seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 20;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            usage(stdout);
            exit(0);
        }
        if (opt == '?' || apply_option(o, opt, optarg, err, sizeof err) != 0) {
            if (opt != '?')
                fprintf(stderr, "smsc-sim: --%s: %s\n",
                        long_opts[opt - OPT_LISTEN].name, err);
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "smsc-sim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (o->n_listen == 0 && o->n_tls_listen == 0)
        o->listen[o->n_listen++] = "127.0.0.1:2776";
    if (o->n_tls_listen && (!o->cert || !o->key)) {
        fprintf(stderr, "smsc-sim: --tls-listen needs --cert and --key\n");
        return -1;
    }
    if (o->n_mix == 0)
        sim_parse_mix("DELIVRD:100", o, err, sizeof err);
    return 0;
}

/* ---- main ----------------------------------------------------------- */

/* Close what is still open and free everything, so that leak checkers
 * see a clean exit. Sessions finish their close on the loop; a peer that
 * does not read holds us for at most the session's flush limit. */
static void sim_teardown(struct sim *sim)
{
    for (struct sim_client *c = sim->clients; c; c = c->next)
        sess_close(c->sess, SESS_CLOSE_LOCAL);
    for (int i = 0; i < 400 && sim->clients; i++) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(sim->base, &tv);
        event_base_dispatch(sim->base);
    }
    for (int i = 0; i < sim->n_listeners; i++)
        evconnlistener_free(sim->listeners[i]);
    sim_traffic_free(sim);
    event_free(sim->sig_int);
    event_free(sim->sig_term);
    if (sim->shutdown_timer)
        event_free(sim->shutdown_timer);
    if (sim->tls)
        SSL_CTX_free(sim->tls);
    event_base_free(sim->base);
}

static int open_listeners(struct sim *sim)
{
    char err[NET_ERR_LEN];
    const struct sim_opts *o = &sim->opts;
    if (o->n_tls_listen) {
        sim->tls = net_tls_server_ctx(o->cert, o->key, NULL, err);
        if (!sim->tls) {
            fprintf(stderr, "smsc-sim: %s\n", err);
            return -1;
        }
    }
    for (int i = 0; i < o->n_listen + o->n_tls_listen; i++) {
        int tls = i >= o->n_listen;
        const char *addr = tls ? o->tls_listen[i - o->n_listen] : o->listen[i];
        struct evconnlistener *l =
            net_listen(sim->base, addr, tls ? on_accept_tls : on_accept_plain,
                       sim, &sim->ports[sim->n_listeners], err);
        if (!l) {
            fprintf(stderr, "smsc-sim: %s\n", err);
            return -1;
        }
        if (!o->quiet)
            log_info(TAG, "listening on %s (%s, port %d)", addr,
                     tls ? "tls" : "plain", sim->ports[sim->n_listeners]);
        sim->listeners[sim->n_listeners++] = l;
    }
    return 0;
}

static void sim_session_config(struct sim *sim)
{
    sess_config_defaults(&sim->sess_cfg);
    sim->sess_cfg.window = sim->opts.window;
    sim->sess_cfg.peer_window = sim->opts.peer_window;
    sim->sess_cfg.system_id = "smsc-sim";
    sim->sess_cfg.write_high_water = 4u << 20;
    sim->sess_cfg.idle_timeout_ms = 0;  /* the client decides how long */
    sim->sess_cfg.enquire_interval_ms = 30000;
}

int main(int argc, char **argv)
{
    struct sim *sim = &the_sim;
    char err[256];
    signal(SIGPIPE, SIG_IGN);
    if (parse_args(argc, argv, &sim->opts) != 0)
        return 2;
    log_set_level(sim->opts.quiet ? LOG_ERROR : LOG_INFO);
    sim->base = event_base_new();
    if (!sim->base)
        return 1;
    sim_session_config(sim);
    if (sim_traffic_init(sim, err, sizeof err) != 0) {
        fprintf(stderr, "smsc-sim: %s\n", err);
        return 1;
    }
    if (open_listeners(sim) != 0)
        return 1;
    if (sim->opts.port_file && write_port_file(sim, sim->opts.port_file) != 0) {
        fprintf(stderr, "smsc-sim: cannot write %s\n", sim->opts.port_file);
        return 1;
    }
    sim->sig_int = evsignal_new(sim->base, SIGINT, on_signal, sim);
    sim->sig_term = evsignal_new(sim->base, SIGTERM, on_signal, sim);
    evsignal_add(sim->sig_int, NULL);
    evsignal_add(sim->sig_term, NULL);

    event_base_dispatch(sim->base);
    sim_teardown(sim);

    int rc = 0;
    if (sim->opts.stats_json && write_stats(sim, sim->opts.stats_json) != 0)
        rc = 1;
    if (!sim->opts.quiet)
        log_info(TAG, "exit: %" PRIu64 " submits, %" PRIu64 " receipts sent",
                 sim->stats.submit_sm + sim->stats.data_sm + sim->stats.submit_multi,
                 sim->stats.receipts_sent);
    return rc;
}
