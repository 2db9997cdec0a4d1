/*
 * pdu_defs.h - the one table of SMPP 3.4 / 5.0 facts the codec is built from.
 *
 * Command ids, command_status values, TLV tags and the mandatory field
 * layout of every PDU live here as X-macros; pdu.h and pdu.c expand them
 * into enums, name tables, the decoder and the encoder. A fact changes here
 * and nowhere else. PDU layouts are those of SMPP 3.4 §4 (and 5.0 for its
 * additions); where implementations disagree, see docs/architecture.md,
 * "SMPP facts the code relies on".
 */
#ifndef SMPPBRIDGE_PDU_DEFS_H
#define SMPPBRIDGE_PDU_DEFS_H

/*
 * X(NAME, name, command_id, layout, flags)
 *
 * layout names a PDU_LAYOUT_* list below. flags:
 *   PDUF_TLV     optional parameters may follow the mandatory fields
 *   PDUF_NOBODY_ON_ERR  the encoder sends this response without a body
 *                when command_status is not ESME_ROK. Only the PDUs whose
 *                3.4 text says so (bind_*_resp §4.1, submit_sm_resp
 *                §4.4.2: "not returned if the command_status field
 *                contains a non-zero value"); strict 3.4 peers cannot read
 *                other responses without their body. The decoder accepts
 *                both forms for every response, since peers also send
 *                other failed responses without their body.
 *   PDUF_V50     SMPP 5.0 only
 *   PDUF_NORESP  a request that is never answered (outbind, alert_notification)
 */
#define PDU_COMMANDS(X)                                                        \
    X(GENERIC_NACK, generic_nack, 0x80000000u, empty, 0)                       \
    X(BIND_RECEIVER, bind_receiver, 0x00000001u, bind, 0)                      \
    X(BIND_RECEIVER_RESP, bind_receiver_resp, 0x80000001u, bind_resp,          \
      PDUF_TLV | PDUF_NOBODY_ON_ERR)                                           \
    X(BIND_TRANSMITTER, bind_transmitter, 0x00000002u, bind, 0)                \
    X(BIND_TRANSMITTER_RESP, bind_transmitter_resp, 0x80000002u, bind_resp,    \
      PDUF_TLV | PDUF_NOBODY_ON_ERR)                                           \
    X(QUERY_SM, query_sm, 0x00000003u, query_sm, 0)                            \
    X(QUERY_SM_RESP, query_sm_resp, 0x80000003u, query_sm_resp, 0)             \
    X(SUBMIT_SM, submit_sm, 0x00000004u, sm, PDUF_TLV)                         \
    X(SUBMIT_SM_RESP, submit_sm_resp, 0x80000004u, message_id,                 \
      PDUF_TLV | PDUF_NOBODY_ON_ERR)                                           \
    X(DELIVER_SM, deliver_sm, 0x00000005u, sm, PDUF_TLV)                       \
    X(DELIVER_SM_RESP, deliver_sm_resp, 0x80000005u, message_id, PDUF_TLV)     \
    X(UNBIND, unbind, 0x00000006u, empty, 0)                                   \
    X(UNBIND_RESP, unbind_resp, 0x80000006u, empty, 0)                         \
    X(REPLACE_SM, replace_sm, 0x00000007u, replace_sm, PDUF_TLV)               \
    X(REPLACE_SM_RESP, replace_sm_resp, 0x80000007u, empty, 0)                 \
    X(CANCEL_SM, cancel_sm, 0x00000008u, cancel_sm, 0)                         \
    X(CANCEL_SM_RESP, cancel_sm_resp, 0x80000008u, empty, 0)                   \
    X(BIND_TRANSCEIVER, bind_transceiver, 0x00000009u, bind, 0)                \
    X(BIND_TRANSCEIVER_RESP, bind_transceiver_resp, 0x80000009u, bind_resp,    \
      PDUF_TLV | PDUF_NOBODY_ON_ERR)                                           \
    X(OUTBIND, outbind, 0x0000000Bu, outbind, PDUF_NORESP)                     \
    X(ENQUIRE_LINK, enquire_link, 0x00000015u, empty, 0)                       \
    X(ENQUIRE_LINK_RESP, enquire_link_resp, 0x80000015u, empty, 0)             \
    X(SUBMIT_MULTI, submit_multi, 0x00000021u, submit_multi, PDUF_TLV)         \
    X(SUBMIT_MULTI_RESP, submit_multi_resp, 0x80000021u, submit_multi_resp,    \
      PDUF_TLV)                                                                \
    X(ALERT_NOTIFICATION, alert_notification, 0x00000102u,                     \
      alert_notification, PDUF_TLV | PDUF_NORESP)                              \
    X(DATA_SM, data_sm, 0x00000103u, data_sm, PDUF_TLV)                        \
    X(DATA_SM_RESP, data_sm_resp, 0x80000103u, message_id, PDUF_TLV)           \
    X(BROADCAST_SM, broadcast_sm, 0x00000111u, broadcast_sm,                   \
      PDUF_TLV | PDUF_V50)                                                     \
    X(BROADCAST_SM_RESP, broadcast_sm_resp, 0x80000111u, message_id,           \
      PDUF_TLV | PDUF_V50)                                                     \
    X(QUERY_BROADCAST_SM, query_broadcast_sm, 0x00000112u, query_sm,           \
      PDUF_TLV | PDUF_V50)                                                     \
    X(QUERY_BROADCAST_SM_RESP, query_broadcast_sm_resp, 0x80000112u,           \
      message_id, PDUF_TLV | PDUF_V50)                                         \
    X(CANCEL_BROADCAST_SM, cancel_broadcast_sm, 0x00000113u,                   \
      cancel_broadcast_sm, PDUF_TLV | PDUF_V50)                                \
    X(CANCEL_BROADCAST_SM_RESP, cancel_broadcast_sm_resp, 0x80000113u, empty,  \
      PDUF_V50)

