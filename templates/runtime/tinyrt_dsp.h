/*
 * tinyrt_dsp.h: what the Arm DSP-extension kernels (*_dsp.h) build on.
 *
 * 1. The ACLE intrinsics they use (__smlad, __sxtb16, __ssat, ...) from <arm_acle.h> on a core
 *    with the DSP extension (Cortex-M4, M7, M33, M55). Built for anything else the kernels stop
 *    with #error, never fall back silently; the host tests define TINYRT_ACLE_PORTABLE to get
 *    exact C versions of the same instructions, so a *_dsp kernel runs unchanged on the host
 *    (its portable twin, tested against tflite-runtime and under the sanitizers).
 * 2. tr_requant(): TFLite's MultiplyByQuantizedMultiplier + output zero point in 4-6
 *    instructions instead of ~35, exact under conditions the generator proves per layer
 *    (tinyrt/kernels/requant.py) and encoded in `mode`, a literal of each call.
 */
#ifndef TINYRT_DSP_H
#define TINYRT_DSP_H

#include <stdint.h>

#include "tinyrt_math.h"

#if defined(TINYRT_ACLE_PORTABLE)
/* Exact C models of the DSP instructions (Arm ARM, ARMv7-M A7.7). */
static inline uint32_t tr_acle_h(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16);
}
static inline int32_t tr_acle_lo(uint32_t x) { return (int16_t)(x & 0xffffu); }
static inline int32_t tr_acle_hi(uint32_t x) { return (int16_t)(x >> 16); }
static inline uint32_t __sxtb16(uint32_t x)
{
    return tr_acle_h((int8_t)(x & 0xffu), (int8_t)((x >> 16) & 0xffu));
}
static inline uint32_t __ror(uint32_t x, uint32_t n)
{
    n &= 31u;
    return n ? (x >> n) | (x << (32u - n)) : x;
}
static inline int32_t __smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)(tr_acle_lo(a) * tr_acle_lo(b))
                     + (uint32_t)(tr_acle_hi(a) * tr_acle_hi(b)));
}
static inline int32_t __smuad(uint32_t a, uint32_t b)
{
    return __smlad(a, b, 0);
}
static inline uint32_t __pkhbt(uint32_t a, uint32_t b, uint32_t shift)
{
    return (a & 0xffffu) | ((b << shift) & 0xffff0000u);
}
static inline uint32_t __pkhtb(uint32_t a, uint32_t b, uint32_t shift)
{
    return (a & 0xffff0000u) | ((uint32_t)((int32_t)b >> shift) & 0xffffu);
}
static inline uint32_t __sxtab16(uint32_t acc, uint32_t x)
{
    const uint32_t e = __sxtb16(x);
    return tr_acle_h(tr_acle_lo(acc) + tr_acle_lo(e), tr_acle_hi(acc) + tr_acle_hi(e));
}
static inline uint32_t __sadd16(uint32_t a, uint32_t b)
{
    return tr_acle_h(tr_acle_lo(a) + tr_acle_lo(b), tr_acle_hi(a) + tr_acle_hi(b));
}
static inline int32_t __ssat(int32_t x, uint32_t bits)
{
    const int32_t hi = (int32_t)((1u << (bits - 1u)) - 1u);
    return x > hi ? hi : (x < -hi - 1 ? -hi - 1 : x);
}
static inline int32_t __usat(int32_t x, uint32_t bits)
{
    const int32_t hi = (int32_t)((1u << bits) - 1u);
    return x > hi ? hi : (x < 0 ? 0 : x);
}
static inline int32_t __qadd(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + b;
    return s > INT32_MAX ? INT32_MAX : (s < INT32_MIN ? INT32_MIN : (int32_t)s);
}
/* SMMULR: the high word of a * b, rounded. */
static inline int32_t tr_smmulr(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b + INT64_C(0x80000000)) >> 32);
}
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
static inline int32_t tr_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#else
#error "tinyrt: the *_dsp kernels need a core with the Arm DSP extension (Cortex-M4/M7/M33/M55); this board's features must not list dsp, or define TINYRT_ACLE_PORTABLE for the host twin"
#endif

/* SXTB16 / SXTAB16 of x rotated by 8 (bytes 1 and 3): one instruction each. GCC 12's
 * arm_acle.h has no __ror and gcc does not fold a C rotate into the instructions' ROR operand,
 * so on the target they are one-line asm; on the host, the exact C models. */
