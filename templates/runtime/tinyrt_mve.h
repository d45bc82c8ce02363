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

/*
 * A compiler fence at the entry and exit of every MVE layer kernel: all layers are inlined into
 * one function, and without it GCC moves loads and address computations between layers, which
 * lengthens live ranges until the GEMV's four accumulators spill (12 -> 18 instructions per
 * chunk on kws). No instruction is emitted.
 */
#define TR_MVE_LAYER_FENCE() __asm__ volatile("" ::: "memory")

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
 * The requantisation forms the generator picks per layer (literal `mode`; all exact):
 *   TR_MVE_RQ_EXACT  any shifts: tr_mve_requant (6 instructions, 5 without a left shift)
 *   TR_MVE_RQ_RIGHT  every shift < 0: right > 0 everywhere, so the fixup is the sign of y alone
 *                    and y - 1 cannot wrap (VQRDMULH never returns INT32_MIN): 4 instructions
 *   TR_MVE_RQ_LEFT   every shift >= 0: no rounding division at all: 2 instructions
 */
#define TR_MVE_RQ_EXACT 0
#define TR_MVE_RQ_RIGHT 1
#define TR_MVE_RQ_LEFT 2

/* Per-lane multiplier, left shift, negated right shift (unused ones may be anything). */
static inline __attribute__((always_inline)) int32x4_t
tr_mve_rq_mode(int mode, int32x4_t acc, int32x4_t mult, int32x4_t left, int32x4_t neg_right)
{
    if (mode == TR_MVE_RQ_RIGHT) {
        const int32x4_t y = vqrdmulhq_s32(acc, mult);
        return vrshlq_s32(vaddq_s32(y, vshrq_n_s32(y, 31)), neg_right);
    }
    if (mode == TR_MVE_RQ_LEFT) {
        return vqrdmulhq_s32(vshlq_s32(acc, left), mult);
    }
    return tr_mve_requant(acc, mult, left, neg_right);
}

/* The same with one multiplier and shift for every lane (literals: a zero shift drops out). */
static inline __attribute__((always_inline)) int32x4_t
tr_mve_rq_mode_n(int mode, int32x4_t acc, int32_t mult, int32_t left, int32_t neg_right)
{
    if (mode == TR_MVE_RQ_RIGHT) {
        const int32x4_t y = vqrdmulhq_n_s32(acc, mult);
        return vrshlq_n_s32(vaddq_s32(y, vshrq_n_s32(y, 31)), neg_right);
    }
    if (mode == TR_MVE_RQ_LEFT) {
        return vqrdmulhq_n_s32(left ? vshlq_r_s32(acc, left) : acc, mult);
    }
    return tr_mve_requant_n(acc, mult, left, neg_right);
}

/* Even and odd channels' results (VMULLB/VMULLT order) back in channel order, saturated to
 * int16 (no value that saturates can come back inside the int8 clamp). Together the two
 * narrowings write every lane of a fresh register; through the intrinsics GCC would first copy
 * or spill a vector to merge into. */
static inline __attribute__((always_inline)) int16x8_t tr_mve_interleave_s32(int32x4_t even,
                                                                             int32x4_t odd)
{
    int16x8_t r;
    __asm__("vqmovnb.s32 %q0, %q1\n\tvqmovnt.s32 %q0, %q2" : "=&w"(r) : "w"(even), "w"(odd));
    return r;
}

/* y saturated to int8 in the low byte of each 16-bit lane (what VSTRB.16 stores). */
static inline __attribute__((always_inline)) int16x8_t tr_mve_sat_s8(int16x8_t y)
{
    int16x8_t r;
    __asm__("vqmovnb.s16 %q0, %q1" : "=w"(r) : "w"(y));
    return r;
}

/* out[0, n) = clamp(y + out_zp) as int8 (n, act_min, act_max literals). The zp add saturates
 * (a saturated value stays beyond the clamp); the final saturating narrow to int8 is the clamp
 * to [-128, 127], so a bound is only applied when the activation is tighter. */
static inline __attribute__((always_inline)) void tr_mve_store_s16(int8_t *out, int16x8_t y,
                                                                   int32_t out_zp, int32_t act_min,
                                                                   int32_t act_max, int n)
{
    y = vqaddq_n_s16(y, (int16_t)out_zp);
    if (act_min > -128) {
        y = vmaxq_s16(y, vdupq_n_s16((int16_t)act_min));
    }
    if (act_max < 127) {
        y = vminq_s16(y, vdupq_n_s16((int16_t)act_max));
    }
    y = tr_mve_sat_s8(y);
    if (n >= 8) {
        vstrbq_s16(out, y);
    } else {
        vstrbq_p_s16(out, y, vctp16q((uint32_t)n));
    }
}

/* n bytes (a literal in the kernels): whole vectors, then one predicated one. */
static inline __attribute__((always_inline)) void tr_mve_copy_s8(int8_t *dst, const int8_t *src,
                                                                 int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        vstrbq_s8(dst + i, vldrbq_s8(src + i));
    }
    if (i < n) {
        const mve_pred16_t p = vctp8q((uint32_t)(n - i));
        vstrbq_p_s8(dst + i, vldrbq_z_s8(src + i, p), p);
    }
}

static inline __attribute__((always_inline)) void tr_mve_fill_s8(int8_t *dst, int8_t v, int n)
{
    const int8x16_t d = vdupq_n_s8(v);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        vstrbq_s8(dst + i, d);
    }
    if (i < n) {
        vstrbq_p_s8(dst + i, d, vctp8q((uint32_t)(n - i)));
    }
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
