/*
 * pool2d_s8: int8 average and max pooling (TFLite reference_integer_ops::AveragePool / MaxPool).
 *
 * input  [batches, in_h, in_w, depth]   int8
 * output [batches, out_h, out_w, depth] int8, same scale and zero point as the input (the raw
 *        values are pooled, no requantisation), clamped to [act_min, act_max]
 * pad_h, pad_w: the top/left padding (TFLite's ComputePaddingHeightWidth); padded positions are
 * left out of the window, so an average divides by the number of valid elements only.
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_POOL2D_S8_H
#define TINYRT_POOL2D_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

/* The window of output position `out` along one axis, clamped to the input: [*start, *end). */
TINYRT_KERNEL void pool2d_window(int out, int stride, int pad, int filter, int in_size,
                                 int *origin, int *start, int *end)
{
    *origin = out * stride - pad;
    *start = TR_MAX(0, -*origin);
    *end = TR_MIN(filter, in_size - *origin);
}

TINYRT_KERNEL void avgpool2d_s8(const int8_t *input, int8_t *output, int batches, int in_h,
                                int in_w, int depth, int out_h, int out_w, int filter_h,
                                int filter_w, int stride_h, int stride_w, int pad_h, int pad_w,
                                int32_t act_min, int32_t act_max)
{
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * depth;
        for (int oy = 0; oy < out_h; oy++) {
            int y0, fy_start, fy_end;
            pool2d_window(oy, stride_h, pad_h, filter_h, in_h, &y0, &fy_start, &fy_end);
            for (int ox = 0; ox < out_w; ox++) {
                int x0, fx_start, fx_end;
                pool2d_window(ox, stride_w, pad_w, filter_w, in_w, &x0, &fx_start, &fx_end);
                const int32_t count = (fy_end - fy_start) * (fx_end - fx_start);
                for (int c = 0; c < depth; c++) {
                    int32_t acc = 0;
                    for (int fy = fy_start; fy < fy_end; fy++) {
                        const int row = (y0 + fy) * in_w + x0;
                        for (int fx = fx_start; fx < fx_end; fx++) {
                            acc += in_b[(row + fx) * depth + c];
                        }
                    }
                    /* Round half away from zero; C division truncates like C++'s. */
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    *output++ = (int8_t)TR_CLAMP(acc, act_min, act_max);
                }
            }
        }
    }
}

TINYRT_KERNEL void maxpool2d_s8(const int8_t *input, int8_t *output, int batches, int in_h,
                                int in_w, int depth, int out_h, int out_w, int filter_h,
                                int filter_w, int stride_h, int stride_w, int pad_h, int pad_w,
                                int32_t act_min, int32_t act_max)
{
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * depth;
        for (int oy = 0; oy < out_h; oy++) {
            int y0, fy_start, fy_end;
            pool2d_window(oy, stride_h, pad_h, filter_h, in_h, &y0, &fy_start, &fy_end);
            for (int ox = 0; ox < out_w; ox++) {
                int x0, fx_start, fx_end;
                pool2d_window(ox, stride_w, pad_w, filter_w, in_w, &x0, &fx_start, &fx_end);
                for (int c = 0; c < depth; c++) {
                    int32_t max = -128;
                    for (int fy = fy_start; fy < fy_end; fy++) {
                        const int row = (y0 + fy) * in_w + x0;
                        for (int fx = fx_start; fx < fx_end; fx++) {
                            max = TR_MAX(max, (int32_t)in_b[(row + fx) * depth + c]);
                        }
                    }
                    *output++ = (int8_t)TR_CLAMP(max, act_min, act_max);
                }
            }
        }
    }
}

#endif /* TINYRT_POOL2D_S8_H */
