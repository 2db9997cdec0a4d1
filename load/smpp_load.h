/*
 * smpp_load.h - smpp-load, the SMPP load generator: types shared by its
 * files.
 *
 *   smpp_load.c         main, options, usage, signals, the phase machine
 *   smpp_load_conn.c    sessions: connect, bind, close, reconnect, inbound
 *                       deliver_sm/data_sm (receipts and MO)
 *   smpp_load_send.c    message text and parts, the open-loop schedule,
 *                       submit_sm and its response
 *   smpp_load_ids.c     the message id table receipts are matched against
 *   smpp_load_dlr.c     receipt parsing and matching
 *   smpp_load_report.c  progress line, human table, JSON, the verdict
 *
 * One event_base, one process, one thread: no locking anywhere.
 * Times are microseconds of CLOCK_MONOTONIC (smpp_load_now_us).
 */
#ifndef SMPPBRIDGE_SMPP_LOAD_H
#define SMPPBRIDGE_SMPP_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "dlr.h"
#include "hist.h"
#include "log.h"
#include "session.h"
#include "text.h"

struct event;
struct event_base;

/* Exit codes. */
#define SMPP_LOAD_EXIT_OK 0          /* every check passed */
#define SMPP_LOAD_EXIT_FAIL 1        /* ran, but a check failed */
#define SMPP_LOAD_EXIT_USAGE 2       /* bad flags or set-up error */
#define SMPP_LOAD_EXIT_INTERRUPT 130 /* SIGINT/SIGTERM: 128 + SIGINT */

#define SMPP_LOAD_MAX_CONNS 1024u
#define SMPP_LOAD_MAX_STATUSES 64u
#define SMPP_LOAD_TAG_LEN 32u

enum smpp_load_bind_mode {
    SMPP_LOAD_BIND_TRX = 0,
    SMPP_LOAD_BIND_TX,
};

/* How a receipt's id relates to the submit_sm_resp id (Kannel's
 * msg-id-type): the same, or one side decimal and the other hex. */
enum smpp_load_id_form {
    SMPP_LOAD_FORM_SAME = 0,    /* same number or string (canonical) */
    SMPP_LOAD_FORM_DEC2HEX,     /* receipt decimal, resp hex */
    SMPP_LOAD_FORM_HEX2DEC,     /* receipt hex, resp decimal */
    SMPP_LOAD_FORM_MAX,
    SMPP_LOAD_FORM_AUTO = SMPP_LOAD_FORM_MAX, /* try all, learn */
};

struct smpp_load_opts {
    const char *host;
    int port;
    int tls;
    const char *tls_ca;      /* NULL: the system store */
    int tls_verify;          /* 0 with --tls-no-verify */
    const char *system_id;
    const char *password;
    const char *system_type;
    enum smpp_load_bind_mode bind;
    unsigned binds;          /* TRX or TX sessions */
    unsigned rx_binds;       /* extra receivers */
    unsigned window;
    double rate;             /* messages per second; 0: closed loop */
    uint64_t count;          /* 0: no limit (then duration is set) */
    double duration_s;       /* 0: no limit (then count is set) */
    int dlr;
    int intermediate;     /* registered_delivery |= 0x10 */
    double dlr_timeout_s;
    enum smpp_load_id_form id_form;
    double linger_s;         /* extra wait for late duplicates */
    double resp_timeout_s;
    double bind_timeout_s;
    enum text_encoding encoding; /* GSM7 or UCS2 */
    unsigned parts;
    const char *src;
    const char *dst;
    int json;
    int progress;            /* 1 on, 0 off, -1 auto (isatty(stderr)) */
    int reconnect;
    int retry_throttled;
    unsigned retry_delay_ms;
};

