/*
 * tinyrt_f16.h: IEEE half-precision arithmetic for the FP16-compute kernels (*_f16.h,
 * docs/fp16.md "FP16 compute").
 *
 * Tensors are fp16 bits (uint16_t in the generated code) read and written as tr_f16. Each kernel
 * has two versions that perform the same IEEE fp16 operations in the same order:
 *   - MVE (Helium with floating point, Cortex-M55): 8 fp16 lanes, when the compiler targets
 *     __ARM_FEATURE_MVE & 2 (define TINYRT_PORTABLE_F16 to force the portable one);
 *   - portable C on _Float16 (GCC >= 12 / Clang >= 15 on x86-64, Arm with FP16): the reference.
 * The portable helpers below round exactly once per operation, as the vector instructions do:
 * a product of two halves is exact in float (22 bits), so a * b + c evaluated in double and
 * rounded to half is the fused VFMA.F16 (the exact value needs at most 81 bits, but double
 * rounding can only differ from single rounding at an exact half-way point of fp16, which a
 * double result this close to two fp16-representable addends cannot fake); a + b and a * b in
 * float then rounded to half are correctly rounded (float has 24 >= 2 * 11 + 2 bits).
 * The tests compare the two versions bit for bit on qemu-m55 (tests/test_fp16_mve.py).
 */
#ifndef TINYRT_F16_H
#define TINYRT_F16_H

#include <stdint.h>
#include <string.h>

#include "tinyrt_math.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2) && !defined(TINYRT_PORTABLE_F16)
#define TINYRT_F16_MVE 1
#include <arm_mve.h>
#else
#define TINYRT_F16_MVE 0
#endif

typedef _Float16 tr_f16;

/* a * b + c, rounded once (VFMA.F16). */
static inline tr_f16 tr_f16_fma(tr_f16 a, tr_f16 b, tr_f16 c)
{
    return (tr_f16)((double)a * (double)b + (double)c);
}

static inline tr_f16 tr_f16_add(tr_f16 a, tr_f16 b)
{
    return (tr_f16)((float)a + (float)b);
}

static inline tr_f16 tr_f16_sub(tr_f16 a, tr_f16 b)
{
    return (tr_f16)((float)a - (float)b);
}

static inline tr_f16 tr_f16_mul(tr_f16 a, tr_f16 b)
{
    return (tr_f16)((float)a * (float)b);
}

static inline int tr_f16_signbit(tr_f16 a)
{
    uint16_t bits;
    memcpy(&bits, &a, sizeof bits);
    return bits >> 15;
}

/* IEEE maxNum / minNum as VMAXNM.F16 / VMINNM.F16: a NaN operand loses to a number, +0 > -0. */
static inline tr_f16 tr_f16_maxnm(tr_f16 a, tr_f16 b)
{
    if (a != a) {
        return b;
    }
    if (b != b) {
        return a;
    }
    if (a == b) {
        return tr_f16_signbit(a) ? b : a;
    }
    return a > b ? a : b;
}

static inline tr_f16 tr_f16_minnm(tr_f16 a, tr_f16 b)
{
    if (a != a) {
        return b;
    }
    if (b != b) {
        return a;
    }
    if (a == b) {
        return tr_f16_signbit(a) ? a : b;
    }
    return a < b ? a : b;
}

/* The fused activation: clamp to [lo, hi] (finite halves), as vmaxnm then vminnm. */
static inline tr_f16 tr_f16_clamp(tr_f16 x, tr_f16 lo, tr_f16 hi)
{
    return tr_f16_minnm(tr_f16_maxnm(x, lo), hi);
}

#endif /* TINYRT_F16_H */
