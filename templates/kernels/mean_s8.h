/*
 * mean_s8: int8 mean over any set of axes (TFLite 2.14 reference_ops::QuantizedMeanOrSum, the
 * path the reference MEAN kernel takes for every int8 axis set, spatial means included).
 *
 * The input is viewed as [k0, r0, k1, r1, k2, r2]: runs of kept (k) and reduced (r) dimensions
 * merged by the generator, unused runs of size 1. The output is [k0, k1, k2] in that order.
 * acc starts at -input_zero_point * (r0 * r1 * r2) (folded by the generator), sums the window,
 * and is requantised with a multiplier that already includes 1 / (r0 * r1 * r2).
 * No scratch. Output must not alias the input.
 */
#ifndef TINYRT_MEAN_S8_H
#define TINYRT_MEAN_S8_H

#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void mean_s8(const int8_t *input, int8_t *output, int k0, int r0, int k1, int r1,
                           int k2, int r2, int32_t acc_init, int32_t multiplier, int shift,
                           int32_t out_zp)
{
    for (int a = 0; a < k0; a++) {
        for (int b = 0; b < k1; b++) {
            for (int c = 0; c < k2; c++) {
                int32_t acc = acc_init;
                for (int i = 0; i < r0; i++) {
                    for (int j = 0; j < r1; j++) {
                        const int8_t *x = input + ((((a * r0 + i) * k1 + b) * r1 + j) * k2 + c) * r2;
                        for (int l = 0; l < r2; l++) {
                            acc += x[l];
                        }
                    }
                }
                acc = tr_requantize(acc, multiplier, shift) + out_zp;
                *output++ = tr_sat_s8(acc);
            }
        }
    }
}

#endif /* TINYRT_MEAN_S8_H */
