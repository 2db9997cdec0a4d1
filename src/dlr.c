/*
 * dlr.c - delivery receipt text parse/format, id rewrite, message states and
 * message id normalisation. See dlr.h for the contracts and the choices.
 *
 * Every scan is bounded by the length the caller gave; no input is ever
 * treated as a C string.
 */
#include "common.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "dlr.h"

/* ------------------------------------------------------------------ */
/* Characters                                                          */
/* ------------------------------------------------------------------ */

/*
 * Separators between receipt fields. NUL counts because some SMSCs put the
 * C-string terminator inside short_message's length.
 */
static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f' || c == '\0';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static char to_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Value of hex digit <c>, or -1. */
static int hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    c = to_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* 1 when <s> of <n> bytes has no separator; an empty word qualifies. */
static int is_word(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_sep(s[i]))
            return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* Labels                                                              */
/* ------------------------------------------------------------------ */

enum dlr_label {
    LBL_ID = 0,
    LBL_SUB,
    LBL_DLVRD,
    LBL_SUBMIT,
    LBL_DONE,
    LBL_STAT,
    LBL_ERR,
    LBL_TEXT,
    LBL_NONE
};

struct label_def {
    const char *name; /* lower case, colon included */
    size_t len;
    enum dlr_label label;
};

#define LABEL(s, l) { s, sizeof(s) - 1, l }
static const struct label_def label_defs[] = {
    LABEL("id:", LBL_ID),
    LABEL("sub:", LBL_SUB),
    LABEL("dlvrd:", LBL_DLVRD),
    LABEL("submit date:", LBL_SUBMIT),
    LABEL("submitdate:", LBL_SUBMIT),
    LABEL("done date:", LBL_DONE),
    LABEL("donedate:", LBL_DONE),
    LABEL("stat:", LBL_STAT),
    LABEL("err:", LBL_ERR),
    LABEL("text:", LBL_TEXT),
};
#undef LABEL

/*
 * Matches a label at <pos> of <txt> (<n> bytes), ignoring case. The caller
 * has checked that <pos> is a field boundary. On a match stores the value's
 * offset in <*val> and returns the label, else returns LBL_NONE.
 */
static enum dlr_label label_at(const char *txt, size_t n, size_t pos,
                               size_t *val)
{
    for (size_t i = 0; i < ARRAY_LEN(label_defs); i++) {
        const struct label_def *d = &label_defs[i];
        size_t k;

        if (n - pos < d->len)
            continue;
        for (k = 0; k < d->len; k++)
            if (to_lower(txt[pos + k]) != d->name[k])
                break;
        if (k == d->len) {
            *val = pos + d->len;
            return d->label;
        }
    }
    return LBL_NONE;
}

