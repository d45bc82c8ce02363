/*
 * train_pool_f16: average and max pooling of the FP16 training tail, forward and backward:
 * train_pool_f32.h with every tensor in FP16, float32 sums, each stored value rounded to
 * FP16 once (an overlapping max pool's input gradient is added in FP16, once per window).
 * Layouts and aliasing as there. No scratch.
 */
#ifndef TINYRT_TRAIN_POOL_F16_H
#define TINYRT_TRAIN_POOL_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_rows_f16.h"
#include "train_act_f32.h"
#include "train_act_f16.h"
#include "train_conv2d_f32.h"

TINYRT_KERNEL void train_pool_f16(const tr_f16 *input, tr_f16 *output, int in_h, int in_w, int c,
                                  int out_h, int out_w, int k_h, int k_w, int stride_h,
                                  int stride_w, int pad_h, int pad_w, int is_max, int act)
{
    for (int oy = 0; oy < out_h; oy++) {
        const int y0 = oy * stride_h - pad_h;
        const int ky0 = TR_MAX(0, -y0), ky1 = TR_MIN(k_h, in_h - y0);
        for (int ox = 0; ox < out_w; ox++) {
            const int x0 = ox * stride_w - pad_w;
            const int kx0 = TR_MAX(0, -x0), kx1 = TR_MIN(k_w, in_w - x0);
            for (int ch = 0; ch < c; ch++) {
                float acc = input[((y0 + ky0) * in_w + x0 + kx0) * c + ch];
                if (!is_max) {
                    acc = 0.0f;
                }
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        const float v = input[((y0 + ky) * in_w + x0 + kx) * c + ch];
                        acc = is_max ? TR_MAX(acc, v) : acc + v;
                    }
                }
                const float count = (float)((ky1 - ky0) * (kx1 - kx0));
                output[(oy * out_w + ox) * c + ch] =
                    train_act_f32(is_max ? acc : acc / count, act);
            }
        }
    }
}

TINYRT_KERNEL void train_avgpool_backward_input_f16(const tr_f16 *grad_out, tr_f16 *grad_in,
                                                    const tr_f16 *saved_in, int in_act, int in_h,
                                                    int in_w, int c, int out_h, int out_w,
                                                    int k_h, int k_w, int stride_h,
                                                    int stride_w, int pad_h, int pad_w)
{
    for (int iy = 0; iy < in_h; iy++) {
        int oy0, oy1;
        train_window_range(iy, k_h, stride_h, pad_h, out_h, &oy0, &oy1);
        for (int ix = 0; ix < in_w; ix++) {
            int ox0, ox1;
            train_window_range(ix, k_w, stride_w, pad_w, out_w, &ox0, &ox1);
            for (int ch = 0; ch < c; ch++) {
                const int at = (iy * in_w + ix) * c + ch;
                if (in_act && !train_act_passes(saved_in[at], in_act)) {
                    grad_in[at] = 0.0f;
                    continue;
                }
                float total = 0.0f;
                for (int oy = oy0; oy < oy1; oy++) {
                    const int y0 = oy * stride_h - pad_h;
                    const int rows = TR_MIN(k_h, in_h - y0) - TR_MAX(0, -y0);
                    for (int ox = ox0; ox < ox1; ox++) {
                        const int x0 = ox * stride_w - pad_w;
                        const int cols = TR_MIN(k_w, in_w - x0) - TR_MAX(0, -x0);
                        total += grad_out[(oy * out_w + ox) * c + ch] / (float)(rows * cols);
                    }
                }
                grad_in[at] = total;
            }
        }
    }
}

TINYRT_KERNEL void train_maxpool_backward_input_f16(const tr_f16 *grad_out, tr_f16 *grad_in,
                                                    const tr_f16 *saved_in, int in_act, int in_h,
                                                    int in_w, int c, int out_h, int out_w,
                                                    int k_h, int k_w, int stride_h,
                                                    int stride_w, int pad_h, int pad_w)
{
    for (int i = 0; i < in_h * in_w * c; i++) {
        grad_in[i] = 0.0f;
    }
    for (int oy = 0; oy < out_h; oy++) {
        const int y0 = oy * stride_h - pad_h;
        const int ky0 = TR_MAX(0, -y0), ky1 = TR_MIN(k_h, in_h - y0);
        for (int ox = 0; ox < out_w; ox++) {
            const int x0 = ox * stride_w - pad_w;
            const int kx0 = TR_MAX(0, -x0), kx1 = TR_MIN(k_w, in_w - x0);
            for (int ch = 0; ch < c; ch++) {
                int best = ((y0 + ky0) * in_w + x0 + kx0) * c + ch;
                for (int ky = ky0; ky < ky1; ky++) {
                    for (int kx = kx0; kx < kx1; kx++) {
                        const int at = ((y0 + ky) * in_w + x0 + kx) * c + ch;
                        if (saved_in[at] > saved_in[best]) {
                            best = at;
                        }
                    }
                }
                grad_in[best] += grad_out[(oy * out_w + ox) * c + ch];
            }
        }
    }
    if (in_act) {
        train_act_backward_f16(saved_in, grad_in, in_h * in_w * c, in_act);
    }
}

#endif /* TINYRT_TRAIN_POOL_F16_H */
