/*
 * protocol.c: the device side of the tinyrt serial protocol (docs/protocol.md).
 *
 * Bytes come in through tr_proto_feed(); a 0x00 ends a frame, which is COBS-decoded in place,
 * checked (length, CRC-32, version) and dispatched. Every non-empty frame gets exactly one
 * answer: the response, or an ERROR frame saying what was wrong. I/O only through board.h.
 *
 * SET_INPUT writes straight into the arena (tinyrt_input()). When the plan lets later buffers
 * reuse the input's bytes (TINYRT_INPUTS_PRESERVED 0), a run clobbers the input: the server
 * tracks which input bytes were written since, and only a run on a whole input makes the output
 * readable. -DTR_PROTO_INPUT_COPY=1 keeps a copy of the input outside the arena instead and
 * restores it before every run (TINYRT_INPUT_BYTES more RAM, every run exact).
 *
 * A training build (-DTINYRT_TRAINING=1, the project has model_train.c) also answers the TRAIN_*
 * commands through firmware/train.c; without it they are NOT_SUPPORTED.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "model.h"
#include "protocol.h"

#if TR_PROTO_MAX_PAYLOAD < TR_PROTO_MAX_PAYLOAD_LOWEST || TR_PROTO_MAX_PAYLOAD > TR_PROTO_MAX_PAYLOAD_HIGHEST
#error "TR_PROTO_MAX_PAYLOAD must be between 128 and 65000"
#endif
#if TINYRT_NUM_INPUTS > TR_PROTO_MAX_TENSORS || TINYRT_NUM_OUTPUTS > TR_PROTO_MAX_TENSORS
#error "the protocol server describes at most 4 inputs and 4 outputs"
#endif

#define BODY_MAX (TR_PROTO_MAX_PAYLOAD + TR_PROTO_OVERHEAD)
#define RX_MAX (BODY_MAX + BODY_MAX / 254 + 1)
#define MAX_RUNS ((TR_PROTO_MAX_PAYLOAD - 2) / 8)
#define NUM_LAYERS_1 (TINYRT_NUM_LAYERS > 0 ? TINYRT_NUM_LAYERS : 1)

struct tr_tensor {
    const char *dtype;
    uint8_t rank;
    uint32_t dims[TR_PROTO_MAX_RANK];
    float scale;
    int32_t zero_point;
    uint32_t bytes;
};

#define TR_IN(i) { TINYRT_INPUT##i##_DTYPE, TINYRT_INPUT##i##_RANK, TINYRT_INPUT##i##_SHAPE, \
                   TINYRT_INPUT##i##_SCALE, TINYRT_INPUT##i##_ZERO_POINT, TINYRT_INPUT##i##_BYTES }
#define TR_OUT(i) { TINYRT_OUTPUT##i##_DTYPE, TINYRT_OUTPUT##i##_RANK, TINYRT_OUTPUT##i##_SHAPE, \
                    TINYRT_OUTPUT##i##_SCALE, TINYRT_OUTPUT##i##_ZERO_POINT, TINYRT_OUTPUT##i##_BYTES }

/* Inputs first, then outputs, as INFO lists them. */
static const struct tr_tensor tensors[TINYRT_NUM_INPUTS + TINYRT_NUM_OUTPUTS] = {
    TR_IN(0),
#if TINYRT_NUM_INPUTS > 1
    TR_IN(1),
#endif
#if TINYRT_NUM_INPUTS > 2
    TR_IN(2),
#endif
#if TINYRT_NUM_INPUTS > 3
    TR_IN(3),
#endif
    TR_OUT(0),
#if TINYRT_NUM_OUTPUTS > 1
    TR_OUT(1),
#endif
#if TINYRT_NUM_OUTPUTS > 2
    TR_OUT(2),
#endif
#if TINYRT_NUM_OUTPUTS > 3
    TR_OUT(3),
#endif
};

