/*
 * pad_s8: constant padding of an int8 tensor (TFLite reference_ops::Pad, PAD with no
 * constant_values input: the pad value is the output zero point). Raw values are copied.
 *
 * input  [in_dims[0], ..., in_dims[4]]     int8 (rank <= 5, leading 1s; the generator merges
 *        dimensions that are not padded into their outer neighbour, so rows are long)
 * output [out_dims[0], ..., out_dims[4]]   out_dims[d] = before[d] + in_dims[d] + after[d]
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_PAD_S8_H
#define TINYRT_PAD_S8_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_math.h"

/* Whether output index `o` along a dimension falls on input data. */
#define PAD_INSIDE(o, d) ((o) >= before[d] && (o) < before[d] + in_dims[d])

TINYRT_KERNEL void pad_s8(const int8_t *input, int8_t *output, const int32_t *in_dims,
                          const int32_t *before, const int32_t *out_dims, int32_t pad_value)
{
    const int row = out_dims[4];
    for (int o0 = 0; o0 < out_dims[0]; o0++) {
        for (int o1 = 0; o1 < out_dims[1]; o1++) {
            for (int o2 = 0; o2 < out_dims[2]; o2++) {
                for (int o3 = 0; o3 < out_dims[3]; o3++) {
                    if (PAD_INSIDE(o0, 0) && PAD_INSIDE(o1, 1) && PAD_INSIDE(o2, 2) &&
                        PAD_INSIDE(o3, 3)) {
                        const int after = row - before[4] - in_dims[4];
                        memset(output, pad_value, (size_t)before[4]);
                        memcpy(output + before[4], input, (size_t)in_dims[4]);
                        memset(output + before[4] + in_dims[4], pad_value, (size_t)after);
                        input += in_dims[4];
                    } else {
                        memset(output, pad_value, (size_t)row);
                    }
                    output += row;
                }
            }
        }
    }
}

#undef PAD_INSIDE

#endif /* TINYRT_PAD_S8_H */