static struct dlr_field *field_of(struct dlr_receipt *r, enum dlr_label l)
{
    switch (l) {
    case LBL_ID:     return &r->id;
    case LBL_SUB:    return &r->sub;
    case LBL_DLVRD:  return &r->dlvrd;
    case LBL_SUBMIT: return &r->submit_date;
    case LBL_DONE:   return &r->done_date;
    case LBL_STAT:   return &r->stat;
    case LBL_ERR:    return &r->err;
    case LBL_TEXT:   return &r->text;
    case LBL_NONE:   break;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Parse                                                               */
/* ------------------------------------------------------------------ */

/* Takes a word value starting at <val> into <f>; returns the end offset. */
static size_t take_word(const char *txt, size_t n, size_t val,
                        struct dlr_field *f)
{
    size_t e = val;

    while (e < n && !is_sep(txt[e]))
        e++;
    f->present = 1;
    f->off = val;
    f->len = e - val;
    return e;
}

/*
 * Takes the text value starting at <val>. It runs to the end of the message,
 * or up to the first boundary label of a field not seen yet (the reordered
 * "text: stat:DELIVRD" form); trailing separators are dropped. Returns the
 * offset where parsing goes on.
 */
static size_t take_text(const char *txt, size_t n, size_t val,
                        struct dlr_receipt *r)
{
    size_t end = n;

    r->text.present = 1;
    for (size_t p = val + 1; p < n; p++) {
        size_t v;
        enum dlr_label l;

        if (!is_sep(txt[p - 1]) || is_sep(txt[p]))
            continue;
        l = label_at(txt, n, p, &v);
        if (l != LBL_NONE && !field_of(r, l)->present) {
            end = p;
            break;
        }
    }
    r->text.off = val;
    while (end > val && is_sep(txt[end - 1]))
        end--;
    r->text.len = end - val;
    return end;
}

/* Skips the word at <pos>; returns the offset after it. */
static size_t skip_word(const char *txt, size_t n, size_t pos)
{
    while (pos < n && !is_sep(txt[pos]))
        pos++;
    return pos;
}

int dlr_parse(const char *txt, size_t n, struct dlr_receipt *out)
{
    size_t pos = 0;

    memset(out, 0, sizeof(*out));
    if (txt == NULL)
        n = 0;
    while (pos < n) {
        size_t val;
        enum dlr_label l;
        struct dlr_field *f;

        if (is_sep(txt[pos])) {
            pos++;
            continue;
        }
        l = label_at(txt, n, pos, &val);
        f = field_of(out, l);
        if (f == NULL || f->present)
            pos = skip_word(txt, n, pos);
        else if (l == LBL_TEXT)
            pos = take_text(txt, n, val, out);
        else
            pos = take_word(txt, n, val, f);
    }
    if ((out->id.present && out->id.len > 0) ||
        (out->stat.present && out->stat.len > 0))
        return 0;
    return -1;
}

/* ------------------------------------------------------------------ */
/* Dates                                                               */
/* ------------------------------------------------------------------ */

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31 };

    if (m == 2 && is_leap(y))
        return 29;
    return days[m - 1];
}

