/*
 * softmax_f16: float softmax over the last axis for the FP16-compute path (TFLite
 * reference_ops::Softmax, float): fp16 in and out, computed in float32 inside:
 * out[c] = (fp16)(expf((x[c] - max) * beta) / sum_c' expf((x[c'] - max) * beta)).
 * Classifier heads are a few dozen values, so the exponentials dominate; the same scalar code
 * runs on every core (no MVE version: expf is scalar). libm: link with -lm.
 * input/output [outer, depth] fp16. In-place safe: a row's maximum and sum are computed before
 * any write (the exponentials are recomputed in the second pass rather than stored), and element
 * c is read before output c is written.
 */
#ifndef TINYRT_SOFTMAX_F16_H
#define TINYRT_SOFTMAX_F16_H

#include <math.h>
#include <stdint.h>

#include "../tinyrt_f16.h"

TINYRT_KERNEL void softmax_f16(const uint16_t *input, uint16_t *output, int outer, int depth,
                               float beta)
{
    for (int i = 0; i < outer; i++) {
        const tr_f16 *x = (const tr_f16 *)input + i * depth;
        tr_f16 *y = (tr_f16 *)output + i * depth;
        float max = (float)x[0];
        for (int c = 1; c < depth; c++) {
            max = TR_MAX(max, (float)x[c]);
        }
        float sum = 0.0f;
        for (int c = 0; c < depth; c++) {
            sum += expf(((float)x[c] - max) * beta);
        }
        for (int c = 0; c < depth; c++) {
            y[c] = (tr_f16)(expf(((float)x[c] - max) * beta) / sum);
        }
    }
}

#endif /* TINYRT_SOFTMAX_F16_H */
