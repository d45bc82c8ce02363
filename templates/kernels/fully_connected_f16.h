/*
 * fully_connected_f16: float fully connected layer computed in FP16 (TFLite
 * reference_ops::FullyConnected, float, with fp16 arithmetic; docs/fp16.md "FP16 compute").
 *
 * input   [batches, in_depth]   fp16
 * weights [in_depth, out_depth] fp16, output fastest (transposed at generation time from
 *                               TFLite's [out_depth, in_depth]): one vector load gives the weight
 *                               of input i for 8 outputs
 * bias    [out_depth]           fp16; null: no bias
 * output  [batches, out_depth]  fp16, clamped to [act_min, act_max]
 * Each output is one chain of fused multiply-adds from +0 over i in order, then + bias, then the
 * clamp; the MVE version (8 outputs per vector, vfmaq_n_f16, predicated tail) and the portable
 * one give the same bits. No scratch. Output must not alias the input.
 */
#ifndef TINYRT_FULLY_CONNECTED_F16_H
#define TINYRT_FULLY_CONNECTED_F16_H

#include <stdint.h>

#include "../tinyrt_f16.h"

TINYRT_KERNEL void fully_connected_f16_portable(const uint16_t *input, const uint16_t *weights,
                                                const uint16_t *bias, uint16_t *output,
                                                int batches, int in_depth, int out_depth,
                                                float act_min, float act_max)
{
    const tr_f16 *w = (const tr_f16 *)weights, *b16 = (const tr_f16 *)bias;
    const tr_f16 lo = (tr_f16)act_min, hi = (tr_f16)act_max;
    for (int b = 0; b < batches; b++) {
        const tr_f16 *x = (const tr_f16 *)input + b * in_depth;
        tr_f16 *out = (tr_f16 *)output + b * out_depth;
        for (int o = 0; o < out_depth; o++) {
            tr_f16 acc = (tr_f16)0.0f;
            for (int i = 0; i < in_depth; i++) {
                acc = tr_f16_fma(x[i], w[i * out_depth + o], acc);
            }
            if (b16) {
                acc = tr_f16_add(acc, b16[o]);
            }
            out[o] = tr_f16_clamp(acc, lo, hi);
        }
    }
}

#if TINYRT_F16_MVE
TINYRT_KERNEL void fully_connected_f16_mve(const uint16_t *input, const uint16_t *weights,
                                           const uint16_t *bias, uint16_t *output, int batches,
                                           int in_depth, int out_depth, float act_min,
                                           float act_max)
{
    const float16_t *w = (const float16_t *)weights, *b16 = (const float16_t *)bias;
    const float16x8_t lo = vdupq_n_f16((float16_t)act_min), hi = vdupq_n_f16((float16_t)act_max);
    for (int b = 0; b < batches; b++) {
        const float16_t *x = (const float16_t *)input + b * in_depth;
        float16_t *out = (float16_t *)output + b * out_depth;
        for (int o = 0; o < out_depth; o += 8) {
            const mve_pred16_t p = vctp16q((uint32_t)(out_depth - o));
            float16x8_t acc = vdupq_n_f16((float16_t)0.0f);
            for (int i = 0; i < in_depth; i++) {
                acc = vfmaq_n_f16(acc, vldrhq_z_f16(w + i * out_depth + o, p), x[i]);
            }
            if (b16) {
                acc = vaddq_f16(acc, vldrhq_z_f16(b16 + o, p));
            }
            vstrhq_p_f16(out + o, vminnmq_f16(vmaxnmq_f16(acc, lo), hi), p);
        }
    }
}
#endif

TINYRT_KERNEL void fully_connected_f16(const uint16_t *input, const uint16_t *weights,
                                       const uint16_t *bias, uint16_t *output, int batches,
                                       int in_depth, int out_depth, float act_min, float act_max)
{
#if TINYRT_F16_MVE
    fully_connected_f16_mve(input, weights, bias, output, batches, in_depth, out_depth, act_min,
                            act_max);
#else
    fully_connected_f16_portable(input, weights, bias, output, batches, in_depth, out_depth,
                                 act_min, act_max);
#endif
}

#endif /* TINYRT_FULLY_CONNECTED_F16_H */
