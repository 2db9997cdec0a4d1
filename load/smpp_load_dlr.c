/*
 * smpp_load_dlr.c - receipts: tell them from MO, parse them, match them to
 * the ids the submit_sm_resp gave.
 *
 * A receipt names its message twice, in the receipted_message_id TLV
 * (0x001E) and in the text's "id:" field; either may be missing. We try
 * the TLV, then the text, against the canonical ids in the table.
 *
 * Id forms. Some SMSCs give the submit_sm_resp id in hex and the receipt
 * id in decimal, or the reverse (Kannel's msg-id-type). An all-digit id
 * reads as both, so trying every form at once can hit another message.
 * The default (--dlr-id-form auto) is therefore exact first: the id as
 * given, canonical. The converted forms (the ones dlr_id_candidates()
 * lists after it) are tried only once no submit_sm_resp can still come
 * with the exact id, i.e. after the last response. --dlr-id-form pins one
 * form of the text id for an SMSC known to convert (the TLV, when there
 * is one, always carries the resp's id).
 *
 * A receipt can overtake its own submit_sm_resp when it travels on another
 * bind (--bind tx with receivers). Such a final receipt is parked in the
 * same table as an EARLY entry under its key; the resp that brings the id
 * later completes the match. What is still parked after the last response
 * is tried in the converted forms (auto), then counted as unmatched.
 */
#include "common.h"

#include <string.h>

#include "smpp_load.h"

/* esm_class bits 5-2 of a deliver_sm (SMPP 3.4 §5.2.12). */
#define ESM_TYPE_MASK 0x3Cu
#define ESM_TYPE_RECEIPT 0x04u
#define ESM_TYPE_INTERMEDIATE 0x20u

/* One id the receipt names, and where it came from. */
struct rcpt_id {
    const char *p;
    size_t len;
    enum smpp_load_via via;
};

static void record_match(struct smpp_load *ld, struct smpp_load_id *e,
                         enum smpp_load_via via, int form,
                         uint64_t arrival_us)
{
    e->matched = 1;
    ld->c.matched++;
    ld->c.matched_via[via]++;
    ld->c.matched_form[form]++;
    hist_record(ld->dlr_lat,
                arrival_us > e->t_us ? arrival_us - e->t_us : 0);
}

/* An ESME_ROK submit_sm_resp: its id now expects one final receipt. */
void smpp_load_dlr_submit_ok(struct smpp_load *ld, const struct pdu *resp,
                             uint64_t sched_us)
{
    char key[DLR_ID_MAX + 1];
    if (!ld->opts.dlr)
        return;
    ld->c.expected++;
    int n = resp ? dlr_id_canonical((const char *)resp->message_id.ptr,
                                    resp->message_id.len, key, sizeof key)
                 : -1;
    if (n <= 0) {
        ld->c.empty_ids++; /* its receipt cannot match: counted missing */
        return;
    }
    struct smpp_load_id *e = smpp_load_ids_find(&ld->ids, key, (size_t)n);
    if (!e) {
        if (!smpp_load_ids_add(&ld->ids, key, (size_t)n, sched_us,
                               SMPP_LOAD_ID_SUBMIT))
            log_error("load", "id table: out of memory");
        return;
    }
    if (e->kind == SMPP_LOAD_ID_SUBMIT) {
        ld->c.dup_resp_ids++;
        return;
    }
    if (e->matched) {
        /* Its parked receipt went to a converted-form match: this submit
         * waits for a receipt of its own. */
        e->kind = SMPP_LOAD_ID_SUBMIT;
        e->matched = 0;
        e->t_us = sched_us;
        return;
    }
    /* A receipt got here first: the match completes now. */
    uint64_t arrival = e->t_us;
    e->kind = SMPP_LOAD_ID_SUBMIT;
    e->t_us = sched_us;
    record_match(ld, e, (enum smpp_load_via)e->early_via, e->early_form,
                 arrival);
}

