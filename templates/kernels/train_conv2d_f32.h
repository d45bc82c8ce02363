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
 * No scratch.
 */
#ifndef TINYRT_TRAIN_CONV2D_F32_H
#define TINYRT_TRAIN_CONV2D_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f32.h"

TINYRT_KERNEL void train_conv2d_f32(const void *input, int in_s8, float in_scale, int32_t in_zp,
                                    const float *weights, const float *frozen, int trained_c,
                                    const float *bias, float *output, int in_h, int in_w,
                                    int in_c, int out_h, int out_w, int out_c, int k_h, int k_w,
                                    int stride_h, int stride_w, int pad_h, int pad_w, int act)
{
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            for (int o = 0; o < out_c; o++) {
                const float *row = train_weight_row(weights, frozen, trained_c, o,
                                                    k_h * k_w * in_c);
                float total = 0.0f;
                for (int ky = 0; ky < k_h; ky++) {
                    const int iy = oy * stride_h - pad_h + ky;
                    if (iy < 0 || iy >= in_h) {
                        continue;
                    }
                    for (int kx = 0; kx < k_w; kx++) {
                        const int ix = ox * stride_w - pad_w + kx;
                        if (ix < 0 || ix >= in_w) {
                            continue;
                        }
                        const float *w = row + (ky * k_w + kx) * in_c;
                        const int base = (iy * in_w + ix) * in_c;
                        for (int c = 0; c < in_c; c++) {
                            total += tr_load_act(input, in_s8, in_scale, in_zp, base + c) * w[c];
                        }
                    }
                }
                if (bias) {
                    total += bias[o];
                }
                output[(oy * out_w + ox) * out_c + o] = train_act_f32(total, act);
            }
        }
    }
}

/* The output positions [*lo, *hi) whose window (k taps, stride, pad) covers input position i. */
static inline void train_window_range(int i, int k, int stride, int pad, int out, int *lo,
                                      int *hi)
{
    const int first = i + pad - k + 1;
    *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
    *hi = TR_MIN(out, (i + pad) / stride + 1);
}

TINYRT_KERNEL void train_conv2d_backward_input_f32(const float *grad_out, const float *weights,
                                                   const float *frozen, int trained_c,
                                                   float *grad_in, const float *saved_in,
                                                   int in_act, int in_h, int in_w, int in_c,
                                                   int out_h, int out_w, int out_c, int k_h,
                                                   int k_w, int stride_h, int stride_w,
                                                   int pad_h, int pad_w)
{
    for (int iy = 0; iy < in_h; iy++) {
        int oy0, oy1;
        train_window_range(iy, k_h, stride_h, pad_h, out_h, &oy0, &oy1);
        for (int ix = 0; ix < in_w; ix++) {
            int ox0, ox1;
            train_window_range(ix, k_w, stride_w, pad_w, out_w, &ox0, &ox1);
            for (int c = 0; c < in_c; c++) {
                const int at = (iy * in_w + ix) * in_c + c;
                if (in_act && !train_act_passes(saved_in[at], in_act)) {
                    grad_in[at] = 0.0f;
                    continue;
                }
                const int row = k_h * k_w * in_c;
                float total = 0.0f;
                for (int oy = oy0; oy < oy1; oy++) {
                    const int ky = iy + pad_h - oy * stride_h;
                    for (int ox = ox0; ox < ox1; ox++) {
                        const int tap = (ky * k_w + ix + pad_w - ox * stride_w) * in_c + c;
                        const float *g = grad_out + (oy * out_w + ox) * out_c;
                        for (int o = 0; o < trained_c; o++) {
                            total += weights[o * row + tap] * g[o];
                        }
                        for (int o = trained_c; o < out_c; o++) {
                            total += frozen[(o - trained_c) * row + tap] * g[o];
                        }
                    }
                }
                grad_in[at] = total;
            }
        }
    }
}

TINYRT_KERNEL void train_conv2d_backward_weights_f32(const void *input, int in_s8,
                                                     float in_scale, int32_t in_zp,
                                                     const float *grad_out, float *grad_w,
                                                     int trained_c, int in_h, int in_w, int in_c,
                                                     int out_h, int out_w, int out_c, int k_h,
                                                     int k_w, int stride_h, int stride_w,
                                                     int pad_h, int pad_w)
{
    for (int o = 0; o < trained_c; o++) {
        for (int ky = 0; ky < k_h; ky++) {
            for (int kx = 0; kx < k_w; kx++) {
                for (int c = 0; c < in_c; c++) {
                    float total = 0.0f;
                    for (int oy = 0; oy < out_h; oy++) {
                        const int iy = oy * stride_h - pad_h + ky;
                        if (iy < 0 || iy >= in_h) {
                            continue;
                        }
                        for (int ox = 0; ox < out_w; ox++) {
                            const int ix = ox * stride_w - pad_w + kx;
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            total += grad_out[(oy * out_w + ox) * out_c + o]
                                * tr_load_act(input, in_s8, in_scale, in_zp,
                                              (iy * in_w + ix) * in_c + c);
                        }
                    }
                    grad_w[((o * k_h + ky) * k_w + kx) * in_c + c] += total;
                }
            }
        }
    }
}

#endif /* TINYRT_TRAIN_CONV2D_F32_H */
