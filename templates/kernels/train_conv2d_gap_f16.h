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

/* The conv's pre-activation at output (oy, ox), channel row `row`, in float32 (taps in order). */
static inline float train_gap_tap_sum_f16(const void *input, int in_s8, float in_scale,
                                          int32_t in_zp, const tr_f16 *row, int oy, int ox,
                                          int in_h, int in_w, int in_c, int k_h, int k_w,
                                          int stride_h, int stride_w, int pad_h, int pad_w)
{
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
                total += train_load_f16(input, in_s8, in_scale, in_zp, base + c) * (float)w[c];
            }
        }
    }
    return total;
}

TINYRT_KERNEL void train_conv2d_gap_f16(const void *input, int in_s8, float in_scale,
                                        int32_t in_zp, const tr_f16 *weights,
                                        const tr_f16 *frozen, int trained_c, const tr_f16 *bias,
                                        tr_f16 *pooled, uint8_t *mask, int in_h, int in_w,
                                        int in_c, int out_h, int out_w, int out_c, int k_h,
                                        int k_w, int stride_h, int stride_w, int pad_h,
                                        int pad_w, int act)
{
    if (mask) {
        for (int i = 0; i < (out_h * out_w * out_c + 7) / 8; i++) {
            mask[i] = 0;
        }
    }
    const float count = (float)(out_h * out_w);
    for (int o = 0; o < out_c; o++) {
        const tr_f16 *row = train_weight_row_f16(weights, frozen, trained_c, o, k_h * k_w * in_c);
        float sum = 0.0f;
        for (int p = 0; p < out_h * out_w; p++) {
            float total = train_gap_tap_sum_f16(input, in_s8, in_scale, in_zp, row, p / out_w,
                                                p % out_w, in_h, in_w, in_c, k_h, k_w, stride_h,
                                                stride_w, pad_h, pad_w);
            if (bias) {
                total += (float)bias[o];
            }
            const float y = (float)(tr_f16)train_act_f32(total, act);
            const int bit = p * out_c + o;
            if (mask && train_act_passes(y, act)) {
                mask[bit >> 3] |= (uint8_t)(1u << (bit & 7));
            }
            sum += y;
        }
        pooled[o] = (tr_f16)(sum / count);
    }
}

/* dY at output position p, channel o: the pooled gradient shared by the map, where it passes. */
static inline float train_gap_grad_f16(const tr_f16 *grad_pooled, const uint8_t *mask, int p,
                                       int out_c, int o, float count)
{
    const int bit = p * out_c + o;
    if (mask && !((mask[bit >> 3] >> (bit & 7)) & 1)) {
        return 0.0f;
    }
    return (float)(tr_f16)((float)grad_pooled[o] / count);
}

TINYRT_KERNEL void train_conv2d_gap_backward_f16(const void *input, int in_s8, float in_scale,
                                                 int32_t in_zp, const tr_f16 *grad_pooled,
                                                 const uint8_t *mask, tr_f16 *grad_w,
                                                 int trained_c, tr_f16 *grad_b, int in_h,
                                                 int in_w, int in_c, int out_h, int out_w,
                                                 int out_c, int k_h, int k_w, int stride_h,
                                                 int stride_w, int pad_h, int pad_w)
{
    const float count = (float)(out_h * out_w);
    for (int o = 0; grad_b && o < out_c; o++) {
        float total = 0.0f;
        for (int p = 0; p < out_h * out_w; p++) {
            total += train_gap_grad_f16(grad_pooled, mask, p, out_c, o, count);
        }
        grad_b[o] += total;
    }
    for (int o = 0; grad_w && o < trained_c; o++) {
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
                            total += train_gap_grad_f16(grad_pooled, mask, oy * out_w + ox, out_c,
                                                    o, count)
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

#endif /* TINYRT_TRAIN_CONV2D_GAP_F16_H */
