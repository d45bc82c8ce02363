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
 * Each output sums in four chains of fused multiply-adds from +0, chain k taking the inputs
 * i = k (mod 4) in order (a quarter of the fp16 rounding error of one chain's worst case, and
 * four independent FMAs in flight), then (c0 + c1) + (c2 + c3), + bias, the clamp. The MVE
 * version (8 outputs per vector, vfmaq_n_f16, predicated tail) and the portable one give the
 * same bits. No scratch. Output must not alias the input.
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
            tr_f16 chain[4] = {(tr_f16)0.0f, (tr_f16)0.0f, (tr_f16)0.0f, (tr_f16)0.0f};
            for (int i = 0; i < in_depth; i++) {
                chain[i & 3] = tr_f16_fma(x[i], w[i * out_depth + o], chain[i & 3]);
            }
            tr_f16 acc = tr_f16_add(tr_f16_add(chain[0], chain[1]),
                                    tr_f16_add(chain[2], chain[3]));
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
            const float16_t *wo = w + o;
            float16x8_t c0 = vdupq_n_f16((float16_t)0.0f), c1 = c0, c2 = c0, c3 = c0;
            int i = 0;
            for (; i + 4 <= in_depth; i += 4) {
                c0 = vfmaq_n_f16(c0, vldrhq_z_f16(wo + i * out_depth, p), x[i]);
                c1 = vfmaq_n_f16(c1, vldrhq_z_f16(wo + (i + 1) * out_depth, p), x[i + 1]);
                c2 = vfmaq_n_f16(c2, vldrhq_z_f16(wo + (i + 2) * out_depth, p), x[i + 2]);
                c3 = vfmaq_n_f16(c3, vldrhq_z_f16(wo + (i + 3) * out_depth, p), x[i + 3]);
            }
            if (i < in_depth) {
                c0 = vfmaq_n_f16(c0, vldrhq_z_f16(wo + i * out_depth, p), x[i]);
            }
            if (i + 1 < in_depth) {
                c1 = vfmaq_n_f16(c1, vldrhq_z_f16(wo + (i + 1) * out_depth, p), x[i + 1]);
            }
            if (i + 2 < in_depth) {
                c2 = vfmaq_n_f16(c2, vldrhq_z_f16(wo + (i + 2) * out_depth, p), x[i + 2]);
            }
            float16x8_t acc = vaddq_f16(vaddq_f16(c0, c1), vaddq_f16(c2, c3));
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
