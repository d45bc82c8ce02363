/*
 * fully_connected_s8: int8 fully connected layer (TFLite reference_integer_ops::FullyConnected).
 *
 * input   [batches, in_depth]   int8, any zero point (folded into bias by the generator)
 * weights [out_depth, in_depth] int8, symmetric (zero point 0)
 * bias    [out_depth]           int32: bias + (-input_zero_point) * sum(weights[o])
 * output  [batches, out_depth]  int8, clamped to [act_min, act_max]
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_FULLY_CONNECTED_S8_H
#define TINYRT_FULLY_CONNECTED_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL int32_t fc_dot_s8(const int8_t *x, const int8_t *w, int32_t acc, int n)
{
    for (int i = 0; i < n; i++) {
        acc += (int32_t)x[i] * (int32_t)w[i];
    }
    return acc;
}

TINYRT_KERNEL void fully_connected_s8(const int8_t *input, const int8_t *weights,
                                      const int32_t *bias, int8_t *output, int batches,
                                      int in_depth, int out_depth, int32_t multiplier, int shift,
                                      int32_t out_zp, int32_t act_min, int32_t act_max)
{
    for (int b = 0; b < batches; b++) {
        const int8_t *x = input + b * in_depth;
        for (int o = 0; o < out_depth; o++) {
            int32_t acc = fc_dot_s8(x, weights + o * in_depth, bias[o], in_depth);
            acc = tr_requantize(acc, multiplier, shift) + out_zp;
            output[b * out_depth + o] = (int8_t)TR_CLAMP(acc, act_min, act_max);
        }
    }
}

TINYRT_KERNEL void fully_connected_s8_per_channel(const int8_t *input, const int8_t *weights,
                                                  const int32_t *bias, int8_t *output,
                                                  int batches, int in_depth, int out_depth,
                                                  const int32_t *multiplier, const int32_t *shift,
                                                  int32_t out_zp, int32_t act_min, int32_t act_max)
{
    for (int b = 0; b < batches; b++) {
        const int8_t *x = input + b * in_depth;
        for (int o = 0; o < out_depth; o++) {
            int32_t acc = fc_dot_s8(x, weights + o * in_depth, bias[o], in_depth);
            acc = tr_requantize(acc, multiplier[o], shift[o]) + out_zp;
            output[b * out_depth + o] = (int8_t)TR_CLAMP(acc, act_min, act_max);
        }
    }
}

#endif /* TINYRT_FULLY_CONNECTED_S8_H */
