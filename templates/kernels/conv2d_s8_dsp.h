/*
 * conv2d_s8_dsp: int8 2-D convolution on the Arm DSP extension (Cortex-M4/M7/M33/M55), bit-exact
 * with TFLite's reference_integer_ops::ConvPerChannel. One group (grouped convolutions stay on
 * the portable kernel).
 *
 * input   [batches, in_h, in_w, in_c]   int8, zero point in_zp (folded into the bias)
 * output  [batches, out_h, out_w, out_c] int8, clamped to [act_min, act_max]
 * wpack   per output-channel pair (o, o+1) a row of CONV2D_S8_DSP_ROW_HEAD words
 *           [bias o + 256 bias o+1 (wrapping), bias o+1, mult o, mult o+1, shift o, shift o+1,
 *            add o, add o+1]
 *         (bias folded: bias - in_zp * sum(weights); mult/shift/add: tr_requant(`mode`, ...) of
 *         tinyrt_dsp.h) then `pairs` = depth4 / 2 weight words, re-laid out by
 *         tinyrt/kernels/conv2d_s8_dsp.py:
 *         - window depth order: per filter row ky its R / 4 whole groups of 4 bytes (R = k_w *
 *           in_c, the row's contiguous bytes), then the rows' R % 4 leftover bytes one after
 *           the other, zero-padded to depth4 = 4 * ceil(depth / 4);
 *         - group g gives channel pairs 2g = (4g, 4g+2) and 2g+1 = (4g+1, 4g+3), the pairing of
 *           SXTB16 / SXTB16 ROR 8; the word of pair k = (a, b) is the bytes
 *           [w[o][a] + 128, w[o+1][a], w[o][b] + 128, w[o+1][b]] (w[o] in offset binary).
 *         An odd last channel is paired with zero weights and never stored.
 *
 * Offset binary (one SXTB16 per 4 weights): a raw weight word's halfwords are
 * 256 w[o+1] + w[o] + 128, so over the int16 input pairs x of pixel j
 *   P = sum SMLAD(raw, x) = 256 D[o+1] + D[o] + 128 S_j     (S_j: the sum of pixel j's x)
 *   Q = sum SMLAD(SXTB16(raw ROR 8), x) = D[o+1]
 * and D[o] = P - 256 Q - 128 S_j, exact in wrapping 32-bit arithmetic (the true value fits):
 * P starts at row[0] - 128 S_j, Q at bias o+1. S_j is summed while pixel j is expanded.
 * `offset` (a literal) = 0 for short windows (< 16 channel pairs, where the sums and
 * corrections cost more than the SXTB16 saved): plain int8 words [w[o][a], w[o+1][a], w[o][b],
 * w[o+1][b]], row[0] = bias o, two SXTB16 per word.
 *
 * Inner loop: 2 output channels x 4 pixels, per channel pair 1 LDR + 1 SXTB16 + 2 LDRD + 8
 * SMLAD (12 instructions, 16 MACs), trips of 8 channel pairs and a straight tail. The 4 pixels'
 * windows are expanded once to int16 pairs, interleaved by pixel (word [k][j] = pair k of
 * pixel j), and reused by every output channel; a last block of 1-3 pixels takes a C loop.
 *
 * scratch (4-aligned), CONV2D_S8_DSP_SCRATCH_BYTES(depth):
 *   x16  [pairs][4] words  = 8 * depth4 bytes
 *   nsum [4] words          -128 * S_j
 *   col  [depth] bytes      one window as int8 (general kernel, borders when in_c % 4 != 0)
 * Output must not alias the input.
 */
#ifndef TINYRT_CONV2D_S8_DSP_H
#define TINYRT_CONV2D_S8_DSP_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_dsp.h"
#include "conv2d_s8.h"   /* conv_im2col_s8: the portable kernels' window copy */

#define CONV2D_S8_DSP_DEPTH4(depth) (((depth) + 3) / 4 * 4)
#define CONV2D_S8_DSP_SCRATCH_BYTES(depth) (9 * CONV2D_S8_DSP_DEPTH4(depth) + 16)
#define CONV2D_S8_DSP_ROW_HEAD 8
#define CONV_DSP_ONES 0x00010001u

