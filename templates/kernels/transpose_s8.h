/*
 * transpose_s8: int8 transpose of up to 6 dimensions (TFLite reference_ops::Transpose); values
 * are copied unchanged.
 *
 * output [out_dims[0], ..., out_dims[5]] int8, written in order; output element (i0, ..., i5)
 *        is input[i0 * in_strides[0] + ... + i5 * in_strides[5]], where in_strides[k] is the
 *        input stride (in elements) of the dimension that becomes output dimension k. The
 *        generator drops unit dimensions, merges dimensions that stay adjacent, and fills up
 *        with leading 1s.
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_TRANSPOSE_S8_H
#define TINYRT_TRANSPOSE_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void transpose_s8(const int8_t *input, int8_t *output, const int32_t *out_dims,
                                const int32_t *in_strides)
{
    for (int i0 = 0; i0 < out_dims[0]; i0++) {
        const int p0 = i0 * in_strides[0];
        for (int i1 = 0; i1 < out_dims[1]; i1++) {
            const int p1 = p0 + i1 * in_strides[1];
            for (int i2 = 0; i2 < out_dims[2]; i2++) {
                const int p2 = p1 + i2 * in_strides[2];
                for (int i3 = 0; i3 < out_dims[3]; i3++) {
                    const int p3 = p2 + i3 * in_strides[3];
                    for (int i4 = 0; i4 < out_dims[4]; i4++) {
                        const int p4 = p3 + i4 * in_strides[4];
                        for (int i5 = 0; i5 < out_dims[5]; i5++) {
                            *output++ = input[p4 + i5 * in_strides[5]];
                        }
                    }
                }
            }
        }
    }
}

#endif /* TINYRT_TRANSPOSE_S8_H */
