/*
 * fully_connected_s8_dsp: int8 fully connected layer on the Arm DSP extension (Cortex-M4/M7/
 * M33/M55), bit-exact with TFLite's reference_integer_ops::FullyConnected (per-tensor and
 * per-channel weights).
 *
 * input   [batches, in_depth]   int8, any zero point (folded into the bias)
 * output  [batches, out_depth]  int8, clamped to [act_min, act_max]
 * wpack   int32 words, re-laid out by tinyrt/kernels/fully_connected_s8_dsp.py. in_depth is
 *         padded with zero weights to in8 = 8 * ceil(in_depth / 8), out_depth to a multiple of
 *         4. Per block of 4 outputs o..o+3, a row of FC_S8_DSP_ROW_HEAD words
 *           [bias o + 256 bias o+1, bias o+1, bias o+2 + 256 bias o+3, bias o+3,
 *            rq_mult o..o+3, rq_shift o..o+3, rq_add o..o+3]
 *         (bias folded: bias - in_zp * sum(weights); rq_*: tr_requant(`mode`, ...)), then per
 *         input channel pair k = (a, b) (the SXTB16 pairing: (4g, 4g+2), (4g+1, 4g+3)) two
 *         words, one per output pair (o, o+1): [w[o][a] + 128, w[o+1][a], w[o][b] + 128,
 *         w[o+1][b]] (bytes; w[o] in offset binary).
 *
 * Weights stay int8 in flash and are extended once each (one SXTB16 per 4 weights): a raw
 * word's halfwords are 256 w[o+1] + w[o] + 128 as int16, so with the int16 input pair x,
 *   P = sum SMLAD(raw, x) = 256 D[o+1] + D[o] + 128 S    (S = sum of the inputs)
 *   Q = sum SMLAD(SXTB16(raw ROR 8), x) = D[o+1]
 * and D[o] = P - 256 Q - 128 S, exact in 32-bit wrap-around arithmetic (the true value fits).
 * P starts at bias o + 256 bias o+1 - 128 S, Q at bias o+1. Per channel pair and 4 outputs:
 * 1/2 LDRD x, 1 LDRD w, 2 SXTB16, 4 SMLAD (8 MACs).
 *
 * scratch (4-aligned): in8 * 2 bytes, the input row as int16 pairs (FC_S8_DSP_SCRATCH_BYTES).
 * Output must not alias the input.
 */
#ifndef TINYRT_FULLY_CONNECTED_S8_DSP_H
#define TINYRT_FULLY_CONNECTED_S8_DSP_H

#include <stdint.h>

#include "../tinyrt_dsp.h"

/* Channel pairs xa, xb for outputs (o, o+1) and (o+2, o+3): one LDM of 4 weight words (LDM
 * fills registers in ascending order, so w0..w3 are pinned to r8, r9, r10, r12). */
#define FC_DSP_TWO_PAIRS_ASM \
    "ldmia %[w]!, {%[w0], %[w1], %[w2], %[w3]}\n\t" \
    "smlad %[p0], %[w0], %[xa], %[p0]\n\t" \
    "smlad %[p1], %[w1], %[xa], %[p1]\n\t" \
    "sxtb16 %[w0], %[w0], ror #8\n\t" \
    "sxtb16 %[w1], %[w1], ror #8\n\t" \
    "smlad %[q0], %[w0], %[xa], %[q0]\n\t" \
    "smlad %[q1], %[w1], %[xa], %[q1]\n\t" \
    "smlad %[p0], %[w2], %[xb], %[p0]\n\t" \
    "smlad %[p1], %[w3], %[xb], %[p1]\n\t" \
    "sxtb16 %[w2], %[w2], ror #8\n\t" \
    "sxtb16 %[w3], %[w3], ror #8\n\t" \
    "smlad %[q0], %[w2], %[xb], %[q0]\n\t" \
    "smlad %[q1], %[w3], %[xb], %[q1]\n\t"

#define FC_S8_DSP_IN8(in_depth) (((in_depth) + 7) / 8 * 8)
#define FC_S8_DSP_SCRATCH_BYTES(in_depth) (2 * FC_S8_DSP_IN8(in_depth))
#define FC_S8_DSP_ROW_HEAD 16

/* The input row as int16 pairs x16[k] (pair k of the header's pairing, zero-padded to in8);
 * returns 128 * the sum of the inputs. */
