/*
 * convert_f32_f16 / convert_f16_f32: the conversions at the edges of an FP16-compute graph
 * (docs/fp16.md "FP16 compute"): CAST float32 -> fp16 after each graph input (round to nearest
 * even, as numpy's astype(float16) and TFLite's CAST), DEQUANTIZE fp16 -> float32 before each
 * graph output (exact).
 * in, out: [size]. One scalar conversion per element in every build: on the Cortex-M55 GCC emits
 * the FPU's scalar VCVTB.F16.F32 / VCVTB.F32.F16. There is no MVE version: QEMU 7.2 raises
 * UNDEFINSTR on the vector VCVTB/VCVTT between f16 and f32 (tests/test_fp16_mve.py checks that),
 * and these run once per input / output value only.
 * In place (out == in) as well: the planner puts the output over the input when the input dies
 * there (``inplace_resize`` in tinyrt/ops/cast.py and quantize.py), so the FP16 arena does not
 * hold a float32 and an fp16 copy of the model's input or output at once. No scratch.
 */
#ifndef TINYRT_CONVERT_F16_H
#define TINYRT_CONVERT_F16_H

#include <stdint.h>

#include "../tinyrt_f16.h"

/* Forward: element i (2 bytes at 2i) only overwrites input bytes already read (below 4i + 4). */
TINYRT_KERNEL void convert_f32_f16(const float *in, uint16_t *out, int size)
{
    const unsigned char *src = (const unsigned char *)in;
    unsigned char *dst = (unsigned char *)out;
    for (int i = 0; i < size; i++) {
        float x;
        memcpy(&x, src + 4 * i, sizeof x);   /* byte copies: the buffers may overlap */
        const tr_f16 y = (tr_f16)x;
        memcpy(dst + 2 * i, &y, sizeof y);
    }
}

/* Backward: element i (4 bytes at 4i) only overwrites input halves i.. 2i + 1, already read. */
TINYRT_KERNEL void convert_f16_f32(const uint16_t *in, float *out, int size)
{
    const unsigned char *src = (const unsigned char *)in;
    unsigned char *dst = (unsigned char *)out;
    for (int i = size - 1; i >= 0; i--) {
        tr_f16 x;
        memcpy(&x, src + 2 * i, sizeof x);
        const float y = (float)x;
        memcpy(dst + 4 * i, &y, sizeof y);
    }
}

#endif /* TINYRT_CONVERT_F16_H */
