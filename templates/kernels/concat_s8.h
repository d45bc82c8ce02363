/*
 * concat_s8: int8 concatenation along one axis (TFLite reference_ops::Concatenation; for int8
 * TFLite requires every input to share the output's scale and zero point, so values are copied
 * unchanged).
 *
 * The tensors are viewed as [outer, axis * inner]: input i is [outer, sizes[i]] and the output
 * is [outer, sum(sizes)]. Up to 8 inputs in0..in7, in order; unused slots are null.
 * No scratch. Output must not alias any input.
 */
#ifndef TINYRT_CONCAT_S8_H
#define TINYRT_CONCAT_S8_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_math.h"

#define CONCAT_S8_MAX_INPUTS 8

TINYRT_KERNEL void concat_s8(int8_t *output, int outer, const int32_t *sizes, int count,
                             const int8_t *in0, const int8_t *in1, const int8_t *in2,
                             const int8_t *in3, const int8_t *in4, const int8_t *in5,
                             const int8_t *in6, const int8_t *in7)
{
    const int8_t *inputs[CONCAT_S8_MAX_INPUTS] = {in0, in1, in2, in3, in4, in5, in6, in7};
    for (int k = 0; k < outer; k++) {
        for (int i = 0; i < count; i++) {
            memcpy(output, inputs[i] + k * sizes[i], (size_t)sizes[i]);
            output += sizes[i];
        }
    }
}

#endif /* TINYRT_CONCAT_S8_H */
