/*
 * test_pdu_tshark.c - oracle: Wireshark's SMPP dissector reads what we
 * encode.
 *
 * Every PDU of pdu_sample_build() plus a few extra ones is encoded, written
 * into a pcap as one TCP stream 127.0.0.1:40000 -> 127.0.0.1:2775 (one
 * segment per PDU after a three-way handshake) and handed to tshark once.
 * For every frame the test expects the command, sequence number, status,
 * length and every mandatory field and TLV value tshark shows to be the
 * ones in our struct pdu, and no malformed marker or expert info of
 * severity warning or error.
 *
 * The expectations are written here from the spec and from what the
 * tshark 4.0 SMPP dissector displays, not derived from pdu_defs.h, so a
 * wrong layout in our tables shows up as a disagreement.
 *
 * What tshark 4.0 (Debian 12, 4.0.17) shows and what it does not:
 *  - it knows every command of pdu_defs.h, the SMPP 5.0 broadcast_sm,
 *    query_broadcast_sm and cancel_broadcast_sm (and their responses)
 *    included, and every TLV the samples carry;
 *  - command_status is shown for responses (generic_nack included) only;
 *    for a request the smpp.command_status field is absent;
 *  - the body of a response whose command_status is not 0 is not dissected;
 *  - an empty service_type shows as "(Default)", an empty schedule/validity
 *    time of submit_sm, deliver_sm, submit_multi, replace_sm and
 *    broadcast_sm as relative time 0; an empty final_date shows nothing;
 *  - submit_multi with an empty validity_period adds its "SMSC default
 *    validity period" to smpp.schedule_delivery_time_r (a tshark quirk,
 *    modelled below);
 *  - a relative time is shown as seconds from DD hh mm ss only (YY and MM
 *    are ignored), so the samples keep YY and MM of relative times at 0;
 *  - fixed-size TLVs are read with their spec size whatever their length
 *    field says (broadcast_rep_num: one octet), so a wrong TLV length of
 *    ours shows up as the following tags being wrong;
 *  - nothing checks that a body ends where command_length says (bytes
 *    after the mandatory fields of a PDU without TLVs are ignored), so the
 *    test also wants smpp.command_length equal to the TCP segment length
 *    and header-only PDUs to be 16 octets;
 *  - esm_class and registered_delivery are shown only as their bit fields
 *    (smpp.esm.submit.*, smpp.regdel.*; bits 5-7 of registered_delivery not
 *    at all); the text of a short message is decoded only for some
 *    data_coding values (below), never for data_coding 0 by default.
 */
#include "common.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pcap_tcp.h"
#include "pdu.h"
#include "pdu_samples.h"
#include "wire.h"

#define SMPP_PORT 2775u
#define CLIENT_PORT 40000u
#define LOCALHOST 0x7f000001u

/* Field separator and aggregator (between repeated occurrences of a field
 * in one frame) of tshark's output: control characters no value of ours
 * contains (tshark escapes them inside strings anyway). */
#define SEP '\x1f'
#define AGG '\x1e'
#define SEP_S "\x1f"
#define AGG_S "\x1e"

/* _ws.expert.severity values (epan/proto.h PI_*). */
#define SEV_WARN 0x00600000ul

enum kind {
    K_NUM, /* integer, printed by tshark in decimal or 0x-hex */
    K_STR, /* string, compared exactly */
    K_HEX, /* bytes, lowercase hex without separators */
};

/*
 * The tshark fields read for every frame. The ones before COMMAND_ID are
 * about the frame; from COMMAND_ID on every column is compared with what
 * the PDU holds, and a field the PDU does not set must be absent.
 */
#define COLUMNS(X)                                                             \
    X(FRAME, "frame.number", K_NUM)                                            \
    X(TCP_LEN, "tcp.len", K_NUM)                                               \
    X(IP_CSUM, "ip.checksum.status", K_NUM)                                    \
    X(TCP_CSUM, "tcp.checksum.status", K_NUM)                                  \
    X(SEVERITY, "_ws.expert.severity", K_NUM)                                  \
    X(EXPERT, "_ws.expert.message", K_STR)                                     \
    X(MALFORMED, "_ws.malformed", K_STR)                                       \
    X(COMMAND_ID, "smpp.command_id", K_NUM)                                    \
    X(SEQUENCE, "smpp.sequence_number", K_NUM)                                 \
    X(STATUS, "smpp.command_status", K_NUM)                                    \
    X(LENGTH, "smpp.command_length", K_NUM)                                    \
    X(SYSTEM_ID, "smpp.system_id", K_STR)                                      \
    X(PASSWORD, "smpp.password", K_STR)                                        \
    X(SYSTEM_TYPE, "smpp.system_type", K_STR)                                  \
    X(INTERFACE_VERSION, "smpp.interface_version", K_NUM)                      \
    X(ADDR_TON, "smpp.addr_ton", K_NUM)                                        \
    X(ADDR_NPI, "smpp.addr_npi", K_NUM)                                        \
    X(ADDRESS_RANGE, "smpp.address_range", K_STR)                              \
    X(SERVICE_TYPE, "smpp.service_type", K_STR)                                \
    X(SRC_TON, "smpp.source_addr_ton", K_NUM)                                  \
    X(SRC_NPI, "smpp.source_addr_npi", K_NUM)                                  \
    X(SRC_ADDR, "smpp.source_addr", K_STR)                                     \
    X(DST_TON, "smpp.dest_addr_ton", K_NUM)                                    \
    X(DST_NPI, "smpp.dest_addr_npi", K_NUM)                                    \
    X(DST_ADDR, "smpp.destination_addr", K_STR)                                \
    X(DL_NAME, "smpp.dl_name", K_STR)                                          \
    X(ESM_MODE, "smpp.esm.submit.msg_mode", K_NUM)                             \
    X(ESM_TYPE, "smpp.esm.submit.msg_type", K_NUM)                             \
    X(ESM_FEATURES, "smpp.esm.submit.features", K_NUM)                         \
    X(PROTOCOL_ID, "smpp.protocol_id", K_NUM)                                  \
    X(PRIORITY, "smpp.priority_flag", K_NUM)                                   \
    X(SCHED, "smpp.schedule_delivery_time", K_STR)                             \
    X(SCHED_R, "smpp.schedule_delivery_time_r", K_STR)                         \
    X(VALIDITY, "smpp.validity_period", K_STR)                                 \
    X(VALIDITY_R, "smpp.validity_period_r", K_STR)                             \
    X(REGDEL_RECEIPT, "smpp.regdel.receipt", K_NUM)                            \
    X(REGDEL_ACKS, "smpp.regdel.acks", K_NUM)                                  \
    X(REGDEL_NOTIF, "smpp.regdel.notif", K_NUM)                                \
    X(REPLACE, "smpp.replace_if_present_flag", K_NUM)                          \
    X(DATA_CODING, "smpp.data_coding", K_NUM)                                  \
    X(SM_DEFAULT_MSG_ID, "smpp.sm_default_msg_id", K_NUM)                      \
    X(SM_LENGTH, "smpp.sm_length", K_NUM)                                      \
    X(SHORT_MESSAGE, "smpp.message", K_HEX)                                    \
    X(MESSAGE_ID, "smpp.message_id", K_STR)                                    \
    X(FINAL_DATE, "smpp.final_date", K_STR)                                    \
    X(FINAL_DATE_R, "smpp.final_date_r", K_STR)                                \
    X(MESSAGE_STATE, "smpp.message_state", K_NUM)                              \
    X(ERROR_CODE, "smpp.error_code", K_NUM)                                    \
    X(ERROR_STATUS_CODE, "smpp.error_status_code", K_NUM)                      \
    X(ESME_TON, "smpp.esme_addr_ton", K_NUM)                                   \
    X(ESME_NPI, "smpp.esme_addr_npi", K_NUM)                                   \
    X(ESME_ADDR, "smpp.esme_addr", K_STR)                                      \
    X(OPT_TAG, "smpp.opt_param_tag", K_NUM)                                    \
    X(OPT_LEN, "smpp.opt_param_len", K_NUM)                                    \
    X(UMR, "smpp.user_message_reference", K_NUM)                               \
    X(NET_ERR_TYPE, "smpp.network_error.type", K_NUM)                          \
    X(NET_ERR_CODE, "smpp.network_error.code", K_NUM)                          \
    X(VENDOR, "smpp.vendor_op", K_HEX)                                         \
    X(RESERVED, "smpp.reserved_op", K_HEX)                                     \
    X(RECEIPTED_ID, "smpp.receipted_message_id", K_STR)                        \
    X(STATUS_TEXT, "smpp.additional_status_info_text", K_STR)                  \
    X(SAR_REF, "smpp.sar_msg_ref_num", K_NUM)                                  \
    X(SAR_TOTAL, "smpp.sar_total_segments", K_NUM)                             \
    X(SAR_SEQ, "smpp.sar_segment_seqnum", K_NUM)                               \
    X(SC_VERSION, "smpp.SC_interface_version", K_NUM)                          \
    X(MS_AVAIL, "smpp.ms_availability_status", K_NUM)                          \
    X(PAYLOAD, "smpp.message_payload", K_HEX)                                  \
    X(BC_CONTENT_NW, "smpp.broadcast_content_type.nw", K_NUM)                  \
    X(BC_CONTENT_TYPE, "smpp.broadcast_content_type.type", K_NUM)              \
    X(BC_REP_NUM, "smpp.broadcast_rep_num", K_NUM)                             \
    X(BC_FREQ_UNIT, "smpp.broadcast_frequency_interval.unit", K_NUM)           \
    X(BC_FREQ_VALUE, "smpp.broadcast_frequency_interval.value", K_NUM)         \
    X(BC_AREA_FORMAT, "smpp.broadcast_area_identifier.format", K_NUM)          \
    X(BC_AREA_ID, "smpp.broadcast_area_identifier", K_HEX)                     \
    X(UDH_IEI, "gsm_sms.ie_identifier", K_NUM)                                 \
    X(UDH_REF, "gsm_sms.udh.mm.msg_id", K_NUM)                                 \
    X(UDH_PARTS, "gsm_sms.udh.mm.msg_parts", K_NUM)                            \
    X(UDH_PART, "gsm_sms.udh.mm.msg_part", K_NUM)                              \
    X(TEXT, "smpp.message_text", K_STR)