/* Where the run is. Each phase has a bounded wait (see smpp_load.c). */
enum smpp_load_phase {
    SMPP_LOAD_PH_BINDING = 0, /* connecting and binding every session */
    SMPP_LOAD_PH_SENDING,     /* the schedule runs */
    SMPP_LOAD_PH_DRAINING,    /* waiting for the last submit_sm_resp */
    SMPP_LOAD_PH_RECEIPTS,    /* --dlr: waiting for the last receipt */
    SMPP_LOAD_PH_LINGER,      /* --linger: late duplicates */
    SMPP_LOAD_PH_UNBINDING,   /* unbind sent, waiting for the closes */
    SMPP_LOAD_PH_DONE,
    SMPP_LOAD_PH_MAX,
};

/* Why sending stopped. */
enum smpp_load_stop {
    SMPP_LOAD_STOP_NONE = 0,
    SMPP_LOAD_STOP_COUNT,       /* --count messages sent */
    SMPP_LOAD_STOP_DURATION,    /* --duration elapsed */
    SMPP_LOAD_STOP_NO_SESSIONS, /* no transmitter left to send on */
    SMPP_LOAD_STOP_STALLED,     /* no response for 2 x --resp-timeout */
    SMPP_LOAD_STOP_BIND_FAILED, /* no transmitter ever bound */
    SMPP_LOAD_STOP_SIGNAL,      /* SIGINT / SIGTERM */
    SMPP_LOAD_STOP_MAX,
};

/* One bind slot. Its session comes and goes (reconnect); the slot stays. */
struct smpp_load_conn {
    struct smpp_load *ld;
    struct sess *s;             /* NULL while not connected */
    enum sess_bind_type type;
    unsigned idx;
    int bound;
    uint64_t connect_us;        /* connection started */
    struct event *reconnect_ev;
    char tag[SMPP_LOAD_TAG_LEN];
};

/* One submit_sm in flight or waiting for a retry. */
struct smpp_load_sub {
    struct smpp_load *ld;
    uint64_t sched_us;          /* when the schedule said to send it */
    uint64_t sent_us;           /* when it was last sent */
    uint64_t retry_at_us;
    uint64_t msg;               /* message number, 0-based */
    unsigned part;              /* 1-based */
    unsigned attempts;
    struct smpp_load_sub *next; /* free list or retry queue */
};

/* The message text, encoded and cut into parts once at start-up. */
struct smpp_load_text {
    uint8_t data_coding;
    unsigned parts;
    uint8_t *buf;               /* whole encoded text */
    size_t off[TEXT_CONCAT_MAX_PARTS];
    size_t len[TEXT_CONCAT_MAX_PARTS];
};

/* Message id table: canonical id -> submit (see smpp_load_ids.c). */
enum smpp_load_id_kind {
    SMPP_LOAD_ID_SUBMIT = 0,    /* from a submit_sm_resp */
    SMPP_LOAD_ID_EARLY,         /* a final receipt that beat its resp */
};

struct smpp_load_id {
    uint64_t t_us;              /* SUBMIT: scheduled; EARLY: arrival */
    uint32_t key_off;           /* into the key arena */
    uint8_t key_len;
    uint8_t kind;               /* enum smpp_load_id_kind */
    uint8_t matched;            /* SUBMIT: a final receipt came;
                                   EARLY: resolved in another form */
    uint8_t early_via;          /* EARLY: how it would have matched */
    uint8_t early_form;         /* EARLY: the id form it was keyed in */
};

/* One generation of the table: entries, key arena, open-addressing index. */
struct smpp_load_id_gen {
    struct smpp_load_id *e;
    size_t n, cap;
    uint32_t *slots;            /* open addressing; 0 empty, else index+1 */
    size_t nslots;
    char *keys;
    size_t keys_len, keys_cap;
};

/* Two generations: new ids go into the current one; once it holds
 * SMPP_LOAD_IDS_GEN ids and the older one has nothing left to match, the
 * older one is dropped and the current one becomes the older. Memory is
 * then bounded by about two generations however long the run. */
