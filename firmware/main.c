/*
 * main.c: the device firmware's entry point. Bring the board up, paint the stack for the
 * high-water mark, then answer protocol requests forever (docs/protocol.md).
 */
#include "board.h"
#include "protocol.h"

int main(void)
{
    tr_board_init();
    tr_board_stack_paint();
    tr_proto_serve();
    return 0;
}