enum column {
#define COL_ENUM(id, field, kind) C_##id,
    COLUMNS(COL_ENUM)
#undef COL_ENUM
    NCOLS
};

static const char *const col_field[NCOLS] = {
#define COL_FIELD(id, field, kind) field,
    COLUMNS(COL_FIELD)
#undef COL_FIELD
};

static const enum kind col_kind[NCOLS] = {
#define COL_KIND(id, field, kind) kind,
    COLUMNS(COL_KIND)
#undef COL_KIND
};

/* ---- expectations --------------------------------------------------- */

#define EXPECT_CAP 4096

/* What tshark should print for one frame: per column the occurrences
 * joined with AGG, as tshark joins them. */
struct expect {
    char val[NCOLS][EXPECT_CAP];
    size_t len[NCOLS];
    unsigned count[NCOLS]; /* occurrences put so far */
    int skip[NCOLS];       /* not predictable: not compared */
};

/* Append one occurrence to column c; occurrences after the first are
 * separated by AGG, as tshark separates them. */
static void put(struct expect *e, enum column c, const char *s, size_t n)
{
    size_t sep = e->count[c] > 0;
    cr_assert_lt(e->len[c] + sep + n, EXPECT_CAP,
                 "expectation for %s too long", col_field[c]);
    if (sep)
        e->val[c][e->len[c]++] = AGG;
    if (n)
        memcpy(e->val[c] + e->len[c], s, n);
    e->len[c] += n;
    e->val[c][e->len[c]] = '\0';
    e->count[c]++;
}

static void put_str(struct expect *e, enum column c, const char *s)
{
    put(e, c, s, strlen(s));
}

static void put_view(struct expect *e, enum column c, struct pdu_view v)
{
    put(e, c, (const char *)v.ptr, v.len);
}

static void put_num(struct expect *e, enum column c, unsigned long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lu", v);
    put(e, c, buf, (size_t)n);
}

static void put_hex(struct expect *e, enum column c, const uint8_t *p,
                    size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char buf[2 * 1024];
    cr_assert_leq(2 * n, sizeof buf, "hex value too long for the test");
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = digits[p[i] >> 4];
        buf[2 * i + 1] = digits[p[i] & 15];
    }
    put(e, c, buf, 2 * n);
}

