/*
 * pool2d_s8_mve: int8 average and max pooling on Helium (TFLite
 * reference_integer_ops::AveragePool / MaxPool).
 *
 * input  [batches, in_h, in_w, depth]   int8
 * output [batches, out_h, out_w, depth] int8, same scale and zero point as the input (raw values
 *        are pooled), clamped to [act_min, act_max]
 * pad_h, pad_w: the top/left padding; padded positions are left out of the window (and, for
 * the average, of the count the sum is divided by, rounding half away from zero as TFLite).
 *
 * 16 channels per step. Average: the window is summed in two int16x8 vectors (VLDRB.S16 +
 * VADD per 8 channels and tap), exact because the generator takes this kernel for windows of
 * at most 256 elements (|sum| <= 2^15, and -2^15 is the only sum reaching it). The rounding
 * division n / d of n = |sum| + d / 2 < 2^16 is VMULH.U32(n, M) with M = ceil(2^32 / d): exact,
 * since with M d = 2^32 + e, 0 <= e < d, the error n e / 2^32 stays below 1 / d (n e < 2^32);
 * the sign is restored with a predicated VNEG. A window inside the input has literal bounds and
 * a literal M; a border window computes M with one UDIV. Max: VMAX.S8 on 16 channels per tap.
 * The channel tail is read and written with predicates. No scratch. Output must not alias the
 * input.
 */
#ifndef TINYRT_POOL2D_S8_MVE_H
#define TINYRT_POOL2D_S8_MVE_H

#include <stdint.h>

#include "../tinyrt_mve.h"

/* TFLite's rounding division of 4 int32 window sums by d, M = ceil(2^32 / d) (d >= 2). */
static inline __attribute__((always_inline)) int32x4_t pool_mve_div(int32x4_t s, uint32_t m,
                                                                    int32_t half)
{
    const uint32x4_t n = vreinterpretq_u32_s32(vaddq_n_s32(vabsq_s32(s), half));
    const int32x4_t q = vreinterpretq_s32_u32(vmulhq_u32(n, vdupq_n_u32(m)));
    return vnegq_m_s32(q, q, vcmpltq_n_s32(s, 0));
}

/* The averages of 8 channels' sums, clamped, stored (n lanes valid). */
static inline __attribute__((always_inline)) void pool_mve_avg8(int8_t *out, int16x8_t sum,
                                                                int32_t count, uint32_t m,
                                                                int32_t act_min, int32_t act_max,
                                                                int n)
{
    int16x8_t y = sum;
    if (count > 1) {
        const int32x4_t even = pool_mve_div(vmovlbq_s16(sum), m, count / 2);
        const int32x4_t odd = pool_mve_div(vmovltq_s16(sum), m, count / 2);
        y = tr_mve_interleave_s32(even, odd);
    }
    tr_mve_store_s16(out, y, 0, act_min, act_max, n);
}

/* One output pixel: x at the first valid tap, channel 0; window rows `row` bytes apart, fh x fw
 * valid taps; m = ceil(2^32 / (fh * fw)). */
TINYRT_KERNEL void pool_mve_avg_pixel(const int8_t *x, int row, int depth, int fh, int fw,
                                      uint32_t m, int8_t *out, int32_t act_min, int32_t act_max)
{
    for (int c = 0; c < depth; c += 16) {
        const int n = depth - c;
        const mve_pred16_t p0 = vctp16q((uint32_t)n), p1 = vctp16q((uint32_t)(n - 8));
        int16x8_t s0 = vdupq_n_s16(0), s1 = vdupq_n_s16(0);
        for (int fy = 0; fy < fh; fy++) {
            const int8_t *xp = x + fy * row + c;
#pragma GCC unroll 8
            for (int fx = 0; fx < fw; fx++, xp += depth) {
                s0 = vaddq_s16(s0, n >= 8 ? vldrbq_s16(xp) : vldrbq_z_s16(xp, p0));
                s1 = vaddq_s16(s1, n >= 16 ? vldrbq_s16(xp + 8) : vldrbq_z_s16(xp + 8, p1));
            }
        }
        pool_mve_avg8(out + c, s0, fh * fw, m, act_min, act_max, n);
        if (n > 8) {
            pool_mve_avg8(out + c + 8, s1, fh * fw, m, act_min, act_max, n - 8);
        }
    }
}

TINYRT_KERNEL void pool_mve_max_pixel(const int8_t *x, int row, int depth, int fh, int fw,
                                      int8_t *out, int32_t act_min, int32_t act_max)
{
    for (int c = 0; c < depth; c += 16) {
        const mve_pred16_t p = vctp8q((uint32_t)(depth - c));
        int8x16_t v = vdupq_n_s8(-128);
        for (int fy = 0; fy < fh; fy++) {
            const int8_t *xp = x + fy * row + c;
#pragma GCC unroll 8
            for (int fx = 0; fx < fw; fx++, xp += depth) {
                v = vmaxq_s8(v, depth - c >= 16 ? vldrbq_s8(xp) : vldrbq_z_s8(xp, p));
            }
        }
        v = vminq_s8(vmaxq_s8(v, vdupq_n_s8((int8_t)act_min)), vdupq_n_s8((int8_t)act_max));
        if (depth - c >= 16) {
            vstrbq_s8(out + c, v);
        } else {
            vstrbq_p_s8(out + c, v, p);
        }
    }
}

/* avg != 0: average, else max (a literal). */
TINYRT_KERNEL void pool2d_s8_mve(const int8_t *input, int8_t *output, int avg, int batches,
                                 int in_h, int in_w, int depth, int out_h, int out_w,
                                 int filter_h, int filter_w, int stride_h, int stride_w,
                                 int pad_h, int pad_w, int32_t act_min, int32_t act_max)
{
    TR_MVE_LAYER_FENCE();
    const uint32_t m_inside = filter_h * filter_w > 1 ? 0xFFFFFFFFu / (uint32_t)(filter_h * filter_w) + 1 : 0;
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * depth;
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = oy * stride_h - pad_h;
            const int fy0 = TR_MAX(0, -y0), fy1 = TR_MIN(filter_h, in_h - y0);
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = ox * stride_w - pad_w;
                const int fx0 = TR_MAX(0, -x0), fx1 = TR_MIN(filter_w, in_w - x0);
                const int8_t *x = in_b + ((y0 + fy0) * in_w + x0 + fx0) * depth;
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * depth;
                const int fh = fy1 - fy0, fw = fx1 - fx0, count = fh * fw;
                if (!avg) {
                    pool_mve_max_pixel(x, in_w * depth, depth, fh, fw, out, act_min, act_max);
                } else if (fh == filter_h && fw == filter_w) {
                    /* Inside the input: literal window, literal multiplier. */
                    pool_mve_avg_pixel(x, in_w * depth, depth, filter_h, filter_w, m_inside,
                                       out, act_min, act_max);
                } else {
                    pool_mve_avg_pixel(x, in_w * depth, depth, fh, fw,
                                       count > 1 ? 0xFFFFFFFFu / (uint32_t)count + 1 : 0, out,
                                       act_min, act_max);
                }
            }
        }
    }
    TR_MVE_LAYER_FENCE();
}

#endif /* TINYRT_POOL2D_S8_MVE_H */
