/*
 * protocol_frame.h: between the protocol server's two halves (docs/protocol.md).
 *
 * protocol_frame.c frames: it owns the receive and response buffers, decodes and checks a frame
 * (COBS, CRC-32, version, length), answers a retried request again, and sends the response or an
 * ERROR frame. protocol.c serves the commands a checked frame carries (tr_proto_dispatch). Not
 * part of protocol.h: only these two files see it; train.c writes through protocol.h's writers.
 */
#ifndef TINYRT_PROTOCOL_FRAME_H
#define TINYRT_PROTOCOL_FRAME_H

#include <stdint.h>

#include "protocol.h"

/* A frame's body (header, payload, CRC) and the most its COBS encoding takes. */
#define TR_FRAME_BODY_MAX (TR_PROTO_MAX_PAYLOAD + TR_PROTO_OVERHEAD)
#define TR_FRAME_RX_MAX (TR_FRAME_BODY_MAX + TR_FRAME_BODY_MAX / 254 + 1)
/* RAM of the receive buffer and the response buffer together (GET_STATS reports it). */
#define TR_FRAME_BUFFER_BYTES (TR_FRAME_RX_MAX + TR_FRAME_BODY_MAX)

/* Little-endian u16 and u32 at p (any alignment). */
static inline uint32_t tr_rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static inline uint32_t tr_rd32(const uint8_t *p)
{
    return tr_rd16(p) | (tr_rd16(p + 2) << 16);
}

/* Append a string to the response: length:u8 then its bytes, cut at TR_PROTO_STR_MAX. */
void tr_proto_out_str(const char *s);

/* The next n payload bytes of the response, for the caller to fill in place; the caller has
 * checked that they fit in TR_PROTO_MAX_PAYLOAD. */
uint8_t *tr_proto_out_room(uint32_t n);

/* protocol.c: serve the request `type` with payload p[0..len), writing the response's payload
 * with tr_proto_out*; 0, or an error code (tr_proto_fail) to answer with an ERROR frame. */
uint32_t tr_proto_dispatch(uint32_t type, const uint8_t *p, uint32_t len);

/* protocol.c: 1 when a request of this type must not run twice (its answer is replayed). */
int tr_proto_runs_once(uint32_t type);

#endif /* TINYRT_PROTOCOL_FRAME_H */
