/*
 * fully_connected_f32: float fully connected layer (TFLite reference_ops::FullyConnected, float).
 *
 * input   [batches, in_depth]   float
 * weights [out_depth, in_depth] float, or fp16 bits when w16 != 0
 * bias    [out_depth]           float, or fp16 bits when b16 != 0; null: no bias
 * output  [batches, out_depth]  float, total + bias clamped to [act_min, act_max]
 * s8 I/O (in_s8 / out_s8 != 0, mixed int8/FP16 models): the input is int8 read as
 * in_scale * (q - in_zp), the output is written as int8, AffineQuantize(y, out_scale, out_zp):
 * the DEQUANTIZE / QUANTIZE around the layer, fused, bit for bit (tinyrt_math.h).
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_FULLY_CONNECTED_F32_H
#define TINYRT_FULLY_CONNECTED_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void fully_connected_f32(const void *input, int in_s8, float in_scale,
                                       int32_t in_zp, const void *weights, int w16,
                                       const void *bias, int b16, void *output, int out_s8,
                                       float out_scale, int32_t out_zp, int batches,
                                       int in_depth, int out_depth, float act_min, float act_max)
{
    for (int b = 0; b < batches; b++) {
        for (int o = 0; o < out_depth; o++) {
            float total = 0.0f;
            for (int i = 0; i < in_depth; i++) {
                total += tr_load_act(input, in_s8, in_scale, in_zp, b * in_depth + i)
                    * tr_load_f(weights, w16, o * in_depth + i);
            }
            const float bias_value = bias ? tr_load_f(bias, b16, o) : 0.0f;
            tr_store_act(output, out_s8, out_scale, out_zp, b * out_depth + o,
                         TR_CLAMP(total + bias_value, act_min, act_max));
        }
    }
}

#endif /* TINYRT_FULLY_CONNECTED_F32_H */