/* Reads <k> ASCII digits at <s> (already checked to be digits). */
static int read_num(const char *s, size_t k)
{
    int v = 0;

    for (size_t i = 0; i < k; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int date_valid(const struct dlr_date *d)
{
    return d->year >= 1970 && d->year <= 9999 && d->month >= 1 &&
           d->month <= 12 && d->day >= 1 &&
           d->day <= days_in_month(d->year, d->month) && d->hour >= 0 &&
           d->hour <= 23 && d->min >= 0 && d->min <= 59 && d->sec >= 0 &&
           d->sec <= 59;
}

int dlr_date_parse(const char *s, size_t n, struct dlr_date *out)
{
    size_t y = n == 14 ? 4 : 2;
    int zero = 1;

    memset(out, 0, sizeof(*out));
    if (s == NULL || (n != 10 && n != 12 && n != 14))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        if (s[i] != '0')
            zero = 0;
    }
    out->digits = (int)n;
    if (zero)
        return DLR_DATE_ABSENT;
    out->year = read_num(s, y) + (y == 2 ? 2000 : 0);
    out->month = read_num(s + y, 2);
    out->day = read_num(s + y + 2, 2);
    out->hour = read_num(s + y + 4, 2);
    out->min = read_num(s + y + 6, 2);
    out->sec = n == 10 ? 0 : read_num(s + y + 8, 2);
    if (!date_valid(out)) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}

/* Writes <v> as exactly <k> digits at <p>. */
static void put_num(char *p, int v, size_t k)
{
    while (k-- > 0) {
        p[k] = (char)('0' + v % 10);
        v /= 10;
    }
}

int dlr_date_format(const struct dlr_date *d, int digits, char *out,
                    size_t cap)
{
    size_t y = digits == 14 ? 4 : 2;
    char *p = out;

    if (digits != 10 && digits != 12 && digits != 14)
        return -1;
    if (cap < (size_t)digits + 1 || !date_valid(d))
        return -1;
    if (y == 2 && (d->year < 2000 || d->year > 2099))
        return -1;
    put_num(p, d->year, y);
    p += y;
    put_num(p, d->month, 2);
    put_num(p + 2, d->day, 2);
    put_num(p + 4, d->hour, 2);
    put_num(p + 6, d->min, 2);
    if (digits != 10)
        put_num(p + 8, d->sec, 2);
    out[digits] = '\0';
    return digits;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back
 * (H. Hinnant's days_from_civil / civil_from_days).
 */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void civil_from_days(int64_t z, struct dlr_date *out)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->month = (int)(mp < 10 ? mp + 3 : mp - 9);
    out->year = (int)(yoe + era * 400 + (out->month <= 2));
}

int dlr_date_from_unix(int64_t t, struct dlr_date *out)
{
    /* 10000-01-01T00:00:00Z */
    const int64_t limit = INT64_C(253402300800);
    int64_t secs;

    memset(out, 0, sizeof(*out));
    if (t < 0 || t >= limit)
        return -1;
    civil_from_days(t / 86400, out);
    secs = t % 86400;
    out->hour = (int)(secs / 3600);
    out->min = (int)(secs / 60 % 60);
    out->sec = (int)(secs % 60);
    out->digits = 10;
    return 0;
}

int dlr_date_to_unix(const struct dlr_date *d, int64_t *out)
{
    if (!date_valid(d))
        return -1;
    *out = days_from_civil(d->year, d->month, d->day) * 86400 +
           d->hour * 3600 + d->min * 60 + d->sec;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Format                                                              */
/* ------------------------------------------------------------------ */

/* Bounded appender: once something does not fit, nothing more is written. */
struct wbuf {
    char *p;
    size_t cap;
    size_t len;
    int full;
};

static void wb_put(struct wbuf *w, const char *s, size_t n)
{
    if (w->full || w->cap - w->len <= n) {
        w->full = 1;
        return;
    }
    if (n > 0)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void wb_str(struct wbuf *w, const char *s)
{
    wb_put(w, s, strlen(s));
}

/* Writes <v> zero-padded to at least 3 digits. */
static void wb_count(struct wbuf *w, unsigned v)
{
    char tmp[16];
    int k = snprintf(tmp, sizeof(tmp), "%03u", v);

    wb_put(w, tmp, (size_t)k);
}

static void wb_date(struct wbuf *w, const struct dlr_str *d)
{
    if (d->len == 0)
        wb_str(w, "0000000000");
    else
        wb_put(w, d->p, d->len);
}

/* err: "000" when empty, numeric values padded to 3, others as given. */
static void wb_err(struct wbuf *w, const struct dlr_str *e)
{
    size_t digits = 0;

    while (digits < e->len && is_digit(e->p[digits]))
        digits++;
    if (digits == e->len && e->len < 3)
        wb_put(w, "000", 3 - e->len);
    wb_put(w, e->p, e->len);
}

static int str_ok(const struct dlr_str *s, size_t min, size_t max)
{
    if (s->len < min || s->len > max || (s->len > 0 && s->p == NULL))
        return 0;
    return s->len == 0 || is_word(s->p, s->len);
}

static int date_ok(const struct dlr_str *s)
{
    struct dlr_date d;

    if (s->len == 0)
        return 1;
    return s->p != NULL && dlr_date_parse(s->p, s->len, &d) >= 0;
}

static int info_ok(const struct dlr_info *in)
{
    return str_ok(&in->id, 1, DLR_ID_MAX) &&
           str_ok(&in->stat, 1, DLR_WORD_MAX) &&
           str_ok(&in->err, 0, DLR_WORD_MAX) && date_ok(&in->submit_date) &&
           date_ok(&in->done_date) &&
           (in->text.len == 0 || in->text.p != NULL);
}

int dlr_format(const struct dlr_info *in, char *out, size_t cap)
{
    struct wbuf w = { out, cap, 0, 0 };
    size_t text_len = in->text.len;

    if (cap > 0)
        out[0] = '\0';
    if (!info_ok(in) || cap == 0 || cap - 1 > INT_MAX)
        return -1;
    if (text_len > DLR_TEXT_MAX)
        text_len = DLR_TEXT_MAX;
    wb_str(&w, "id:");
    wb_put(&w, in->id.p, in->id.len);
    wb_str(&w, " sub:");
    wb_count(&w, in->sub);
    wb_str(&w, " dlvrd:");
    wb_count(&w, in->dlvrd);
    wb_str(&w, " submit date:");
    wb_date(&w, &in->submit_date);
    wb_str(&w, " done date:");
    wb_date(&w, &in->done_date);
    wb_str(&w, " stat:");
    wb_put(&w, in->stat.p, in->stat.len);
    wb_str(&w, " err:");
    wb_err(&w, &in->err);
    wb_str(&w, " text:");
    wb_put(&w, in->text.p, text_len);
    if (w.full) {
        out[0] = '\0';
        return -1;
    }
    out[w.len] = '\0';
    return (int)w.len;
}

/* ------------------------------------------------------------------ */
/* Id rewrite                                                          */
/* ------------------------------------------------------------------ */

int dlr_rewrite_id(const char *txt, size_t n, const char *new_id,
                   size_t new_len, char *out, size_t cap)
{
    struct dlr_receipt r;
    size_t head, tail, total;

    if (new_id == NULL || new_len == 0 || new_len > DLR_ID_MAX ||
        !is_word(new_id, new_len))
        return -1;
    if (dlr_parse(txt, n, &r) != 0 || !r.id.present)
        return -1;
    head = r.id.off;
    tail = n - (r.id.off + r.id.len);
    total = head + new_len + tail;
    if (total > INT_MAX || cap <= total)
        return -1;
    memcpy(out, txt, head);
    memcpy(out + head, new_id, new_len);
    if (tail > 0)
        memcpy(out + head + new_len, txt + r.id.off + r.id.len, tail);
    out[total] = '\0';
    return (int)total;
}

/* ------------------------------------------------------------------ */
/* Message states                                                      */
/* ------------------------------------------------------------------ */

struct stat_word {
    const char *word; /* upper case */
    int state;
};

static const struct stat_word stat_words[] = {
    { "ENROUTE", DLR_STATE_ENROUTE },
    { "DELIVRD", DLR_STATE_DELIVERED },
    { "EXPIRED", DLR_STATE_EXPIRED },
    { "DELETED", DLR_STATE_DELETED },
    { "UNDELIV", DLR_STATE_UNDELIVERABLE },
    { "ACCEPTD", DLR_STATE_ACCEPTED },
    { "UNKNOWN", DLR_STATE_UNKNOWN },
    { "REJECTD", DLR_STATE_REJECTED },
    { "DELIVERED", DLR_STATE_DELIVERED },
    { "UNDELIVERABLE", DLR_STATE_UNDELIVERABLE },
    { "ACCEPTED", DLR_STATE_ACCEPTED },
    { "REJECTED", DLR_STATE_REJECTED },
    { "SCHEDULED", DLR_STATE_SCHEDULED },
    { "SKIPPED", DLR_STATE_SKIPPED },
};

int dlr_stat_to_state(const char *word, size_t n)
{
    if (word == NULL)
        return -1;
    for (size_t i = 0; i < ARRAY_LEN(stat_words); i++) {
        const char *w = stat_words[i].word;
        size_t k;

        if (strlen(w) != n)
            continue;
        for (k = 0; k < n; k++)
            if (to_upper(word[k]) != w[k])
                break;
        if (k == n)
            return stat_words[i].state;
    }
    return -1;
}

const char *dlr_state_to_stat(int state)
{
    static const char *const words[DLR_STATE_MAX] = {
        [DLR_STATE_SCHEDULED] = "ENROUTE",
        [DLR_STATE_ENROUTE] = "ENROUTE",
        [DLR_STATE_DELIVERED] = "DELIVRD",
        [DLR_STATE_EXPIRED] = "EXPIRED",
        [DLR_STATE_DELETED] = "DELETED",
        [DLR_STATE_UNDELIVERABLE] = "UNDELIV",
        [DLR_STATE_ACCEPTED] = "ACCEPTD",
        [DLR_STATE_UNKNOWN] = "UNKNOWN",
        [DLR_STATE_REJECTED] = "REJECTD",
        [DLR_STATE_SKIPPED] = "UNDELIV",
    };

    if (state < 0 || state >= DLR_STATE_MAX)
        return NULL;
    return words[state];
}

static const char *const state_names[DLR_STATE_MAX] = {
    [DLR_STATE_SCHEDULED] = "SCHEDULED",
    [DLR_STATE_ENROUTE] = "ENROUTE",
    [DLR_STATE_DELIVERED] = "DELIVERED",
    [DLR_STATE_EXPIRED] = "EXPIRED",
    [DLR_STATE_DELETED] = "DELETED",
    [DLR_STATE_UNDELIVERABLE] = "UNDELIVERABLE",
    [DLR_STATE_ACCEPTED] = "ACCEPTED",
    [DLR_STATE_UNKNOWN] = "UNKNOWN",
    [DLR_STATE_REJECTED] = "REJECTED",
    [DLR_STATE_SKIPPED] = "SKIPPED",
};

const char *dlr_state_name(int state)
{
    if (state < 0 || state >= DLR_STATE_MAX)
        return NULL;
    return state_names[state];
}

int dlr_state_from_name(const char *name)
{
    for (int i = 0; i < DLR_STATE_MAX; i++)
        if (strcmp(state_names[i], name) == 0)
            return i;
    return -1;
}

int dlr_state_is_final(int state)
{
    return state >= DLR_STATE_DELIVERED && state < DLR_STATE_MAX;
}

/* ------------------------------------------------------------------ */
/* Message ids                                                         */
/* ------------------------------------------------------------------ */

int dlr_id_to_u64(const char *id, size_t n, int radix, uint64_t *out)
{
    uint64_t v = 0;

    if (id == NULL || n == 0 || (radix != 10 && radix != 16))
        return -1;
    for (size_t i = 0; i < n; i++) {
        int d = radix == 16 ? hex_value(id[i]) : (is_digit(id[i]) ?
                                                  id[i] - '0' : -1);

        if (d < 0)
            return -1;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)radix)
            return -1;
        v = v * (uint64_t)radix + (uint64_t)d;
    }
    *out = v;
    return 0;
}

int dlr_id_from_u64(uint64_t v, int radix, int upper, char *out, size_t cap)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    size_t k = 0;

    if (radix != 10 && radix != 16)
        return -1;
    do {
        tmp[k++] = digits[v % (uint64_t)radix];
        v /= (uint64_t)radix;
    } while (v > 0);
    if (cap <= k)
        return -1;
    for (size_t i = 0; i < k; i++)
        out[i] = tmp[k - 1 - i];
    out[k] = '\0';
    return (int)k;
}

int dlr_id_canonical(const char *id, size_t n, char *out, size_t cap)
{
    size_t start = 0, len;

    if (id == NULL || n == 0 || n > DLR_ID_MAX || !is_word(id, n))
        return -1;
    while (start + 1 < n && id[start] == '0')
        start++;
    len = n - start;
    if (cap <= len)
        return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = to_upper(id[start + i]);
    out[len] = '\0';
    return (int)len;
}

/* Appends <s> to the candidate list unless it is already there. */
static void add_candidate(char list[][DLR_ID_MAX + 1], size_t *count,
                          const char *s)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp(list[i], s) == 0)
            return;
    memcpy(list[*count], s, strlen(s) + 1);
    (*count)++;
}

