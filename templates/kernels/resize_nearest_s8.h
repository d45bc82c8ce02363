/*
 * resize_nearest_s8: int8 nearest-neighbour resize of H and W (TFLite
 * reference_ops::ResizeNearestNeighbor); values are copied unchanged.
 *
 * input  [batches, in_h, in_w, depth]   int8
 * output [batches, out_h, out_w, depth] int8
 * y_offsets[out_h] = in_y * in_w * depth and x_offsets[out_w] = in_x * depth: the source pixel
 * of each output row and column, computed by the generator with TFLite's float32 index math
 * (align_corners, half_pixel_centers).
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_RESIZE_NEAREST_S8_H
#define TINYRT_RESIZE_NEAREST_S8_H

#include <stdint.h>
#include <string.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void resize_nearest_s8(const int8_t *input, int8_t *output, int batches,
                                     int in_batch_size, int out_h, int out_w, int depth,
                                     const int32_t *y_offsets, const int32_t *x_offsets)
{
    for (int b = 0; b < batches; b++) {
        const int8_t *in_b = input + b * in_batch_size;
        for (int y = 0; y < out_h; y++) {
            const int8_t *row = in_b + y_offsets[y];
            for (int x = 0; x < out_w; x++) {
                memcpy(output, row + x_offsets[x], (size_t)depth);
                output += depth;
            }
        }
    }
}

#endif /* TINYRT_RESIZE_NEAREST_S8_H */
