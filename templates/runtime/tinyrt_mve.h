/*
 * tinyrt_mve.h: what the Helium (MVE integer) kernels (*_mve.h) build on.
 *
 * 1. <arm_mve.h> on a core with MVE (Cortex-M55/M85); anything else stops with #error (a board
 *    must not list the feature "mve" without it). There is no host twin of the intrinsics: the
 *    portable kernels are the twins, both held to tflite-runtime (tests/test_kernels_mve.py).
 * 2. tr_mve_requant(): TFLite's MultiplyByQuantizedMultiplier on four int32 lanes, exact for
 *    every accumulator, multiplier and shift:
 *      x = acc << left                  VSHL wraps like TFLite's int32 multiply by 2^left
 *      y = SRDHM(x, mult)               VQRDMULH is (2 x m + 2^31) >> 32 saturated, which is
 *                                       gemmlowp's (x m + 2^30) >> 31 with its one saturation
 *      RoundingDivideByPOT(y, right)    VRSHL by -right rounds half up in full precision; half
 *                                       away from zero is that applied to y - 1 for y < 0
 *                                       (fixup = (y & -right) >> 31 is -1 exactly when y < 0
 *                                       and right > 0; the saturating add only changes
 *                                       INT32_MIN, whose result it cannot change)
 *    The generator splits each TFLite shift into left = max(shift, 0) and neg_right =
 *    min(shift, 0) (tinyrt/kernels/conv2d_s8_mve.py, `requant`).
 * 3. tr_mve_gemv4_s8(): one input row times the filters, 4 filters at a time (the GEMM of the
 *    1x1, KxK and FULLY_CONNECTED kernels, like CMSIS-NN's arm_nn_vec_mat_mult_t_s8).
 */
#ifndef TINYRT_MVE_H
#define TINYRT_MVE_H

#include <stdint.h>

#include "tinyrt_math.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#else
#error "tinyrt: the *_mve kernels need a core with Helium (MVE): Cortex-M55/M85; this board's features must not list mve"
#endif

/* Per-lane multiplier, left shift and (negated) right shift. */
static inline __attribute__((always_inline)) int32x4_t
tr_mve_requant(int32x4_t acc, int32x4_t mult, int32x4_t left, int32x4_t neg_right)
{
    const int32x4_t y = vqrdmulhq_s32(vshlq_s32(acc, left), mult);
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(y, neg_right), 31);
    return vrshlq_s32(vqaddq_s32(y, fixup), neg_right);
}

/* The same with one multiplier and shift for all four lanes (scalars, may be literals). */
static inline __attribute__((always_inline)) int32x4_t
tr_mve_requant_n(int32x4_t acc, int32_t mult, int32_t left, int32_t neg_right)
{
    const int32x4_t y = vqrdmulhq_n_s32(vshlq_r_s32(acc, left), mult);
    const int32x4_t fixup = vshrq_n_s32(vandq_s32(y, vdupq_n_s32(neg_right)), 31);
    return vrshlq_n_s32(vqaddq_s32(y, fixup), neg_right);
}

/* + out_zp, clamped to [act_min, act_max] (still int32 lanes; VSTRB.32 narrows). */
static inline __attribute__((always_inline)) int32x4_t
tr_mve_out(int32x4_t y, int32_t out_zp, int32_t act_min, int32_t act_max)
{
    y = vaddq_n_s32(y, out_zp);
    return vminq_s32(vmaxq_s32(y, vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
}

/*
 * Requantisation of one layer: per-channel arrays (per_channel != 0) or element 0 of each for
 * every channel; has_left == 0 when every left shift is 0 (the VSHL is dropped). Both flags
 * are literals of each call.
 */
typedef struct {
    const int32_t *mult, *left, *neg_right;
    int per_channel, has_left;
    int32_t out_zp, act_min, act_max;
} tr_mve_rq;

/* Requantise 4 accumulators of channels [c, c + 4) and clamp them. */
static inline __attribute__((always_inline)) int32x4_t tr_mve_rq_apply(const tr_mve_rq *q,
                                                                       int32x4_t acc, int c)
{
    int32x4_t y;
    if (q->per_channel) {
        if (q->has_left) {
            acc = vshlq_s32(acc, vldrwq_s32(q->left + c));
        }
        const int32x4_t nr = vldrwq_s32(q->neg_right + c);
        y = vqrdmulhq_s32(acc, vldrwq_s32(q->mult + c));
        y = vrshlq_s32(vqaddq_s32(y, vshrq_n_s32(vandq_s32(y, nr), 31)), nr);
    } else {
        if (q->has_left) {
            acc = vshlq_r_s32(acc, q->left[0]);
        }
        const int32_t nr = q->neg_right[0];
        y = vqrdmulhq_n_s32(acc, q->mult[0]);
        y = vrshlq_n_s32(vqaddq_s32(y, vshrq_n_s32(vandq_s32(y, vdupq_n_s32(nr)), 31)), nr);
    }
    return tr_mve_out(y, q->out_zp, q->act_min, q->act_max);
}

/*
 * y[f] = requant(bias[f] + dot(x, w[f])) for f < out_c.
 * w: [ceil(out_c / 4)][ceil(depth / 16)][4][16] int8: four filters' 16-byte chunks side by side,
 * zero-padded to whole chunks and whole groups of 4 (the generator lays it out), so one pointer
 * walks it and the padding adds 0. bias: out_c rounded up to 4. x is read with a predicated
 * load in its last partial chunk: nothing past x + depth is read.
 * Per chunk: 5 loads and 4 VMLADAVA for 64 MACs.
 */
static inline __attribute__((always_inline)) void
tr_mve_gemv4_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y, int out_c,
                int depth, const tr_mve_rq *q)
{
    const int full = depth / 16, rem = depth % 16;
    for (int f = 0; f < out_c; f += 4) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const int8_t *xp = x;
        for (int k = 0; k < full; k++) {
            const int8x16_t v = vldrbq_s8(xp);
            xp += 16;
            a0 = vmladavaq_s8(a0, v, vldrbq_s8(w));
            a1 = vmladavaq_s8(a1, v, vldrbq_s8(w + 16));
            a2 = vmladavaq_s8(a2, v, vldrbq_s8(w + 32));
            a3 = vmladavaq_s8(a3, v, vldrbq_s8(w + 48));
            w += 64;
        }
        if (rem) {
            const int8x16_t v = vldrbq_z_s8(xp, vctp8q((uint32_t)rem));
            a0 = vmladavaq_s8(a0, v, vldrbq_s8(w));
            a1 = vmladavaq_s8(a1, v, vldrbq_s8(w + 16));
            a2 = vmladavaq_s8(a2, v, vldrbq_s8(w + 32));
            a3 = vmladavaq_s8(a3, v, vldrbq_s8(w + 48));
            w += 64;
        }
        int32x4_t acc = vdupq_n_s32(a0);
        acc = vsetq_lane_s32(a1, acc, 1);
        acc = vsetq_lane_s32(a2, acc, 2);
        acc = vsetq_lane_s32(a3, acc, 3);
        acc = tr_mve_rq_apply(q, vaddq_s32(acc, vldrwq_s32(bias + f)), f);
        if (f + 4 <= out_c) {
            vstrbq_s32(y + f, acc);
        } else {
            vstrbq_p_s32(y + f, acc, vctp32q((uint32_t)(out_c - f)));
        }
    }
}

#endif /* TINYRT_MVE_H */
