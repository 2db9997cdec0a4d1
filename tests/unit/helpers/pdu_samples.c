#include "common.h"

#include <string.h>

#include "pdu_samples.h"

const uint32_t pdu_sample_ids[] = {
#define SAMPLE_ID(NAME, name, id, layout, flags) id,
    PDU_COMMANDS(SAMPLE_ID)
#undef SAMPLE_ID
};
const size_t pdu_sample_count = sizeof(pdu_sample_ids) / sizeof(pdu_sample_ids[0]);

static const uint8_t vendor_tlv_val[] = {0xde, 0xad, 0xbe, 0xef};
static const uint8_t net_err[] = {0x03, 0x00, 0x0b};
static const uint8_t umr[] = {0x12, 0x34};
static const uint8_t sm_text[] = "Hello @ world"; /* GSM '@' stays 0x40 here */

static void sample_sm(struct pdu *p)
{
    p->service_type = pdu_view_str("CMT");
    p->source_addr_ton = 5;
    p->source_addr_npi = 0;
    p->source_addr = pdu_view_str("Instasent");
    p->dest_addr_ton = 1;
    p->dest_addr_npi = 1;
    p->destination_addr = pdu_view_str("34600000001");
    p->esm_class = 0x03;
    p->protocol_id = 0x7f;
    p->priority_flag = 1;
    p->schedule_delivery_time = pdu_view_str("261126120000000+");
    p->validity_period = pdu_view_str("000001000000000R");
    p->registered_delivery = 1;
    p->replace_if_present_flag = 1;
    p->data_coding = 3;
    p->sm_default_msg_id = 2;
    p->short_message.ptr = sm_text;
    p->short_message.len = sizeof(sm_text) - 1;
}

static void sample_tlvs(struct pdu *p)
{
    pdu_tlv_add(p, PDU_TLV_USER_MESSAGE_REFERENCE, umr, 2);
    pdu_tlv_add(p, PDU_TLV_NETWORK_ERROR_CODE, net_err, 3);
    pdu_tlv_add(p, 0x1401, vendor_tlv_val, sizeof(vendor_tlv_val));
}

static void sample_dests(struct pdu *p, uint8_t *scratch, size_t cap)
{
    struct pdu_dest d[3] = {
        {1, 1, 1, pdu_view_str("34600000001")},
        {1, 2, 8, pdu_view_str("600000002")},
        {2, 0, 0, pdu_view_str("friends")},
    };
    p->number_of_dests = 3;
    p->dest_list.ptr = scratch;
    p->dest_list.len = pdu_dests_build(scratch, cap, d, 3);
}

static void sample_unsuccess(struct pdu *p, uint8_t *scratch, size_t cap)
{
    struct pdu_unsuccess u[2] = {
        {1, 1, pdu_view_str("34600000009"), ESME_RINVDSTADR},
        {2, 8, pdu_view_str("699"), ESME_RTHROTTLED},
    };
    p->no_unsuccess = 2;
    p->unsuccess_list.ptr = scratch;
    p->unsuccess_list.len = pdu_unsuccess_build(scratch, cap, u, 2);
}

static void sample_bind(struct pdu *p)
{
    p->system_id = pdu_view_str("reseller01");
    p->password = pdu_view_str("secret08");
    p->system_type = pdu_view_str("SMPP");
    p->interface_version = 0x34;
    p->addr_ton = 1;
    p->addr_npi = 1;
    p->address_range = pdu_view_str("^346");
}