static void expect_reset(struct expect *e)
{
    memset(e->len, 0, sizeof e->len);
    memset(e->count, 0, sizeof e->count);
    memset(e->skip, 0, sizeof e->skip);
    for (int c = 0; c < NCOLS; c++)
        e->val[c][0] = '\0';
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static long two_digits(const uint8_t *p)
{
    return (p[0] - '0') * 10L + (p[1] - '0');
}

enum empty_time {
    EMPTY_TIME_ABSENT,   /* query_sm_resp final_date: nothing shown */
    EMPTY_TIME_ZERO_REL, /* message PDUs: relative 0 in <rel> */
};

/*
 * An SMPP time "YYMMDDhhmmsstnnp" as tshark shows it: an absolute one in
 * <abs> as "Mon DD, YYYY hh:mm:ss.t00000000 UTC" after applying the
 * quarter-hour offset, a relative one in <rel> as seconds.
 */
static void put_time(struct expect *e, enum column abs, enum column rel,
                     struct pdu_view t, enum empty_time empty, enum column
                     empty_col)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
                                         "May", "Jun", "Jul", "Aug",
                                         "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    int n;
    if (t.len == 0) {
        if (empty == EMPTY_TIME_ZERO_REL)
            put_str(e, empty_col, "0.000000000");
        return;
    }
    cr_assert_eq(t.len, 16, "time field of %zu characters", t.len);
    const uint8_t *s = t.ptr;
    long yy = two_digits(s), mon = two_digits(s + 2), dd = two_digits(s + 4);
    long hh = two_digits(s + 6), mi = two_digits(s + 8), ss = two_digits(s + 10);
    long tenths = s[12] - '0', nn = two_digits(s + 13);
    if (s[15] == 'R') {
        /* tshark ignores YY and MM of a relative time. */
        cr_assert(yy == 0 && mon == 0,
                  "relative time with years or months: tshark shows it "
                  "wrongly, use another value in the test");
        long secs = ss + 60 * (mi + 60 * (hh + 24 * dd));
        n = snprintf(buf, sizeof buf, "%ld.000000000", secs);
        put(e, rel, buf, (size_t)n);
        return;
    }
    /* Appendix C of 3.4 and tshark: years below 38 are 20YY. */
    long year = yy < 38 ? 2000 + yy : 1900 + yy;
    long secs = days_from_civil(year, mon, dd) * 86400L + hh * 3600L +
                mi * 60L + ss;
    secs += s[15] == '-' ? nn * 900L : -nn * 900L;
    time_t tt = (time_t)secs;
    struct tm tm;
    cr_assert_not_null(gmtime_r(&tt, &tm));
    n = snprintf(buf, sizeof buf, "%s %2d, %d %02d:%02d:%02d.%ld00000000 UTC",
                 months[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, tenths);
    put(e, abs, buf, (size_t)n);
}

static void put_esm_class(struct expect *e, uint8_t esm)
{
    put_num(e, C_ESM_MODE, esm & 0x03u);
    put_num(e, C_ESM_TYPE, (esm >> 2) & 0x0fu);
    put_num(e, C_ESM_FEATURES, esm >> 6);
}

static void put_regdel(struct expect *e, uint8_t rd)
{
    cr_assert_eq(rd & 0xe0u, 0,
                 "registered_delivery bits 5-7 are not shown by tshark; the "
                 "test cannot check 0x%02x", rd);
    put_num(e, C_REGDEL_RECEIPT, rd & 0x03u);
    put_num(e, C_REGDEL_ACKS, (rd >> 2) & 0x03u);
    put_num(e, C_REGDEL_NOTIF, (rd >> 4) & 0x01u);
}

/* A C-Octet String: tshark shows an empty service_type as "(Default)". */
static void put_service_type(struct expect *e, struct pdu_view v)
{
    if (v.len == 0)
        put_str(e, C_SERVICE_TYPE, "(Default)");
    else
        put_view(e, C_SERVICE_TYPE, v);
}

static void need_len(const struct pdu_tlv *t, uint16_t len)
{
    cr_assert_eq(t->len, len, "TLV 0x%04x of length %u: tshark reads %u",
                 t->tag, t->len, len);
}

/* A string TLV shows up to its NUL. */
static void put_tlv_cstr(struct expect *e, enum column c,
                         const struct pdu_tlv *t)
{
    if (t->len == 0)
        return;
    const uint8_t *nul = memchr(t->val, 0, t->len);
    put(e, c, (const char *)t->val,
        nul ? (size_t)(nul - t->val) : (size_t)t->len);
}

/* One TLV: its tag and length, and the value where tshark decodes it. */
static void put_tlv(struct expect *e, const struct pdu_tlv *t)
{
    put_num(e, C_OPT_TAG, t->tag);
    put_num(e, C_OPT_LEN, t->len);
    switch (t->tag) {
    case PDU_TLV_USER_MESSAGE_REFERENCE:
        need_len(t, 2);
        put_num(e, C_UMR, wire_read_u16(t->val));
        break;
    case PDU_TLV_NETWORK_ERROR_CODE:
        need_len(t, 3);
        put_num(e, C_NET_ERR_TYPE, t->val[0]);
        put_num(e, C_NET_ERR_CODE, wire_read_u16(t->val + 1));
        break;
    case PDU_TLV_RECEIPTED_MESSAGE_ID:
        put_tlv_cstr(e, C_RECEIPTED_ID, t);
        break;
    case PDU_TLV_ADDITIONAL_STATUS_INFO_TEXT:
        put_tlv_cstr(e, C_STATUS_TEXT, t);
        break;
    case PDU_TLV_MESSAGE_STATE:
        need_len(t, 1);
        put_num(e, C_MESSAGE_STATE, t->val[0]);
        break;
    case PDU_TLV_SAR_MSG_REF_NUM:
        need_len(t, 2);
        put_num(e, C_SAR_REF, wire_read_u16(t->val));
        break;
    case PDU_TLV_SAR_TOTAL_SEGMENTS:
        need_len(t, 1);
        put_num(e, C_SAR_TOTAL, t->val[0]);
        break;
    case PDU_TLV_SAR_SEGMENT_SEQNUM:
        need_len(t, 1);
        put_num(e, C_SAR_SEQ, t->val[0]);
        break;
    case PDU_TLV_SC_INTERFACE_VERSION:
        need_len(t, 1);
        put_num(e, C_SC_VERSION, t->val[0]);
        break;
    case PDU_TLV_MS_AVAILABILITY_STATUS:
        need_len(t, 1);
        put_num(e, C_MS_AVAIL, t->val[0]);
        break;
    case PDU_TLV_MESSAGE_PAYLOAD:
        if (t->len)
            put_hex(e, C_PAYLOAD, t->val, t->len);
        break;
    case PDU_TLV_BROADCAST_CONTENT_TYPE:
        need_len(t, 3);
        put_num(e, C_BC_CONTENT_NW, t->val[0]);
        put_num(e, C_BC_CONTENT_TYPE, wire_read_u16(t->val + 1));
        break;
    case PDU_TLV_BROADCAST_REP_NUM:
        need_len(t, 1); /* tshark reads one octet */
        put_num(e, C_BC_REP_NUM, t->val[0]);
        break;
    case PDU_TLV_BROADCAST_FREQUENCY_INTERVAL:
        need_len(t, 3);
        put_num(e, C_BC_FREQ_UNIT, t->val[0]);
        put_num(e, C_BC_FREQ_VALUE, wire_read_u16(t->val + 1));
        break;
    case PDU_TLV_BROADCAST_AREA_IDENTIFIER:
        cr_assert_geq(t->len, 1);
        put_num(e, C_BC_AREA_FORMAT, t->val[0]);
        put_hex(e, C_BC_AREA_ID, t->val, t->len);
        break;
    default:
        cr_assert(t->tag >= 0x1400 && t->tag <= 0x3fff,
                  "TLV 0x%04x (%s): the test does not know how tshark shows "
                  "it; add it to put_tlv()",
                  t->tag, pdu_tlv_name(t->tag) ? pdu_tlv_name(t->tag) : "?");
        put_hex(e, C_VENDOR, t->val, t->len);
        break;
    }
}

static void put_tlvs(struct expect *e, const struct pdu *p)
{
    for (unsigned i = 0; i < p->tlv_count; i++)
        put_tlv(e, &p->tlvs[i]);
}

static int printable_ascii(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

/*
 * The user data of a message PDU (short_message, or message_payload, which
 * tshark prefers): its UDH information elements when esm_class has UDHI,
 * and the text tshark decodes. tshark decodes text for data_coding 1
 * (IA5) and 3 (Latin 1), which the test checks when it is printable ASCII;
 * for data_coding 0 it shows none (preference smpp.decode_sms_over_smpp is
 * None); other codings (UCS2, GSM 7-bit with classes, ...) are decoded by
 * tshark but not compared here, that is the text module's business.
 */
static void put_user_data(struct expect *e, const struct pdu *p,
                          int has_dcs)
{
    struct pdu_view ud = p->short_message;
    const struct pdu_tlv *pl = pdu_tlv_find(p, PDU_TLV_MESSAGE_PAYLOAD);
    if (pl && pl->len) {
        ud.ptr = pl->val;
        ud.len = pl->len;
    }
    if (ud.len == 0)
        return;
    size_t text_off = 0;
    if (p->esm_class & 0x40) {
        size_t udhl = ud.ptr[0];
        cr_assert_lt(udhl, ud.len, "UDH longer than the user data");
        for (size_t i = 1; i + 1 < 1 + udhl;) {
            uint8_t iei = ud.ptr[i], iel = ud.ptr[i + 1];
            const uint8_t *v = ud.ptr + i + 2;
            cr_assert_leq(i + 2 + iel, 1 + udhl, "UDH IE runs past the UDH");
            put_num(e, C_UDH_IEI, iei);
            if (iei == 0x00 && iel == 3) {
                put_num(e, C_UDH_REF, v[0]);
                put_num(e, C_UDH_PARTS, v[1]);
                put_num(e, C_UDH_PART, v[2]);
            } else if (iei == 0x08 && iel == 4) {
                put_num(e, C_UDH_REF, wire_read_u16(v));
                put_num(e, C_UDH_PARTS, v[2]);
                put_num(e, C_UDH_PART, v[3]);
            }
            i += 2 + (size_t)iel;
        }
        text_off = 1 + udhl;
    }
    uint8_t dcs = has_dcs ? p->data_coding : 0;
    const uint8_t *text = ud.ptr + text_off;
    size_t text_len = ud.len - text_off;
    if (dcs == 0)
        return; /* no text shown */
    if ((dcs == 1 || dcs == 3) && printable_ascii(text, text_len))
        put(e, C_TEXT, (const char *)text, text_len);
    else
        e->skip[C_TEXT] = 1;
}

/* The fields of submit_sm / deliver_sm / submit_multi from esm_class on. */
static void put_sm_tail(struct expect *e, const struct pdu *p, int multi)
{
    put_esm_class(e, p->esm_class);
    put_num(e, C_PROTOCOL_ID, p->protocol_id);
    put_num(e, C_PRIORITY, p->priority_flag);
    put_time(e, C_SCHED, C_SCHED_R, p->schedule_delivery_time,
             EMPTY_TIME_ZERO_REL, C_SCHED_R);
    /* tshark files an empty submit_multi validity under the schedule. */
    put_time(e, C_VALIDITY, C_VALIDITY_R, p->validity_period,
             EMPTY_TIME_ZERO_REL, multi ? C_SCHED_R : C_VALIDITY_R);
    put_regdel(e, p->registered_delivery);
    put_num(e, C_REPLACE, p->replace_if_present_flag);
    put_num(e, C_DATA_CODING, p->data_coding);
    put_num(e, C_SM_DEFAULT_MSG_ID, p->sm_default_msg_id);
    put_num(e, C_SM_LENGTH, p->short_message.len);
    if (p->short_message.len)
        put_hex(e, C_SHORT_MESSAGE, p->short_message.ptr,
                p->short_message.len);
    put_tlvs(e, p);
    put_user_data(e, p, 1);
}

static void put_source(struct expect *e, const struct pdu *p)
{
    put_num(e, C_SRC_TON, p->source_addr_ton);
    put_num(e, C_SRC_NPI, p->source_addr_npi);
    put_view(e, C_SRC_ADDR, p->source_addr);
}

static void put_dest(struct expect *e, const struct pdu *p)
{
    put_num(e, C_DST_TON, p->dest_addr_ton);
    put_num(e, C_DST_NPI, p->dest_addr_npi);
    put_view(e, C_DST_ADDR, p->destination_addr);
}

/*
 * What tshark 4.0 should show for <p> sent as <len> bytes. The mandatory
 * fields of every command are listed here from the spec, in wire order.
 */
static void expect_pdu(struct expect *e, const struct pdu *p, size_t len)
{
    expect_reset(e);
    put_num(e, C_COMMAND_ID, p->command_id);
    put_num(e, C_SEQUENCE, p->sequence_number);
    if (pdu_is_resp(p->command_id))
        put_num(e, C_STATUS, p->command_status);
    put_num(e, C_LENGTH, len);
    /* The body of a failed response is not dissected. */
    if (pdu_is_resp(p->command_id) && p->command_status != ESME_ROK)
        return;

    switch (p->command_id) {
    case PDU_BIND_RECEIVER:
    case PDU_BIND_TRANSMITTER:
    case PDU_BIND_TRANSCEIVER:
        put_view(e, C_SYSTEM_ID, p->system_id);
        put_view(e, C_PASSWORD, p->password);
        put_view(e, C_SYSTEM_TYPE, p->system_type);
        put_num(e, C_INTERFACE_VERSION, p->interface_version);
        put_num(e, C_ADDR_TON, p->addr_ton);
        put_num(e, C_ADDR_NPI, p->addr_npi);
        put_view(e, C_ADDRESS_RANGE, p->address_range);
        break;
    case PDU_BIND_RECEIVER_RESP:
    case PDU_BIND_TRANSMITTER_RESP:
    case PDU_BIND_TRANSCEIVER_RESP:
        put_view(e, C_SYSTEM_ID, p->system_id);
        put_tlvs(e, p);
        break;
    case PDU_OUTBIND:
        put_view(e, C_SYSTEM_ID, p->system_id);
        put_view(e, C_PASSWORD, p->password);
        break;
    case PDU_QUERY_SM:
    case PDU_QUERY_BROADCAST_SM:
        put_view(e, C_MESSAGE_ID, p->message_id);
        put_source(e, p);
        put_tlvs(e, p);
        break;
    case PDU_QUERY_SM_RESP:
        put_view(e, C_MESSAGE_ID, p->message_id);
        put_time(e, C_FINAL_DATE, C_FINAL_DATE_R, p->final_date,
                 EMPTY_TIME_ABSENT, C_FINAL_DATE_R);
        put_num(e, C_MESSAGE_STATE, p->message_state);
        put_num(e, C_ERROR_CODE, p->error_code);
        break;
    case PDU_SUBMIT_SM:
    case PDU_DELIVER_SM:
        put_service_type(e, p->service_type);
        put_source(e, p);
        put_dest(e, p);
        put_sm_tail(e, p, 0);
        break;
    case PDU_SUBMIT_MULTI: {
        put_service_type(e, p->service_type);
        put_source(e, p);
        struct pdu_view cur = p->dest_list;
        struct pdu_dest d;
        unsigned n = 0;
        while (pdu_dest_next(&cur, &d)) {
            n++;
            if (d.dest_flag == 1) {
                put_num(e, C_DST_TON, d.ton);
                put_num(e, C_DST_NPI, d.npi);
                put_view(e, C_DST_ADDR, d.addr);
            } else {
                put_view(e, C_DL_NAME, d.addr);
            }
        }
        cr_assert_eq(n, p->number_of_dests);
        put_sm_tail(e, p, 1);
        break;
    }
    case PDU_SUBMIT_MULTI_RESP: {
        put_view(e, C_MESSAGE_ID, p->message_id);
        struct pdu_view cur = p->unsuccess_list;
        struct pdu_unsuccess u;
        unsigned n = 0;
        while (pdu_unsuccess_next(&cur, &u)) {
            n++;
            put_num(e, C_DST_TON, u.ton);
            put_num(e, C_DST_NPI, u.npi);
            put_view(e, C_DST_ADDR, u.addr);
            put_num(e, C_ERROR_STATUS_CODE, u.error_status_code);
        }
        cr_assert_eq(n, p->no_unsuccess);
        put_tlvs(e, p);
        break;
    }
    case PDU_SUBMIT_SM_RESP:
    case PDU_DELIVER_SM_RESP:
    case PDU_DATA_SM_RESP:
    case PDU_BROADCAST_SM_RESP:
    case PDU_QUERY_BROADCAST_SM_RESP:
        put_view(e, C_MESSAGE_ID, p->message_id);
        put_tlvs(e, p);
        break;
    case PDU_REPLACE_SM:
        put_view(e, C_MESSAGE_ID, p->message_id);
        put_source(e, p);
        put_time(e, C_SCHED, C_SCHED_R, p->schedule_delivery_time,
                 EMPTY_TIME_ZERO_REL, C_SCHED_R);
        put_time(e, C_VALIDITY, C_VALIDITY_R, p->validity_period,
                 EMPTY_TIME_ZERO_REL, C_VALIDITY_R);
        put_regdel(e, p->registered_delivery);
        put_num(e, C_SM_DEFAULT_MSG_ID, p->sm_default_msg_id);
        put_num(e, C_SM_LENGTH, p->short_message.len);
        if (p->short_message.len)
            put_hex(e, C_SHORT_MESSAGE, p->short_message.ptr,
                    p->short_message.len);
        put_tlvs(e, p);
        /* no data_coding in replace_sm: tshark takes 0, shows no text */
        put_user_data(e, p, 0);
        break;
    case PDU_CANCEL_SM:
        put_service_type(e, p->service_type);
        put_view(e, C_MESSAGE_ID, p->message_id);
        put_source(e, p);
        put_dest(e, p);
        break;
    case PDU_ALERT_NOTIFICATION:
        put_source(e, p);
        put_num(e, C_ESME_TON, p->esme_addr_ton);
        put_num(e, C_ESME_NPI, p->esme_addr_npi);
        put_view(e, C_ESME_ADDR, p->esme_addr);
        put_tlvs(e, p);
        break;
    case PDU_DATA_SM:
        put_service_type(e, p->service_type);
        put_source(e, p);
        put_dest(e, p);
        put_esm_class(e, p->esm_class);
        put_regdel(e, p->registered_delivery);
        put_num(e, C_DATA_CODING, p->data_coding);
        put_tlvs(e, p);
        put_user_data(e, p, 1);
        break;
    case PDU_BROADCAST_SM:
        put_service_type(e, p->service_type);
        put_source(e, p);
        put_view(e, C_MESSAGE_ID, p->message_id);
        put_num(e, C_PRIORITY, p->priority_flag);
        put_time(e, C_SCHED, C_SCHED_R, p->schedule_delivery_time,
                 EMPTY_TIME_ZERO_REL, C_SCHED_R);
        put_time(e, C_VALIDITY, C_VALIDITY_R, p->validity_period,
                 EMPTY_TIME_ZERO_REL, C_VALIDITY_R);
        put_num(e, C_REPLACE, p->replace_if_present_flag);
        put_num(e, C_DATA_CODING, p->data_coding);
        put_num(e, C_SM_DEFAULT_MSG_ID, p->sm_default_msg_id);
        put_tlvs(e, p);
        put_user_data(e, p, 1);
        break;
    case PDU_CANCEL_BROADCAST_SM:
        put_service_type(e, p->service_type);
        put_view(e, C_MESSAGE_ID, p->message_id);
        put_source(e, p);
        put_tlvs(e, p);
        break;
    case PDU_GENERIC_NACK:
    case PDU_UNBIND:
    case PDU_UNBIND_RESP:
    case PDU_REPLACE_SM_RESP:
    case PDU_CANCEL_SM_RESP:
    case PDU_ENQUIRE_LINK:
    case PDU_ENQUIRE_LINK_RESP:
    case PDU_CANCEL_BROADCAST_SM_RESP:
        /* header only: tshark does not look past it, so the length is
         * what tells that nothing follows */
        cr_assert_eq(len, PDU_HEADER_LEN, "%s of %zu bytes",
                     pdu_command_name(p->command_id), len);
        break;
    default:
        cr_assert_fail("command 0x%08x has no tshark expectation",
                       p->command_id);
    }
}

/* ---- the PDUs ------------------------------------------------------- */

#define WIRE_CAP 8192

struct tcase {
    char label[64];
    struct pdu p;
    uint8_t scratch[1024];
    uint8_t wire[WIRE_CAP];
    size_t len;
    unsigned frame;
    size_t expect_len; /* when nonzero, the encoded length it must have */
};

static const char receipt_text[] =
    "id:5f3a9c0d1e sub:001 dlvrd:001 submit date:2611261200 "
    "done date:2611261205 stat:DELIVRD err:000 text:Hello @ world";
static const uint8_t udh_sm[] = {0x05, 0x00, 0x03, 0x7b, 0x02, 0x01,
                                 'p',  'a',  'r',  't',  ' ',  'o',
                                 'n',  'e'};
static uint8_t long_payload[400];
static uint8_t sm_payload[300];

static void extra_throttled(struct tcase *t)
{
    /* 3.4 §4.4.2: no body when command_status is not 0 */
    pdu_init(&t->p, PDU_SUBMIT_SM_RESP, 0x7fff0001u);
    t->p.command_status = ESME_RTHROTTLED;
    t->expect_len = PDU_HEADER_LEN;
}

static void extra_generic_nack(struct tcase *t)
{
    pdu_init(&t->p, PDU_GENERIC_NACK, 0x7fff0002u);
    t->p.command_status = ESME_RINVCMDID;
    t->expect_len = PDU_HEADER_LEN;
}

static void extra_receipt(struct tcase *t)
{
    struct pdu *p = &t->p;
    pdu_init(p, PDU_DELIVER_SM, 0x7fff0003u);
    p->source_addr_ton = 1;
    p->source_addr_npi = 1;
    p->source_addr = pdu_view_str("34600000001");
    p->dest_addr_ton = 5;
    p->dest_addr_npi = 0;
    p->destination_addr = pdu_view_str("Instasent");
    p->esm_class = 0x04; /* SMSC delivery receipt */
    p->short_message = pdu_view_str(receipt_text);
    pdu_tlv_add(p, PDU_TLV_RECEIPTED_MESSAGE_ID, "5f3a9c0d1e", 11);
    pdu_tlv_add(p, PDU_TLV_MESSAGE_STATE, "\x02", 1); /* DELIVERED */
    pdu_tlv_add(p, PDU_TLV_NETWORK_ERROR_CODE, "\x03\x00\x22", 3);
}

static void extra_udh(struct tcase *t)
{
    struct pdu *p = &t->p;
    pdu_init(p, PDU_SUBMIT_SM, 0x7fff0004u);
    p->source_addr_ton = 5;
    p->source_addr = pdu_view_str("Instasent");
    p->dest_addr_ton = 1;
    p->dest_addr_npi = 1;
    p->destination_addr = pdu_view_str("34600000001");
    p->esm_class = 0x40; /* UDHI */
    p->registered_delivery = 1;
    p->data_coding = 3;
    p->short_message.ptr = udh_sm;
    p->short_message.len = sizeof udh_sm;
    pdu_tlv_add(p, PDU_TLV_USER_MESSAGE_REFERENCE, "\x00\x07", 2);
}

static void extra_sar(struct tcase *t)
{
    struct pdu *p = &t->p;
    pdu_init(p, PDU_SUBMIT_SM, 0x7fff0005u);
    p->service_type = pdu_view_str("CMT");
    p->source_addr_ton = 1;
    p->source_addr_npi = 1;
    p->source_addr = pdu_view_str("34600000009");
    p->dest_addr_ton = 1;
    p->dest_addr_npi = 1;
    p->destination_addr = pdu_view_str("34600000001");
    p->registered_delivery = 0x01;
    p->data_coding = 1;
    p->short_message = pdu_view_str("part two of three");
    pdu_tlv_add(p, PDU_TLV_SAR_MSG_REF_NUM, "\x1f\x2e", 2);
    pdu_tlv_add(p, PDU_TLV_SAR_TOTAL_SEGMENTS, "\x03", 1);
    pdu_tlv_add(p, PDU_TLV_SAR_SEGMENT_SEQNUM, "\x02", 1);
    pdu_tlv_add(p, PDU_TLV_USER_MESSAGE_REFERENCE, "\xab\xcd", 2);
}

static void extra_data_sm_payload(struct tcase *t)
{
    struct pdu *p = &t->p;
    for (size_t i = 0; i < sizeof long_payload; i++)
        long_payload[i] = (uint8_t)('a' + i % 26);
    pdu_init(p, PDU_DATA_SM, 0x7fff0006u);
    p->service_type = pdu_view_str("USSD");
    p->source_addr_ton = 1;
    p->source_addr_npi = 1;
    p->source_addr = pdu_view_str("34600000001");
    p->dest_addr_ton = 2;
    p->dest_addr_npi = 8;
    p->destination_addr = pdu_view_str("600000002");
    p->esm_class = 0x01; /* datagram mode */
    p->registered_delivery = 0x05;
    p->data_coding = 3;
    pdu_tlv_add(p, PDU_TLV_MESSAGE_PAYLOAD, long_payload,
                (uint16_t)sizeof long_payload);
    pdu_tlv_add(p, 0x1500, "\x01\x02\x03", 3); /* vendor */
}

static void extra_submit_payload(struct tcase *t)
{
    struct pdu *p = &t->p;
    for (size_t i = 0; i < sizeof sm_payload; i++)
        sm_payload[i] = (uint8_t)('A' + i % 26);
    pdu_init(p, PDU_SUBMIT_SM, 0x7fff0007u);
    p->source_addr_ton = 1;
    p->source_addr_npi = 1;
    p->source_addr = pdu_view_str("34600000001");
    p->dest_addr_ton = 1;
    p->dest_addr_npi = 1;
    p->destination_addr = pdu_view_str("34600000002");
    p->data_coding = 1;
    p->validity_period = pdu_view_str("261127120000504-");
    pdu_tlv_add(p, PDU_TLV_MESSAGE_PAYLOAD, sm_payload,
                (uint16_t)sizeof sm_payload);
}

/* Every field at its maximum (SMPP 3.4 §4: sizes include the NUL). */
static const char max15[] = "ABCDEFGHIJKLMNO";
static const char max20[] = "12345678901234567890";
static const char max40[] = "0123456789012345678901234567890123456789";
static const char max64[] =
    "5f3a9c0d1e5f3a9c0d1e5f3a9c0d1e5f3a9c0d1e5f3a9c0d1e5f3a9c0d1e1234";
static uint8_t sm_255[255];

static void extra_bind_max(struct tcase *t)
{
    struct pdu *p = &t->p;
    pdu_init(p, PDU_BIND_TRANSCEIVER, 0x7fff0008u);
    p->system_id = pdu_view_str(max15);
    p->password = pdu_view_str("12345678");
    p->system_type = pdu_view_str("ABCDEFGHIJKL");
    p->interface_version = 0x50;
    p->addr_ton = 6;
    p->addr_npi = 18;
    p->address_range = pdu_view_str(max40);
}

static void extra_submit_max(struct tcase *t)
{
    struct pdu *p = &t->p;
    for (size_t i = 0; i < sizeof sm_255; i++)
        sm_255[i] = (uint8_t)(' ' + i % 95);
    pdu_init(p, PDU_SUBMIT_SM, 0xffffffffu);
    p->service_type = pdu_view_str("ABCDE");
    p->source_addr_ton = 6;
    p->source_addr_npi = 18;
    p->source_addr = pdu_view_str(max20);
    p->dest_addr_ton = 4;
    p->dest_addr_npi = 14;
    p->destination_addr = pdu_view_str(max20);
    p->esm_class = 0x82; /* forward mode, reply path */
    p->protocol_id = 0xff;
    p->priority_flag = 3;
    p->schedule_delivery_time = pdu_view_str("991231235959932+");
    p->validity_period = pdu_view_str("000031235959000R");
    p->registered_delivery = 0x1f;
    p->replace_if_present_flag = 1;
    p->data_coding = 1;
    p->sm_default_msg_id = 0xfe;
    p->short_message.ptr = sm_255;
    p->short_message.len = sizeof sm_255;
}

static void extra_data_sm_max(struct tcase *t)
{
    struct pdu *p = &t->p;
    pdu_init(p, PDU_DATA_SM, 0x7fff000au);
    p->service_type = pdu_view_str("ABCDE");
    p->source_addr_ton = 1;
    p->source_addr_npi = 1;
    p->source_addr = pdu_view_str(max64); /* data_sm addresses: 65 */
    p->dest_addr_ton = 1;
    p->dest_addr_npi = 1;
    p->destination_addr = pdu_view_str(max64);
    p->esm_class = 0x03;
    p->data_coding = 0;
}

static void extra_query_resp_max(struct tcase *t)
{
    struct pdu *p = &t->p;
    pdu_init(p, PDU_QUERY_SM_RESP, 0x7fff000bu);
    p->message_id = pdu_view_str(max64);
    p->message_state = 8; /* REJECTED */
    p->error_code = 0xff;
}

static uint8_t dests_254[254 * 15];

static void extra_submit_multi_254(struct tcase *t)
{
    struct pdu *p = &t->p;
    static char addrs[254][12];
    struct pdu_dest d[254];
    for (unsigned i = 0; i < 254; i++) {
        snprintf(addrs[i], sizeof addrs[i], "3460000%04u", i);
        d[i].dest_flag = i % 50 == 49 ? 2 : 1;
        d[i].ton = (uint8_t)(i % 7);
        d[i].npi = (uint8_t)(i % 2 ? 1 : 9);
        d[i].addr = pdu_view_str(addrs[i]);
        if (d[i].dest_flag == 2)
            d[i].ton = d[i].npi = 0;
    }
    pdu_init(p, PDU_SUBMIT_MULTI, 0x7fff000cu);
    p->source_addr_ton = 1;
    p->source_addr_npi = 1;
    p->source_addr = pdu_view_str("34600000001");
    p->number_of_dests = 254;
    p->dest_list.ptr = dests_254;
    p->dest_list.len = pdu_dests_build(dests_254, sizeof dests_254, d, 254);
    cr_assert_gt(p->dest_list.len, 0);
    p->data_coding = 3;
    p->short_message = pdu_view_str("to all");
}

static uint8_t dests_dl[32];

/* Empty times and service_type, a lone distribution list. */
static void extra_submit_multi_dl(struct tcase *t)
{
    struct pdu *p = &t->p;
    struct pdu_dest d = {2, 0, 0, pdu_view_str("all-customers")};
    pdu_init(p, PDU_SUBMIT_MULTI, 0x7fff000du);
    p->source_addr_ton = 5;
    p->source_addr = pdu_view_str("Instasent");
    p->number_of_dests = 1;
    p->dest_list.ptr = dests_dl;
    p->dest_list.len = pdu_dests_build(dests_dl, sizeof dests_dl, &d, 1);
    cr_assert_gt(p->dest_list.len, 0);
    p->registered_delivery = 0x02;
    p->short_message = pdu_view_str("sale");
    p->data_coding = 1;
}

static const struct extra {
    const char *label;
    void (*build)(struct tcase *);
} extras[] = {
    {"submit_sm_resp ESME_RTHROTTLED", extra_throttled},
    {"generic_nack ESME_RINVCMDID", extra_generic_nack},
    {"deliver_sm receipt", extra_receipt},
    {"submit_sm UDH", extra_udh},
    {"submit_sm SAR", extra_sar},
    {"data_sm message_payload", extra_data_sm_payload},
    {"submit_sm message_payload", extra_submit_payload},
    {"bind_transceiver at maxima", extra_bind_max},
    {"submit_sm at maxima", extra_submit_max},
    {"data_sm 64-octet addresses", extra_data_sm_max},
    {"query_sm_resp 64-octet id", extra_query_resp_max},
    {"submit_multi 254 destinations", extra_submit_multi_254},
    {"submit_multi distribution list", extra_submit_multi_dl},
};

/* ---- running tshark ------------------------------------------------- */

struct row {
    char *line;
    char *col[NCOLS];
};

struct capture {
    char pcap_path[64];
    char err_path[64];
    struct row *rows; /* indexed by frame number */
    unsigned nrows;
    unsigned frames;
};

static void split_row(struct row *r)
{
    char *s = r->line;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    for (int c = 0; c < NCOLS; c++) {
        r->col[c] = s;
        char *sep = strchr(s, SEP);
        if (c < NCOLS - 1) {
            cr_assert_not_null(sep, "tshark line with %d fields, want %d: %s",
                               c + 1, NCOLS, r->line);
            *sep = '\0';
            s = sep + 1;
        } else {
            cr_assert_null(sep, "tshark line with more than %d fields",
                           NCOLS);
        }
    }
}

static void print_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[512];
    if (!f)
        return;
    while (fgets(buf, sizeof buf, f))
        if (!strstr(buf, "Running as user \"root\""))
            cr_log_error("tshark: %s", buf);
    fclose(f);
}

/* The capture of the test; its files are removed as soon as tshark has
 * read them, and by the test's fini when an assertion ends it earlier. */
static struct capture g_cap;

static void remove_temp_files(void)
{
    if (g_cap.pcap_path[0])
        unlink(g_cap.pcap_path);
    if (g_cap.err_path[0])
        unlink(g_cap.err_path);
    g_cap.pcap_path[0] = g_cap.err_path[0] = '\0';
}

/* Run tshark once over the capture and keep one row per frame. */
static void run_tshark(struct capture *cap)
{
    char cmd[8192];
    size_t n = (size_t)snprintf(
        cmd, sizeof cmd,
        "TZ=UTC timeout 60 tshark -n -r '%s' "
        "-o tcp.desegment_tcp_streams:TRUE "
        "-o smpp.reassemble_smpp_over_tcp:TRUE "
        "-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE "
        "-o smpp.decode_sms_over_smpp:None -o gsm_sms.reassemble:FALSE "
        "-d tcp.port==%u,smpp "
        "-T fields -E separator=" SEP_S " -E aggregator=" AGG_S
        " -E occurrence=a",
        cap->pcap_path, SMPP_PORT);
    for (int c = 0; c < NCOLS; c++) {
        cr_assert_lt(n, sizeof cmd);
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " -e %s", col_field[c]);
    }
    cr_assert_lt(n, sizeof cmd);
    n += (size_t)snprintf(cmd + n, sizeof cmd - n, " 2>'%s'", cap->err_path);
    cr_assert_lt(n, sizeof cmd, "tshark command too long");

    FILE *out = popen(cmd, "r");
    cr_assert_not_null(out, "popen tshark");
    cap->rows = calloc(cap->frames + 1, sizeof *cap->rows);
    cr_assert_not_null(cap->rows);
    char *line = NULL;
    size_t linecap = 0;
    unsigned extra_rows = 0;
    while (getline(&line, &linecap, out) > 0) {
        struct row r = {.line = line};
        line = NULL;
        linecap = 0;
        split_row(&r);
        unsigned long fr = strtoul(r.col[C_FRAME], NULL, 10);
        if (fr == 0 || fr > cap->frames || cap->rows[fr].line) {
            extra_rows++;
            free(r.line);
            continue;
        }
        cap->rows[fr] = r;
        cap->nrows++;
    }
    free(line);
    int st = pclose(out);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        print_file(cap->err_path);
    remove_temp_files();
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "tshark failed (wait status 0x%x, exit %d; 124 is the 60 s "
              "timeout, 127 tshark not installed), its stderr is above",
              st, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    cr_assert_eq(extra_rows, 0, "tshark printed %u unexpected rows",
                 extra_rows);
    cr_assert_eq(cap->nrows, cap->frames,
                 "tshark printed %u frames, the capture has %u", cap->nrows,
                 cap->frames);
}

