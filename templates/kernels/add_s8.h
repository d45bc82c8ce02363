/*
 * add_s8: int8 ADD and SUB (TFLite reference_integer_ops::Add / BroadcastAdd4DSlow, reference_ops::
 * Sub / BroadcastQuantSubSlow).
 *
 * a = rq((x + in1_offset) << 20, m1, s1), b = rq((y + in2_offset) << 20, m2, s2)
 * out = clamp(rq(a + b, mo, so) + out_zp, act_min, act_max)         (ADD)
 * out = clamp(rq(a - b, mo, so) + out_zp, act_min, act_max)         (SUB, reference_ops::SubFunc)
 * where rq is MultiplyByQuantizedMultiplierSmallerThanOneExp (shifts <= 0; all multipliers
 * positive). SUB subtracts: negating m2 and adding instead differs at rounding ties.
 * in*_offset are the negated input zero points, in [-127, 128].
 *
 * add_s8, sub_s8:   in1, in2, out: [size] int8, same shape.
 * *_broadcast:      out [d0, d1, d2, d3] int8, row-major; element (i0, i1, i2, i3) of input k is
 *                   ink[i0 * stridek[0] + ... + i3 * stridek[3]] (stride 0 on broadcast axes).
 * No scratch. In-place safe for out == in1 when in1 has the output's shape (every element is
 * read before it is written, and never again); out must not alias in2 unless in2 == in1.
 */
#ifndef TINYRT_ADD_S8_H
#define TINYRT_ADD_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

/* TFLite's left shift for the 8-bit path: (x - zp) * 2^20 fits int32 with room for the sum. */
#define TINYRT_ADD_LEFT_SHIFT 20

/* One element; `subtract` is a literal after inlining, so the branch folds away. */
TINYRT_KERNEL int8_t addsub_s8_one(int32_t x, int32_t y, int subtract,
                                   int32_t in1_offset, int32_t in1_mult, int in1_shift,
                                   int32_t in2_offset, int32_t in2_mult, int in2_shift,
                                   int32_t out_mult, int out_shift, int32_t out_zp,
                                   int32_t act_min, int32_t act_max)
{
    const int32_t a = tr_requantize_lt1((x + in1_offset) * (1 << TINYRT_ADD_LEFT_SHIFT),
                                        in1_mult, in1_shift);
    const int32_t b = tr_requantize_lt1((y + in2_offset) * (1 << TINYRT_ADD_LEFT_SHIFT),
                                        in2_mult, in2_shift);
    const int32_t acc = tr_requantize_lt1(subtract ? a - b : a + b, out_mult, out_shift) + out_zp;
    return (int8_t)TR_CLAMP(acc, act_min, act_max);
}

TINYRT_KERNEL void addsub_s8_elementwise(const int8_t *in1, const int8_t *in2, int8_t *out,
                                         int size, int subtract,
                                         int32_t in1_offset, int32_t in1_mult, int in1_shift,
                                         int32_t in2_offset, int32_t in2_mult, int in2_shift,
                                         int32_t out_mult, int out_shift, int32_t out_zp,
                                         int32_t act_min, int32_t act_max)
{
    for (int i = 0; i < size; i++) {
        out[i] = addsub_s8_one(in1[i], in2[i], subtract,
                               in1_offset, in1_mult, in1_shift, in2_offset, in2_mult, in2_shift,
                               out_mult, out_shift, out_zp, act_min, act_max);
    }
}

TINYRT_KERNEL void addsub_s8_broadcast(const int8_t *in1, const int8_t *in2, int8_t *out,
                                       const int32_t *dims, const int32_t *stride1,
                                       const int32_t *stride2, int subtract,
                                       int32_t in1_offset, int32_t in1_mult, int in1_shift,
                                       int32_t in2_offset, int32_t in2_mult, int in2_shift,
                                       int32_t out_mult, int out_shift, int32_t out_zp,
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
                    out[o++] = addsub_s8_one(a[i3 * s1[3]], b[i3 * s2[3]], subtract,
                                             in1_offset, in1_mult, in1_shift,
                                             in2_offset, in2_mult, in2_shift,
                                             out_mult, out_shift, out_zp, act_min, act_max);
                }
            }
        }
    }
}

TINYRT_KERNEL void add_s8(const int8_t *in1, const int8_t *in2, int8_t *out, int size,
                          int32_t in1_offset, int32_t in1_mult, int in1_shift,
                          int32_t in2_offset, int32_t in2_mult, int in2_shift,
                          int32_t out_mult, int out_shift, int32_t out_zp,
                          int32_t act_min, int32_t act_max)
{
    addsub_s8_elementwise(in1, in2, out, size, 0,
                          in1_offset, in1_mult, in1_shift, in2_offset, in2_mult, in2_shift,
                          out_mult, out_shift, out_zp, act_min, act_max);
}

TINYRT_KERNEL void sub_s8(const int8_t *in1, const int8_t *in2, int8_t *out, int size,
                          int32_t in1_offset, int32_t in1_mult, int in1_shift,
                          int32_t in2_offset, int32_t in2_mult, int in2_shift,
                          int32_t out_mult, int out_shift, int32_t out_zp,
                          int32_t act_min, int32_t act_max)
{
    addsub_s8_elementwise(in1, in2, out, size, 1,
                          in1_offset, in1_mult, in1_shift, in2_offset, in2_mult, in2_shift,
                          out_mult, out_shift, out_zp, act_min, act_max);
}

TINYRT_KERNEL void add_s8_broadcast(const int8_t *in1, const int8_t *in2, int8_t *out,
                                    const int32_t *dims, const int32_t *stride1,
                                    const int32_t *stride2,
                                    int32_t in1_offset, int32_t in1_mult, int in1_shift,
                                    int32_t in2_offset, int32_t in2_mult, int in2_shift,
                                    int32_t out_mult, int out_shift, int32_t out_zp,
                                    int32_t act_min, int32_t act_max)
{
    addsub_s8_broadcast(in1, in2, out, dims, stride1, stride2, 0,
                        in1_offset, in1_mult, in1_shift, in2_offset, in2_mult, in2_shift,
                        out_mult, out_shift, out_zp, act_min, act_max);
}

TINYRT_KERNEL void sub_s8_broadcast(const int8_t *in1, const int8_t *in2, int8_t *out,
                                    const int32_t *dims, const int32_t *stride1,
                                    const int32_t *stride2,
                                    int32_t in1_offset, int32_t in1_mult, int in1_shift,
                                    int32_t in2_offset, int32_t in2_mult, int in2_shift,
                                    int32_t out_mult, int out_shift, int32_t out_zp,
                                    int32_t act_min, int32_t act_max)
{
    addsub_s8_broadcast(in1, in2, out, dims, stride1, stride2, 1,
                        in1_offset, in1_mult, in1_shift, in2_offset, in2_mult, in2_shift,
                        out_mult, out_shift, out_zp, act_min, act_max);
}

#endif /* TINYRT_ADD_S8_H */
