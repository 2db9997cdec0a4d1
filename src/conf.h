/*
 * conf.h - smppbridge's configuration: an INI file parsed into a const
 * struct conf by a table of keys (name, type, default, bounds).
 *
 * Sections: [server], [tls], [redis], [admin], [log], [queue], [relay] and one
 * [upstream NAME] per upstream connector. Unknown sections and keys are
 * errors. conf/smppbridge.conf documents every key.
 */
#ifndef SMPPBRIDGE_CONF_H
#define SMPPBRIDGE_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_MAX_LISTEN 8
#define CONF_MAX_UPSTREAMS 16
#define CONF_STR 256

enum conf_id_format {
    CONF_ID_AUTO = 0, /* receipts: try both radixes (upstream only) */
    CONF_ID_HEX,
    CONF_ID_DEC,
};

enum conf_bind_mode {
    CONF_BIND_TRX = 0, /* one transceiver per session */
    CONF_BIND_TX_RX,   /* a transmitter and a receiver per session */
};

enum conf_log_format {
    CONF_LOG_TEXT = 0,
    CONF_LOG_LOGFMT,
    CONF_LOG_JSON,
};

struct conf_server {
    char listen[CONF_MAX_LISTEN][CONF_STR]; /* "HOST:PORT", v4 or [v6] */
    int n_listen;
    char system_id[16];          /* ours, in bind_resp */
    unsigned window;             /* a client's outstanding submits */
    unsigned max_binds;          /* binds in all, this instance */
    unsigned bind_timeout_ms;
    unsigned idle_timeout_ms;
    unsigned enquire_link_interval_ms;
    unsigned max_pdu_size;
    unsigned auth_fail_limit;    /* failures before a source is refused */
    unsigned auth_fail_window_ms;
    unsigned auth_block_ms;      /* how long it is then refused */
    int proxy_protocol;          /* connections start with a PROXY header */
    int bind_fail_detail;        /* refusals say why (else all ESME_RBINDFAIL) */
    unsigned bind_fail_delay_ms; /* no refusal is answered sooner */
    unsigned max_connections;    /* open in all, bound or not */
    unsigned max_connections_per_address; /* from one IP (IPv6: its /64) */
    unsigned accepts_per_second_per_address; /* new connections, one IP */
    unsigned accept_burst_per_address;       /* ... at once */
    unsigned fd_reserve;         /* descriptors kept for Redis, upstream */
    unsigned max_bad_pdus;       /* bad PDUs within bad_pdu_window: close */
    unsigned bad_pdu_window_ms;
};

struct conf_tls {
    char listen[CONF_MAX_LISTEN][CONF_STR];
    int n_listen;
    char cert[CONF_STR];
    char key[CONF_STR];
    char ca[CONF_STR];           /* "": client certificates not required */
    unsigned handshake_timeout_ms; /* accept to handshake done */
};

struct conf_redis {
    char host[CONF_STR];
    unsigned port;
    unsigned db;
    char username[CONF_STR];     /* ACL user; "": AUTH with the password only */
    char password[CONF_STR];
    unsigned timeout_ms;         /* a command slower than this fails */
    unsigned id_ttl_s;           /* upstream id -> our id map (72 h) */
    unsigned final_ttl_s;        /* a message's state after its final
                                    state, for query_sm (24 h) */
    char prefix[64];             /* key prefix, "sb" */
    unsigned cdr_maxlen;         /* P:cdr kept about this long; 0: no CDRs */
    unsigned dead_maxlen;        /* P:dead kept about this long (entries) */
    unsigned dlr_maxlen;         /* P:dlr:{ID}: upstream's receipts and MO
                                    for one account, waiting (entries) */
    unsigned dead_entry_max;     /* bytes of a PDU kept in P:dead, cut after */
    /* Sentinel: when any is set, the master's address is asked of them
     * (in turn) before each connection, and host/port are not used. */
    char sentinels[CONF_MAX_LISTEN][CONF_STR]; /* "HOST:PORT" */
    int n_sentinels;
    char master_name[CONF_STR];  /* the name the sentinels monitor */
    char sentinel_username[CONF_STR]; /* ACL user at the sentinels */
    char sentinel_password[CONF_STR]; /* AUTH to the sentinels; "": none */
};

