/*
 * protocol.c: the device side of the tinyrt serial protocol (docs/protocol.md): its commands.
 *
 * firmware/protocol_frame.c receives, checks and answers the frames (COBS, CRC-32, ERROR frames,
 * retries); a checked request comes here (tr_proto_dispatch), which writes its response's
 * payload through tr_proto_out* or fails with an error code. The model's tensors live here.
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
#include "protocol_frame.h"

#if TINYRT_NUM_INPUTS > TR_PROTO_MAX_TENSORS || TINYRT_NUM_OUTPUTS > TR_PROTO_MAX_TENSORS
#error "the protocol server describes at most 4 inputs and 4 outputs"
#endif

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

static void out_tensor(const struct tr_tensor *t)
{
    uint32_t scale;
    memcpy(&scale, &t->scale, 4);
    tr_proto_out_str(t->dtype);
    tr_proto_out_le(t->rank, 1);
    for (uint32_t d = 0; d < t->rank && d < TR_PROTO_MAX_RANK; d++) {
        tr_proto_out_le(t->dims[d], 4);
    }
    tr_proto_out_le(scale, 4);
    tr_proto_out_le((uint32_t)t->zero_point, 4);
    tr_proto_out_le(t->bytes, 4);
}

static uint32_t cmd_info(uint32_t len)
{
    if (len != 0) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 0);
    }
    uint32_t flags = (TR_PROTO_INPUT_COPY ? TR_FLAG_INPUT_COPY : 0u) |
                     (TINYRT_INPUTS_PRESERVED ? TR_FLAG_INPUTS_PRESERVED : 0u);
#ifdef TINYRT_PROFILE
    flags |= TR_FLAG_PROFILE;
#endif
#if TINYRT_TRAINING
    flags |= TR_FLAG_TRAINING;
#endif
    tr_proto_out_le(TR_PROTO_MAX_PAYLOAD, 2);
    tr_proto_out_le(TINYRT_NUM_INPUTS, 1);
    tr_proto_out_le(TINYRT_NUM_OUTPUTS, 1);
    tr_proto_out_le(TINYRT_NUM_LAYERS, 2);
    tr_proto_out_le(flags, 1);
    tr_proto_out_le(TINYRT_ARENA_BYTES, 4);
    tr_proto_out_le(tr_board_clock_hz, 4);
    tr_proto_out_le(TINYRT_INPUT_BYTES, 4);
    tr_proto_out_le(TINYRT_OUTPUT_BYTES, 4);
    tr_proto_out_str(TINYRT_MODEL_NAME);
    tr_proto_out_str(TINYRT_MODEL_HASH);
    tr_proto_out_str(TINYRT_FW_VERSION);
    tr_proto_out_str(TINYRT_BOARD_ID);
    tr_proto_out_str(tr_board_latency_unit);
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
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 4);
    }
    uint32_t offset = tr_rd32(p), n = len - 4;
    if (offset > TINYRT_INPUT_BYTES || n > TINYRT_INPUT_BYTES - offset) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, TINYRT_INPUT_BYTES);
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
    tr_proto_out_le(offset, 4);
    tr_proto_out_le(n, 4);
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
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 2);
    }
    uint32_t runs = tr_rd16(p);
    if (runs == 0 || runs > MAX_RUNS) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, MAX_RUNS);
    }
    tr_proto_out_le(runs, 2);
    uint8_t exact = 0;
    for (uint32_t r = 0; r < runs; r++) {
        exact = (uint8_t)tr_proto_take_input();
#ifdef TINYRT_PROFILE
        profile_reset();
#endif
        uint64_t start = tr_board_counter();
        tinyrt_run();
        tr_proto_out_u64(tr_board_counter() - start);
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
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 6);
    }
    uint32_t offset = tr_rd32(p), n = tr_rd16(p + 4);
    if (n > TR_PROTO_MAX_PAYLOAD - 4) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, TR_PROTO_MAX_PAYLOAD - 4);
    }
    if (offset > TINYRT_OUTPUT_BYTES || n > TINYRT_OUTPUT_BYTES - offset) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, TINYRT_OUTPUT_BYTES);
    }
    if (!output_ready) {
        return tr_proto_fail(TR_ERR_NOT_READY, 0);
    }
    tr_proto_out_le(offset, 4);   /* n fits after it, checked above */
    copy_packed(0, offset, n, tr_proto_out_room(n));
    return 0;
}

static uint32_t cmd_get_stats(uint32_t len)
{
    if (len != 0) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 0);
    }
    tr_proto_out_le(tr_board_stack_used(), 4);
    tr_proto_out_le(tr_board_stack_size(), 4);
    tr_proto_out_le(TINYRT_ARENA_BYTES, 4);
    tr_proto_out_le(tr_board_static_ram(), 4);
    tr_proto_out_le(INPUT_BUFFER_BYTES, 4);
    tr_proto_out_le(TR_FRAME_BUFFER_BYTES, 4);
    return 0;
}

static uint32_t cmd_profile(const uint8_t *p, uint32_t len)
{
#ifdef TINYRT_PROFILE
    if (len != 2) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 2);
    }
    uint32_t start = tr_rd16(p);
    if (start > TINYRT_NUM_LAYERS) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, TINYRT_NUM_LAYERS);
    }
    if (!profile_ready) {
        return tr_proto_fail(TR_ERR_NOT_READY, 0);
    }
    uint32_t k = TINYRT_NUM_LAYERS - start;
    if (k > (TR_PROTO_MAX_PAYLOAD - 4) / 8) {
        k = (TR_PROTO_MAX_PAYLOAD - 4) / 8;
    }
    tr_proto_out_le(TINYRT_NUM_LAYERS, 2);
    tr_proto_out_le(start, 2);
    for (uint32_t i = 0; i < k; i++) {
        tr_proto_out_u64(layer_counts[start + i]);
    }
    return 0;
#else
    (void)p;
    (void)len;
    return tr_proto_fail(TR_ERR_NOT_SUPPORTED, 0);
#endif
}

uint32_t tr_proto_dispatch(uint32_t type, const uint8_t *p, uint32_t len)
{
    switch (type) {
    case TR_CMD_PING:
        tr_proto_out(p, len);
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
        return tr_proto_fail(TR_ERR_NOT_SUPPORTED, type);
#endif
    default:
        return tr_proto_fail(TR_ERR_UNKNOWN_COMMAND, type);
    }
}

/* Requests that must not run twice: more runs could clobber the input the output came from, a
 * training sample would add its gradients twice, an update step twice, a batch's begin decay
 * the momentum twice, an eval finds its input used up. */
int tr_proto_runs_once(uint32_t type)
{
    return type == TR_CMD_INVOKE || type == TR_CMD_TRAIN_SAMPLE || type == TR_CMD_TRAIN_UPDATE ||
           type == TR_CMD_TRAIN_EVAL || type == TR_CMD_TRAIN_BEGIN;
}
