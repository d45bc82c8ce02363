/*
 * dwconv_s8_mve: int8 depthwise convolution on Helium, depth multiplier 1 (TFLite
 * reference_integer_ops::DepthwiseConvPerChannel).
 *
 * input   [batches, in_h, in_w, c]  int8, zero point in_zp
 * params  int32 stream, one record per group of 8 channels [c, c + 8) (tinyrt/kernels/
 *         dwconv_s8_mve.py lays it out, zero-padded past c):
 *           bias[8]               folded: bias - in_zp * sum(weights[.., ch])
 *           [k_h * k_w][8] int16  the taps' weights, widened at generation time
 *           mult[8], then left[8] (mode LEFT/EXACT), neg_right[8] (mode RIGHT/EXACT): only when
 *           per_channel; otherwise the scalar arguments mult, left, neg_right serve every channel
 *         Every 8-lane int32 block is [even channels c, c+2, c+4, c+6][odd channels c+1, ..]:
 *         the order of VMULLB/VMULLT, so no shuffles.
 * output  [batches, out_h, out_w, c] int8, clamped to [act_min, act_max]
 * mode    tinyrt_mve.h's requantisation form (TR_MVE_RQ_*), chosen by the generator
 * scratch DWCONV_S8_MVE_SCRATCH_BYTES: one band of padded input rows [k_h][band_w][c], where
 *         band_w = (out_w - 1) * stride_w + (k_w - 1) * dil_w + 1 (when there is padding)
 *
 * Eight channels per step in int16 lanes: per tap one VLDRB.S16 (input), one VLDRH (weights),
 * VMULLB + VMULLT (exact int32 products, even and odd channels) and two VADD: 3 instructions
 * per 4 channel-taps (int32 lanes need 4). An output row whose windows are all inside the
 * input (rows [y_lo, y_hi) of a layer without left/right padding) reads it in place; any other
 * row first copies its k_h input rows, padded left and right, into `scratch` (in_zp outside
 * the input, which the folded bias cancels exactly as TFLite skips those taps), so every pixel
 * runs the same branch-free tap loop with literal offsets. The copy is ~2.5 instructions per
 * 16 bytes, k_h input rows per output row.
 * The last group of a channel count that is not a multiple of 8 reads the input and writes the
 * output with predicates: nothing outside the tensors is touched. Output must not alias the
 * input.
 */
#ifndef TINYRT_DWCONV_S8_MVE_H
#define TINYRT_DWCONV_S8_MVE_H

#include <stdint.h>

#include "../tinyrt_mve.h"

#define DWCONV_S8_MVE_SCRATCH_BYTES(k_h, band_w, ch) ((k_h) * (band_w) * (ch))

/* int32 words of one group's record (see above). */
#define DW_MVE_RECORD_WORDS(taps, per_channel, mode) \
    ((taps) * 4 + 8 + ((per_channel) ? 8 + ((mode) != TR_MVE_RQ_RIGHT) * 8 + ((mode) != TR_MVE_RQ_LEFT) * 8 : 0))

/*
 * One output pixel, channels [c, c + 8): x at the window's first tap, channel c; taps `row`
 * bytes apart between window rows and `col` bytes apart within a row (literals); `n` lanes
 * valid (8 except in the last group of a channel tail).
 */
TINYRT_KERNEL void dw_mve_group_s8(const int8_t *x, const int32_t *rec, int8_t *out, int k_h,
                                   int k_w, int row, int col, int n, int per_channel, int mode,
                                   int32_t mult, int32_t left, int32_t neg_right, int32_t out_zp,
                                   int32_t act_min, int32_t act_max)
{
    const mve_pred16_t p = vctp16q((uint32_t)n);
    int32x4_t even = vldrwq_s32(rec), odd = vldrwq_s32(rec + 4);
    const int16_t *w = (const int16_t *)(rec + 8);
#pragma GCC unroll 7
    for (int ky = 0; ky < k_h; ky++) {
        const int8_t *xp = x + ky * row;
#pragma GCC unroll 7
        for (int kx = 0; kx < k_w; kx++, xp += col, w += 8) {
            const int16x8_t xv = n == 8 ? vldrbq_s16(xp) : vldrbq_z_s16(xp, p);
            const int16x8_t wv = vldrhq_s16(w);
            even = vaddq_s32(even, vmullbq_int_s16(xv, wv));
            odd = vaddq_s32(odd, vmulltq_int_s16(xv, wv));
            /* Opaque to GCC, and the next addresses depend on it: otherwise it reassociates
             * the sums and hoists every load (the requantisation constants' too, which follow
             * the weights), keeping them all live in 8 Q registers and spilling most. */
            __asm__("" : "+w"(even), "+w"(odd), "+r"(xp), "+r"(w));
        }
    }
    if (per_channel) {
        const int32_t *m = (const int32_t *)w, *l = m + 8;
        const int32_t *r = m + 8 * (1 + (mode != TR_MVE_RQ_RIGHT));
        even = tr_mve_rq_mode(mode, even, vldrwq_s32(m), vldrwq_s32(l), vldrwq_s32(r));
        odd = tr_mve_rq_mode(mode, odd, vldrwq_s32(m + 4), vldrwq_s32(l + 4), vldrwq_s32(r + 4));
    } else {
        even = tr_mve_rq_mode_n(mode, even, mult, left, neg_right);
        odd = tr_mve_rq_mode_n(mode, odd, mult, left, neg_right);
    }
    tr_mve_store_s16(out, tr_mve_interleave_s32(even, odd), out_zp, act_min, act_max, n);
}

