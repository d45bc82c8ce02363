/*
 * add_f32 / sub_f32 (elementwise) and *_broadcast (up to 4 axes): float ADD and SUB
 * (TFLite reference_ops::Add / Sub, float), clamped to [act_min, act_max].
 * Operands are float tensors, or constants stored as fp16 bits when a16 / b16 != 0.
 * Broadcast: dims[4] with dims[3] fastest, element strides per input (0 along a broadcast axis).
 * In-place safe (output may alias an input of the output's size).
 */
#ifndef TINYRT_ADD_F32_H
#define TINYRT_ADD_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void addsub_f32(const void *a, int a16, const void *b, int b16, float *output,
                              int size, float act_min, float act_max, int subtract)
{
    for (int i = 0; i < size; i++) {
        const float x = tr_load_f(a, a16, i), y = tr_load_f(b, b16, i);
        output[i] = TR_CLAMP(subtract ? x - y : x + y, act_min, act_max);
    }
}

TINYRT_KERNEL void addsub_f32_broadcast(const void *a, int a16, const void *b, int b16,
                                        float *output, const int32_t *dims,
                                        const int32_t *stride1, const int32_t *stride2,
                                        float act_min, float act_max, int subtract)
{
    int o = 0;
    for (int i0 = 0; i0 < dims[0]; i0++) {
        for (int i1 = 0; i1 < dims[1]; i1++) {
            for (int i2 = 0; i2 < dims[2]; i2++) {
                for (int i3 = 0; i3 < dims[3]; i3++) {
                    const int ia = i0 * stride1[0] + i1 * stride1[1] + i2 * stride1[2]
                        + i3 * stride1[3];
                    const int ib = i0 * stride2[0] + i1 * stride2[1] + i2 * stride2[2]
                        + i3 * stride2[3];
                    const float x = tr_load_f(a, a16, ia), y = tr_load_f(b, b16, ib);
                    output[o++] = TR_CLAMP(subtract ? x - y : x + y, act_min, act_max);
                }
            }
        }
    }
}

TINYRT_KERNEL void add_f32(const void *a, int a16, const void *b, int b16, float *output,
                           int size, float act_min, float act_max)
{
    addsub_f32(a, a16, b, b16, output, size, act_min, act_max, 0);
}

TINYRT_KERNEL void sub_f32(const void *a, int a16, const void *b, int b16, float *output,
                           int size, float act_min, float act_max)
{
    addsub_f32(a, a16, b, b16, output, size, act_min, act_max, 1);
}

TINYRT_KERNEL void add_f32_broadcast(const void *a, int a16, const void *b, int b16,
                                     float *output, const int32_t *dims, const int32_t *stride1,
                                     const int32_t *stride2, float act_min, float act_max)
{
    addsub_f32_broadcast(a, a16, b, b16, output, dims, stride1, stride2, act_min, act_max, 0);
}

TINYRT_KERNEL void sub_f32_broadcast(const void *a, int a16, const void *b, int b16,
                                     float *output, const int32_t *dims, const int32_t *stride1,
                                     const int32_t *stride2, float act_min, float act_max)
{
    addsub_f32_broadcast(a, a16, b, b16, output, dims, stride1, stride2, act_min, act_max, 1);
}

#endif /* TINYRT_ADD_F32_H */