size_t dlr_id_candidates(const char *id, size_t n, char out[][DLR_ID_MAX + 1],
                         size_t max)
{
    char list[DLR_ID_CANDIDATES_MAX][DLR_ID_MAX + 1];
    char tmp[DLR_ID_MAX + 1];
    size_t count = 0;
    uint64_t v;

    if (dlr_id_canonical(id, n, tmp, sizeof(tmp)) < 0)
        return 0;
    memcpy(list[0], id, n);
    list[0][n] = '\0';
    count = 1;
    add_candidate(list, &count, tmp);
    if (dlr_id_to_u64(id, n, 10, &v) == 0 &&
        dlr_id_from_u64(v, 16, 1, tmp, sizeof(tmp)) > 0)
        add_candidate(list, &count, tmp);
    if (dlr_id_to_u64(id, n, 16, &v) == 0 &&
        dlr_id_from_u64(v, 10, 1, tmp, sizeof(tmp)) > 0)
        add_candidate(list, &count, tmp);
    if (count > max)
        count = max;
    for (size_t i = 0; i < count; i++)
        memcpy(out[i], list[i], strlen(list[i]) + 1);
    return count;
}

/* Every character a hex digit: the id reads as a number in some radix. */
static int all_hex_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]) && !((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f'))
            return 0;
    return 1;
}

int dlr_id_key(const char *id, size_t n, int fold_case, char *out, size_t cap)
{
    if (fold_case)
        return dlr_id_canonical(id, n, out, cap);
    if (id == NULL || n == 0 || n > DLR_ID_MAX || !is_word(id, n))
        return -1;
    size_t start = 0;
    /* only a number's zeros carry no meaning ("0xy" and "xy" may be two
     * messages of an upstream with alphanumeric ids); a hex id's padding
     * must go too, since the same id written in decimal in a receipt
     * converts back to hex without it (dlr_id_lookup_forms) */
    if (all_hex_digits(id, n))
        while (start + 1 < n && id[start] == '0')
            start++;
    size_t len = n - start;
    if (cap <= len)
        return -1;
    memcpy(out, id + start, len);
    out[len] = '\0';
    return (int)len;
}

/* Appends <s> of <k> kind unless it is already there or the list is full. */
static void add_form(char out[][DLR_ID_MAX + 1], int kind[], size_t *count,
                     size_t max, const char *s, int k)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp(out[i], s) == 0)
            return;
    if (*count >= max)
        return;
    memcpy(out[*count], s, strlen(s) + 1);
    kind[*count] = k;
    (*count)++;
}

