/*
 * train_act_f32: fused activations of the FP32 training tail, forward and backward.
 *
 * act codes: 0 NONE, 1 RELU (max(0, x)), 2 RELU6 (min(max(0, x), 6)).
 * The derivative is taken from the saved *output* y of the activation: 1 where the output is
 * strictly inside the linear range (y > 0, and y < 6 for RELU6), 0 elsewhere (0 at the kinks),
 * so backward needs no pre-activation copy.
 * train_act_backward_f32: grad[i] *= act'(saved[i]), count elements; grad may not alias saved
 * (body: train_act.inc, shared with train_act_f16.h).
 */
#ifndef TINYRT_TRAIN_ACT_F32_H
#define TINYRT_TRAIN_ACT_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

static inline float train_act_f32(float x, int act)
{
    if (act == 1) {
        return TR_MAX(x, 0.0f);
    }
    if (act == 2) {
        return TR_CLAMP(x, 0.0f, 6.0f);
    }
    return x;
}

/* 1 or 0: whether the gradient passes the activation whose output was y. */
static inline int train_act_passes(float y, int act)
{
    if (act == 1) {
        return y > 0.0f;
    }
    if (act == 2) {
        return y > 0.0f && y < 6.0f;
    }
    return 1;
}

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_act.inc"

#endif /* TINYRT_TRAIN_ACT_F32_H */