static void capture_free(struct capture *cap)
{
    if (cap->rows)
        for (unsigned i = 0; i <= cap->frames; i++)
            free(cap->rows[i].line);
    free(cap->rows);
    cap->rows = NULL;
    remove_temp_files();
}

/* ---- comparing ------------------------------------------------------ */

static int parse_num(const char *s, unsigned long long *out)
{
    char *end;
    if (*s == '\0')
        return -1;
    *out = strtoull(s, &end, 0);
    return *end == '\0' ? 0 : -1;
}

/* One occurrence of column c: equal by the column's kind. */
static int item_equal(enum column c, const char *got, size_t got_len,
                      const char *want, size_t want_len)
{
    if (col_kind[c] == K_NUM) {
        char a[64], b[64];
        unsigned long long x, y;
        if (got_len >= sizeof a || want_len >= sizeof b)
            return 0;
        memcpy(a, got, got_len);
        a[got_len] = '\0';
        memcpy(b, want, want_len);
        b[want_len] = '\0';
        return parse_num(a, &x) == 0 && parse_num(b, &y) == 0 && x == y;
    }
    return got_len == want_len && memcmp(got, want, got_len) == 0;
}

/* Column c of a frame against the expectation, occurrence by occurrence. */
static int column_equal(enum column c, const char *got, const char *want)
{
    if (*got == '\0' || *want == '\0')
        return *got == '\0' && *want == '\0';
    for (;;) {
        const char *g = strchr(got, AGG), *w = strchr(want, AGG);
        size_t gl = g ? (size_t)(g - got) : strlen(got);
        size_t wl = w ? (size_t)(w - want) : strlen(want);
        if (!item_equal(c, got, gl, want, wl))
            return 0;
        if (!g || !w)
            return !g && !w;
        got = g + 1;
        want = w + 1;
    }
}

