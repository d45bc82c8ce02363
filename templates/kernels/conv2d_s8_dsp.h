/*
 * conv2d_s8_dsp: int8 2-D convolution on the Arm DSP extension (Cortex-M4/M7/M33/M55), bit-exact
 * with TFLite's reference_integer_ops::ConvPerChannel. One group (grouped convolutions stay on
 * the portable kernel).
 *
 * input   [batches, in_h, in_w, in_c]   int8, zero point in_zp (folded into the bias)
 * output  [batches, out_h, out_w, out_c] int8, clamped to [act_min, act_max]
 * bias    [2 * oc_pairs] int32, folded: bias - in_zp * sum(weights[o]); padded with a zero
 * rq_*    [2 * oc_pairs] requantisation constants of tr_requant(`mode`, ...) (tinyrt_dsp.h)
 * wpack   [oc_pairs][pairs] words, re-laid out by tinyrt/kernels/conv2d_s8_dsp.py: the window
 *         depth d = (ky, kx, c) is padded with zero weights to depth4 = 4 * ceil(depth / 4) and
 *         cut into groups of 4 bytes; group g gives channel pairs 2g = (4g, 4g+2) and
 *         2g+1 = (4g+1, 4g+3), the pairing of SXTB16 / SXTB16 ROR 8. The word of output
 *         channels (o, o+1) at pair k is [w[o][a], w[o+1][a], w[o][b], w[o+1][b]] for pair
 *         k = (a, b): SXTB16 gives o's int16 pair, SXTB16(ROR 8) gives o+1's. An odd last
 *         channel is paired with zero weights and never stored.
 *
 * The inner loop is a 2 output channel x 4 pixel register block: per channel pair 1 LDR + 2
 * SXTB16 for the weights, 4 LDR of int16 input pairs, 8 SMLAD (16 MACs), 8 accumulators.
 * The 4 pixels' windows are expanded once to int16 pairs in scratch, interleaved by pixel
 * (word [k][j] = pair k of pixel j), and reused by every output channel.
 *
 * scratch (4-aligned), CONV2D_S8_DSP_SCRATCH_BYTES(depth, out_c):
 *   x16  [pairs][4] words     = 8 * depth4 bytes
 *   tail [4][out_c] bytes     the outputs of a last block of fewer than 4 pixels, copied out
 *   col  [depth4] bytes       one window as int8 (general kernel when in_c % 4 != 0)
 * Output must not alias the input.
 */
#ifndef TINYRT_CONV2D_S8_DSP_H
#define TINYRT_CONV2D_S8_DSP_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_dsp.h"
#include "conv2d_s8.h"   /* conv_im2col_s8: the portable kernels' window copy */

#define CONV2D_S8_DSP_DEPTH4(depth) (((depth) + 3) / 4 * 4)
#define CONV2D_S8_DSP_SCRATCH_BYTES(depth, out_c) \
    (9 * CONV2D_S8_DSP_DEPTH4(depth) + ((4 * (out_c) + 3) / 4 * 4))
#define CONV2D_S8_DSP_ROW_HEAD 8

/* One channel pair of the 2 x 4 block: 13 instructions, 16 MACs. */
#define CONV_DSP_PAIR_ASM \
    "ldr %[v], [%[w]], #4\n\t" \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t" \
    "sxtb16 %[we], %[v]\n\t" \
    "sxtb16 %[v], %[v], ror #8\n\t" \
    "smlad %[a0], %[we], %[xa], %[a0]\n\t" \
    "smlad %[b0], %[v], %[xa], %[b0]\n\t" \
    "smlad %[a1], %[we], %[xb], %[a1]\n\t" \
    "smlad %[b1], %[v], %[xb], %[b1]\n\t" \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t" \
    "smlad %[a2], %[we], %[xa], %[a2]\n\t" \
    "smlad %[b2], %[v], %[xa], %[b2]\n\t" \
    "smlad %[a3], %[we], %[xb], %[a3]\n\t" \
    "smlad %[b3], %[v], %[xb], %[b3]\n\t"

