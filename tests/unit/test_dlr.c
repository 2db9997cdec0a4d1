/*
 * test_dlr.c - delivery receipt text: every variant SMSCs are known to send
 * (docs/architecture.md, "SMPP facts the code relies on") with exact
 * values, id rewrite byte for byte, format, dates, states and id radix
 * handling. Each vector names where it comes from.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS for the guard-page test */

#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dlr.h"

/* ------------------------------------------------------------------ */
/* Vectors                                                             */
/* ------------------------------------------------------------------ */

/* SMPP 3.4 Appendix B template, verbatim, capital "Text:". */
static const char V_SPEC[] =
    "id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm "
    "done date:YYMMDDhhmm stat:DDDDDDD err:E Text: . . . . . . . . .";
/* cloudhopper DeliveryReceiptTest.parseShortMessage. */
static const char V_CH[] =
    "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 "
    "done date:1005242339 stat:DELIVRD err:012 text:This is a sample mes";
/* cloudhopper DeliveryReceiptTest.parseShortMessage, "smsc simulator". */
static const char V_CH_SIM[] =
    "id:4 sub:001 dlvrd:001 submit date:1006020051 done date:1006020051 "
    "stat:DELIVRD err:000 Text:Hello";
/* cloudhopper DeliveryReceiptTest.parseRealWorldReceipt0 (short_message). */
static const char V_CH_REAL[] =
    "id:0059113978 sub:001 dlvrd:001 submit date:1002101730 "
    "done date:1002101731 stat:DELIVRD err:000 text:@$#!%&/:";
/* cloudhopper DeliveryReceiptTest.parseReceiptWithTimestampIncludingSeconds. */
static const char V_CH_SECONDS[] =
    "id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 sub:001 dlvrd:001 "
    "submit date:110206193041 done date:110206193110 stat:DELIVRD err:000 "
    "text:";
/* smppcenter.com "How to read SMPP delivery receipt" example. */
static const char V_SMPPCENTER[] =
    "id:64567564356765435676 sub:001 dlvrd:001 submit date:190608165232 "
    "done date:190608165237 stat:DELIVRD err:000 text:Hello World";
/* cloudhopper DeliveryReceiptTest.parseReceiptWithMissingSubAndDlvrdFields. */
static const char V_CH_14[] =
    "id:2E179B310EDE971B2760C72B7F026E1B submit date:20110314181534 "
    "done date:20110314181741 stat:DELIVRD err:0";
/* Jasmin getReceipt() layout (no sub, dlvrd or text); the uuid id is
 * invented. */
static const char V_JASMIN[] =
    "id:7d1b1fdc-87b6-4d6f-9b3c-fc83f4a3de0e submit date:2101011200 "
    "done date:2101011201 stat:DELIVRD err:000";
/* Nexmo help "How to read a Nexmo SMPP Delivery Receipt" example. */
static const char V_NEXMO[] =
    "id:0000000012345678 sub:001 dlvrd:001 submit date:1601010100 "
    "done date:1601010101 stat:DELIVRD err:000 text:none";
/* cloudhopper DeliveryReceiptTest.parseReceiptWithFieldsOutOfOrder. */
static const char V_CH_REORDER[] =
    "sub:001 id:74e02ee1-4e2f-4a6e-a78b-4b247d756a22 err:000 dlvrd:001 "
    "done date:110206193110 submit date:110206193041 text: stat:DELIVRD";
/* OpenMarket deliveryreceipt-examples.htm short_message (hex decoded). */
static const char V_OPENMARKET[] =
    "id:0118Z-0122I-2309U-57DGB sub:000 dlvrd:000 submitdate:180122230957 "
    "donedate:000000000000 stat:REJECTD err:375 text:";
/* e-com-net.com article 2299106, receipt captured from an SMSC. */
static const char V_ECOMNET[] =
    "id:0911897980 sub:001 dlvrd:000 submit date:1201121551 "
    "done date:1201121551 stat:UNDELIV err:075 text:-PROFILE";
/* cloudhopper parseShortMessageWithSmpp3_4SpecCompliantErrAsStringValue. */
static const char V_CH_ERR21B[] =
    "id:0123456789 sub:002 dlvrd:001 submit date:1005232039 "
    "done date:1005242339 stat:DELIVRD err:21b text:This is a sample mes";
/* A 17-digit decimal id seen in the wild, alone, as Kannel's fallback
 * takes it. */
static const char V_ID_ONLY[] = "id:40072910491427628";
/* Constructed: text holding labels and spaces (cloudhopper would cut it). */
static const char V_TEXT_ID[] =
    "id:ABC123 sub:001 dlvrd:001 submit date:2402291200 "
    "done date:2402291201 stat:DELIVRD err:000 text:your id: 42 stat:ok err:x";