size_t dlr_id_lookup_forms(const char *id, size_t n, int fold_case,
                           unsigned allow, char out[][DLR_ID_MAX + 1],
                           int kind[], size_t max)
{
    char tmp[DLR_ID_MAX + 1];
    size_t count = 0;
    uint64_t v;

    if (dlr_id_key(id, n, fold_case, tmp, sizeof tmp) < 0)
        return 0;
    add_form(out, kind, &count, max, tmp, DLR_ID_SAME);
    if ((allow & DLR_FORMS_DEC_TO_HEX) && dlr_id_to_u64(id, n, 10, &v) == 0) {
        if (dlr_id_from_u64(v, 16, 1, tmp, sizeof tmp) > 0)
            add_form(out, kind, &count, max, tmp, DLR_ID_OTHER_RADIX);
        if (!fold_case && dlr_id_from_u64(v, 16, 0, tmp, sizeof tmp) > 0)
            add_form(out, kind, &count, max, tmp, DLR_ID_OTHER_RADIX);
    }
    if ((allow & DLR_FORMS_HEX_TO_DEC) && dlr_id_to_u64(id, n, 16, &v) == 0 &&
        dlr_id_from_u64(v, 10, 1, tmp, sizeof tmp) > 0)
        add_form(out, kind, &count, max, tmp, DLR_ID_OTHER_RADIX);
    return count;
}

