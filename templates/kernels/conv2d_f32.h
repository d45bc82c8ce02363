/*
 * conv2d_f32: float convolution (TFLite reference_ops::Conv, float), FP32 compute.
 *
 * input   [batches, in_h, in_w, in_c]   float
 * weights [out_c, k_h, k_w, f_c]        float, or fp16 bits when w16 != 0 (f_c = in_c / groups)
 * bias    [out_c]                       float, or fp16 bits when b16 != 0; null: no bias
 * output  [batches, out_h, out_w, out_c] float, clamped to [act_min, act_max]
 * s8 I/O (in_s8 / out_s8 != 0, mixed int8/FP16 models): the input is int8 read as
 * in_scale * (q - in_zp), the output is written as int8, AffineQuantize(y, out_scale, out_zp):
 * the DEQUANTIZE / QUANTIZE around the layer, fused, bit for bit (tinyrt_math.h).
 * Every output sums in TFLite's order (ky, kx, channel) from 0.0f, then adds the bias; taps
 * outside the input are skipped (zero padding). Output must not alias the input.
 * Three loop orders, chosen by the literal flags (the other branches compile away):
 *   - float input, fp16 weights: filter-major. Each filter (and its bias) is converted once per
 *     layer into scratch ([k_h, k_w, f_c] floats), then swept over every output pixel, so a
 *     weight costs one VCVTB per layer instead of one per output pixel.
 *   - int8 input: pixel-major. Each input value is read by every output channel, so the
 *     receptive field is dequantised once per output pixel into scratch ([k_h, k_w, in_c]
 *     floats); fp16 weights are converted at each read.
 *   - float input, float weights: pixel-major, no scratch.
 * The same float operations in the same order in every case: the results are identical.
 */
#ifndef TINYRT_CONV2D_F32_H
#define TINYRT_CONV2D_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

#define CONV2D_F32_SCRATCH_BYTES(in_s8, w16, k_h, k_w, in_c, f_c) \
    ((in_s8) ? 4 * (k_h) * (k_w) * (in_c) : (w16) ? 4 * (k_h) * (k_w) * (f_c) : 0)

/* The taps k in [*lo, *hi) whose input row (column) start + k * dil lies in [0, size): computed
 * once per output pixel, so the tap loops run without bounds checks. */
TINYRT_KERNEL void conv2d_f32_taps(int start, int dil, int size, int k, int *lo, int *hi)
{
    const int first = start < 0 ? (-start + dil - 1) / dil : 0;
    const int end = (size - start + dil - 1) / dil;
    *lo = TR_MIN(first, k);
    *hi = TR_MAX(TR_MIN(end, k), *lo);
}

/* sum over the taps inside the input of x . w (w: [k_h, k_w, f_c] floats), TFLite's order. */
TINYRT_KERNEL float conv2d_f32_dot(const float *in, const float *w, int in_h, int in_w,
                                   int in_c, int k_h, int k_w, int f_c, int y0, int x0,
                                   int dil_h, int dil_w)
{
    int ky0, ky1, kx0, kx1;
    conv2d_f32_taps(y0, dil_h, in_h, k_h, &ky0, &ky1);
    conv2d_f32_taps(x0, dil_w, in_w, k_w, &kx0, &kx1);
    float total = 0.0f;
    for (int ky = ky0; ky < ky1; ky++) {
        for (int kx = kx0; kx < kx1; kx++) {
            const float *x = in + ((y0 + ky * dil_h) * in_w + x0 + kx * dil_w) * in_c;
            const float *wk = w + (ky * k_w + kx) * f_c;
            for (int c = 0; c < f_c; c++) {
                total += x[c] * wk[c];
            }
        }
    }
    return total;
}