/*
 * Mandatory body fields, in wire order: F(kind, field, max, status)
 *
 *   kind   U8     1-octet integer
 *          COCT   C-Octet String; <max> counts the terminating NUL
 *          TIME   C-Octet String that is NULL or exactly 16 chars (3.4 §7.1)
 *          SM     sm_length (1 octet) then that many octets of short_message
 *          DESTS  number_of_dests then the dest_address list (3.4 §4.5)
 *          UNSUCC no_unsuccess then the unsuccess_sme list (3.4 §4.5)
 *   field  the struct pdu member it lands in
 *   status the command_status a server answers when this field is malformed
 *          (no NUL within <max>, wrong time length, list that runs past
 *          the body). A body that ends before an integer field is
 *          ESME_RINVCMDLEN.
 *
 * Sizes are those of SMPP 3.4 §4, read liberally where implementations
 * disagree (docs/architecture.md, "SMPP facts the code relies on"):
 * data_sm and alert_notification addresses and the cancel_sm destination
 * are read up to 65, short_message up to 255.
 */
#define PDU_LAYOUT_empty(F)

#define PDU_LAYOUT_bind(F)                                                     \
    F(COCT, system_id, 16, ESME_RINVSYSID)                                     \
    F(COCT, password, 9, ESME_RINVPASWD)                                       \
    F(COCT, system_type, 13, ESME_RINVSYSTYP)                                  \
    F(U8, interface_version, 0, 0)                                             \
    F(U8, addr_ton, 0, 0)                                                      \
    F(U8, addr_npi, 0, 0)                                                      \
    F(COCT, address_range, 41, ESME_RBINDFAIL)

#define PDU_LAYOUT_bind_resp(F) F(COCT, system_id, 16, ESME_RINVSYSID)