static const char *const all_vectors[] = {
    V_SPEC, V_CH, V_CH_SIM, V_CH_REAL, V_CH_SECONDS, V_SMPPCENTER, V_CH_14,
    V_JASMIN, V_NEXMO, V_CH_REORDER, V_OPENMARKET, V_ECOMNET, V_CH_ERR21B,
    V_ID_ONLY, V_TEXT_ID,
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

#define ABSENT "<absent>"

/* The value of <f> in <s> as a C string, or ABSENT. */
static const char *fv(const char *s, struct dlr_field f)
{
    static char bufs[8][512];
    static unsigned next;
    char *b = bufs[next++ % 8];

    if (!f.present)
        return ABSENT;
    cr_assert_lt(f.len, sizeof(bufs[0]));
    memcpy(b, s + f.off, f.len);
    b[f.len] = '\0';
    return b;
}

static struct dlr_receipt parse_ok(const char *s)
{
    struct dlr_receipt r;

    cr_assert_eq(dlr_parse(s, strlen(s), &r), 0, "not parsed: %s", s);
    return r;
}

#define EXPECT(s, r, field, want) \
    cr_assert_str_eq(fv((s), (r).field), (want), "field " #field)

static void expect_all(const char *s, const char *id, const char *sub,
                       const char *dlvrd, const char *submit, const char *done,
                       const char *stat, const char *err, const char *text)
{
    struct dlr_receipt r = parse_ok(s);

    EXPECT(s, r, id, id);
    EXPECT(s, r, sub, sub);
    EXPECT(s, r, dlvrd, dlvrd);
    EXPECT(s, r, submit_date, submit);
    EXPECT(s, r, done_date, done);
    EXPECT(s, r, stat, stat);
    EXPECT(s, r, err, err);
    EXPECT(s, r, text, text);
}

static void expect_date(const char *s, int y, int mo, int d, int h, int mi,
                        int sec)
{
    struct dlr_date dt;

    cr_assert_eq(dlr_date_parse(s, strlen(s), &dt), 0, "date %s", s);
    cr_assert_eq(dt.year, y);
    cr_assert_eq(dt.month, mo);
    cr_assert_eq(dt.day, d);
    cr_assert_eq(dt.hour, h);
    cr_assert_eq(dt.min, mi);
    cr_assert_eq(dt.sec, sec);
    cr_assert_eq(dt.digits, (int)strlen(s));
}

static void expect_rewrite(const char *in, const char *new_id,
                           const char *want)
{
    char out[512];
    int n = dlr_rewrite_id(in, strlen(in), new_id, strlen(new_id), out,
                           sizeof(out));

    cr_assert_eq(n, (int)strlen(want), "length for %s", in);
    cr_assert_str_eq(out, want);
}

static struct dlr_str S(const char *s)
{
    struct dlr_str v = { s, s ? strlen(s) : 0 };

    return v;
}

/* ------------------------------------------------------------------ */
/* Parse: the variants SMSCs send                                      */
/* ------------------------------------------------------------------ */

Test(dlr_parse, spec_34_appendix_b_template_capital_Text)
{
    expect_all(V_SPEC, "IIIIIIIIII", "SSS", "DDD", "YYMMDDhhmm",
               "YYMMDDhhmm", "DDDDDDD", "E", " . . . . . . . . .");
}

Test(dlr_parse, cloudhopper_parseShortMessage_10_digit_dates)
{
    expect_all(V_CH, "0123456789", "002", "001", "1005232039", "1005242339",
               "DELIVRD", "012", "This is a sample mes");
}

Test(dlr_parse, cloudhopper_smsc_simulator_Text_capital)
{
    expect_all(V_CH_SIM, "4", "001", "001", "1006020051", "1006020051",
               "DELIVRD", "000", "Hello");
}

Test(dlr_parse, cloudhopper_real_world_receipt0_text_with_colon)
{
    expect_all(V_CH_REAL, "0059113978", "001", "001", "1002101730",
               "1002101731", "DELIVRD", "000", "@$#!%&/:");
}

Test(dlr_parse, cloudhopper_12_digit_dates_uuid_id_empty_text)
{
    expect_all(V_CH_SECONDS, "74e02ee1-4e2f-4a6e-a78b-4b247d756a22", "001",
               "001", "110206193041", "110206193110", "DELIVRD", "000", "");
}

Test(dlr_parse, smppcenter_12_digit_dates_text_with_space)
{
    expect_all(V_SMPPCENTER, "64567564356765435676", "001", "001",
               "190608165232", "190608165237", "DELIVRD", "000",
               "Hello World");
}

Test(dlr_parse, cloudhopper_missing_sub_dlvrd_text_14_digit_dates_hex_id)
{
    expect_all(V_CH_14, "2E179B310EDE971B2760C72B7F026E1B", ABSENT, ABSENT,
               "20110314181534", "20110314181741", "DELIVRD", "0", ABSENT);
}

Test(dlr_parse, jasmin_generated_no_sub_dlvrd_text)
{
    expect_all(V_JASMIN, "7d1b1fdc-87b6-4d6f-9b3c-fc83f4a3de0e", ABSENT,
               ABSENT, "2101011200", "2101011201", "DELIVRD", "000", ABSENT);
}

Test(dlr_parse, nexmo_text_none_zero_padded_id)
{
    expect_all(V_NEXMO, "0000000012345678", "001", "001", "1601010100",
               "1601010101", "DELIVRD", "000", "none");
}

Test(dlr_parse, cloudhopper_fields_out_of_order_empty_text_before_stat)
{
    expect_all(V_CH_REORDER, "74e02ee1-4e2f-4a6e-a78b-4b247d756a22", "001",
               "001", "110206193041", "110206193110", "DELIVRD", "000", "");
}

Test(dlr_parse, openmarket_submitdate_donedate_without_space_vendor_id)
{
    struct dlr_date d;

    expect_all(V_OPENMARKET, "0118Z-0122I-2309U-57DGB", "000", "000",
               "180122230957", "000000000000", "REJECTD", "375", "");
    cr_assert_eq(dlr_date_parse("000000000000", 12, &d), DLR_DATE_ABSENT);
}

Test(dlr_parse, ecomnet_undeliv_err_075_kept_raw)
{
    expect_all(V_ECOMNET, "0911897980", "001", "000", "1201121551",
               "1201121551", "UNDELIV", "075", "-PROFILE");
}

Test(dlr_parse, cloudhopper_alphanumeric_err_21b)
{
    expect_all(V_CH_ERR21B, "0123456789", "002", "001", "1005232039",
               "1005242339", "DELIVRD", "21b", "This is a sample mes");
}

Test(dlr_parse, cloudhopper_11_digit_id_enroute)
{
    /* cloudhopper DeliveryReceiptTest
     * .parseShortMessageWith11DigitLongMessageId */
    const char *s = "id:98765432101 sub:000 dlvrd:000 submit date:1001010000 "
                    "done date:1001010000 stat:ENROUTE err:000 text:";
    struct dlr_receipt r = parse_ok(s);
    uint64_t v;

    cr_assert_eq(dlr_id_to_u64(s + r.id.off, r.id.len, 10, &v), 0);
    cr_assert_eq(v, UINT64_C(98765432101));
    cr_assert_eq(dlr_stat_to_state(s + r.stat.off, r.stat.len),
                 DLR_STATE_ENROUTE);
}

Test(dlr_parse, id_only_no_stat_kannel_fallback)
{
    expect_all(V_ID_ONLY, "40072910491427628", ABSENT, ABSENT, ABSENT, ABSENT,
               ABSENT, ABSENT, ABSENT);
}

Test(dlr_parse, stat_only_id_in_tlv)
{
    /* Some SMSCs put the id only in the receipted_message_id TLV. */
    const char *s = "sub:001 dlvrd:001 submit date:1601010100 "
                    "done date:1601010101 stat:DELIVRD err:000 text:";

    expect_all(s, ABSENT, "001", "001", "1601010100", "1601010101", "DELIVRD",
               "000", "");
}

Test(dlr_parse, text_containing_id_labels_and_spaces)
{
    expect_all(V_TEXT_ID, "ABC123", "001", "001", "2402291200", "2402291201",
               "DELIVRD", "000", "your id: 42 stat:ok err:x");
}

Test(dlr_parse, text_ends_at_label_of_field_not_seen_yet)
{
    /* cloudhopper's "value runs to the next label" for reordered fields. */
    expect_all("id:5 text:hi there stat:DELIVRD err:001", "5", ABSENT, ABSENT,
               ABSENT, ABSENT, "DELIVRD", "001", "hi there");
}

Test(dlr_parse, label_glued_inside_text_word_does_not_end_text)
{
    /* Constructed: "mystat:" and "astat:" are words of the text, not labels. */
    expect_all("id:5 text:see mystat:x", "5", ABSENT, ABSENT, ABSENT, ABSENT,
               ABSENT, ABSENT, "see mystat:x");
    expect_all("id:5 text:astat:x", "5", ABSENT, ABSENT, ABSENT, ABSENT,
               ABSENT, ABSENT, "astat:x");
}

Test(dlr_parse, labels_case_insensitive)
{
    const char *s = "ID:AbC SUB:001 DLVRD:001 SUBMIT DATE:1005232039 "
                    "Done Date:1005242339 STAT:delivrd ERR:000 TEXT:x y";
    struct dlr_receipt r = parse_ok(s);

    expect_all(s, "AbC", "001", "001", "1005232039", "1005242339", "delivrd",
               "000", "x y");
    cr_assert_eq(dlr_stat_to_state(s + r.stat.off, r.stat.len),
                 DLR_STATE_DELIVERED);
}

Test(dlr_parse, label_must_start_text_or_follow_whitespace)
{
    struct dlr_receipt r;
    const char *s = "xid:5 mystat:DELIVRD foo:id:7 a-err:1";

    cr_assert_eq(dlr_parse(s, strlen(s), &r), -1);
    cr_assert_not(r.id.present);
    cr_assert_not(r.stat.present);
    cr_assert_not(r.err.present);
    s = "id:5,stat:DELIVRD";
    r = parse_ok(s);
    EXPECT(s, r, id, "5,stat:DELIVRD");
    EXPECT(s, r, stat, ABSENT);
}

Test(dlr_parse, first_occurrence_wins)
{
    const char *s = "id:1 id:2 stat:DELIVRD stat:UNDELIV err:1 err:2";
    struct dlr_receipt r = parse_ok(s);

    EXPECT(s, r, id, "1");
    EXPECT(s, r, stat, "DELIVRD");
    EXPECT(s, r, err, "1");
}

Test(dlr_parse, tabs_crlf_and_trailing_nul)
{
    static const char s[] = "id:7\tstat:DELIVRD\r\nerr:000 text:hi\r\n";
    struct dlr_receipt r;

    /* sizeof includes the NUL, as SMSCs that count it send it. */
    cr_assert_eq(dlr_parse(s, sizeof(s), &r), 0);
    EXPECT(s, r, id, "7");
    EXPECT(s, r, stat, "DELIVRD");
    EXPECT(s, r, err, "000");
    EXPECT(s, r, text, "hi");
    cr_assert_eq(dlr_parse("stat:DELIVRD", sizeof("stat:DELIVRD"), &r), 0);
    cr_assert_eq(r.stat.len, 7);
}

Test(dlr_parse, gsm_at_sign_nul_inside_text_is_kept)
{
    /* GSM 03.38 '@' is 0x00 in unpacked short_message. */
    static const char s[] = "id:9 stat:DELIVRD err:000 text:a\0b";
    struct dlr_receipt r;

    cr_assert_eq(dlr_parse(s, sizeof(s) - 1, &r), 0);
    cr_assert_eq(r.text.len, 3);
    cr_assert_eq(memcmp(s + r.text.off, "a\0b", 3), 0);
}

Test(dlr_parse, empty_values)
{
    struct dlr_receipt r;
    const char *s = "id: stat:DELIVRD";

    r = parse_ok(s);
    EXPECT(s, r, id, "");
    EXPECT(s, r, stat, "DELIVRD");
    cr_assert_eq(dlr_parse("id: stat:", 9, &r), -1);
    cr_assert(r.id.present && r.stat.present);
}

Test(dlr_parse, not_a_receipt)
{
    static const char *const mo[] = {
        "", " ", "Hello world", "Please reply STOP to opt out",
        "my id is 5 and stat is fine", "sub:001 dlvrd:001 err:000",
        "ID5 STATDELIVRD", "text:id:5",
    };
    struct dlr_receipt r;

    for (size_t i = 0; i < sizeof(mo) / sizeof(mo[0]); i++)
        cr_assert_eq(dlr_parse(mo[i], strlen(mo[i]), &r), -1, "%s", mo[i]);
    cr_assert_eq(dlr_parse(NULL, 0, &r), -1);
}

Test(dlr_parse, length_bounds_not_nul)
{
    const char *s = "id:12345 stat:DELIVRD";
    struct dlr_receipt r;

    cr_assert_eq(dlr_parse(s, 6, &r), 0);
    EXPECT(s, r, id, "123");
    EXPECT(s, r, stat, ABSENT);
    cr_assert_eq(dlr_parse(s, 2, &r), -1);
    cr_assert_not(r.id.present);
}

/* Copies <s> so that it ends flush against a PROT_NONE page. */
static const char *guarded(char *page, size_t psz, const char *s, size_t n)
{
    char *p = page + psz - n;

    memcpy(p, s, n);
    return p;
}

Test(dlr_parse, every_prefix_flush_against_prot_none_page)
{
    size_t psz = (size_t)sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(mprotect(m + psz, psz, PROT_NONE), 0);
    for (size_t v = 0; v < sizeof(all_vectors) / sizeof(all_vectors[0]); v++) {
        size_t len = strlen(all_vectors[v]);

        for (size_t n = 0; n <= len; n++) {
            const char *g = guarded(m, psz, all_vectors[v], n);
            struct dlr_receipt a, b;
            char out[256];

            cr_assert_eq(dlr_parse(g, n, &a),
                         dlr_parse(all_vectors[v], n, &b));
            cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
            (void)dlr_rewrite_id(g, n, "X", 1, out, sizeof(out));
        }
    }
    munmap(m, 2 * psz);
}

/* ------------------------------------------------------------------ */
/* Dates                                                               */
/* ------------------------------------------------------------------ */

Test(dlr_date, ten_digits_spec_template)
{
    expect_date("1005232039", 2010, 5, 23, 20, 39, 0); /* cloudhopper */
    expect_date("1201121551", 2012, 1, 12, 15, 51, 0); /* e-com-net */
}

Test(dlr_date, twelve_digits_with_seconds)
{
    expect_date("190608165232", 2019, 6, 8, 16, 52, 32); /* smppcenter */
    expect_date("110206193041", 2011, 2, 6, 19, 30, 41); /* cloudhopper */
    expect_date("180122230957", 2018, 1, 22, 23, 9, 57); /* OpenMarket */
}

Test(dlr_date, fourteen_digits)
{
    expect_date("20110303100008", 2011, 3, 3, 10, 0, 8); /* cloudhopper */
    expect_date("20110314181534", 2011, 3, 14, 18, 15, 34); /* cloudhopper */
}

Test(dlr_date, all_zero_is_absent)
{
    /* cloudhopper generator "0000000000", OpenMarket "000000000000",
     * 14 zeros. */
    static const char *const z[] = { "0000000000", "000000000000",
                                     "00000000000000" };
    struct dlr_date d;

    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(dlr_date_parse(z[i], strlen(z[i]), &d), DLR_DATE_ABSENT);
        cr_assert_eq(d.year, 0);
        cr_assert_eq(d.month, 0);
        cr_assert_eq(d.digits, (int)strlen(z[i]));
    }
}

Test(dlr_date, range_checks)
{
    static const char *const bad[] = {
        "1013010000", "1000010000", "1001000000", "1001320000",
        "1004310000", "2302291200", "1001012400", "1001010060",
        "100101000060", "21000229000000", "19691231235959", "00000101000000",
        "0000000001",
    };
    struct dlr_date d;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(dlr_date_parse(bad[i], strlen(bad[i]), &d), -1, "%s",
                     bad[i]);
    expect_date("2402291200", 2024, 2, 29, 12, 0, 0);        /* leap year */
    expect_date("20000229235959", 2000, 2, 29, 23, 59, 59);  /* 400 rule */
    expect_date("1912312359", 2019, 12, 31, 23, 59, 0);
}

Test(dlr_date, lengths_and_digits)
{
    static const char *const bad[] = {
        "", "100523203", "10052320391", "1005232039123", "100523203912345",
        "YYMMDDhhmm", "10052320 9", "1005232039+0", "-005232039",
    };
    struct dlr_date d;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(dlr_date_parse(bad[i], strlen(bad[i]), &d), -1, "%s",
                     bad[i]);
    cr_assert_eq(dlr_date_parse(NULL, 10, &d), -1);
    /* Only <n> bytes are read. */
    cr_assert_eq(dlr_date_parse("1005232039XX", 10, &d), 0);
}

Test(dlr_date, format_10_12_14)
{
    struct dlr_date d;
    char out[16];

    cr_assert_eq(dlr_date_parse("110206193041", 12, &d), 0);
    cr_assert_eq(dlr_date_format(&d, 10, out, sizeof(out)), 10);
    cr_assert_str_eq(out, "1102061930");
    cr_assert_eq(dlr_date_format(&d, 12, out, sizeof(out)), 12);
    cr_assert_str_eq(out, "110206193041");
    cr_assert_eq(dlr_date_format(&d, 14, out, sizeof(out)), 14);
    cr_assert_str_eq(out, "20110206193041");
    cr_assert_eq(dlr_date_format(&d, 14, out, 14), -1);
    cr_assert_eq(dlr_date_format(&d, 11, out, sizeof(out)), -1);
    cr_assert_eq(dlr_date_parse("21000101000000", 14, &d), 0);
    cr_assert_eq(dlr_date_format(&d, 10, out, sizeof(out)), -1);
}

Test(dlr_date, from_and_to_unix)
{
    struct dlr_date d;
    char out[16];
    int64_t t;

    /* cloudhopper toShortMessage: 2010-05-23 20:39 UTC -> "1005232039". */
    cr_assert_eq(dlr_date_from_unix(1274647140, &d), 0);
    cr_assert_eq(dlr_date_format(&d, d.digits, out, sizeof(out)), 10);
    cr_assert_str_eq(out, "1005232039");
    cr_assert_eq(dlr_date_to_unix(&d, &t), 0);
    cr_assert_eq(t, 1274647140);
    cr_assert_eq(dlr_date_from_unix(951868799, &d), 0);
    cr_assert_eq(dlr_date_format(&d, 14, out, sizeof(out)), 14);
    cr_assert_str_eq(out, "20000229235959");
    cr_assert_eq(dlr_date_from_unix(0, &d), 0);
    cr_assert_eq(dlr_date_format(&d, 14, out, sizeof(out)), 14);
    cr_assert_str_eq(out, "19700101000000");
    cr_assert_eq(dlr_date_from_unix(-1, &d), -1);
    cr_assert_eq(dlr_date_from_unix(INT64_C(253402300800), &d), -1);
    cr_assert_eq(dlr_date_parse("0000000000", 10, &d), DLR_DATE_ABSENT);
    cr_assert_eq(dlr_date_to_unix(&d, &t), -1);
}

/* ------------------------------------------------------------------ */
/* Format                                                              */
/* ------------------------------------------------------------------ */

static struct dlr_info ch_info(void)
{
    struct dlr_info in = {
        .id = S("0123456789"), .sub = 1, .dlvrd = 1,
        .submit_date = S("1005232039"), .done_date = S("1005242339"),
        .stat = S("DELIVRD"), .err = S("12"),
        .text = S("This is a sample message that I want to have added to the "
                  "delivery receipt"),
    };

    return in;
}

Test(dlr_format, cloudhopper_toShortMessage)
{
    struct dlr_info in = ch_info();
    char out[256];
    const char *want =
        "id:0123456789 sub:001 dlvrd:001 submit date:1005232039 "
        "done date:1005242339 stat:DELIVRD err:012 text:This is a sample mes";

    cr_assert_eq(dlr_format(&in, out, sizeof(out)), (int)strlen(want));
    cr_assert_str_eq(out, want);
}

Test(dlr_format, cloudhopper_defaults_for_unset_fields)
{
    /* cloudhopper toShortMessageWith1DigitLongMessageId. */
    struct dlr_info in = { .id = S("0000000001"), .stat = S("BADSTAT") };
    char out[256];

    cr_assert_gt(dlr_format(&in, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "id:0000000001 sub:000 dlvrd:000 "
                          "submit date:0000000000 done date:0000000000 "
                          "stat:BADSTAT err:000 text:");
}

Test(dlr_format, cloudhopper_err_21b_reproduces_input)
{
    struct dlr_info in = ch_info();
    char out[256];

    in.sub = 2;
    in.err = S("21b");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)),
                 (int)strlen(V_CH_ERR21B));
    cr_assert_str_eq(out, V_CH_ERR21B);
}

