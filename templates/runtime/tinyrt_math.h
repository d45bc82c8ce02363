/*
 * tinyrt_math.h: the integer arithmetic of TFLite's reference kernels, bit for bit.
 *
 * gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT, and TFLite's
 * MultiplyByQuantizedMultiplier built from them (double rounding, the default build of
 * tflite-runtime). Every int8 kernel requantises through tr_requantize().
 *
 * Shifts of negative values are arithmetic on every compiler tinyrt targets (GCC, Clang).
 */
#ifndef TINYRT_MATH_H
#define TINYRT_MATH_H

#include <stdint.h>

#ifndef TINYRT_KERNEL
/* Kernels are inlined into each layer's call, so loop bounds and requantisation constants
 * become compile-time constants of that layer. Define TINYRT_KERNEL as `static` to trade that
 * specialisation for flash. */
#define TINYRT_KERNEL static inline __attribute__((always_inline))
#endif

#define TR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TR_MAX(a, b) ((a) > (b) ? (a) : (b))
#define TR_CLAMP(x, lo, hi) TR_MIN(TR_MAX((x), (lo)), (hi))

/* round((a * b) / 2^31), saturating the single overflow case INT32_MIN * INT32_MIN. */
static inline int32_t tr_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    /* gemmlowp adds a sign-dependent nudge and divides truncating toward zero; for ab < 0,
     * trunc((ab + 1 - 2^30) / 2^31) = -floor((2^30 - 1 - ab) / 2^31) = floor((ab + 2^30) / 2^31),
     * so one arithmetic shift gives the same result without a 64-bit division. */
    const int64_t ab = (int64_t)a * (int64_t)b;
    return (int32_t)((ab + (INT64_C(1) << 30)) >> 31);
}

/* x / 2^exponent, rounding half away from zero. */
static inline int32_t tr_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((INT64_C(1) << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31), rounded twice as TFLite does. */
static inline int32_t tr_requantize(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    /* The left shift wraps like TFLite's int32 multiply; unsigned keeps it defined in C. */
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return tr_rounding_divide_by_pot(tr_sat_rounding_doubling_high_mul(shifted, multiplier), right);
}

/* MultiplyByQuantizedMultiplierSmallerThanOneExp: shift <= 0. */
static inline int32_t tr_requantize_lt1(int32_t x, int32_t multiplier, int shift)
{
    return tr_rounding_divide_by_pot(tr_sat_rounding_doubling_high_mul(x, multiplier), -shift);
}

/* MultiplyByQuantizedMultiplierGreaterThanOne: shift >= 0. */
static inline int32_t tr_requantize_gt1(int32_t x, int32_t multiplier, int shift)
{
    return tr_sat_rounding_doubling_high_mul((int32_t)((uint32_t)x << shift), multiplier);
}

static inline int8_t tr_sat_s8(int32_t x)
{
    return (int8_t)TR_CLAMP(x, -128, 127);
}

/* IEEE half-precision bits -> float, exactly (subnormals, infinities and NaN included); the
 * float kernels read fp16 weights through it (docs/fp16.md). On an M-profile FPU (FPv4, FPv5,
 * M55) one VCVTB instruction (FPSCR.AHP = 0 at reset: IEEE half); elsewhere integer operations.
 * Define TINYRT_PORTABLE_HALF to force the portable version. */
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && defined(__ARM_FP) \
    && (__ARM_FP & 4) && !defined(TINYRT_PORTABLE_HALF)
static inline float tr_half_to_float(uint16_t h)
{
    float result;
    const uint32_t bits = h;
    __asm__("vmov %0, %1\n\tvcvtb.f32.f16 %0, %0" : "=t"(result) : "r"(bits));
    return result;
}
#else
static inline float tr_half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0x1fu) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {
        uint32_t e = 113u;   /* normalise: the value is mantissa * 2^-24 */
        while (!(mantissa & 0x400u)) {
            mantissa <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
    }
    union { uint32_t u; float f; } v;
    v.u = bits;
    return v.f;
}
#endif

/* Element i of a constant array stored as fp16 bits (is_fp16 != 0) or as float. */
static inline float tr_load_f(const void *data, int is_fp16, int i)
{
    return is_fp16 ? tr_half_to_float(((const uint16_t *)data)[i]) : ((const float *)data)[i];
}

/* (int32)roundf(x / scale) + zp, rounding half away from zero, as tflite-runtime on x86-64
 * (reference_ops::AffineQuantize; see quantize.h for NaN and out-of-range inputs). */
static inline int32_t tr_affine_quantize(float x, float scale, int32_t zp)
{
    const float r = x / scale;
    int32_t q = INT32_MIN;
    if (r >= -2147483648.0f && r < 2147483648.0f) {   /* false for NaN */
        q = (int32_t)r;                                /* toward zero, exact below 2^31 */
        const float frac = r - (float)q;               /* exact */
        q += (frac >= 0.5f ? 1 : 0) - (frac <= -0.5f ? 1 : 0);
    }
    return (int32_t)((uint32_t)q + (uint32_t)zp);
}

/* Activations of a float layer in a mixed int8/FP16 model may stay int8 in the arena: the
 * layer then dequantises what it reads and quantises what it writes, with exactly the float32
 * arithmetic of the DEQUANTIZE / QUANTIZE ops it replaces (docs/quantization.md), so results
 * are bit-identical while no float32 copy of the tensor exists. With is_s8 a literal 0 (every
 * pure float model) the branch disappears. */
static inline float tr_load_act(const void *data, int is_s8, float scale, int32_t zp, int i)
{
    return is_s8 ? scale * (float)((int32_t)((const int8_t *)data)[i] - zp)
                 : ((const float *)data)[i];
}

static inline void tr_store_act(void *data, int is_s8, float scale, int32_t zp, int i, float v)
{
    if (is_s8) {
        const int32_t q = tr_affine_quantize(v, scale, zp);
        ((int8_t *)data)[i] = (int8_t)TR_CLAMP(q, -128, 127);
    } else {
        ((float *)data)[i] = v;
    }
}

#endif /* TINYRT_MATH_H */