/* The receipt's text: short_message, or message_payload when empty. */
static struct pdu_view receipt_text(const struct pdu *p)
{
    struct pdu_view v = p->short_message;
    const struct pdu_tlv *t;
    if (v.len == 0 && (t = pdu_tlv_find(p, PDU_TLV_MESSAGE_PAYLOAD))) {
        v.ptr = t->val;
        v.len = t->len;
    }
    return v;
}

static int is_receipt(const struct pdu *p)
{
    unsigned type = p->esm_class & ESM_TYPE_MASK;
    return type == ESM_TYPE_RECEIPT || type == ESM_TYPE_INTERMEDIATE ||
           pdu_tlv_find(p, PDU_TLV_RECEIPTED_MESSAGE_ID) != NULL;
}

/* message_state: the TLV when present, else the text's stat word;
 * -1 when neither says. */
static int receipt_state(const struct pdu *p, struct pdu_view txt,
                         const struct dlr_receipt *r)
{
    uint8_t st;
    if (pdu_tlv_u8(p, PDU_TLV_MESSAGE_STATE, &st) == 0)
        return st < DLR_STATE_MAX ? st : -1;
    if (r->stat.present && r->stat.len)
        return dlr_stat_to_state((const char *)txt.ptr + r->stat.off,
                                 r->stat.len);
    return -1;
}

/* <id> in form <f>, canonical, into <key>: its length, or -1 when <id>
 * has no such form (not a number of that radix, too big, empty). These
 * are the forms dlr_id_candidates() lists, built from the same
 * primitives so that we know which is which. */
static int id_form_key(const char *id, size_t len, enum smpp_load_id_form f,
                       char key[DLR_ID_MAX + 1])
{
    uint64_t v;
    switch (f) {
    case SMPP_LOAD_FORM_SAME:
        return dlr_id_canonical(id, len, key, DLR_ID_MAX + 1);
    case SMPP_LOAD_FORM_DEC2HEX:
        if (dlr_id_to_u64(id, len, 10, &v) != 0)
            return -1;
        return dlr_id_from_u64(v, 16, 1, key, DLR_ID_MAX + 1);
    case SMPP_LOAD_FORM_HEX2DEC:
        if (dlr_id_to_u64(id, len, 16, &v) != 0)
            return -1;
        return dlr_id_from_u64(v, 10, 0, key, DLR_ID_MAX + 1);
    default:
        return -1;
    }
}

/* The SUBMIT entry <id> names in form <f>, or NULL. */
static struct smpp_load_id *lookup_form(struct smpp_load *ld, const char *id,
                                        size_t len, enum smpp_load_id_form f)
{
    char key[DLR_ID_MAX + 1];
    int kl = id_form_key(id, len, f, key);
    struct smpp_load_id *e =
        kl > 0 ? smpp_load_ids_find(&ld->ids, key, (size_t)kl) : NULL;
    if (!e || e->kind != SMPP_LOAD_ID_SUBMIT)
        return NULL;
    return e;
}

/* <id> read as decimal-in-hex or hex-in-decimal: an unmatched hit first
 * (the older when both forms hit one: receipts come roughly in order),
 * else a matched one (a duplicate), else NULL. */
static struct smpp_load_id *lookup_converted(struct smpp_load *ld,
                                             const char *id, size_t len,
                                             int *form)
{
    static const enum smpp_load_id_form forms[] = {SMPP_LOAD_FORM_DEC2HEX,
                                                   SMPP_LOAD_FORM_HEX2DEC};
    struct smpp_load_id *pick = NULL, *dup = NULL;
    int dup_form = 0;
    for (size_t k = 0; k < ARRAY_LEN(forms); k++) {
        struct smpp_load_id *e = lookup_form(ld, id, len, forms[k]);
        if (!e)
            continue;
        if (e->matched) {
            dup = e, dup_form = forms[k];
        } else if (!pick || e->t_us < pick->t_us) {
            pick = e;
            *form = forms[k];
        }
    }
    if (!pick && dup)
        *form = dup_form;
    return pick ? pick : dup;
}

