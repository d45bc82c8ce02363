/*
 * board.h: what a board layer provides to the device runtime (protocol server, timing, stack).
 *
 * One implementation per board family: firmware/board_host.c (native program over a pty or
 * stdio), firmware/board_cmsdk.c (QEMU mps2/mps3 CMSDK UART + timer), and one per real MCU.
 * Boards are selected by the build (board TOML `firmware.sources`), never by #ifdef in here.
 */
#ifndef TINYRT_BOARD_H
#define TINYRT_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* Clocks, UART and counters ready; called once from main() before anything else. */
void tr_board_init(void);

/* Blocking read of one byte from the console link. */
uint8_t tr_board_getc(void);

/* Write bytes to the console link (blocking until queued). */
void tr_board_write(const uint8_t *data, size_t len);

/* A free-running 64-bit count in the board's latency unit (TR_BOARD_LATENCY_UNIT):
 * core cycles on silicon (DWT CYCCNT), emulated instructions on QEMU under -icount. */
uint64_t tr_board_counter(void);

/* "cycles" or "emulated_instructions". */
extern const char *const tr_board_latency_unit;

/* Core clock in Hz (0 when meaningless, e.g. on the host). */
extern const uint32_t tr_board_clock_hz;

/* Fill the unused stack with a pattern, and later report how many bytes were ever used. */
void tr_board_stack_paint(void);
uint32_t tr_board_stack_used(void);
uint32_t tr_board_stack_size(void);

/* After every run: stops the board with a fault line on the console when the run reached the
 * stack's guard band or (debug builds, -DTINYRT_ARENA_CANARY) wrote past the arena. */
void tr_board_check_limits(void);

/* Static RAM the firmware occupies besides the arena and the stack (.data + .bss - arena). */
uint32_t tr_board_static_ram(void);

#endif /* TINYRT_BOARD_H */
