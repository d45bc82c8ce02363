/*
 * train_dwconv_f32: depthwise convolution of the FP32 training tail (KxK, stride, padding
 * before the first row/column, depth multiplier dm; no dilation), forward and backward.
 *
 * input   [in_h, in_w, in_c]: float, or int8 read as in_scale * (q - in_zp) when in_s8
 * weights [k_h, k_w, in_c * dm] float (TFLite [1, KH, KW, C*dm]); bias [in_c * dm] or NULL
 * output  [out_h, out_w, in_c * dm]: channel c * dm + m reads input channel c
 *
 * backward_input: grad_in[y, x, c] = act'(saved_in[y, x, c]) * sum over the covering outputs
 *   and m of w * grad_out; a gather, so grad_in may alias saved_in; not grad_out.
 *   in_act 0: saved_in may be NULL.
 * backward_weights: grad_w[ky, kx, oc] += sum over outputs of grad_out * input tap.
 * No scratch. Body: train_dwconv.inc, shared with train_dwconv_f16.h.
 */
#ifndef TINYRT_TRAIN_DWCONV_F32_H
#define TINYRT_TRAIN_DWCONV_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_conv2d_f32.h"
#include "train_rows_f32.h"

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_dwconv.inc"

#endif /* TINYRT_TRAIN_DWCONV_F32_H */