#define PDU_LAYOUT_outbind(F)                                                  \
    F(COCT, system_id, 16, ESME_RINVSYSID)                                     \
    F(COCT, password, 9, ESME_RINVPASWD)

/* submit_sm and deliver_sm share one layout (3.4 §4.4.1, §4.6.1). */
#define PDU_LAYOUT_sm(F)                                                       \
    F(COCT, service_type, 6, ESME_RINVSERTYP)                                  \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 21, ESME_RINVSRCADR)                                  \
    F(U8, dest_addr_ton, 0, 0)                                                 \
    F(U8, dest_addr_npi, 0, 0)                                                 \
    F(COCT, destination_addr, 21, ESME_RINVDSTADR)                             \
    PDU_LAYOUT_sm_tail(F)

/* From esm_class on, shared by submit_sm, deliver_sm and submit_multi. */
#define PDU_LAYOUT_sm_tail(F)                                                  \
    F(U8, esm_class, 0, 0)                                                     \
    F(U8, protocol_id, 0, 0)                                                   \
    F(U8, priority_flag, 0, 0)                                                 \
    F(TIME, schedule_delivery_time, 17, ESME_RINVSCHED)                        \
    F(TIME, validity_period, 17, ESME_RINVEXPIRY)                              \
    F(U8, registered_delivery, 0, 0)                                           \
    F(U8, replace_if_present_flag, 0, 0)                                       \
    F(U8, data_coding, 0, 0)                                                   \
    F(U8, sm_default_msg_id, 0, 0)                                             \
    F(SM, short_message, 255, ESME_RINVMSGLEN)

#define PDU_LAYOUT_submit_multi(F)                                             \
    F(COCT, service_type, 6, ESME_RINVSERTYP)                                  \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 21, ESME_RINVSRCADR)                                  \
    F(DESTS, dest_list, 21, ESME_RINVDSTADR)                                   \
    PDU_LAYOUT_sm_tail(F)

#define PDU_LAYOUT_submit_multi_resp(F)                                        \
    F(COCT, message_id, 65, ESME_RINVMSGID)                                    \
    F(UNSUCC, unsuccess_list, 21, ESME_RINVDSTADR)

#define PDU_LAYOUT_message_id(F) F(COCT, message_id, 65, ESME_RINVMSGID)

#define PDU_LAYOUT_data_sm(F)                                                  \
    F(COCT, service_type, 6, ESME_RINVSERTYP)                                  \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 65, ESME_RINVSRCADR)                                  \
    F(U8, dest_addr_ton, 0, 0)                                                 \
    F(U8, dest_addr_npi, 0, 0)                                                 \
    F(COCT, destination_addr, 65, ESME_RINVDSTADR)                             \
    F(U8, esm_class, 0, 0)                                                     \
    F(U8, registered_delivery, 0, 0)                                           \
    F(U8, data_coding, 0, 0)

/* query_sm (3.4 §4.8) and 5.0's query_broadcast_sm have the same body. */
#define PDU_LAYOUT_query_sm(F)                                                 \
    F(COCT, message_id, 65, ESME_RINVMSGID)                                    \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 21, ESME_RINVSRCADR)

#define PDU_LAYOUT_query_sm_resp(F)                                            \
    F(COCT, message_id, 65, ESME_RINVMSGID)                                    \
    /* Read at any length: some SMSCs report 12-digit local times. */          \
    F(COCT, final_date, 17, ESME_RINVCMDLEN)                                   \
    F(U8, message_state, 0, 0)                                                 \
    F(U8, error_code, 0, 0)

#define PDU_LAYOUT_cancel_sm(F)                                                \
    F(COCT, service_type, 6, ESME_RINVSERTYP)                                  \
    F(COCT, message_id, 65, ESME_RINVMSGID)                                    \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 21, ESME_RINVSRCADR)                                  \
    F(U8, dest_addr_ton, 0, 0)                                                 \
    F(U8, dest_addr_npi, 0, 0)                                                 \
    F(COCT, destination_addr, 65, ESME_RINVDSTADR)

