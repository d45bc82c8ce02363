/*
 * protocol.h: the device side of the tinyrt serial protocol (docs/protocol.md).
 *
 * Frames are COBS-encoded, 0x00-delimited, and carry a CRC-32 (IEEE); the server answers every
 * frame it receives, malformed ones with an ERROR frame. It uses only board.h for I/O, no heap
 * and two static buffers of about TR_PROTO_MAX_PAYLOAD bytes each; the input goes straight into
 * the model's arena (unless built with TR_PROTO_INPUT_COPY=1).
 */
#ifndef TINYRT_PROTOCOL_H
#define TINYRT_PROTOCOL_H

#include <stdint.h>

#define TR_PROTO_VERSION 1

#ifndef TINYRT_FW_VERSION
#define TINYRT_FW_VERSION "0.1.0"
#endif

#ifndef TINYRT_BOARD_ID
#define TINYRT_BOARD_ID "unknown"
#endif

/* Largest payload of one frame; the host reads it from INFO and chunks by it. */
#ifndef TR_PROTO_MAX_PAYLOAD
#define TR_PROTO_MAX_PAYLOAD 512
#endif

/* 0: SET_INPUT writes into the arena, and on a model whose plan reuses the input's bytes
 * (TINYRT_INPUTS_PRESERVED 0) only the first run after SET_INPUT is exact. 1: keep a copy of the
 * input outside the arena (TINYRT_INPUT_BYTES of RAM) and restore it before every run. */
#if defined(TINYRT_INPUT_STREAMED) && TINYRT_INPUT_STREAMED
/* A model that reads its input row by row has no input in its arena: the server keeps it. */
#undef TR_PROTO_INPUT_COPY
#define TR_PROTO_INPUT_COPY 1
#endif
#ifndef TR_PROTO_INPUT_COPY
#define TR_PROTO_INPUT_COPY 0
#endif

/* version:u8 type:u8 seq:u16 length:u16 ... crc32:u32 */
#define TR_PROTO_HEADER 6
#define TR_PROTO_OVERHEAD (TR_PROTO_HEADER + 4)

enum tr_command {
    TR_CMD_PING = 0x01,
    TR_CMD_INFO = 0x02,
    TR_CMD_SET_INPUT = 0x03,
    TR_CMD_INVOKE = 0x04,
    TR_CMD_GET_OUTPUT = 0x05,
    TR_CMD_GET_STATS = 0x06,
    TR_CMD_PROFILE = 0x07,
    TR_CMD_ERROR = 0xff
};

enum tr_error {
    TR_ERR_BAD_COBS = 1,
    TR_ERR_BAD_CRC = 2,
    TR_ERR_OVERSIZE = 3,
    TR_ERR_BAD_LENGTH = 4,
    TR_ERR_BAD_VERSION = 5,
    TR_ERR_UNKNOWN_COMMAND = 6,
    TR_ERR_BAD_ARGUMENT = 7,
    TR_ERR_NOT_READY = 8,
    TR_ERR_NOT_SUPPORTED = 9,
    TR_ERR_TOO_LARGE = 10
};

/* Handle one byte received from the link; answers when it completes a frame. */
void tr_proto_feed(uint8_t byte);

/* Read bytes with tr_board_getc() and feed them, forever. */
void tr_proto_serve(void);

/* CRC-32/IEEE of `len` bytes, continuing from `crc` (start with 0), as zlib.crc32. */
uint32_t tr_crc32(uint32_t crc, const uint8_t *data, uint32_t len);

#endif /* TINYRT_PROTOCOL_H */
