/*
 * avgpool2d_f32 / maxpool2d_f32: float pooling (TFLite reference_ops::AveragePool / MaxPool).
 *
 * input  [n, h, w, c] float; output [n, out_h, out_w, c] float, clamped to [act_min, act_max].
 * The window is clipped to the input; the average divides the sum of the valid elements by
 * their count (in float). No scratch. Output must not alias the input.
 */
#ifndef TINYRT_POOL2D_F32_H
#define TINYRT_POOL2D_F32_H

#include <float.h>
#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void pool2d_f32(const float *input, float *output, int n, int h, int w, int c,
                              int out_h, int out_w, int fh, int fw, int sh, int sw, int pad_h,
                              int pad_w, float act_min, float act_max, int is_max)
{
    for (int b = 0; b < n; b++) {
        for (int oy = 0; oy < out_h; oy++) {
            const int y0 = oy * sh - pad_h;
            const int ky0 = TR_MAX(0, -y0), ky1 = TR_MIN(fh, h - y0);
            for (int ox = 0; ox < out_w; ox++) {
                const int x0 = ox * sw - pad_w;
                const int kx0 = TR_MAX(0, -x0), kx1 = TR_MIN(fw, w - x0);
                for (int ch = 0; ch < c; ch++) {
                    float acc = is_max ? -FLT_MAX : 0.0f;
                    int count = 0;
                    for (int ky = ky0; ky < ky1; ky++) {
                        for (int kx = kx0; kx < kx1; kx++) {
                            const float v = input[((b * h + y0 + ky) * w + x0 + kx) * c + ch];
                            acc = is_max ? TR_MAX(acc, v) : acc + v;
                            count++;
                        }
                    }
                    const float result = is_max ? acc : acc / (float)count;
                    output[((b * out_h + oy) * out_w + ox) * c + ch] =
                        TR_CLAMP(result, act_min, act_max);
                }
            }
        }
    }
}

TINYRT_KERNEL void avgpool2d_f32(const float *input, float *output, int n, int h, int w, int c,
                                 int out_h, int out_w, int fh, int fw, int sh, int sw, int pad_h,
                                 int pad_w, float act_min, float act_max)
{
    pool2d_f32(input, output, n, h, w, c, out_h, out_w, fh, fw, sh, sw, pad_h, pad_w, act_min,
               act_max, 0);
}

TINYRT_KERNEL void maxpool2d_f32(const float *input, float *output, int n, int h, int w, int c,
                                 int out_h, int out_w, int fh, int fw, int sh, int sw, int pad_h,
                                 int pad_w, float act_min, float act_max)
{
    pool2d_f32(input, output, n, h, w, c, out_h, out_w, fh, fw, sh, sw, pad_h, pad_w, act_min,
               act_max, 1);
}

#endif /* TINYRT_POOL2D_F32_H */
