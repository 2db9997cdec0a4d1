/*
 * msgops.h - a customer's requests about a message it submitted:
 * query_sm, cancel_sm and replace_sm, answered from the message's state
 * record in Redis (store.h, P:msg:{ACCOUNT}:ID).
 *
 *   state      query_sm              cancel_sm            replace_sm
 *   QUEUED     ENROUTE               taken out: ROK       done in the queue
 *   ENROUTE    ENROUTE               sent upstream        sent upstream
 *   final      its state, final_date ESME_RCANCELFAIL     ESME_RREPLACEFAIL
 *   unknown    ESME_RINVMSGID        ESME_RINVMSGID       ESME_RINVMSGID
 *
 * A message an instance has taken from the queue but not yet sent cannot
 * be changed in the queue any more and has no upstream id yet:
 * ESME_RCANCELFAIL / ESME_RREPLACEFAIL, and the customer may try again.
 * Upstream, the request carries the upstream's id and the original
 * source address; upstream's answer is passed on.
 */
#ifndef SMPPBRIDGE_MSGOPS_H
#define SMPPBRIDGE_MSGOPS_H

#include <stdint.h>

struct pdu;
struct sess;
struct store;
struct msgops;

/* Send <req> on a session of upstream connector <connector>; <cb> gets
 * upstream's command_status. -1: cannot now (cb not called). */
typedef void (*msgops_forward_cb)(uint32_t status, void *arg);
typedef int (*msgops_forward_fn)(void *ctx, const char *connector,
                                 struct pdu *req, msgops_forward_cb cb,
                                 void *arg);

struct msgops *msgops_new(struct store *st);
void msgops_free(struct msgops *o);
void msgops_set_forwarder(struct msgops *o, msgops_forward_fn fn, void *ctx);

/* A query_sm, cancel_sm or replace_sm from <account> on <s>; answered
 * later (a session reference is held meanwhile). */
void msgops_request(struct msgops *o, struct sess *s, const char *account,
                    const struct pdu *req);

struct msgops_stats {
    unsigned long long queries, cancels, replaces, done_in_queue,
        forwarded, refused;
};
const struct msgops_stats *msgops_stats(const struct msgops *o);

#endif /* SMPPBRIDGE_MSGOPS_H */
