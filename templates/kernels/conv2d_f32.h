/*
 * conv2d_f32: float convolution (TFLite reference_ops::Conv, float), FP32 compute.
 *
 * input   [batches, in_h, in_w, in_c]   float
 * weights [out_c, k_h, k_w, f_c]        float, or fp16 bits when w16 != 0 (f_c = in_c / groups)
 * bias    [out_c]                       float, or fp16 bits when b16 != 0; null: no bias
 * output  [batches, out_h, out_w, out_c] float, clamped to [act_min, act_max]
 * s8 I/O (in_s8 / out_s8 != 0, mixed int8/FP16 models): the input is int8 read as
 * in_scale * (q - in_zp), the output is written as int8, AffineQuantize(y, out_scale, out_zp):
 * the DEQUANTIZE / QUANTIZE around the layer, fused, bit for bit (tinyrt_math.h). Each input
 * value is read by every output channel, so an int8 input is dequantised once per output pixel
 * into scratch ([k_h, k_w, in_c] floats, the receptive field); a float input needs no scratch.
 * Taps outside the input are skipped (zero padding). Sums in TFLite's order (ky, kx, channel),
 * then adds the bias. Output must not alias the input.
 */
#ifndef TINYRT_CONV2D_F32_H
#define TINYRT_CONV2D_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void conv2d_f32(const void *input, int in_s8, float in_scale, int32_t in_zp,
                              const void *weights, int w16, const void *bias, int b16,
                              void *output, int out_s8, float out_scale, int32_t out_zp,
                              float *scratch, int batches, int in_h, int in_w, int in_c,
                              int k_h, int k_w, int f_c, int out_h, int out_w, int out_c,
                              int stride_h, int stride_w, int dil_h, int dil_w, int pad_h,
                              int pad_w, float act_min, float act_max)
{
    const int per_group = out_c / (in_c / f_c);
    for (int b = 0; b < batches; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            for (int ox = 0; ox < out_w; ox++) {
                const int out0 = ((b * out_h + oy) * out_w + ox) * out_c;
                for (int ky = 0; in_s8 && ky < k_h; ky++) {
                    const int iy = oy * stride_h - pad_h + ky * dil_h;
                    for (int kx = 0; iy >= 0 && iy < in_h && kx < k_w; kx++) {
                        const int ix = ox * stride_w - pad_w + kx * dil_w;
                        for (int c = 0; ix >= 0 && ix < in_w && c < in_c; c++) {
                            scratch[(ky * k_w + kx) * in_c + c] = tr_load_act(
                                input, 1, in_scale, in_zp, ((b * in_h + iy) * in_w + ix) * in_c + c);
                        }
                    }
                }
                for (int oc = 0; oc < out_c; oc++) {
                    const int first = (oc / per_group) * f_c;
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
                            const float *x = in_s8
                                ? scratch + (ky * k_w + kx) * in_c + first
                                : (const float *)input + ((b * in_h + iy) * in_w + ix) * in_c + first;
                            const int w0 = ((oc * k_h + ky) * k_w + kx) * f_c;
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
