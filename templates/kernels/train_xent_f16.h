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

static inline int train_argmax_f16(const tr_f16 *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        if ((float)x[i] > (float)x[best]) {
            best = i;
        }
    }
    return best;
}

TINYRT_KERNEL float train_softmax_xent_f16(const tr_f16 *logits, tr_f16 *grad, int classes,
                                           int label, int *predicted)
{
    const int top = train_argmax_f16(logits, classes);
    const float max = (float)logits[top];
    float sum = 0.0f;
    for (int c = 0; c < classes; c++) {
        sum += train_expf_f32((float)logits[c] - max);
    }
    for (int c = 0; c < classes; c++) {
        const float p = train_expf_f32((float)logits[c] - max) / sum;
        grad[c] = (tr_f16)(c == label ? p - 1.0f : p);
    }
    *predicted = top;
    return logf(sum) - ((float)logits[label] - max);
}

#endif /* TINYRT_TRAIN_XENT_F16_H */
