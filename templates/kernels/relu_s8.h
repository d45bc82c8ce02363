/*
 * relu_s8: int8 RELU, RELU6 and RELU_N1_TO_1 (TFLite activations.cc QuantizedReluX -> ReluX).
 *
 * relu_s8:       out = clamp(out_zp + rq(x - in_zp, mult, shift), act_min, act_max), rq being
 *                MultiplyByQuantizedMultiplier (tr_requantize) with mult/shift from
 *                QuantizeMultiplier(input_scale / output_scale).
 * relu_s8_clamp: out = clamp(x + offset, act_min, act_max), offset = out_zp - in_zp: the same
 *                result when input and output scales are equal (mult 2^30, shift 1 is exact).
 * in, out: [size] int8. act_min/act_max are in output units. No scratch. In-place safe
 * (out == in): elementwise.
 */
#ifndef TINYRT_RELU_S8_H
#define TINYRT_RELU_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void relu_s8(const int8_t *in, int8_t *out, int size, int32_t in_zp,
                           int32_t mult, int shift, int32_t out_zp,
                           int32_t act_min, int32_t act_max)
{
    for (int i = 0; i < size; i++) {
        const int32_t y = out_zp + tr_requantize((int32_t)in[i] - in_zp, mult, shift);
        out[i] = (int8_t)TR_CLAMP(y, act_min, act_max);
    }
}

TINYRT_KERNEL void relu_s8_clamp(const int8_t *in, int8_t *out, int size, int32_t offset,
                                 int32_t act_min, int32_t act_max)
{
    for (int i = 0; i < size; i++) {
        const int32_t y = (int32_t)in[i] + offset;
        out[i] = (int8_t)TR_CLAMP(y, act_min, act_max);
    }
}

#endif /* TINYRT_RELU_S8_H */