#if defined(TINYRT_ACLE_PORTABLE)
static inline uint32_t tr_sxtb16_ror8(uint32_t x)
{
    return __sxtb16(__ror(x, 8));
}
static inline uint32_t tr_sxtab16_ror8(uint32_t acc, uint32_t x)
{
    return __sxtab16(acc, __ror(x, 8));
}
#else
static inline __attribute__((always_inline)) uint32_t tr_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
static inline __attribute__((always_inline)) uint32_t tr_sxtab16_ror8(uint32_t acc, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
}
#endif

/* Two int8 lanes each: x = [b0 b1 b2 b3] -> even = (b0, b2), odd = (b1, b3) as int16 pairs. */
#define TR_SXTB16_EVEN(x) __sxtb16(x)
#define TR_SXTB16_ODD(x) tr_sxtb16_ror8(x)

/* An unaligned 32-bit load (Cortex-M4/M7/M33/M55 allow it for LDR; memcpy lets the compiler
 * emit exactly one LDR without breaking strict aliasing). */
static inline uint32_t tr_read_u32(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline void tr_write_u32(void *p, uint32_t v)
{
    __builtin_memcpy(p, &v, 4);
}

/*
 * Requantisation modes (tinyrt/kernels/requant.py chooses one per layer and proves it exact):
 *   TR_RQ_EXACT  tr_requantize(acc, mult, shift) + add         shift: TFLite's, add: out_zp
 *   TR_RQ_RIGHT  every shift < 0 and |acc| < 2^30:
 *                x = SRDHM(acc, mult) = SMMULR(2 acc, mult)        (exact: same rounding)
 *                (x + add + (x < 0 ? -1 : 0)) >> shift          shift: -TFLite's,
 *                add = 2^(shift-1) + out_zp * 2^shift           (round half away from zero,
 *                                                                 + out_zp folded in)
 *   TR_RQ_LEFT   every shift >= 0 and |acc| * 2^(shift+1) < 2^31:
 *                SMMULR(acc << (shift + 1), mult) + add          shift: TFLite's + 1, add: out_zp
 * The caller clamps to [act_min, act_max].
 */
#define TR_RQ_EXACT 0
#define TR_RQ_RIGHT 1
#define TR_RQ_LEFT 2

static inline __attribute__((always_inline)) int32_t tr_requant(int mode, int32_t acc,
                                                                int32_t mult, int32_t shift,
                                                                int32_t add)
{
    if (mode == TR_RQ_RIGHT) {
        const int32_t x = tr_smmulr(acc * 2, mult);
        return (x + add + (x >> 31)) >> shift;
    }
    if (mode == TR_RQ_LEFT) {
        return tr_smmulr((int32_t)((uint32_t)acc << shift), mult) + add;
    }
    return tr_requantize(acc, mult, shift) + add;
}

/* tr_requant + tr_clamp_s8 for an accumulator the generator has already doubled (the weights
 * or a table carry the factor 2 of TR_RQ_RIGHT's SMMULR(2 acc)): RIGHT takes SMMULR(acc) and
 * LEFT shifts by one less (`shift` is TFLite's shift there); EXACT is not doubled. */
static inline __attribute__((always_inline)) int32_t tr_requant_doubled(int mode, int32_t acc,
                                                                        int32_t mult,
                                                                        int32_t shift,
                                                                        int32_t add)
{
    if (mode == TR_RQ_RIGHT) {
        const int32_t x = tr_smmulr(acc, mult);
        return (x + add + (x >> 31)) >> shift;
    }
    if (mode == TR_RQ_LEFT) {
        return tr_smmulr((int32_t)((uint32_t)acc << shift), mult) + add;
    }
    return tr_requant(TR_RQ_EXACT, acc, mult, shift, add);
}

/* Clamp a requantised value to the activation range and narrow it to int8: one SSAT when the
 * range is the whole int8 range (both bounds are literals, so the test folds away). */
static inline __attribute__((always_inline)) int8_t tr_clamp_s8(int32_t y, int32_t act_min,
                                                               int32_t act_max)
{
    if (act_min == -128 && act_max == 127) {
        return (int8_t)__ssat(y, 8);
    }
    return (int8_t)TR_CLAMP(y, act_min, act_max);
}

#endif /* TINYRT_DSP_H */
