/*
 * smpp_load_report.c - what smpp-load tells: a progress line a second on
 * stderr, then the human table or one JSON object on stdout, and the
 * verdict that becomes the exit status.
 *
 * Latencies are measured in microseconds; the table shows milliseconds,
 * the JSON keeps microseconds (integers, keys ending in _us).
 */
#include "common.h"

#include <stdarg.h>
#include <string.h>

#include "smpp_load.h"

static const char *const stop_names[SMPP_LOAD_STOP_MAX] = {
    [SMPP_LOAD_STOP_NONE] = "none",
    [SMPP_LOAD_STOP_COUNT] = "count",
    [SMPP_LOAD_STOP_DURATION] = "duration",
    [SMPP_LOAD_STOP_NO_SESSIONS] = "no_sessions",
    [SMPP_LOAD_STOP_STALLED] = "stalled",
    [SMPP_LOAD_STOP_BIND_FAILED] = "bind_failed",
    [SMPP_LOAD_STOP_SIGNAL] = "signal",
};

const char *smpp_load_stop_name(enum smpp_load_stop st)
{
    return st < SMPP_LOAD_STOP_MAX ? stop_names[st] : "?";
}

/* Percentiles every report gives, with their JSON key and label. */
static const struct {
    double p;
    const char *key;
    const char *label;
} pcts[] = {
    {50.0, "p50_us", "p50"},
    {90.0, "p90_us", "p90"},
    {99.0, "p99_us", "p99"},
    {99.9, "p99_9_us", "p99.9"},
};

static double secs(uint64_t from_us, uint64_t to_us)
{
    return to_us > from_us ? (double)(to_us - from_us) / 1e6 : 0.0;
}

/* Seconds from the schedule's start; 0 if sending never started. */
static double since_start(const struct smpp_load *ld, uint64_t t_us)
{
    return ld->start_us ? secs(ld->start_us, t_us) : 0.0;
}

