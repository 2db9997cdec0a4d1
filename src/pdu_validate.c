/*
 * pdu_validate.c - value checks on decoded requests, and SMPP time.
 *
 * pdu_decode() guarantees structure; this file decides whether the values
 * are ones a server accepts. Each check returns the command_status the
 * spec names for that field (SMPP 3.4 §5.2 for the fields, and its
 * command_status table).
 */
#include "common.h"

#include <string.h>

#include "pdu.h"

/* TON 0-6 (SMPP 3.4 addr_ton values; 7 is reserved). */
static int ton_valid(uint8_t ton)
{
    return ton <= 6;
}

/* NPI values SMPP 3.4 defines for addr_npi. */
static int npi_valid(uint8_t npi)
{
    switch (npi) {
    case 0: case 1: case 3: case 4: case 6: case 8: case 9: case 10:
    case 14: case 18:
        return 1;
    default:
        return 0;
    }
}

static uint32_t check_source(const struct pdu *p)
{
    if (!ton_valid(p->source_addr_ton))
        return ESME_RINVSRCTON;
    if (!npi_valid(p->source_addr_npi))
        return ESME_RINVSRCNPI;
    return ESME_ROK;
}

static uint32_t check_dest(const struct pdu *p)
{
    if (!ton_valid(p->dest_addr_ton))
        return ESME_RINVDSTTON;
    if (!npi_valid(p->dest_addr_npi))
        return ESME_RINVDSTNPI;
    if (p->destination_addr.len == 0)
        return ESME_RINVDSTADR;
    return ESME_ROK;
}

/* registered_delivery bits 7-5 are reserved (3.4 §5.2.17). 0x03 in bits
 * 1-0 is reserved in 3.4 and "success only" in 5.0: accepted. */
static uint32_t check_registered_delivery(uint8_t rd)
{
    return (rd & 0xE0) ? ESME_RINVREGDLVFLG : ESME_ROK;
}

/* An ESME submits normal messages or ESME acknowledgements; receipt and
 * intermediate-notification types (0x04, 0x20, ...) come only from an
 * SMSC (esm_class, 3.4 §5.2.12). */
static uint32_t check_submit_esm_class(uint8_t esm)
{
    uint8_t type = esm & 0x3C;
    if (type != 0x00 && type != 0x08 && type != 0x10)
        return ESME_RINVESMCLASS;
    return ESME_ROK;
}

/* sar_msg_ref_num, sar_total_segments and sar_segment_seqnum come as a
 * set (the SAR TLVs of 3.4 §5.3.2): all or none, 1 <= seqnum <= total. */
static uint32_t check_sar(const struct pdu *p)
{
    uint16_t ref;
    uint8_t total, seq;
    int n = (pdu_tlv_u16(p, PDU_TLV_SAR_MSG_REF_NUM, &ref) == 0) +
            (pdu_tlv_u8(p, PDU_TLV_SAR_TOTAL_SEGMENTS, &total) == 0) +
            (pdu_tlv_u8(p, PDU_TLV_SAR_SEGMENT_SEQNUM, &seq) == 0);
    if (n == 0)
        return ESME_ROK;
    if (n != 3)
        return ESME_RMISSINGOPTPARAM;
    if (total == 0 || seq == 0 || seq > total)
        return ESME_RINVOPTPARAMVAL;
    return ESME_ROK;
}

static uint32_t check_payload(const struct pdu *p)
{
    if (p->short_message.len && pdu_tlv_find(p, PDU_TLV_MESSAGE_PAYLOAD))
        return ESME_ROPTPARNOTALLWD;
    return ESME_ROK;
}

static uint32_t check_times(const struct pdu *p)
{
    if (pdu_time_check(p->schedule_delivery_time) != 0)
        return ESME_RINVSCHED;
    if (pdu_time_check(p->validity_period) != 0)
        return ESME_RINVEXPIRY;
    return ESME_ROK;
}

/* Checks shared by submit_sm and submit_multi from esm_class on. */
static uint32_t check_sm_tail(const struct pdu *p)
{
    uint32_t st;
    if ((st = check_submit_esm_class(p->esm_class)) != ESME_ROK)
        return st;
    if (p->priority_flag > 3)
        return ESME_RINVPRTFLG;
    if ((st = check_times(p)) != ESME_ROK)
        return st;
    if ((st = check_registered_delivery(p->registered_delivery)) != ESME_ROK)
        return st;
    if (p->replace_if_present_flag > 1)
        return ESME_RINVREPFLAG;
    if ((st = check_payload(p)) != ESME_ROK)
        return st;
    return check_sar(p);
}

static uint32_t check_submit_sm(const struct pdu *p)
{
    uint32_t st;
    if ((st = check_source(p)) != ESME_ROK)
        return st;
    if ((st = check_dest(p)) != ESME_ROK)
        return st;
    return check_sm_tail(p);
}

