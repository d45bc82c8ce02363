/*
 * train_rows_f32: how the FP32 training tail stores its values, for the kernel bodies it shares
 * with the FP16 tail (train_*.inc; train_rows.inc says how they are instantiated).
 *
 * train_weight_row_f32: the weights of a layer whose output channels train only in part
 * (channel-sparse update, `--train last:K:F`): output channels [0, trained_c) read their rows
 * from `weights` (the trainable parameters, in RAM), channels [trained_c, out_c) from `frozen`
 * (constants in flash; NULL when trained_c == out_c). A row is the `row` floats of one output
 * channel (TFLite's output-channel-major layout of CONV_2D and FULLY_CONNECTED weights). A
 * layer that trains all or none of its weights passes its one array as `weights` and
 * trained_c = out_c.
 * train_load_f32: element i of an activation: a float, or the int8 boundary read as
 * scale * (q - zp) (tr_load_act). train_round_f32: a float32 as stored (itself).
 * train_mul_f32, train_muladd_f32: a * b and c + a * b in float32, each operation rounded.
 */
#ifndef TINYRT_TRAIN_ROWS_F32_H
#define TINYRT_TRAIN_ROWS_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

static inline float train_load_f32(const void *data, int is_s8, float scale, int32_t zp, int i)
{
    return tr_load_act(data, is_s8, scale, zp, i);
}

static inline float train_round_f32(float x)
{
    return x;
}

static inline float train_mul_f32(float a, float b)
{
    return a * b;
}

static inline float train_muladd_f32(float a, float b, float c)
{
    return c + a * b;
}

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_rows.inc"

#endif /* TINYRT_TRAIN_ROWS_F32_H */