/* A printable copy of a value (AGG shown as ','), for messages. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        buf[i] = s[i] == AGG ? ',' : s[i];
    buf[i] = '\0';
    return buf;
}

/* Frame-level checks every frame passes: good checksums (our pcap writer),
 * no malformed marker, no expert info of severity warning or above. */
static int frame_clean(const struct row *r, const char *label, int report)
{
    int bad = 0;
    char b1[1024], b2[1024];
    if (strcmp(r->col[C_IP_CSUM], "1") != 0 ||
        strcmp(r->col[C_TCP_CSUM], "1") != 0) {
        bad++;
        if (report)
            cr_expect_fail("frame %s (%s): checksum status ip=%s tcp=%s, "
                           "want 1 (good)",
                           r->col[C_FRAME], label, r->col[C_IP_CSUM],
                           r->col[C_TCP_CSUM]);
    }
    if (r->col[C_MALFORMED][0]) {
        bad++;
        if (report)
            cr_expect_fail("frame %s (%s): malformed: %s; expert: %s",
                           r->col[C_FRAME], label,
                           shown(r->col[C_MALFORMED], b1, sizeof b1),
                           shown(r->col[C_EXPERT], b2, sizeof b2));
    }
    const char *s = r->col[C_SEVERITY];
    while (*s) {
        char *end;
        unsigned long sev = strtoul(s, &end, 0);
        if (sev >= SEV_WARN) {
            bad++;
            if (report)
                cr_expect_fail("frame %s (%s): expert info of severity "
                               "0x%lx: %s",
                               r->col[C_FRAME], label, sev,
                               shown(r->col[C_EXPERT], b1, sizeof b1));
            break;
        }
        if (end == s)
            break;
        s = *end == AGG ? end + 1 : end;
    }
    return bad;
}

