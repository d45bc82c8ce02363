/*
 * dwconv_s8_dsp: int8 depthwise 2-D convolution with the Arm DSP extension (TFLite
 * reference_integer_ops::DepthwiseConvPerChannel), depth multiplier 1, no dilation, any kernel
 * size, stride and padding (the generator takes it for k_h * k_w <= 49).
 *
 * input   [batches, in_h, in_w, channels]   int8
 * output  [batches, out_h, out_w, channels] int8, clamped to [act_min, act_max]
 * params  int32 words written by the generator (tinyrt/kernels/dwconv_s8_dsp.py), one stream
 *         read with one pointer. Per group of 4 channels c .. c+3 (DWCONV_S8_DSP_GROUP_WORDS):
 *           bias[4]; per tap (ky * k_w + kx): (w[c], w[c+2]), (w[c+1], w[c+3]) as int16 pairs,
 *           low half first; (rq_mult, rq_add) of each of the 4 channels (one LDRD each);
 *           rq_shift[4].
 *         Then per last channel (channels % 4 of them, DWCONV_S8_DSP_TAIL_WORDS):
 *           bias; w[tap] for each tap; rq_mult; rq_shift; rq_add.
 *         The pairs match SXTB16 / SXTB16-ROR8 of the input word, so each product is one SMLABB
 *         or SMLATT. bias has in_zp folded in (bias - in_zp * sum(w)). mode, rq_*: tr_requant's
 *         (tinyrt_dsp.h), except that in the RIGHT and LEFT modes weights and bias are doubled
 *         and LEFT's rq_shift is one less (see dwconv_dsp_out).
 *
 * Output pixels whose window is inside the input (rows [oy_lo, oy_hi), columns [ox_lo, ox_hi))
 * are read in place; a border window is first copied to `scratch` (k_h * k_w * channels bytes)
 * with in_zp at the padded taps, which then add w * (in_zp - in_zp) = 0 like TFLite's skip.
 * Output must not alias the input.
 */
#ifndef TINYRT_DWCONV_S8_DSP_H
#define TINYRT_DWCONV_S8_DSP_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_dsp.h"

#define DWCONV_S8_DSP_SCRATCH_BYTES(k_h, k_w, channels) ((k_h) * (k_w) * (channels))
/* Words of the parameter stream per group of 4 channels and per last channel. */
#define DWCONV_S8_DSP_GROUP_WORDS(taps) (4 + 2 * (taps) + 12)
#define DWCONV_S8_DSP_TAIL_WORDS(taps) (1 + (taps) + 3)

/* The halves of an int16 pair, written so that gcc fuses `acc + lo(a) * lo(b)` into SMLABB and
 * `acc + hi(a) * hi(b)` into SMLATT (and the host compiler into plain multiplies). */
#define DWDSP_LO(x) ((int32_t)(int16_t)(x))
#define DWDSP_HI(x) ((int32_t)(x) >> 16)

/*
 * Four channels of one tap: a_k += x[k] * w[k] with v = x[0..3] (int8) and the weight pairs
 * we = (w0, w2), wo = (w1, w3). On the target one asm block of six instructions with two
 * temporaries: as C, gcc's scheduler hoists the loads of several taps, runs out of registers
 * and reloads input words (measured: 130 instead of ~108 instructions per 4 channels, 3x3).
 */
TINYRT_KERNEL void dwconv_dsp_mac4(int32_t *a0, int32_t *a1, int32_t *a2, int32_t *a3,
                                   uint32_t v, int32_t we, int32_t wo)
{
#if defined(TINYRT_ACLE_PORTABLE)
    const uint32_t even = TR_SXTB16_EVEN(v), odd = TR_SXTB16_ODD(v);
    *a0 += DWDSP_LO(even) * DWDSP_LO(we);
    *a2 += DWDSP_HI(even) * DWDSP_HI(we);
    *a1 += DWDSP_LO(odd) * DWDSP_LO(wo);
    *a3 += DWDSP_HI(odd) * DWDSP_HI(wo);
#else
    uint32_t e;
    __asm__("sxtb16 %[e], %[v]\n\t"
            "sxtb16 %[v], %[v], ror #8\n\t"
            "smlabb %[a0], %[e], %[we], %[a0]\n\t"
            "smlatt %[a2], %[e], %[we], %[a2]\n\t"
            "smlabb %[a1], %[v], %[wo], %[a1]\n\t"
            "smlatt %[a3], %[v], %[wo], %[a3]"
            : [a0] "+r"(*a0), [a1] "+r"(*a1), [a2] "+r"(*a2), [a3] "+r"(*a3), [v] "+r"(v),
              [e] "=&r"(e)
            : [we] "r"(we), [wo] "r"(wo));
#endif
}

/*
 * tr_requant on an accumulator the generator has doubled (weights and bias times 2) in the
 * RIGHT and LEFT modes, which saves the doubling per output: RIGHT takes SMMULR(acc, mult)
 * directly, LEFT shifts by one less (rq_shift is TFLite's shift there). EXACT is not doubled.
 */
