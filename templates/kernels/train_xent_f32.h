/*
 * train_softmax_xent_f32: softmax cross-entropy of one sample, forward and backward.
 *
 * logits [classes] float, label in [0, classes). Returns the loss
 *   log(sum_c exp(z_c - max)) - (z_label - max)
 * and writes grad [classes] = softmax(z) - onehot(label) (the gradient of the loss with respect
 * to the logits), and *predicted = the first index of the largest logit. logf: link -lm.
 * grad must not alias logits. No scratch.
 *
 * exp is train_expf_f32, not the C library's expf: newlib's and numpy's float32 exp differ in
 * the last bit for some inputs, and one bit of a probability is enough, over a few hundred
 * steps, to flip a ReLU or max-pool decision that sits within rounding (docs/training.md).
 * train_expf_f32 uses float32 operations only, each rounded once (no contraction: -std=c99),
 * and tinyrt/train/reference.py's expf32 performs the same operations in the same order, so
 * the two give the same bits. The sum of the exponentials is taken in class order, as there.
 * Body: train_xent.inc, shared with train_xent_f16.h.
 */
#ifndef TINYRT_TRAIN_XENT_F32_H
#define TINYRT_TRAIN_XENT_F32_H

#include <math.h>
#include <stdint.h>

#include "../tinyrt_math.h"

/* exp(x) for x <= 0 (a logit minus the largest): x = k ln2 + r, |r| <= ln2 / 2 (ln2 in two
 * parts, k ln2_hi exact), exp(r) by its degree-7 Taylor polynomial (Horner; relative error
 * below 1e-7 on that range), times 2^k built from its bits. Below -86 the result is 0 (2^k
 * would leave the normal range; e^-86 is 4e-38). */
static inline float train_expf_f32(float x)
{
    if (x < -86.0f) {
        return 0.0f;
    }
    const float k = floorf(x * 1.44269502f + 0.5f);
    const float r = (x - k * 0.693145752f) - k * 1.42860677e-06f;
    float p = 1.98412701e-04f;          /* 1/7! */
    p = p * r + 1.38888892e-03f;        /* 1/6! */
    p = p * r + 8.33333377e-03f;        /* 1/5! */
    p = p * r + 4.16666679e-02f;        /* 1/4! */
    p = p * r + 1.66666672e-01f;        /* 1/3! */
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union { uint32_t u; float f; } scale;
    scale.u = (uint32_t)((int32_t)k + 127) << 23;
    return p * scale.f;
}

#define TR_T float
#define TR_FN(name) name##_f32
#include "train_xent.inc"

#endif /* TINYRT_TRAIN_XENT_F32_H */