static double per_sec(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0.0;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

/* Messages that fell due but never left: the schedule outran the server
 * (or the run stopped early). */
static uint64_t unsent(const struct smpp_load *ld)
{
    return ld->scheduled > ld->c.messages_sent
               ? ld->scheduled - ld->c.messages_sent : 0;
}

/* ---- progress ------------------------------------------------------- */

void smpp_load_merge_interval(struct smpp_load *ld)
{
    hist_merge(ld->submit_lat, ld->submit_lat_iv);
    hist_reset(ld->submit_lat_iv);
}

/* One line about the last second; called before the interval histogram
 * is merged, so its percentiles are this second's. */
void smpp_load_progress(struct smpp_load *ld, uint64_t now)
{
    const struct smpp_load_counters *c = &ld->c;
    const struct hist *iv = ld->submit_lat_iv;
    uint64_t resp = c->responses + c->timeouts + c->closed;
    fprintf(stderr,
            "%7.1fs %-9s sent %llu (%llu/s) resp %llu (%llu/s) err %llu "
            "inflight %llu backlog %llu p50 %.2f p99 %.2f max %.2f ms",
            secs(ld->t0_us, now), smpp_load_phase_name(ld->phase),
            (unsigned long long)c->submits_sent,
            (unsigned long long)(c->submits_sent - ld->prev_sent),
            (unsigned long long)resp,
            (unsigned long long)(resp - ld->prev_resp),
            (unsigned long long)(resp - c->resp_ok),
            (unsigned long long)ld->inflight,
            (unsigned long long)smpp_load_backlog(ld, now),
            ms(hist_percentile(iv, 50)), ms(hist_percentile(iv, 99)),
            ms(hist_max(iv)));
    if (ld->opts.dlr)
        fprintf(stderr, " dlr %llu/%llu dup %llu",
                (unsigned long long)c->matched,
                (unsigned long long)c->expected,
                (unsigned long long)c->duplicate);
    fputc('\n', stderr);
    ld->prev_sent = c->submits_sent;
    ld->prev_resp = resp;
}

/* ---- verdict -------------------------------------------------------- */

/* Append one reason to <why>, "; " between reasons. */
static void add_reason(char *why, size_t cap, const char *fmt, ...)
    PRINTF_LIKE(3, 4);
static void add_reason(char *why, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(why);
    va_list ap;
    if (len + 3 >= cap)
        return;
    if (len)
        len += (size_t)snprintf(why + len, cap - len, "; ");
    va_start(ap, fmt);
    vsnprintf(why + len, cap - len, fmt, ap);
    va_end(ap);
}

/* The exit status, and in <why> every reason it is not 0. */
int smpp_load_verdict(const struct smpp_load *ld, char *why, size_t cap)
{
    const struct smpp_load_counters *c = &ld->c;
    why[0] = 0;
    if (ld->stop == SMPP_LOAD_STOP_BIND_FAILED)
        add_reason(why, cap, "no transmitter bound");
    else if (c->submits_sent == 0)
        add_reason(why, cap, "nothing was sent");
    if (ld->stop == SMPP_LOAD_STOP_NO_SESSIONS ||
        ld->stop == SMPP_LOAD_STOP_STALLED)
        add_reason(why, cap, "sending stopped early (%s)",
                   smpp_load_stop_name(ld->stop));
    if (c->timeouts + c->closed)
        add_reason(why, cap, "%llu submits without a response",
                   (unsigned long long)(c->timeouts + c->closed));
    if (ld->inflight)
        add_reason(why, cap, "%llu submits still in flight",
                   (unsigned long long)ld->inflight);
    if (ld->opts.dlr && c->missing)
        add_reason(why, cap, "%llu receipts missing",
                   (unsigned long long)c->missing);
    if (ld->opts.dlr && c->duplicate)
        add_reason(why, cap, "%llu duplicate receipts",
                   (unsigned long long)c->duplicate);
    if (ld->interrupted) {
        add_reason(why, cap, "interrupted");
        return SMPP_LOAD_EXIT_INTERRUPT;
    }
    return why[0] ? SMPP_LOAD_EXIT_FAIL : SMPP_LOAD_EXIT_OK;
}

/* ---- human ---------------------------------------------------------- */

static void human_latency(FILE *out, const char *title, const struct hist *h)
{
    fprintf(out, "%-16s", title);
    if (hist_count(h) == 0) {
        fputs("none\n", out);
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(pcts); i++)
        fprintf(out, "%s %.3f  ", pcts[i].label,
                ms(hist_percentile(h, pcts[i].p)));
    fprintf(out, "max %.3f  mean %.3f ms  (n=%llu)\n", ms(hist_max(h)),
            hist_mean(h) / 1000.0, (unsigned long long)hist_count(h));
}

static void human_config(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_opts *o = &ld->opts;
    fprintf(out, "target          %s:%d%s  %s x%u", o->host, o->port,
            o->tls ? " (tls)" : "", o->bind == SMPP_LOAD_BIND_TX ? "tx" : "trx",
            o->binds);
    if (o->rx_binds)
        fprintf(out, " + rx x%u", o->rx_binds);
    fprintf(out, "  window %u  rate ", o->window);
    if (o->rate > 0)
        fprintf(out, "%g/s", o->rate);
    else
        fputs("max", out);
    fprintf(out, "  %s x%u part%s%s\n", text_encoding_name(o->encoding),
            o->parts, o->parts == 1 ? "" : "s", o->dlr ? "  dlr" : "");
}

static void human_sessions(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_counters *c = &ld->c;
    fprintf(out, "sessions        %u configured, closed by peer/error %llu, "
                 "bind failed %llu, reconnects %llu",
            ld->nconns, (unsigned long long)c->sessions_closed,
            (unsigned long long)c->bind_failed,
            (unsigned long long)c->reconnects);
    for (int r = 0; r < SESS_CLOSE_REASON_MAX; r++)
        if (c->close_reasons[r])
            fprintf(out, "  %s %llu", sess_close_reason_name(r),
                    (unsigned long long)c->close_reasons[r]);
    fputc('\n', out);
}

static void human_submits(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_counters *c = &ld->c;
    double send_s = since_start(ld, ld->send_end_us);
    double resp_s = since_start(ld, ld->last_resp_us);
    fprintf(out, "time            %.3f s total, %.3f s sending, stop: %s\n",
            secs(ld->t0_us, ld->end_us), send_s, smpp_load_stop_name(ld->stop));
    fprintf(out, "messages        %llu scheduled, %llu sent (%llu started), "
                 "unsent %llu; %u part%s each\n",
            (unsigned long long)ld->scheduled,
            (unsigned long long)c->messages_sent,
            (unsigned long long)c->messages_started,
            (unsigned long long)unsent(ld), ld->text.parts,
            ld->text.parts == 1 ? "" : "s");
    fprintf(out, "submit_sm       %llu sent, %llu responses (ok %llu, error "
                 "%llu), no response %llu (timeout %llu, closed %llu)\n",
            (unsigned long long)c->submits_sent,
            (unsigned long long)c->responses, (unsigned long long)c->resp_ok,
            (unsigned long long)c->resp_error,
            (unsigned long long)(c->timeouts + c->closed),
            (unsigned long long)c->timeouts, (unsigned long long)c->closed);
    if (c->retries || c->retry_abandoned || c->throttled)
        fprintf(out, "throttled       %llu, retried %llu, retries abandoned "
                     "%llu\n", (unsigned long long)c->throttled,
                (unsigned long long)c->retries,
                (unsigned long long)c->retry_abandoned);
    fprintf(out, "throughput      %.1f msg/s, %.1f submit_sm/s sent; %.1f "
                 "resp/s\n", per_sec(c->messages_sent, send_s),
            per_sec(c->submits_sent, send_s), per_sec(c->responses, resp_s));
    human_latency(out, "submit_sm_resp", ld->submit_lat);
    human_latency(out, "  from send", ld->submit_svc);
}

static void human_statuses(const struct smpp_load *ld, FILE *out)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < ld->nstatuses; i++)
        total += ld->statuses[i].count;
    fprintf(out, "\n%-24s %-10s %12s %8s\n", "status", "code", "count", "%");
    for (unsigned i = 0; i < ld->nstatuses; i++) {
        const struct smpp_load_status_row *r = &ld->statuses[i];
        fprintf(out, "%-24s 0x%08X %12llu %7.2f%%\n",
                smpp_load_status_name(r->code), (unsigned)r->code,
                (unsigned long long)r->count,
                total ? 100.0 * (double)r->count / (double)total : 0.0);
    }
    if (ld->c.status_overflow)
        fprintf(out, "%-24s %-10s %12llu\n", "(other)", "",
                (unsigned long long)ld->c.status_overflow);
    fputc('\n', out);
}