static uint8_t rx[RX_MAX];
static uint32_t rx_len;
static uint8_t rx_overflow;

/* The last response sent (ERROR frames are built on the stack), so a retried INVOKE or training
 * command can be answered again without running: see is_retry(). */
static uint8_t tx[BODY_MAX];
static uint32_t tx_len;     /* payload bytes at tx + TR_PROTO_HEADER */
static uint32_t tx_need;    /* what the payload would take if it had not been cut */
static uint8_t replayable;  /* tx answers the last request, one that must not run twice */
static uint32_t replay_crc; /* that request's CRC: it covers its type, seq and payload */

#if TR_PROTO_INPUT_COPY
/* The input outside the arena, copied in before every run. */
static uint8_t input_buf[TINYRT_INPUT_BYTES];
#define INPUT_BUFFER_BYTES ((uint32_t)sizeof input_buf)
#else
#define INPUT_BUFFER_BYTES 0u
#endif
/* Input bytes [0, input_end) hold what SET_INPUT wrote: none at boot, none after a run that may
 * have reused them. None at boot, not "all zero": a board reset between a host's SET_INPUT and
 * its INVOKE must not make the output of an all-zero input readable as the host's. */
static uint32_t input_end;
static uint8_t output_ready;
static uint8_t profile_ready;
static uint32_t err_detail;

#ifdef TINYRT_PROFILE
void tinyrt_profile_begin(int layer);
void tinyrt_profile_end(int layer);

static uint64_t layer_counts[NUM_LAYERS_1];
static uint64_t layer_start;

void tinyrt_profile_begin(int layer)
{
    (void)layer;
    layer_start = tr_board_counter();
}

/* Accumulates: a row-streamed layer (tinyrt/stream.py) runs as many calls, one per row. */
void tinyrt_profile_end(int layer)
{
    layer_counts[layer] += tr_board_counter() - layer_start;
}

static void profile_reset(void)
{
    for (int i = 0; i < NUM_LAYERS_1; i++) {
        layer_counts[i] = 0;
    }
}
#endif

uint32_t tr_crc32(uint32_t crc, const uint8_t *data, uint32_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
        0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
        0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
    };
    crc = ~crc;
    for (uint32_t i = 0; i < len; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ nibble[crc & 15u];
        crc = (crc >> 4) ^ nibble[crc & 15u];
    }
    return ~crc;
}

static uint32_t rd16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return rd16(p) | (rd16(p + 2) << 16);
}

static void out_bytes(const void *data, uint32_t n)
{
    tx_need += n;
    if (tx_need > TR_PROTO_MAX_PAYLOAD) {
        return;
    }
    if (n > 0) {
        memcpy(tx + TR_PROTO_HEADER + tx_len, data, n);
    }
    tx_len += n;
}

