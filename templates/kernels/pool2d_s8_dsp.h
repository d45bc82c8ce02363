/*
 * pool2d_s8_dsp: int8 average and max pooling with the Arm DSP extension (TFLite
 * reference_integer_ops::AveragePool / MaxPool).
 *
 * input  [batches, in_h, in_w, depth]   int8
 * output [batches, out_h, out_w, depth] int8, same scale and zero point as the input (raw values
 *        are pooled), clamped to [act_min, act_max]
 * pad_h, pad_w: the top/left padding; padded positions are left out of the window and of the
 * count the sum is divided by (rounding half away from zero, as TFLite).
 * Four channels per input word: SXTAB16 and SXTAB16-ROR8 add them into two int16 pairs, exact
 * because the generator takes this kernel for windows of at most 256 elements
 * (|sum| <= 128 * 256 = 2^15, and -2^15 is the only sum reaching it). A window inside the input
 * has literal bounds, so the division by its count is a multiply by a constant.
 * Max pooling: a per-byte signed max of 4 channels per word (SSUB8 sets the GE flag of each byte
 * where a >= b, SEL picks those bytes of a): 3 instructions per tap and 4 channels, any window.
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_POOL2D_S8_DSP_H
#define TINYRT_POOL2D_S8_DSP_H

#include <stdint.h>

#include "../tinyrt_dsp.h"

/* TFLite's rounding division of a window sum by the number of valid elements. */
TINYRT_KERNEL int8_t pool_dsp_avg(int32_t sum, int32_t count, int32_t act_min, int32_t act_max)
{
    const int32_t avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
    return (int8_t)TR_CLAMP(avg, act_min, act_max);
}

/* One output pixel: x at the first valid tap, channel 0; rows of the window `row` bytes apart;
 * fh x fw valid taps. */
TINYRT_KERNEL void pool_dsp_avg_pixel(const int8_t *x, int row, int depth, int fh, int fw,
                                      int8_t *out, int32_t act_min, int32_t act_max)
{
    const int32_t count = fh * fw;
    int c = 0;
    for (; c + 4 <= depth; c += 4) {
        uint32_t even = 0, odd = 0;
        for (int fy = 0; fy < fh; fy++) {
            const int8_t *p = x + fy * row + c;
#pragma GCC unroll 8
            for (int fx = 0; fx < fw; fx++) {
                const uint32_t v = tr_read_u32(p + fx * depth);
                even = __sxtab16(even, v);
                odd = tr_sxtab16_ror8(odd, v);
            }
        }
        out[c] = pool_dsp_avg((int16_t)even, count, act_min, act_max);
        out[c + 1] = pool_dsp_avg((int16_t)odd, count, act_min, act_max);
        out[c + 2] = pool_dsp_avg((int32_t)even >> 16, count, act_min, act_max);
        out[c + 3] = pool_dsp_avg((int32_t)odd >> 16, count, act_min, act_max);
    }
    for (; c < depth; c++) {
        int32_t sum = 0;
        for (int fy = 0; fy < fh; fy++) {
            for (int fx = 0; fx < fw; fx++) {
                sum += x[fy * row + fx * depth + c];
            }
        }
        out[c] = pool_dsp_avg(sum, count, act_min, act_max);
    }
}


/* Per-byte signed max / min of 4 int8 lanes: SSUB8 + SEL on the target (one asm block, so
 * nothing can come between the GE flags and their use), per byte in C on the host. */
TINYRT_KERNEL uint32_t pool_dsp_sel(uint32_t a, uint32_t b, int want_max)
{
#if defined(TINYRT_ACLE_PORTABLE)
    uint32_t r = 0;
    for (int i = 0; i < 32; i += 8) {
        const int8_t x = (int8_t)(a >> i), y = (int8_t)(b >> i);
        const int8_t m = (x >= y) == (want_max != 0) ? x : y;
        r |= (uint32_t)(uint8_t)m << i;
    }
    return r;
#else
    uint32_t r;
    if (want_max) {
        __asm__("ssub8 %[r], %[a], %[b]\n\tsel %[r], %[a], %[b]"
                : [r] "=&r"(r) : [a] "r"(a), [b] "r"(b) : "cc");
    } else {
        __asm__("ssub8 %[r], %[a], %[b]\n\tsel %[r], %[b], %[a]"
                : [r] "=&r"(r) : [a] "r"(a), [b] "r"(b) : "cc");
    }
    return r;
#endif
}