static void human_receipts(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_counters *c = &ld->c;
    fprintf(out, "receipts        received %llu (final %llu, intermediate "
                 "%llu), mo %llu\n", (unsigned long long)c->receipts,
            (unsigned long long)c->receipts_final,
            (unsigned long long)c->intermediate, (unsigned long long)c->mo);
    if (!ld->opts.dlr)
        return;
    fprintf(out, "matching        expected %llu, matched %llu (tlv %llu, "
                 "text %llu), unmatched %llu, duplicate %llu, missing %llu\n",
            (unsigned long long)c->expected, (unsigned long long)c->matched,
            (unsigned long long)c->matched_via[SMPP_LOAD_VIA_TLV],
            (unsigned long long)c->matched_via[SMPP_LOAD_VIA_TEXT],
            (unsigned long long)c->unmatched, (unsigned long long)c->duplicate,
            (unsigned long long)c->missing);
    fprintf(out, "ids             same %llu, dec->hex %llu, hex->dec %llu; "
                 "receipt before resp %llu, resp without id %llu, id given "
                 "twice %llu\n",
            (unsigned long long)c->matched_form[SMPP_LOAD_FORM_SAME],
            (unsigned long long)c->matched_form[SMPP_LOAD_FORM_DEC2HEX],
            (unsigned long long)c->matched_form[SMPP_LOAD_FORM_HEX2DEC],
            (unsigned long long)c->early, (unsigned long long)c->empty_ids,
            (unsigned long long)c->dup_resp_ids);
    if (ld->opts.id_form == SMPP_LOAD_FORM_AUTO &&
        c->matched_form[SMPP_LOAD_FORM_DEC2HEX] +
            c->matched_form[SMPP_LOAD_FORM_HEX2DEC])
        fputs("hint            receipt ids came in another radix than the "
              "resp ids: pin it with --dlr-id-form dec2hex|hex2dec\n", out);
    fputs("final states   ", out);
    for (int s = 0; s <= DLR_STATE_MAX; s++)
        if (c->states[s])
            fprintf(out, " %s %llu",
                    s < DLR_STATE_MAX ? dlr_state_to_stat(s) : "unknown",
                    (unsigned long long)c->states[s]);
    fputc('\n', out);
    human_latency(out, "receipt e2e", ld->dlr_lat);
}

void smpp_load_report_human(const struct smpp_load *ld, FILE *out, int code,
                            const char *why)
{
    human_config(ld, out);
    human_sessions(ld, out);
    human_submits(ld, out);
    human_statuses(ld, out);
    human_receipts(ld, out);
    fprintf(out, "result          %s (exit %d)%s%s\n", code ? "FAIL" : "PASS",
            code, why[0] ? ": " : "", why);
}

