/*
 * conv2d_s8_mve: int8 2-D convolution on Helium (TFLite reference_integer_ops::ConvPerChannel).
 *
 * input   [batches, in_h, in_w, in_c]   int8, zero point in_zp; one group (f_c == in_c)
 * weights GEMM layout of tr_mve_gemv4_s8 (tinyrt_mve.h): the filters [out_c, k_h, k_w, in_c]
 *         as rows of depth = k_h * k_w * in_c, 4 filters' 16-byte chunks side by side,
 *         zero-padded to whole chunks and groups of 4 (generation time)
 * bias    [out_c rounded up to 4] int32, folded: bias - in_zp * sum(weights[o])
 * output  [batches, out_h, out_w, out_c] int8, clamped to [act_min, act_max]
 * mult, left, neg_right [out_c rounded up to 4]: TFLite's multiplier and shift split into
 *         max(shift, 0) and min(shift, 0) (per channel, or element 0 for all: per_channel)
 *
 * conv2d_s8_1x1_mve: 1x1, stride 1: each input pixel is a GEMM row, read in place, no scratch.
 * conv2d_s8_mve: any kernel size, stride, dilation, padding: each output pixel's window is
 * copied into `scratch` (CONV2D_S8_MVE_SCRATCH_BYTES: depth rounded up to 16, so the GEMM
 * reads whole chunks with no predication; the padding is zeroed once and meets zero weights).
 * Taps outside the input read in_zp, which the folded bias cancels exactly as TFLite skips them.
 * Output must not alias the input.
 */
#ifndef TINYRT_CONV2D_S8_MVE_H
#define TINYRT_CONV2D_S8_MVE_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_mve.h"

#define CONV2D_S8_MVE_SCRATCH_BYTES(k_h, k_w, in_c) ((((k_h) * (k_w) * (in_c)) + 15) / 16 * 16)

TINYRT_KERNEL void conv2d_s8_1x1_mve(const int8_t *input, const int8_t *weights,
                                     const int32_t *bias, int8_t *output, int pixels, int in_c,
                                     int out_c, int per_channel, int has_left,
                                     const int32_t *mult, const int32_t *left,
                                     const int32_t *neg_right, int32_t out_zp, int32_t act_min,
                                     int32_t act_max)
{
    TR_MVE_LAYER_FENCE();
    const tr_mve_rq q = {mult, left, neg_right, per_channel, has_left, out_zp, act_min, act_max};
    for (int p = 0; p < pixels; p++) {
        tr_mve_gemv4_s8(input + p * in_c, weights, bias, output + p * out_c, out_c, in_c, &q);
    }
    TR_MVE_LAYER_FENCE();
}

/* Copy the window at input origin (iy0, ix0) into col [k_h, k_w, in_c]; outside: in_zp. */
TINYRT_KERNEL void conv_mve_im2col_s8(const int8_t *in_b, int8_t *col, int in_h, int in_w,
                                      int in_c, int k_h, int k_w, int dil_h, int dil_w, int iy0,
                                      int ix0, int8_t pad_value)
{
    const int x_inside = ix0 >= 0 && ix0 + (k_w - 1) * dil_w < in_w;
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = iy0 + ky * dil_h;
        int8_t *dst = col + ky * k_w * in_c;
        if (iy < 0 || iy >= in_h) {
            memset(dst, pad_value, (size_t)(k_w * in_c));
        } else if (x_inside && dil_w == 1) {
            memcpy(dst, in_b + (iy * in_w + ix0) * in_c, (size_t)(k_w * in_c));
        } else {
            for (int kx = 0; kx < k_w; kx++) {
                const int ix = ix0 + kx * dil_w;
                if (ix < 0 || ix >= in_w) {
                    memset(dst + kx * in_c, pad_value, (size_t)in_c);
                } else {
                    memcpy(dst + kx * in_c, in_b + (iy * in_w + ix) * in_c, (size_t)in_c);
                }
            }
        }
    }
}

TINYRT_KERNEL void conv2d_s8_mve(const int8_t *input, const int8_t *weights, const int32_t *bias,
                                 int8_t *output, int8_t *scratch, int batches, int in_h,
                                 int in_w, int in_c, int k_h, int k_w, int out_h, int out_w,
                                 int out_c, int stride_h, int stride_w, int dil_h, int dil_w,
                                 int pad_h, int pad_w, int32_t in_zp, int per_channel,
                                 int has_left, const int32_t *mult, const int32_t *left,
                                 const int32_t *neg_right, int32_t out_zp, int32_t act_min,
                                 int32_t act_max)
{
    TR_MVE_LAYER_FENCE();
    const tr_mve_rq q = {mult, left, neg_right, per_channel, has_left, out_zp, act_min, act_max};
    const int depth = k_h * k_w * in_c;
    const int padded = CONV2D_S8_MVE_SCRATCH_BYTES(k_h, k_w, in_c);
    memset(scratch + depth, 0, (size_t)(padded - depth));
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        int8_t *out = output + b * out_h * out_w * out_c;
        for (int oy = 0; oy < out_h; oy++) {
            for (int ox = 0; ox < out_w; ox++) {
                conv_mve_im2col_s8(in_b, scratch, in_h, in_w, in_c, k_h, k_w, dil_h, dil_w,
                                   oy * stride_h - pad_h, ox * stride_w - pad_w, (int8_t)in_zp);
                tr_mve_gemv4_s8(scratch, weights, bias, out, out_c, padded, &q);
                out += out_c;
            }
        }
    }
    TR_MVE_LAYER_FENCE();
}

#endif /* TINYRT_CONV2D_S8_MVE_H */
