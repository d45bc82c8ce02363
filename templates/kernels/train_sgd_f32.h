/*
 * The SGD update, with the per-sample gradients accumulated straight into the velocity (there
 * is no separate gradient buffer): a batch begins with v *= momentum (v := 0 for plain SGD),
 * each sample adds its gradient times 1/batch into v (its loss gradient is scaled by 1/batch,
 * see model_train.c), and the step is w -= lr * v. The same maths as
 * v = momentum * v + G / batch; w -= lr * v, in another rounding order.
 *
 * train_scale_f32: x[i] *= factor, in place (v *= momentum; the loss gradient *= 1/batch).
 * train_sgd_step_f32: params[i] -= lr * velocity[i]. params and velocity are [count] float,
 * distinct. No scratch. Body: train_sgd.inc, shared with train_sgd_f16.h.
 */
#ifndef TINYRT_TRAIN_SGD_F32_H
#define TINYRT_TRAIN_SGD_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_rows_f32.h"

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_sgd.inc"

#endif /* TINYRT_TRAIN_SGD_F32_H */