Test(dlr_format, cloudhopper_real_world_receipt_reproduced_from_parse)
{
    const char *s = V_CH_REAL;
    struct dlr_receipt r = parse_ok(s);
    struct dlr_info in = {
        .id = { s + r.id.off, r.id.len }, .sub = 1, .dlvrd = 1,
        .submit_date = { s + r.submit_date.off, r.submit_date.len },
        .done_date = { s + r.done_date.off, r.done_date.len },
        .stat = { s + r.stat.off, r.stat.len },
        .err = { s + r.err.off, r.err.len },
        .text = { s + r.text.off, r.text.len },
    };
    char out[256];

    cr_assert_eq(dlr_format(&in, out, sizeof(out)), (int)strlen(s));
    cr_assert_str_eq(out, s);
}

Test(dlr_format, err_padding)
{
    static const char *const cases[][2] = {
        { "0", "000" }, { "12", "012" }, { "954", "954" }, { "1234", "1234" },
        { "21b", "21b" }, { "7a", "7a" }, { "", "000" }, { "075", "075" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dlr_info in = { .id = S("1"), .stat = S("UNDELIV"),
                               .err = S(cases[i][0]) };
        struct dlr_receipt r;
        char out[256];
        int n = dlr_format(&in, out, sizeof(out));

        cr_assert_gt(n, 0);
        cr_assert_eq(dlr_parse(out, (size_t)n, &r), 0);
        cr_assert_str_eq(fv(out, r.err), cases[i][1]);
    }
}

Test(dlr_format, text_cut_to_20_octets_nul_kept)
{
    struct dlr_info in = { .id = S("1"), .stat = S("DELIVRD"),
                           .text = { "@x\0y 456789012345678901234", 25 } };
    char out[256];
    int n = dlr_format(&in, out, sizeof(out));
    static const char want_tail[] = " text:@x\0y 456789012345678";

    cr_assert_eq(sizeof(want_tail) - 1, 26);
    cr_assert_gt(n, 26);
    cr_assert_eq(memcmp(out + n - 26, want_tail, 26), 0);
    cr_assert_eq(out[n], '\0');
}

Test(dlr_format, invalid_input)
{
    struct dlr_info base = ch_info();
    struct dlr_info in;
    char out[256];

    in = base; in.id = S("");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)), -1);
    cr_assert_eq(out[0], '\0');
    in = base; in.id = S("12 34");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)), -1);
    in = base; in.id = S("1234567890123456789012345678901234567890"
                         "12345678901234567890123456");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)), -1);
    in = base; in.stat = S("");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)), -1);
    in = base; in.stat = S("DEL RD");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)), -1);
    in = base; in.err = S("0\n");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)), -1);
    in = base; in.submit_date = S("1013010000");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)), -1);
    in = base; in.done_date = S("10052423");
    cr_assert_eq(dlr_format(&in, out, sizeof(out)), -1);
    in = base; in.done_date = S("000000000000");
    cr_assert_gt(dlr_format(&in, out, sizeof(out)), 0);
}

