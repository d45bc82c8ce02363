/*
 * conv2d_f16: float convolution computed in FP16 (TFLite reference_ops::Conv, float, with fp16
 * arithmetic; docs/fp16.md "FP16 compute").
 *
 * input   [batches, in_h, in_w, in_c]    fp16
 * weights [k_h, k_w, f_c, out_c]         fp16, output channel fastest (transposed at generation
 *                                        time from TFLite's [out_c, k_h, k_w, f_c]) so one vector
 *                                        load gives the same tap of 8 output channels
 * bias    [out_c]                        fp16; null: no bias
 * output  [batches, out_h, out_w, out_c] fp16, clamped to [act_min, act_max]
 * f_c = in_c / groups. Each output sums in four chains of fused multiply-adds from +0, chain k
 * taking the channels c = k (mod 4) of every tap, in TFLite's order (ky, kx, channel); then
 * (c0 + c1) + (c2 + c3), + bias, the clamp (four chains: a quarter of one chain's worst-case
 * fp16 rounding error, and four independent FMAs in flight). The MVE version (8 output channels
 * of one group per vector, vfmaq_n_f16 of a weight vector by an input scalar, predicated tail;
 * any number of groups) and the portable one give the same bits. Taps outside the input are
 * skipped (zero padding).
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_CONV2D_F16_H
#define TINYRT_CONV2D_F16_H

#include <stdint.h>

#include "../tinyrt_f16.h"

/* The taps k in [*lo, *hi) whose input row (column) start + k * dil lies in [0, size). */
TINYRT_KERNEL void conv2d_f16_taps(int start, int dil, int size, int k, int *lo, int *hi)
{
    const int first = start < 0 ? (-start + dil - 1) / dil : 0;
    const int end = (size - start + dil - 1) / dil;
    *lo = TR_MIN(first, k);
    *hi = TR_MAX(TR_MIN(end, k), *lo);
}

TINYRT_KERNEL void conv2d_f16_portable(const uint16_t *input, const uint16_t *weights,
                                       const uint16_t *bias, uint16_t *output, int batches,
                                       int in_h, int in_w, int in_c, int k_h, int k_w, int f_c,
                                       int out_h, int out_w, int out_c, int stride_h,
                                       int stride_w, int dil_h, int dil_w, int pad_h, int pad_w,
                                       float act_min, float act_max)
{
    const tr_f16 *in = (const tr_f16 *)input, *w = (const tr_f16 *)weights;
    const tr_f16 *b16 = (const tr_f16 *)bias;
    const tr_f16 lo = (tr_f16)act_min, hi = (tr_f16)act_max;
    const int per_group = out_c / (in_c / f_c);
    for (int b = 0; b < batches; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            for (int ox = 0; ox < out_w; ox++) {
                tr_f16 *out = (tr_f16 *)output + ((b * out_h + oy) * out_w + ox) * out_c;
                for (int oc = 0; oc < out_c; oc++) {
                    const int first = (oc / per_group) * f_c;
                    tr_f16 chain[4] = {(tr_f16)0.0f, (tr_f16)0.0f, (tr_f16)0.0f, (tr_f16)0.0f};
                    for (int ky = 0; ky < k_h; ky++) {
                        const int iy = oy * stride_h - pad_h + ky * dil_h;
                        if (iy < 0 || iy >= in_h) {
                            continue;
                        }
                        for (int kx = 0; kx < k_w; kx++) {
                            const int ix = ox * stride_w - pad_w + kx * dil_w;
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            const tr_f16 *x = in + ((b * in_h + iy) * in_w + ix) * in_c + first;
                            const tr_f16 *wk = w + (ky * k_w + kx) * f_c * out_c + oc;
                            for (int c = 0; c < f_c; c++) {
                                chain[c & 3] = tr_f16_fma(x[c], wk[c * out_c], chain[c & 3]);
                            }
                        }
                    }
                    tr_f16 acc = tr_f16_add(tr_f16_add(chain[0], chain[1]),
                                            tr_f16_add(chain[2], chain[3]));
                    if (b16) {
                        acc = tr_f16_add(acc, b16[oc]);
                    }
                    out[oc] = tr_f16_clamp(acc, lo, hi);
                }
            }
        }
    }
}

#if TINYRT_F16_MVE
/* The four chains of 8 output channels [oc, oc + 8) (predicate p) at one output pixel: in[x0]
 * is the group's first input channel at tap (0, 0) (an index, as that tap may lie outside the
 * input), wk the weights of those channels at tap (0, 0). */
