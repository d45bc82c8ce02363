/*
 * dwconv_f32: float depthwise convolution (TFLite reference_ops::DepthwiseConv, float).
 *
 * input   [batches, in_h, in_w, in_c]          float
 * weights [1, k_h, k_w, in_c * mult]           float, or fp16 bits when w16 != 0
 * bias    [in_c * mult]                        float, or fp16 bits when b16 != 0; null: no bias
 * output  [batches, out_h, out_w, in_c * mult] float, clamped to [act_min, act_max]
 * s8 I/O (in_s8 / out_s8 != 0, mixed int8/FP16 models): the input is int8 read as
 * in_scale * (q - in_zp), the output is written as int8, AffineQuantize(y, out_scale, out_zp):
 * the DEQUANTIZE / QUANTIZE around the layer, fused, bit for bit (tinyrt_math.h).
 * Output channel ic * mult + m reads input channel ic. Taps outside the input are skipped;
 * sums in TFLite's order (ky, kx) from 0.0f, then adds the bias. Output must not alias input.
 * fp16 weights (w16 != 0): the output channels are taken in blocks of `block` (chosen at
 * generation time to keep the scratch small); a block's weights and biases are converted once
 * per layer into scratch ([k_h * k_w + 1, block] floats: the taps, then the biases) and swept
 * over every output pixel, so a weight costs one VCVTB per layer instead of one per output
 * pixel. The same float operations in the same order: the results are those of the per-read
 * conversion. Float weights: no scratch (block and scratch unused).
 */
#ifndef TINYRT_DWCONV_F32_H
#define TINYRT_DWCONV_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

#define DWCONV_F32_SCRATCH_BYTES(w16, k_h, k_w, block) \
    ((w16) ? 4 * ((k_h) * (k_w) + 1) * (block) : 0)

/* The taps k in [*lo, *hi) whose input row (column) start + k * dil lies in [0, size): computed
 * once per output pixel, so the tap loops run without bounds checks. */
TINYRT_KERNEL void dwconv_f32_taps(int start, int dil, int size, int k, int *lo, int *hi)
{
    const int first = start < 0 ? (-start + dil - 1) / dil : 0;
    const int end = (size - start + dil - 1) / dil;
    *lo = TR_MIN(first, k);
    *hi = TR_MAX(TR_MIN(end, k), *lo);
}

/* One output value: taps [ky0, ky1) x [kx0, kx1) of input channel ic (in0: its index at tap
 * (0, 0), rows of in_w * in_c), weights w[tap * w_stride], in TFLite's order. */
TINYRT_KERNEL float dwconv_f32_dot(const void *input, int in_s8, float in_scale, int32_t in_zp,
                                   const void *w, int w16, int w_stride, int in0, int in_w,
                                   int in_c, int k_w, int ky0, int ky1, int kx0, int kx1,
                                   int dil_h, int dil_w)
{
    float total = 0.0f;
    for (int ky = ky0; ky < ky1; ky++) {
        for (int kx = kx0; kx < kx1; kx++) {
            total += tr_load_act(input, in_s8, in_scale, in_zp,
                                 in0 + (ky * dil_h * in_w + kx * dil_w) * in_c)
                * tr_load_f(w, w16, (ky * k_w + kx) * w_stride);
        }
    }
    return total;
}

/* Output channels [c0, c0 + n) of every pixel; w / bias index 0 is channel c0. */
TINYRT_KERNEL void dwconv_f32_block(const void *input, int in_s8, float in_scale,
                                    int32_t in_zp, const void *w, int w16, int w_stride,
                                    const void *bias, int b16, void *output, int out_s8,
                                    float out_scale, int32_t out_zp, int c0, int n, int batches,
                                    int in_h, int in_w, int in_c, int k_h, int k_w, int mult,
                                    int out_h, int out_w, int stride_h, int stride_w, int dil_h,
                                    int dil_w, int pad_h, int pad_w, float act_min, float act_max)
{
    const int out_c = in_c * mult;
    for (int b = 0; b < batches; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = oy * stride_h - pad_h;
            int ky0, ky1;
            dwconv_f32_taps(y0, dil_h, in_h, k_h, &ky0, &ky1);
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = ox * stride_w - pad_w, out0 = ((b * out_h + oy) * out_w + ox) * out_c;
                const int in0 = ((b * in_h + y0) * in_w + x0) * in_c;
                int kx0, kx1;
                dwconv_f32_taps(x0, dil_w, in_w, k_w, &kx0, &kx1);
                for (int j = 0; j < n; j++) {
                    const int oc = c0 + j;
                    const float total = dwconv_f32_dot(
                        input, in_s8, in_scale, in_zp, (const char *)w + j * (w16 ? 2 : 4), w16,
                        w_stride, in0 + oc / mult, in_w, in_c, k_w, ky0, ky1, kx0, kx1, dil_h,
                        dil_w);
                    const float bias_value = bias ? tr_load_f(bias, b16, j) : 0.0f;
                    tr_store_act(output, out_s8, out_scale, out_zp, out0 + oc,
                                 TR_CLAMP(total + bias_value, act_min, act_max));
                }
            }
        }
    }
}

TINYRT_KERNEL void dwconv_f32(const void *input, int in_s8, float in_scale, int32_t in_zp,
                              const void *weights, int w16, const void *bias, int b16,
                              void *output, int out_s8, float out_scale, int32_t out_zp,
                              float *scratch, int block, int batches, int in_h, int in_w,
                              int in_c, int k_h, int k_w, int mult, int out_h, int out_w,
                              int stride_h, int stride_w, int dil_h, int dil_w, int pad_h,
                              int pad_w, float act_min, float act_max)
{
    const int out_c = in_c * mult, taps = k_h * k_w;
    if (!w16) {
        dwconv_f32_block(input, in_s8, in_scale, in_zp, weights, 0, out_c,
                         bias, b16, output, out_s8, out_scale,
                         out_zp, 0, out_c, batches, in_h, in_w, in_c, k_h, k_w, mult, out_h,
                         out_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w, act_min,
                         act_max);
        return;
    }
    for (int c0 = 0; c0 < out_c; c0 += block) {
        const int n = TR_MIN(block, out_c - c0);
        for (int t = 0; t < taps; t++) {
            for (int j = 0; j < n; j++) {
                scratch[t * block + j] = tr_half_to_float(((const uint16_t *)weights)[t * out_c + c0 + j]);
            }
        }
        for (int j = 0; j < n; j++) {
            scratch[taps * block + j] = bias ? tr_load_f(bias, b16, c0 + j) : 0.0f;
        }
        dwconv_f32_block(input, in_s8, in_scale, in_zp, scratch, 0, block, scratch + taps * block,
                         0, output, out_s8, out_scale, out_zp, c0, n, batches, in_h, in_w, in_c,
                         k_h, k_w, mult, out_h, out_w, stride_h, stride_w, dil_h, dil_w, pad_h,
                         pad_w, act_min, act_max);
    }
}

#endif /* TINYRT_DWCONV_F32_H */