/* The form an id is looked up in first: the TLV is the resp's id by
 * definition (SMPP 3.4 §5.3.2.12); the text's is the pinned form, if any,
 * else exact. */
static enum smpp_load_id_form first_form(const struct smpp_load *ld,
                                         enum smpp_load_via via)
{
    if (via == SMPP_LOAD_VIA_TLV || ld->opts.id_form == SMPP_LOAD_FORM_AUTO)
        return SMPP_LOAD_FORM_SAME;
    return ld->opts.id_form;
}

/* The form --dlr-id-form pins; SAME for auto. Some SMSCs convert the
 * TLV too, against the spec: a receipt with no text id has its TLV tried
 * in this form after SAME. (With a text id, the text decides: trying the
 * TLV converted would hit other messages whenever the TLV is right.) */
static enum smpp_load_id_form pinned_form(const struct smpp_load *ld)
{
    return ld->opts.id_form == SMPP_LOAD_FORM_AUTO ? SMPP_LOAD_FORM_SAME
                                                   : ld->opts.id_form;
}

/* Converted forms are worth a try: auto, and no resp is still due. */
static int try_converted(const struct smpp_load *ld)
{
    return ld->opts.id_form == SMPP_LOAD_FORM_AUTO &&
           ld->phase > SMPP_LOAD_PH_DRAINING;
}

/* Park a final receipt whose submit_sm_resp has not come (yet), keyed
 * as the resp will be: canonical, or converted by a pinned --dlr-id-form. */
static void park_early(struct smpp_load *ld, const struct rcpt_id *id,
                       uint64_t now)
{
    char key[DLR_ID_MAX + 1];
    enum smpp_load_id_form f = first_form(ld, id->via);
    int kl = id_form_key(id->p, id->len, f, key);
    if (kl <= 0) {
        ld->c.unmatched++;
        return;
    }
    if (smpp_load_ids_find(&ld->ids, key, (size_t)kl)) {
        ld->c.duplicate++; /* the same early receipt, again */
        return;
    }
    struct smpp_load_id *e =
        smpp_load_ids_add(&ld->ids, key, (size_t)kl, now, SMPP_LOAD_ID_EARLY);
    if (!e) {
        ld->c.unmatched++;
        return;
    }
    e->early_via = (uint8_t)id->via;
    e->early_form = (uint8_t)f;
    ld->c.early++;
}

static size_t receipt_ids(const struct pdu *p, struct pdu_view txt,
                          const struct dlr_receipt *r, struct rcpt_id out[2])
{
    size_t n = 0;
    struct pdu_view v;
    if (pdu_tlv_cstr(p, PDU_TLV_RECEIPTED_MESSAGE_ID, &v) == 0 && v.len)
        out[n++] = (struct rcpt_id){(const char *)v.ptr, v.len,
                                    SMPP_LOAD_VIA_TLV};
    if (r->id.present && r->id.len)
        out[n++] = (struct rcpt_id){(const char *)txt.ptr + r->id.off,
                                    r->id.len, SMPP_LOAD_VIA_TEXT};
    return n;
}

/* Count a receipt that named <e> (found in <form>, through <via>). */
static void count_hit(struct smpp_load *ld, struct smpp_load_id *e,
                      enum smpp_load_via via, int form, uint64_t arrival_us)
{
    if (e->matched)
        ld->c.duplicate++;
    else
        record_match(ld, e, via, form, arrival_us);
}