/* No service_type (3.4 §4.10); Wireshark and libsmpp34 agree, only
 * Kannel's definition adds one. */
#define PDU_LAYOUT_replace_sm(F)                                               \
    F(COCT, message_id, 65, ESME_RINVMSGID)                                    \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 21, ESME_RINVSRCADR)                                  \
    F(TIME, schedule_delivery_time, 17, ESME_RINVSCHED)                        \
    F(TIME, validity_period, 17, ESME_RINVEXPIRY)                              \
    F(U8, registered_delivery, 0, 0)                                           \
    F(U8, sm_default_msg_id, 0, 0)                                             \
    F(SM, short_message, 255, ESME_RINVMSGLEN)

#define PDU_LAYOUT_alert_notification(F)                                       \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 65, ESME_RINVSRCADR)                                  \
    F(U8, esme_addr_ton, 0, 0)                                                 \
    F(U8, esme_addr_npi, 0, 0)                                                 \
    F(COCT, esme_addr, 65, ESME_RINVDSTADR)

#define PDU_LAYOUT_broadcast_sm(F)                                             \
    F(COCT, service_type, 6, ESME_RINVSERTYP)                                  \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 21, ESME_RINVSRCADR)                                  \
    F(COCT, message_id, 65, ESME_RINVMSGID)                                    \
    F(U8, priority_flag, 0, 0)                                                 \
    F(TIME, schedule_delivery_time, 17, ESME_RINVSCHED)                        \
    F(TIME, validity_period, 17, ESME_RINVEXPIRY)                              \
    F(U8, replace_if_present_flag, 0, 0)                                       \
    F(U8, data_coding, 0, 0)                                                   \
    F(U8, sm_default_msg_id, 0, 0)

#define PDU_LAYOUT_cancel_broadcast_sm(F)                                      \
    F(COCT, service_type, 6, ESME_RINVSERTYP)                                  \
    F(COCT, message_id, 65, ESME_RINVMSGID)                                    \
    F(U8, source_addr_ton, 0, 0)                                               \
    F(U8, source_addr_npi, 0, 0)                                               \
    F(COCT, source_addr, 21, ESME_RINVSRCADR)

/* X(NAME, value) - command_status: the 3.4 codes and 5.0's 0x100-0x112.
 * 5.0 renamed 0xC0-0xC4;
 * the 3.4 names are the ones used here, pdu_status_name() shows both. */