/* SMMLAR: acc + the rounded high word of a * b, one instruction. */
#if defined(TINYRT_ACLE_PORTABLE)
static inline int32_t conv_dsp_smmlar(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)tr_smmulr(a, b));
}
#else
static inline __attribute__((always_inline)) int32_t conv_dsp_smmlar(int32_t a, int32_t b,
                                                                    int32_t acc)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}
#endif

/*
 * tr_requant (tinyrt_dsp.h) in one instruction fewer, same modes and constants: SMMLAR adds
 * `add` with the multiply, and RIGHT's rounding takes the sign of acc instead of the product
 * x's: they differ only when x = 0, where (add - 1) >> shift = add >> shift = out_zp.
 */
TINYRT_KERNEL int32_t conv_dsp_requant(int mode, int32_t acc, int32_t mult, int32_t shift,
                                       int32_t add)
{
    if (mode == TR_RQ_RIGHT) {
        const int32_t y = conv_dsp_smmlar((int32_t)((uint32_t)acc << 1), mult, add);
        return (y + (acc >> 31)) >> shift;
    }
    if (mode == TR_RQ_LEFT) {
        return conv_dsp_smmlar((int32_t)((uint32_t)acc << shift), mult, add);
    }
    return tr_requantize(acc, mult, shift) + add;
}

/* One channel pair of the 2 x 4 block: 12 instructions, 16 MACs (13 with plain int8 weights:
 * ext extends channel o's pair too). */
#define CONV_DSP_PAIR_ASM_EXT(ext) \
    "ldr %[v], [%[w]], #4\n\t" \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t" \
    "sxtb16 %[vo], %[v], ror #8\n\t" ext \
    "smlad %[a0], %[v], %[xa], %[a0]\n\t" \
    "smlad %[b0], %[vo], %[xa], %[b0]\n\t" \
    "smlad %[a1], %[v], %[xb], %[a1]\n\t" \
    "smlad %[b1], %[vo], %[xb], %[b1]\n\t" \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t" \
    "smlad %[a2], %[v], %[xa], %[a2]\n\t" \
    "smlad %[b2], %[vo], %[xa], %[b2]\n\t" \
    "smlad %[a3], %[v], %[xb], %[a3]\n\t" \
    "smlad %[b3], %[vo], %[xb], %[b3]\n\t"
