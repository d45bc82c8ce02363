/*
 * Test firmware for tests/test_fp16_mve.py: does QEMU's Cortex-M55 execute the MVE fp16
 * instructions the *_f16.h kernels use as the architecture defines them? For each request (one
 * op byte, then three 16-byte vectors a, b, c) it runs one intrinsic and sends back 16 bytes:
 *   0 vfmaq_f16(c, a, b)   1 vaddq_f16(a, b)   2 vmulq_f16(a, b)   3 vmaxnmq_f16(a, b)
 *   4 vminnmq_f16(a, b)    5 vsubq_f16(a, b)   6 vfmaq_n_f16(c, a, b[0])
 *   7 vcvtbq_f32_f16(a)    8 vcvttq_f32_f16(a)  (4 floats from the bottom / top halves)
 *   9 vcvtbq_f16_f32(c, a as 4 floats)         10 vcvttq_f16_f32(c, a as 4 floats)
 * The host checks every result against exact IEEE arithmetic (ops 0-6, the instructions the
 * kernels use) and that QEMU 7.2 faults on 7-10 (why convert_f16.h converts with scalar VCVTB).
 */
#include <stdint.h>
#include <string.h>

#include <arm_mve.h>

#include "board.h"

static void read_exactly(uint8_t *p, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)tr_board_getc();
    }
}

int main(void)
{
    tr_board_init();
    for (;;) {
        uint8_t op;
        uint8_t raw[48] __attribute__((aligned(16)));
        uint8_t out[16] __attribute__((aligned(16)));
        read_exactly(&op, 1);
        read_exactly(raw, sizeof raw);
        float16x8_t a, b, c;
        memcpy(&a, raw, 16);
        memcpy(&b, raw + 16, 16);
        memcpy(&c, raw + 32, 16);
        float16x8_t h = c;
        float32x4_t f = vdupq_n_f32(0.0f);
        int is_float = 0;
        switch (op) {
        case 0: h = vfmaq_f16(c, a, b); break;
        case 1: h = vaddq_f16(a, b); break;
        case 2: h = vmulq_f16(a, b); break;
        case 3: h = vmaxnmq_f16(a, b); break;
        case 4: h = vminnmq_f16(a, b); break;
        case 5: h = vsubq_f16(a, b); break;
        case 6: h = vfmaq_n_f16(c, a, vgetq_lane_f16(b, 0)); break;
        case 7: f = vcvtbq_f32_f16(a); is_float = 1; break;
        case 8: f = vcvttq_f32_f16(a); is_float = 1; break;
        case 9: h = vcvtbq_f16_f32(c, vreinterpretq_f32_f16(a)); break;
        case 10: h = vcvttq_f16_f32(c, vreinterpretq_f32_f16(a)); break;
        default: break;
        }
        if (is_float) {
            memcpy(out, &f, 16);
        } else {
            memcpy(out, &h, 16);
        }
        tr_board_write(out, sizeof out);
    }
}
