/*
 * dlr.h - delivery receipt text: parse, format, id rewrite, message states
 * and upstream message id normalisation.
 *
 * Pure module: libc only, no I/O, no allocation. Every input is a (ptr, len)
 * view that need not be NUL-terminated (a PDU's short_message or
 * message_payload); nothing is read past the given length. Every output goes
 * into a caller-owned buffer with a capacity; a function that does not fit
 * returns -1 and never writes past the capacity.
 *
 * The receipt text is SMSC vendor specific (SMPP 3.4 Appendix B). The de-facto
 * template is
 *
 *   id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm
 *   done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
 *
 * and the variants met in the wild (docs/architecture.md, "SMPP facts
 * the code relies on") are all accepted by
 * dlr_parse(): 10/12/14-digit dates, "Text:"/"text:", missing or reordered
 * fields, "submitdate:"/"donedate:" without the space, any id form,
 * alphanumeric err.
 *
 * Choices callers must know:
 *
 *  - Canonical id form (the key of an upstream id for a connector with
 *    dlr_id_case = insensitive; see dlr_id_key() for the default): ASCII
 *    letters upper-cased, leading '0' characters stripped, an id made only of
 *    zeros becomes "0". So "0000029095" -> "29095", "38601fa" -> "38601FA",
 *    "74e02ee1-4e2f-..." -> "74E02EE1-4E2F-...". This is Jasmin's
 *    upper().lstrip('0') rule, except that Jasmin turns "000" into "".
 *
 *  - dlr_format() writes the lower-case "text:" label, not the spec
 *    template's "Text:". The spec calls the format vendor specific and shows
 *    "Text:" only in an example; the receipts real SMSCs send (cloudhopper's
 *    generator and its real-world test capture, Nexmo, OpenMarket,
 *    smppcenter, the e-com-net capture) all use "text:", and a client that
 *    matches labels case-sensitively was written against those. Relayed
 *    upstream receipts keep upstream's label: dlr_rewrite_id() changes only
 *    the id value.
 *
 *  - Dates made only of zeros ("0000000000", "000000000000", the OpenMarket
 *    "donedate:000000000000") mean "not set": dlr_date_parse() returns
 *    DLR_DATE_ABSENT for them, not an error. dlr_format() writes
 *    "0000000000" for an empty date, as cloudhopper does.
 *
 *  - Two-digit years are 20YY.
 */
#ifndef SMPPBRIDGE_DLR_H
#define SMPPBRIDGE_DLR_H

#include <stddef.h>
#include <stdint.h>

/* message_id is a C-Octet string of at most 65 octets including the NUL. */
#define DLR_ID_MAX 64
/* The template keeps the first 20 characters of the original message. */
#define DLR_TEXT_MAX 20
/* dlr_id_candidates() never produces more than this many forms. */
#define DLR_ID_CANDIDATES_MAX 4
/* Longest stat and err words dlr_format() accepts. */
#define DLR_WORD_MAX 16
/* dlr_date_parse() result for an all-zero date ("not set"). */
#define DLR_DATE_ABSENT 1

/*
 * message_state TLV (0x0427) values, SMPP 3.4 §5.2.28 / 5.0 §4.7.15.
 * SCHEDULED and SKIPPED exist only in 5.0.
 */
enum dlr_state {
    DLR_STATE_SCHEDULED = 0,
    DLR_STATE_ENROUTE,
    DLR_STATE_DELIVERED,
    DLR_STATE_EXPIRED,
    DLR_STATE_DELETED,
    DLR_STATE_UNDELIVERABLE,
    DLR_STATE_ACCEPTED,
    DLR_STATE_UNKNOWN,
    DLR_STATE_REJECTED,
    DLR_STATE_SKIPPED,
    DLR_STATE_MAX
};

/*
 * One field found in a receipt text: <off> and <len> locate the VALUE (after
 * the label's colon) in the text given to dlr_parse(). <present> is 1 when
 * the label was found; the value may then still be empty.
 */
struct dlr_field {
    size_t off;
    size_t len;
    int present;
};