#define PDU_STATUSES(X)                                                        \
    X(ESME_ROK, 0x00000000u)                                                   \
    X(ESME_RINVMSGLEN, 0x00000001u)                                            \
    X(ESME_RINVCMDLEN, 0x00000002u)                                            \
    X(ESME_RINVCMDID, 0x00000003u)                                             \
    X(ESME_RINVBNDSTS, 0x00000004u)                                            \
    X(ESME_RALYBND, 0x00000005u)                                               \
    X(ESME_RINVPRTFLG, 0x00000006u)                                            \
    X(ESME_RINVREGDLVFLG, 0x00000007u)                                         \
    X(ESME_RSYSERR, 0x00000008u)                                               \
    X(ESME_RINVSRCADR, 0x0000000Au)                                            \
    X(ESME_RINVDSTADR, 0x0000000Bu)                                            \
    X(ESME_RINVMSGID, 0x0000000Cu)                                             \
    X(ESME_RBINDFAIL, 0x0000000Du)                                             \
    X(ESME_RINVPASWD, 0x0000000Eu)                                             \
    X(ESME_RINVSYSID, 0x0000000Fu)                                             \
    X(ESME_RCANCELFAIL, 0x00000011u)                                           \
    X(ESME_RREPLACEFAIL, 0x00000013u)                                          \
    X(ESME_RMSGQFUL, 0x00000014u)                                              \
    X(ESME_RINVSERTYP, 0x00000015u)                                            \
    X(ESME_RINVNUMDESTS, 0x00000033u)                                          \
    X(ESME_RINVDLNAME, 0x00000034u)                                            \
    X(ESME_RINVDESTFLAG, 0x00000040u)                                          \
    X(ESME_RINVSUBREP, 0x00000042u)                                            \
    X(ESME_RINVESMCLASS, 0x00000043u)                                          \
    X(ESME_RCNTSUBDL, 0x00000044u)                                             \
    X(ESME_RSUBMITFAIL, 0x00000045u)                                           \
    X(ESME_RINVSRCTON, 0x00000048u)                                            \
    X(ESME_RINVSRCNPI, 0x00000049u)                                            \
    X(ESME_RINVDSTTON, 0x00000050u)                                            \
    X(ESME_RINVDSTNPI, 0x00000051u)                                            \
    X(ESME_RINVSYSTYP, 0x00000053u)                                            \
    X(ESME_RINVREPFLAG, 0x00000054u)                                           \
    X(ESME_RINVNUMMSGS, 0x00000055u)                                           \
    X(ESME_RTHROTTLED, 0x00000058u)                                            \
    X(ESME_RINVSCHED, 0x00000061u)                                             \
    X(ESME_RINVEXPIRY, 0x00000062u)                                            \
    X(ESME_RINVDFTMSGID, 0x00000063u)                                          \
    X(ESME_RX_T_APPN, 0x00000064u)                                             \
    X(ESME_RX_P_APPN, 0x00000065u)                                             \
    X(ESME_RX_R_APPN, 0x00000066u)                                             \
    X(ESME_RQUERYFAIL, 0x00000067u)                                            \
    X(ESME_RINVOPTPARSTREAM, 0x000000C0u)                                      \
    X(ESME_ROPTPARNOTALLWD, 0x000000C1u)                                       \
    X(ESME_RINVPARLEN, 0x000000C2u)                                            \
    X(ESME_RMISSINGOPTPARAM, 0x000000C3u)                                      \
    X(ESME_RINVOPTPARAMVAL, 0x000000C4u)                                       \
    X(ESME_RDELIVERYFAILURE, 0x000000FEu)                                      \
    X(ESME_RUNKNOWNERR, 0x000000FFu)                                           \
    X(ESME_RSERTYPUNAUTH, 0x00000100u)                                         \
    X(ESME_RPROHIBITED, 0x00000101u)                                           \
    X(ESME_RSERTYPUNAVAIL, 0x00000102u)                                        \
    X(ESME_RSERTYPDENIED, 0x00000103u)                                         \
    X(ESME_RINVDCS, 0x00000104u)                                               \
    X(ESME_RINVSRCADDRSUBUNIT, 0x00000105u)                                    \
    X(ESME_RINVDSTADDRSUBUNIT, 0x00000106u)                                    \
    X(ESME_RINVBCASTFREQINT, 0x00000107u)                                      \
    X(ESME_RINVBCASTALIAS_NAME, 0x00000108u)                                   \
    X(ESME_RINVBCASTAREAFMT, 0x00000109u)                                      \
    X(ESME_RINVNUMBCAST_AREAS, 0x0000010Au)                                    \
    X(ESME_RINVBCASTCNTTYPE, 0x0000010Bu)                                      \
    X(ESME_RINVBCASTMSGCLASS, 0x0000010Cu)                                     \
    X(ESME_RBCASTFAIL, 0x0000010Du)                                            \
    X(ESME_RBCASTQUERYFAIL, 0x0000010Eu)                                       \
    X(ESME_RBCASTCANCELFAIL, 0x0000010Fu)                                      \
    X(ESME_RINVBCAST_REP, 0x00000110u)                                         \
    X(ESME_RINVBCASTSRVGRP, 0x00000111u)                                       \
    X(ESME_RINVBCASTCHANIND, 0x00000112u)