TINYRT_KERNEL int8_t dwconv_dsp_out(int mode, int32_t acc, int32_t mult, int32_t shift,
                                    int32_t add, int32_t act_min, int32_t act_max)
{
    return tr_clamp_s8(tr_requant_doubled(mode, acc, mult, shift, add), act_min, act_max);
}

/* Copy the window at input origin (iy0, ix0) into patch [k_h, k_w, channels]; taps outside
 * the input get in_zp. */
TINYRT_KERNEL void dwconv_dsp_patch(const int8_t *in_b, int8_t *patch, int in_h, int in_w,
                                    int channels, int k_h, int k_w, int iy0, int ix0,
                                    int8_t in_zp)
{
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = iy0 + ky;
        for (int kx = 0; kx < k_w; kx++) {
            const int ix = ix0 + kx;
            int8_t *dst = patch + (ky * k_w + kx) * channels;
            if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
                memset(dst, in_zp, (size_t)channels);
            } else {
                memcpy(dst, in_b + (iy * in_w + ix) * channels, (size_t)channels);
            }
        }
    }
}

/*
 * One output pixel. `x` is the window's tap (0, 0), channel 0; tap (ky, kx) is at
 * x + ky * row + kx * col. Per tap and 4 channels: one LDR of input, one LDRD of weights, two
 * SXTB16 and four SMLAxy; the taps are unrolled (k_h, k_w, row, col are literals once inlined).
 * `p` walks the parameter stream, so one pointer serves weights, bias and requantisation.
 */
TINYRT_KERNEL void dwconv_dsp_pixel(const int8_t *x, int row, int col, const int32_t *p,
                                    int8_t *out, int channels, int k_h, int k_w, int mode,
                                    int32_t act_min, int32_t act_max)
{
    const int taps = k_h * k_w;
    for (int c = 0; c + 4 <= channels; c += 4) {
        int32_t a0 = p[0], a1 = p[1], a2 = p[2], a3 = p[3];
        const int32_t *w = p + 4;
#pragma GCC unroll 7
        for (int ky = 0; ky < k_h; ky++) {
#pragma GCC unroll 7
            for (int kx = 0; kx < k_w; kx++) {
                dwconv_dsp_mac4(&a0, &a1, &a2, &a3, tr_read_u32(x + ky * row + kx * col + c),
                                w[2 * (ky * k_w + kx)], w[2 * (ky * k_w + kx) + 1]);
            }
        }
        const int32_t *q = w + 2 * taps;
        out[c] = dwconv_dsp_out(mode, a0, q[0], q[8], q[1], act_min, act_max);
        out[c + 1] = dwconv_dsp_out(mode, a1, q[2], q[9], q[3], act_min, act_max);
        out[c + 2] = dwconv_dsp_out(mode, a2, q[4], q[10], q[5], act_min, act_max);
        out[c + 3] = dwconv_dsp_out(mode, a3, q[6], q[11], q[7], act_min, act_max);
        p += DWCONV_S8_DSP_GROUP_WORDS(taps);
    }
    /* The last channels % 4 channels, one at a time. */
    for (int c = channels & ~3; c < channels; c++) {
        int32_t acc = p[0];
        for (int ky = 0; ky < k_h; ky++) {
            for (int kx = 0; kx < k_w; kx++) {
                acc += (int32_t)x[ky * row + kx * col + c] * p[1 + ky * k_w + kx];
            }
        }
        const int32_t *q = p + 1 + taps;
        out[c] = dwconv_dsp_out(mode, acc, q[0], q[1], q[2], act_min, act_max);
        p += DWCONV_S8_DSP_TAIL_WORDS(taps);
    }
}

TINYRT_KERNEL void dwconv_s8_dsp(const int8_t *input, const int32_t *params, int8_t *output,
                                 int8_t *scratch, int batches, int in_h, int in_w, int channels,
                                 int k_h, int k_w,
                                 int out_h, int out_w, int stride_h, int stride_w, int pad_h,
                                 int pad_w, int oy_lo, int oy_hi, int ox_lo, int ox_hi,
                                 int32_t in_zp, int mode, int32_t act_min, int32_t act_max)
{
    const int c = channels;
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * c;
        for (int oy = 0; oy < out_h; oy++) {
            const int iy0 = oy * stride_h - pad_h;
            const int y_inside = oy >= oy_lo && oy < oy_hi;
            int8_t *out_row = output + (b * out_h + oy) * out_w * c;
            for (int ox = 0; ox < out_w; ox++) {
                const int ix0 = ox * stride_w - pad_w;
                if (y_inside && ox >= ox_lo && ox < ox_hi) {
                    dwconv_dsp_pixel(in_b + (iy0 * in_w + ix0) * c, in_w * c, c,
                                     params, out_row + ox * c, c, k_h, k_w, mode, act_min,
                                     act_max);
                } else {
                    dwconv_dsp_patch(in_b, scratch, in_h, in_w, c, k_h, k_w, iy0, ix0,
                                     (int8_t)in_zp);
                    dwconv_dsp_pixel(scratch, k_w * c, c, params, out_row + ox * c, c, k_h,
                                     k_w, mode, act_min, act_max);
                }
            }
        }
    }
}

#endif /* TINYRT_DWCONV_S8_DSP_H */