/* acc[0..3] (channel o, pixels 0..3) and acc[4..7] (channel o+1) += the `pairs` (even) int16
 * channel pairs of w (one word per pair) times x16 ([pairs][4] words). */
TINYRT_KERNEL void conv_dsp_mac_2x4(const uint32_t *w, const uint32_t *x, int pairs,
                                    int32_t acc[8])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t b0 = acc[4], b1 = acc[5], b2 = acc[6], b3 = acc[7];
    const uint32_t *end = w + pairs;
#if defined(TINYRT_ACLE_PORTABLE)
    do {
        const uint32_t v = *w++;
        const uint32_t we = __sxtb16(v), wo = TR_SXTB16_ODD(v);
        a0 = __smlad(we, x[0], a0);
        b0 = __smlad(wo, x[0], b0);
        a1 = __smlad(we, x[1], a1);
        b1 = __smlad(wo, x[1], b1);
        a2 = __smlad(we, x[2], a2);
        b2 = __smlad(wo, x[2], b2);
        a3 = __smlad(we, x[3], a3);
        b3 = __smlad(wo, x[3], b3);
        x += 4;
    } while (w != end);
#else
    /* In assembly because gcc runs out of registers here (spills inside the loop): 8
     * accumulators, 2 pointers and 4 temporaries fill the 14; the loop end is reloaded from
     * the stack once per trip of 2 or 4 channel pairs. */
    uint32_t v, we, xa, xb;
    if (pairs % 4 == 0) {
        __asm__ volatile("1:\n\t" CONV_DSP_PAIR_ASM CONV_DSP_PAIR_ASM CONV_DSP_PAIR_ASM
                         CONV_DSP_PAIR_ASM
                         "ldr %[v], %[end]\n\t"
                         "cmp %[w], %[v]\n\t"
                         "bne 1b\n\t"
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                           [b0] "+r"(b0), [b1] "+r"(b1), [b2] "+r"(b2), [b3] "+r"(b3),
                           [w] "+r"(w), [x] "+r"(x), [v] "=&r"(v), [we] "=&r"(we),
                           [xa] "=&r"(xa), [xb] "=&r"(xb)
                         : [end] "m"(end)
                         : "cc", "memory");
    } else {
        __asm__ volatile("1:\n\t" CONV_DSP_PAIR_ASM CONV_DSP_PAIR_ASM
                         "ldr %[v], %[end]\n\t"
                         "cmp %[w], %[v]\n\t"
                         "bne 1b\n\t"
                         : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                           [b0] "+r"(b0), [b1] "+r"(b1), [b2] "+r"(b2), [b3] "+r"(b3),
                           [w] "+r"(w), [x] "+r"(x), [v] "=&r"(v), [we] "=&r"(we),
                           [xa] "=&r"(xa), [xb] "=&r"(xb)
                         : [end] "m"(end)
                         : "cc", "memory");
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = b0;
    acc[5] = b1;
    acc[6] = b2;
    acc[7] = b3;
}

/* Requantise, clamp and store 4 pixels of one output channel (stride: bytes per pixel). */
TINYRT_KERNEL void conv_dsp_store4(int8_t *y, int stride, const int32_t *a, int mode,
                                   int32_t mult, int32_t shift, int32_t add, int32_t act_min,
                                   int32_t act_max)
{
    /* Written out: gcc -O2 leaves a 4-trip loop as a loop, with the accumulators in memory. */
    y[0] = tr_clamp_s8(tr_requant(mode, a[0], mult, shift, add), act_min, act_max);
    y[stride] = tr_clamp_s8(tr_requant(mode, a[1], mult, shift, add), act_min, act_max);
    y[2 * stride] = tr_clamp_s8(tr_requant(mode, a[2], mult, shift, add), act_min, act_max);
    y[3 * stride] = tr_clamp_s8(tr_requant(mode, a[3], mult, shift, add), act_min, act_max);
}

/*
 * Every output channel of the 4 pixels whose int16 input is in x16; y: pixel 0's outputs.
 * Each row of wpack: [bias o, bias o+1, mult o, mult o+1, shift o, shift o+1, add o,
 * add o+1] then `pairs` weight words.
 */