struct dlr_receipt {
    struct dlr_field id;
    struct dlr_field sub;
    struct dlr_field dlvrd;
    struct dlr_field submit_date;
    struct dlr_field done_date;
    struct dlr_field stat;
    struct dlr_field err;
    struct dlr_field text;
};

/* A byte view for dlr_format() input; <p> may be NULL when <len> is 0. */
struct dlr_str {
    const char *p;
    size_t len;
};

/*
 * What dlr_format() writes. sub and dlvrd are printed zero-padded to three
 * digits. Empty dates become "0000000000"; empty err becomes "000".
 */
struct dlr_info {
    struct dlr_str id;
    unsigned sub;
    unsigned dlvrd;
    struct dlr_str submit_date;
    struct dlr_str done_date;
    struct dlr_str stat;
    struct dlr_str err;
    struct dlr_str text;
};

/* A receipt date. <digits> is the width it was parsed from (10, 12 or 14). */
struct dlr_date {
    int year;
    int month;
    int day;
    int hour;
    int min;
    int sec;
    int digits;
};

/*
 * Parses the receipt text <txt> of <n> bytes into <out> (always fully
 * written; absent fields have present == 0).
 *
 * Labels are matched case-insensitively, in any order, and only where they
 * start the text or follow a separator (whitespace or NUL), so "xid:" or a
 * label glued to a value is not taken. The first occurrence of a label wins.
 * id, sub, dlvrd, the dates, stat and err take the bytes up to the next
 * separator (none is skipped after the colon: "id: 5" has an empty id).
 * "text:" takes the rest of the message, spaces and labels included, except
 * that a label of a field not seen before "text:" ends it: cloudhopper's
 * reordered "... text: stat:DELIVRD" has an empty text and a stat, while
 * "id:1 stat:DELIVRD text:your id: 5" keeps "your id: 5" as text. Trailing
 * separators (CR, LF, the NUL some SMSCs append) are not part of the text;
 * a NUL inside it (GSM '@') is.
 *
 * Returns 0 when a non-empty id or stat was found, -1 otherwise (not a
 * receipt text; <out> still describes whatever labels were seen).
 */
int dlr_parse(const char *txt, size_t n, struct dlr_receipt *out);

/*
 * Parses a receipt date of exactly 10 (YYMMDDhhmm), 12 (YYMMDDhhmmss) or 14
 * (YYYYMMDDhhmmss) ASCII digits into <out>, with range checks: month 1-12,
 * day within the month (leap years counted), hour 0-23, minute and second
 * 0-59, four-digit year 1970-9999.
 *
 * Returns 0 for a valid date, DLR_DATE_ABSENT when every digit is zero (out
 * zeroed except <digits>), -1 otherwise.
 */
int dlr_date_parse(const char *s, size_t n, struct dlr_date *out);

/*
 * Writes <d> as <digits> (10, 12 or 14) ASCII digits plus a NUL into <out>.
 * 10 and 12 digits need a year in 2000-2099. Returns <digits>, or -1 when
 * the date is out of range or <cap> is below digits + 1.
 */
int dlr_date_format(const struct dlr_date *d, int digits, char *out,
                    size_t cap);

/*
 * Converts seconds since the Unix epoch <t> (UTC; add an offset first for
 * another zone) into <out> with digits = 10. Returns 0, or -1 when <t> is
 * negative or past year 9999.
 */
int dlr_date_from_unix(int64_t t, struct dlr_date *out);

/*
 * Converts a date from dlr_date_parse() back to seconds since the epoch,
 * reading it as UTC. Returns 0, or -1 when <d> is not a valid date.
 */
int dlr_date_to_unix(const struct dlr_date *d, int64_t *out);

/*
 * Writes the de-facto template for <in> into <out>:
 *   id:%s sub:%03u dlvrd:%03u submit date:%s done date:%s stat:%s err:%s text:%s
 * The text is cut to its first DLR_TEXT_MAX octets (the caller passes it in
 * the receipt's encoding); a numeric err shorter than 3 digits is
 * zero-padded to 3, any other err is written as given.
 *
 * Strict writing: id must be 1-DLR_ID_MAX bytes, stat 1-DLR_WORD_MAX, err at
 * most DLR_WORD_MAX, none containing whitespace or NUL; a non-empty date
 * must be accepted by dlr_date_parse() (all-zero included).
 *
 * Returns the length written (a NUL follows it), or -1 when the input is
 * invalid or <cap> is below length + 1 (then out[0] is NUL if cap > 0).
 */
