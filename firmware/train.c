/*
 * train.c: the protocol server's training commands (docs/protocol.md, "Training"), over the
 * generated model_train.h API (docs/training.md). Compiled into every firmware whose project has
 * model_train.c (tinyrt/firmware.py adds -DTINYRT_TRAINING=1); empty otherwise.
 *
 *   TRAIN_SAMPLE label:i32               -> loss:f32 predicted:i32 count:u64
 *   TRAIN_UPDATE lr:f32 momentum:f32 batch:u16  -> count:u64
 *   TRAIN_EVAL   (empty)                 -> predicted:i32 count:u64
 *   TRAIN_PARAMS offset:u32 length:u16   -> offset:u32 data[length]
 *   TRAIN_RESET  (empty)                 -> (empty)
 *   TRAIN_BEGIN  momentum:f32 batch:u16  -> count:u64
 *
 * SAMPLE and EVAL run on the input SET_INPUT wrote (NOT_READY when it is not whole, as INVOKE's
 * output would be); each count is tr_board_counter() around the call, in INFO's latency unit.
 * The parameters start as the deployed model's at the first training command after boot.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "protocol.h"

#if defined(TINYRT_TRAINING) && TINYRT_TRAINING

#include "model.h"
#include "model_train.h"

static uint8_t initialised;

static void ensure_init(void)
{
    if (!initialised) {
        tinyrt_train_init();
        initialised = 1;
    }
}

static float rd_f32(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                 ((uint32_t)p[3] << 24);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void out_f32(float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    tr_proto_out_le(v, 4);
}

void tr_train_info(void)
{
    tr_proto_out_le(TINYRT_TRAIN_PEAK_BYTES, 4);
    tr_proto_out_le(TINYRT_TRAIN_ARENA_BYTES, 4);
    tr_proto_out_le(TINYRT_TRAIN_PARAMS_BYTES, 4);
    tr_proto_out_le(TINYRT_TRAIN_CLASSES, 2);
    tr_proto_out_le(TINYRT_TRAIN_MOMENTUM, 1);
}

static uint32_t cmd_sample(const uint8_t *p, uint32_t len)
{
    if (len != 4) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 4);
    }
    int32_t label = (int32_t)rd_u32(p);
    if (label < 0 || label >= TINYRT_TRAIN_CLASSES) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, TINYRT_TRAIN_CLASSES);
    }
    if (!tr_proto_take_input()) {
        return tr_proto_fail(TR_ERR_NOT_READY, 0);
    }
    uint64_t start = tr_board_counter();
    float loss = tinyrt_train_sample(label);
    uint64_t count = tr_board_counter() - start;
    tr_board_check_limits();
    tr_proto_input_used();
    out_f32(loss);
    tr_proto_out_le((uint32_t)tinyrt_train_predicted(), 4);
    tr_proto_out_u64(count);
    return 0;
}

static uint32_t cmd_update(const uint8_t *p, uint32_t len)
{
    if (len != 10) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 10);
    }
    uint32_t batch = (uint32_t)p[8] | ((uint32_t)p[9] << 8);
    if (batch == 0) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 1);
    }
    uint64_t start = tr_board_counter();
    tinyrt_train_update(rd_f32(p), rd_f32(p + 4), (int)batch);
    tr_proto_out_u64(tr_board_counter() - start);
    return 0;
}

/* Before a batch's first sample: each sample then adds its gradient / batch into the velocity. */
static uint32_t cmd_begin(const uint8_t *p, uint32_t len)
{
    if (len != 6) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 6);
    }
    uint32_t batch = (uint32_t)p[4] | ((uint32_t)p[5] << 8);
    if (batch == 0) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 1);
    }
    uint64_t start = tr_board_counter();
    tinyrt_train_begin(rd_f32(p), (int)batch);
    tr_proto_out_u64(tr_board_counter() - start);
    return 0;
}

static uint32_t cmd_eval(uint32_t len)
{
    if (len != 0) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 0);
    }
    if (!tr_proto_take_input()) {
        return tr_proto_fail(TR_ERR_NOT_READY, 0);
    }
    uint64_t start = tr_board_counter();
    int predicted = tinyrt_train_eval();
    uint64_t count = tr_board_counter() - start;
    tr_board_check_limits();
    tr_proto_input_used();
    tr_proto_out_le((uint32_t)predicted, 4);
    tr_proto_out_u64(count);
    return 0;
}

static uint32_t cmd_params(const uint8_t *p, uint32_t len)
{
    if (len != 6) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 6);
    }
    uint32_t offset = rd_u32(p), n = (uint32_t)p[4] | ((uint32_t)p[5] << 8);
    if (n > TR_PROTO_MAX_PAYLOAD - 4) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, TR_PROTO_MAX_PAYLOAD - 4);
    }
    if (offset > TINYRT_TRAIN_PARAMS_BYTES || n > TINYRT_TRAIN_PARAMS_BYTES - offset) {
        return tr_proto_fail(TR_ERR_BAD_ARGUMENT, TINYRT_TRAIN_PARAMS_BYTES);
    }
    tr_proto_out_le(offset, 4);
    tr_proto_out((const uint8_t *)tinyrt_train_params() + offset, n);
    return 0;
}

uint32_t tr_train_command(uint32_t type, const uint8_t *p, uint32_t len)
{
    ensure_init();
    switch (type) {
    case TR_CMD_TRAIN_SAMPLE:
        return cmd_sample(p, len);
    case TR_CMD_TRAIN_UPDATE:
        return cmd_update(p, len);
    case TR_CMD_TRAIN_BEGIN:
        return cmd_begin(p, len);
    case TR_CMD_TRAIN_EVAL:
        return cmd_eval(len);
    case TR_CMD_TRAIN_PARAMS:
        return cmd_params(p, len);
    case TR_CMD_TRAIN_RESET:
        if (len != 0) {
            return tr_proto_fail(TR_ERR_BAD_ARGUMENT, 0);
        }
        tinyrt_train_init();
        return 0;
    default:
        return tr_proto_fail(TR_ERR_UNKNOWN_COMMAND, type);
    }
}

#else
/* An inference-only firmware: nothing here (ISO C wants a declaration in every unit). */
typedef int tr_train_unused;
#endif