Test(dlr_format, cap_too_small_never_writes_past_cap)
{
    struct dlr_info in = ch_info();
    char ref[256];
    int len = dlr_format(&in, ref, sizeof(ref));

    cr_assert_gt(len, 0);
    for (size_t cap = 0; cap <= (size_t)len + 1; cap++) {
        char out[256];

        memset(out, 'Z', sizeof(out));
        if (cap <= (size_t)len) {
            cr_assert_eq(dlr_format(&in, out, cap), -1, "cap %zu", cap);
        } else {
            cr_assert_eq(dlr_format(&in, out, cap), len);
            cr_assert_str_eq(out, ref);
        }
        for (size_t i = cap; i < sizeof(out); i++)
            cr_assert_eq(out[i], 'Z', "write at %zu with cap %zu", i, cap);
    }
}

Test(dlr_format, round_trip_through_parse)
{
    struct dlr_info infos[] = {
        ch_info(),
        { .id = S("74E02EE1-4E2F-4A6E-A78B-4B247D756A22"), .sub = 1,
          .dlvrd = 0, .submit_date = S("110206193041"),
          .done_date = S("20110206193110"), .stat = S("UNDELIV"),
          .err = S("21b"), .text = S("your id: 42 stat:ok") },
        { .id = S("x"), .stat = S("ENROUTE") },
    };

    for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++) {
        const struct dlr_info *in = &infos[i];
        size_t tl = in->text.len > 20 ? 20 : in->text.len;
        struct dlr_receipt r;
        char out[256];
        int n = dlr_format(in, out, sizeof(out));

        cr_assert_gt(n, 0);
        cr_assert_eq(dlr_parse(out, (size_t)n, &r), 0);
        cr_assert_eq(r.id.len, in->id.len);
        cr_assert_eq(memcmp(out + r.id.off, in->id.p, in->id.len), 0);
        cr_assert_eq(r.stat.len, in->stat.len);
        cr_assert_eq(memcmp(out + r.stat.off, in->stat.p, in->stat.len), 0);
        if (in->submit_date.len > 0)
            cr_assert_str_eq(fv(out, r.submit_date), in->submit_date.p);
        cr_assert_eq(r.text.len, tl);
        if (tl > 0)
            cr_assert_eq(memcmp(out + r.text.off, in->text.p, tl), 0);
    }
}

