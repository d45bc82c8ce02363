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

TINYRT_KERNEL void train_act_backward_f16(const tr_f16 *saved, tr_f16 *grad, int count, int act)
{
    for (int i = 0; i < count; i++) {
        if (!train_act_passes((float)saved[i], act)) {
            grad[i] = (tr_f16)0.0f;
        }
    }
}

#endif /* TINYRT_TRAIN_ACT_F16_H */
