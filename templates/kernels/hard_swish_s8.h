/*
 * hard_swish_s8: int8 HARD_SWISH, x * relu6(x + 3) / 6 (TFLite reference_ops::HardSwish<int8_t>).
 *
 * 16-bit fixed point throughout, bit for bit as the reference:
 *   v      = (x - in_zp) * 2^7                              input on the "hires" scale
 *   pre    = SRDHM16(v, out_mult)                           value on the pre-shift output scale
 *   r      = v rescaled by (reluish_mult, reluish_exp) so that +-3.0 maps to +-32768 (saturating),
 *   r      = (r + 2^15) >> 1                                 relu-ish factor in [0, 1]
 *   out    = clamp(RDBP16(SDHM16(r, pre), -out_exp) + out_zp (wrapped to int16), -128, 127)
 * SRDHM16/SDHM16 are gemmlowp's SaturatingRoundingDoublingHighMul and TFLite's
 * SaturatingDoublingHighMul on int16, RDBP16 gemmlowp's RoundingDivideByPOT on int16 (its mask
 * is truncated to 16 bits, so exponents of 16 and more behave as the reference does).
 * out_exp is in [-31, 0], reluish_exp in [-31, 31]; multipliers are int16 (Q15).
 * in, out: [size] int8. No scratch. In-place safe (out == in): elementwise.
 */
#ifndef TINYRT_HARD_SWISH_S8_H
#define TINYRT_HARD_SWISH_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL int16_t hswish_srdhm16(int16_t a, int16_t b)
{
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    const int32_t ab = (int32_t)a * (int32_t)b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* Rounds toward zero, unlike hswish_srdhm16. */
TINYRT_KERNEL int16_t hswish_sdhm16(int16_t a, int16_t b)
{
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

TINYRT_KERNEL int16_t hswish_rdbp16(int16_t x, int exponent)
{
    const int16_t mask = (int16_t)((INT64_C(1) << exponent) - 1);
    const int16_t remainder = (int16_t)(x & mask);
    const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
    return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

TINYRT_KERNEL int16_t hswish_sat_left_shift16(int16_t x, int amount)
{
    const int64_t y = (int64_t)x * (INT64_C(1) << amount);
    return (int16_t)TR_CLAMP(y, INT16_MIN, INT16_MAX);
}

TINYRT_KERNEL void hard_swish_s8(const int8_t *in, int8_t *out, int size, int32_t in_zp,
                                 int32_t out_zp, int16_t out_mult, int out_exp,
                                 int16_t reluish_mult, int reluish_exp)
{
    for (int i = 0; i < size; i++) {
        const int16_t v = (int16_t)(((int32_t)in[i] - in_zp) * (1 << 7));
        const int16_t pre = hswish_srdhm16(v, out_mult);
        int16_t r = v;
        if (reluish_exp > 0) {
            r = hswish_sat_left_shift16(r, reluish_exp - 1);
        }
        r = hswish_srdhm16(r, reluish_mult);
        if (reluish_exp > 0) {
            r = hswish_sat_left_shift16(r, 1);
        }
        if (reluish_exp < 0) {
            r = hswish_rdbp16(r, -reluish_exp);
        }
        r = (int16_t)(((int32_t)r + (1 << 15)) >> 1);
        int16_t y = hswish_rdbp16(hswish_sdhm16(r, pre), -out_exp);
        y = (int16_t)(y + out_zp);
        out[i] = (int8_t)TR_CLAMP(y, -128, 127);
    }
}

#endif /* TINYRT_HARD_SWISH_S8_H */
