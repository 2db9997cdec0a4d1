/*
 * pdu_samples.h - one PDU of every command with every field set, for the
 * round-trip and oracle tests.
 */
#ifndef SMPPBRIDGE_TEST_PDU_SAMPLES_H
#define SMPPBRIDGE_TEST_PDU_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "pdu.h"

/* Command ids of every PDU the codec knows, in pdu_defs.h order. */
extern const uint32_t pdu_sample_ids[];
extern const size_t pdu_sample_count;

/*
 * Fill <p> with a PDU of <command_id>: every mandatory field set to a
 * non-default value that fits the spec, and for PDUs that take them a few
 * TLVs including a vendor-range one. Views point at static data or into
 * <scratch> (at least 1024 bytes), which must outlive <p>.
 */
void pdu_sample_build(uint32_t command_id, struct pdu *p, uint8_t *scratch,
                      size_t cap);

#endif
