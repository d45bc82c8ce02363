/*
 * dwconv_s8: int8 depthwise 2-D convolution (TFLite reference_integer_ops::
 * DepthwiseConvPerChannel).
 *
 * input   [batches, in_h, in_w, in_c]     int8, zero point in_zp
 * weights [1, k_h, k_w, out_c]            int8, symmetric; out_c = in_c * depth_mult and output
 *                                         channel oc = ic * depth_mult + m reads input channel ic
 * bias    [out_c]  int32, folded: bias - in_zp * sum(weights[.., oc])  (zeros without a bias)
 * output  [batches, out_h, out_w, out_c]  int8, clamped to [act_min, act_max]
 * multiplier, shift [out_c]: per-channel requantisation (QuantizeMultiplier form)
 *
 * Windows inside the input (out_y in [oy_lo, oy_hi), out_x in [ox_lo, ox_hi), computed by the
 * generator) are read in place. A border window is first copied to `scratch`
 * (k_h * k_w * in_c bytes) with in_zp at the taps outside the input: they then add
 * weight * (in_zp - in_zp) = 0, exactly what TFLite adds for a padded tap (it skips it).
 * Output must not alias the input.
 */
#ifndef TINYRT_DWCONV_S8_H
#define TINYRT_DWCONV_S8_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_math.h"

#define DWCONV_S8_SCRATCH_BYTES(k_h, k_w, in_c) ((k_h) * (k_w) * (in_c))

TINYRT_KERNEL int8_t dwconv_out_s8(int32_t acc, int32_t multiplier, int shift, int32_t out_zp,
                                   int32_t act_min, int32_t act_max)
{
    acc = tr_requantize(acc, multiplier, shift) + out_zp;
    return (int8_t)TR_CLAMP(acc, act_min, act_max);
}

/*
 * Copy the window at input origin (iy0, ix0) into patch [k_h, k_w, in_c], dilation resolved;
 * taps outside the input get pad_value (the input zero point).
 */
TINYRT_KERNEL void dwconv_patch_s8(const int8_t *in_b, int8_t *patch, int in_h, int in_w,
                                   int in_c, int k_h, int k_w, int dil_h, int dil_w, int iy0,
                                   int ix0, int8_t pad_value)
{
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = iy0 + ky * dil_h;
        for (int kx = 0; kx < k_w; kx++) {
            const int ix = ix0 + kx * dil_w;
            int8_t *dst = patch + (ky * k_w + kx) * in_c;
            if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
                memset(dst, pad_value, (size_t)in_c);
            } else {
                memcpy(dst, in_b + (iy * in_w + ix) * in_c, (size_t)in_c);
            }
        }
    }
}

/*
 * One output pixel: `x` is the window's tap (0, 0), channel 0; tap (ky, kx) is at
 * x + ky * row + kx * col (row and col are layer constants once inlined).
 */
TINYRT_KERNEL void dwconv_s8_pixel(const int8_t *x, int row, int col, const int8_t *weights,
                                   const int32_t *bias, int8_t *out, int in_c, int k_h, int k_w,
                                   int depth_mult, const int32_t *multiplier,
                                   const int32_t *shift, int32_t out_zp, int32_t act_min,
                                   int32_t act_max)
{
    const int out_c = in_c * depth_mult;
    for (int ic = 0; ic < in_c; ic++) {
        for (int m = 0; m < depth_mult; m++) {
            const int oc = ic * depth_mult + m;
            int32_t acc = bias[oc];
            for (int ky = 0; ky < k_h; ky++) {
                for (int kx = 0; kx < k_w; kx++) {
                    acc += (int32_t)weights[(ky * k_w + kx) * out_c + oc]
                        * x[ky * row + kx * col + ic];
                }
            }
            out[oc] = dwconv_out_s8(acc, multiplier[oc], shift[oc], out_zp, act_min, act_max);
        }
    }
}

