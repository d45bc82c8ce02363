/*
 * train_conv2d_gap_f32: a convolution followed by a global average pool, fused, for the first
 * layer of a training tail: the convolution's output map is never stored.
 *
 * Forward: pooled[o] = (sum over output positions, in row-major order, of act(conv)) / count,
 * count = out_h * out_w: the same arithmetic as train_conv2d_f32 then train_pool_f32 over the
 * whole map. mask (bit p * out_c + o, LSB first, ceil(out_h * out_w * out_c / 8) bytes; NULL
 * when act is 0) records where the activation passes the gradient.
 * Backward: the conv output's gradient dY[p, o] = passes(p, o) ? grad_pooled[o] / count : 0,
 * recomputed from the mask as it is needed (what train_avgpool_backward_input_f32 writes);
 * grad_b[o] += sum_p dY[p, o] and grad_w += as train_conv2d_backward_weights_f32 (NULL: that
 * parameter is frozen). The input (int8 boundary or float) stays as the forward read it.
 * input/weights/frozen/trained_c/bias as in train_conv2d_f32.h (grad_w: the trained rows only).
 * No scratch.
 */
#ifndef TINYRT_TRAIN_CONV2D_GAP_F32_H
#define TINYRT_TRAIN_CONV2D_GAP_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f32.h"

TINYRT_KERNEL void train_conv2d_gap_f32(const void *input, int in_s8, float in_scale,
                                        int32_t in_zp, const float *weights,
                                        const float *frozen, int trained_c, const float *bias,
                                        float *pooled, uint8_t *mask, int in_h, int in_w,
                                        int in_c, int out_h, int out_w, int out_c, int k_h,
                                        int k_w, int stride_h, int stride_w, int pad_h,
                                        int pad_w, int act)
{
    for (int o = 0; o < out_c; o++) {
        pooled[o] = 0.0f;
    }
    if (mask) {
        for (int i = 0; i < (out_h * out_w * out_c + 7) / 8; i++) {
            mask[i] = 0;
        }
    }
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
                const float y = train_act_f32(total, act);
                const int bit = (oy * out_w + ox) * out_c + o;
                if (mask && train_act_passes(y, act)) {
                    mask[bit >> 3] |= (uint8_t)(1u << (bit & 7));
                }
                pooled[o] += y;
            }
        }
    }
    const float count = (float)(out_h * out_w);
    for (int o = 0; o < out_c; o++) {
        pooled[o] = pooled[o] / count;
    }
}

/* dY at output position p, channel o: the pooled gradient shared by the map, where it passes. */
static inline float train_gap_grad(const float *grad_pooled, const uint8_t *mask, int p,
                                   int out_c, int o, float count)
{
    const int bit = p * out_c + o;
    if (mask && !((mask[bit >> 3] >> (bit & 7)) & 1)) {
        return 0.0f;
    }
    return 0.0f + grad_pooled[o] / count;
}

TINYRT_KERNEL void train_conv2d_gap_backward_f32(const void *input, int in_s8, float in_scale,
                                                 int32_t in_zp, const float *grad_pooled,
                                                 const uint8_t *mask, float *grad_w,
                                                 int trained_c, float *grad_b, int in_h,
                                                 int in_w, int in_c, int out_h, int out_w,
                                                 int out_c, int k_h, int k_w, int stride_h,
                                                 int stride_w, int pad_h, int pad_w)
{
    const float count = (float)(out_h * out_w);
    for (int o = 0; grad_b && o < out_c; o++) {
        float total = 0.0f;
        for (int p = 0; p < out_h * out_w; p++) {
            total += train_gap_grad(grad_pooled, mask, p, out_c, o, count);
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
                            total += train_gap_grad(grad_pooled, mask, oy * out_w + ox, out_c,
                                                    o, count)
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

#endif /* TINYRT_TRAIN_CONV2D_GAP_F32_H */