/* ---- JSON ----------------------------------------------------------- */

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void json_u64(FILE *out, const char *key, uint64_t v, int last)
{
    fprintf(out, "\"%s\":%llu%s", key, (unsigned long long)v, last ? "" : ",");
}

static void json_num(FILE *out, const char *key, double v, int last)
{
    fprintf(out, "\"%s\":%.3f%s", key, v, last ? "" : ",");
}

static void json_latency(FILE *out, const char *key, const struct hist *h)
{
    fprintf(out, "\"%s\":{", key);
    json_u64(out, "count", hist_count(h), 0);
    json_u64(out, "min_us", hist_min(h), 0);
    json_num(out, "mean_us", hist_mean(h), 0);
    for (size_t i = 0; i < ARRAY_LEN(pcts); i++)
        json_u64(out, pcts[i].key, hist_percentile(h, pcts[i].p), 0);
    json_u64(out, "max_us", hist_max(h), 1);
    fputs("},", out);
}

static void json_config(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_opts *o = &ld->opts;
    fputs("\"config\":{\"host\":", out);
    json_str(out, o->host);
    fprintf(out, ",\"port\":%d,\"tls\":%s,\"bind\":\"%s\",", o->port,
            o->tls ? "true" : "false",
            o->bind == SMPP_LOAD_BIND_TX ? "tx" : "trx");
    json_u64(out, "binds", o->binds, 0);
    json_u64(out, "rx_binds", o->rx_binds, 0);
    json_u64(out, "window", o->window, 0);
    json_num(out, "rate", o->rate, 0);
    json_u64(out, "count", o->count, 0);
    json_num(out, "duration_s", o->duration_s, 0);
    fprintf(out, "\"dlr\":%s,", o->dlr ? "true" : "false");
    json_num(out, "dlr_timeout_s", o->dlr_timeout_s, 0);
    fprintf(out, "\"encoding\":\"%s\",", text_encoding_name(o->encoding));
    json_u64(out, "parts", o->parts, 1);
    fputs("},", out);
}

static void json_sessions(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_counters *c = &ld->c;
    fputs("\"sessions\":{", out);
    json_u64(out, "configured", ld->nconns, 0);
    json_u64(out, "sessions_closed", c->sessions_closed, 0);
    json_u64(out, "bind_failed", c->bind_failed, 0);
    json_u64(out, "reconnects", c->reconnects, 0);
    fputs("\"close_reasons\":{", out);
    int first = 1;
    for (int r = 0; r < SESS_CLOSE_REASON_MAX; r++) {
        if (!c->close_reasons[r])
            continue;
        fprintf(out, "%s\"%s\":%llu", first ? "" : ",",
                sess_close_reason_name(r),
                (unsigned long long)c->close_reasons[r]);
        first = 0;
    }
    fputs("}},", out);
}

static void json_submits(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_counters *c = &ld->c;
    fputs("\"messages\":{", out);
    json_u64(out, "scheduled", ld->scheduled, 0);
    json_u64(out, "unsent", unsent(ld), 0);
    json_u64(out, "started", c->messages_started, 0);
    json_u64(out, "sent", c->messages_sent, 0);
    json_u64(out, "parts_each", ld->text.parts, 1);
    fputs("},\"submits\":{", out);
    json_u64(out, "sent", c->submits_sent, 0);
    json_u64(out, "responses", c->responses, 0);
    json_u64(out, "ok", c->resp_ok, 0);
    json_u64(out, "error", c->resp_error, 0);
    json_u64(out, "no_response", c->timeouts + c->closed, 0);
    json_u64(out, "timeout", c->timeouts, 0);
    json_u64(out, "closed", c->closed, 0);
    json_u64(out, "throttled", c->throttled, 0);
    json_u64(out, "retried", c->retries, 0);
    json_u64(out, "retry_abandoned", c->retry_abandoned, 1);
    fputs("},", out);
}

static void json_statuses(const struct smpp_load *ld, FILE *out)
{
    fputs("\"statuses\":[", out);
    for (unsigned i = 0; i < ld->nstatuses; i++) {
        const struct smpp_load_status_row *r = &ld->statuses[i];
        fprintf(out, "%s{\"status\":", i ? "," : "");
        json_str(out, smpp_load_status_name(r->code));
        fprintf(out, ",\"code\":%u,\"count\":%llu}", (unsigned)r->code,
                (unsigned long long)r->count);
    }
    fputs("],", out);
}

