/*
 * conv2d_s8: int8 2-D convolution (TFLite reference_integer_ops::ConvPerChannel).
 *
 * input   [batches, in_h, in_w, in_c]       int8, zero point in_zp
 * weights [out_c, k_h, k_w, f_c]            int8, symmetric (zero point 0); f_c = in_c / groups,
 *                                           filters [g * out_c / groups, ...) read group g
 * bias    [out_c]  int32, folded: bias - in_zp * sum(weights[o])  (zeros for a missing bias)
 * output  [batches, out_h, out_w, out_c]    int8, clamped to [act_min, act_max]
 * multiplier, shift [out_c]: per-channel requantisation (QuantizeMultiplier form)
 *
 * Folding the input offset into the bias is exact at the border too, because every tap outside
 * the input reads in_zp: weight * (in_zp - in_zp) = 0, which is what TFLite adds for a padded
 * tap (it skips it).
 *
 * conv2d_s8 copies the windows of two output pixels (one group at a time) into `scratch`,
 * 2 * k_h * k_w * f_c bytes (CONV2D_S8_SCRATCH_BYTES, computed by the generator), and multiplies
 * them with the filters 2 pixels x 2 filters at a time; conv2d_s8_1x1 does the same straight
 * from the input (no scratch). Output must not alias the input.
 */
#ifndef TINYRT_CONV2D_S8_H
#define TINYRT_CONV2D_S8_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_math.h"

#define CONV2D_S8_SCRATCH_BYTES(k_h, k_w, f_c) (2 * (k_h) * (k_w) * (f_c))

/* Unroll the depth loop 4x where the compiler has a pragma for it (fewer branches per MAC). */
#if defined(__clang__)
#define CONV_S8_UNROLL4 _Pragma("unroll 4")
#elif defined(__GNUC__) && __GNUC__ >= 8
#define CONV_S8_UNROLL4 _Pragma("GCC unroll 4")
#else
#define CONV_S8_UNROLL4
#endif

TINYRT_KERNEL int8_t conv_out_s8(int32_t acc, int32_t multiplier, int shift, int32_t out_zp,
                                 int32_t act_min, int32_t act_max)
{
    acc = tr_requantize(acc, multiplier, shift) + out_zp;
    return (int8_t)TR_CLAMP(acc, act_min, act_max);
}

/*
 * y0[f] = requant(bias[f] + dot(x0, w[f])), y1[f] likewise from x1, for `filters` filters of
 * `depth` weights each. Two pixels x two filters per step: each loaded byte is used twice.
 */
TINYRT_KERNEL void conv_mm2_s8(const int8_t *x0, const int8_t *x1, const int8_t *weights,
                               const int32_t *bias, int8_t *y0, int8_t *y1, int filters,
                               int depth, const int32_t *multiplier, const int32_t *shift,
                               int32_t out_zp, int32_t act_min, int32_t act_max)
{
    int f = 0;
    for (; f + 1 < filters; f += 2) {
        const int8_t *wa = weights + f * depth;
        const int8_t *wb = wa + depth;
        int32_t a0 = bias[f], a1 = bias[f], b0 = bias[f + 1], b1 = bias[f + 1];
        CONV_S8_UNROLL4
        for (int i = 0; i < depth; i++) {
            const int32_t u = x0[i], v = x1[i], p = wa[i], q = wb[i];
            a0 += u * p;
            a1 += v * p;
            b0 += u * q;
            b1 += v * q;
        }
        y0[f] = conv_out_s8(a0, multiplier[f], shift[f], out_zp, act_min, act_max);
        y1[f] = conv_out_s8(a1, multiplier[f], shift[f], out_zp, act_min, act_max);
        y0[f + 1] = conv_out_s8(b0, multiplier[f + 1], shift[f + 1], out_zp, act_min, act_max);
        y1[f + 1] = conv_out_s8(b1, multiplier[f + 1], shift[f + 1], out_zp, act_min, act_max);
    }
    if (f < filters) {
        const int8_t *wa = weights + f * depth;
        int32_t a0 = bias[f], a1 = bias[f];
        for (int i = 0; i < depth; i++) {
            const int32_t p = wa[i];
            a0 += (int32_t)x0[i] * p;
            a1 += (int32_t)x1[i] * p;
        }
        y0[f] = conv_out_s8(a0, multiplier[f], shift[f], out_zp, act_min, act_max);
        y1[f] = conv_out_s8(a1, multiplier[f], shift[f], out_zp, act_min, act_max);
    }
}

