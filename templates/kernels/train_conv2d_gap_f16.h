/*
 * train_conv2d_gap_f16: a convolution fused with a global average pool, FP16 training tail:
 * train_conv2d_gap_f32.h with tensors in FP16 and float32 sums. The pooled value of channel o
 * is summed in float32 over the positions in row-major order (channel-major loop: one float
 * accumulator, no scratch), divided by the count and rounded to FP16; each conv output is
 * rounded to FP16 before the activation mask and the sum (the value an unfused FP16 conv would
 * store). Backward: dY[p, o] = half(grad_pooled[o] / count) where the mask passes (what the
 * unfused FP16 average pool's backward would store). No scratch.
 */
#ifndef TINYRT_TRAIN_CONV2D_GAP_F16_H
#define TINYRT_TRAIN_CONV2D_GAP_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f16.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_conv2d_gap.inc"

#endif /* TINYRT_TRAIN_CONV2D_GAP_F16_H */
