/*
 * smsc_sim_msgs.h - the simulator's memory of the messages it accepted,
 * for query_sm, cancel_sm and replace_sm (load/smsc_sim_msgs.c).
 *
 * One record per message id the simulator issued: a hash table keyed by
 * the id, plus a list of the records that reached a final state, oldest
 * first. Memory is bounded: at most <max> records; a final record is
 * forgotten <keep_s> seconds after it became final, or sooner when a new
 * message needs its room. A message that finds the table full of pending
 * records is not remembered (its receipts still flow). Pure data: no
 * sessions, no event loop.
 */
#ifndef SMPPBRIDGE_SMSC_SIM_MSGS_H
#define SMPPBRIDGE_SMSC_SIM_MSGS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "smsc_sim.h"

struct sim_msg {
    uint64_t id;
    int state;                  /* enum dlr_state: ENROUTE until final */
    int outcome;                /* final state once every destination is done */
    unsigned pending;           /* final receipt events still queued */
    int multi;                  /* submit_multi: dst is the first destination */
    struct sim_account *account;
    uint8_t registered_delivery;
    uint8_t esm_class, data_coding;
    uint8_t src_ton, src_npi, dst_ton, dst_npi;
    time_t submitted;
    time_t final_at;            /* wall clock of the final state */
    time_t deliver_after;       /* replace_sm schedule_delivery_time, 0: none */
    time_t expires_at;          /* replace_sm validity_period, 0: none */
    uint64_t final_mono_ms;
    char src[SIM_ADDR_LEN];
    char dst[SIM_ADDR_LEN];
    char text[SIM_TEXT_LEN];
    struct sim_msg *hnext;                /* hash chain */
    struct sim_msg *fprev, *fnext;        /* final list, oldest first */
};

struct sim_msgs;

/* A table for at most <max> records (0: remember nothing) that forgets
 * final records after <keep_s> seconds. NULL when out of memory. */
struct sim_msgs *sim_msgs_new(size_t max, unsigned keep_s);
void sim_msgs_free(struct sim_msgs *ms);

/* A new zeroed record for <id> in state ENROUTE, owned by the table.
 * NULL when the table is full of pending records, disabled or out of
 * memory: the message is then not remembered. */
struct sim_msg *sim_msgs_add(struct sim_msgs *ms, uint64_t id, uint64_t now_ms);

/* The record of <id>, or NULL (never issued, or forgotten). */
struct sim_msg *sim_msgs_find(struct sim_msgs *ms, uint64_t id, uint64_t now_ms);

/* <m> reaches final <state> at wall time <now>: it joins the final list
 * and may be forgotten by a later add or find (never by this call, so
 * <m> stays valid for the caller). No-op if it already is final. */
void sim_msgs_set_final(struct sim_msgs *ms, struct sim_msg *m, int state,
                        time_t now, uint64_t now_ms);

/* Records held now (pending and final). */
size_t sim_msgs_count(const struct sim_msgs *ms);

#endif /* SMPPBRIDGE_SMSC_SIM_MSGS_H */
