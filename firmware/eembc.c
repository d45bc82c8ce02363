/*
 * eembc.c: the MLPerf Tiny (EEMBC) runner's DUT protocol over the board's console, running the
 * tinyrt model (model.h) on the bytes the runner loads with `db` commands (eembc.h).
 *
 * What the runner parses, as mlcommons/tiny's reference firmware prints it (performance mode):
 *   boot:        m-timestamp-mode-performance, m-lap-us-T, m-init-done, m-ready
 *   name%        m-name-dut-[tinyrt]
 *   profile%     m-profile-[ULPMark for tinyML Firmware V0.0.1], m-model-[kws01]
 *   db load N%   m-[Expecting N bytes]      db HEX%  m-load-done once N bytes arrived
 *   infer N W%   m-warmup-start-W, m-warmup-done, m-infer-start-N, m-lap-us-T0, m-lap-us-T1,
 *                m-infer-done, m-results-[v0,v1,...]
 * and "m-ready" after every command. The lap time is the board's counter in microseconds:
 * cycles at the board clock on silicon, emulated instructions / 1000 on QEMU under -icount
 * (1 ns per instruction), ns / 1000 on the host. tinyrt adds lines the runner ignores (its
 * patterns do not match them): m-tinyrt-[...] in profile% (model, hash, board, counter unit) and
 * m-tinyrt-infer-[...] in infer% (the exact count of the timed loop, stack high-water mark).
 * Results are every output element dequantized, (q - zero_point) * scale as TFLite Micro's
 * DequantizeInt8ToFloat, printed with 9 significant digits: a float32 reads back exactly, so the
 * host recovers each output byte.
 * Departures from the reference, each where it would read or run on a wrong buffer: a too-large
 * `db load`, bytes without a `db load`, an `infer` before the input is whole and a command longer
 * than 80 characters and `results` before any `infer` are e-[...] errors; an empty command (the
 * runner's port flush) is m-ready alone.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "eembc.h"
#include "model.h"

#if TINYRT_NUM_INPUTS > 4 || TINYRT_NUM_OUTPUTS > 4
#error "eembc.c handles at most 4 inputs and 4 outputs"
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

/* The runner's command being gathered; `too_long` once it passed EE_CMD_SIZE characters. */
static char cmd_buf[EE_CMD_SIZE + 1];
static uint32_t cmd_pos;
static uint8_t too_long;

/* The `db` buffer: exactly the model's input bytes; db_size expected, db_pos received. */
static uint8_t db_buf[TINYRT_INPUT_BYTES];
static uint32_t db_size, db_pos;

/* Where the model reads its input from before every run, when the arena does not keep it
 * (a plan that reuses the input's bytes, or an input read by rows): the db buffer itself, or a
 * converted copy when the runner's bytes are offset (EE_INPUT_OFFSET). */
#define INPUT_SOURCE_NEEDED (TINYRT_INPUT_STREAMED || !TINYRT_INPUTS_PRESERVED)
#if INPUT_SOURCE_NEEDED && EE_INPUT_OFFSET != 0
static uint8_t input_copy[TINYRT_INPUT_BYTES];
#define INPUT_SOURCE input_copy
#else
#define INPUT_SOURCE db_buf
#endif
static uint8_t input_loaded;
static uint8_t results_ready;   /* an inference ran: the outputs in the arena are its results */

/* ---- output: what th_printf does in the reference, without printf ---- */

static void put(const char *s)
{
    tr_board_write((const uint8_t *)s, strlen(s));
}

static void put_u64(uint64_t v)
{
    char buf[21];
    int i = (int)sizeof buf - 1;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    put(buf + i);
}

static void put_hex2(uint8_t b)
{
    static const char digits[] = "0123456789abcdef";
    char s[3] = { digits[b >> 4], digits[b & 15u], '\0' };
    put(s);
}

/* d.dddddddde[+-]XX: 9 significant digits, enough for any float32 to read back exactly. The
 * scaling runs in double, whose error (~1e-15) stays far below half a float32 step (3e-8). */
