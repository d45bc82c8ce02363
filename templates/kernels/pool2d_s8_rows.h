/*
 * pool2d_s8_rows: a global int8 average pool fed one row at a time (the last op of a
 * row-streamed stage, tinyrt/stream.py), equal to avgpool2d_s8 over the whole input.
 *
 * acc [depth] int32: the window sums, in memory the stage keeps for the pool (4 * depth bytes)
 * input row [width, depth] int8; output [depth] int8, same scale and zero point as the input
 *
 * Integer sums do not depend on their order, so adding row by row gives TFLite's sum; the
 * division rounds half away from zero as avgpool2d_s8 does.
 */
#ifndef TINYRT_POOL2D_S8_ROWS_H
#define TINYRT_POOL2D_S8_ROWS_H

#include <stdint.h>

#include "../tinyrt_math.h"

#define POOL2D_S8_ROWS_STATE_BYTES(depth) (4 * (depth))

/* acc[c] (+)= the sum of column c over one input row; `first` starts the sums. */
TINYRT_KERNEL void avgpool2d_s8_rows_add(const int8_t *row, int32_t *acc, int first, int width,
                                         int depth)
{
    for (int c = 0; c < depth; c++) {
        int32_t sum = first ? 0 : acc[c];
        for (int x = 0; x < width; x++) {
            sum += row[x * depth + c];
        }
        acc[c] = sum;
    }
}

/* output[c] = round(acc[c] / count), clamped to [act_min, act_max]. */
TINYRT_KERNEL void avgpool2d_s8_rows_out(const int32_t *acc, int8_t *output, int depth,
                                         int32_t count, int32_t act_min, int32_t act_max)
{
    for (int c = 0; c < depth; c++) {
        const int32_t sum = acc[c];
        const int32_t avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
        output[c] = (int8_t)TR_CLAMP(avg, act_min, act_max);
    }
}

#endif /* TINYRT_POOL2D_S8_ROWS_H */