/* Every channel group of one output pixel (x: the window's first tap, channel 0). */
TINYRT_KERNEL void dw_mve_pixel_s8(const int8_t *x, const int32_t *params, int8_t *out, int ch,
                                   int k_h, int k_w, int row, int col, int per_channel, int mode,
                                   int32_t mult, int32_t left, int32_t neg_right, int32_t out_zp,
                                   int32_t act_min, int32_t act_max)
{
    const int words = DW_MVE_RECORD_WORDS(k_h * k_w, per_channel, mode);
    int c = 0;
    for (; c + 8 <= ch; c += 8, params += words) {
        dw_mve_group_s8(x + c, params, out + c, k_h, k_w, row, col, 8, per_channel, mode, mult,
                        left, neg_right, out_zp, act_min, act_max);
    }
    if (c < ch) {
        dw_mve_group_s8(x + c, params, out + c, k_h, k_w, row, col, ch - c, per_channel, mode,
                        mult, left, neg_right, out_zp, act_min, act_max);
    }
}

/* The input rows of output row oy, padded: band [k_h][band_w][ch] holds input rows
 * iy0 + ky * dil_h, columns -pad_w .. band_w - pad_w - 1, in_zp outside the input. */
TINYRT_KERNEL void dw_mve_band_s8(const int8_t *in_b, int8_t *band, int in_h, int in_w, int ch,
                                  int k_h, int dil_h, int band_w, int pad_w, int iy0,
                                  int32_t in_zp)
{
    const int copy = TR_MIN(in_w, band_w - pad_w) * ch;
    for (int ky = 0; ky < k_h; ky++, band += band_w * ch) {
        const int iy = iy0 + ky * dil_h;
        if (iy < 0 || iy >= in_h) {
            tr_mve_fill_s8(band, (int8_t)in_zp, band_w * ch);
        } else {
            tr_mve_fill_s8(band, (int8_t)in_zp, pad_w * ch);
            tr_mve_copy_s8(band + pad_w * ch, in_b + iy * in_w * ch, copy);
            tr_mve_fill_s8(band + pad_w * ch + copy, (int8_t)in_zp, band_w * ch - pad_w * ch - copy);
        }
    }
}

TINYRT_KERNEL void dwconv_s8_mve(const int8_t *input, const int32_t *params, int8_t *output,
                                 int8_t *scratch, int batches, int in_h, int in_w, int ch,
                                 int k_h, int k_w, int out_h, int out_w, int stride_h,
                                 int stride_w, int dil_h, int dil_w, int pad_h, int pad_w,
                                 int y_lo, int y_hi, int x_border, int band_w, int32_t in_zp,
                                 int per_channel, int mode, int32_t mult, int32_t left,
                                 int32_t neg_right, int32_t out_zp, int32_t act_min,
                                 int32_t act_max)
{
    TR_MVE_LAYER_FENCE();
    const int col = dil_w * ch;
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * ch;
        int8_t *out = output + b * out_h * out_w * ch;
        for (int oy = 0; oy < out_h; oy++) {
            const int iy0 = oy * stride_h - pad_h;
            if (!x_border && oy >= y_lo && oy < y_hi) {
                /* Every window of the row is inside the input: read it in place. */
                const int8_t *x = in_b + (iy0 * in_w - pad_w) * ch;
                for (int ox = 0; ox < out_w; ox++, out += ch, x += stride_w * ch) {
                    dw_mve_pixel_s8(x, params, out, ch, k_h, k_w, dil_h * in_w * ch, col,
                                    per_channel, mode, mult, left, neg_right, out_zp, act_min,
                                    act_max);
                }
                continue;
            }
            dw_mve_band_s8(in_b, scratch, in_h, in_w, ch, k_h, dil_h, band_w, pad_w, iy0, in_zp);
            const int8_t *x = scratch;
            for (int ox = 0; ox < out_w; ox++, out += ch, x += stride_w * ch) {
                dw_mve_pixel_s8(x, params, out, ch, k_h, k_w, band_w * ch, col, per_channel,
                                mode, mult, left, neg_right, out_zp, act_min, act_max);
            }
        }
    }
    TR_MVE_LAYER_FENCE();
}

#endif /* TINYRT_DWCONV_S8_MVE_H */