/* ------------------------------------------------------------------ */
/* Id rewrite                                                          */
/* ------------------------------------------------------------------ */

Test(dlr_rewrite, cloudhopper_longer_id)
{
    expect_rewrite(V_CH, "5F3A9C1B2E4D6A7890AB",
                   "id:5F3A9C1B2E4D6A7890AB sub:002 dlvrd:001 "
                   "submit date:1005232039 done date:1005242339 stat:DELIVRD "
                   "err:012 text:This is a sample mes");
}

Test(dlr_rewrite, cloudhopper_shorter_id)
{
    expect_rewrite(V_CH, "7",
                   "id:7 sub:002 dlvrd:001 submit date:1005232039 "
                   "done date:1005242339 stat:DELIVRD err:012 "
                   "text:This is a sample mes");
}

Test(dlr_rewrite, openmarket_labels_without_space)
{
    expect_rewrite(V_OPENMARKET, "1A2B3C",
                   "id:1A2B3C sub:000 dlvrd:000 submitdate:180122230957 "
                   "donedate:000000000000 stat:REJECTD err:375 text:");
}

Test(dlr_rewrite, cloudhopper_reordered_id_second)
{
    expect_rewrite(V_CH_REORDER, "000123",
                   "sub:001 id:000123 err:000 dlvrd:001 "
                   "done date:110206193110 submit date:110206193041 text: "
                   "stat:DELIVRD");
}

Test(dlr_rewrite, spec_template_keeps_Text_case)
{
    expect_rewrite(V_SPEC, "99",
                   "id:99 sub:SSS dlvrd:DDD submit date:YYMMDDhhmm "
                   "done date:YYMMDDhhmm stat:DDDDDDD err:E "
                   "Text: . . . . . . . . .");
}

Test(dlr_rewrite, odd_spacing_case_and_id_in_text)
{
    expect_rewrite("ID:0059113978  sub:001\tdlvrd:001 Submit Date:1002101730 "
                   "done date:1002101731 STAT:DELIVRD err:000 "
                   "Text:Hi id:0059113978\r\n",
                   "ABCDEF0123456789ABCDEF0123456789",
                   "ID:ABCDEF0123456789ABCDEF0123456789  sub:001\tdlvrd:001 "
                   "Submit Date:1002101730 done date:1002101731 STAT:DELIVRD "
                   "err:000 Text:Hi id:0059113978\r\n");
}

Test(dlr_rewrite, text_containing_id_only_real_id_replaced)
{
    expect_rewrite(V_TEXT_ID, "Q",
                   "id:Q sub:001 dlvrd:001 submit date:2402291200 "
                   "done date:2402291201 stat:DELIVRD err:000 "
                   "text:your id: 42 stat:ok err:x");
}

Test(dlr_rewrite, id_last_and_empty_id)
{
    expect_rewrite("stat:DELIVRD err:000 id:99", "ABC",
                   "stat:DELIVRD err:000 id:ABC");
    expect_rewrite("id: stat:DELIVRD", "NEW", "id:NEW stat:DELIVRD");
    expect_rewrite(V_ID_ONLY, "1", "id:1");
}

Test(dlr_rewrite, trailing_nul_kept)
{
    static const char s[] = "id:5 stat:DELIVRD";
    char out[64];

    cr_assert_eq(dlr_rewrite_id(s, sizeof(s), "77", 2, out, sizeof(out)),
                 (int)sizeof(s) + 1);
    cr_assert_eq(memcmp(out, "id:77 stat:DELIVRD\0", sizeof(s) + 1), 0);
}

Test(dlr_rewrite, no_id_field_or_not_a_receipt)
{
    static const char *const in[] = {
        "sub:001 stat:DELIVRD err:000 text:id:5", "Hello", "", "xid:5",
        "id:", "stat:DELIVRD text:",
    };
    char out[64];

    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        memset(out, 'Z', sizeof(out));
        cr_assert_eq(dlr_rewrite_id(in[i], strlen(in[i]), "1", 1, out,
                                    sizeof(out)), -1, "%s", in[i]);
        cr_assert_eq(out[0], 'Z');
    }
}

Test(dlr_rewrite, invalid_new_id)
{
    char out[256];
    const char *s = V_CH;
    char big[DLR_ID_MAX + 2];

    memset(big, 'A', sizeof(big));
    cr_assert_eq(dlr_rewrite_id(s, strlen(s), "", 0, out, sizeof(out)), -1);
    cr_assert_eq(dlr_rewrite_id(s, strlen(s), "a b", 3, out, sizeof(out)), -1);
    cr_assert_eq(dlr_rewrite_id(s, strlen(s), "a\0b", 3, out, sizeof(out)),
                 -1);
    cr_assert_eq(dlr_rewrite_id(s, strlen(s), NULL, 1, out, sizeof(out)), -1);
    cr_assert_eq(dlr_rewrite_id(s, strlen(s), big, DLR_ID_MAX + 1, out,
                                sizeof(out)), -1);
    cr_assert_gt(dlr_rewrite_id(s, strlen(s), big, DLR_ID_MAX, out,
                                sizeof(out)), 0);
}

Test(dlr_rewrite, cap_too_small_writes_nothing)
{
    const char *s = V_CH;
    size_t want = strlen(s) - 10 + 20;

    for (size_t cap = 0; cap <= want + 1; cap++) {
        char out[256];
        int n;

        memset(out, 'Z', sizeof(out));
        n = dlr_rewrite_id(s, strlen(s), "5F3A9C1B2E4D6A7890AB", 20, out, cap);
        if (cap <= want) {
            cr_assert_eq(n, -1, "cap %zu", cap);
            for (size_t i = 0; i < sizeof(out); i++)
                cr_assert_eq(out[i], 'Z');
        } else {
            cr_assert_eq(n, (int)want);
            for (size_t i = cap; i < sizeof(out); i++)
                cr_assert_eq(out[i], 'Z');
        }
    }
}

Test(dlr_rewrite, every_vector_reparses_with_new_id_same_stat_err)
{
    for (size_t v = 0; v < sizeof(all_vectors) / sizeof(all_vectors[0]); v++) {
        const char *s = all_vectors[v];
        struct dlr_receipt a, b;
        char out[256];
        int n = dlr_rewrite_id(s, strlen(s), "BRIDGE42", 8, out, sizeof(out));

        a = parse_ok(s);
        cr_assert_eq(n, (int)(strlen(s) - a.id.len + 8));
        cr_assert_eq(dlr_parse(out, (size_t)n, &b), 0);
        cr_assert_str_eq(fv(out, b.id), "BRIDGE42");
        cr_assert_str_eq(fv(out, b.stat), fv(s, a.stat));
        cr_assert_str_eq(fv(out, b.err), fv(s, a.err));
        cr_assert_str_eq(fv(out, b.text), fv(s, a.text));
        cr_assert_str_eq(fv(out, b.done_date), fv(s, a.done_date));
    }
}

/* ------------------------------------------------------------------ */
/* Message states                                                      */
/* ------------------------------------------------------------------ */

