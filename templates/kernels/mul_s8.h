/*
 * mul_s8: int8 MUL (TFLite reference_integer_ops::Mul / BroadcastMul4DSlow, MulElementwise).
 *
 * out = clamp(rq((x + in1_offset) * (y + in2_offset), mult, shift) + out_zp, act_min, act_max)
 * where rq is MultiplyByQuantizedMultiplier (tr_requantize; shift may be positive) and
 * in*_offset are the negated input zero points, in [-127, 128]: the product fits int32.
 *
 * mul_s8:           in1, in2, out: [size] int8, same shape.
 * mul_s8_broadcast: out [d0, d1, d2, d3] int8, row-major; element (i0, i1, i2, i3) of input k is
 *                   ink[i0 * stridek[0] + ... + i3 * stridek[3]] (stride 0 on broadcast axes).
 * No scratch. In-place safe for out == in1 when in1 has the output's shape (every element is
 * read before it is written, and never again); out must not alias in2 unless in2 == in1.
 */
#ifndef TINYRT_MUL_S8_H
#define TINYRT_MUL_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL int8_t mul_s8_one(int32_t x, int32_t y, int32_t in1_offset, int32_t in2_offset,
                                int32_t mult, int shift, int32_t out_zp,
                                int32_t act_min, int32_t act_max)
{
    const int32_t acc = tr_requantize((x + in1_offset) * (y + in2_offset), mult, shift) + out_zp;
    return (int8_t)TR_CLAMP(acc, act_min, act_max);
}

TINYRT_KERNEL void mul_s8(const int8_t *in1, const int8_t *in2, int8_t *out, int size,
                          int32_t in1_offset, int32_t in2_offset, int32_t mult, int shift,
                          int32_t out_zp, int32_t act_min, int32_t act_max)
{
    for (int i = 0; i < size; i++) {
        out[i] = mul_s8_one(in1[i], in2[i], in1_offset, in2_offset, mult, shift, out_zp,
                            act_min, act_max);
    }
}

TINYRT_KERNEL void mul_s8_broadcast(const int8_t *in1, const int8_t *in2, int8_t *out,
                                    const int32_t *dims, const int32_t *stride1,
                                    const int32_t *stride2, int32_t in1_offset,
                                    int32_t in2_offset, int32_t mult, int shift, int32_t out_zp,
                                    int32_t act_min, int32_t act_max)
{
    /* Local copies: stores through the int8 output may alias the arrays, locals cannot. */
    int32_t n[4], s1[4], s2[4];
    for (int k = 0; k < 4; k++) {
        n[k] = dims[k];
        s1[k] = stride1[k];
        s2[k] = stride2[k];
    }
    int o = 0;
    for (int i0 = 0; i0 < n[0]; i0++) {
        for (int i1 = 0; i1 < n[1]; i1++) {
            for (int i2 = 0; i2 < n[2]; i2++) {
                const int8_t *a = in1 + i0 * s1[0] + i1 * s1[1] + i2 * s1[2];
                const int8_t *b = in2 + i0 * s2[0] + i1 * s2[1] + i2 * s2[2];
                for (int i3 = 0; i3 < n[3]; i3++) {
                    out[o++] = mul_s8_one(a[i3 * s1[3]], b[i3 * s2[3]], in1_offset,
                                          in2_offset, mult, shift, out_zp, act_min, act_max);
                }
            }
        }
    }
}

#endif /* TINYRT_MUL_S8_H */
