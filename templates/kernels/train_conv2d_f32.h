/*
 * train_conv2d_f32: 2D convolution of the FP32 training tail (any KxK incl. 1x1, stride,
 * SAME/VALID padding as pad_h/pad_w before the first row/column; no dilation, no groups),
 * forward and backward.
 *
 * input   [in_h, in_w, in_c]: float, or int8 read as in_scale * (q - in_zp) when in_s8
 * weights [out_c, k_h, k_w, in_c] float (TFLite layout), rows [0, trained_c) from `weights` and
 *         the rest from `frozen` (train_rows_f32.h); bias [out_c] float or NULL
 * output  [out_h, out_w, out_c] float = act(sum over the taps inside the input + bias)
 *
 * backward_input: grad_in[y, x, c] = act'(saved_in[y, x, c]) * sum of w * grad_out over the
 *   outputs whose window covers (y, x); grad_out is the gradient before this layer's
 *   activation, in_act the activation that produced the input (0: saved_in may be NULL).
 *   Computed per input element (a gather), so grad_in may alias saved_in; not grad_out.
 * backward_weights: grad_w[o, ky, kx, c] += sum over outputs of grad_out * input tap, for the
 *   trained rows o < trained_c only.
 * No scratch. Body: train_conv2d.inc, shared with train_conv2d_f16.h.
 */
#ifndef TINYRT_TRAIN_CONV2D_F32_H
#define TINYRT_TRAIN_CONV2D_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f32.h"

/* The output positions [*lo, *hi) whose window (k taps, stride, pad) covers input position i. */
static inline void train_window_range(int i, int k, int stride, int pad, int out, int *lo,
                                      int *hi)
{
    const int first = i + pad - k + 1;
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    *hi = TR_MIN(out, (i + pad) / stride + 1);
}

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_conv2d.inc"

#endif /* TINYRT_TRAIN_CONV2D_F32_H */