/* Float input, fp16 weights: one filter converted into scratch at a time. */
TINYRT_KERNEL void conv2d_f32_filter_major(const float *input, const uint16_t *weights,
                                           const void *bias, int b16, void *output, int out_s8,
                                           float out_scale, int32_t out_zp, float *scratch,
                                           int batches, int in_h, int in_w, int in_c, int k_h,
                                           int k_w, int f_c, int out_h, int out_w, int out_c,
                                           int stride_h, int stride_w, int dil_h, int dil_w,
                                           int pad_h, int pad_w, float act_min, float act_max)
{
    const int per_group = out_c / (in_c / f_c), taps = k_h * k_w * f_c;
    for (int oc = 0; oc < out_c; oc++) {
        for (int i = 0; i < taps; i++) {
            scratch[i] = tr_half_to_float(weights[oc * taps + i]);
        }
        const float bias_value = bias ? tr_load_f(bias, b16, oc) : 0.0f;
        const float *in = input + (oc / per_group) * f_c;
        for (int b = 0; b < batches; b++) {
            for (int oy = 0; oy < out_h; oy++) {
                for (int ox = 0; ox < out_w; ox++) {
                    const float total = conv2d_f32_dot(
                        in + b * in_h * in_w * in_c, scratch, in_h, in_w, in_c, k_h, k_w, f_c,
                        oy * stride_h - pad_h, ox * stride_w - pad_w, dil_h, dil_w);
                    tr_store_act(output, out_s8, out_scale, out_zp,
                                 ((b * out_h + oy) * out_w + ox) * out_c + oc,
                                 TR_CLAMP(total + bias_value, act_min, act_max));
                }
            }
        }
    }
}

/* The receptive field of output pixel (oy, ox) of an int8 input, dequantised into scratch. */
TINYRT_KERNEL void conv2d_f32_dequantise_field(const int8_t *input, float in_scale,
                                               int32_t in_zp, float *scratch, int in_h, int in_w,
                                               int in_c, int k_h, int k_w, int y0, int x0,
                                               int dil_h, int dil_w)
{
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = y0 + ky * dil_h;
        for (int kx = 0; iy >= 0 && iy < in_h && kx < k_w; kx++) {
            const int ix = x0 + kx * dil_w;
            for (int c = 0; ix >= 0 && ix < in_w && c < in_c; c++) {
                scratch[(ky * k_w + kx) * in_c + c] =
                    tr_load_act(input, 1, in_scale, in_zp, (iy * in_w + ix) * in_c + c);
            }
        }
    }
}

TINYRT_KERNEL void conv2d_f32(const void *input, int in_s8, float in_scale, int32_t in_zp,
                              const void *weights, int w16, const void *bias, int b16,
                              void *output, int out_s8, float out_scale, int32_t out_zp,
                              float *scratch, int batches, int in_h, int in_w, int in_c,
                              int k_h, int k_w, int f_c, int out_h, int out_w, int out_c,
                              int stride_h, int stride_w, int dil_h, int dil_w, int pad_h,
                              int pad_w, float act_min, float act_max)
{
    if (w16 && !in_s8) {
        conv2d_f32_filter_major((const float *)input, (const uint16_t *)weights, bias, b16,
                                output, out_s8, out_scale, out_zp, scratch, batches, in_h, in_w,
                                in_c, k_h, k_w, f_c, out_h, out_w, out_c, stride_h, stride_w,
                                dil_h, dil_w, pad_h, pad_w, act_min, act_max);
        return;
    }
    const int per_group = out_c / (in_c / f_c), taps = k_h * k_w * f_c;
    for (int b = 0; b < batches; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            for (int ox = 0; ox < out_w; ox++) {
                const int out0 = ((b * out_h + oy) * out_w + ox) * out_c;
                const int y0 = oy * stride_h - pad_h, x0 = ox * stride_w - pad_w;
                if (in_s8) {
                    conv2d_f32_dequantise_field((const int8_t *)input + b * in_h * in_w * in_c,
                                                in_scale, in_zp, scratch, in_h, in_w, in_c, k_h,
                                                k_w, y0, x0, dil_h, dil_w);
                }
                for (int oc = 0; oc < out_c; oc++) {
                    const int first = (oc / per_group) * f_c;
                    float total = 0.0f;
                    for (int ky = 0; ky < k_h; ky++) {
                        const int iy = y0 + ky * dil_h;
                        if (iy < 0 || iy >= in_h) {
                            continue;
                        }
                        for (int kx = 0; kx < k_w; kx++) {
                            const int ix = x0 + kx * dil_w;
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            const float *x = in_s8
                                ? scratch + (ky * k_w + kx) * in_c + first
                                : (const float *)input + ((b * in_h + iy) * in_w + ix) * in_c + first;
                            const int w0 = oc * taps + (ky * k_w + kx) * f_c;
                            for (int c = 0; c < f_c; c++) {
                                total += x[c] * tr_load_f(weights, w16, w0 + c);
                            }
                        }
                    }
                    const float bias_value = bias ? tr_load_f(bias, b16, oc) : 0.0f;
                    tr_store_act(output, out_s8, out_scale, out_zp, out0 + oc,
                                 TR_CLAMP(total + bias_value, act_min, act_max));
                }
            }
        }
    }
}

#endif /* TINYRT_CONV2D_F32_H */
