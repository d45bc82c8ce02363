/*
 * dwconv_f16: float depthwise convolution computed in FP16 (TFLite
 * reference_ops::DepthwiseConv, float, with fp16 arithmetic; docs/fp16.md "FP16 compute").
 *
 * input   [batches, in_h, in_w, in_c]          fp16
 * weights [k_h, k_w, mult, in_c]              fp16, input channel fastest (re-laid at generation
 *                                              time from TFLite's [1, k_h, k_w, in_c * mult]; the
 *                                              same for mult 1) so one vector load gives the same
 *                                              tap and multiplier of 8 input channels
 * bias    [mult, in_c]                         fp16 (likewise re-laid); null: no bias
 * output  [batches, out_h, out_w, in_c * mult] fp16, clamped to [act_min, act_max]
 * Output channel ic * mult + m reads input channel ic. Each output is one chain of fused
 * multiply-adds from +0 in TFLite's order (ky, kx), then + bias, then the clamp. The MVE version
 * (8 input channels of one multiplier m per vector, input and weights both channel-contiguous,
 * vfmaq_f16, predicated tail; the taps inside the input found once per output pixel; mult 1
 * stores contiguously, mult > 1 scatters the 8 results to channels ic * mult + m) and the
 * portable one give the same bits. Taps outside the input are skipped.
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_DWCONV_F16_H
#define TINYRT_DWCONV_F16_H

#include <stdint.h>

#include "../tinyrt_f16.h"

TINYRT_KERNEL void dwconv_f16_portable(const uint16_t *input, const uint16_t *weights,
                                       const uint16_t *bias, uint16_t *output, int batches,
                                       int in_h, int in_w, int in_c, int k_h, int k_w, int mult,
                                       int out_h, int out_w, int stride_h, int stride_w,
                                       int dil_h, int dil_w, int pad_h, int pad_w, float act_min,
                                       float act_max)
{
    const tr_f16 *in = (const tr_f16 *)input, *w = (const tr_f16 *)weights;
    const tr_f16 *b16 = (const tr_f16 *)bias;
    const tr_f16 lo = (tr_f16)act_min, hi = (tr_f16)act_max;
    const int out_c = in_c * mult;
    for (int b = 0; b < batches; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            for (int ox = 0; ox < out_w; ox++) {
                tr_f16 *out = (tr_f16 *)output + ((b * out_h + oy) * out_w + ox) * out_c;
                for (int oc = 0; oc < out_c; oc++) {
                    const int ic = oc / mult, m = oc % mult;
                    tr_f16 acc = (tr_f16)0.0f;
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
                            acc = tr_f16_fma(in[((b * in_h + iy) * in_w + ix) * in_c + ic],
                                             w[((ky * k_w + kx) * mult + m) * in_c + ic], acc);
                        }
                    }
                    if (b16) {
                        acc = tr_f16_add(acc, b16[m * in_c + ic]);
                    }
                    out[oc] = tr_f16_clamp(acc, lo, hi);
                }
            }
        }
    }
}

#if TINYRT_F16_MVE
/* The taps k in [*lo, *hi) whose input row (column) start + k * dil lies in [0, size). */
TINYRT_KERNEL void dwconv_f16_taps(int start, int dil, int size, int k, int *lo, int *hi)
{
    const int first = start < 0 ? (-start + dil - 1) / dil : 0;
    const int end = (size - start + dil - 1) / dil;
    *lo = TR_MIN(first, k);
    *hi = TR_MAX(TR_MIN(end, k), *lo);
}

/* The outputs of one pixel: in[at] is input channel 0 at tap (0, 0) (an index: that tap may
 * lie outside the input), taps [ky0, ky1) x [kx0, kx1). */
TINYRT_KERNEL void dwconv_f16_mve_pixel(const float16_t *in, int at, const float16_t *w,
                                        const float16_t *b16, float16_t *out, int in_w, int c_n,
                                        int k_w, int mult, int ky0, int ky1, int kx0, int kx1,
                                        int dil_h, int dil_w, float16x8_t lo, float16x8_t hi)
{
    const uint16x8_t lanes = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)mult);
    for (int m = 0; m < mult; m++) {
        for (int c = 0; c < c_n; c += 8) {
            const mve_pred16_t p = vctp16q((uint32_t)(c_n - c));
            float16x8_t acc = vdupq_n_f16((float16_t)0.0f);
            for (int ky = ky0; ky < ky1; ky++) {
                for (int kx = kx0; kx < kx1; kx++) {
                    const float16x8_t x = vldrhq_z_f16(
                        in + at + (ky * dil_h * in_w + kx * dil_w) * c_n + c, p);
                    acc = vfmaq_f16(acc, x,
                                    vldrhq_z_f16(w + ((ky * k_w + kx) * mult + m) * c_n + c, p));
                }
            }
            if (b16) {
                acc = vaddq_f16(acc, vldrhq_z_f16(b16 + m * c_n + c, p));
            }
            acc = vminnmq_f16(vmaxnmq_f16(acc, lo), hi);
            if (mult == 1) {
                vstrhq_p_f16(out + c, acc, p);
            } else {
                vstrhq_scatter_shifted_offset_p_f16(out + c * mult + m, lanes, acc, p);
            }
        }
    }
}

TINYRT_KERNEL void dwconv_f16_mve(const uint16_t *input, const uint16_t *weights,
                                  const uint16_t *bias, uint16_t *output, int batches, int in_h,
                                  int in_w, int c_n, int k_h, int k_w, int mult, int out_h,
                                  int out_w, int stride_h, int stride_w, int dil_h, int dil_w,
                                  int pad_h, int pad_w, float act_min, float act_max)
{
    const float16x8_t lo = vdupq_n_f16((float16_t)act_min), hi = vdupq_n_f16((float16_t)act_max);
    for (int b = 0; b < batches; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = oy * stride_h - pad_h;
            int ky0, ky1;
            dwconv_f16_taps(y0, dil_h, in_h, k_h, &ky0, &ky1);
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = ox * stride_w - pad_w;
                int kx0, kx1;
                dwconv_f16_taps(x0, dil_w, in_w, k_w, &kx0, &kx1);
                dwconv_f16_mve_pixel(
                    (const float16_t *)input, ((b * in_h + y0) * in_w + x0) * c_n,
                    (const float16_t *)weights, (const float16_t *)bias,
                    (float16_t *)output + ((b * out_h + oy) * out_w + ox) * c_n * mult, in_w, c_n,
                    k_w, mult, ky0, ky1, kx0, kx1, dil_h, dil_w, lo, hi);
            }
        }
    }
}
#endif

TINYRT_KERNEL void dwconv_f16(const uint16_t *input, const uint16_t *weights,
                              const uint16_t *bias, uint16_t *output, int batches, int in_h,
                              int in_w, int in_c, int k_h, int k_w, int mult, int out_h,
                              int out_w, int stride_h, int stride_w, int dil_h, int dil_w,
                              int pad_h, int pad_w, float act_min, float act_max)
{
#if TINYRT_F16_MVE
    dwconv_f16_mve(input, weights, bias, output, batches, in_h, in_w, in_c, k_h, k_w, mult, out_h,
                   out_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w, act_min, act_max);
#else
    dwconv_f16_portable(input, weights, bias, output, batches, in_h, in_w, in_c, k_h, k_w, mult,
                        out_h, out_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w, act_min,
                        act_max);
#endif
}

#endif /* TINYRT_DWCONV_F16_H */