TINYRT_KERNEL void conv_dsp_gemm(const uint32_t *x16, const int32_t *wpack, int8_t *y,
                                 int pairs, int out_c, int mode, int32_t act_min,
                                 int32_t act_max)
{
    const int32_t *row = wpack;
    for (int o = 0; o < out_c; o += 2) {
        int32_t acc[8] = {row[0], row[0], row[0], row[0], row[1], row[1], row[1], row[1]};
        conv_dsp_mac_2x4((const uint32_t *)(row + CONV2D_S8_DSP_ROW_HEAD), x16, pairs, acc);
        conv_dsp_store4(y + o, out_c, acc, mode, row[2], row[4], row[6], act_min, act_max);
        if (o + 1 < out_c) {
            conv_dsp_store4(y + o + 1, out_c, acc + 4, mode, row[3], row[5], row[7], act_min,
                            act_max);
        }
        row += CONV2D_S8_DSP_ROW_HEAD + pairs;
    }
}

/* Expand `bytes` int8 (a multiple of 4) at src into pixel slot j of x16 from depth d (a
 * multiple of 4): group g -> words [d/2 + 2g][j] (even bytes) and [d/2 + 2g + 1][j] (odd). */
TINYRT_KERNEL void conv_dsp_expand(uint32_t *x16, int j, int d, const int8_t *src, int bytes)
{
    uint32_t *dst = x16 + (d / 2) * 4 + j;
    for (int g = 0; g < bytes / 4; g++) {
        const uint32_t v = tr_read_u32(src + 4 * g);
        dst[0] = __sxtb16(v);
        dst[4] = TR_SXTB16_ODD(v);
        dst += 8;
    }
}

/* The same for `bytes` padding taps reading the input zero point (zp2: its int16 pair). */
TINYRT_KERNEL void conv_dsp_fill(uint32_t *x16, int j, int d, uint32_t zp2, int bytes)
{
    uint32_t *dst = x16 + (d / 2) * 4 + j;
    for (int g = 0; g < bytes / 2; g++) {
        dst[4 * g] = zp2;
    }
}

/* Expand one pixel of `in_c` channels (any count: a partial last group is zero-padded). */
TINYRT_KERNEL void conv_dsp_expand_pixel(uint32_t *x16, int j, const int8_t *src, int in_c)
{
    conv_dsp_expand(x16, j, 0, src, in_c / 4 * 4);
    if (in_c % 4) {
        int8_t last[4] = {0, 0, 0, 0};
        for (int c = 0; c < in_c % 4; c++) {
            last[c] = src[in_c / 4 * 4 + c];
        }
        conv_dsp_expand(x16, j, in_c / 4 * 4, last, 4);
    }
}

/*
 * Pointwise: 1x1 filter, stride 1, one group: [pixels, in_c] x [out_c, in_c]. Blocks of 4
 * pixels; a last partial block repeats its last pixel and goes through scratch.
 */
TINYRT_KERNEL void conv2d_s8_1x1_dsp(const int8_t *input, const int32_t *wpack, int8_t *output,
                                     void *scratch, int pixels, int in_c, int out_c, int mode,
                                     int32_t act_min, int32_t act_max)
{
    const int pairs = CONV2D_S8_DSP_DEPTH4(in_c) / 2;
    uint32_t *x16 = (uint32_t *)scratch;
    int8_t *tail = (int8_t *)(x16 + 4 * pairs);
    int p = 0;
    for (; p + 4 <= pixels; p += 4) {
        for (int j = 0; j < 4; j++) {
            conv_dsp_expand_pixel(x16, j, input + (p + j) * in_c, in_c);
        }
        conv_dsp_gemm(x16, wpack, output + p * out_c, pairs, out_c, mode, act_min, act_max);
    }
    if (pixels % 4) {
        for (int j = 0; j < 4; j++) {
            const int q = p + j < pixels ? p + j : pixels - 1;
            conv_dsp_expand_pixel(x16, j, input + q * in_c, in_c);
        }
        conv_dsp_gemm(x16, wpack, tail, pairs, out_c, mode, act_min, act_max);
        memcpy(output + p * out_c, tail, (size_t)((pixels - p) * out_c));
    }
}

