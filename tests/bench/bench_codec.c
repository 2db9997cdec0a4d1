/*
 * bench_codec.c - codec throughput: decode and encode of a typical
 * submit_sm and a typical deliver_sm receipt, in PDUs per second on one
 * core. Each figure is the median of 5 runs of about 0.5 s of CPU time.
 *
 *   make bench            or   build/bench/bench_codec [--json]
 *
 * A benchmark, not a test: it asserts nothing but that every operation
 * succeeded, and prints what it measured.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pdu.h"

#define RUNS 5

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A sink the compiler cannot see through, so no loop is optimised away. */
static volatile uint32_t sink;

static size_t build_submit_sm(uint8_t *out, size_t cap)
{
    static const char text[] = "Your verification code is 482913. It expires "
                               "in 10 minutes. Do not share it with anyone.";
    struct pdu p;
    pdu_init(&p, PDU_SUBMIT_SM, 12345);
    p.source_addr_ton = 5;
    p.source_addr = pdu_view_str("Instasent");
    p.dest_addr_ton = 1;
    p.dest_addr_npi = 1;
    p.destination_addr = pdu_view_str("34600123456");
    p.registered_delivery = 1;
    p.short_message = pdu_view_str(text);
    pdu_tlv_add(&p, PDU_TLV_USER_MESSAGE_REFERENCE, "\x00\x2a", 2);
    return pdu_encode(&p, out, cap);
}

static size_t build_receipt(uint8_t *out, size_t cap)
{
    static const char text[] =
        "id:7f3a9c0d1e2b sub:001 dlvrd:001 submit date:2611261200 done "
        "date:2611261201 stat:DELIVRD err:000 Text:Your verification";
    struct pdu p;
    pdu_init(&p, PDU_DELIVER_SM, 777);
    p.source_addr_ton = 1;
    p.source_addr_npi = 1;
    p.source_addr = pdu_view_str("34600123456");
    p.dest_addr_ton = 5;
    p.destination_addr = pdu_view_str("Instasent");
    p.esm_class = 0x04;
    p.short_message = pdu_view_str(text);
    pdu_tlv_add(&p, PDU_TLV_RECEIPTED_MESSAGE_ID, "7f3a9c0d1e2b", 13);
    pdu_tlv_add(&p, PDU_TLV_MESSAGE_STATE, "\x02", 1);
    pdu_tlv_add(&p, PDU_TLV_NETWORK_ERROR_CODE, "\x03\x00\x00", 3);
    return pdu_encode(&p, out, cap);
}

/* PDUs per CPU second for <iters> decodes of <wire>. */
static double run_decode(const uint8_t *wire, size_t n, long iters)
{
    struct pdu p;
    double t0 = cpu_seconds();
    for (long i = 0; i < iters; i++) {
        if (pdu_decode(wire, n, &p) != ESME_ROK)
            abort();
        sink += p.sequence_number;
    }
    return (double)iters / (cpu_seconds() - t0);
}

static double run_encode(const uint8_t *wire, size_t n, long iters)
{
    struct pdu p;
    uint8_t out[1024];
    if (pdu_decode(wire, n, &p) != ESME_ROK)
        abort();
    double t0 = cpu_seconds();
    for (long i = 0; i < iters; i++) {
        p.sequence_number = (uint32_t)i;
        if (pdu_encode(&p, out, sizeof out) != n)
            abort();
        sink += out[15];
    }
    return (double)iters / (cpu_seconds() - t0);
}

static double median_rate(double (*fn)(const uint8_t *, size_t, long),
                          const uint8_t *wire, size_t n)
{
    /* calibrate so one run takes about half a second */
    long iters = 100000;
    double rate = fn(wire, n, iters);
    iters = (long)(rate / 2);
    double r[RUNS];
    for (int i = 0; i < RUNS; i++)
        r[i] = fn(wire, n, iters);
    qsort(r, RUNS, sizeof r[0], cmp_double);
    return r[RUNS / 2];
}

int main(int argc, char **argv)
{
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    uint8_t sm[1024], dlr[1024];
    size_t sm_len = build_submit_sm(sm, sizeof sm);
    size_t dlr_len = build_receipt(dlr, sizeof dlr);
    if (!sm_len || !dlr_len)
        return 1;
    double r[4] = {
        median_rate(run_decode, sm, sm_len),
        median_rate(run_encode, sm, sm_len),
        median_rate(run_decode, dlr, dlr_len),
        median_rate(run_encode, dlr, dlr_len),
    };
    if (json) {
        printf("{\"submit_sm_bytes\":%zu,\"decode_submit_sm\":%.0f,"
               "\"encode_submit_sm\":%.0f,\"receipt_bytes\":%zu,"
               "\"decode_receipt\":%.0f,\"encode_receipt\":%.0f}\n",
               sm_len, r[0], r[1], dlr_len, r[2], r[3]);
        return 0;
    }
    printf("codec benchmark, one core, median of %d runs (PDUs per CPU second)\n",
           RUNS);
    printf("  submit_sm  (%3zu bytes)  decode %12.0f   encode %12.0f\n",
           sm_len, r[0], r[1]);
    printf("  receipt    (%3zu bytes)  decode %12.0f   encode %12.0f\n",
           dlr_len, r[2], r[3]);
    return 0;
}
