/*
 * train_bias_grad_f32: the gradient of a bias, added into the accumulated gradient.
 *
 * grad_out [positions, channels] float: gradient of the layer's output before its activation.
 * grad_b   [channels] float: grad_b[c] += sum over positions of grad_out[p, c] (summed in
 * position order, then added once). No scratch.
 */
#ifndef TINYRT_TRAIN_BIAS_F32_H
#define TINYRT_TRAIN_BIAS_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void train_bias_grad_f32(const float *grad_out, float *grad_b, int positions,
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

#endif /* TINYRT_TRAIN_BIAS_F32_H */
