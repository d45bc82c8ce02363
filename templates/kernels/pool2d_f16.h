/*
 * avgpool2d_f16 / maxpool2d_f16: float pooling computed in FP16 (TFLite
 * reference_ops::AveragePool / MaxPool, float, with fp16 arithmetic; docs/fp16.md).
 *
 * input  [n, h, w, c] fp16; output [n, out_h, out_w, c] fp16, clamped to [act_min, act_max].
 * The window is clipped to the input. Average: the fp16 sum of the valid elements in (ky, kx)
 * order from +0, times the fp16 reciprocal of their count (TFLite divides in float; the
 * reciprocal costs at most one more fp16 rounding and keeps it a vector multiply). Max: maxNum
 * from the lowest finite half. The MVE version (8 channels per vector, predicated tail) and the
 * portable one give the same bits. No scratch. Output must not alias the input.
 */
#ifndef TINYRT_POOL2D_F16_H
#define TINYRT_POOL2D_F16_H

#include <stdint.h>

#include "../tinyrt_f16.h"

TINYRT_KERNEL void pool2d_f16_portable(const uint16_t *input, uint16_t *output, int n, int h,
                                       int w, int c, int out_h, int out_w, int fh, int fw, int sh,
                                       int sw, int pad_h, int pad_w, float act_min, float act_max,
                                       int is_max)
{
    const tr_f16 *in = (const tr_f16 *)input;
    const tr_f16 lo = (tr_f16)act_min, hi = (tr_f16)act_max;
    for (int b = 0; b < n; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = oy * sh - pad_h;
            const int ky0 = TR_MAX(0, -y0), ky1 = TR_MIN(fh, h - y0);
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = ox * sw - pad_w;
                const int kx0 = TR_MAX(0, -x0), kx1 = TR_MIN(fw, w - x0);
                const tr_f16 recip = (tr_f16)(1.0f / (float)((ky1 - ky0) * (kx1 - kx0)));
                tr_f16 *out = (tr_f16 *)output + ((b * out_h + oy) * out_w + ox) * c;
                for (int ch = 0; ch < c; ch++) {
                    tr_f16 acc = is_max ? (tr_f16)-65504.0f : (tr_f16)0.0f;
                    for (int ky = ky0; ky < ky1; ky++) {
                        for (int kx = kx0; kx < kx1; kx++) {
                            const tr_f16 v = in[((b * h + y0 + ky) * w + x0 + kx) * c + ch];
                            acc = is_max ? tr_f16_maxnm(acc, v) : tr_f16_add(acc, v);
                        }
                    }
                    out[ch] = tr_f16_clamp(is_max ? acc : tr_f16_mul(acc, recip), lo, hi);
                }
            }
        }
    }
}

#if TINYRT_F16_MVE
TINYRT_KERNEL void pool2d_f16_mve(const uint16_t *input, uint16_t *output, int n, int h, int w,
                                  int c, int out_h, int out_w, int fh, int fw, int sh, int sw,
                                  int pad_h, int pad_w, float act_min, float act_max, int is_max)
{
    const float16_t *in = (const float16_t *)input;
    const float16x8_t lo = vdupq_n_f16((float16_t)act_min), hi = vdupq_n_f16((float16_t)act_max);
    for (int b = 0; b < n; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = oy * sh - pad_h;
            const int ky0 = TR_MAX(0, -y0), ky1 = TR_MIN(fh, h - y0);
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = ox * sw - pad_w;
                const int kx0 = TR_MAX(0, -x0), kx1 = TR_MIN(fw, w - x0);
                const float16_t recip = (float16_t)(1.0f / (float)((ky1 - ky0) * (kx1 - kx0)));
                float16_t *out = (float16_t *)output + ((b * out_h + oy) * out_w + ox) * c;
                for (int ch = 0; ch < c; ch += 8) {
                    const mve_pred16_t p = vctp16q((uint32_t)(c - ch));
                    float16x8_t acc = vdupq_n_f16((float16_t)(is_max ? -65504.0f : 0.0f));
                    for (int ky = ky0; ky < ky1; ky++) {
                        for (int kx = kx0; kx < kx1; kx++) {
                            const float16x8_t v =
                                vldrhq_z_f16(in + ((b * h + y0 + ky) * w + x0 + kx) * c + ch, p);
                            acc = is_max ? vmaxnmq_f16(acc, v) : vaddq_f16(acc, v);
                        }
                    }
                    if (!is_max) {
                        acc = vmulq_n_f16(acc, recip);
                    }
                    vstrhq_p_f16(out + ch, vminnmq_f16(vmaxnmq_f16(acc, lo), hi), p);
                }
            }
        }
    }
}
#endif

TINYRT_KERNEL void pool2d_f16(const uint16_t *input, uint16_t *output, int n, int h, int w,
                              int c, int out_h, int out_w, int fh, int fw, int sh, int sw,
                              int pad_h, int pad_w, float act_min, float act_max, int is_max)
{
#if TINYRT_F16_MVE
    pool2d_f16_mve(input, output, n, h, w, c, out_h, out_w, fh, fw, sh, sw, pad_h, pad_w,
                   act_min, act_max, is_max);
#else
    pool2d_f16_portable(input, output, n, h, w, c, out_h, out_w, fh, fw, sh, sw, pad_h, pad_w,
                        act_min, act_max, is_max);
#endif
}

TINYRT_KERNEL void avgpool2d_f16(const uint16_t *input, uint16_t *output, int n, int h, int w,
                                 int c, int out_h, int out_w, int fh, int fw, int sh, int sw,
                                 int pad_h, int pad_w, float act_min, float act_max)
{
    pool2d_f16(input, output, n, h, w, c, out_h, out_w, fh, fw, sh, sw, pad_h, pad_w, act_min,
               act_max, 0);
}

TINYRT_KERNEL void maxpool2d_f16(const uint16_t *input, uint16_t *output, int n, int h, int w,
                                 int c, int out_h, int out_w, int fh, int fw, int sh, int sw,
                                 int pad_h, int pad_w, float act_min, float act_max)
{
    pool2d_f16(input, output, n, h, w, c, out_h, out_w, fh, fw, sh, sw, pad_h, pad_w, act_min,
               act_max, 1);
}

#endif /* TINYRT_POOL2D_F16_H */
