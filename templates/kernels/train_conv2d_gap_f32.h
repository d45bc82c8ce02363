/*
 * train_conv2d_gap_f32: a convolution followed by a global average pool, fused, for the first
 * layer of a training tail: the convolution's output map is never stored.
 *
 * Forward: pooled[o] = (sum over output positions, in row-major order, of act(conv)) / count,
 * count = out_h * out_w: the same arithmetic as train_conv2d_f32 then train_pool_f32 over the
 * whole map (channel by channel: one float32 accumulator per channel, no scratch). mask (bit
 * p * out_c + o, LSB first, ceil(out_h * out_w * out_c / 8) bytes; NULL when act is 0) records
 * where the activation passes the gradient.
 * Backward: the conv output's gradient dY[p, o] = passes(p, o) ? grad_pooled[o] / count : 0,
 * recomputed from the mask as it is needed (what train_avgpool_backward_input_f32 writes);
 * grad_b[o] += sum_p dY[p, o] and grad_w += as train_conv2d_backward_weights_f32 (NULL: that
 * parameter is frozen). The input (int8 boundary or float) stays as the forward read it.
 * input/weights/frozen/trained_c/bias as in train_conv2d_f32.h (grad_w: the trained rows only).
 * No scratch. Body: train_conv2d_gap.inc, shared with train_conv2d_gap_f16.h.
 */
#ifndef TINYRT_TRAIN_CONV2D_GAP_F32_H
#define TINYRT_TRAIN_CONV2D_GAP_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f32.h"

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_conv2d_gap.inc"

#endif /* TINYRT_TRAIN_CONV2D_GAP_F32_H */
