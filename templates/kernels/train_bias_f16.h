/*
 * train_bias_grad_f16: the gradient of a bias added into the FP16 velocity: grad_b[c] =
 * half(grad_b[c] + the float32 sum over positions of grad_out[p, c]), as train_bias_f32.h. No scratch.
 */
#ifndef TINYRT_TRAIN_BIAS_F16_H
#define TINYRT_TRAIN_BIAS_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_rows_f16.h"

TINYRT_KERNEL void train_bias_grad_f16(const tr_f16 *grad_out, tr_f16 *grad_b, int positions,
                                       int channels)
{
    for (int c = 0; c < channels; c++) {
        float total = 0.0f;
        for (int p = 0; p < positions; p++) {
            total += grad_out[p * channels + c];
        }
        grad_b[c] += total;
    }
}

#endif /* TINYRT_TRAIN_BIAS_F16_H */
