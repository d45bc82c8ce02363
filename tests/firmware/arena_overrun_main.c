/*
 * Test firmware for tests/test_device_limits.py: the protocol server of firmware/main.c, on a
 * board whose arena has been written one word past its end (a kernel bug, simulated at boot).
 * Built with -DTINYRT_ARENA_CANARY, the check after the next run must report it.
 */
#include <stdint.h>

#include "board.h"
#include "model.h"
#include "protocol.h"

extern uint8_t __arena_start[];

int main(void)
{
    tr_board_init();
    tr_board_stack_paint();
    volatile uint32_t *past_end = (volatile uint32_t *)(uintptr_t)(__arena_start + TINYRT_ARENA_BYTES);
    *past_end = 0x0badf00du;
    tr_proto_serve();
    return 0;
}
