/*
 * eembc_model.c: what the MLPerf Tiny reference firmware's submitter layer does (th_load_tensor,
 * th_infer, th_results, th_timestamp, ee_infer), on the tinyrt generated model (model.h), and the
 * text output the protocol prints with (eembc.h; no printf: newlib's needs a heap).
 *
 * The lap time is the board's counter in microseconds: cycles at the board clock on silicon,
 * emulated instructions / 1000 on QEMU under -icount (1 ns per instruction), ns / 1000 on the
 * host. Results are every output element dequantized, (q - zero_point) * scale as TFLite Micro's
 * DequantizeInt8ToFloat, printed with 9 significant digits: a float32 reads back exactly, so the
 * host recovers each output byte.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "eembc.h"
#include "model.h"

#if TINYRT_NUM_INPUTS > 4 || TINYRT_NUM_OUTPUTS > 4
#error "the EEMBC firmware handles at most 4 inputs and 4 outputs"
#endif

#define TR_OUT_INFO(i) { TINYRT_OUTPUT##i##_DTYPE, TINYRT_OUTPUT##i##_SCALE, \
                         TINYRT_OUTPUT##i##_ZERO_POINT, TINYRT_OUTPUT##i##_BYTES }

struct out_info {
    const char *dtype;
    float scale;
    int32_t zero_point;
    uint32_t bytes;
};

static const uint32_t input_bytes[TINYRT_NUM_INPUTS] = {
    TINYRT_INPUT0_BYTES,
#if TINYRT_NUM_INPUTS > 1
    TINYRT_INPUT1_BYTES,
#endif
#if TINYRT_NUM_INPUTS > 2
    TINYRT_INPUT2_BYTES,
#endif
#if TINYRT_NUM_INPUTS > 3
    TINYRT_INPUT3_BYTES,
#endif
};

static const struct out_info outputs[TINYRT_NUM_OUTPUTS] = {
    TR_OUT_INFO(0),
#if TINYRT_NUM_OUTPUTS > 1
    TR_OUT_INFO(1),
#endif
#if TINYRT_NUM_OUTPUTS > 2
    TR_OUT_INFO(2),
#endif
#if TINYRT_NUM_OUTPUTS > 3
    TR_OUT_INFO(3),
#endif
};

/* Where the model reads its input from before every run, when the arena does not keep it
 * (a plan that reuses the input's bytes, or an input read by rows): the db buffer itself, or a
 * converted copy when the runner's bytes are offset (EE_INPUT_OFFSET). */
#define INPUT_SOURCE_NEEDED (TINYRT_INPUT_STREAMED || !TINYRT_INPUTS_PRESERVED)
#if INPUT_SOURCE_NEEDED && EE_INPUT_OFFSET != 0
static uint8_t input_copy[TINYRT_INPUT_BYTES];
#endif
static const uint8_t *input_source;
static uint8_t results_ready;   /* an inference ran: the outputs in the arena are its results */

/* ---- output: what th_printf does in the reference, without printf ---- */

void ee_put(const char *s)
{
    tr_board_write((const uint8_t *)s, strlen(s));
}

void ee_put_u64(uint64_t v)
{
    char buf[21];
    int i = (int)sizeof buf - 1;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    ee_put(buf + i);
}

void ee_put_hex2(uint8_t b)
{
    static const char digits[] = "0123456789abcdef";
    char s[3] = { digits[b >> 4], digits[b & 15u], '\0' };
    ee_put(s);
}

/* d.dddddddde[+-]XX: 9 significant digits, enough for any float32 to read back exactly. The
 * scaling runs in double, whose error (~1e-15) stays far below half a float32 step (3e-8). */
static void put_float(float f)
{
    double v = f;
    int exp10 = 0;
    if (v != v) {
        ee_put("nan");
        return;
    }
    if (v < 0) {
        ee_put("-");
        v = -v;
    }
    if (v > 3.5e38) {
        ee_put("inf");
        return;
    }
    if (v != 0.0) {
        while (v >= 10.0) { v /= 10.0; exp10++; }
        while (v < 1.0) { v *= 10.0; exp10--; }
    }
    uint64_t digits = (uint64_t)(v * 1e8 + 0.5);
    if (digits >= 1000000000u) {   /* 9.999999996 rounded up to 10 */
        digits /= 10u;
        exp10++;
    }
    char s[11];
    for (int i = 9; i >= 0; i--) {
        if (i == 1) {
            s[i] = '.';
            continue;
        }
        s[i] = (char)('0' + digits % 10u);
        digits /= 10u;
    }
    s[10] = '\0';
    ee_put(s);
    ee_put(exp10 < 0 ? "e-" : "e+");
    uint32_t e = (uint32_t)(exp10 < 0 ? -exp10 : exp10);
    if (e < 10u) {
        ee_put("0");
    }
    ee_put_u64(e);
}

/* ---- timing ---- */

/* The counter in microseconds: from cycles at the board clock, else (emulated instructions at
 * 1 ns each under -icount, or ns on the host) / 1000. */