static void match_final(struct smpp_load *ld, const struct rcpt_id *ids,
                        size_t nids, uint64_t now)
{
    struct smpp_load_id *e;
    int form;
    if (!ld->opts.dlr || nids == 0) {
        ld->c.unmatched++; /* not asked for, or names no message */
        return;
    }
    for (size_t k = 0; k < nids; k++) {
        enum smpp_load_id_form f = first_form(ld, ids[k].via);
        if ((e = lookup_form(ld, ids[k].p, ids[k].len, f)) ||
            (nids == 1 && f != pinned_form(ld) &&
             (e = lookup_form(ld, ids[k].p, ids[k].len, f = pinned_form(ld))))) {
            count_hit(ld, e, ids[k].via, f, now);
            return;
        }
    }
    if (!try_converted(ld)) {
        /* Keyed as its resp will be: the text id in a pinned form when
         * there is one, else the first id as given. */
        park_early(ld, &ids[nids > 1 && pinned_form(ld) != SMPP_LOAD_FORM_SAME
                                ? 1 : 0], now);
        return;
    }
    for (size_t k = 0; k < nids; k++)
        if ((e = lookup_converted(ld, ids[k].p, ids[k].len, &form))) {
            count_hit(ld, e, ids[k].via, form, now);
            return;
        }
    ld->c.unmatched++;
}

void smpp_load_dlr_inbound(struct smpp_load *ld, const struct pdu *p,
                           uint64_t now)
{
    if (!is_receipt(p)) {
        ld->c.mo++;
        return;
    }
    struct pdu_view txt = receipt_text(p);
    struct dlr_receipt r;
    dlr_parse((const char *)txt.ptr, txt.len, &r);
    ld->c.receipts++;
    ld->last_receipt_us = now;
    int state = receipt_state(p, txt, &r);
    if ((p->esm_class & ESM_TYPE_MASK) == ESM_TYPE_INTERMEDIATE ||
        (state >= 0 && !dlr_state_is_final(state))) {
        ld->c.intermediate++; /* not final: neither a match nor a dup */
        return;
    }
    ld->c.receipts_final++;
    ld->c.states[state >= 0 ? state : DLR_STATE_MAX]++;
    struct rcpt_id ids[2];
    size_t nids = receipt_ids(p, txt, &r, ids);
    match_final(ld, ids, nids, now);
}

/*
 * Every response is in: no resp can still bring a parked receipt's exact
 * id, so try the converted forms (auto only). A parked entry that finds
 * its message here is marked matched, so that it is not counted twice.
 * Called when draining ends, and again at the very end.
 */
void smpp_load_dlr_resolve_parked(struct smpp_load *ld)
{
    char key[DLR_ID_MAX + 1];
    if (ld->opts.id_form != SMPP_LOAD_FORM_AUTO)
        return;
    for (size_t g = 0; g < ARRAY_LEN(ld->ids.gen); g++) {
        const struct smpp_load_id_gen *gen = &ld->ids.gen[g];
        for (size_t i = 0; i < gen->n; i++) {
            struct smpp_load_id *p = &gen->e[i];
            if (p->kind != SMPP_LOAD_ID_EARLY || p->matched)
                continue;
            size_t kl = p->key_len;
            memcpy(key, smpp_load_ids_key(gen, p), kl);
            int form;
            struct smpp_load_id *e = lookup_converted(ld, key, kl, &form);
            if (!e)
                continue;
            p->matched = 1;
            count_hit(ld, e, (enum smpp_load_via)p->early_via, form, p->t_us);
        }
    }
}

/* End of run: what is still parked is unmatched; what was never matched
 * is missing. */
void smpp_load_dlr_finish(struct smpp_load *ld)
{
    smpp_load_dlr_resolve_parked(ld);
    for (size_t g = 0; g < ARRAY_LEN(ld->ids.gen); g++)
        for (size_t i = 0; i < ld->ids.gen[g].n; i++) {
            const struct smpp_load_id *e = &ld->ids.gen[g].e[i];
            if (e->kind == SMPP_LOAD_ID_EARLY && !e->matched)
                ld->c.unmatched++;
        }
    ld->c.missing = ld->c.expected > ld->c.matched
                        ? ld->c.expected - ld->c.matched : 0;
}

uint64_t smpp_load_dlr_pending(const struct smpp_load *ld)
{
    return ld->c.expected > ld->c.matched ? ld->c.expected - ld->c.matched
                                          : 0;
}
