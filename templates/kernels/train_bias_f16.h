/*
 * train_bias_grad_f16: the gradient of a bias added into the FP16 velocity: grad_b[c] =
 * half(grad_b[c] + the float32 sum over positions of grad_out[p, c]), as train_bias_f32.h. No scratch.
 */
#ifndef TINYRT_TRAIN_BIAS_F16_H
#define TINYRT_TRAIN_BIAS_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_rows_f16.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_bias.inc"

#endif /* TINYRT_TRAIN_BIAS_F16_H */
