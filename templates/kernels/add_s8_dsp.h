/*
 * add_s8_dsp: int8 elementwise ADD and SUB (TFLite reference_integer_ops::Add,
 * reference_ops::Sub) with the input rescaling done by the generator.
 *
 * in1, in2, out: [size] int8, same shape; out may be in1 (each element is read before it is
 * written, and never again).
 * lut1, lut2: [256] int32, indexed by the input byte (x + 128): TFLite's rescaled operand
 *             rq((x - zp) << 20, m, s) of each input, exact by construction
 *             (tinyrt/kernels/add_s8_dsp.py); lut2 is negated for SUB (a - b = a + (-b) exactly).
 *             In the RIGHT and LEFT modes the entries are doubled, so the output requantisation
 *             needs no doubling: RIGHT is SMMULR(acc, mult), LEFT shifts by rq_shift - 1.
 * mode, rq_mult, rq_shift, rq_add: tr_requant's (tinyrt_dsp.h) for the output rescaling, one
 * value each (literals), proved exact from the tables' largest entries.
 * Per element: two LDRB, two LDR, ADD, a 4-5 instruction requantisation, clamp, STRB; instead
 * of three ~35-instruction MultiplyByQuantizedMultiplier calls. No scratch.
 */
#ifndef TINYRT_ADD_S8_DSP_H
#define TINYRT_ADD_S8_DSP_H

#include <stdint.h>

#include "../tinyrt_dsp.h"

TINYRT_KERNEL int8_t add_dsp_one(int mode, int32_t acc, int32_t mult, int32_t shift,
                                 int32_t add, int32_t act_min, int32_t act_max)
{
    return tr_clamp_s8(tr_requant_doubled(mode, acc, mult, shift, add), act_min, act_max);
}

TINYRT_KERNEL void add_s8_dsp(const int8_t *in1, const int8_t *in2, int8_t *out, int size,
                              const int32_t *lut1, const int32_t *lut2, int mode,
                              int32_t rq_mult, int32_t rq_shift, int32_t rq_add,
                              int32_t act_min, int32_t act_max)
{
    /* Tables indexed by the signed byte: entry x + 128. */
    const int32_t *t1 = lut1 + 128, *t2 = lut2 + 128;
    int i = 0;
    /* Two elements per step: both pairs are loaded before either result is stored (out may be
     * in1), and the loop branch is paid once per two. */
    for (; i + 2 <= size; i += 2) {
        const int32_t s0 = t1[in1[i]] + t2[in2[i]];
        const int32_t s1 = t1[in1[i + 1]] + t2[in2[i + 1]];
        out[i] = add_dsp_one(mode, s0, rq_mult, rq_shift, rq_add, act_min, act_max);
        out[i + 1] = add_dsp_one(mode, s1, rq_mult, rq_shift, rq_add, act_min, act_max);
    }
    if (i < size) {
        out[i] = add_dsp_one(mode, t1[in1[i]] + t2[in2[i]], rq_mult, rq_shift, rq_add, act_min,
                             act_max);
    }
}

#endif /* TINYRT_ADD_S8_DSP_H */