/*
 * X(NAME, name, tag, min_len, max_len) - every standard TLV of 3.4 §5.3
 * and of 5.0.
 * A known tag whose length is outside [min, max] is ESME_RINVPARLEN.
 * Where implementations disagree on a length (source_telematics_id,
 * broadcast_rep_num, dest_addr_np_country, ms_validity) the range covers
 * every reading. C-Octet TLVs count their NUL in max; a missing NUL is
 * tolerated on read (seen from real SMSCs) and always written.
 */
#define PDU_TLVS(X)                                                            \
    X(DEST_ADDR_SUBUNIT, dest_addr_subunit, 0x0005u, 1, 1)                     \
    X(DEST_NETWORK_TYPE, dest_network_type, 0x0006u, 1, 1)                     \
    X(DEST_BEARER_TYPE, dest_bearer_type, 0x0007u, 1, 1)                       \
    X(DEST_TELEMATICS_ID, dest_telematics_id, 0x0008u, 2, 2)                   \
    X(SOURCE_ADDR_SUBUNIT, source_addr_subunit, 0x000Du, 1, 1)                 \
    X(SOURCE_NETWORK_TYPE, source_network_type, 0x000Eu, 1, 1)                 \
    X(SOURCE_BEARER_TYPE, source_bearer_type, 0x000Fu, 1, 1)                   \
    X(SOURCE_TELEMATICS_ID, source_telematics_id, 0x0010u, 1, 2)               \
    X(QOS_TIME_TO_LIVE, qos_time_to_live, 0x0017u, 4, 4)                       \
    X(PAYLOAD_TYPE, payload_type, 0x0019u, 1, 1)                               \
    X(ADDITIONAL_STATUS_INFO_TEXT, additional_status_info_text, 0x001Du, 0,    \
      256)                                                                     \
    X(RECEIPTED_MESSAGE_ID, receipted_message_id, 0x001Eu, 0, 65)              \
    X(MS_MSG_WAIT_FACILITIES, ms_msg_wait_facilities, 0x0030u, 1, 1)           \
    X(PRIVACY_INDICATOR, privacy_indicator, 0x0201u, 1, 1)                     \
    X(SOURCE_SUBADDRESS, source_subaddress, 0x0202u, 2, 23)                    \
    X(DEST_SUBADDRESS, dest_subaddress, 0x0203u, 2, 23)                        \
    X(USER_MESSAGE_REFERENCE, user_message_reference, 0x0204u, 2, 2)           \
    X(USER_RESPONSE_CODE, user_response_code, 0x0205u, 1, 1)                   \
    X(SOURCE_PORT, source_port, 0x020Au, 2, 2)                                 \
    X(DESTINATION_PORT, destination_port, 0x020Bu, 2, 2)                       \
    X(SAR_MSG_REF_NUM, sar_msg_ref_num, 0x020Cu, 2, 2)                         \
    X(LANGUAGE_INDICATOR, language_indicator, 0x020Du, 1, 1)                   \
    X(SAR_TOTAL_SEGMENTS, sar_total_segments, 0x020Eu, 1, 1)                   \
    X(SAR_SEGMENT_SEQNUM, sar_segment_seqnum, 0x020Fu, 1, 1)                   \
    X(SC_INTERFACE_VERSION, sc_interface_version, 0x0210u, 1, 1)               \
    X(CALLBACK_NUM_PRES_IND, callback_num_pres_ind, 0x0302u, 1, 1)             \
    X(CALLBACK_NUM_ATAG, callback_num_atag, 0x0303u, 0, 65)                    \
    X(NUMBER_OF_MESSAGES, number_of_messages, 0x0304u, 1, 1)                   \
    X(CALLBACK_NUM, callback_num, 0x0381u, 4, 19)                              \
    X(DPF_RESULT, dpf_result, 0x0420u, 1, 1)                                   \
    X(SET_DPF, set_dpf, 0x0421u, 1, 1)                                         \
    X(MS_AVAILABILITY_STATUS, ms_availability_status, 0x0422u, 1, 1)           \
    X(NETWORK_ERROR_CODE, network_error_code, 0x0423u, 3, 3)                   \
    X(MESSAGE_PAYLOAD, message_payload, 0x0424u, 0, 65535)                     \
    X(DELIVERY_FAILURE_REASON, delivery_failure_reason, 0x0425u, 1, 1)         \
    X(MORE_MESSAGES_TO_SEND, more_messages_to_send, 0x0426u, 1, 1)             \
    X(MESSAGE_STATE, message_state, 0x0427u, 1, 1)                             \
    X(CONGESTION_STATE, congestion_state, 0x0428u, 1, 1)                       \
    X(USSD_SERVICE_OP, ussd_service_op, 0x0501u, 1, 1)                         \
    X(BROADCAST_CHANNEL_INDICATOR, broadcast_channel_indicator, 0x0600u, 1,    \
      1)                                                                       \
    X(BROADCAST_CONTENT_TYPE, broadcast_content_type, 0x0601u, 3, 3)           \
    X(BROADCAST_CONTENT_TYPE_INFO, broadcast_content_type_info, 0x0602u, 0,    \
      255)                                                                     \
    X(BROADCAST_MESSAGE_CLASS, broadcast_message_class, 0x0603u, 1, 1)         \
    X(BROADCAST_REP_NUM, broadcast_rep_num, 0x0604u, 1, 2)                     \
    X(BROADCAST_FREQUENCY_INTERVAL, broadcast_frequency_interval, 0x0605u, 3,  \
      3)                                                                       \
    X(BROADCAST_AREA_IDENTIFIER, broadcast_area_identifier, 0x0606u, 1, 65535) \
    X(BROADCAST_ERROR_STATUS, broadcast_error_status, 0x0607u, 4, 4)           \
    X(BROADCAST_AREA_SUCCESS, broadcast_area_success, 0x0608u, 1, 1)           \
    X(BROADCAST_END_TIME, broadcast_end_time, 0x0609u, 1, 17)                  \
    X(BROADCAST_SERVICE_GROUP, broadcast_service_group, 0x060Au, 0, 65535)     \
    X(BILLING_IDENTIFICATION, billing_identification, 0x060Bu, 1, 1024)        \
    X(SOURCE_NETWORK_ID, source_network_id, 0x060Du, 1, 66)                    \
    X(DEST_NETWORK_ID, dest_network_id, 0x060Eu, 1, 66)                        \
    X(SOURCE_NODE_ID, source_node_id, 0x060Fu, 6, 6)                           \
    X(DEST_NODE_ID, dest_node_id, 0x0610u, 6, 6)                               \
    X(DEST_ADDR_NP_RESOLUTION, dest_addr_np_resolution, 0x0611u, 1, 1)         \
    X(DEST_ADDR_NP_INFORMATION, dest_addr_np_information, 0x0612u, 1, 10)      \
    X(DEST_ADDR_NP_COUNTRY, dest_addr_np_country, 0x0613u, 1, 5)               \
    X(DISPLAY_TIME, display_time, 0x1201u, 1, 1)                               \
    X(SMS_SIGNAL, sms_signal, 0x1203u, 2, 2)                                   \
    X(MS_VALIDITY, ms_validity, 0x1204u, 1, 4)                                 \
    X(ALERT_ON_MESSAGE_DELIVERY, alert_on_message_delivery, 0x130Cu, 0, 1)     \
    X(ITS_REPLY_TYPE, its_reply_type, 0x1380u, 1, 1)                           \
    X(ITS_SESSION_INFO, its_session_info, 0x1383u, 2, 2)

#endif /* SMPPBRIDGE_PDU_DEFS_H */
