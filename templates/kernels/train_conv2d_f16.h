/*
 * train_conv2d_f16: 2D convolution of the FP16 training tail, forward and backward:
 * train_conv2d_f32.h with every tensor in FP16 (input: half, or the int8 boundary read
 * through train_load_f16), float32 sums in the same order, each stored value rounded to FP16
 * once (train_rows_f16.h). Layouts, aliasing and trained rows as train_conv2d_f32.h. No scratch.
 */
#ifndef TINYRT_TRAIN_CONV2D_F16_H
#define TINYRT_TRAIN_CONV2D_F16_H

#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_act_f32.h"
#include "train_conv2d_f32.h"
#include "train_rows_f16.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_conv2d.inc"

#endif /* TINYRT_TRAIN_CONV2D_F16_H */
