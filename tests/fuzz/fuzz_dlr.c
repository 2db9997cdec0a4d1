/*
 * fuzz_dlr.c - libFuzzer target for the receipt text module.
 *
 * The input is a receipt text exactly as it would sit in short_message or
 * message_payload (a view, not NUL-terminated). Checks, each with a trap:
 *  - dlr_parse() keeps every present field inside the input;
 *  - when an id is present, dlr_rewrite_id() with a fixed id gives a text
 *    whose parse finds that id and the same stat, err and text values, and
 *    whose length is exactly the old length with the id swapped;
 *  - dates that parse format back to the same digits;
 *  - id candidates are valid C strings, the canonical form among them;
 *  - id keys and lookup forms (both case modes) are valid, the key first,
 *    and a pick among them is one of them;
 *  - dlr_format() of the parsed words parses back to the same id and stat.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dlr.h"

#define NEW_ID "BRIDGE0123456789ABCDEF"
/* scripts/run-fuzz.sh passes -max_len=70000. */
#define FUZZ_MAX 70000

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

static int field_ok(const struct dlr_field *f, size_t size)
{
    if (!f->present)
        return f->off == 0 && f->len == 0;
    return f->off <= size && f->len <= size - f->off;
}

static int same_value(const char *a, const struct dlr_field *fa,
                      const char *b, const struct dlr_field *fb)
{
    if (fa->present != fb->present || fa->len != fb->len)
        return 0;
    return fa->len == 0 || memcmp(a + fa->off, b + fb->off, fa->len) == 0;
}

static void check_rewrite(const char *txt, size_t size,
                          const struct dlr_receipt *r)
{
    static char out[FUZZ_MAX + DLR_ID_MAX + 1];
    struct dlr_receipt nr;
    const size_t new_len = sizeof(NEW_ID) - 1;
    int n;

    n = dlr_rewrite_id(txt, size, NEW_ID, new_len, out, sizeof(out));
    check(n >= 0);
    check((size_t)n == size - r->id.len + new_len);
    check(dlr_parse(out, (size_t)n, &nr) == 0);
    check(nr.id.present && nr.id.len == new_len &&
          memcmp(out + nr.id.off, NEW_ID, new_len) == 0);
    check(nr.id.off == r->id.off);
    check(same_value(txt, &r->stat, out, &nr.stat));
    check(same_value(txt, &r->err, out, &nr.err));
    check(same_value(txt, &r->text, out, &nr.text));
    /* Everything but the id value is the same bytes. */
    check(memcmp(out, txt, r->id.off) == 0);
    check(memcmp(out + r->id.off + new_len, txt + r->id.off + r->id.len,
                 size - r->id.off - r->id.len) == 0);
    /* Too small a buffer is refused without a write. */
    out[0] = 'Z';
    check(dlr_rewrite_id(txt, size, NEW_ID, new_len, out, (size_t)n) == -1);
    check(out[0] == 'Z');
}

static void check_date(const char *txt, const struct dlr_field *f)
{
    struct dlr_date d;
    char buf[16];
    int rc;

    if (!f->present)
        return;
    rc = dlr_date_parse(txt + f->off, f->len, &d);
    check(rc == -1 || rc == 0 || rc == DLR_DATE_ABSENT);
    if (rc != 0)
        return;
    check(dlr_date_format(&d, d.digits, buf, sizeof(buf)) == d.digits);
    check(memcmp(buf, txt + f->off, f->len) == 0);
}

static void check_candidates(const char *txt, const struct dlr_field *f)
{
    char out[DLR_ID_CANDIDATES_MAX][DLR_ID_MAX + 1];
    char canon[DLR_ID_MAX + 1];
    int cl = dlr_id_canonical(txt + f->off, f->len, canon, sizeof(canon));
    size_t n = dlr_id_candidates(txt + f->off, f->len, out,
                                 DLR_ID_CANDIDATES_MAX);
    int found = 0;

    check(n <= DLR_ID_CANDIDATES_MAX);
    check((cl < 0) == (n == 0));
    for (size_t i = 0; i < n; i++) {
        check(memchr(out[i], '\0', sizeof(out[i])) != NULL);
        if (strcmp(out[i], canon) == 0)
            found = 1;
    }
    check(n == 0 || found);
}

