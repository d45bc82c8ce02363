/*
 * train_rows_f16: how the FP16 training tail stores its values (docs/training.md "FP16
 * training"), for the kernel bodies it shares with the FP32 tail (train_*.inc).
 *
 * The FP16 kernels (train_*_f16.h) store every tensor (parameters, velocity, activations,
 * gradients, frozen constants) as IEEE half (tr_f16, ../tinyrt_f16.h) and compute as their
 * train_*_f32.h twins do, in float32: a product of two halves is exact in float, sums are taken
 * in float32 in the same order as the FP32 kernel, and each value is rounded to FP16 once, when
 * it is stored. The elementwise steps (train_sgd_f16.h) are single FP16 operations instead.
 *
 * train_load_f16: element i of an activation as float: a half, or an int8 boundary element
 * dequantised as in_scale * (q - zp) in float and rounded to FP16 (the value an FP16 copy of
 * the boundary would hold; no copy is made).
 * train_round_f16: a float32 rounded to FP16 (the value a store keeps), as float.
 * train_mul_f16: a * b; train_muladd_f16: c + a * b fused (VFMA.F16): each rounded to FP16 once.
 * train_weight_row_f16: the row of output channel o, trained rows from `weights` (RAM), the
 * others from `frozen` (flash), as train_rows_f32.h.
 */
#ifndef TINYRT_TRAIN_ROWS_F16_H
#define TINYRT_TRAIN_ROWS_F16_H

#include <stdint.h>

#include "../tinyrt_f16.h"

static inline float train_load_f16(const void *data, int is_s8, float scale, int32_t zp, int i)
{
    if (is_s8) {
        return (float)(tr_f16)(scale * (float)((int32_t)((const int8_t *)data)[i] - zp));
    }
    return (float)((const tr_f16 *)data)[i];
}

static inline float train_round_f16(float x)
{
    return (float)(tr_f16)x;
}

static inline tr_f16 train_mul_f16(tr_f16 a, tr_f16 b)
{
    return tr_f16_mul(a, b);
}

static inline tr_f16 train_muladd_f16(tr_f16 a, tr_f16 b, tr_f16 c)
{
    return tr_f16_fma(a, b, c);
}

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_rows.inc"

#endif /* TINYRT_TRAIN_ROWS_F16_H */
