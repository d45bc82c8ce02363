/*
 * eembc.h: the device side of the MLPerf Tiny (EEMBC) benchmark runner's protocol, built instead
 * of tinyrt's framed protocol with `--protocol eembc` (firmware/eembc.c: the commands,
 * firmware/eembc_model.c: the model and the text output; README "MLPerf Tiny").
 *
 * Text commands end with '%' ("name%", "profile%", "db load N%", "db HEX%", "db print%",
 * "infer N W%", "results%", "timestamp%", "help%"); every answer line ends with "\r\n", lines of
 * the runner start with "m-", errors with "e-[...]", and every command ends with "m-ready".
 * Names, messages and defaults are those of mlcommons/tiny benchmark/api/internally_implemented.h
 * and submitter_implemented.h (performance mode), so the official runner drives it unchanged.
 */
#ifndef TINYRT_EEMBC_H
#define TINYRT_EEMBC_H

#include <stdint.h>

#define EE_CMD_SIZE 80u
#define EE_CMD_DELIMITER " "
#define EE_CMD_TERMINATOR '%'
#define EE_DEVICE_NAME "dut"
#define EE_FW_VERSION "ULPMark for tinyML Firmware V0.0.1"

/* What `name%` reports after "m-name-dut-": the runner's devices.yaml `check_name`. */
#ifndef TH_VENDOR_NAME_STRING
#define TH_VENDOR_NAME_STRING "tinyrt"
#endif

/* What `profile%` reports as m-model-[...]: the runner picks its test script by it (kws01,
 * vww01, ic01, ad01); tinyrt/eembc.py sets it from the model's name. */
#ifndef TH_MODEL_VERSION
#define TH_MODEL_VERSION "unknown"
#endif

/* The runner's datasets for ic01 and vww01 are uint8 images and the reference firmware
 * subtracts 128 to make the int8 input; every received byte minus this is the model's byte. */
#ifndef EE_INPUT_OFFSET
#define EE_INPUT_OFFSET 0
#endif

/* Warmup runs of `infer N` without W (the reference firmware's default). */
#define EE_DEFAULT_WARMUPS 10u

/* firmware/eembc_model.c: text output (no printf), and the reference's submitter layer. */
void ee_put(const char *s);
void ee_put_u64(uint64_t v);
void ee_put_hex2(uint8_t b);
/* m-lap-us-<the board's counter in microseconds> */
void th_timestamp(void);
/* The `n` bytes loaded with `db` become the model's input: 1, or an e-[...] line and 0. */
int th_load_tensor(const uint8_t *db, uint32_t n);
/* One run of the model on the loaded input. */
void th_infer(void);
/* m-results-[...]: every output element dequantized (an e-[...] line before any inference). */
void th_results(void);
/* W warmup runs, then N timed ones between two timestamps, then the results. */
void ee_infer(uint32_t n, uint32_t warmups);

/* firmware/eembc.c: feed one received character; a '%' runs the command gathered so far. */
void ee_serial_callback(char c);

/* Run one command (the text before '%'), answer it and end with "m-ready". */
void ee_serial_command_parser_callback(char *command);

/* The boot lines (timestamp mode, a first timestamp, m-init-done, m-ready). */
void ee_benchmark_initialize(void);

#endif /* TINYRT_EEMBC_H */
