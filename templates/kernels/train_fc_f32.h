/*
 * train_fc_f32: fully connected layer of the FP32 training tail, forward and backward.
 *
 * input  [in_depth]: float, or int8 read as in_scale * (q - in_zp) when in_s8 (the boundary
 *        activation, dequantised as it is read: it stays int8 in the backbone's arena)
 * weights [out_depth, in_depth] float, rows [0, trained_c) from `weights` and the rest from
 *         `frozen` (train_rows_f32.h); bias [out_depth] float or NULL
 * output [out_depth] float = act(sum_i w[o, i] * x[i] + bias[o])   (act: train_act_f32.h)
 *
 * backward_input: grad_in[i] = act'(saved_in[i]) * sum_o w[o, i] * grad_out[o]; grad_out is the
 *   gradient before this layer's activation; in_act is the activation that produced the input
 *   (0: saved_in may be NULL). grad_in may alias saved_in (each element is read before it is
 *   written), not grad_out.
 * backward_weights: grad_w[o, i] += grad_out[o] * x[i] for the trained rows o < trained_c.
 * No scratch.
 */
#ifndef TINYRT_TRAIN_FC_F32_H
#define TINYRT_TRAIN_FC_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f32.h"

TINYRT_KERNEL void train_fc_f32(const void *input, int in_s8, float in_scale, int32_t in_zp,
                                const float *weights, const float *frozen, int trained_c,
                                const float *bias, float *output, int in_depth, int out_depth,
                                int act)
{
    for (int o = 0; o < out_depth; o++) {
        const float *row = train_weight_row(weights, frozen, trained_c, o, in_depth);
        float total = 0.0f;
        for (int i = 0; i < in_depth; i++) {
            total += tr_load_act(input, in_s8, in_scale, in_zp, i) * row[i];
        }
        if (bias) {
            total += bias[o];
        }
        output[o] = train_act_f32(total, act);
    }
}

TINYRT_KERNEL void train_fc_backward_input_f32(const float *grad_out, const float *weights,
                                               const float *frozen, int trained_c,
                                               float *grad_in, const float *saved_in,
                                               int in_act, int in_depth, int out_depth)
{
    for (int i = 0; i < in_depth; i++) {
        if (in_act && !train_act_passes(saved_in[i], in_act)) {
            grad_in[i] = 0.0f;
            continue;
        }
        float total = 0.0f;
        for (int o = 0; o < trained_c; o++) {
            total += weights[o * in_depth + i] * grad_out[o];
        }
        for (int o = trained_c; o < out_depth; o++) {
            total += frozen[(o - trained_c) * in_depth + i] * grad_out[o];
        }
        grad_in[i] = total;
    }
}

TINYRT_KERNEL void train_fc_backward_weights_f32(const void *input, int in_s8, float in_scale,
                                                 int32_t in_zp, const float *grad_out,
                                                 float *grad_w, int trained_c, int in_depth,
                                                 int out_depth)
{
    (void)out_depth;
    for (int o = 0; o < trained_c; o++) {
        const float g = grad_out[o];
        for (int i = 0; i < in_depth; i++) {
            grad_w[o * in_depth + i] += g * tr_load_act(input, in_s8, in_scale, in_zp, i);
        }
    }
}

#endif /* TINYRT_TRAIN_FC_F32_H */