static uint64_t counter_us(uint64_t count)
{
    if (strcmp(tr_board_latency_unit, "cycles") == 0 && tr_board_clock_hz != 0u) {
        uint64_t hz = tr_board_clock_hz;
        return count / hz * 1000000u + count % hz * 1000000u / hz;
    }
    return count / 1000u;
}

void th_timestamp(void)
{
    ee_put("m-lap-us-");
    ee_put_u64(counter_us(tr_board_counter()));
    ee_put("\r\n");
}

/* ---- the model ---- */

/* Copy `src` (the packed inputs) into the model's inputs in the arena, minus `offset`. */
static void copy_inputs(const uint8_t *src, uint8_t offset)
{
    for (int i = 0; i < TINYRT_NUM_INPUTS; i++) {
        uint8_t *dst = (uint8_t *)tinyrt_input(i);
        for (uint32_t b = 0; b < input_bytes[i]; b++) {
            dst[b] = (uint8_t)(src[b] - offset);
        }
        src += input_bytes[i];
    }
}

/* th_load_tensor: the `n` bytes loaded with `db` become the model's input (1), or an error (0). */
int th_load_tensor(const uint8_t *db, uint32_t n)
{
    if (n != TINYRT_INPUT_BYTES) {
        ee_put("e-[Input db has ");
        ee_put_u64(n);
        ee_put(" bytes, expected ");
        ee_put_u64(TINYRT_INPUT_BYTES);
        ee_put("]\r\n");
        return 0;
    }
    input_source = db;
#if INPUT_SOURCE_NEEDED && EE_INPUT_OFFSET != 0
    for (uint32_t b = 0; b < TINYRT_INPUT_BYTES; b++) {
        input_copy[b] = (uint8_t)(db[b] - EE_INPUT_OFFSET);
    }
    input_source = input_copy;
#endif
#if TINYRT_INPUT_STREAMED
    tinyrt_set_input(input_source);
#elif !INPUT_SOURCE_NEEDED
    copy_inputs(db, (uint8_t)EE_INPUT_OFFSET);   /* the arena keeps it across runs */
#endif
    return 1;
}

/* th_infer: one run. A plan that reuses the input's bytes gets its input again every run. */
void th_infer(void)
{
#if !TINYRT_INPUT_STREAMED && INPUT_SOURCE_NEEDED
    copy_inputs(input_source, 0);
#endif
    tinyrt_run();
    tr_board_check_limits();   /* an overrun stops the board with a fault line */
}

static float dequantize(const struct out_info *o, const uint8_t *p)
{
    if (strcmp(o->dtype, "float32") == 0) {
        float f;
        memcpy(&f, p, 4);
        return f;
    }
    int32_t q;
    if (strcmp(o->dtype, "int8") == 0) {
        q = (int8_t)p[0];
    } else if (strcmp(o->dtype, "uint8") == 0) {
        q = p[0];
    } else if (strcmp(o->dtype, "int16") == 0) {
        int16_t v;
        memcpy(&v, p, 2);
        q = v;
    } else {
        memcpy(&q, p, 4);   /* int32 */
    }
    return o->scale != 0.0f ? (float)(q - o->zero_point) * o->scale : (float)q;
}

void th_results(void)
{
    if (!results_ready) {
        ee_put("e-[No results: run 'infer' first]\r\n");
        return;
    }
    ee_put("m-results-[");
    for (int i = 0; i < TINYRT_NUM_OUTPUTS; i++) {
        const struct out_info *o = &outputs[i];
        const uint8_t *p = (const uint8_t *)tinyrt_output(i);
        uint32_t size = strcmp(o->dtype, "int8") == 0 || strcmp(o->dtype, "uint8") == 0 ? 1u
                        : strcmp(o->dtype, "int16") == 0 ? 2u : 4u;
        for (uint32_t b = 0; b < o->bytes; b += size) {
            ee_put(i == 0 && b == 0 ? "" : ",");
            put_float(dequantize(o, p + b));
        }
    }
    ee_put("]\r\n");
}

void ee_infer(uint32_t n, uint32_t warmups)
{
    ee_put("m-warmup-start-");
    ee_put_u64(warmups);
    ee_put("\r\n");
    for (uint32_t i = 0; i < warmups; i++) {
        th_infer();
    }
    ee_put("m-warmup-done\r\nm-infer-start-");
    ee_put_u64(n);
    ee_put("\r\n");
    th_timestamp();
    uint64_t start = tr_board_counter();
    for (uint32_t i = 0; i < n; i++) {
        th_infer();
    }
    uint64_t count = tr_board_counter() - start;
    th_timestamp();
    results_ready = 1;
    ee_put("m-infer-done\r\nm-tinyrt-infer-[runs=");
    ee_put_u64(n);
    ee_put(",count=");
    ee_put_u64(count);
    ee_put(",unit=");
    ee_put(tr_board_latency_unit);
    ee_put(",stack=");
    ee_put_u64(tr_board_stack_used());
    ee_put("]\r\n");
    th_results();
}

