/*
 * train_sgd_momentum_f32: one SGD step with momentum, in place, over `count` parameters.
 *
 * v = momentum * v + g / batch;  w -= lr * v;  g = 0
 * (g: the gradients added over the batch's samples; v: the momentum buffer). params, grads and
 * velocity are [count] float, distinct. No scratch.
 * train_sgd_f32: the same step without momentum state (a library built without momentum):
 * w -= lr * (g / batch); g = 0.
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

TINYRT_KERNEL void train_sgd_f32(float *params, float *grads, int count, float lr, int batch)
{
    const float n = (float)batch;
    for (int i = 0; i < count; i++) {
        params[i] = params[i] - lr * (grads[i] / n);
        grads[i] = 0.0f;
    }
}

#endif /* TINYRT_TRAIN_SGD_F32_H */