int dlr_format(const struct dlr_info *in, char *out, size_t cap);

/*
 * Copies the receipt text <txt> of <n> bytes into <out>, replacing only the
 * value of the id field (as dlr_parse() finds it) with <new_id> of
 * <new_len> bytes. Every other byte is kept exactly: label case, spacing,
 * field order, the text field and any trailing bytes. <out> must not
 * overlap <txt>.
 *
 * <new_id> must be 1-DLR_ID_MAX bytes without whitespace or NUL. The result
 * may be longer than short_message allows (254); the caller then moves it
 * to message_payload.
 *
 * Returns the new length (a NUL follows it), or -1 when <txt> is not a
 * receipt or has no id field, <new_id> is invalid, or <cap> is below
 * length + 1. On -1 nothing is written.
 */
int dlr_rewrite_id(const char *txt, size_t n, const char *new_id,
                   size_t new_len, char *out, size_t cap);

/*
 * Maps a receipt stat word of <n> bytes to its message_state, ignoring case:
 * ENROUTE, DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN, REJECTD,
 * the long forms DELIVERED, UNDELIVERABLE, ACCEPTED, REJECTED, and the 5.0
 * names SCHEDULED and SKIPPED. Returns the enum dlr_state value, or -1 for
 * any other word (cloudhopper's BADSTAT included).
 */
int dlr_stat_to_state(const char *word, size_t n);

/*
 * Returns the stat word to write for message_state <state>, or NULL when
 * <state> is not a dlr_state. The 5.0-only states have no 3.4 word, so they
 * map to the 3.4 word of the same kind every client understands: SCHEDULED
 * -> "ENROUTE" (not final), SKIPPED -> "UNDELIV" (final failure).
 */
const char *dlr_state_to_stat(int state);

/*
 * The spec's name of message_state <state> ("DELIVERED", "UNDELIVERABLE",
 * ...; NULL when out of range), and back (-1 for any other name).
 */
const char *dlr_state_name(int state);
int dlr_state_from_name(const char *name);

/*
 * Returns 1 when <state> is final per the spec (DELIVERED through SKIPPED,
 * ACCEPTED included: "manually accepted by the MC operator"), 0 for
 * SCHEDULED, ENROUTE and values out of range. Upstreams that use ACCEPTD as
 * an intermediate state need a per-upstream mapping on top of this.
 */
int dlr_state_is_final(int state);

/*
 * Reads the id <id> of <n> bytes as an unsigned number in <radix> (10 or
 * 16; hex digits in either case). Strict: only digits of the radix, no
 * sign, prefix or space; any number of leading zeros. Returns 0 and sets
 * <out>, or -1 when empty, invalid, or above UINT64_MAX.
 */
int dlr_id_to_u64(const char *id, size_t n, int radix, uint64_t *out);

/*
 * Writes <v> in <radix> (10 or 16) without leading zeros ("0" for zero),
 * hex letters upper-case when <upper> is non-zero, plus a NUL. Returns the
 * length, or -1 for a bad radix or when <cap> is below length + 1.
 */
int dlr_id_from_u64(uint64_t v, int radix, int upper, char *out, size_t cap);

/*
 * Writes the canonical form of <id> (see the top of this file) plus a NUL.
 * Returns its length, or -1 when <id> is empty, longer than DLR_ID_MAX,
 * contains whitespace or NUL, or <cap> is below length + 1.
 */
int dlr_id_canonical(const char *id, size_t n, char *out, size_t cap);

