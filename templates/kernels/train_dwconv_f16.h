/*
 * train_dwconv_f16: depthwise convolution of the FP16 training tail, forward and backward:
 * train_dwconv_f32.h with every tensor in FP16, float32 sums in the same order, each stored
 * value rounded to FP16 once (train_rows_f16.h). Layouts and aliasing as there. No scratch.
 */
#ifndef TINYRT_TRAIN_DWCONV_F16_H
#define TINYRT_TRAIN_DWCONV_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_rows_f16.h"
#include "train_act_f32.h"
#include "train_conv2d_f32.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_dwconv.inc"

#endif /* TINYRT_TRAIN_DWCONV_F16_H */
