/*
 * train_pool_f32: average and max pooling of the FP32 training tail, forward and backward.
 * (Global pooling and MEAN over H, W are the window of the whole input.)
 *
 * input [in_h, in_w, c] float; output [out_h, out_w, c] float. Windows are clipped to the
 * input (padding before: pad_h, pad_w); the average divides by the count of the window's
 * taps inside the input. The output gets the fused activation act (train_act_f32.h).
 *
 * avgpool backward_input: grad_in[y, x, c] = act'(saved_in) * sum over the covering windows of
 *   grad_out / count; a gather: grad_in may alias saved_in (in_act 0: saved_in may be NULL).
 * maxpool backward_input: each window's gradient goes to its first largest input (row-major
 *   window order); then grad_in *= act'(input). Needs the saved input; grad_in must not alias
 *   it. No scratch. Body: train_pool.inc, shared with train_pool_f16.h.
 */
#ifndef TINYRT_TRAIN_POOL_F32_H
#define TINYRT_TRAIN_POOL_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_conv2d_f32.h"

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_pool.inc"

#endif /* TINYRT_TRAIN_POOL_F32_H */
