/*
 * quantize: QUANTIZE and DEQUANTIZE, the conversions at the int8 graph's edges
 * (TFLite quantize.cc / dequantize.cc with the reference kernels).
 *
 * quantize_f32_{s8,u8}:  out = clamp((int32)roundf(x / scale) + zp)   reference_ops::AffineQuantize
 *     The division is float32, as in TFLite (not a multiplication by 1/scale). Where the float
 *     to int32 conversion is undefined in C++ (NaN, |x / scale| >= 2^31) tflite-runtime on
 *     x86-64 gets INT32_MIN (cvttss2si), and the zero point is then added with int32
 *     wrap-around: these kernels reproduce that, so NaN and huge inputs map as the reference.
 * requantize_{s8,u8}_{s8,u8}: out = clamp(rq(x - in_zp, mult, shift) + out_zp)
 *     reference_ops::Requantize, rq = MultiplyByQuantizedMultiplier (tr_requantize).
 * dequantize_{s8,u8}_f32: out = scale * (float)(x - zp)               reference Dequantize
 *     TFLite multiplies in double and rounds to float; (x - zp) has at most 9 bits, so the
 *     double product is exact and the float product, rounded once, is the same value.
 * in, out: [size]. No scratch. In place (out == in) only where both have the same element size
 * (requantize); no libm.
 */
#ifndef TINYRT_QUANTIZE_H
#define TINYRT_QUANTIZE_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void quantize_f32_s8(const float *in, int8_t *out, int size, float scale,
                                   int32_t zp)
{
    for (int i = 0; i < size; i++) {
        const int32_t q = tr_affine_quantize(in[i], scale, zp);
        out[i] = (int8_t)TR_CLAMP(q, -128, 127);
    }
}

TINYRT_KERNEL void quantize_f32_u8(const float *in, uint8_t *out, int size, float scale,
                                   int32_t zp)
{
    for (int i = 0; i < size; i++) {
        const int32_t q = tr_affine_quantize(in[i], scale, zp);
        out[i] = (uint8_t)TR_CLAMP(q, 0, 255);
    }
}

TINYRT_KERNEL void requantize_s8_s8(const int8_t *in, int8_t *out, int size, int32_t in_zp,
                                    int32_t mult, int shift, int32_t out_zp)
{
    for (int i = 0; i < size; i++) {
        const int32_t q = tr_requantize((int32_t)in[i] - in_zp, mult, shift) + out_zp;
        out[i] = (int8_t)TR_CLAMP(q, -128, 127);
    }
}

TINYRT_KERNEL void requantize_s8_u8(const int8_t *in, uint8_t *out, int size, int32_t in_zp,
                                    int32_t mult, int shift, int32_t out_zp)
{
    for (int i = 0; i < size; i++) {
        const int32_t q = tr_requantize((int32_t)in[i] - in_zp, mult, shift) + out_zp;
        out[i] = (uint8_t)TR_CLAMP(q, 0, 255);
    }
}

TINYRT_KERNEL void requantize_u8_s8(const uint8_t *in, int8_t *out, int size, int32_t in_zp,
                                    int32_t mult, int shift, int32_t out_zp)
{
    for (int i = 0; i < size; i++) {
        const int32_t q = tr_requantize((int32_t)in[i] - in_zp, mult, shift) + out_zp;
        out[i] = (int8_t)TR_CLAMP(q, -128, 127);
    }
}

TINYRT_KERNEL void requantize_u8_u8(const uint8_t *in, uint8_t *out, int size, int32_t in_zp,
                                    int32_t mult, int shift, int32_t out_zp)
{
    for (int i = 0; i < size; i++) {
        const int32_t q = tr_requantize((int32_t)in[i] - in_zp, mult, shift) + out_zp;
        out[i] = (uint8_t)TR_CLAMP(q, 0, 255);
    }
}

TINYRT_KERNEL void dequantize_s8_f32(const int8_t *in, float *out, int size, float scale,
                                     int32_t zp)
{
    for (int i = 0; i < size; i++) {
        out[i] = scale * (float)((int32_t)in[i] - zp);
    }
}

TINYRT_KERNEL void dequantize_u8_f32(const uint8_t *in, float *out, int size, float scale,
                                     int32_t zp)
{
    for (int i = 0; i < size; i++) {
        out[i] = scale * (float)((int32_t)in[i] - zp);
    }
}

#endif /* TINYRT_QUANTIZE_H */
