/*
 * fully_connected_s8_mve: int8 fully connected layer on Helium (TFLite
 * reference_integer_ops::FullyConnected, per-tensor or per-channel weights).
 *
 * input   [batches, in_depth]  int8 (its zero point folded into the bias)
 * weights GEMM layout of tr_mve_gemv4_s8 (tinyrt_mve.h) of TFLite's [out_depth, in_depth]
 * bias    [out_depth rounded up to 4] int32, folded: bias - in_zp * sum(weights[o])
 * output  [batches, out_depth] int8, clamped to [act_min, act_max]
 * mult, left, neg_right: as in conv2d_s8_mve.h. No scratch; output must not alias the input.
 */
#ifndef TINYRT_FULLY_CONNECTED_S8_MVE_H
#define TINYRT_FULLY_CONNECTED_S8_MVE_H

#include <stdint.h>

#include "../tinyrt_mve.h"

TINYRT_KERNEL void fully_connected_s8_mve(const int8_t *input, const int8_t *weights,
                                          const int32_t *bias, int8_t *output, int batches,
                                          int in_depth, int out_depth, int per_channel,
                                          int has_left, const int32_t *mult,
                                          const int32_t *left, const int32_t *neg_right,
                                          int32_t out_zp, int32_t act_min, int32_t act_max)
{
    TR_MVE_LAYER_FENCE();
    const tr_mve_rq q = {mult, left, neg_right, per_channel, has_left, out_zp, act_min, act_max};
    for (int b = 0; b < batches; b++) {
        tr_mve_gemv4_s8(input + b * in_depth, weights, bias, output + b * out_depth, out_depth,
                        in_depth, &q);
    }
    TR_MVE_LAYER_FENCE();
}

#endif /* TINYRT_FULLY_CONNECTED_S8_MVE_H */