static uint32_t check_submit_multi(const struct pdu *p)
{
    uint32_t st;
    if ((st = check_source(p)) != ESME_ROK)
        return st;
    if (p->number_of_dests == 0 || p->number_of_dests > PDU_MAX_DESTS)
        return ESME_RINVNUMDESTS;
    struct pdu_view cur = p->dest_list;
    struct pdu_dest d;
    while (pdu_dest_next(&cur, &d)) {
        if (d.dest_flag == 2)
            continue;
        if (!ton_valid(d.ton))
            return ESME_RINVDSTTON;
        if (!npi_valid(d.npi))
            return ESME_RINVDSTNPI;
        if (d.addr.len == 0)
            return ESME_RINVDSTADR;
    }
    return check_sm_tail(p);
}

static uint32_t check_data_sm(const struct pdu *p)
{
    uint32_t st;
    if ((st = check_source(p)) != ESME_ROK)
        return st;
    if ((st = check_dest(p)) != ESME_ROK)
        return st;
    if ((st = check_submit_esm_class(p->esm_class)) != ESME_ROK)
        return st;
    if ((st = check_registered_delivery(p->registered_delivery)) != ESME_ROK)
        return st;
    return check_sar(p);
}

static uint32_t check_replace_sm(const struct pdu *p)
{
    uint32_t st;
    if (p->message_id.len == 0)
        return ESME_RINVMSGID;
    if ((st = check_source(p)) != ESME_ROK)
        return st;
    if ((st = check_times(p)) != ESME_ROK)
        return st;
    if ((st = check_registered_delivery(p->registered_delivery)) != ESME_ROK)
        return st;
    return check_payload(p);
}

uint32_t pdu_validate(const struct pdu *p)
{
    switch (p->command_id) {
    case PDU_SUBMIT_SM:
        return check_submit_sm(p);
    case PDU_SUBMIT_MULTI:
        return check_submit_multi(p);
    case PDU_DATA_SM:
        return check_data_sm(p);
    case PDU_REPLACE_SM:
        return check_replace_sm(p);
    case PDU_QUERY_SM:
    case PDU_QUERY_BROADCAST_SM:
        if (p->message_id.len == 0)
            return ESME_RINVMSGID;
        return check_source(p);
    case PDU_CANCEL_SM:
        /* An empty message_id cancels by source and destination (3.4
         * §4.9.1), so only the addresses are checked. */
        return check_source(p);
    case PDU_BROADCAST_SM:
        if (p->priority_flag > 3)
            return ESME_RINVPRTFLG;
        if (p->replace_if_present_flag > 1)
            return ESME_RINVREPFLAG;
        return check_times(p);
    default:
        return ESME_ROK;
    }
}

/* ---- SMPP time (SMPP 3.4 §7.1) -------------------------------------- */

static int two_digits(const uint8_t *s, int *out)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

struct smpp_time {
    int yy, mon, day, hh, mm, ss, tenths, nn;
    char p;
};

static int time_parse(struct pdu_view t, struct smpp_time *o)
{
    const uint8_t *s = t.ptr;
    if (t.len != 16)
        return -1;
    if (two_digits(s, &o->yy) || two_digits(s + 2, &o->mon) ||
        two_digits(s + 4, &o->day) || two_digits(s + 6, &o->hh) ||
        two_digits(s + 8, &o->mm) || two_digits(s + 10, &o->ss) ||
        two_digits(s + 13, &o->nn) || s[12] < '0' || s[12] > '9')
        return -1;
    o->tenths = s[12] - '0';
    o->p = (char)s[15];
    if (o->p == 'R')
        return 0;
    if (o->p != '+' && o->p != '-')
        return -1;
    if (o->mon < 1 || o->mon > 12 || o->day < 1 || o->day > 31 ||
        o->hh > 23 || o->mm > 59 || o->ss > 59 || o->nn > 48)
        return -1;
    return 0;
}

int pdu_time_check(struct pdu_view t)
{
    struct smpp_time st;
    if (t.len == 0)
        return 0;
    return time_parse(t, &st);
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (the civil-from-days inverse; valid for any year we meet). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int pdu_time_to_unix(struct pdu_view t, time_t now, time_t *out)
{
    struct smpp_time st;
    if (time_parse(t, &st) != 0)
        return -1;
    if (st.p == 'R') {
        struct tm tm;
        if (!gmtime_r(&now, &tm))
            return -1;
        long months = tm.tm_mon + st.mon + 12L * st.yy;
        long y = tm.tm_year + 1900L + months / 12;
        long days = days_from_civil(y, months % 12 + 1, tm.tm_mday) + st.day;
        *out = (time_t)(days * 86400L + (tm.tm_hour + st.hh) * 3600L +
                        (tm.tm_min + st.mm) * 60L + tm.tm_sec + st.ss);
        return 0;
    }
    long days = days_from_civil(2000 + st.yy, st.mon, st.day);
    long secs = days * 86400L + st.hh * 3600L + st.mm * 60L + st.ss;
    long offset = st.nn * 900L;
    *out = (time_t)(st.p == '+' ? secs - offset : secs + offset);
    return 0;
}
