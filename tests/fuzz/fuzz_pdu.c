/*
 * fuzz_pdu.c - libFuzzer target for the SMPP codec.
 *
 * Feeds arbitrary bytes to the framer, the decoder and the validator, and
 * checks the invariants a proxy relies on:
 *   - a PDU that decodes also encodes, to exactly its encoded length;
 *   - decode(encode(decode(x))) succeeds and encodes to the same bytes
 *     (decode-encode-decode is stable);
 *   - list walkers visit exactly the counted entries.
 * Each input is tried as is and with command_length patched to its size,
 * so that the fuzzer reaches the body parser without guessing lengths.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "pdu.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t enc1[PDU_MAX_LEN_DEFAULT * 4];
static uint8_t enc2[PDU_MAX_LEN_DEFAULT * 4];

static void check_lists(const struct pdu *p)
{
    struct pdu_view cur = p->dest_list;
    struct pdu_dest d;
    unsigned n = 0;
    while (pdu_dest_next(&cur, &d))
        n++;
    if (n != p->number_of_dests || cur.len != 0)
        __builtin_trap();
    struct pdu_unsuccess u;
    cur = p->unsuccess_list;
    n = 0;
    while (pdu_unsuccess_next(&cur, &u))
        n++;
    if (n != p->no_unsuccess || cur.len != 0)
        __builtin_trap();
}

static void roundtrip(const uint8_t *buf, size_t len)
{
    static struct pdu p, q, r;
    if (pdu_decode(buf, len, &p) != ESME_ROK)
        return;
    (void)pdu_validate(&p);
    check_lists(&p);
    struct pdu_view v;
    (void)pdu_tlv_cstr(&p, PDU_TLV_RECEIPTED_MESSAGE_ID, &v);

    size_t n1 = pdu_encode(&p, enc1, sizeof enc1);
    if (n1 == 0 || n1 != pdu_encoded_len(&p))
        __builtin_trap();
    if (pdu_decode(enc1, n1, &q) != ESME_ROK)
        __builtin_trap();
    size_t n2 = pdu_encode(&q, enc2, sizeof enc2);
    if (n2 != n1 || memcmp(enc1, enc2, n1) != 0)
        __builtin_trap();
    if (pdu_decode(enc2, n2, &r) != ESME_ROK ||
        r.command_id != p.command_id || r.tlv_count != p.tlv_count)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t len;
    if (pdu_frame(data, size, PDU_MAX_LEN_DEFAULT, &len) == PDU_FRAME_READY)
        roundtrip(data, len);
    roundtrip(data, size);
    if (size >= PDU_HEADER_LEN && size <= PDU_MAX_LEN_DEFAULT) {
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        wire_write_u32(copy, (uint32_t)size);
        roundtrip(copy, size);
        free(copy);
    }
    return 0;
}
