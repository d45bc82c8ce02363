/*
 * train_fc_f16: fully connected layer of the FP16 training tail, forward and backward:
 * train_fc_f32.h with every tensor in FP16 (input: half, or the int8 boundary read through
 * train_load_f16), float32 sums in the same order, each stored value rounded to FP16 once
 * (train_rows_f16.h). Layouts, aliasing and trained rows as train_fc_f32.h.
 * backward_weights: grad_w[o, i] = grad_w[o, i] + grad_out[o] * x[i] as one fused FP16
 * multiply-add, rounded once (a sum of two terms: nothing to accumulate in float32).
 * train_fc_backward_weights_f16_mve: the same bits, 8 halves of a row at a time (vfmaq_n_f16,
 * predicated tail); an int8 input (the boundary) takes the portable loop. No scratch.
 */
#ifndef TINYRT_TRAIN_FC_F16_H
#define TINYRT_TRAIN_FC_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f16.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_fc.inc"

#if TINYRT_F16_MVE
TINYRT_KERNEL void train_fc_backward_weights_f16_mve(const void *input, int in_s8,
                                                     float in_scale, int32_t in_zp,
                                                     const tr_f16 *grad_out, tr_f16 *grad_w,
                                                     int trained_c, int in_depth, int out_depth)
{
    if (in_s8) {
        train_fc_backward_weights_f16(input, in_s8, in_scale, in_zp, grad_out, grad_w, trained_c,
                                      in_depth, out_depth);
        return;
    }
    const float16_t *x = (const float16_t *)input;
    for (int o = 0; o < trained_c; o++) {
        const float16_t g = (float16_t)grad_out[o];
        float16_t *row = (float16_t *)grad_w + o * in_depth;
        for (int i = 0; i < in_depth; i += 8) {
            const mve_pred16_t p = vctp16q((uint32_t)(in_depth - i));
            const float16x8_t next = vfmaq_n_f16(vldrhq_z_f16(row + i, p),
                                                 vldrhq_z_f16(x + i, p), g);
            vstrhq_p_f16(row + i, next, p);
        }
    }
}
#endif

#endif /* TINYRT_TRAIN_FC_F16_H */
