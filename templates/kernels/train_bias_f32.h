/*
 * train_bias_grad_f32: the gradient of a bias, added into the accumulated gradient.
 *
 * grad_out [positions, channels] float: gradient of the layer's output before its activation.
 * grad_b   [channels] float: grad_b[c] += sum over positions of grad_out[p, c] (summed in
 * position order, then added once). No scratch.
 */
#ifndef TINYRT_TRAIN_BIAS_F32_H
#define TINYRT_TRAIN_BIAS_F32_H

#include <stdint.h>

#include "../tinyrt_math.h"

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_bias.inc"

#endif /* TINYRT_TRAIN_BIAS_F32_H */
