/*
 * train_softmax_xent_f16: softmax cross-entropy of one sample on FP16 logits.
 *
 * logits [classes] half, label in [0, classes). As train_softmax_xent_f32 (train_xent_f32.h,
 * the same train_expf_f32 and class-order sum) on the logits' float values, in float32; the
 * gradient softmax(z) - onehot(label) is rounded to FP16 as it is stored. Returns the loss
 * (float32) and *predicted = the first index of the largest logit. grad must not alias
 * logits. No scratch.
 */
#ifndef TINYRT_TRAIN_XENT_F16_H
#define TINYRT_TRAIN_XENT_F16_H

#include <math.h>
#include <stdint.h>

#include "../tinyrt_math.h"
#include "train_rows_f16.h"
#include "train_xent_f32.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_xent.inc"

#endif /* TINYRT_TRAIN_XENT_F16_H */
