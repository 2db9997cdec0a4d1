/*
 * smsc_sim.h - the SMSC simulator's shared state (load/smsc_sim*.c).
 *
 * smsc_sim.c owns the process: options, listeners, accepted sessions,
 * signals and the stats file. smsc_sim_traffic.c owns what flows: submit
 * handling, message ids, throttling, faults, receipts and MO messages.
 */
#ifndef SMPPBRIDGE_SMSC_SIM_H
#define SMPPBRIDGE_SMSC_SIM_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "pdu.h"
#include "session.h"

#define SIM_MAX_LISTEN 8
#define SIM_MAX_MIX 8
#define SIM_MAX_ACCOUNTS 1024
#define SIM_ID_LEN 24
#define SIM_ADDR_LEN 22
#define SIM_TEXT_LEN 21

enum sim_id_format {
    SIM_ID_HEX = 0,
    SIM_ID_DEC,
    SIM_ID_SAME, /* receipts only: as in submit_sm_resp */
};

struct sim_mix_entry {
    int state;     /* enum dlr_state */
    unsigned weight;
};

struct sim_opts {
    const char *listen[SIM_MAX_LISTEN];
    int n_listen;
    const char *tls_listen[SIM_MAX_LISTEN];
    int n_tls_listen;
    const char *cert, *key;
    const char *system_id, *password; /* NULL: any credentials bind */
    enum sim_id_format id_format;
    enum sim_id_format dlr_id_format;
    unsigned resp_delay_ms;
    unsigned dlr_delay_ms;
    struct sim_mix_entry mix[SIM_MAX_MIX];
    int n_mix;
    unsigned mix_total;
    int intermediate;
    unsigned throttle_tps;
    double error_rate;
    double reject_rate;    /* permanent errors (ESME_RINVDSTADR) */
    unsigned drop_every;
    unsigned mo_rate;
    const char *mo_from, *mo_to;
    const char *stats_json;
    const char *port_file; /* write the bound ports here (tests use port 0) */
    int quiet;
    unsigned window;       /* our outstanding deliver_sm per session */
    unsigned peer_window;  /* the client's outstanding submits */
    uint64_t seed;
    unsigned msg_track;    /* messages remembered for query/cancel/replace */
    unsigned msg_keep_s;   /* final records forgotten after this */
    int cancel_receipt;    /* DELETED receipt for a cancelled message */
    /* --ids FILE: the message ids to give, in order, before the numbered
     * ones (tests of colliding upstream ids) */
    char (*ids)[SIM_ID_LEN];
    unsigned n_ids;
};

/* A message id taken from --ids: its index in the list, with this bit. */
#define SIM_ID_CHOSEN (1ull << 63)

struct sim_stats {
    uint64_t connections, binds, bind_failures, unbinds, sessions_dropped;
    uint64_t submit_sm, data_sm, submit_multi, other_requests;
    uint64_t resp_ok, resp_throttled, resp_error;
    uint64_t receipts_sent, receipts_acked, receipts_failed;
    uint64_t receipts_intermediate, receipts_held, receipts_dropped;
    uint64_t mo_sent, mo_acked;
    uint64_t concat_parts;      /* submits carrying a concatenation UDH */
    uint64_t concat_split;      /* a part on another session than its first */
    uint64_t concat_disorder;   /* a part not right after the previous one */
    uint64_t query_sm, cancel_sm, replace_sm, cancel_ok, replace_ok;
};

struct sim;
struct sim_account;

/* One accepted connection. */
struct sim_client {
    struct sim *sim;
    struct sess *sess;
    struct sim_account *account; /* set at bind */
    int receiver;                /* bound RX or TRX */
    uint64_t submits;
    char peer[64];
    struct sim_client *prev, *next;           /* all clients */
    struct sim_client *rx_prev, *rx_next;     /* account's receivers */
    struct sim_queue *backlog;                /* deliver_sm waiting for window */
};

struct sim *sim_get(void);

/* Traffic (smsc_sim_traffic.c). */
int sim_traffic_init(struct sim *sim, char *err, size_t errlen);
void sim_traffic_free(struct sim *sim);
void sim_on_request(struct sim_client *c, const struct pdu *req);
void sim_on_receiver_bound(struct sim_client *c);
void sim_on_receiver_gone(struct sim_client *c);
void sim_on_writable(struct sim_client *c);
struct sim_account *sim_account_get(struct sim *sim, const char *system_id);
int sim_parse_mix(const char *spec, struct sim_opts *o, char *err, size_t cap);

/* Accessors for the traffic side. */
const struct sim_opts *sim_opts(const struct sim *sim);
struct sim_stats *sim_stats(struct sim *sim);
struct event_base *sim_base(const struct sim *sim);
struct sim_traffic *sim_traffic(struct sim *sim);
void sim_set_traffic(struct sim *sim, struct sim_traffic *t);
void sim_drop_client(struct sim_client *c);

#endif /* SMPPBRIDGE_SMSC_SIM_H */