#define CONV_DSP_PAIR_ASM CONV_DSP_PAIR_ASM_EXT("")
#define CONV_DSP_PLAIN_ASM CONV_DSP_PAIR_ASM_EXT("sxtb16 %[v], %[v]\n\t")
#define CONV_DSP_PAIR_X2 CONV_DSP_PAIR_ASM CONV_DSP_PAIR_ASM
#define CONV_DSP_PLAIN_X2 CONV_DSP_PLAIN_ASM CONV_DSP_PLAIN_ASM
#define CONV_DSP_MAC_OPERANDS(v_in) \
    [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [b0] "+r"(b0), [b1] "+r"(b1), \
    [b2] "+r"(b2), [b3] "+r"(b3), [w] "+r"(w), [x] "+r"(x), [v] v_in(v), [vo] "=&r"(vo), \
    [xa] "=&r"(xa), [xb] "=&r"(xb)
/* n < 8 copies of a channel pair's asm (n a literal), in blocks of 4, 2 and 1: gcc sizes an asm
 * statement by its lines, so each block must show every instruction (a .rept would hide them,
 * and in a large function gcc then places literal pools out of reach). */
#define CONV_DSP_ASM(body) __asm__ volatile(body : CONV_DSP_MAC_OPERANDS("=&r") : : "memory")
#define CONV_DSP_REPEAT(n, x1, x2) \
    do { \
        if ((n) & 4) { \
            CONV_DSP_ASM(x2 x2); \
        } \
        if ((n) & 2) { \
            CONV_DSP_ASM(x2); \
        } \
        if ((n) & 1) { \
            CONV_DSP_ASM(x1); \
        } \
    } while (0)
/* A loop over channel pairs to the weight address in v: 14 registers are in use, so the end
 * goes to the stack (pushed by the asm itself: a compiler "m" operand may need a base
 * register there is none left for). */
#define CONV_DSP_LOOP(body) \
    __asm__ volatile("str %[v], [sp, #-8]!\n\t" \
                     "1:\n\t" body \
                     "ldr %[v], [sp]\n\t" \
                     "cmp %[w], %[v]\n\t" \
                     "bne 1b\n\t" \
                     "add sp, sp, #8\n\t" \
                     : CONV_DSP_MAC_OPERANDS("+&r") \
                     : \
                     : "cc", "memory")

/* The C form of the block (npx <= 4 pixels): the host twin, and a last partial block. */
TINYRT_KERNEL void conv_dsp_mac_c(const uint32_t *w, const uint32_t *x, int pairs, int npx,
                                  int offset, int32_t acc[8])
{
    for (int k = 0; k < pairs; k++) {
        const uint32_t v = offset ? w[k] : (uint32_t)__sxtb16(w[k]), vo = TR_SXTB16_ODD(w[k]);
        for (int j = 0; j < npx; j++) {
            acc[j] = __smlad(v, x[4 * k + j], acc[j]);
            acc[4 + j] = __smlad(vo, x[4 * k + j], acc[4 + j]);
        }
    }
}

/* acc[0..3] (P of pixels 0..3) and acc[4..7] (Q) += `pairs` weight words times x16. */
TINYRT_KERNEL void conv_dsp_mac_2x4(const uint32_t *w, const uint32_t *x, int pairs,
                                    int offset, int32_t acc[8])
{
#if defined(TINYRT_ACLE_PORTABLE)
    conv_dsp_mac_c(w, x, pairs, 4, offset, acc);
#else
    /* In assembly because gcc runs out of registers here (spills inside the loop): 8
     * accumulators, 2 pointers and 4 temporaries fill the 14; the loop end is reloaded from
     * the stack once per trip of 8 channel pairs; the rest (pairs is a literal) is unrolled. */
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t b0 = acc[4], b1 = acc[5], b2 = acc[6], b3 = acc[7];
    uint32_t v, vo, xa, xb;
    if (__builtin_constant_p(pairs) && offset) {
        if (pairs >= 8) {
            v = (uint32_t)(w + pairs / 8 * 8);
            CONV_DSP_LOOP(CONV_DSP_PAIR_X2 CONV_DSP_PAIR_X2 CONV_DSP_PAIR_X2 CONV_DSP_PAIR_X2);
        }
        CONV_DSP_REPEAT(pairs % 8, CONV_DSP_PAIR_ASM, CONV_DSP_PAIR_X2);
    } else if (__builtin_constant_p(pairs)) {
        /* no C loop around the asm: its counter would be a 15th register */
        if (pairs >= 8) {
            v = (uint32_t)(w + pairs / 8 * 8);
            CONV_DSP_LOOP(CONV_DSP_PLAIN_X2 CONV_DSP_PLAIN_X2 CONV_DSP_PLAIN_X2 CONV_DSP_PLAIN_X2);
        }
        CONV_DSP_REPEAT(pairs % 8, CONV_DSP_PLAIN_ASM, CONV_DSP_PLAIN_X2);
    } else {
        v = (uint32_t)(w + pairs);   /* pairs is even: depth4 is a multiple of 4 */
        if (offset) {
            CONV_DSP_LOOP(CONV_DSP_PAIR_X2);
        } else {
            CONV_DSP_LOOP(CONV_DSP_PLAIN_X2);
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = b0;
    acc[5] = b1;
    acc[6] = b2;
    acc[7] = b3;
#endif
}

/* Requantise, clamp and store npx (1-4) pixels of one output channel (stride: bytes per
 * pixel). Written out: gcc -O2 leaves a 4-trip loop as a loop, with the accumulators in memory;
 * npx is a literal, so the tests fold away. */
TINYRT_KERNEL void conv_dsp_store(int8_t *y, int stride, const int32_t *a, int npx, int mode,
                                  int32_t mult, int32_t shift, int32_t add, int32_t act_min,
                                  int32_t act_max)
{
    y[0] = tr_clamp_s8(conv_dsp_requant(mode, a[0], mult, shift, add), act_min, act_max);
    if (npx > 1) {
        y[stride] = tr_clamp_s8(conv_dsp_requant(mode, a[1], mult, shift, add), act_min, act_max);
    }
    if (npx > 2) {
        y[2 * stride] = tr_clamp_s8(conv_dsp_requant(mode, a[2], mult, shift, add), act_min,
                                    act_max);
    }
    if (npx > 3) {
        y[3 * stride] = tr_clamp_s8(conv_dsp_requant(mode, a[3], mult, shift, add), act_min,
                                    act_max);
    }
}

/* conv_dsp_store in TR_RQ_EXACT mode, out of line: inlined, its 64-bit arithmetic can leave
 * gcc short of registers for the 14-register inner loop of the same layer ("impossible
 * constraints"); a call per 4 outputs costs little beside ~35 instructions per output. */
static __attribute__((noinline, unused)) void conv_dsp_store_exact(int8_t *y, int stride,
                                                                   const int32_t *a, int npx,
                                                                   int32_t mult, int32_t shift,
                                                                   int32_t add, int32_t act_min,
                                                                   int32_t act_max)
{
    for (int j = 0; j < npx; j++) {
        y[j * stride] = (int8_t)TR_CLAMP(tr_requantize(a[j], mult, shift) + add, act_min,
                                         act_max);
    }
}

/*
 * Every output channel of the npx (1-4) pixels whose int16 input is in x16 (nsum: their
 * -128 S_j); y: pixel 0's outputs.
 */
TINYRT_KERNEL void conv_dsp_gemm(const uint32_t *x16, const int32_t *nsum, const int32_t *wpack,
                                 int8_t *y, int pairs, int out_c, int npx, int offset, int mode,
                                 int32_t act_min, int32_t act_max)
{
    const int32_t *row = wpack;
    for (int o = 0; o < out_c; o += 2) {
        const uint32_t p = (uint32_t)row[0];
        int32_t acc[8] = {row[0], row[0], row[0], row[0], row[1], row[1], row[1], row[1]};
        if (offset) {
            acc[0] = (int32_t)(p + (uint32_t)nsum[0]);
            acc[1] = (int32_t)(p + (uint32_t)nsum[1]);
            acc[2] = (int32_t)(p + (uint32_t)nsum[2]);
            acc[3] = (int32_t)(p + (uint32_t)nsum[3]);
        }
        const uint32_t *w = (const uint32_t *)(row + CONV2D_S8_DSP_ROW_HEAD);
        if (npx == 4) {
            conv_dsp_mac_2x4(w, x16, pairs, offset, acc);
        } else {
            conv_dsp_mac_c(w, x16, pairs, npx, offset, acc);
        }
        /* D[o] = P - 256 Q; channel o's 4 pixels, then o+1's: 3 constants live at a time */
        if (offset) {
            acc[0] = (int32_t)((uint32_t)acc[0] - ((uint32_t)acc[4] << 8));
            acc[1] = (int32_t)((uint32_t)acc[1] - ((uint32_t)acc[5] << 8));
            acc[2] = (int32_t)((uint32_t)acc[2] - ((uint32_t)acc[6] << 8));
            acc[3] = (int32_t)((uint32_t)acc[3] - ((uint32_t)acc[7] << 8));
        }
        if (mode == TR_RQ_EXACT) {
            conv_dsp_store_exact(y + o, out_c, acc, npx, row[2], row[4], row[6], act_min,
                                 act_max);
            if (o + 1 < out_c) {
                conv_dsp_store_exact(y + o + 1, out_c, acc + 4, npx, row[3], row[5], row[7],
                                     act_min, act_max);
            }
        } else {
            conv_dsp_store(y + o, out_c, acc, npx, mode, row[2], row[4], row[6], act_min,
                           act_max);
            if (o + 1 < out_c) {
                conv_dsp_store(y + o + 1, out_c, acc + 4, npx, mode, row[3], row[5], row[7],
                               act_min, act_max);
            }
        }
        row += CONV2D_S8_DSP_ROW_HEAD + pairs;
    }
}

/* Expand `bytes` int8 (a multiple of 4) at src into pixel slot j of x16 from depth d (a
 * multiple of 4): group g -> words [d/2 + 2g][j] (even bytes) and [d/2 + 2g + 1][j] (odd).
 * Returns the sum of the bytes. */
TINYRT_KERNEL int32_t conv_dsp_expand(uint32_t *x16, int j, int d, const int8_t *src, int bytes)
{
    uint32_t *dst = x16 + (d / 2) * 4 + j;
    int32_t sum = 0;
    for (int g = 0; g < bytes / 4; g++) {
        const uint32_t v = tr_read_u32(src + 4 * g);
        const uint32_t e = __sxtb16(v), od = TR_SXTB16_ODD(v);
        dst[0] = e;
        dst[4] = od;
        sum = __smlad(e, CONV_DSP_ONES, sum);
        sum = __smlad(od, CONV_DSP_ONES, sum);
        dst += 8;
    }
    return sum;
}

/* The same for `bytes` padding taps reading the input zero point (zp2: its int16 pair). */
TINYRT_KERNEL int32_t conv_dsp_fill(uint32_t *x16, int j, int d, int32_t zp, int bytes)
{
    const uint32_t zp2 = ((uint32_t)zp & 0xffffu) | ((uint32_t)zp << 16);
    uint32_t *dst = x16 + (d / 2) * 4 + j;
    for (int g = 0; g < bytes / 2; g++) {
        dst[4 * g] = zp2;
    }
    return zp * bytes;
}

/*
 * Pixel slot j from `rows` rows of row_bytes contiguous bytes (row r at src + r * pitch), in
 * the header's depth order: each row's whole groups, then the rows' leftover bytes gathered
 * and zero-padded. Returns the sum of the bytes.
 */
TINYRT_KERNEL int32_t conv_dsp_expand_rows(uint32_t *x16, int j, const int8_t *src, int pitch,
                                           int rows, int row_bytes)
{
    const int whole = row_bytes / 4 * 4;
    int32_t sum = 0;
    for (int r = 0; r < rows; r++) {
        sum += conv_dsp_expand(x16, j, r * whole, src + r * pitch, whole);
    }
    if (row_bytes % 4) {
        int8_t g4[4] = {0, 0, 0, 0};
        int n = 0, d = rows * whole;
        for (int r = 0; r < rows; r++) {
            for (int c = whole; c < row_bytes; c++) {
                g4[n++] = src[r * pitch + c];
                if (n == 4) {
                    sum += conv_dsp_expand(x16, j, d, g4, 4);
                    d += 4;
                    n = 0;
                }
            }
        }
        if (n) {
            for (; n < 4; n++) {
                g4[n] = 0;
            }
            sum += conv_dsp_expand(x16, j, d, g4, 4);
        }
    }
    return sum;
}

/*
 * Pointwise: 1x1 filter, stride 1, one group: [pixels, in_c] x [out_c, in_c]. Blocks of 4
 * pixels, then one of pixels % 4.
 */
TINYRT_KERNEL void conv2d_s8_1x1_dsp(const int8_t *input, const int32_t *wpack, int8_t *output,
                                     void *scratch, int pixels, int in_c, int out_c, int offset,
                                     int mode, int32_t act_min, int32_t act_max)
{
    const int pairs = CONV2D_S8_DSP_DEPTH4(in_c) / 2;
    uint32_t *x16 = (uint32_t *)scratch;
    int32_t *nsum = (int32_t *)(x16 + 4 * pairs);
    int p = 0;
    for (; p + 4 <= pixels; p += 4) {
        for (int j = 0; j < 4; j++) {
            const int32_t s = conv_dsp_expand_rows(x16, j, input + (p + j) * in_c, 0, 1, in_c);
            if (offset) {
                nsum[j] = -128 * s;
            }
        }
        conv_dsp_gemm(x16, nsum, wpack, output + p * out_c, pairs, out_c, 4, offset, mode,
                      act_min, act_max);
    }
    if (pixels % 4) {
        for (int j = 0; j < pixels % 4; j++) {
            nsum[j] = -128 * conv_dsp_expand_rows(x16, j, input + (p + j) * in_c, 0, 1, in_c);
        }
        conv_dsp_gemm(x16, nsum, wpack, output + p * out_c, pairs, out_c, pixels % 4, offset,
                      mode, act_min, act_max);
    }
}

/* A window with taps outside the input (or dilated along x), when in_c % 4 == 0: tap by tap,
 * padding taps reading in_zp. Returns the sum. */
TINYRT_KERNEL int32_t conv_dsp_window(uint32_t *x16, int j, const int8_t *in_b, int in_h,
                                      int in_w, int in_c, int k_h, int k_w, int dil_h, int dil_w,
                                      int iy0, int ix0, int32_t in_zp)
{
    int32_t sum = 0;
    for (int ky = 0; ky < k_h; ky++) {
        const int iy = iy0 + ky * dil_h;
        const int d = ky * k_w * in_c;
        for (int kx = 0; kx < k_w; kx++) {
            const int ix = ix0 + kx * dil_w;
            if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) {
                sum += conv_dsp_fill(x16, j, d + kx * in_c, in_zp, in_c);
            } else {
                sum += conv_dsp_expand(x16, j, d + kx * in_c, in_b + (iy * in_w + ix) * in_c,
                                       in_c);
            }
        }
    }
    return sum;
}

/* The window of output pixel q into pixel slot j; returns -128 * its sum. */
TINYRT_KERNEL int32_t conv_dsp_pixel(uint32_t *x16, int8_t *col, int j, int q,
                                     const int8_t *in_b, int in_h, int in_w, int in_c, int k_h,
                                     int k_w, int out_w, int stride_h, int stride_w, int dil_h,
                                     int dil_w, int pad_h, int pad_w, int32_t in_zp)
{
    const int iy0 = (q / out_w) * stride_h - pad_h, ix0 = (q % out_w) * stride_w - pad_w;
    const int inside = iy0 >= 0 && iy0 + (k_h - 1) * dil_h < in_h && ix0 >= 0
                       && ix0 + (k_w - 1) * dil_w < in_w;
    int32_t sum;
    if (inside && dil_w == 1) {
        sum = conv_dsp_expand_rows(x16, j, in_b + (iy0 * in_w + ix0) * in_c,
                                   dil_h * in_w * in_c, k_h, k_w * in_c);
    } else if (in_c % 4 == 0) {
        sum = conv_dsp_window(x16, j, in_b, in_h, in_w, in_c, k_h, k_w, dil_h, dil_w, iy0, ix0,
                              in_zp);
    } else {
        conv_im2col_s8(in_b, col, in_h, in_w, in_c, k_h, k_w, in_c, dil_h, dil_w, iy0, ix0, 0,
                       (int8_t)in_zp);
        sum = conv_dsp_expand_rows(x16, j, col, k_w * in_c, k_h, k_w * in_c);
    }
    return -128 * sum;
}

/*
 * Any window, stride, dilation and padding, one group. Per batch, blocks of 4 output pixels,
 * then one of pixels % 4.
 */
TINYRT_KERNEL void conv2d_s8_dsp(const int8_t *input, const int32_t *wpack, int8_t *output,
                                 void *scratch, int batches, int in_h, int in_w, int in_c,
                                 int k_h, int k_w, int out_h, int out_w, int out_c,
                                 int stride_h, int stride_w, int dil_h, int dil_w, int pad_h,
                                 int pad_w, int32_t in_zp, int offset, int mode,
                                 int32_t act_min, int32_t act_max)
{
    const int depth4 = CONV2D_S8_DSP_DEPTH4(k_h * k_w * in_c);
    const int pixels = out_h * out_w;
    uint32_t *x16 = (uint32_t *)scratch;
    int32_t *nsum = (int32_t *)(x16 + 2 * depth4);
    int8_t *col = (int8_t *)(nsum + 4);
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        int8_t *out_b = output + b * pixels * out_c;
        for (int p = 0; p < pixels; p += 4) {
            const int npx = p + 4 <= pixels ? 4 : pixels % 4;
            for (int j = 0; j < npx; j++) {
                const int32_t s = conv_dsp_pixel(x16, col, j, p + j, in_b, in_h, in_w, in_c, k_h,
                                                 k_w, out_w, stride_h, stride_w, dil_h, dil_w,
                                                 pad_h, pad_w, in_zp);
                if (offset) {
                    nsum[j] = s;
                }
            }
            if (npx == 4) {
                conv_dsp_gemm(x16, nsum, wpack, out_b + p * out_c, depth4 / 2, out_c, 4, offset,
                              mode, act_min, act_max);
            } else {
                conv_dsp_gemm(x16, nsum, wpack, out_b + p * out_c, depth4 / 2, out_c,
                              pixels % 4, offset, mode, act_min, act_max);
            }
        }
    }
}

#endif /* TINYRT_CONV2D_S8_DSP_H */
