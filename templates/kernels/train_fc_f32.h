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
 * No scratch. Body: train_fc.inc, shared with train_fc_f16.h.
 */
#ifndef TINYRT_TRAIN_FC_F32_H
#define TINYRT_TRAIN_FC_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f32.h"

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_fc.inc"

#endif /* TINYRT_TRAIN_FC_F32_H */