struct conf_admin {
    char listen[CONF_STR];       /* 127.0.0.1:9775; "" disables it */
    char token[CONF_STR];
};

struct conf_log {
    int level;                   /* enum log_level */
    enum conf_log_format format;
};

/* What happens to a message whose submit_sm went unanswered (timed out,
 * or its session was lost after it was written): upstream may have
 * accepted it. */
enum conf_resend_unknown {
    CONF_RESEND_NEVER = 0, /* wait for a late answer, never send again */
    CONF_RESEND_ONCE,      /* one more copy at most, then wait */
};

struct conf_queue {
    unsigned batch;              /* entries read per XREADGROUP */
    unsigned claim_idle_ms;      /* pending this long: another may claim */
    unsigned retry_min_ms;       /* temporary upstream errors: backoff */
    unsigned retry_max_ms;
    unsigned max_attempts;       /* then the message fails permanently */
    /* What one account may have queued at once, unless the account says
     * otherwise (its queue_max_messages / queue_max_bytes): beyond it
     * ESME_RMSGQFUL, so one customer cannot fill the shared Redis. */
    unsigned account_max_messages;
    unsigned account_max_bytes;
    /* Submits this instance has on their way into Redis at once; beyond
     * it customers' sessions are not read until half are answered. 0: no
     * bound. */
    unsigned max_writes;
    enum conf_resend_unknown resend_unknown;
};

/* Receipts and MO waiting in P:dlr:{ACCOUNT} for the customer. */
struct conf_relay {
    unsigned ttl_ms;             /* older: moved to P:dead, "expired" */
    unsigned sweep_interval_ms;  /* how often expired entries are looked for */
    unsigned retry_min_ms;       /* deliver_sm refused or unanswered: */
    unsigned retry_max_ms;       /* backoff, doubling per refusal */
};

struct conf_upstream {
    char name[64];
    char host[CONF_STR];
    unsigned port;
    int tls;
    char tls_ca[CONF_STR];
    int tls_verify;
    char system_id[16];
    char password[9];
    char system_type[13];
    enum conf_bind_mode bind;
    unsigned interface_version;  /* 0x34 or 0x50 */
    unsigned sessions;
    unsigned window;
    unsigned tps;                /* 0: unlimited */
    unsigned enquire_link_interval_ms;
    unsigned reconnect_min_ms;
    unsigned reconnect_max_ms;
    unsigned priority;           /* lower first */
    enum conf_id_format dlr_id_format;
    int dlr_id_fold_case;        /* dlr_id_case = insensitive */
    unsigned resp_timeout_ms;
    unsigned late_resp_grace_ms; /* a submit_sm_resp this late still counts */
    unsigned late_resp_max;      /* timed-out submits remembered per session */
    unsigned glitch_window_ms;   /* 16 bad PDUs within this close a session */
};

struct conf {
    char path[CONF_STR];
    struct conf_server server;
    struct conf_tls tls;
    struct conf_redis redis;
    struct conf_admin admin;
    struct conf_log log;
    struct conf_queue queue;
    struct conf_relay relay;
    struct conf_upstream upstreams[CONF_MAX_UPSTREAMS];
    int n_upstreams;
};

/* Every default, no upstream. */
void conf_defaults(struct conf *c);

/*
 * Parse <path> into <c> (defaults first). Problems are written to <errs>
 * as lines "FILE:LINE: message" (all of them, not just the first), and the
 * count is returned: 0 means <c> is complete and valid. Passwords never
 * appear in messages.
 */
int conf_load(const char *path, struct conf *c, char *errs, size_t errs_cap);

/* The same from a string (tests); <name> is used in messages. */
int conf_load_string(const char *name, const char *text, struct conf *c,
                     char *errs, size_t errs_cap);

/*
 * The effective configuration of <c> written to <out> as a file the parser
 * reads back (for `smppbridge --check` and support tickets): every key,
 * durations in their largest exact unit. Secret keys (redis password,
 * admin token, upstream passwords) are written only as a comment saying
 * whether they are set.
 */
void conf_dump(const struct conf *c, FILE *out);

#endif /* SMPPBRIDGE_CONF_H */