/* Compare the SMPP columns of a frame with <e>; mark differing ones in
 * <diff> (may be NULL). Returns how many differ. */
static int frame_matches(const struct row *r, const struct expect *e,
                         const char *label, int report, int *diff)
{
    int bad = 0;
    char b1[1024], b2[1024];
    for (int c = C_COMMAND_ID; c < NCOLS; c++) {
        if (e->skip[c] || column_equal((enum column)c, r->col[c], e->val[c]))
            continue;
        bad++;
        if (diff)
            diff[c] = 1;
        if (report)
            cr_expect_fail("frame %s (%s): %s is \"%s\", want \"%s\"",
                           r->col[C_FRAME], label, col_field[c],
                           shown(r->col[c], b1, sizeof b1),
                           shown(e->val[c], b2, sizeof b2));
    }
    return bad;
}

/* ---- the test ------------------------------------------------------- */

static FILE *temp_file(char *path, size_t cap, const char *suffix_tag)
{
    int n = snprintf(path, cap, "/tmp/smppbridge-tshark-%s-XXXXXX",
                     suffix_tag);
    cr_assert(n > 0 && (size_t)n < cap);
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp %s", path);
    FILE *f = fdopen(fd, "wb");
    cr_assert_not_null(f);
    return f;
}

static void encode_case(struct tcase *t)
{
    t->len = pdu_encode(&t->p, t->wire, sizeof t->wire);
    cr_assert_gt(t->len, 0, "%s does not encode", t->label);
    if (t->expect_len)
        cr_assert_eq(t->len, t->expect_len, "%s: %zu bytes, want %zu",
                     t->label, t->len, t->expect_len);
}

