/*
 * train_act_f16: the ReLU/ReLU6 derivative of the FP16 training tail (train_act_f32.h's rule:
 * 1 where the saved output is strictly inside the linear range, 0 elsewhere).
 * train_act_backward_f16: grad[i] := 0 where saved[i] does not pass, count halves; grad may
 * not alias saved. No scratch.
 */
#ifndef TINYRT_TRAIN_ACT_F16_H
#define TINYRT_TRAIN_ACT_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_rows_f16.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_act.inc"

#endif /* TINYRT_TRAIN_ACT_F16_H */
