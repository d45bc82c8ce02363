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
 * sums in TFLite's order (ky, kx), then adds the bias. No scratch. Output must not alias input.
 */
#ifndef TINYRT_DWCONV_F32_H
#define TINYRT_DWCONV_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void dwconv_f32(const void *input, int in_s8, float in_scale, int32_t in_zp,
                              const void *weights, int w16, const void *bias, int b16,
                              void *output, int out_s8, float out_scale, int32_t out_zp,
                              int batches, int in_h, int in_w, int in_c,
                              int k_h, int k_w, int mult, int out_h, int out_w, int stride_h,
                              int stride_w, int dil_h, int dil_w, int pad_h, int pad_w,
                              float act_min, float act_max)
{
    const int out_c = in_c * mult;
    for (int b = 0; b < batches; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            for (int ox = 0; ox < out_w; ox++) {
                const int out0 = ((b * out_h + oy) * out_w + ox) * out_c;
                for (int ic = 0; ic < in_c; ic++) {
                    for (int m = 0; m < mult; m++) {
                        const int oc = ic * mult + m;
                        float total = 0.0f;
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
                                total += tr_load_act(input, in_s8, in_scale, in_zp,
                                                     ((b * in_h + iy) * in_w + ix) * in_c + ic)
                                    * tr_load_f(weights, w16, (ky * k_w + kx) * out_c + oc);
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
}

#endif /* TINYRT_DWCONV_F32_H */
