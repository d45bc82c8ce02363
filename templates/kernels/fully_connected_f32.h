/*
 * fully_connected_f32: float fully connected layer (TFLite reference_ops::FullyConnected, float).
 *
 * input   [batches, in_depth]   float
 * weights [out_depth, in_depth] float, or fp16 bits when w16 != 0
 * bias    [out_depth]           float, or fp16 bits when b16 != 0; null: no bias
 * output  [batches, out_depth]  float, total + bias clamped to [act_min, act_max]
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_FULLY_CONNECTED_F32_H
#define TINYRT_FULLY_CONNECTED_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void fully_connected_f32(const float *input, const void *weights, int w16,
                                       const void *bias, int b16, float *output, int batches,
                                       int in_depth, int out_depth, float act_min, float act_max)
{
    for (int b = 0; b < batches; b++) {
        const float *x = input + b * in_depth;
        for (int o = 0; o < out_depth; o++) {
            float total = 0.0f;
            for (int i = 0; i < in_depth; i++) {
                total += x[i] * tr_load_f(weights, w16, o * in_depth + i);
            }
            const float bias_value = bias ? tr_load_f(bias, b16, o) : 0.0f;
            output[b * out_depth + o] = TR_CLAMP(total + bias_value, act_min, act_max);
        }
    }
}

#endif /* TINYRT_FULLY_CONNECTED_F32_H */
