/*
 * softmax_s8: int8 softmax over the last axis (TFLite reference_ops::Softmax<int8_t, int8_t>,
 * the kernel of tflite-runtime's BUILTIN_REF resolver), in gemmlowp fixed point.
 *
 * input  [outer, depth] int8, any zero point (it cancels: only differences to the row max count)
 * output [outer, depth] int8, scale 1/256, zero point -128
 * input_multiplier, input_left_shift: beta * input_scale * 2^26 (QuantizeMultiplierGreaterThanOne),
 *   so that (x - max) * multiplier is the exponent in Q5.26; diff_min: differences below it give 0.
 * No scratch. In-place safe (output == input): a row is read in full before its first write, and
 * the last pass reads element c before it writes output c.
 *
 * The tr_ helpers are gemmlowp's fixedpoint.h functions on int32 raw values, reusable by other
 * kernels. Additions wrap like the int32 adds of the compiled reference (done in uint32 here, so
 * C stays defined): they matter for rows whose sum of exps reaches 2^31 (depth >= 4096).
 */
#ifndef TINYRT_SOFTMAX_S8_H
#define TINYRT_SOFTMAX_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

static inline int32_t tr_add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t tr_sub_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0: x * 2^exponent, saturated. */
static inline int32_t tr_sat_shift_left(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((UINT32_C(1) << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* RoundingHalfSum: (a + b) / 2 rounded half away from zero, in 64 bits. */
static inline int32_t tr_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* CountLeadingZeros(uint32_t): 32 for 0, as TFLite's. */
static inline int tr_clz32(uint32_t x)
{
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & UINT32_C(0x80000000))) {
        x <<= 1;
        n++;
    }
    return n;
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8. */
static inline int32_t tr_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3 */
    const int32_t x = tr_add_wrap(a, INT32_C(1) << 28);
    const int32_t x2 = tr_sat_rounding_doubling_high_mul(x, x);
    const int32_t x3 = tr_sat_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = tr_sat_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = tr_rounding_divide_by_pot(x4, 2);
    const int32_t poly = tr_rounding_divide_by_pot(
        tr_add_wrap(tr_sat_rounding_doubling_high_mul(tr_add_wrap(x4_over_4, x3), constant_1_over_3),
                    x2),
        1);
    return tr_add_wrap(constant_term,
                       tr_sat_rounding_doubling_high_mul(constant_term, tr_add_wrap(x, poly)));
}

/* exp(a) for a <= 0; a has `integer_bits` integer bits (Q<integer_bits>.<31 - integer_bits>),
 * the result is Q0.31. gemmlowp's exp_on_negative_values. */
static inline int32_t tr_exp_on_negative_values(int32_t a, int integer_bits)
{
    static const int32_t multipliers[7] = {  /* exp(-2^k), k = -2 .. 4, in Q0.31 */
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
    };
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = INT32_C(1) << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = tr_sub_wrap(a & (one_quarter - 1), one_quarter);
    int32_t result = tr_exp_on_interval_between_negative_one_quarter_and_0_excl(
        integer_bits > 0 ? tr_sat_shift_left(a_mod_quarter_minus_one_quarter, integer_bits)
                         : a_mod_quarter_minus_one_quarter);
    const int32_t remainder = tr_sub_wrap(a_mod_quarter_minus_one_quarter, a);
    for (int k = -2; k <= 4; k++) {
        if (integer_bits > k && (remainder & (INT32_C(1) << (fractional_bits + k)))) {
            result = tr_sat_rounding_doubling_high_mul(result, multipliers[k + 2]);
        }
    }
    if (integer_bits > 5 && a < -(INT32_C(1) << (36 - integer_bits))) {
        result = 0;  /* below -32: exp underflows */
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: three Newton-Raphson steps in Q2.29. */
static inline int32_t tr_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int32_t half_denominator = tr_rounding_half_sum(a, INT32_MAX);
    const int32_t constant_48_over_17 = 1515870810;       /* Q2.29 */
    const int32_t constant_neg_32_over_17 = -1010580540;  /* Q2.29 */
    const int32_t one_q2 = INT32_C(1) << 29;
    int32_t x = tr_add_wrap(constant_48_over_17,
                            tr_sat_rounding_doubling_high_mul(half_denominator,
                                                              constant_neg_32_over_17));
    for (int i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = tr_sat_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus = tr_sub_wrap(one_q2, half_denominator_times_x);
        x = tr_add_wrap(x, tr_sat_shift_left(tr_sat_rounding_doubling_high_mul(x, one_minus), 2));
    }
    /* ExactMulByPot<-1> (Q2.29 -> Q1.30, same raw), then Rescale<0>. */
    return tr_sat_shift_left(x, 1);
}

/* TFLite's GetReciprocal: 1/x for x with `integer_digits` integer bits, as a Q0.31 value scaled
 * by 2^-num_bits_over_unit. */
static inline int32_t tr_get_reciprocal(int32_t x, int integer_digits, int *num_bits_over_unit)
{
    const int headroom_plus_one = tr_clz32((uint32_t)x);
    const uint32_t shifted = headroom_plus_one < 32 ? (uint32_t)x << headroom_plus_one : 0u;
    *num_bits_over_unit = integer_digits - headroom_plus_one;
    return tr_one_over_one_plus_x_for_x_in_0_1((int32_t)(shifted - (UINT32_C(1) << 31)));
}

/* The final RoundingDivideByPOT(x, exponent) of the reference. exponent is
 * num_bits_over_unit + 23, in [3, 35]; it exceeds 31 when a row's sum of exps is >= 512 (many
 * values near the row max). gemmlowp assumes exponent <= 31; the x86-64 tflite-runtime then
 * computes a mask of all ones (so the rounding threshold is -1 + (x < 0) and the rounding bit is
 * x >= 0) and shifts by exponent mod 32. This does the same, so such rows stay bit-exact: a
 * row of 1000 equal values comes out as 127 each, where 1/1000 would quantise to -128. */
static inline int32_t softmax_s8_divide_by_pot(int32_t x, int exponent)
{
    if (exponent <= 31) {
        return tr_rounding_divide_by_pot(x, exponent);
    }
    return tr_add_wrap(x >> (exponent - 32), x >= 0 ? 1 : 0);
}

TINYRT_KERNEL void softmax_s8(const int8_t *input, int8_t *output, int outer, int depth,
                              int32_t input_multiplier, int input_left_shift, int32_t diff_min)
{
    for (int i = 0; i < outer; i++) {
        const int8_t *x = input + i * depth;
        int8_t *y = output + i * depth;
        int32_t max_in_row = -128;
        for (int c = 0; c < depth; c++) {
            max_in_row = TR_MAX(max_in_row, (int32_t)x[c]);
        }
        int32_t sum_of_exps = 0;  /* Q12.19 */
        for (int c = 0; c < depth; c++) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= diff_min) {
                const int32_t scaled = tr_requantize_gt1(diff, input_multiplier, input_left_shift);
                sum_of_exps = tr_add_wrap(
                    sum_of_exps, tr_rounding_divide_by_pot(tr_exp_on_negative_values(scaled, 5), 12));
            }
        }
        int num_bits_over_unit;
        const int32_t shifted_scale = tr_get_reciprocal(sum_of_exps, 12, &num_bits_over_unit);
        const int exponent = num_bits_over_unit + 31 - 8;
        for (int c = 0; c < depth; c++) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            int32_t out = -128;
            if (diff >= diff_min) {
                const int32_t scaled = tr_requantize_gt1(diff, input_multiplier, input_left_shift);
                const int32_t e = tr_exp_on_negative_values(scaled, 5);
                const int32_t unsat = softmax_s8_divide_by_pot(
                    tr_sat_rounding_doubling_high_mul(shifted_scale, e), exponent);
                out = TR_CLAMP(tr_add_wrap(unsat, -128), -128, 127);
            }
            y[c] = (int8_t)out;
        }
    }
}

#endif /* TINYRT_SOFTMAX_S8_H */
