/*
 * train_softmax_xent_f32: softmax cross-entropy of one sample, forward and backward.
 *
 * logits [classes] float, label in [0, classes). Returns the loss
 *   log(sum_c exp(z_c - max)) - (z_label - max)
 * and writes grad [classes] = softmax(z) - onehot(label) (the gradient of the loss with respect
 * to the logits), and *predicted = the first index of the largest logit. expf/logf: link -lm.
 * grad must not alias logits. No scratch.
 */
#ifndef TINYRT_TRAIN_XENT_F32_H
#define TINYRT_TRAIN_XENT_F32_H

#include <math.h>
#include <stdint.h>

#include "../tinyrt_math.h"

/* The first index of the largest of n values. */
static inline int train_argmax_f32(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (x[i] > x[best]) {
            best = i;
        }
    }
    return best;
}

TINYRT_KERNEL float train_softmax_xent_f32(const float *logits, float *grad, int classes,
                                           int label, int *predicted)
{
    const int top = train_argmax_f32(logits, classes);
    const float max = logits[top];
    float sum = 0.0f;
    for (int c = 0; c < classes; c++) {
        grad[c] = expf(logits[c] - max);
        sum += grad[c];
    }
    for (int c = 0; c < classes; c++) {
        grad[c] = grad[c] / sum;
    }
    grad[label] -= 1.0f;
    *predicted = top;
    return logf(sum) - (logits[label] - max);
}

#endif /* TINYRT_TRAIN_XENT_F32_H */