#define SMPP_LOAD_IDS_GEN ((size_t)1 << 19)
struct smpp_load_ids {
    struct smpp_load_id_gen gen[2]; /* [0] current, [1] older */
    size_t retry_at;            /* gen[0].n at which to try dropping again */
    uint64_t forgotten;         /* ids dropped with their generation */
};

/* How a receipt found its submit. */
enum smpp_load_via {
    SMPP_LOAD_VIA_TLV = 0,      /* receipted_message_id */
    SMPP_LOAD_VIA_TEXT,         /* id: in the text */
    SMPP_LOAD_VIA_MAX,
};

struct smpp_load_status_row {
    uint32_t code;
    uint64_t count;
};

struct smpp_load_counters {
    uint64_t messages_started;  /* first part sent */
    uint64_t messages_sent;     /* every part sent */
    uint64_t submits_sent;      /* submit_sm PDUs, retries included */
    uint64_t responses;         /* submit_sm_resp or generic_nack */
    uint64_t resp_ok;
    uint64_t resp_error;
    uint64_t timeouts;
    uint64_t closed;            /* the session closed first */
    uint64_t throttled;
    uint64_t retries;
    uint64_t retry_abandoned;
    uint64_t empty_ids;         /* ESME_ROK without a message_id */
    uint64_t dup_resp_ids;      /* the SMSC gave one id twice */
    uint64_t status_overflow;   /* statuses past the table */

    uint64_t receipts;          /* every receipt received */
    uint64_t receipts_final;
    uint64_t matched;
    uint64_t matched_via[SMPP_LOAD_VIA_MAX];
    uint64_t matched_form[SMPP_LOAD_FORM_MAX];
    uint64_t unmatched;
    uint64_t duplicate;
    uint64_t intermediate;
    uint64_t missing;           /* computed at the end */
    uint64_t expected;          /* ESME_ROK submits, with --dlr */
    uint64_t early;             /* final receipts before their resp */
    uint64_t mo;                /* inbound messages that are no receipt */
    uint64_t states[DLR_STATE_MAX + 1]; /* last: state unknown */

    uint64_t sessions_closed;   /* closes we did not ask for */
    uint64_t bind_failed;
    uint64_t reconnects;
    uint64_t close_reasons[SESS_CLOSE_REASON_MAX];
};

struct smpp_load {
    struct smpp_load_opts opts;
    struct event_base *base;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    SSL_CTX *tls;
    struct sess_config sess_cfg;
    struct smpp_load_text text;

    struct smpp_load_conn *conns;
    unsigned nconns;            /* TX-capable first, then RX */
    unsigned ntx;
    unsigned rr;                /* round-robin cursor over TX-capable */

    enum smpp_load_phase phase;
    enum smpp_load_stop stop;
    int interrupted;
    int forced_close;           /* UNBINDING: sess_close after unbind */
    struct event *tick;
    struct event *sigint_ev, *sigterm_ev;

    uint64_t t0_us;             /* process start */
    uint64_t start_us;          /* schedule start */
    uint64_t send_end_us;       /* sending stopped */
    uint64_t last_resp_us;
    uint64_t last_receipt_us;
    uint64_t last_tx_bound_us;  /* a transmitter was bound */
    uint64_t phase_deadline_us;
    uint64_t end_us;
    uint64_t limit_msgs;        /* messages the schedule holds */
    uint64_t next_msg;          /* next message to start */
    uint64_t scheduled;         /* messages due when sending stopped */
    unsigned next_part;         /* its next part, 1-based */
    const struct smpp_load_conn *msg_conn; /* bind of its first part */
    uint64_t cur_sched_us;      /* its scheduled time */
    uint64_t inflight;          /* submits sent, not completed */
    uint8_t concat_ref;

    struct smpp_load_sub *free_subs;
    struct smpp_load_sub *retry_head, *retry_tail;
    uint64_t retry_queued;

