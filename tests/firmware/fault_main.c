/*
 * Test firmware for tests/test_qemu.py: on the first byte received, execute an undefined
 * instruction; the startup's fault handler should report it on the console.
 */
#include <stdint.h>

#include "board.h"

int main(void)
{
    tr_board_init();
    (void)tr_board_getc();
    __asm__ volatile("udf #0");
    for (;;) {
    }
}
