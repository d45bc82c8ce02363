/*
 * The SGD update of the FP16 training tail (train_sgd_f32.h's maths), on [count] halves, each
 * element one FP16 operation rounded once:
 *   train_scale_f16:    x[i] = x[i] * (half)factor      (v *= momentum; the loss gradient *= 1/batch)
 *   train_sgd_step_f16: w[i] = w[i] - (half)lr * v[i]   (fused: VFMA.F16; tr_f16_fma portably)
 * so the momentum, 1/batch and lr take their FP16 values (0.9 is 0.89990234375). params and
 * velocity are distinct. The _mve versions (8 halves a vector, predicated tail) give the same
 * bits as the portable ones (tests/test_train_f16.py on qemu-m55). No scratch.
 */
#ifndef TINYRT_TRAIN_SGD_F16_H
#define TINYRT_TRAIN_SGD_F16_H

#include <stdint.h>

#include "../tinyrt_f16.h"
#include "train_rows_f16.h"

#define TR_T tr_f16
#define TR_FN(name) name##_f16
#include "train_sgd.inc"

#if TINYRT_F16_MVE
TINYRT_KERNEL void train_scale_f16_mve(tr_f16 *x, int count, float factor)
{
    float16_t *v = (float16_t *)x;
    const float16_t f = (float16_t)factor;
    for (int i = 0; i < count; i += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(count - i));
        vstrhq_p_f16(v + i, vmulq_n_f16(vldrhq_z_f16(v + i, p), f), p);
    }
}

TINYRT_KERNEL void train_sgd_step_f16_mve(tr_f16 *params, const tr_f16 *velocity, int count,
                                          float lr)
{
    float16_t *w = (float16_t *)params;
    const float16_t *v = (const float16_t *)velocity;
    const float16_t minus_lr = (float16_t)-lr;
    for (int i = 0; i < count; i += 8) {
        const mve_pred16_t p = vctp16q((uint32_t)(count - i));
        const float16x8_t next = vfmaq_n_f16(vldrhq_z_f16(w + i, p), vldrhq_z_f16(v + i, p),
                                             minus_lr);
        vstrhq_p_f16(w + i, next, p);
    }
}
#endif

#endif /* TINYRT_TRAIN_SGD_F16_H */