/* One window straight into pixel slot j of x16, when in_c % 4 == 0 (every tap is whole
 * groups of 4 bytes at a depth that is a multiple of 4). */
TINYRT_KERNEL void conv_dsp_window(uint32_t *x16, int j, const int8_t *in_b, int in_h, int in_w,
                                   int in_c, int k_h, int k_w, int dil_h, int dil_w, int iy0,
                                   int ix0, uint32_t zp2)
{
    const int x_inside = ix0 >= 0 && ix0 + (k_w - 1) * dil_w < in_w;
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = iy0 + ky * dil_h;
        const int d = ky * k_w * in_c;
        if (iy < 0 || iy >= in_h) {
            conv_dsp_fill(x16, j, d, zp2, k_w * in_c);
        } else if (x_inside && dil_w == 1) {
            conv_dsp_expand(x16, j, d, in_b + (iy * in_w + ix0) * in_c, k_w * in_c);
        } else {
            for (int kx = 0; kx < k_w; kx++) {
                const int ix = ix0 + kx * dil_w;
                if (ix < 0 || ix >= in_w) {
                    conv_dsp_fill(x16, j, d + kx * in_c, zp2, in_c);
                } else {
                    conv_dsp_expand(x16, j, d + kx * in_c, in_b + (iy * in_w + ix) * in_c,
                                    in_c);
                }
            }
        }
    }
}

/*
 * Any window, stride, dilation and padding, one group. Per batch, blocks of 4 output pixels
 * (a last partial block repeats its last pixel and goes through scratch).
 */
TINYRT_KERNEL void conv2d_s8_dsp(const int8_t *input, const int32_t *wpack, int8_t *output,
                                 void *scratch, int batches, int in_h, int in_w, int in_c,
                                 int k_h, int k_w, int out_h, int out_w, int out_c,
                                 int stride_h, int stride_w, int dil_h, int dil_w, int pad_h,
                                 int pad_w, int32_t in_zp, int mode, int32_t act_min,
                                 int32_t act_max)
{
    const int depth = k_h * k_w * in_c, depth4 = CONV2D_S8_DSP_DEPTH4(depth);
    const int pixels = out_h * out_w;
    uint32_t *x16 = (uint32_t *)scratch;
    int8_t *tail = (int8_t *)(x16 + 2 * depth4);
    int8_t *col = tail + (4 * out_c + 3) / 4 * 4;
    const uint32_t zp2 = ((uint32_t)in_zp & 0xffffu) | ((uint32_t)in_zp << 16);
    memset(col + depth, 0, (size_t)(depth4 - depth)); /* zero weights there: any finite x */
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        int8_t *out_b = output + b * pixels * out_c;
        for (int p = 0; p < pixels; p += 4) {
            for (int j = 0; j < 4; j++) {
                const int q = p + j < pixels ? p + j : pixels - 1;
                const int iy0 = (q / out_w) * stride_h - pad_h;
                const int ix0 = (q % out_w) * stride_w - pad_w;
                if (in_c % 4 == 0) {
                    conv_dsp_window(x16, j, in_b, in_h, in_w, in_c, k_h, k_w, dil_h, dil_w, iy0,
                                    ix0, zp2);
                } else {
                    conv_im2col_s8(in_b, col, in_h, in_w, in_c, k_h, k_w, in_c, dil_h, dil_w, iy0,
                                   ix0, 0, (int8_t)in_zp);
                    conv_dsp_expand(x16, j, 0, col, depth4);
                }
            }
            if (p + 4 <= pixels) {
                conv_dsp_gemm(x16, wpack, out_b + p * out_c, depth4 / 2, out_c, mode, act_min,
                              act_max);
            } else {
                conv_dsp_gemm(x16, wpack, tail, depth4 / 2, out_c, mode, act_min, act_max);
                memcpy(out_b + p * out_c, tail, (size_t)((pixels - p) * out_c));
            }
        }
    }
}

#endif /* TINYRT_CONV2D_S8_DSP_H */