void pdu_sample_build(uint32_t id, struct pdu *p, uint8_t *scratch, size_t cap)
{
    pdu_init(p, id, 0x1234567);
    switch (id) {
    case PDU_BIND_RECEIVER: case PDU_BIND_TRANSMITTER: case PDU_BIND_TRANSCEIVER:
        sample_bind(p);
        break;
    case PDU_BIND_RECEIVER_RESP: case PDU_BIND_TRANSMITTER_RESP:
    case PDU_BIND_TRANSCEIVER_RESP:
        p->system_id = pdu_view_str("smppbridge");
        pdu_tlv_add(p, PDU_TLV_SC_INTERFACE_VERSION, "\x34", 1);
        break;
    case PDU_OUTBIND:
        p->system_id = pdu_view_str("smsc");
        p->password = pdu_view_str("pw");
        break;
    case PDU_SUBMIT_SM: case PDU_DELIVER_SM:
        sample_sm(p);
        sample_tlvs(p);
        break;
    case PDU_SUBMIT_SM_RESP: case PDU_DATA_SM_RESP: case PDU_BROADCAST_SM_RESP:
    case PDU_QUERY_BROADCAST_SM_RESP:
        p->message_id = pdu_view_str("5f3a9c0d1e");
        pdu_tlv_add(p, PDU_TLV_ADDITIONAL_STATUS_INFO_TEXT, "ok", 3);
        break;
    case PDU_DELIVER_SM_RESP:
        break; /* message_id is unused, NULL (SMPP 3.4 §4.6.2) */
    case PDU_SUBMIT_MULTI:
        sample_sm(p);
        p->dest_addr_ton = p->dest_addr_npi = 0; /* per-destination here */
        p->destination_addr.ptr = NULL;
        p->destination_addr.len = 0;
        sample_dests(p, scratch, cap);
        sample_tlvs(p);
        break;
    case PDU_SUBMIT_MULTI_RESP:
        p->message_id = pdu_view_str("77");
        sample_unsuccess(p, scratch, cap);
        break;
    case PDU_DATA_SM:
        p->service_type = pdu_view_str("WAP");
        p->source_addr_ton = 1;
        p->source_addr_npi = 1;
        p->source_addr = pdu_view_str("34600000001");
        p->dest_addr_ton = 1;
        p->dest_addr_npi = 1;
        p->destination_addr = pdu_view_str("34600000002");
        p->esm_class = 0x02;
        p->registered_delivery = 0x11;
        p->data_coding = 8;
        pdu_tlv_add(p, PDU_TLV_MESSAGE_PAYLOAD, sm_text, sizeof(sm_text) - 1);
        sample_tlvs(p);
        break;
    case PDU_QUERY_SM: case PDU_QUERY_BROADCAST_SM:
        p->message_id = pdu_view_str("5f3a9c0d1e");
        p->source_addr_ton = 1;
        p->source_addr_npi = 1;
        p->source_addr = pdu_view_str("34600000001");
        break;
    case PDU_QUERY_SM_RESP:
        p->message_id = pdu_view_str("5f3a9c0d1e");
        p->final_date = pdu_view_str("261126120500000+");
        p->message_state = 2;
        p->error_code = 7;
        break;
    case PDU_CANCEL_SM:
        p->service_type = pdu_view_str("CMT");
        p->message_id = pdu_view_str("5f3a9c0d1e");
        p->source_addr_ton = 1;
        p->source_addr_npi = 1;
        p->source_addr = pdu_view_str("34600000001");
        p->dest_addr_ton = 1;
        p->dest_addr_npi = 1;
        p->destination_addr = pdu_view_str("34600000002");
        break;
    case PDU_REPLACE_SM:
        p->schedule_delivery_time = pdu_view_str("261126120000000+");
        p->validity_period = pdu_view_str("000001000000000R");
        p->registered_delivery = 2;
        p->sm_default_msg_id = 3;
        p->short_message.ptr = sm_text;
        p->short_message.len = sizeof(sm_text) - 1;
        p->message_id = pdu_view_str("5f3a9c0d1e");
        p->source_addr_ton = 1;
        p->source_addr_npi = 1;
        p->source_addr = pdu_view_str("34600000001");
        break;
    case PDU_ALERT_NOTIFICATION:
        p->source_addr_ton = 1;
        p->source_addr_npi = 1;
        p->source_addr = pdu_view_str("34600000001");
        p->esme_addr_ton = 2;
        p->esme_addr_npi = 8;
        p->esme_addr = pdu_view_str("5000");
        pdu_tlv_add(p, PDU_TLV_MS_AVAILABILITY_STATUS, "\x01", 1);
        break;
    case PDU_BROADCAST_SM:
        p->service_type = pdu_view_str("CBS");
        p->source_addr_ton = 5;
        p->source_addr = pdu_view_str("Instasent");
        p->message_id = pdu_view_str("b1");
        p->priority_flag = 1;
        p->schedule_delivery_time = pdu_view_str("261126120000000+");
        p->validity_period = pdu_view_str("000001000000000R");
        p->replace_if_present_flag = 1;
        p->data_coding = 8;
        p->sm_default_msg_id = 4;
        pdu_tlv_add(p, PDU_TLV_BROADCAST_AREA_IDENTIFIER, "\x00\x01\x02", 3);
        pdu_tlv_add(p, PDU_TLV_BROADCAST_CONTENT_TYPE, "\x01\x00\x10", 3);
        pdu_tlv_add(p, PDU_TLV_BROADCAST_REP_NUM, "\x02", 1);
        pdu_tlv_add(p, PDU_TLV_BROADCAST_FREQUENCY_INTERVAL, "\x09\x00\x05", 3);
        break;
    case PDU_CANCEL_BROADCAST_SM:
        p->service_type = pdu_view_str("CBS");
        p->message_id = pdu_view_str("b1");
        p->source_addr_ton = 1;
        p->source_addr_npi = 1;
        p->source_addr = pdu_view_str("34600000001");
        break;
    default:
        break; /* header-only PDUs */
    }
}