/* The id map's key and lookup forms of a receipt id (receipt routing):
 * the key is the first form, every form a C string of its kind, and the
 * case-sensitive key keeps every byte but an all-digit id's zeros. */
static void check_lookup_forms(const char *txt, const struct dlr_field *f)
{
    char out[DLR_ID_FORMS_MAX][DLR_ID_MAX + 1];
    char key[DLR_ID_MAX + 1];
    int kind[DLR_ID_FORMS_MAX];

    for (int fold = 0; fold <= 1; fold++) {
        int kl = dlr_id_key(txt + f->off, f->len, fold, key, sizeof(key));
        size_t n = dlr_id_lookup_forms(txt + f->off, f->len, fold,
                                       DLR_FORMS_DEC_TO_HEX |
                                           DLR_FORMS_HEX_TO_DEC,
                                       out, kind, DLR_ID_FORMS_MAX);
        check(n <= DLR_ID_FORMS_MAX);
        check((kl < 0) == (n == 0));
        if (n == 0)
            continue;
        check(strcmp(out[0], key) == 0 && kind[0] == DLR_ID_SAME);
        check((size_t)kl <= f->len);
        if (!fold && (size_t)kl == f->len)
            check(memcmp(key, txt + f->off, f->len) == 0);
        for (size_t i = 1; i < n; i++)
            check(memchr(out[i], '\0', sizeof(out[i])) != NULL &&
                  kind[i] == DLR_ID_OTHER_RADIX);
        /* whatever matched, a pick is one of the matches or none */
        struct dlr_radix r = {(int)(f->len % 3) - 1, 0};
        size_t pick = n;
        if (dlr_id_pick(&r, kind, n, &pick) == DLR_PICK_OK)
            check(pick < n);
        check(r.kind >= -1 && r.kind <= DLR_ID_OTHER_RADIX);
    }
}

static void check_format(const char *txt, const struct dlr_receipt *r)
{
    struct dlr_info in;
    struct dlr_receipt fr;
    char out[256];
    int n;

    if (!r->id.present || !r->stat.present)
        return;
    memset(&in, 0, sizeof(in));
    in.id.p = txt + r->id.off;
    in.id.len = r->id.len;
    in.stat.p = txt + r->stat.off;
    in.stat.len = r->stat.len;
    if (r->text.present) {
        in.text.p = txt + r->text.off;
        in.text.len = r->text.len;
    }
    n = dlr_format(&in, out, sizeof(out));
    if (n < 0)
        return;
    check(dlr_parse(out, (size_t)n, &fr) == 0);
    check(same_value(txt, &r->id, out, &fr.id));
    check(same_value(txt, &r->stat, out, &fr.stat));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *txt = (const char *)data;
    struct dlr_receipt r;
    int rc;

    if (size > FUZZ_MAX)
        return 0;
    rc = dlr_parse(txt, size, &r);
    check(rc == 0 || rc == -1);
    check(field_ok(&r.id, size) && field_ok(&r.sub, size) &&
          field_ok(&r.dlvrd, size) && field_ok(&r.submit_date, size) &&
          field_ok(&r.done_date, size) && field_ok(&r.stat, size) &&
          field_ok(&r.err, size) && field_ok(&r.text, size));
    check(rc == 0 || !(r.id.present && r.id.len > 0));
    if (rc == 0 && r.id.present)
        check_rewrite(txt, size, &r);
    check_date(txt, &r.submit_date);
    check_date(txt, &r.done_date);
    if (r.id.present) {
        check_candidates(txt, &r.id);
        check_lookup_forms(txt, &r.id);
    }
    if (r.stat.present)
        (void)dlr_stat_to_state(txt + r.stat.off, r.stat.len);
    check_format(txt, &r);
    return 0;
}