    struct smpp_load_ids ids;
    struct smpp_load_counters c;
    struct smpp_load_status_row statuses[SMPP_LOAD_MAX_STATUSES];
    unsigned nstatuses;
    struct hist *submit_lat;    /* whole run */
    struct hist *submit_lat_iv; /* this second; merged every second */
    struct hist *submit_svc;    /* from the actual send: the server alone */
    struct hist *dlr_lat;

    uint64_t next_progress_us;
    uint64_t prev_sent, prev_resp;
};

uint64_t smpp_load_now_us(void);
const char *smpp_load_phase_name(enum smpp_load_phase ph);

/* smpp_load_conn.c */
int smpp_load_conns_start(struct smpp_load *ld);
void smpp_load_conns_unbind(struct smpp_load *ld);
void smpp_load_conns_close(struct smpp_load *ld);
unsigned smpp_load_conns_alive(const struct smpp_load *ld);
unsigned smpp_load_conns_bound(const struct smpp_load *ld, int tx_capable);
int smpp_load_conns_settled(const struct smpp_load *ld);
void smpp_load_conns_check_binds(struct smpp_load *ld, uint64_t now);
void smpp_load_conns_free(struct smpp_load *ld);
const char *smpp_load_bind_name(enum sess_bind_type t);

/* smpp_load_send.c */
int smpp_load_text_build(struct smpp_load_text *t, enum text_encoding enc,
                         unsigned parts, char *err, size_t errlen);
void smpp_load_text_free(struct smpp_load_text *t);
void smpp_load_schedule_start(struct smpp_load *ld, uint64_t now);
void smpp_load_pump(struct smpp_load *ld, uint64_t now);
void smpp_load_fill(struct smpp_load *ld, struct smpp_load_conn *c,
                    uint64_t now);
uint64_t smpp_load_backlog(const struct smpp_load *ld, uint64_t now);
int smpp_load_sending_done(struct smpp_load *ld, uint64_t now);
void smpp_load_retries_abandon(struct smpp_load *ld);
void smpp_load_subs_free(struct smpp_load *ld);
void smpp_load_count_status(struct smpp_load *ld, uint32_t status);
const char *smpp_load_status_name(uint32_t status);

/* smpp_load_ids.c */
int smpp_load_ids_init(struct smpp_load_ids *t, size_t expect);
void smpp_load_ids_free(struct smpp_load_ids *t);
/* The entry keyed <key>/<len> in either generation, or NULL. */
struct smpp_load_id *smpp_load_ids_find(struct smpp_load_ids *t,
                                        const char *key, size_t len);
/* Add a new entry (the key must not be there), or NULL. Entries of the
 * current generation may move: pointers found before do not survive it. */
struct smpp_load_id *smpp_load_ids_add(struct smpp_load_ids *t,
                                       const char *key, size_t len,
                                       uint64_t t_us,
                                       enum smpp_load_id_kind kind);
const char *smpp_load_ids_key(const struct smpp_load_id_gen *g,
                              const struct smpp_load_id *e);

/* smpp_load_dlr.c */
void smpp_load_dlr_submit_ok(struct smpp_load *ld, const struct pdu *resp,
                             uint64_t sched_us);
void smpp_load_dlr_inbound(struct smpp_load *ld, const struct pdu *p,
                           uint64_t now);
void smpp_load_dlr_resolve_parked(struct smpp_load *ld);
void smpp_load_dlr_finish(struct smpp_load *ld);
uint64_t smpp_load_dlr_pending(const struct smpp_load *ld);

/* smpp_load_report.c */
void smpp_load_progress(struct smpp_load *ld, uint64_t now);
void smpp_load_merge_interval(struct smpp_load *ld);
int smpp_load_verdict(const struct smpp_load *ld, char *why, size_t cap);
void smpp_load_report_human(const struct smpp_load *ld, FILE *out, int code,
                            const char *why);
void smpp_load_report_json(const struct smpp_load *ld, FILE *out, int code,
                           const char *why);
const char *smpp_load_stop_name(enum smpp_load_stop st);

#endif /* SMPPBRIDGE_SMPP_LOAD_H */
