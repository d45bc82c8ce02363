/*
 * add_s8_mve: int8 elementwise ADD and SUB on Helium (TFLite reference_integer_ops::Add,
 * reference_ops::Sub), four elements per vector, TFLite's integer arithmetic lane by lane:
 *
 *   a = rq((x + in1_offset) << 20, m1, s1), b = rq((y + in2_offset) << 20, m2, s2)
 *   out = clamp(rq(a + b, mo, so) + out_zp, act_min, act_max)      (a - b for SUB)
 *
 * rq is MultiplyByQuantizedMultiplierSmallerThanOneExp (every shift <= 0), computed exactly
 * by tr_mve_rq_mode_n (tinyrt_mve.h): mode RIGHT for a shift < 0, LEFT (no division) for 0.
 * (x + offset) << 20 is one VMLAS: x * 2^20 + (offset << 20).
 *
 * in1, in2, out: [size] int8, same shape; out may be in1 (each vector is loaded before the
 * same elements are stored). The last size % 4 elements are read and written with predicates.
 * ~21 instructions per 4 elements. No scratch.
 */
#ifndef TINYRT_ADD_S8_MVE_H
#define TINYRT_ADD_S8_MVE_H

#include <stdint.h>

#include "../tinyrt_mve.h"

/* Four elements; all scalar arguments are literals. */
TINYRT_KERNEL int32x4_t add_mve_four(int32x4_t x, int32x4_t y, int32x4_t two20, int subtract,
                                     int32_t off1, int32_t m1, int mode1, int32_t nr1,
                                     int32_t off2, int32_t m2, int mode2, int32_t nr2,
                                     int32_t mo, int mode_o, int32_t nro, int32_t out_zp,
                                     int32_t act_min, int32_t act_max)
{
    const int32x4_t a = tr_mve_rq_mode_n(mode1, vmlasq_n_s32(x, two20, off1 * (1 << 20)), m1,
                                         0, nr1);
    const int32x4_t b = tr_mve_rq_mode_n(mode2, vmlasq_n_s32(y, two20, off2 * (1 << 20)), m2,
                                         0, nr2);
    const int32x4_t acc = subtract ? vsubq_s32(a, b) : vaddq_s32(a, b);
    return tr_mve_out(tr_mve_rq_mode_n(mode_o, acc, mo, 0, nro), out_zp, act_min, act_max);
}

TINYRT_KERNEL void add_s8_mve(const int8_t *in1, const int8_t *in2, int8_t *out, int size,
                              int subtract, int32_t off1, int32_t m1, int mode1, int32_t nr1,
                              int32_t off2, int32_t m2, int mode2, int32_t nr2, int32_t mo,
                              int mode_o, int32_t nro, int32_t out_zp, int32_t act_min,
                              int32_t act_max)
{
    TR_MVE_LAYER_FENCE();
    const int32x4_t two20 = vdupq_n_s32(1 << 20);
    int i = 0;
    for (; i + 4 <= size; i += 4) {
        const int32x4_t r = add_mve_four(vldrbq_s32(in1 + i), vldrbq_s32(in2 + i), two20,
                                         subtract, off1, m1, mode1, nr1, off2, m2, mode2, nr2,
                                         mo, mode_o, nro, out_zp, act_min, act_max);
        vstrbq_s32(out + i, r);
    }
    if (i < size) {
        const mve_pred16_t p = vctp32q((uint32_t)(size - i));
        const int32x4_t r = add_mve_four(vldrbq_z_s32(in1 + i, p), vldrbq_z_s32(in2 + i, p),
                                         two20, subtract, off1, m1, mode1, nr1, off2, m2, mode2,
                                         nr2, mo, mode_o, nro, out_zp, act_min, act_max);
        vstrbq_p_s32(out + i, r, p);
    }
    TR_MVE_LAYER_FENCE();
}

#endif /* TINYRT_ADD_S8_MVE_H */
