/*
 * clock.h: the clock start-up a board layer runs first, from the board file's [clock] table
 * (TR_CLOCK_* macros, tinyrt/clock.py). Header-only helpers plus what the clock code defines.
 *
 * Every wait for an oscillator, a PLL, a regulator or a clock switch polls at most
 * TR_CLOCK_TIMEOUT_LOOPS times (at least [clock] timeout_ms at the reset clock). When one times
 * out the start-up stops there: the core stays on its reset clock, tr_clock_status names the step
 * (for a debugger) and tr_board_clock_hz, which INFO reports as clock_hz, is the reset clock, so
 * the host sees the board is not at its rated clock, says so and converts cycles to milliseconds
 * at the clock the core really runs at.
 */
#ifndef TINYRT_CLOCK_H
#define TINYRT_CLOCK_H

#include <stdint.h>

/* A board file without [clock] (e.g. made by `tinyrt boards add --clock-hz`): the core stays on
 * its reset clock, which its clock_hz then is. */
#ifndef TR_CLOCK_RESET_HZ
#define TR_CLOCK_RESET_HZ TR_BOARD_CLOCK_HZ
#endif
#ifndef TR_CLOCK_TIMEOUT_LOOPS
#define TR_CLOCK_TIMEOUT_LOOPS 1000000u
#endif

enum tr_clock_step {
    TR_CLOCK_REACHED = 0,     /* the rated clock */
    TR_CLOCK_NOT_STARTED = 1, /* the start-up has not run */
    TR_CLOCK_SOURCE = 2,      /* the oscillator did not start (HSE, HSI16, HFXO, XOSC) */
    TR_CLOCK_PLL = 3,         /* the PLL did not lock (or leave reset) */
    TR_CLOCK_POWER = 4,       /* voltage scaling / over-drive / boost not ready */
    TR_CLOCK_FLASH = 5,       /* the flash interface did not take the wait states */
    TR_CLOCK_SWITCH = 6,      /* the system clock did not switch to the PLL */
};

/* Which step the start-up ended at (TR_CLOCK_REACHED when the core runs at its rated clock). */
extern volatile uint32_t tr_clock_status;

/* The core clock now, in Hz: the reset clock until the start-up reaches the rated one.
 * tr_board_clock_hz (board.h) is another name for it. */
extern uint32_t tr_clock_running_hz;

/* Poll `*reg & mask` until it equals `want`, at most TR_CLOCK_TIMEOUT_LOOPS times. */
static inline int tr_clock_wait(const volatile uint32_t *reg, uint32_t mask, uint32_t want)
{
    for (uint32_t n = TR_CLOCK_TIMEOUT_LOOPS; n != 0u; n--) {
        if ((*reg & mask) == want) {
            return 1;
        }
    }
    return 0;
}

/* Defines tr_clock_status, tr_clock_running_hz and tr_board_clock_hz, in the one file that
 * includes it with TR_CLOCK_DEFINE. board.h declares tr_board_clock_hz const for the boards
 * whose clock is fixed; here it is the clock the start-up reached, so it names the variable the
 * start-up writes (a GCC alias: the same object under the const name protocol.c reads). */
#ifdef TR_CLOCK_DEFINE
volatile uint32_t tr_clock_status = TR_CLOCK_NOT_STARTED;
uint32_t tr_clock_running_hz = TR_CLOCK_RESET_HZ;
extern const uint32_t tr_board_clock_hz __attribute__((alias("tr_clock_running_hz")));
#endif

/* Start the clock tree; returns the core clock reached (tr_clock_running_hz). */
uint32_t tr_clock_start(void);

#endif /* TINYRT_CLOCK_H */
