/*
 * lut_s8: y = table[x + 128] per element, the int8 LOGISTIC and TANH of tflite-runtime's
 * reference resolver (optimized_integer_ops::LookupTable over the table SigmoidPrepare /
 * TanhPrepare build). The generator computes the table exactly as TFLite does.
 *
 * input  [size] int8, any shape flattened
 * table  [256]  int8: table[k] is the output for input value k - 128
 * output [size] int8
 * No scratch. In-place safe (output == input): each output depends only on the input at its index.
 */
#ifndef TINYRT_LUT_S8_H
#define TINYRT_LUT_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void lut_s8(const int8_t *input, int8_t *output, int size, const int8_t *table)
{
    for (int i = 0; i < size; i++) {
        output[i] = table[(int32_t)input[i] + 128];
    }
}

#endif /* TINYRT_LUT_S8_H */
