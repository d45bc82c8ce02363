/*
 * eembc.c: the MLPerf Tiny (EEMBC) runner's DUT protocol over the board's console: gathers the
 * '%'-ended commands, parses and answers them; eembc_model.c runs the tinyrt model (eembc.h).
 *
 * What the runner parses, as mlcommons/tiny's reference firmware prints it (performance mode):
 *   boot:        m-timestamp-mode-performance, m-lap-us-T, m-init-done, m-ready
 *   name%        m-name-dut-[tinyrt]
 *   profile%     m-profile-[ULPMark for tinyML Firmware V0.0.1], m-model-[kws01]
 *   db load N%   m-[Expecting N bytes]      db HEX%  m-load-done once N bytes arrived
 *   infer N W%   m-warmup-start-W, m-warmup-done, m-infer-start-N, m-lap-us-T0, m-lap-us-T1,
 *                m-infer-done, m-results-[v0,v1,...]
 * and "m-ready" after every command. tinyrt adds lines the runner ignores (its patterns do not
 * match them): m-tinyrt-[...] in profile% (tinyrt model name, hash, board, counter unit) and
 * m-tinyrt-infer-[...] in infer% (the exact count of the timed loop, stack high-water mark).
 * Departures from the reference, each where it would read or run on a wrong buffer: a too-large
 * `db load`, bytes without a `db load`, an `infer` before the input is whole, `results` before
 * any `infer` and a command longer than 80 characters are e-[...] errors; an empty command (the
 * runner's port flush) is m-ready alone.
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "eembc.h"
#include "model.h"

/* The runner's command being gathered; `too_long` once it passed EE_CMD_SIZE characters. */
static char cmd_buf[EE_CMD_SIZE + 1];
static uint32_t cmd_pos;
static uint8_t too_long;

/* The `db` buffer: exactly the model's input bytes; db_size expected, db_pos received;
 * input_loaded once th_load_tensor took them. */
static uint8_t db_buf[TINYRT_INPUT_BYTES];
static uint32_t db_size, db_pos;
static uint8_t input_loaded;

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
        ee_put("e-[Command 'db load' requires the # of bytes]\r\n");
        return;
    }
    int32_t n = to_int(arg);
    if (n <= 0) {
        ee_put("e-[Command 'db load' must be >0 bytes]\r\n");
    } else if ((uint32_t)n > TINYRT_INPUT_BYTES) {
        ee_put("e-[Supplied buffer size ");
        ee_put_u64((uint32_t)n);
        ee_put(" exceeds maximum of ");
        ee_put_u64(TINYRT_INPUT_BYTES);
        ee_put("]\r\n");
    } else {
        db_size = (uint32_t)n;
        db_pos = 0;
        input_loaded = 0;
        ee_put("m-[Expecting ");
        ee_put_u64(db_size);
        ee_put(" bytes]\r\n");
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
        ee_put("e-[Insufficent number of hex digits]\r\n");
        return;
    }
    for (uint32_t i = 0; i < len; i += 2) {
        int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            char pair[3] = { hex[i], hex[i + 1], '\0' };
            ee_put("e-[Invalid hex digit '");
            ee_put(pair);
            ee_put("']\r\n");
            return;
        }
        if (db_pos >= db_size) {
            ee_put("e-[No bytes expected: send 'db load N' first]\r\n");
            return;
        }
        db_buf[db_pos++] = (uint8_t)(hi << 4 | lo);
        input_loaded = 0;
        if (db_pos == db_size) {
            ee_put("m-load-done\r\n");
            return;   /* the reference disregards the remaining digits */
        }
    }
}

static void db_print(void)
{
    for (uint32_t i = 0; i < db_size; i++) {
        ee_put(i % 8u == 0u ? "m-buffer-" : "-");
        ee_put_hex2(db_buf[i]);
        if ((i + 1u) % 8u == 0u || i + 1u == db_size) {
            ee_put("\r\n");
        }
    }
}

static void db_command(void)
{
    char *sub = next_token(NULL);
    if (sub == NULL) {
        ee_put("e-[Command 'db' requires a subcommand]\r\n");
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
            ee_put("e-[Inference iterations must be >0]\r\n");
            return;
        }
        n = (uint32_t)i;
        arg = next_token(NULL);
        if (arg != NULL) {
            i = to_int(arg);
            if (i < 0) {
                ee_put("e-[Inference warmup must be >=0]\r\n");
                return;
            }
            w = (uint32_t)i;
        }
    }
    if (!input_loaded && !(input_loaded = (uint8_t)th_load_tensor(db_buf, db_pos))) {
        return;
    }
    ee_infer(n, w);
}

static void profile_command(void)
{
    ee_put("m-profile-[" EE_FW_VERSION "]\r\nm-model-[" TH_MODEL_VERSION "]\r\n");
    ee_put("m-tinyrt-[graph=" TINYRT_MODEL_NAME ",hash=" TINYRT_MODEL_HASH ",board=");
    ee_put(TINYRT_BOARD_ID);
    ee_put(",unit=");
    ee_put(tr_board_latency_unit);
    ee_put(",clock_hz=");
    ee_put_u64(tr_board_clock_hz);
    ee_put(",input_bytes=");
    ee_put_u64(TINYRT_INPUT_BYTES);
    ee_put(",input_offset=");
    ee_put_u64(EE_INPUT_OFFSET);
    ee_put("]\r\n");
}

static void help_command(void)
{
    ee_put(EE_FW_VERSION "\r\n\r\n"
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
        ee_put("m-name-" EE_DEVICE_NAME "-[" TH_VENDOR_NAME_STRING "]\r\n");
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
        ee_put("e-[Unknown command: ");
        ee_put(tok);
        ee_put("]\r\n");
    }
    ee_put("m-ready\r\n");
}

void ee_serial_callback(char c)
{
    if (c == EE_CMD_TERMINATOR) {
        cmd_buf[cmd_pos] = '\0';
        if (too_long) {
            ee_put("e-[Command longer than 80 characters]\r\nm-ready\r\n");
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
    ee_put("m-timestamp-mode-performance\r\n");
    th_timestamp();
    ee_put("m-init-done\r\nm-ready\r\n");
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
