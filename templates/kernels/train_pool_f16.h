/*
 * train_pool_f16: average and max pooling of the FP16 training tail, forward and backward:
 * train_pool_f32.h with every tensor in FP16, float32 sums, each stored value rounded to
 * FP16 once (an overlapping max pool's input gradient is added in FP16, once per window).
 * Layouts and aliasing as there. No scratch.
 */
#ifndef TINYRT_TRAIN_POOL_F16_H
#define TINYRT_TRAIN_POOL_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_rows_f16.h"
#include "train_act_f32.h"
#include "train_act_f16.h"
#include "train_conv2d_f32.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_pool.inc"

#endif /* TINYRT_TRAIN_POOL_F16_H */
