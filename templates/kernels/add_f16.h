/*
 * add_f16 / sub_f16 (elementwise) and *_broadcast (up to 4 axes): float ADD and SUB computed in
 * FP16 (TFLite reference_ops::Add / Sub, float, with fp16 arithmetic; docs/fp16.md), clamped to
 * [act_min, act_max]. Operands are fp16 activations or fp16 constants.
 * One fp16 add (sub) per element; the MVE versions (8 per vector, predicated tail) and the
 * portable ones give the same bits. Broadcast: dims[4] with dims[3] fastest, element strides per
 * input (0 along a broadcast axis; along dims[3] a stride is 0 or 1, as
 * tinyrt/ops/add_sub.broadcast_layout merges and drops axes): the MVE version vectorises each
 * row of dims[3] outputs, loading an operand of stride 1 and repeating one of stride 0.
 * In-place safe (output may alias an input of the output's size; a row's loads precede its
 * stores).
 */
#ifndef TINYRT_ADD_F16_H
#define TINYRT_ADD_F16_H

#include <stdint.h>

#include "../tinyrt_f16.h"

TINYRT_KERNEL void addsub_f16_portable(const uint16_t *a, const uint16_t *b, uint16_t *output,
                                       int size, float act_min, float act_max, int subtract)
{
    const tr_f16 *x = (const tr_f16 *)a, *y = (const tr_f16 *)b;
    tr_f16 *out = (tr_f16 *)output;
    const tr_f16 lo = (tr_f16)act_min, hi = (tr_f16)act_max;
    for (int i = 0; i < size; i++) {
        const tr_f16 r = subtract ? tr_f16_sub(x[i], y[i]) : tr_f16_add(x[i], y[i]);
        out[i] = tr_f16_clamp(r, lo, hi);
    }
}

#if TINYRT_F16_MVE
TINYRT_KERNEL void addsub_f16_mve(const uint16_t *a, const uint16_t *b, uint16_t *output,
                                  int size, float act_min, float act_max, int subtract)
{
    const float16_t *x = (const float16_t *)a, *y = (const float16_t *)b;
    float16_t *out = (float16_t *)output;
    const float16x8_t lo = vdupq_n_f16((float16_t)act_min), hi = vdupq_n_f16((float16_t)act_max);
    for (int i = 0; i < size; i += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(size - i));
        const float16x8_t u = vldrhq_z_f16(x + i, p), v = vldrhq_z_f16(y + i, p);
        const float16x8_t r = subtract ? vsubq_f16(u, v) : vaddq_f16(u, v);
        vstrhq_p_f16(out + i, vminnmq_f16(vmaxnmq_f16(r, lo), hi), p);
    }
}
#endif

TINYRT_KERNEL void addsub_f16(const uint16_t *a, const uint16_t *b, uint16_t *output, int size,
                              float act_min, float act_max, int subtract)
{
#if TINYRT_F16_MVE
    addsub_f16_mve(a, b, output, size, act_min, act_max, subtract);
#else
    addsub_f16_portable(a, b, output, size, act_min, act_max, subtract);
#endif
}

TINYRT_KERNEL void addsub_f16_broadcast_portable(const uint16_t *a, const uint16_t *b,
                                                 uint16_t *output, const int32_t *dims,
                                                 const int32_t *stride1, const int32_t *stride2,
                                                 float act_min, float act_max, int subtract)
{
    const tr_f16 *x = (const tr_f16 *)a, *y = (const tr_f16 *)b;
    tr_f16 *out = (tr_f16 *)output;
    const tr_f16 lo = (tr_f16)act_min, hi = (tr_f16)act_max;
    int o = 0;
    for (int i0 = 0; i0 < dims[0]; i0++) {
        for (int i1 = 0; i1 < dims[1]; i1++) {
            for (int i2 = 0; i2 < dims[2]; i2++) {
                for (int i3 = 0; i3 < dims[3]; i3++) {
                    const int ia = i0 * stride1[0] + i1 * stride1[1] + i2 * stride1[2]
                        + i3 * stride1[3];
                    const int ib = i0 * stride2[0] + i1 * stride2[1] + i2 * stride2[2]
                        + i3 * stride2[3];
                    const tr_f16 r = subtract ? tr_f16_sub(x[ia], y[ib])
                                              : tr_f16_add(x[ia], y[ib]);
                    out[o++] = tr_f16_clamp(r, lo, hi);
                }
            }
        }
    }
}

