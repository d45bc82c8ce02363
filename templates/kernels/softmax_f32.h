/*
 * softmax_f32: float softmax over the last axis (TFLite reference_ops::Softmax, float):
 * out[c] = exp((x[c] - max) * beta) / sum_c' exp((x[c'] - max) * beta), with expf (libm: this
 * header is only used by float models; link with -lm).
 * input/output [outer, depth] float. In-place safe: a row's maximum is found before any
 * write, and element c is read before output c is written.
 */
#ifndef TINYRT_SOFTMAX_F32_H
#define TINYRT_SOFTMAX_F32_H

#include <math.h>
#include <stdint.h>

#include "../tinyrt_math.h"

TINYRT_KERNEL void softmax_f32(const float *input, float *output, int outer, int depth,
                               float beta)
{
    for (int i = 0; i < outer; i++) {
        const float *x = input + i * depth;
        float *y = output + i * depth;
        float max = x[0];
        for (int c = 1; c < depth; c++) {
            max = TR_MAX(max, x[c]);
        }
        float sum = 0.0f;
        for (int c = 0; c < depth; c++) {
            const float e = expf((x[c] - max) * beta);
            y[c] = e;
            sum += e;
        }
        for (int c = 0; c < depth; c++) {
            y[c] = y[c] / sum;
        }
    }
}

#endif /* TINYRT_SOFTMAX_F32_H */
