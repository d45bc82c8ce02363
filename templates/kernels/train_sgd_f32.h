/*
 * train_sgd_momentum_f32: one SGD step with momentum, in place, over `count` parameters.
 *
 * v = momentum * v + g / batch;  w -= lr * v;  g = 0
 * (g: the gradients added over the batch's samples; v: the momentum buffer). params, grads and
 * velocity are [count] float, distinct. No scratch.
 */
#ifndef TINYRT_TRAIN_SGD_F32_H
#define TINYRT_TRAIN_SGD_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void train_sgd_momentum_f32(float *params, float *grads, float *velocity,
                                          int count, float lr, float momentum, int batch)
{
    const float n = (float)batch;
    for (int i = 0; i < count; i++) {
        velocity[i] = momentum * velocity[i] + grads[i] / n;
        params[i] = params[i] - lr * velocity[i];
        grads[i] = 0.0f;
    }
}

#endif /* TINYRT_TRAIN_SGD_F32_H */
