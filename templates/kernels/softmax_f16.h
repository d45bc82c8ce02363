/*
 * softmax_f16: float softmax over the last axis for the FP16-compute path (TFLite
 * reference_ops::Softmax, float): fp16 in and out, computed in float32 inside.
 * input/output [outer, depth] fp16; scratch: depth floats (SOFTMAX_F16_SCRATCH_BYTES).
 * Per row:
 *   1. max = the largest x[c]; d[c] = ((float)x[c] - max) * beta into scratch (scalar: the
 *      f16 -> f32 conversion is the FPU's VCVTB, as QEMU 7.2 does not run MVE's; see
 *      docs/fp16.md);
 *   2. e[c] = exp(d[c]) in place, by softmax_f16_exp below (not libm's expf, so that Helium can
 *      compute it 4 lanes at a time: Cody-Waite reduction d = n ln2 + r, |r| <= ln2 / 2,
 *      Cephes' degree-7 polynomial for e^r, 2^n put in the exponent bits; about 1 float ulp,
 *      far below the fp16 rounding of the output), summed in four chains (chain k takes
 *      c = k mod 4: the 4 vector lanes), combined as (s0 + s1) + (s2 + s3);
 *   3. y[c] = (fp16)(e[c] * (1 / sum)) (scalar VCVTB again).
 * d is clamped to [-87, 88] first: exp(-87) is a normal float whose quotient by sum >= 1 rounds
 * to fp16 zero like exp of anything smaller, and n then stays within the normal exponents.
 * The MVE version (float32x4, fused VFMA, predicated tail) and the portable one (fmaf, which
 * compiles to the same fused VFMA on Arm and is correctly rounded in glibc) perform the same
 * float operations in the same order: the same bits. In-place safe: a row is read whole
 * (step 1) before it is written (step 3).
 */
#ifndef TINYRT_SOFTMAX_F16_H
#define TINYRT_SOFTMAX_F16_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../tinyrt_f16.h"

#define SOFTMAX_F16_SCRATCH_BYTES(depth) (4 * (depth))

#define TR_EXP_LO (-87.0f)
#define TR_EXP_HI 88.0f
#define TR_EXP_SHIFTER 12582912.0f          /* 1.5 * 2^23: adding it rounds to an integer */
#define TR_EXP_LOG2E 1.44269504088896341f
#define TR_EXP_LN2_HI 0.693359375f          /* ln 2 = LN2_HI + LN2_LO, LN2_HI with 9 bits */
#define TR_EXP_LN2_LO (-2.12194440e-4f)
#define TR_EXP_P0 1.9875691500e-4f          /* Cephes expf */
#define TR_EXP_P1 1.3981999507e-3f
#define TR_EXP_P2 8.3334519073e-3f
#define TR_EXP_P3 4.1665795894e-2f
#define TR_EXP_P4 1.6666665459e-1f
#define TR_EXP_P5 5.0000001201e-1f

TINYRT_KERNEL float softmax_f16_exp(float d)
{
    d = d < TR_EXP_LO ? TR_EXP_LO : d > TR_EXP_HI ? TR_EXP_HI : d;
    const float t = fmaf(d, TR_EXP_LOG2E, TR_EXP_SHIFTER);
    const float n = t - TR_EXP_SHIFTER;
    float r = fmaf(n, -TR_EXP_LN2_HI, d);
    r = fmaf(n, -TR_EXP_LN2_LO, r);
    float p = fmaf(TR_EXP_P0, r, TR_EXP_P1);
    p = fmaf(p, r, TR_EXP_P2);
    p = fmaf(p, r, TR_EXP_P3);
    p = fmaf(p, r, TR_EXP_P4);
    p = fmaf(p, r, TR_EXP_P5);
    p = fmaf(p, r * r, r) + 1.0f;
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits << 23) + 0x3f800000u;      /* t's low mantissa bits hold n: 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

#if TINYRT_F16_MVE
TINYRT_KERNEL float32x4_t softmax_f16_vexp(float32x4_t d)
{
    d = vminnmq_f32(vmaxnmq_f32(d, vdupq_n_f32(TR_EXP_LO)), vdupq_n_f32(TR_EXP_HI));
    const float32x4_t t = vfmaq_n_f32(vdupq_n_f32(TR_EXP_SHIFTER), d, TR_EXP_LOG2E);
    const float32x4_t n = vsubq_n_f32(t, TR_EXP_SHIFTER);
    float32x4_t r = vfmaq_n_f32(d, n, -TR_EXP_LN2_HI);
    r = vfmaq_n_f32(r, n, -TR_EXP_LN2_LO);
    float32x4_t p = vfmaq_n_f32(vdupq_n_f32(TR_EXP_P1), r, TR_EXP_P0);
    p = vfmasq_n_f32(p, r, TR_EXP_P2);
    p = vfmasq_n_f32(p, r, TR_EXP_P3);
    p = vfmasq_n_f32(p, r, TR_EXP_P4);
    p = vfmasq_n_f32(p, r, TR_EXP_P5);
    p = vaddq_n_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), 1.0f);
    const uint32x4_t bits = vaddq_n_u32(vshlq_n_u32(vreinterpretq_u32_f32(t), 23), 0x3f800000u);
    return vmulq_f32(p, vreinterpretq_f32_u32(bits));
}
#endif

/* e[c] = exp(e[c]) for c < depth; returns their sum in four chains. */
TINYRT_KERNEL float softmax_f16_exp_sum(float *e, int depth)
{
#if TINYRT_F16_MVE
    float32x4_t s = vdupq_n_f32(0.0f);
    for (int c = 0; c < depth; c += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(depth - c));
        const float32x4_t v = softmax_f16_vexp(vldrwq_z_f32(e + c, p));
        vstrwq_p_f32(e + c, v, p);
        s = vaddq_m_f32(s, s, v, p);
    }
    return (vgetq_lane_f32(s, 0) + vgetq_lane_f32(s, 1))
        + (vgetq_lane_f32(s, 2) + vgetq_lane_f32(s, 3));
#else
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int c = 0; c < depth; c++) {
        e[c] = softmax_f16_exp(e[c]);
        s[c & 3] += e[c];
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
#endif
}

TINYRT_KERNEL void softmax_f16(const uint16_t *input, uint16_t *output, float *scratch,
                               int outer, int depth, float beta)
{
    for (int i = 0; i < outer; i++) {
        const tr_f16 *x = (const tr_f16 *)input + i * depth;
        tr_f16 *y = (tr_f16 *)output + i * depth;
        float max = (float)x[0];
        for (int c = 1; c < depth; c++) {
            max = TR_MAX(max, (float)x[c]);
        }
        for (int c = 0; c < depth; c++) {
            scratch[c] = ((float)x[c] - max) * beta;
        }
        const float inv = 1.0f / softmax_f16_exp_sum(scratch, depth);
        for (int c = 0; c < depth; c++) {
            y[c] = (tr_f16)(scratch[c] * inv);
        }
    }
}

#endif /* TINYRT_SOFTMAX_F16_H */
