/*
 * Test firmware for tests/test_qemu.py: for each byte k received, run a loop of exactly
 * 2 * k * TR_TEST_SPIN_UNIT instructions (subs + bne) between two tr_board_counter() readings and
 * send the difference back as 8 little-endian bytes.
 */
#include <stdint.h>

#include "board.h"

#ifndef TR_TEST_SPIN_UNIT
#define TR_TEST_SPIN_UNIT 100000u
#endif

static void spin(uint32_t n)
{
    /* unified syntax: GCC wraps inline asm in divided syntax for Armv6-M (Cortex-M0) */
    __asm__ volatile(".syntax unified\n1: subs %0, %0, #1\n bne 1b\n" : "+l"(n) : : "cc");
}

int main(void)
{
    tr_board_init();
    for (;;) {
        uint32_t k = tr_board_getc();
        uint64_t t0 = tr_board_counter();
        spin(k * TR_TEST_SPIN_UNIT);
        uint64_t d = tr_board_counter() - t0;
        uint8_t out[8];
        for (int i = 0; i < 8; i++) {
            out[i] = (uint8_t)(d >> (8 * i));
        }
        tr_board_write(out, sizeof out);
    }
}