static void put_le(uint8_t *p, uint32_t v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void out_le(uint32_t v, uint32_t n)
{
    uint8_t b[4];
    put_le(b, v, n);
    out_bytes(b, n);
}

static void out_u64(uint64_t v)
{
    out_le((uint32_t)v, 4);
    out_le((uint32_t)(v >> 32), 4);
}

static void out_str(const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    if (n > TR_PROTO_STR_MAX) {
        n = TR_PROTO_STR_MAX;
    }
    out_le(n, 1);
    out_bytes(s, n);
}

/* 0x00, the COBS encoding of buf[0..n), 0x00. Blocks are written straight from buf. */
static void write_cobs(const uint8_t *buf, uint32_t n)
{
    static const uint8_t zero = 0;
    uint32_t start = 0;
    tr_board_write(&zero, 1);
    for (;;) {
        uint32_t end = start;
        while (end < n && buf[end] != 0 && end - start < 254) {
            end++;
        }
        uint8_t code = (uint8_t)(end - start + 1);
        tr_board_write(&code, 1);
        if (end > start) {
            tr_board_write(buf + start, end - start);
        }
        if (end == n) {
            break;
        }
        start = code == 0xff ? end : end + 1;
    }
    tr_board_write(&zero, 1);
}

/* Fill in the header and CRC around the `len` payload bytes at buf + TR_PROTO_HEADER; send. */
static void send_frame(uint8_t *buf, uint32_t type, uint32_t seq, uint32_t len)
{
    buf[0] = TR_PROTO_VERSION;
    buf[1] = (uint8_t)type;
    put_le(buf + 2, seq, 2);
    put_le(buf + 4, len, 2);
    uint32_t n = TR_PROTO_HEADER + len;
    put_le(buf + n, tr_crc32(0, buf, n), 4);
    write_cobs(buf, n + 4);
}

static void send_error(uint32_t code, uint32_t seq, uint32_t command, uint32_t detail)
{
    uint8_t buf[TR_PROTO_OVERHEAD + TR_PROTO_ERROR_BYTES];
    buf[TR_PROTO_HEADER] = (uint8_t)code;
    buf[TR_PROTO_HEADER + 1] = (uint8_t)command;
    put_le(buf + TR_PROTO_HEADER + 2, detail, 4);
    send_frame(buf, TR_CMD_ERROR, seq, TR_PROTO_ERROR_BYTES);
}

static uint32_t fail(uint32_t code, uint32_t detail)
{
    err_detail = detail;
    return code;
}

void tr_proto_out(const void *data, uint32_t n)
{
    out_bytes(data, n);
}

void tr_proto_out_le(uint32_t v, uint32_t n)
{
    out_le(v, n);
}

void tr_proto_out_u64(uint64_t v)
{
    out_u64(v);
}

uint32_t tr_proto_fail(uint32_t code, uint32_t detail)
{
    return fail(code, detail);
}

static void out_tensor(const struct tr_tensor *t)
{
    uint32_t scale;
    memcpy(&scale, &t->scale, 4);
    out_str(t->dtype);
    out_le(t->rank, 1);
    for (uint32_t d = 0; d < t->rank && d < TR_PROTO_MAX_RANK; d++) {
        out_le(t->dims[d], 4);
    }
    out_le(scale, 4);
    out_le((uint32_t)t->zero_point, 4);
    out_le(t->bytes, 4);
}

static uint32_t cmd_info(uint32_t len)
{
    if (len != 0) {
        return fail(TR_ERR_BAD_ARGUMENT, 0);
    }
    uint32_t flags = (TR_PROTO_INPUT_COPY ? TR_FLAG_INPUT_COPY : 0u) |
                     (TINYRT_INPUTS_PRESERVED ? TR_FLAG_INPUTS_PRESERVED : 0u);
#ifdef TINYRT_PROFILE
    flags |= TR_FLAG_PROFILE;
#endif
#if TINYRT_TRAINING
    flags |= TR_FLAG_TRAINING;
#endif
    out_le(TR_PROTO_MAX_PAYLOAD, 2);
    out_le(TINYRT_NUM_INPUTS, 1);
    out_le(TINYRT_NUM_OUTPUTS, 1);
    out_le(TINYRT_NUM_LAYERS, 2);
    out_le(flags, 1);
    out_le(TINYRT_ARENA_BYTES, 4);
    out_le(tr_board_clock_hz, 4);
    out_le(TINYRT_INPUT_BYTES, 4);
    out_le(TINYRT_OUTPUT_BYTES, 4);
    out_str(TINYRT_MODEL_NAME);
    out_str(TINYRT_MODEL_HASH);
    out_str(TINYRT_FW_VERSION);
    out_str(TINYRT_BOARD_ID);
    out_str(tr_board_latency_unit);
    for (uint32_t i = 0; i < TINYRT_NUM_INPUTS + TINYRT_NUM_OUTPUTS; i++) {
        out_tensor(&tensors[i]);
    }
#if TINYRT_TRAINING
    tr_train_info();
#endif
    return 0;
}

/* Copy between `bytes` and [offset, offset + n) of the packed inputs (into them if `into`) or
 * the packed outputs (out of them otherwise). */
static void copy_packed(int into, uint32_t offset, uint32_t n, uint8_t *bytes)
{
    const struct tr_tensor *t = into ? tensors : tensors + TINYRT_NUM_INPUTS;
    uint32_t base = 0;   /* packed offset of tensor i */
    for (int i = 0; i < (into ? TINYRT_NUM_INPUTS : TINYRT_NUM_OUTPUTS); i++) {
        uint32_t lo = offset > base ? offset : base;
        uint32_t hi = offset + n < base + t[i].bytes ? offset + n : base + t[i].bytes;
        if (lo < hi) {
            uint8_t *arena = into ? (uint8_t *)tinyrt_input(i) : (uint8_t *)(uintptr_t)tinyrt_output(i);
            uint8_t *a = arena + (lo - base), *b = bytes + (lo - offset);
            memcpy(into ? a : b, into ? b : a, hi - lo);
        }
        base += t[i].bytes;
    }
}

static uint32_t cmd_set_input(const uint8_t *p, uint32_t len)
{
    if (len < 4) {
        return fail(TR_ERR_BAD_ARGUMENT, 4);
    }
    uint32_t offset = rd32(p), n = len - 4;
    if (offset > TINYRT_INPUT_BYTES || n > TINYRT_INPUT_BYTES - offset) {
        return fail(TR_ERR_BAD_ARGUMENT, TINYRT_INPUT_BYTES);
    }
#if TR_PROTO_INPUT_COPY
    memcpy(input_buf + offset, p + 4, n);
#else
    copy_packed(1, offset, n, (uint8_t *)p + 4);
#endif
    if (offset <= input_end && offset + n > input_end) {
        input_end = offset + n;   /* a chunk past a gap does not count */
    }
    output_ready = 0;
    out_le(offset, 4);
    out_le(n, 4);
    return 0;
}

int tr_proto_take_input(void)
{
#if TINYRT_INPUT_STREAMED
    tinyrt_set_input(input_buf);   /* the model reads its rows from here */
#elif TR_PROTO_INPUT_COPY
    copy_packed(1, 0, TINYRT_INPUT_BYTES, input_buf);
#endif
    return input_end == TINYRT_INPUT_BYTES;
}

void tr_proto_input_used(void)
{
#if !TR_PROTO_INPUT_COPY && !TINYRT_INPUTS_PRESERVED
    input_end = 0;   /* the run may have reused the input's bytes */
#endif
    output_ready = 0;   /* INVOKE sets it again after its runs */
}

static uint32_t cmd_invoke(const uint8_t *p, uint32_t len)
{
    if (len != 2) {
        return fail(TR_ERR_BAD_ARGUMENT, 2);
    }
    uint32_t runs = rd16(p);
    if (runs == 0 || runs > MAX_RUNS) {
        return fail(TR_ERR_BAD_ARGUMENT, MAX_RUNS);
    }
    out_le(runs, 2);
    uint8_t exact = 0;
    for (uint32_t r = 0; r < runs; r++) {
        exact = (uint8_t)tr_proto_take_input();
#ifdef TINYRT_PROFILE
        profile_reset();
#endif
        uint64_t start = tr_board_counter();
        tinyrt_run();
        out_u64(tr_board_counter() - start);
        tr_board_check_limits();   /* an overrun stops the board with a fault line */
        tr_proto_input_used();
    }
    output_ready = exact;   /* the last run computed on the input SET_INPUT wrote */
    profile_ready = 1;
    return 0;
}

static uint32_t cmd_get_output(const uint8_t *p, uint32_t len)
{
    if (len != 6) {
        return fail(TR_ERR_BAD_ARGUMENT, 6);
    }
    uint32_t offset = rd32(p), n = rd16(p + 4);
    if (n > TR_PROTO_MAX_PAYLOAD - 4) {
        return fail(TR_ERR_BAD_ARGUMENT, TR_PROTO_MAX_PAYLOAD - 4);
    }
    if (offset > TINYRT_OUTPUT_BYTES || n > TINYRT_OUTPUT_BYTES - offset) {
        return fail(TR_ERR_BAD_ARGUMENT, TINYRT_OUTPUT_BYTES);
    }
    if (!output_ready) {
        return fail(TR_ERR_NOT_READY, 0);
    }
    out_le(offset, 4);   /* n fits after it, checked above */
    copy_packed(0, offset, n, tx + TR_PROTO_HEADER + tx_len);
    tx_len += n;
    tx_need += n;
    return 0;
}

static uint32_t cmd_get_stats(uint32_t len)
{
    if (len != 0) {
        return fail(TR_ERR_BAD_ARGUMENT, 0);
    }
    out_le(tr_board_stack_used(), 4);
    out_le(tr_board_stack_size(), 4);
    out_le(TINYRT_ARENA_BYTES, 4);
    out_le(tr_board_static_ram(), 4);
    out_le(INPUT_BUFFER_BYTES, 4);
    out_le(sizeof rx + sizeof tx, 4);
    return 0;
}

static uint32_t cmd_profile(const uint8_t *p, uint32_t len)
{
#ifdef TINYRT_PROFILE
    if (len != 2) {
        return fail(TR_ERR_BAD_ARGUMENT, 2);
    }
    uint32_t start = rd16(p);
    if (start > TINYRT_NUM_LAYERS) {
        return fail(TR_ERR_BAD_ARGUMENT, TINYRT_NUM_LAYERS);
    }
    if (!profile_ready) {
        return fail(TR_ERR_NOT_READY, 0);
    }
    uint32_t k = TINYRT_NUM_LAYERS - start;
    if (k > (TR_PROTO_MAX_PAYLOAD - 4) / 8) {
        k = (TR_PROTO_MAX_PAYLOAD - 4) / 8;
    }
    out_le(TINYRT_NUM_LAYERS, 2);
    out_le(start, 2);
    for (uint32_t i = 0; i < k; i++) {
        out_u64(layer_counts[start + i]);
    }
    return 0;
#else
    (void)p;
    (void)len;
    return fail(TR_ERR_NOT_SUPPORTED, 0);
#endif
}

static uint32_t dispatch(uint32_t type, const uint8_t *p, uint32_t len)
{
    switch (type) {
    case TR_CMD_PING:
        out_bytes(p, len);
        return 0;
    case TR_CMD_INFO:
        return cmd_info(len);
    case TR_CMD_SET_INPUT:
        return cmd_set_input(p, len);
    case TR_CMD_INVOKE:
        return cmd_invoke(p, len);
    case TR_CMD_GET_OUTPUT:
        return cmd_get_output(p, len);
    case TR_CMD_GET_STATS:
        return cmd_get_stats(len);
    case TR_CMD_PROFILE:
        return cmd_profile(p, len);
    case TR_CMD_TRAIN_SAMPLE:
    case TR_CMD_TRAIN_UPDATE:
    case TR_CMD_TRAIN_EVAL:
    case TR_CMD_TRAIN_PARAMS:
    case TR_CMD_TRAIN_RESET:
    case TR_CMD_TRAIN_BEGIN:
#if TINYRT_TRAINING
        return tr_train_command(type, p, len);
#else
        return fail(TR_ERR_NOT_SUPPORTED, type);
#endif
    default:
        return fail(TR_ERR_UNKNOWN_COMMAND, type);
    }
}

/* Requests that must not run twice: more runs could clobber the input the output came from, a
 * training sample would add its gradients twice, an update step twice, a batch's begin decay
 * the momentum twice, an eval finds its input used up. */
static int runs_once(uint32_t type)
{
    return type == TR_CMD_INVOKE || type == TR_CMD_TRAIN_SAMPLE || type == TR_CMD_TRAIN_UPDATE ||
           type == TR_CMD_TRAIN_EVAL || type == TR_CMD_TRAIN_BEGIN;
}

/* A retry of the request answered last (the same frame: the host resends a request whose answer
 * it lost with the same seq) gets that answer again rather than running again. */
static int is_retry(uint32_t crc)
{
    return replayable && crc == replay_crc;
}

/* Decode rx[0..n) in place; returns the decoded length, or -1 on a code byte past the end. */
static int32_t cobs_decode(uint8_t *buf, uint32_t n)
{
    uint32_t r = 0, w = 0;
    while (r < n) {
        uint32_t code = buf[r++];
        if (code - 1 > n - r) {   /* also catches code 0, impossible between delimiters */
            return -1;
        }
        for (uint32_t i = 1; i < code; i++) {
            buf[w++] = buf[r++];
        }
        if (code < 0xff && r < n) {
            buf[w++] = 0;
        }
    }
    return (int32_t)w;
}

static void handle_frame(void)
{
    int32_t decoded = cobs_decode(rx, rx_len);
    if (decoded < 0) {
        send_error(TR_ERR_BAD_COBS, TR_PROTO_SEQ_UNKNOWN, 0, rx_len);
        return;
    }
    uint32_t n = (uint32_t)decoded;
    if (n < TR_PROTO_OVERHEAD) {
        send_error(TR_ERR_BAD_LENGTH, n >= 4 ? rd16(rx + 2) : TR_PROTO_SEQ_UNKNOWN, n >= 2 ? rx[1] : 0, n);
        return;
    }
    uint32_t type = rx[1], seq = rd16(rx + 2), len = rd16(rx + 4);
    uint32_t crc = rd32(rx + n - 4);
    if (crc != tr_crc32(0, rx, n - 4)) {
        send_error(TR_ERR_BAD_CRC, seq, type, crc);
    } else if (rx[0] != TR_PROTO_VERSION) {
        send_error(TR_ERR_BAD_VERSION, seq, type, TR_PROTO_VERSION);
    } else if (len != n - TR_PROTO_OVERHEAD) {
        send_error(TR_ERR_BAD_LENGTH, seq, type, n);
    } else if (len > TR_PROTO_MAX_PAYLOAD) {
        send_error(TR_ERR_OVERSIZE, seq, type, TR_PROTO_MAX_PAYLOAD);
    } else if (is_retry(crc)) {
        write_cobs(tx, TR_PROTO_OVERHEAD + rd16(tx + 4));
    } else {
        replayable = 0;
        tx_len = 0;
        tx_need = 0;
        uint32_t err = dispatch(type, rx + TR_PROTO_HEADER, len);
        if (err != 0) {
            send_error(err, seq, type, err_detail);
        } else if (tx_need > TR_PROTO_MAX_PAYLOAD) {
            send_error(TR_ERR_TOO_LARGE, seq, type, tx_need);
        } else {
            send_frame(tx, type | TR_PROTO_RESPONSE_BIT, seq, tx_len);
            replayable = (uint8_t)runs_once(type);
            replay_crc = crc;
        }
    }
}

void tr_proto_feed(uint8_t byte)
{
    if (byte != 0) {
        if (rx_len < RX_MAX) {
            rx[rx_len++] = byte;
        } else {
            rx_overflow = 1;
        }
        return;
    }
    if (rx_overflow) {
        send_error(TR_ERR_OVERSIZE, TR_PROTO_SEQ_UNKNOWN, 0, TR_PROTO_MAX_PAYLOAD);
    } else if (rx_len > 0) {
        handle_frame();
    }
    rx_len = 0;
    rx_overflow = 0;
}

void tr_proto_serve(void)
{
    for (;;) {
        tr_proto_feed(tr_board_getc());
    }
}