#if TINYRT_F16_MVE
/* One row of n outputs; operand steps xs, ys (0 or 1) are literals at each call. */
TINYRT_KERNEL void addsub_f16_mve_row(const float16_t *x, int xs, const float16_t *y, int ys,
                                      float16_t *out, int n, float16x8_t lo, float16x8_t hi,
                                      int subtract)
{
    const float16x8_t x0 = vdupq_n_f16(x[0]), y0 = vdupq_n_f16(y[0]);
    for (int i = 0; i < n; i += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(n - i));
        const float16x8_t u = xs ? vldrhq_z_f16(x + i, p) : x0;
        const float16x8_t v = ys ? vldrhq_z_f16(y + i, p) : y0;
        const float16x8_t r = subtract ? vsubq_f16(u, v) : vaddq_f16(u, v);
        vstrhq_p_f16(out + i, vminnmq_f16(vmaxnmq_f16(r, lo), hi), p);
    }
}

TINYRT_KERNEL void addsub_f16_broadcast_mve(const uint16_t *a, const uint16_t *b,
                                            uint16_t *output, const int32_t *dims,
                                            const int32_t *stride1, const int32_t *stride2,
                                            float act_min, float act_max, int subtract)
{
    const float16_t *x = (const float16_t *)a, *y = (const float16_t *)b;
    float16_t *out = (float16_t *)output;
    const float16x8_t lo = vdupq_n_f16((float16_t)act_min), hi = vdupq_n_f16((float16_t)act_max);
    const int n = dims[3], xs = stride1[3], ys = stride2[3];
    for (int i0 = 0; i0 < dims[0]; i0++) {
        for (int i1 = 0; i1 < dims[1]; i1++) {
            for (int i2 = 0; i2 < dims[2]; i2++) {
                const float16_t *xr = x + i0 * stride1[0] + i1 * stride1[1] + i2 * stride1[2];
                const float16_t *yr = y + i0 * stride2[0] + i1 * stride2[1] + i2 * stride2[2];
                if (xs && ys) {
                    addsub_f16_mve_row(xr, 1, yr, 1, out, n, lo, hi, subtract);
                } else if (xs) {
                    addsub_f16_mve_row(xr, 1, yr, 0, out, n, lo, hi, subtract);
                } else {
                    addsub_f16_mve_row(xr, 0, yr, 1, out, n, lo, hi, subtract);
                }
                out += n;
            }
        }
    }
}
#endif

TINYRT_KERNEL void addsub_f16_broadcast(const uint16_t *a, const uint16_t *b, uint16_t *output,
                                        const int32_t *dims, const int32_t *stride1,
                                        const int32_t *stride2, float act_min, float act_max,
                                        int subtract)
{
#if TINYRT_F16_MVE
    addsub_f16_broadcast_mve(a, b, output, dims, stride1, stride2, act_min, act_max, subtract);
#else
    addsub_f16_broadcast_portable(a, b, output, dims, stride1, stride2, act_min, act_max,
                                  subtract);
#endif
}

TINYRT_KERNEL void add_f16(const uint16_t *a, const uint16_t *b, uint16_t *output, int size,
                           float act_min, float act_max)
{
    addsub_f16(a, b, output, size, act_min, act_max, 0);
}

TINYRT_KERNEL void sub_f16(const uint16_t *a, const uint16_t *b, uint16_t *output, int size,
                           float act_min, float act_max)
{
    addsub_f16(a, b, output, size, act_min, act_max, 1);
}

TINYRT_KERNEL void add_f16_broadcast(const uint16_t *a, const uint16_t *b, uint16_t *output,
                                     const int32_t *dims, const int32_t *stride1,
                                     const int32_t *stride2, float act_min, float act_max)
{
    addsub_f16_broadcast(a, b, output, dims, stride1, stride2, act_min, act_max, 0);
}

TINYRT_KERNEL void sub_f16_broadcast(const uint16_t *a, const uint16_t *b, uint16_t *output,
                                     const int32_t *dims, const int32_t *stride1,
                                     const int32_t *stride2, float act_min, float act_max)
{
    addsub_f16_broadcast(a, b, output, dims, stride1, stride2, act_min, act_max, 1);
}

#endif /* TINYRT_ADD_F16_H */
