/*
 * dwconv_s8_mve: int8 depthwise convolution on Helium, depth multiplier 1 (TFLite
 * reference_integer_ops::DepthwiseConvPerChannel).
 *
 * input   [batches, in_h, in_w, c]  int8, zero point in_zp
 * weights [ceil(c / 4)][k_h * k_w][4] int8: each group of 4 channels' taps side by side, zero
 *         padded (re-laid-out at generation time from TFLite's [1, k_h, k_w, c])
 * bias    [c rounded up to 4] int32, folded: bias - in_zp * sum(weights[.., ch])
 * output  [batches, out_h, out_w, c] int8, clamped to [act_min, act_max]
 * mult, left, neg_right [c rounded up to 4]: as in conv2d_s8_mve.h
 *
 * Four channels per vector in int32 lanes (VLDRB.S32 widening loads, VMUL + VADD: MVE has no
 * lane-by-lane integer multiply-accumulate). Output pixels whose
 * window is inside the input ([y_lo, y_hi) x [x_lo, x_hi)) take the branch-free copy of the tap
 * loop; the others test each tap and multiply the weights of a tap outside the input by in_zp,
 * which the folded bias cancels exactly as TFLite skips it. The last group of a channel count
 * that is not a multiple of 4 reads and writes with predicates: nothing outside the tensors is
 * touched. No scratch. Output must not alias the input.
 */
#ifndef TINYRT_DWCONV_S8_MVE_H
#define TINYRT_DWCONV_S8_MVE_H

#include <stdint.h>

#include "../tinyrt_mve.h"

/* Unroll the tap loops (trip counts are literals): no loop overhead between the taps. */
#if defined(__clang__)
#define TR_MVE_UNROLL _Pragma("unroll 8")
#else
#define TR_MVE_UNROLL _Pragma("GCC unroll 8")
#endif

/* One output pixel, channels [c, c + 4): `tail` (literal) predicates the channel lanes, `border`
 * (literal) tests each tap against the input. */
TINYRT_KERNEL void dw_mve_group_s8(const int8_t *in_b, const int8_t *w, const int32_t *bias,
                                   int8_t *out, int in_h, int in_w, int ch, int c, int k_h,
                                   int k_w, int dil_h, int dil_w, int iy0, int ix0,
                                   int32_t in_zp, const tr_mve_rq *q, int tail, int border)
{
    const mve_pred16_t p = vctp32q((uint32_t)(tail ? ch - c : 4));
    /* Taps [kx_lo, kx_hi) of a row are inside the input; the branch-free copy has all of them. */
    int kx_lo = 0, kx_hi = k_w;
    if (border) {
        while (kx_lo < k_w && ix0 + kx_lo * dil_w < 0) {
            kx_lo++;
        }
        while (kx_hi > kx_lo && ix0 + (kx_hi - 1) * dil_w >= in_w) {
            kx_hi--;
        }
    }
    int32x4_t acc = vldrwq_s32(bias + c);
    const int8_t *wp = w;
    const int8_t *xr = in_b + (iy0 * in_w + ix0) * ch + c;
    TR_MVE_UNROLL
    for (int ky = 0; ky < k_h; ky++, xr += dil_h * in_w * ch) {
        const int iy = iy0 + ky * dil_h;
        if (border && (iy < 0 || iy >= in_h)) {
            for (int kx = 0; kx < k_w; kx++, wp += 4) {
                acc = vmlaq_n_s32(acc, vldrbq_s32(wp), in_zp);
            }
            continue;
        }
        for (int kx = 0; kx < kx_lo; kx++, wp += 4) {
            acc = vmlaq_n_s32(acc, vldrbq_s32(wp), in_zp);
        }
        const int8_t *x = xr + kx_lo * dil_w * ch;
        TR_MVE_UNROLL
        for (int kx = kx_lo; kx < kx_hi; kx++, wp += 4, x += dil_w * ch) {
            const int32x4_t xv = tail ? vldrbq_z_s32(x, p) : vldrbq_s32(x);
            acc = vaddq_s32(acc, vmulq_s32(xv, vldrbq_s32(wp)));
        }
        for (int kx = kx_hi; kx < k_w; kx++, wp += 4) {
            acc = vmlaq_n_s32(acc, vldrbq_s32(wp), in_zp);
        }
    }
    acc = tr_mve_rq_apply(q, acc, c);
    if (tail) {
        vstrbq_p_s32(out + c, acc, p);
    } else {
        vstrbq_s32(out + c, acc);
    }
}

/* Every channel group of one output pixel. */
TINYRT_KERNEL void dw_mve_pixel_s8(const int8_t *in_b, const int8_t *weights, const int32_t *bias,
                                   int8_t *out, int in_h, int in_w, int ch, int k_h, int k_w,
                                   int dil_h, int dil_w, int iy0, int ix0, int32_t in_zp,
                                   const tr_mve_rq *q, int border)
{
    const int taps4 = k_h * k_w * 4;
    /* A register, not a symbol + offset per tap: keeps GCC from rematerialising each address. */
    const int8_t *w = weights;
    __asm__("" : "+r"(w));
    int c = 0;
    for (; c + 4 <= ch; c += 4, w += taps4) {
        dw_mve_group_s8(in_b, w, bias, out, in_h, in_w, ch, c, k_h, k_w,
                        dil_h, dil_w, iy0, ix0, in_zp, q, 0, border);
    }
    if (c < ch) {
        dw_mve_group_s8(in_b, w, bias, out, in_h, in_w, ch, c, k_h, k_w,
                        dil_h, dil_w, iy0, ix0, in_zp, q, 1, border);
    }
}

TINYRT_KERNEL void dwconv_s8_mve(const int8_t *input, const int8_t *weights, const int32_t *bias,
                                 int8_t *output, int batches, int in_h, int in_w, int ch,
                                 int k_h, int k_w, int out_h, int out_w, int stride_h,
                                 int stride_w, int dil_h, int dil_w, int pad_h, int pad_w,
                                 int y_lo, int y_hi, int x_lo, int x_hi, int32_t in_zp,
                                 int per_channel, int has_left, const int32_t *mult,
                                 const int32_t *left, const int32_t *neg_right, int32_t out_zp,
                                 int32_t act_min, int32_t act_max)
{
    const tr_mve_rq q = {mult, left, neg_right, per_channel, has_left, out_zp, act_min, act_max};
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * ch;
        int8_t *out = output + b * out_h * out_w * ch;
        for (int oy = 0; oy < out_h; oy++) {
            const int iy0 = oy * stride_h - pad_h;
            const int y_inside = oy >= y_lo && oy < y_hi;
            for (int ox = 0; ox < out_w; ox++) {
                const int ix0 = ox * stride_w - pad_w;
                if (y_inside && ox >= x_lo && ox < x_hi) {
                    dw_mve_pixel_s8(in_b, weights, bias, out, in_h, in_w, ch, k_h, k_w, dil_h,
                                    dil_w, iy0, ix0, in_zp, &q, 0);
                } else {
                    dw_mve_pixel_s8(in_b, weights, bias, out, in_h, in_w, ch, k_h, k_w, dil_h,
                                    dil_w, iy0, ix0, in_zp, &q, 1);
                }
                out += ch;
            }
        }
    }
}

#endif /* TINYRT_DWCONV_S8_MVE_H */