Test(pdu_tshark, every_pdu_dissected_with_our_values, .timeout = 120,
     .fini = remove_temp_files)
{
    const size_t nsamples = pdu_sample_count;
    const size_t nextras = sizeof extras / sizeof extras[0];
    const size_t ncases = nsamples + nextras;
    struct tcase *cases = calloc(ncases, sizeof *cases);
    struct tcase *corrupt = calloc(1, sizeof *corrupt);
    struct expect *e = malloc(sizeof *e);
    cr_assert(cases && corrupt && e);

    for (size_t i = 0; i < nsamples; i++) {
        struct tcase *t = &cases[i];
        pdu_sample_build(pdu_sample_ids[i], &t->p, t->scratch,
                         sizeof t->scratch);
        snprintf(t->label, sizeof t->label, "sample %s",
                 pdu_command_name(pdu_sample_ids[i]));
        encode_case(t);
    }
    for (size_t i = 0; i < nextras; i++) {
        struct tcase *t = &cases[nsamples + i];
        extras[i].build(t);
        snprintf(t->label, sizeof t->label, "%s", extras[i].label);
        encode_case(t);
    }

    /*
     * Two control frames after ours show the oracle can fail: the sample
     * submit_sm with its source_addr_ton octet changed from 5 to 6 (only
     * that column may differ), and a submit_sm cut after service_type,
     * which tshark must call malformed.
     */
    size_t submit_idx = nsamples;
    for (size_t i = 0; i < nsamples; i++)
        if (pdu_sample_ids[i] == PDU_SUBMIT_SM)
            submit_idx = i;
    cr_assert_lt(submit_idx, nsamples);
    *corrupt = cases[submit_idx];
    snprintf(corrupt->label, sizeof corrupt->label,
             "control: submit_sm with source_addr_ton corrupted");
    size_t ton_off = PDU_HEADER_LEN + corrupt->p.service_type.len + 1;
    cr_assert_eq(corrupt->wire[ton_off], corrupt->p.source_addr_ton);
    corrupt->wire[ton_off] ^= 0x03;
    static const uint8_t truncated[] = {0, 0, 0, 20, 0, 0, 0, 4, 0,   0,
                                        0, 0, 0, 0, 0, 99, 'C', 'M', 'T', 0};

    memset(&g_cap, 0, sizeof g_cap);
    FILE *err = temp_file(g_cap.err_path, sizeof g_cap.err_path, "err");
    fclose(err);
    FILE *f = temp_file(g_cap.pcap_path, sizeof g_cap.pcap_path, "pcap");
    struct pcap_tcp w;
    cr_assert_eq(pcap_tcp_open(&w, f, LOCALHOST, CLIENT_PORT, LOCALHOST,
                               SMPP_PORT),
                 0);
    for (size_t i = 0; i < ncases; i++) {
        cases[i].frame = pcap_tcp_send(&w, cases[i].wire, cases[i].len);
        cr_assert_gt(cases[i].frame, 0);
    }
    corrupt->frame = pcap_tcp_send(&w, corrupt->wire, corrupt->len);
    unsigned truncated_frame = pcap_tcp_send(&w, truncated, sizeof truncated);
    cr_assert(corrupt->frame && truncated_frame);
    g_cap.frames = w.frames;
    cr_assert_eq(fclose(f), 0);

    run_tshark(&g_cap);

    /* The handshake: plain TCP, clean. */
    for (unsigned fr = 1; fr <= 3; fr++) {
        frame_clean(&g_cap.rows[fr], "handshake", 1);
        cr_expect_str_empty(g_cap.rows[fr].col[C_COMMAND_ID]);
    }

    int failed = 0;
    for (size_t i = 0; i < ncases; i++) {
        const struct tcase *t = &cases[i];
        const struct row *r = &g_cap.rows[t->frame];
        expect_pdu(e, &t->p, t->len);
        int bad = frame_clean(r, t->label, 1);
        bad += frame_matches(r, e, t->label, 1, NULL);
        /* the PDU fills its segment: tshark's length is the TCP one */
        if (strcmp(r->col[C_LENGTH], r->col[C_TCP_LEN]) != 0) {
            bad++;
            cr_expect_fail("frame %u (%s): command_length %s, segment %s",
                           t->frame, t->label, r->col[C_LENGTH],
                           r->col[C_TCP_LEN]);
        }
        failed += bad != 0;
    }

    /* Controls. */
    int diff[NCOLS] = {0};
    expect_pdu(e, &corrupt->p, corrupt->len);
    const struct row *cr = &g_cap.rows[corrupt->frame];
    cr_expect_eq(frame_clean(cr, corrupt->label, 1), 0);
    int ndiff = frame_matches(cr, e, corrupt->label, 0, diff);
    cr_expect(ndiff == 1 && diff[C_SRC_TON],
              "oracle self-check: a changed source_addr_ton must show as "
              "exactly that column differing (%d columns differ)",
              ndiff);
    const struct row *tr = &g_cap.rows[truncated_frame];
    cr_expect(frame_clean(tr, "control: truncated", 0) > 0 &&
                  tr->col[C_MALFORMED][0] != '\0',
              "oracle self-check: tshark did not call a truncated submit_sm "
              "malformed");

    capture_free(&g_cap);
    free(cases);
    free(corrupt);
    free(e);
    cr_assert_eq(failed, 0, "%d of %zu PDUs disagree with tshark", failed,
                 ncases);
}
