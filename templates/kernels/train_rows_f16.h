/*
 * train_rows_f16: the FP16 training tail's loads (docs/training.md "FP16 training").
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

static inline const tr_f16 *train_weight_row_f16(const tr_f16 *weights, const tr_f16 *frozen,
                                                 int trained_c, int o, int row)
{
    return o < trained_c ? weights + o * row : frozen + (o - trained_c) * row;
}

#endif /* TINYRT_TRAIN_ROWS_F16_H */