static void json_throughput(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_counters *c = &ld->c;
    double send_s = since_start(ld, ld->send_end_us);
    double resp_s = since_start(ld, ld->last_resp_us);
    fputs("\"throughput\":{", out);
    json_num(out, "sending_s", send_s, 0);
    json_num(out, "messages_per_s", per_sec(c->messages_sent, send_s), 0);
    json_num(out, "submits_per_s", per_sec(c->submits_sent, send_s), 0);
    json_num(out, "responses_per_s", per_sec(c->responses, resp_s), 0);
    /* End to end: every message until its receipt, not only accepted. */
    double rcpt_s = since_start(ld, ld->last_receipt_us);
    json_num(out, "to_last_receipt_s", rcpt_s, 0);
    json_num(out, "receipted_per_s", per_sec(c->matched, rcpt_s), 1);
    fputs("},", out);
}

static void json_receipts(const struct smpp_load *ld, FILE *out)
{
    const struct smpp_load_counters *c = &ld->c;
    fputs("\"receipts\":{", out);
    json_u64(out, "received", c->receipts, 0);
    json_u64(out, "final", c->receipts_final, 0);
    json_u64(out, "intermediate", c->intermediate, 0);
    json_u64(out, "expected", c->expected, 0);
    json_u64(out, "matched", c->matched, 0);
    json_u64(out, "matched_tlv", c->matched_via[SMPP_LOAD_VIA_TLV], 0);
    json_u64(out, "matched_text", c->matched_via[SMPP_LOAD_VIA_TEXT], 0);
    json_u64(out, "matched_same_id", c->matched_form[SMPP_LOAD_FORM_SAME], 0);
    json_u64(out, "matched_dec2hex", c->matched_form[SMPP_LOAD_FORM_DEC2HEX],
             0);
    json_u64(out, "matched_hex2dec", c->matched_form[SMPP_LOAD_FORM_HEX2DEC],
             0);
    json_u64(out, "unmatched", c->unmatched, 0);
    json_u64(out, "duplicate", c->duplicate, 0);
    json_u64(out, "missing", c->missing, 0);
    json_u64(out, "before_resp", c->early, 0);
    json_u64(out, "resp_without_id", c->empty_ids, 0);
    json_u64(out, "id_given_twice", c->dup_resp_ids, 0);
    json_u64(out, "ids_forgotten", ld->ids.forgotten, 0);
    json_u64(out, "mo", c->mo, 0);
    fputs("\"states\":{", out);
    int first = 1;
    for (int s = 0; s <= DLR_STATE_MAX; s++) {
        if (!c->states[s])
            continue;
        fprintf(out, "%s\"%s\":%llu", first ? "" : ",",
                s < DLR_STATE_MAX ? dlr_state_to_stat(s) : "unknown",
                (unsigned long long)c->states[s]);
        first = 0;
    }
    fputs("}},", out);
}

/* The verdict's "; "-separated reasons as JSON strings. */
static void json_reasons(FILE *out, const char *why)
{
    char one[256];
    for (int first = 1; *why; first = 0) {
        const char *end = strstr(why, "; ");
        size_t n = end ? (size_t)(end - why) : strlen(why);
        if (n >= sizeof one)
            n = sizeof one - 1;
        memcpy(one, why, n);
        one[n] = 0;
        if (!first)
            fputc(',', out);
        json_str(out, one);
        why = end ? end + 2 : why + strlen(why);
    }
}

void smpp_load_report_json(const struct smpp_load *ld, FILE *out, int code,
                           const char *why)
{
    fputc('{', out);
    json_config(ld, out);
    json_num(out, "elapsed_s", secs(ld->t0_us, ld->end_us), 0);
    fprintf(out, "\"stop\":\"%s\",\"interrupted\":%s,",
            smpp_load_stop_name(ld->stop), ld->interrupted ? "true" : "false");
    json_sessions(ld, out);
    json_submits(ld, out);
    json_statuses(ld, out);
    json_throughput(ld, out);
    json_latency(out, "submit_latency", ld->submit_lat);
    json_latency(out, "submit_latency_from_send", ld->submit_svc);
    json_receipts(ld, out);
    json_latency(out, "receipt_latency", ld->dlr_lat);
    fprintf(out, "\"result\":{\"pass\":%s,\"exit_code\":%d,\"reasons\":[",
            code == 0 ? "true" : "false", code);
    json_reasons(out, why);
    fputs("]}}\n", out);
}