/* The one match of kind <k> among <n>: 1 found (*pick set), 0 none, 2
 * several. */
static int only_of_kind(const int *kind, size_t n, int k, size_t *pick)
{
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (kind[i] != k)
            continue;
        if (found)
            return 2;
        found = 1;
        *pick = i;
    }
    return found;
}

enum dlr_pick dlr_id_pick(struct dlr_radix *r, const int *kind, size_t n,
                          size_t *pick)
{
    if (n == 0)
        return DLR_PICK_NONE;
    if (r->kind < 0) {
        if (n > 1)
            return DLR_PICK_AMBIGUOUS;
        r->kind = kind[0];
        r->against = 0;
        *pick = 0;
        return DLR_PICK_OK;
    }
    switch (only_of_kind(kind, n, r->kind, pick)) {
    case 1:
        r->against = 0;
        return DLR_PICK_OK;
    case 2:
        return DLR_PICK_AMBIGUOUS;
    default:
        break;
    }
    /* only the other radix matched: refused; a run of them in a row means
     * upstream changed its format, and the next receipts follow it */
    if (n == 1 && ++r->against >= DLR_RADIX_RELEARN) {
        r->kind = kind[0];
        r->against = 0;
    }
    return DLR_PICK_RADIX_MISMATCH;
}