/* Generic: any kernel size, stride, dilation, padding and depth multiplier. */
TINYRT_KERNEL void dwconv_s8(const int8_t *input, const int8_t *weights, const int32_t *bias,
                             int8_t *output, int8_t *scratch, int batches, int in_h, int in_w,
                             int in_c, int k_h, int k_w, int depth_mult, int out_h, int out_w,
                             int stride_h, int stride_w, int dil_h, int dil_w, int pad_h,
                             int pad_w, int oy_lo, int oy_hi, int ox_lo, int ox_hi,
                             int32_t in_zp, const int32_t *multiplier, const int32_t *shift,
                             int32_t out_zp, int32_t act_min, int32_t act_max)
{
    const int out_c = in_c * depth_mult;
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        for (int oy = 0; oy < out_h; oy++) {
            const int iy0 = oy * stride_h - pad_h;
            const int y_inside = oy >= oy_lo && oy < oy_hi;
            for (int ox = 0; ox < out_w; ox++) {
                const int ix0 = ox * stride_w - pad_w;
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * out_c;
                if (y_inside && ox >= ox_lo && ox < ox_hi) {
                    dwconv_s8_pixel(in_b + (iy0 * in_w + ix0) * in_c, dil_h * in_w * in_c,
                                    dil_w * in_c, weights, bias, out, in_c, k_h, k_w, depth_mult,
                                    multiplier, shift, out_zp, act_min, act_max);
                } else {
                    dwconv_patch_s8(in_b, scratch, in_h, in_w, in_c, k_h, k_w, dil_h, dil_w, iy0,
                                    ix0, (int8_t)in_zp);
                    dwconv_s8_pixel(scratch, k_w * in_c, in_c, weights, bias, out, in_c, k_h,
                                    k_w, depth_mult, multiplier, shift, out_zp, act_min,
                                    act_max);
                }
            }
        }
    }
}

/* Nine taps of one channel: x at tap (0, 0) of the channel, rows `row` apart, w likewise
 * with taps `c` apart. */
TINYRT_KERNEL int32_t dwconv_3x3_taps(const int8_t *x, int row, int c, const int8_t *w,
                                      int32_t acc)
{
    acc += (int32_t)w[0] * x[0] + (int32_t)w[c] * x[c] + (int32_t)w[2 * c] * x[2 * c];
    x += row;
    acc += (int32_t)w[3 * c] * x[0] + (int32_t)w[4 * c] * x[c] + (int32_t)w[5 * c] * x[2 * c];
    x += row;
    acc += (int32_t)w[6 * c] * x[0] + (int32_t)w[7 * c] * x[c] + (int32_t)w[8 * c] * x[2 * c];
    return acc;
}

/*
 * 3x3, depth multiplier 1, no dilation, any stride and padding: the nine taps unrolled, at
 * offsets that are constants of the layer. Scratch: 9 * channels bytes for border windows.
 */
TINYRT_KERNEL void dwconv_s8_3x3(const int8_t *input, const int8_t *weights,
                                 const int32_t *bias, int8_t *output, int8_t *scratch,
                                 int batches, int in_h, int in_w, int channels, int out_h,
                                 int out_w, int stride_h, int stride_w, int pad_h, int pad_w,
                                 int oy_lo, int oy_hi, int ox_lo, int ox_hi, int32_t in_zp,
                                 const int32_t *multiplier, const int32_t *shift, int32_t out_zp,
                                 int32_t act_min, int32_t act_max)
{
    const int c = channels;
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * c;
        for (int oy = 0; oy < out_h; oy++) {
            const int iy0 = oy * stride_h - pad_h;
            const int y_inside = oy >= oy_lo && oy < oy_hi;
            for (int ox = 0; ox < out_w; ox++) {
                const int ix0 = ox * stride_w - pad_w;
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * c;
                if (y_inside && ox >= ox_lo && ox < ox_hi) {
                    const int8_t *x = in_b + (iy0 * in_w + ix0) * c;
                    for (int ch = 0; ch < c; ch++) {
                        const int32_t acc = dwconv_3x3_taps(x + ch, in_w * c, c, weights + ch,
                                                            bias[ch]);
                        out[ch] = dwconv_out_s8(acc, multiplier[ch], shift[ch], out_zp, act_min,
                                                act_max);
                    }
                } else {
                    dwconv_patch_s8(in_b, scratch, in_h, in_w, c, 3, 3, 1, 1, iy0, ix0,
                                    (int8_t)in_zp);
                    for (int ch = 0; ch < c; ch++) {
                        const int32_t acc = dwconv_3x3_taps(scratch + ch, 3 * c, c, weights + ch,
                                                            bias[ch]);
                        out[ch] = dwconv_out_s8(acc, multiplier[ch], shift[ch], out_zp, act_min,
                                                act_max);
                    }
                }
            }
        }
    }
}

#endif /* TINYRT_DWCONV_S8_H */