/*
 * Fills <out> with the ids a bridge should look up, in order, for the
 * receipt id <id> of <n> bytes, without duplicates:
 *   1. the id as is;
 *   2. its canonical form;
 *   3. when it is a decimal number that fits 64 bits: its upper-case hex;
 *   4. when it is a hex number that fits 64 bits: its decimal.
 * An all-digit id is both, so it yields both 3 and 4 ("0000029095" ->
 * "0000029095", "29095", "71A7", "168085"). Each entry is NUL-terminated.
 * Returns the number written (at most <max>); 0 when <id> is invalid for
 * dlr_id_canonical().
 */
size_t dlr_id_candidates(const char *id, size_t n, char out[][DLR_ID_MAX + 1],
                         size_t max);

/*
 * The form the id map stores upstream id <id> under (its key), plus a NUL.
 * With <fold_case>: dlr_id_canonical(), for an upstream whose ids do not
 * depend on case. Without (the default): the id exactly as given, except
 * that an id of hex digits only loses its leading zeros - a zero-padded
 * number is the same number, and its receipt may write it in the other
 * radix, which has no padding - so two ids that differ only in case, or
 * "0xy" and "xy", stay two keys. Returns the length, or -1 as
 * dlr_id_canonical().
 */
int dlr_id_key(const char *id, size_t n, int fold_case, char *out, size_t cap);

/* How a lookup form of a receipt id relates to the id as the receipt
 * wrote it: the same radix, or the number read in one radix and written
 * in the other. */
enum dlr_id_kind {
    DLR_ID_SAME = 0,
    DLR_ID_OTHER_RADIX,
};

/* dlr_id_lookup_forms() <allow> bits: which radix conversions to try. */
#define DLR_FORMS_DEC_TO_HEX 1u
#define DLR_FORMS_HEX_TO_DEC 2u
#define DLR_ID_FORMS_MAX 4

/*
 * The keys (see dlr_id_key()) a receipt id <id> of <n> bytes may have
 * been stored under, without duplicates, each with its kind in <kind>:
 *   1. dlr_id_key(id) - DLR_ID_SAME;
 *   2. with DLR_FORMS_DEC_TO_HEX, when <id> is a decimal number that fits
 *      64 bits: its hex, upper-case, and also lower-case unless
 *      <fold_case> (a hex number's case is not part of its value, but a
 *      case-sensitive key keeps the case upstream wrote);
 *   3. with DLR_FORMS_HEX_TO_DEC, when <id> is a hex number that fits 64
 *      bits: its decimal.
 * Returns the number written (at most <max>); 0 for an invalid id.
 */
size_t dlr_id_lookup_forms(const char *id, size_t n, int fold_case,
                           unsigned allow, char out[][DLR_ID_MAX + 1],
                           int kind[], size_t max);

/*
 * What a connector's receipts were seen to use: DLR_ID_SAME (the radix of
 * its submit_sm_resp ids) or DLR_ID_OTHER_RADIX; <kind> -1 while unknown.
 * Learnt from the first receipt that matched exactly one message, it is a
 * fact from then on: a receipt that contradicts it is never delivered,
 * and only DLR_RADIX_RELEARN contradicting receipts in a row (each one
 * refused) change it - an upstream that really changed its format costs
 * that many dead letters, one stale or forged receipt costs nothing.
 */
#define DLR_RADIX_RELEARN 3
struct dlr_radix {
    int kind;
    unsigned against;
};

enum dlr_pick {
    DLR_PICK_OK = 0,            /* *pick is the match */
    DLR_PICK_NONE,              /* nothing matched */
    DLR_PICK_AMBIGUOUS,         /* several messages match: never guessed */
    DLR_PICK_RADIX_MISMATCH,    /* matched only in the radix not learnt */
};

/*
 * Which of <n> matches of one receipt (<kind>[i], the dlr_id_kind of the
 * form each matched under) the receipt means, updating what <r> knows:
 *  - radix unknown: one match is taken and teaches its kind; several are
 *    AMBIGUOUS;
 *  - radix known: only matches of that kind count; one is taken, several
 *    are AMBIGUOUS, none (while others matched) is RADIX_MISMATCH.
 * Pure; sets *pick only for DLR_PICK_OK.
 */
enum dlr_pick dlr_id_pick(struct dlr_radix *r, const int *kind, size_t n,
                          size_t *pick);

#endif /* SMPPBRIDGE_DLR_H */
