/*
 * train_conv2d_f16: 2D convolution of the FP16 training tail, forward and backward:
 * train_conv2d_f32.h with every tensor in FP16 (input: half, or the int8 boundary read
 * through train_load_f16), float32 sums in the same order, each stored value rounded to FP16
 * once (train_rows_f16.h). Layouts, aliasing and trained rows as train_conv2d_f32.h. No scratch.
 */
#ifndef TINYRT_TRAIN_CONV2D_F16_H
#define TINYRT_TRAIN_CONV2D_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_conv2d_f32.h"
#include "train_rows_f16.h"

TINYRT_KERNEL void train_conv2d_f16(const void *input, int in_s8, float in_scale, int32_t in_zp,
                                    const tr_f16 *weights, const tr_f16 *frozen, int trained_c,
                                    const tr_f16 *bias, tr_f16 *output, int in_h, int in_w,
                                    int in_c, int out_h, int out_w, int out_c, int k_h, int k_w,
                                    int stride_h, int stride_w, int pad_h, int pad_w, int act)
{
    for (int oy = 0; oy < out_h; oy++) {
        for (int ox = 0; ox < out_w; ox++) {
            for (int o = 0; o < out_c; o++) {
                const tr_f16 *row = train_weight_row_f16(weights, frozen, trained_c, o,
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
                        const tr_f16 *w = row + (ky * k_w + kx) * in_c;
                        const int base = (iy * in_w + ix) * in_c;
                        for (int c = 0; c < in_c; c++) {
                            total += train_load_f16(input, in_s8, in_scale, in_zp, base + c) * w[c];
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

TINYRT_KERNEL void train_conv2d_backward_input_f16(const tr_f16 *grad_out, const tr_f16 *weights,
                                                   const tr_f16 *frozen, int trained_c,
                                                   tr_f16 *grad_in, const tr_f16 *saved_in,
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
                        const tr_f16 *g = grad_out + (oy * out_w + ox) * out_c;
                        for (int o = 0; o < trained_c; o++) {
                            total += weights[o * row + tap] * (float)g[o];
                        }
                        for (int o = trained_c; o < out_c; o++) {
                            total += frozen[(o - trained_c) * row + tap] * (float)g[o];
                        }
                    }
                }
                grad_in[at] = total;
            }
        }
    }
}

TINYRT_KERNEL void train_conv2d_backward_weights_f16(const void *input, int in_s8,
                                                     float in_scale, int32_t in_zp,
                                                     const tr_f16 *grad_out, tr_f16 *grad_w,
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
                                * train_load_f16(input, in_s8, in_scale, in_zp,
                                              (iy * in_w + ix) * in_c + c);
                        }
                    }
                    grad_w[((o * k_h + ky) * k_w + kx) * in_c + c] += total;
                }
            }
        }
    }
}

#endif /* TINYRT_TRAIN_CONV2D_F16_H */