static void put_float(float f)
{
    double v = f;
    int exp10 = 0;
    if (v != v) {
        put("nan");
        return;
    }
    if (v < 0) {
        put("-");
        v = -v;
    }
    if (v > 3.5e38) {
        put("inf");
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
    put(s);
    put(exp10 < 0 ? "e-" : "e+");
    uint32_t e = (uint32_t)(exp10 < 0 ? -exp10 : exp10);
    if (e < 10u) {
        put("0");
    }
    put_u64(e);
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

static void th_timestamp(void)
{
    put("m-lap-us-");
    put_u64(counter_us(tr_board_counter()));
    put("\r\n");
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

/* th_load_tensor: the db buffer becomes the model's input. */
static int load_tensor(void)
{
    if (db_pos != TINYRT_INPUT_BYTES) {
        put("e-[Input db has ");
        put_u64(db_pos);
        put(" bytes, expected ");
        put_u64(TINYRT_INPUT_BYTES);
        put("]\r\n");
        return 0;
    }
#if INPUT_SOURCE_NEEDED && EE_INPUT_OFFSET != 0
    for (uint32_t b = 0; b < TINYRT_INPUT_BYTES; b++) {
        input_copy[b] = (uint8_t)(db_buf[b] - EE_INPUT_OFFSET);
    }
#endif
#if TINYRT_INPUT_STREAMED
    tinyrt_set_input(INPUT_SOURCE);
#elif !INPUT_SOURCE_NEEDED
    copy_inputs(db_buf, (uint8_t)EE_INPUT_OFFSET);   /* the arena keeps it across runs */
#endif
    input_loaded = 1;
    return 1;
}

/* th_infer: one run. A plan that reuses the input's bytes gets its input again every run. */
static void th_infer(void)
{
#if !TINYRT_INPUT_STREAMED && INPUT_SOURCE_NEEDED
    copy_inputs(INPUT_SOURCE, 0);
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

static void th_results(void)
{
    if (!results_ready) {
        put("e-[No results: run 'infer' first]\r\n");
        return;
    }
    put("m-results-[");
    for (int i = 0; i < TINYRT_NUM_OUTPUTS; i++) {
        const struct out_info *o = &outputs[i];
        const uint8_t *p = (const uint8_t *)tinyrt_output(i);
        uint32_t size = strcmp(o->dtype, "int8") == 0 || strcmp(o->dtype, "uint8") == 0 ? 1u
                        : strcmp(o->dtype, "int16") == 0 ? 2u : 4u;
        for (uint32_t b = 0; b < o->bytes; b += size) {
            put(i == 0 && b == 0 ? "" : ",");
            put_float(dequantize(o, p + b));
        }
    }
    put("]\r\n");
}

static void ee_infer(uint32_t n, uint32_t warmups)
{
    if (!input_loaded && !load_tensor()) {
        return;
    }
    put("m-warmup-start-");
    put_u64(warmups);
    put("\r\n");
    for (uint32_t i = 0; i < warmups; i++) {
        th_infer();
    }
    put("m-warmup-done\r\nm-infer-start-");
    put_u64(n);
    put("\r\n");
    th_timestamp();
    uint64_t start = tr_board_counter();
    for (uint32_t i = 0; i < n; i++) {
        th_infer();
    }
    uint64_t count = tr_board_counter() - start;
    th_timestamp();
    results_ready = 1;
    put("m-infer-done\r\nm-tinyrt-infer-[runs=");
    put_u64(n);
    put(",count=");
    put_u64(count);
    put(",unit=");
    put(tr_board_latency_unit);
    put(",stack=");
    put_u64(tr_board_stack_used());
    put("]\r\n");
    th_results();
}

/* ---- commands ---- */

/* The reference parses with strtok and atoi; newlib's pull in its reentrancy data and a heap,
 * which the firmware has not. These do the same on the command buffer. */
static char *tokens;

static char *next_token(char *start)
{
    char *p = start != NULL ? start : tokens;
    if (p == NULL) {
        return NULL;
    }
    while (*p == ' ') {
        p++;
    }
    if (*p == '\0') {
        tokens = NULL;
        return NULL;
    }
    char *tok = p;
    while (*p != '\0' && *p != ' ') {
        p++;
    }
    if (*p == ' ') {
        *p++ = '\0';
    }
    tokens = p;
    return tok;
}

/* atoi: optional sign, then decimal digits up to the first other character; clamped. */
static int32_t to_int(const char *s)
{
    int neg = *s == '-';
    s += neg || *s == '+';
    int64_t v = 0;
    while (*s >= '0' && *s <= '9' && v <= INT32_MAX) {
        v = v * 10 + (*s++ - '0');
    }
    v = v > INT32_MAX ? INT32_MAX : v;
    return (int32_t)(neg ? -v : v);
}

static int is_cmd(const char *tok, const char *name)
{
    return strncmp(tok, name, EE_CMD_SIZE) == 0;
}

static void db_load(const char *arg)
{
    if (arg == NULL) {
        put("e-[Command 'db load' requires the # of bytes]\r\n");
        return;
    }
    int32_t n = to_int(arg);
    if (n <= 0) {
        put("e-[Command 'db load' must be >0 bytes]\r\n");
    } else if ((uint32_t)n > TINYRT_INPUT_BYTES) {
        put("e-[Supplied buffer size ");
        put_u64((uint32_t)n);
        put(" exceeds maximum of ");
        put_u64(TINYRT_INPUT_BYTES);
        put("]\r\n");
    } else {
        db_size = (uint32_t)n;
        db_pos = 0;
        input_loaded = 0;
        put("m-[Expecting ");
        put_u64(db_size);
        put(" bytes]\r\n");
    }
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void db_bytes(const char *hex)
{
    uint32_t len = (uint32_t)strlen(hex);
    if ((len & 1u) != 0u) {
        put("e-[Insufficent number of hex digits]\r\n");
        return;
    }
    for (uint32_t i = 0; i < len; i += 2) {
        int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            char pair[3] = { hex[i], hex[i + 1], '\0' };
            put("e-[Invalid hex digit '");
            put(pair);
            put("']\r\n");
            return;
        }
        if (db_pos >= db_size) {
            put("e-[No bytes expected: send 'db load N' first]\r\n");
            return;
        }
        db_buf[db_pos++] = (uint8_t)(hi << 4 | lo);
        input_loaded = 0;
        if (db_pos == db_size) {
            put("m-load-done\r\n");
            return;   /* the reference disregards the remaining digits */
        }
    }
}

static void db_print(void)
{
    for (uint32_t i = 0; i < db_size; i++) {
        put(i % 8u == 0u ? "m-buffer-" : "-");
        put_hex2(db_buf[i]);
        if ((i + 1u) % 8u == 0u || i + 1u == db_size) {
            put("\r\n");
        }
    }
}

static void db_command(void)
{
    char *sub = next_token(NULL);
    if (sub == NULL) {
        put("e-[Command 'db' requires a subcommand]\r\n");
    } else if (is_cmd(sub, "load")) {
        db_load(next_token(NULL));
    } else if (is_cmd(sub, "print")) {
        db_print();
    } else {
        db_bytes(sub);
    }
}

static void infer_command(void)
{
    uint32_t n = 1, w = EE_DEFAULT_WARMUPS;
    char *arg = next_token(NULL);
    if (arg != NULL) {
        int32_t i = to_int(arg);
        if (i <= 0) {
            put("e-[Inference iterations must be >0]\r\n");
            return;
        }
        n = (uint32_t)i;
        arg = next_token(NULL);
        if (arg != NULL) {
            i = to_int(arg);
            if (i < 0) {
                put("e-[Inference warmup must be >=0]\r\n");
                return;
            }
            w = (uint32_t)i;
        }
    }
    ee_infer(n, w);
}

static void profile_command(void)
{
    put("m-profile-[" EE_FW_VERSION "]\r\nm-model-[" TH_MODEL_VERSION "]\r\n");
    put("m-tinyrt-[model=" TINYRT_MODEL_NAME ",hash=" TINYRT_MODEL_HASH ",board=");
    put(TINYRT_BOARD_ID);
    put(",unit=");
    put(tr_board_latency_unit);
    put(",clock_hz=");
    put_u64(tr_board_clock_hz);
    put(",input_bytes=");
    put_u64(TINYRT_INPUT_BYTES);
    put(",input_offset=");
    put_u64(EE_INPUT_OFFSET);
    put("]\r\n");
}

static void help_command(void)
{
    put(EE_FW_VERSION "\r\n\r\n"
        "help         : Print this information\r\n"
        "name         : Print the name of the device\r\n"
        "timestsamp   : Generate a timetsamp\r\n"
        "db SUBCMD    : Manipulate a generic byte buffer\r\n"
        "  load N     : Allocate N bytes and set load counter\r\n"
        "  db HH[HH]* : Load 8-bit hex byte(s) until N bytes\r\n"
        "  print [N=16] [offset=0]\r\n"
        "             : Print N bytes at offset as hex\r\n"
        "infer N [W=0]: Load input, execute N inferences after W warmup loops\r\n"
        "results      : Return the result fp32 vector\r\n");
}

void ee_serial_command_parser_callback(char *command)
{
    char *tok = next_token(command);
    if (tok == NULL) {
        /* nothing: the runner sends a lone '%' to flush a partial command */
    } else if (is_cmd(tok, "name")) {
        put("m-name-" EE_DEVICE_NAME "-[" TH_VENDOR_NAME_STRING "]\r\n");
    } else if (is_cmd(tok, "timestamp")) {
        th_timestamp();
    } else if (is_cmd(tok, "profile")) {
        profile_command();
    } else if (is_cmd(tok, "help")) {
        help_command();
    } else if (is_cmd(tok, "db")) {
        db_command();
    } else if (is_cmd(tok, "infer")) {
        infer_command();
    } else if (is_cmd(tok, "results")) {
        th_results();
    } else {
        put("e-[Unknown command: ");
        put(tok);
        put("]\r\n");
    }
    put("m-ready\r\n");
}

void ee_serial_callback(char c)
{
    if (c == EE_CMD_TERMINATOR) {
        cmd_buf[cmd_pos] = '\0';
        if (too_long) {
            put("e-[Command longer than 80 characters]\r\nm-ready\r\n");
        } else {
            ee_serial_command_parser_callback(cmd_buf);
        }
        cmd_pos = 0;
        too_long = 0;
    } else if (c == '\r' || c == '\n') {
        /* a terminal's line ends: not part of any command */
    } else if (cmd_pos < EE_CMD_SIZE) {
        cmd_buf[cmd_pos++] = c;
    } else {
        too_long = 1;
    }
}

void ee_benchmark_initialize(void)
{
    put("m-timestamp-mode-performance\r\n");
    th_timestamp();
    put("m-init-done\r\nm-ready\r\n");
}

int main(void)
{
    tr_board_init();
    tr_board_stack_paint();
    ee_benchmark_initialize();
    for (;;) {
        ee_serial_callback((char)tr_board_getc());
    }
}