Test(dlr_state, stat_words_spec_table_and_enroute)
{
    static const struct { const char *w; int st; } cases[] = {
        { "ENROUTE", 1 }, { "DELIVRD", 2 }, { "EXPIRED", 3 },
        { "DELETED", 4 }, { "UNDELIV", 5 }, { "ACCEPTD", 6 },
        { "UNKNOWN", 7 }, { "REJECTD", 8 },
        { "DELIVERED", 2 }, { "UNDELIVERABLE", 5 }, { "ACCEPTED", 6 },
        { "REJECTED", 8 }, { "SCHEDULED", 0 }, { "SKIPPED", 9 },
        { "delivrd", 2 }, { "Undeliv", 5 }, { "rejected", 8 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(dlr_stat_to_state(cases[i].w, strlen(cases[i].w)),
                     cases[i].st, "%s", cases[i].w);
}

Test(dlr_state, unknown_words)
{
    /* BADSTAT: cloudhopper's word for an unset state. */
    static const char *const bad[] = {
        "BADSTAT", "DELIVR", "DELIVRDX", "", "ACKED", "BUFFRED", "DELIVRD ",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(dlr_stat_to_state(bad[i], strlen(bad[i])), -1, "%s",
                     bad[i]);
    cr_assert_eq(dlr_stat_to_state(NULL, 0), -1);
    /* Only <n> bytes are compared. */
    cr_assert_eq(dlr_stat_to_state("DELIVRDX", 7), DLR_STATE_DELIVERED);
}

Test(dlr_state, state_to_stat)
{
    static const char *const want[] = {
        "ENROUTE", "ENROUTE", "DELIVRD", "EXPIRED", "DELETED",
        "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD", "UNDELIV",
    };

    for (int s = 0; s < DLR_STATE_MAX; s++)
        cr_assert_str_eq(dlr_state_to_stat(s), want[s]);
    for (int s = DLR_STATE_ENROUTE; s <= DLR_STATE_REJECTED; s++) {
        const char *w = dlr_state_to_stat(s);

        cr_assert_eq(dlr_stat_to_state(w, strlen(w)), s);
    }
    cr_assert_null(dlr_state_to_stat(-1));
    cr_assert_null(dlr_state_to_stat(DLR_STATE_MAX));
}

Test(dlr_state, final_states_per_spec)
{
    static const int want[DLR_STATE_MAX] = { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 };

    for (int s = 0; s < DLR_STATE_MAX; s++)
        cr_assert_eq(dlr_state_is_final(s), want[s], "state %d", s);
    cr_assert_eq(dlr_state_is_final(-1), 0);
    cr_assert_eq(dlr_state_is_final(DLR_STATE_MAX), 0);
    cr_assert_eq(DLR_STATE_ACCEPTED, 6);
    cr_assert_eq(DLR_STATE_SKIPPED, 9);
}

/* ------------------------------------------------------------------ */
/* Message ids                                                         */
/* ------------------------------------------------------------------ */

static uint64_t to_u64(const char *s, int radix)
{
    uint64_t v = 0;

    cr_assert_eq(dlr_id_to_u64(s, strlen(s), radix, &v), 0, "%s/%d", s,
                 radix);
    return v;
}

Test(dlr_id, cloudhopper_hex_long_conversion)
{
    /* cloudhopper toMessageIdAsLong / toMessageIdAsHexString. */
    char out[32];

    cr_assert_eq(to_u64("16fee0e525", 16), UINT64_C(98765432101));
    cr_assert_eq(dlr_id_from_u64(UINT64_C(98765432101), 16, 0, out,
                                 sizeof(out)), 10);
    cr_assert_str_eq(out, "16fee0e525");
    cr_assert_eq(dlr_id_from_u64(UINT64_C(98765432101), 16, 1, out,
                                 sizeof(out)), 10);
    cr_assert_str_eq(out, "16FEE0E525");
    cr_assert_eq(dlr_id_from_u64(UINT64_C(98765432101), 10, 1, out,
                                 sizeof(out)), 11);
    cr_assert_str_eq(out, "98765432101");
}

Test(dlr_id, cloudhopper_real_world_tlv_is_hex_of_text_id)
{
    /* cloudhopper parseRealWorldReceipt0: text id:0059113978, TLV 38601fa. */
    cr_assert_eq(to_u64("0059113978", 10), to_u64("38601fa", 16));
    cr_assert_eq(to_u64("38601FA", 16), UINT64_C(59113978));
}

Test(dlr_id, leading_zeros_and_hex_case)
{
    cr_assert_eq(to_u64("0000029095", 10), 29095); /* node-smpp #199 */
    cr_assert_eq(to_u64("0000000012345678", 10), 12345678); /* Nexmo */
    cr_assert_eq(to_u64("0000000000000000000000000000001", 10), 1);
    cr_assert_eq(to_u64("00000000000000000000FFFFFFFFFFFFFFFF", 16),
                 UINT64_MAX);
    cr_assert_eq(to_u64("2e179b", 16), to_u64("2E179B", 16));
    cr_assert_eq(to_u64("0", 10), 0);
    cr_assert_eq(to_u64("000", 16), 0);
}

Test(dlr_id, overflow)
{
    uint64_t v = 7;

    cr_assert_eq(to_u64("18446744073709551615", 10), UINT64_MAX);
    cr_assert_eq(dlr_id_to_u64("18446744073709551616", 20, 10, &v), -1);
    cr_assert_eq(dlr_id_to_u64("99999999999999999999", 20, 10, &v), -1);
    cr_assert_eq(to_u64("FFFFFFFFFFFFFFFF", 16), UINT64_MAX);
    cr_assert_eq(dlr_id_to_u64("10000000000000000", 17, 16, &v), -1);
    /* A 128-bit hex id (cloudhopper missing-fields test). */
    cr_assert_eq(dlr_id_to_u64("2E179B310EDE971B2760C72B7F026E1B", 32, 16,
                               &v), -1);
    cr_assert_eq(v, 7, "out untouched on failure");
}

Test(dlr_id, strict_syntax)
{
    static const struct { const char *s; int radix; } bad[] = {
        { "12a", 10 }, { "0x1F", 16 }, { "-1", 10 }, { "+1", 10 },
        { " 1", 10 }, { "1 ", 16 }, { "", 10 }, { "", 16 }, { "1g", 16 },
        { "74e02ee1-4e2f", 16 }, { "12", 8 }, { "12", 0 }, { "12", 36 },
    };
    uint64_t v;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(dlr_id_to_u64(bad[i].s, strlen(bad[i].s), bad[i].radix,
                                   &v), -1, "%s/%d", bad[i].s, bad[i].radix);
    cr_assert_eq(dlr_id_to_u64(NULL, 1, 10, &v), -1);
    /* Only <n> bytes are read. */
    cr_assert_eq(dlr_id_to_u64("12x", 2, 10, &v), 0);
    cr_assert_eq(v, 12);
}

Test(dlr_id, from_u64_limits)
{
    char out[32];

    cr_assert_eq(dlr_id_from_u64(0, 10, 0, out, sizeof(out)), 1);
    cr_assert_str_eq(out, "0");
    cr_assert_eq(dlr_id_from_u64(0, 16, 1, out, sizeof(out)), 1);
    cr_assert_str_eq(out, "0");
    cr_assert_eq(dlr_id_from_u64(UINT64_MAX, 10, 0, out, sizeof(out)), 20);
    cr_assert_str_eq(out, "18446744073709551615");
    cr_assert_eq(dlr_id_from_u64(UINT64_MAX, 16, 1, out, sizeof(out)), 16);
    cr_assert_str_eq(out, "FFFFFFFFFFFFFFFF");
    cr_assert_eq(dlr_id_from_u64(UINT64_MAX, 16, 0, out, sizeof(out)), 16);
    cr_assert_str_eq(out, "ffffffffffffffff");
    memset(out, 'Z', sizeof(out));
    cr_assert_eq(dlr_id_from_u64(29095, 10, 0, out, 5), -1);
    cr_assert_eq(out[5], 'Z');
    cr_assert_eq(dlr_id_from_u64(29095, 10, 0, out, 6), 5);
    cr_assert_str_eq(out, "29095");
    cr_assert_eq(dlr_id_from_u64(1, 8, 0, out, sizeof(out)), -1);
}

Test(dlr_id, canonical_form)
{
    static const char *const cases[][2] = {
        { "0000029095", "29095" },     /* node-smpp #199 */
        { "38601fa", "38601FA" },      /* cloudhopper TLV */
        { "000", "0" }, { "0", "0" },
        { "74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
          "74E02EE1-4E2F-4A6E-A78B-4B247D756A22" }, /* cloudhopper uuid */
        { "0118Z-0122I-2309U-57DGB", "118Z-0122I-2309U-57DGB" }, /* OM */
        { "2E179B310EDE971B2760C72B7F026E1B",
          "2E179B310EDE971B2760C72B7F026E1B" },
    };
    char out[DLR_ID_MAX + 1];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = dlr_id_canonical(cases[i][0], strlen(cases[i][0]), out,
                                 sizeof(out));

        cr_assert_eq(n, (int)strlen(cases[i][1]));
        cr_assert_str_eq(out, cases[i][1]);
    }
}

Test(dlr_id, canonical_rejects)
{
    char big[DLR_ID_MAX + 1];
    char out[DLR_ID_MAX + 1];

    memset(big, 'a', sizeof(big));
    cr_assert_eq(dlr_id_canonical("", 0, out, sizeof(out)), -1);
    cr_assert_eq(dlr_id_canonical("1 2", 3, out, sizeof(out)), -1);
    cr_assert_eq(dlr_id_canonical("1\0", 2, out, sizeof(out)), -1);
    cr_assert_eq(dlr_id_canonical(big, DLR_ID_MAX + 1, out, sizeof(out)), -1);
    cr_assert_eq(dlr_id_canonical(big, DLR_ID_MAX, out, sizeof(out)),
                 DLR_ID_MAX);
    cr_assert_eq(dlr_id_canonical("00123", 5, out, 3), -1);
    cr_assert_eq(dlr_id_canonical("00123", 5, out, 4), 3);
}

/* Checks dlr_id_candidates(<id>) against the NULL-terminated <want>. */
static void expect_candidates(const char *id, const char *const *want)
{
    char out[DLR_ID_CANDIDATES_MAX][DLR_ID_MAX + 1];
    size_t k = 0;
    size_t n = dlr_id_candidates(id, strlen(id), out, DLR_ID_CANDIDATES_MAX);

    while (want[k] != NULL)
        k++;
    cr_assert_eq(n, k, "%s: %zu candidates", id, n);
    for (size_t i = 0; i < k; i++)
        cr_assert_str_eq(out[i], want[i], "%s #%zu", id, i);
}

Test(dlr_id, candidates_decimal_zero_padded)
{
    /* node-smpp #199: decimal with zeros; both readings of all digits. */
    static const char *const w1[] = { "0000029095", "29095", "71A7", "168085",
                                      NULL };
    /* Nexmo: "decimal or hexadecimal depending on your account". */
    static const char *const w2[] = { "0000000012345678", "12345678",
                                      "BC614E", "305419896", NULL };
    /* A real 17-digit id: too long for a 64-bit hex reading. */
    static const char *const w3[] = { "40072910491427628", "8E5E198AF5232C",
                                      NULL };

    expect_candidates("0000029095", w1);
    expect_candidates("0000000012345678", w2);
    expect_candidates("40072910491427628", w3);
}

Test(dlr_id, candidates_hex_and_opaque)
{
    /* cloudhopper real-world TLV id -> the text id's canonical form. */
    static const char *const w1[] = { "38601fa", "38601FA", "59113978", NULL };
    /* cloudhopper 128-bit hex: no number fits, as is only. */
    static const char *const w2[] = { "2E179B310EDE971B2760C72B7F026E1B",
                                      NULL };
    static const char *const w3[] = {
        "74e02ee1-4e2f-4a6e-a78b-4b247d756a22",
        "74E02EE1-4E2F-4A6E-A78B-4B247D756A22", NULL };
    static const char *const w4[] = { "0118Z-0122I-2309U-57DGB",
                                      "118Z-0122I-2309U-57DGB", NULL };
    static const char *const w5[] = { "0", NULL };
    static const char *const w6[] = { "000", "0", NULL };
    /* cloudhopper text id 0059113978 -> the TLV's canonical form. */
    static const char *const w7[] = { "0059113978", "59113978", "38601FA",
                                      "1494301048", NULL };

    expect_candidates("38601fa", w1);
    expect_candidates("2E179B310EDE971B2760C72B7F026E1B", w2);
    expect_candidates("74e02ee1-4e2f-4a6e-a78b-4b247d756a22", w3);
    expect_candidates("0118Z-0122I-2309U-57DGB", w4);
    expect_candidates("0", w5);
    expect_candidates("000", w6);
    expect_candidates("0059113978", w7);
}

Test(dlr_id, candidates_max_and_invalid)
{
    char out[DLR_ID_CANDIDATES_MAX][DLR_ID_MAX + 1];
    char big[DLR_ID_MAX + 1];

    memset(out, 'Z', sizeof(out));
    cr_assert_eq(dlr_id_candidates("0000029095", 10, out, 2), 2);
    cr_assert_str_eq(out[0], "0000029095");
    cr_assert_str_eq(out[1], "29095");
    cr_assert_eq(out[2][0], 'Z');
    cr_assert_eq(dlr_id_candidates("0000029095", 10, out, 0), 0);
    memset(big, '1', sizeof(big));
    cr_assert_eq(dlr_id_candidates(big, sizeof(big), out, 4), 0);
    cr_assert_eq(dlr_id_candidates("", 0, out, 4), 0);
    cr_assert_eq(dlr_id_candidates("a b", 3, out, 4), 0);
    /* 64 digits: too long for either radix, and already canonical. */
    cr_assert_eq(dlr_id_candidates(big, DLR_ID_MAX, out, 4), 1);
    cr_assert_eq(strlen(out[0]), DLR_ID_MAX);
}

/* ------------------------------------------------------------------ */
/* Id keys, lookup forms and the learnt radix (receipt routing)         */
/* ------------------------------------------------------------------ */

static const char *key_of(const char *id, int fold)
{
    static char out[DLR_ID_MAX + 1];
    if (dlr_id_key(id, strlen(id), fold, out, sizeof out) < 0)
        return NULL;
    return out;
}

/* Two messages whose ids differ only in case, or in a leading zero of an
 * id that is not a number, keep two keys unless the connector folds case;
 * a number's padding (decimal or hex) is not part of the key. */
Test(dlr_id, key_case_sensitive_keeps_distinct_ids)
{
    cr_assert_str_eq(key_of("abcD1", 0), "abcD1");
    cr_assert_str_eq(key_of("ABCD1", 0), "ABCD1");
    cr_assert_str_eq(key_of("0xy", 0), "0xy");
    cr_assert_str_eq(key_of("xy", 0), "xy");
    /* a zero-padded number is the same number */
    cr_assert_str_eq(key_of("0ab", 0), "ab");
    cr_assert_str_eq(key_of("0a1b2c3d", 0), "a1b2c3d");
    cr_assert_str_eq(key_of("000003E8", 0), "3E8");
    cr_assert_str_eq(key_of("0000029095", 0), "29095");
    cr_assert_str_eq(key_of("000", 0), "0");
    cr_assert_str_eq(key_of("74e02ee1-4e2f", 0), "74e02ee1-4e2f");
    cr_assert_null(key_of("", 0));
    cr_assert_null(key_of("a b", 0));
}

Test(dlr_id, key_case_insensitive_is_canonical)
{
    cr_assert_str_eq(key_of("abcD1", 1), "ABCD1");
    cr_assert_str_eq(key_of("0ab", 1), "AB");
    cr_assert_str_eq(key_of("0000029095", 1), "29095");
}

/* Checks dlr_id_lookup_forms() against <want> and their kinds. */
static void expect_forms(const char *id, int fold, unsigned allow,
                         const char *const *want, const int *kinds)
{
    char out[DLR_ID_FORMS_MAX][DLR_ID_MAX + 1];
    int kind[DLR_ID_FORMS_MAX];
    size_t n = dlr_id_lookup_forms(id, strlen(id), fold, allow, out, kind,
                                   DLR_ID_FORMS_MAX);
    size_t k = 0;
    for (; want[k]; k++) {
        cr_assert_lt(k, n, "%s: form %zu (%s) missing", id, k, want[k]);
        cr_assert_str_eq(out[k], want[k], "%s: form %zu", id, k);
        cr_assert_eq(kind[k], kinds[k], "%s: kind of %s", id, want[k]);
    }
    cr_assert_eq(n, k, "%s: %zu forms, want %zu", id, n, k);
}

#define BOTH (DLR_FORMS_DEC_TO_HEX | DLR_FORMS_HEX_TO_DEC)

Test(dlr_id, lookup_forms_sensitive)
{
    /* decimal receipt id of a hex resp id: both hex cases are tried */
    expect_forms("6699", 0, BOTH,
                 (const char *const[]){"6699", "1A2B", "1a2b", "26265", NULL},
                 (const int[]){DLR_ID_SAME, DLR_ID_OTHER_RADIX,
                               DLR_ID_OTHER_RADIX, DLR_ID_OTHER_RADIX});
    /* a hex id keeps its case in the same radix */
    expect_forms("abcd1", 0, BOTH, (const char *const[]){"abcd1", "703697", NULL},
                 (const int[]){DLR_ID_SAME, DLR_ID_OTHER_RADIX});
    /* an opaque id has one form */
    expect_forms("Xy-1", 0, BOTH, (const char *const[]){"Xy-1", NULL},
                 (const int[]){DLR_ID_SAME});
    /* dlr_id_format = hex: no decimal reading */
    expect_forms("1000", 0, DLR_FORMS_HEX_TO_DEC,
                 (const char *const[]){"1000", "4096", NULL},
                 (const int[]){DLR_ID_SAME, DLR_ID_OTHER_RADIX});
    cr_assert_eq(dlr_id_lookup_forms("", 0, 0, BOTH, NULL, NULL, 4), 0);
}

/* A zero-padded hex resp id, its receipt in decimal: the converted form
 * has no padding, and neither has the key the resp id was stored under. */
Test(dlr_id, padded_hex_resp_id_matches_its_decimal_receipt)
{
    char out[DLR_ID_FORMS_MAX][DLR_ID_MAX + 1];
    int kind[DLR_ID_FORMS_MAX];
    const char *stored = key_of("0a1b2c3d", 0);
    cr_assert_not_null(stored);
    size_t n = dlr_id_lookup_forms("169552957", 9, 0, BOTH, out, kind,
                                   DLR_ID_FORMS_MAX);
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(out[i], stored) == 0 && kind[i] == DLR_ID_OTHER_RADIX)
            found = 1;
    cr_assert(found, "receipt id:169552957 finds the key %s", stored);
}

Test(dlr_id, lookup_forms_insensitive)
{
    expect_forms("0000029095", 1, BOTH,
                 (const char *const[]){"29095", "71A7", "168085", NULL},
                 (const int[]){DLR_ID_SAME, DLR_ID_OTHER_RADIX,
                               DLR_ID_OTHER_RADIX});
    expect_forms("abcd1", 1, BOTH, (const char *const[]){"ABCD1", "703697", NULL},
                 (const int[]){DLR_ID_SAME, DLR_ID_OTHER_RADIX});
}

Test(dlr_id, pick_learns_from_one_match)
{
    struct dlr_radix r = {-1, 0};
    size_t pick = 9;
    cr_assert_eq(dlr_id_pick(&r, NULL, 0, &pick), DLR_PICK_NONE);
    cr_assert_eq(dlr_id_pick(&r, (const int[]){DLR_ID_OTHER_RADIX}, 1, &pick),
                 DLR_PICK_OK);
    cr_assert_eq(pick, 0);
    cr_assert_eq(r.kind, DLR_ID_OTHER_RADIX);
}

/* Unknown radix and two messages match: which one is never guessed. */
Test(dlr_id, pick_ambiguous_before_learning)
{
    struct dlr_radix r = {-1, 0};
    size_t pick = 9;
    cr_assert_eq(dlr_id_pick(&r, (const int[]){DLR_ID_SAME, DLR_ID_OTHER_RADIX},
                             2, &pick),
                 DLR_PICK_AMBIGUOUS);
    cr_assert_eq(r.kind, -1, "nothing learnt from an ambiguous receipt");
    cr_assert_eq(pick, 9);
}

/* Regression: one match in the other radix was taken and overwrote what
 * the connector was seen to use, so a receipt reached another customer. */
Test(dlr_id, pick_radix_mismatch_is_refused_not_learnt)
{
    struct dlr_radix r = {DLR_ID_SAME, 0};
    size_t pick = 9;
    cr_assert_eq(dlr_id_pick(&r, (const int[]){DLR_ID_OTHER_RADIX}, 1, &pick),
                 DLR_PICK_RADIX_MISMATCH);
    cr_assert_eq(r.kind, DLR_ID_SAME);
    /* the learnt radix decides between a same and an other match */
    cr_assert_eq(dlr_id_pick(&r, (const int[]){DLR_ID_OTHER_RADIX, DLR_ID_SAME},
                             2, &pick),
                 DLR_PICK_OK);
    cr_assert_eq(pick, 1);
    cr_assert_eq(r.against, 0, "an agreeing receipt resets the count");
    /* two matches in the learnt radix (hex in two cases): not guessed */
    struct dlr_radix o = {DLR_ID_OTHER_RADIX, 0};
    cr_assert_eq(dlr_id_pick(&o, (const int[]){DLR_ID_OTHER_RADIX,
                                               DLR_ID_OTHER_RADIX}, 2, &pick),
                 DLR_PICK_AMBIGUOUS);
}

/* An upstream that really changed its format is followed after
 * DLR_RADIX_RELEARN refused receipts in a row, not after one. */
Test(dlr_id, pick_relearns_only_after_a_run)
{
    struct dlr_radix r = {DLR_ID_SAME, 0};
    size_t pick;
    const int other[] = {DLR_ID_OTHER_RADIX};
    for (unsigned i = 0; i < DLR_RADIX_RELEARN; i++) {
        cr_assert_eq(r.kind, DLR_ID_SAME, "still same after %u", i);
        cr_assert_eq(dlr_id_pick(&r, other, 1, &pick), DLR_PICK_RADIX_MISMATCH);
    }
    cr_assert_eq(r.kind, DLR_ID_OTHER_RADIX);
    cr_assert_eq(dlr_id_pick(&r, other, 1, &pick), DLR_PICK_OK);
}