/*
 * Copy the window at input origin (iy0, ix0), channels [c0, c0 + f_c), into col
 * [k_h, k_w, f_c]; taps outside the input get pad_value (the input zero point).
 */
TINYRT_KERNEL void conv_im2col_s8(const int8_t *in_b, int8_t *col, int in_h, int in_w, int in_c,
                                  int k_h, int k_w, int f_c, int dil_h, int dil_w, int iy0,
                                  int ix0, int c0, int8_t pad_value)
{
    const int x_inside = ix0 >= 0 && ix0 + (k_w - 1) * dil_w < in_w;
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = iy0 + ky * dil_h;
        int8_t *dst = col + ky * k_w * f_c;
        if (iy < 0 || iy >= in_h) {
            memset(dst, pad_value, (size_t)(k_w * f_c));
        } else if (x_inside && dil_w == 1 && f_c == in_c) {
            memcpy(dst, in_b + (iy * in_w + ix0) * in_c, (size_t)(k_w * in_c));
        } else {
            for (int kx = 0; kx < k_w; kx++) {
                const int ix = ix0 + kx * dil_w;
                if (ix < 0 || ix >= in_w) {
                    memset(dst + kx * f_c, pad_value, (size_t)f_c);
                } else {
                    memcpy(dst + kx * f_c, in_b + (iy * in_w + ix) * in_c + c0, (size_t)f_c);
                }
            }
        }
    }
}

/* Generic: any kernel size, stride, dilation, padding and group count. */
TINYRT_KERNEL void conv2d_s8(const int8_t *input, const int8_t *weights, const int32_t *bias,
                             int8_t *output, int8_t *scratch, int batches, int in_h, int in_w,
                             int in_c, int k_h, int k_w, int f_c, int out_h, int out_w, int out_c,
                             int stride_h, int stride_w, int dil_h, int dil_w, int pad_h,
                             int pad_w, int32_t in_zp, const int32_t *multiplier,
                             const int32_t *shift, int32_t out_zp, int32_t act_min,
                             int32_t act_max)
{
    const int depth = k_h * k_w * f_c;
    const int groups = in_c / f_c;
    const int per_group = out_c / groups;
    const int pixels = out_h * out_w;
    int8_t *col0 = scratch;
    int8_t *col1 = scratch + depth;
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        int8_t *out_b = output + b * pixels * out_c;
        for (int p = 0; p < pixels; p += 2) {
            /* An odd last pixel is computed twice into the same place. */
            const int q = p + 1 < pixels ? p + 1 : p;
            const int iy0 = (p / out_w) * stride_h - pad_h, ix0 = (p % out_w) * stride_w - pad_w;
            const int iy1 = (q / out_w) * stride_h - pad_h, ix1 = (q % out_w) * stride_w - pad_w;
            for (int g = 0; g < groups; g++) {
                conv_im2col_s8(in_b, col0, in_h, in_w, in_c, k_h, k_w, f_c, dil_h, dil_w, iy0,
                               ix0, g * f_c, (int8_t)in_zp);
                conv_im2col_s8(in_b, col1, in_h, in_w, in_c, k_h, k_w, f_c, dil_h, dil_w, iy1,
                               ix1, g * f_c, (int8_t)in_zp);
                const int f0 = g * per_group;
                conv_mm2_s8(col0, col1, weights + f0 * depth, bias + f0,
                            out_b + p * out_c + f0, out_b + q * out_c + f0, per_group, depth,
                            multiplier + f0, shift + f0, out_zp, act_min, act_max);
            }
        }
    }
}

/*
 * Pointwise: 1x1 filter, stride 1, no padding, one group: the [pixels, in_c] input times the
 * [out_c, in_c] weights, read in place. No scratch.
 */
TINYRT_KERNEL void conv2d_s8_1x1(const int8_t *input, const int8_t *weights, const int32_t *bias,
                                 int8_t *output, int pixels, int in_c, int out_c,
                                 const int32_t *multiplier, const int32_t *shift, int32_t out_zp,
                                 int32_t act_min, int32_t act_max)
{
    for (int p = 0; p < pixels; p += 2) {
        const int q = p + 1 < pixels ? p + 1 : p;
        conv_mm2_s8(input + p * in_c, input + q * in_c, weights, bias, output + p * out_c,
                    output + q * out_c, out_c, in_c, multiplier, shift, out_zp, act_min, act_max);
    }
}

#endif /* TINYRT_CONV2D_S8_H */