TINYRT_KERNEL float16x8_t conv2d_f16_mve_block(const float16_t *in, int x0, const float16_t *wk,
                                               mve_pred16_t p, int in_w, int in_c, int k_w,
                                               int f_c, int out_c, int ky0, int ky1, int kx0,
                                               int kx1, int dil_h, int dil_w)
{
    float16x8_t c0 = vdupq_n_f16((float16_t)0.0f), c1 = c0, c2 = c0, c3 = c0;
    for (int ky = ky0; ky < ky1; ky++) {
        for (int kx = kx0; kx < kx1; kx++) {
            const float16_t *xt = in + x0 + (ky * dil_h * in_w + kx * dil_w) * in_c;
            const float16_t *wt = wk + (ky * k_w + kx) * f_c * out_c;
            int c = 0;
            for (; c + 4 <= f_c; c += 4) {
                c0 = vfmaq_n_f16(c0, vldrhq_z_f16(wt + c * out_c, p), xt[c]);
                c1 = vfmaq_n_f16(c1, vldrhq_z_f16(wt + (c + 1) * out_c, p), xt[c + 1]);
                c2 = vfmaq_n_f16(c2, vldrhq_z_f16(wt + (c + 2) * out_c, p), xt[c + 2]);
                c3 = vfmaq_n_f16(c3, vldrhq_z_f16(wt + (c + 3) * out_c, p), xt[c + 3]);
            }
            if (c < f_c) {
                c0 = vfmaq_n_f16(c0, vldrhq_z_f16(wt + c * out_c, p), xt[c]);
            }
            if (c + 1 < f_c) {
                c1 = vfmaq_n_f16(c1, vldrhq_z_f16(wt + (c + 1) * out_c, p), xt[c + 1]);
            }
            if (c + 2 < f_c) {
                c2 = vfmaq_n_f16(c2, vldrhq_z_f16(wt + (c + 2) * out_c, p), xt[c + 2]);
            }
        }
    }
    return vaddq_f16(vaddq_f16(c0, c1), vaddq_f16(c2, c3));
}

/* Any number of groups: 8 output channels of one group per vector (a group's last vector is
 * predicated, so no lane mixes two groups' inputs). */
TINYRT_KERNEL void conv2d_f16_mve(const uint16_t *input, const uint16_t *weights,
                                  const uint16_t *bias, uint16_t *output, int batches, int in_h,
                                  int in_w, int in_c, int k_h, int k_w, int f_c, int out_h,
                                  int out_w, int out_c, int stride_h, int stride_w, int dil_h,
                                  int dil_w, int pad_h, int pad_w, float act_min, float act_max)
{
    const float16_t *in = (const float16_t *)input, *w = (const float16_t *)weights;
    const float16_t *b16 = (const float16_t *)bias;
    const float16x8_t lo = vdupq_n_f16((float16_t)act_min), hi = vdupq_n_f16((float16_t)act_max);
    const int per_group = out_c / (in_c / f_c);
    for (int b = 0; b < batches; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = oy * stride_h - pad_h;
            int ky0, ky1;
            conv2d_f16_taps(y0, dil_h, in_h, k_h, &ky0, &ky1);
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = ox * stride_w - pad_w;
                int kx0, kx1;
                conv2d_f16_taps(x0, dil_w, in_w, k_w, &kx0, &kx1);
                float16_t *out = (float16_t *)output + ((b * out_h + oy) * out_w + ox) * out_c;
                const int at = ((b * in_h + y0) * in_w + x0) * in_c;
                for (int g0 = 0; g0 < out_c; g0 += per_group) {
                    for (int oc = g0; oc < g0 + per_group; oc += 8) {
                        const mve_pred16_t p = vctp16q((uint32_t)(g0 + per_group - oc));
                        float16x8_t acc = conv2d_f16_mve_block(
                            in, at + (g0 / per_group) * f_c, w + oc, p, in_w, in_c, k_w, f_c, out_c,
                            ky0, ky1, kx0, kx1, dil_h, dil_w);
                        if (b16) {
                            acc = vaddq_f16(acc, vldrhq_z_f16(b16 + oc, p));
                        }
                        vstrhq_p_f16(out + oc, vminnmq_f16(vmaxnmq_f16(acc, lo), hi), p);
                    }
                }
            }
        }
    }
}
#endif

TINYRT_KERNEL void conv2d_f16(const uint16_t *input, const uint16_t *weights,
                              const uint16_t *bias, uint16_t *output, int batches, int in_h,
                              int in_w, int in_c, int k_h, int k_w, int f_c, int out_h, int out_w,
                              int out_c, int stride_h, int stride_w, int dil_h, int dil_w,
                              int pad_h, int pad_w, float act_min, float act_max)
{
#if TINYRT_F16_MVE
    conv2d_f16_mve(input, weights, bias, output, batches, in_h, in_w, in_c, k_h, k_w, f_c, out_h,
                   out_w, out_c, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w, act_min,
                   act_max);
#else
    conv2d_f16_portable(input, weights, bias, output, batches, in_h, in_w, in_c, k_h, k_w, f_c,
                        out_h, out_w, out_c, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w,
                        act_min, act_max);
#endif
}

#endif /* TINYRT_CONV2D_F16_H */
