/*
 * The SGD update, with the per-sample gradients accumulated straight into the velocity (there
 * is no separate gradient buffer): a batch begins with v *= momentum (v := 0 for plain SGD),
 * each sample adds its gradient times 1/batch into v (its loss gradient is scaled by 1/batch,
 * see model_train.c), and the step is w -= lr * v. The same maths as
 * v = momentum * v + G / batch; w -= lr * v, in another rounding order.
 *
 * train_scale_f32: x[i] *= factor, in place (v *= momentum; the loss gradient *= 1/batch).
 * train_sgd_step_f32: params[i] -= lr * velocity[i]. params and velocity are [count] float,
 * distinct. No scratch.
 */
#ifndef TINYRT_TRAIN_SGD_F32_H
#define TINYRT_TRAIN_SGD_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void train_scale_f32(float *x, int count, float factor)
{
    for (int i = 0; i < count; i++) {
        x[i] = x[i] * factor;
    }
}

TINYRT_KERNEL void train_sgd_step_f32(float *params, const float *velocity, int count, float lr)
{
    for (int i = 0; i < count; i++) {
        params[i] = params[i] - lr * velocity[i];
    }
}

#endif /* TINYRT_TRAIN_SGD_F32_H */