/* One max-pool output pixel: x at the first valid tap, channel 0; fh x fw valid taps. Words of
 * 4 channels first, then the last depth % 4 channels one at a time. */
TINYRT_KERNEL void pool_dsp_max_pixel(const int8_t *x, int row, int depth, int fh, int fw,
                                      int8_t *out, int32_t act_min, int32_t act_max)
{
    const uint32_t lo = 0x01010101u * (uint8_t)act_min, hi = 0x01010101u * (uint8_t)act_max;
    int c = 0;
    for (; c + 4 <= depth; c += 4) {
        uint32_t m = 0x80808080u;   /* -128 in every lane, TFLite's initial value */
        for (int fy = 0; fy < fh; fy++) {
            const int8_t *p = x + fy * row + c;
#pragma GCC unroll 8
            for (int fx = 0; fx < fw; fx++) {
                m = pool_dsp_sel(m, tr_read_u32(p + fx * depth), 1);
            }
        }
        if (act_min > -128) {
            m = pool_dsp_sel(m, lo, 1);
        }
        if (act_max < 127) {
            m = pool_dsp_sel(m, hi, 0);
        }
        tr_write_u32(out + c, m);
    }
    for (; c < depth; c++) {
        int32_t m = -128;
        for (int fy = 0; fy < fh; fy++) {
            for (int fx = 0; fx < fw; fx++) {
                m = TR_MAX(m, (int32_t)x[fy * row + fx * depth + c]);
            }
        }
        out[c] = (int8_t)TR_CLAMP(m, act_min, act_max);
    }
}

TINYRT_KERNEL void pool_dsp_pixel(const int8_t *x, int row, int depth, int fh, int fw,
                                  int8_t *out, int32_t act_min, int32_t act_max, int is_max)
{
    if (is_max) {
        pool_dsp_max_pixel(x, row, depth, fh, fw, out, act_min, act_max);
    } else {
        pool_dsp_avg_pixel(x, row, depth, fh, fw, out, act_min, act_max);
    }
}

/* Every output pixel of a pooling layer: a window inside the input takes the literal filter
 * size (so its loops unroll), a border window the clipped one. `is_max` is a literal. */
TINYRT_KERNEL void pool2d_s8_dsp(const int8_t *input, int8_t *output, int batches, int in_h,
                                 int in_w, int depth, int out_h, int out_w, int filter_h,
                                 int filter_w, int stride_h, int stride_w, int pad_h, int pad_w,
                                 int32_t act_min, int32_t act_max, int is_max)
{
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
                if (fy1 - fy0 == filter_h && fx1 - fx0 == filter_w) {
                    pool_dsp_pixel(x, in_w * depth, depth, filter_h, filter_w, out, act_min,
                                   act_max, is_max);
                } else {
                    pool_dsp_pixel(x, in_w * depth, depth, fy1 - fy0, fx1 - fx0, out, act_min,
                                   act_max, is_max);
                }
            }
        }
    }
}

TINYRT_KERNEL void avgpool2d_s8_dsp(const int8_t *input, int8_t *output, int batches, int in_h,
                                    int in_w, int depth, int out_h, int out_w, int filter_h,
                                    int filter_w, int stride_h, int stride_w, int pad_h,
                                    int pad_w, int32_t act_min, int32_t act_max)
{
    pool2d_s8_dsp(input, output, batches, in_h, in_w, depth, out_h, out_w, filter_h, filter_w,
                  stride_h, stride_w, pad_h, pad_w, act_min, act_max, 0);
}

TINYRT_KERNEL void maxpool2d_s8_dsp(const int8_t *input, int8_t *output, int batches, int in_h,
                                    int in_w, int depth, int out_h, int out_w, int filter_h,
                                    int filter_w, int stride_h, int stride_w, int pad_h,
                                    int pad_w, int32_t act_min, int32_t act_max)
{
    pool2d_s8_dsp(input, output, batches, in_h, in_w, depth, out_h, out_w, filter_h, filter_w,
                  stride_h, stride_w, pad_h, pad_w, act_min, act_max, 1);
}

#endif /* TINYRT_POOL2D_S8_DSP_H */
