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

/* Every constant below has a twin in tinyrt/protocol_wire.py (importable from tinyrt.protocol); tests/test_protocol_constants.py
 * parses this header and fails when the two disagree or one side has a constant the other lacks. */

/* Largest payload of one frame; the host reads it from INFO and chunks by it. */
#ifndef TR_PROTO_MAX_PAYLOAD
#define TR_PROTO_MAX_PAYLOAD 512
#endif
#define TR_PROTO_MAX_PAYLOAD_LOWEST 128
#define TR_PROTO_MAX_PAYLOAD_HIGHEST 65000

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
/* The seq of an ERROR whose request header could not be read. */
#define TR_PROTO_SEQ_UNKNOWN 0xffff
/* The response to request type T has type T | TR_PROTO_RESPONSE_BIT. */
#define TR_PROTO_RESPONSE_BIT 0x80
/* An ERROR's payload: code:u8 command:u8 detail:u32. */
#define TR_PROTO_ERROR_BYTES 6
/* INFO strings longer than this are cut. */
#define TR_PROTO_STR_MAX 48
/* INFO describes at most this many inputs and outputs (each), of at most this rank. */
#define TR_PROTO_MAX_TENSORS 4
#define TR_PROTO_MAX_RANK 6

/* INFO flags */
#define TR_FLAG_PROFILE 0x01
#define TR_FLAG_INPUT_COPY 0x02
#define TR_FLAG_INPUTS_PRESERVED 0x04
/* A training build (TINYRT_TRAINING=1): INFO ends with train_peak:u32 train_arena:u32
 * params_bytes:u32 classes:u16 momentum:u8, and the TRAIN_* commands work. */
#define TR_FLAG_TRAINING 0x08

enum tr_command {
    TR_CMD_PING = 0x01,
    TR_CMD_INFO = 0x02,
    TR_CMD_SET_INPUT = 0x03,
    TR_CMD_INVOKE = 0x04,
    TR_CMD_GET_OUTPUT = 0x05,
    TR_CMD_GET_STATS = 0x06,
    TR_CMD_PROFILE = 0x07,
    TR_CMD_TRAIN_SAMPLE = 0x08,
    TR_CMD_TRAIN_UPDATE = 0x09,
    TR_CMD_TRAIN_EVAL = 0x0a,
    TR_CMD_TRAIN_PARAMS = 0x0b,
    TR_CMD_TRAIN_RESET = 0x0c,
    TR_CMD_TRAIN_BEGIN = 0x0d,
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

/* For the training commands (firmware/train.c, built with TINYRT_TRAINING=1): append to the
 * response being built, fail with a code and detail, and take the input SET_INPUT wrote for a
 * run (1: whole, copied into the arena if the server keeps a copy; 0: not whole, nothing to run
 * on) and give it up after the run (it may have been reused). */
void tr_proto_out(const void *data, uint32_t n);
void tr_proto_out_le(uint32_t v, uint32_t n);
void tr_proto_out_u64(uint64_t v);
uint32_t tr_proto_fail(uint32_t code, uint32_t detail);
int tr_proto_take_input(void);
void tr_proto_input_used(void);

/* firmware/train.c: the INFO training block, and the TRAIN_* commands (any other type:
 * UNKNOWN_COMMAND). */
void tr_train_info(void);
uint32_t tr_train_command(uint32_t type, const uint8_t *p, uint32_t len);

/* CRC-32/IEEE of `len` bytes, continuing from `crc` (start with 0), as zlib.crc32. */
uint32_t tr_crc32(uint32_t crc, const uint8_t *data, uint32_t len);

#endif /* TINYRT_PROTOCOL_H */