TINYRT_KERNEL int32_t fc_dsp_expand(const int8_t *x, uint32_t *x16, int in_depth)
{
    const uint32_t ones = 0x00010001u;
    int32_t sum = 0;
    for (int g = 0; g < in_depth / 4; g++) {
        const uint32_t v = tr_read_u32(x + 4 * g);
        const uint32_t e = __sxtb16(v), o = TR_SXTB16_ODD(v);
        x16[2 * g] = e;
        x16[2 * g + 1] = o;
        sum = __smlad(e, ones, sum);
        sum = __smlad(o, ones, sum);
    }
    for (int g = in_depth / 4; g < FC_S8_DSP_IN8(in_depth) / 4; g++) {
        int8_t last[4] = {0, 0, 0, 0};
        for (int c = 4 * g; c < in_depth && c < 4 * g + 4; c++) {
            last[c - 4 * g] = x[c];
            sum += x[c];
        }
        const uint32_t v = tr_read_u32(last);
        x16[2 * g] = __sxtb16(v);
        x16[2 * g + 1] = TR_SXTB16_ODD(v);
    }
    return sum * 128;
}

/* One block of 4 outputs (the first n stored): the row's dot products with x16. */
TINYRT_KERNEL void fc_dsp_block4(const uint32_t *x16, const int32_t *row, int pairs,
                                 int32_t sum128, int8_t *y, int n, int mode, int32_t act_min,
                                 int32_t act_max)
{
    /* unsigned: P wraps around by design */
    int32_t p0 = (int32_t)((uint32_t)row[0] - (uint32_t)sum128), q0 = row[1];
    int32_t p1 = (int32_t)((uint32_t)row[2] - (uint32_t)sum128), q1 = row[3];
    const uint32_t *w = (const uint32_t *)(row + FC_S8_DSP_ROW_HEAD);
    const uint32_t *x = x16, *end = x16 + pairs;
#if defined(TINYRT_ACLE_PORTABLE)
    do {
        const uint32_t xv = *x++;
        uint32_t wa = w[0], wb = w[1];
        p0 = __smlad(wa, xv, p0);
        p1 = __smlad(wb, xv, p1);
        wa = TR_SXTB16_ODD(wa);
        wb = TR_SXTB16_ODD(wb);
        q0 = __smlad(wa, xv, q0);
        q1 = __smlad(wb, xv, q1);
        w += 2;
    } while (x != end);
#else
    /* In assembly: gcc -O2 neither unrolls this loop nor keeps the loads wide. Per trip 4
     * channel pairs: 2 LDRD x, 2 LDM w (4 words), 8 SXTB16, 16 SMLAD: 30 instructions for 32
     * MACs with the loop; 4 accumulators, 3 pointers, 6 temporaries. */
    uint32_t xa, xb;
    register uint32_t w0 __asm__("r8"), w1 __asm__("r9"), w2 __asm__("r10"), w3 __asm__("r12");
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[xa], %[xb], [%[x]], #8\n\t"
        FC_DSP_TWO_PAIRS_ASM
        "ldrd %[xa], %[xb], [%[x]], #8\n\t"
        FC_DSP_TWO_PAIRS_ASM
        "cmp %[x], %[end]\n\t"
        "bne 1b\n\t"
        : [p0] "+r"(p0), [q0] "+r"(q0), [p1] "+r"(p1), [q1] "+r"(q1), [x] "+r"(x),
          [w] "+r"(w), [xa] "=&r"(xa), [xb] "=&r"(xb), [w0] "=&r"(w0), [w1] "=&r"(w1),
          [w2] "=&r"(w2), [w3] "=&r"(w3)
        : [end] "r"(end)
        : "cc", "memory");
#endif
    const int32_t acc[4] = {(int32_t)((uint32_t)p0 - ((uint32_t)q0 << 8)), q0,
                            (int32_t)((uint32_t)p1 - ((uint32_t)q1 << 8)), q1};
    const int32_t *mult = row + 4, *shift = row + 8, *add = row + 12;
    for (int i = 0; i < n; i++) {
        y[i] = tr_clamp_s8(tr_requant(mode, acc[i], mult[i], shift[i], add[i]), act_min,
                           act_max);
    }
}

TINYRT_KERNEL void fully_connected_s8_dsp(const int8_t *input, const int32_t *wpack,
                                          int8_t *output, void *scratch, int batches,
                                          int in_depth, int out_depth, int mode, int32_t act_min,
                                          int32_t act_max)
{
    const int pairs = FC_S8_DSP_IN8(in_depth) / 2;
    const int row_words = FC_S8_DSP_ROW_HEAD + 2 * pairs;
    uint32_t *x16 = (uint32_t *)scratch;
    for (int b = 0; b < batches; b++) {
        const int32_t sum128 = fc_dsp_expand(input + b * in_depth, x16, in_depth);
        int8_t *y = output + b * out_depth;
        int o = 0;
        for (; o + 4 <= out_depth; o += 4) {
            fc_dsp_block4(x16, wpack + (o / 4) * row_words, pairs, sum128, y + o, 4, mode,
                          act_min, act_max);
        }
        if (out_depth % 4) {
            fc_dsp_block4(x16, wpack + (o / 4) * row_words, pairs, sum128, y + o,
                          out_depth % 4, mode, act_min, act_max);
        }
    }
}

#endif /* TINYRT_FULLY_CONNECTED_S8_DSP_H */
