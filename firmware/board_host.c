/*
 * board_host.c: the board layer of the native `host` build.
 *
 * The console is file descriptors 0 (read) and 1 (write): tinyrt/hostdevice.py runs the program
 * on a pty, tests may use pipes. The program exits when the console reaches end of file or
 * fails. The counter is CLOCK_MONOTONIC in nanoseconds (latency unit "ns"); there is no stack
 * painting on the host, so the stack figures are 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "board.h"

const char *const tr_board_latency_unit = "ns";
const uint32_t tr_board_clock_hz = 0;

static uint8_t rx_buf[256];
static size_t rx_pos, rx_end;

void tr_board_init(void)
{
}

uint8_t tr_board_getc(void)
{
    while (rx_pos == rx_end) {
        ssize_t got = read(0, rx_buf, sizeof rx_buf);
        if (got > 0) {
            rx_pos = 0;
            rx_end = (size_t)got;
        } else if (got == 0 || errno != EINTR) {
            exit(0);
        }
    }
    return rx_buf[rx_pos++];
}

void tr_board_write(const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t put = write(1, data, len);
        if (put > 0) {
            data += put;
            len -= (size_t)put;
        } else if (put < 0 && errno != EINTR && errno != EAGAIN) {
            exit(0);
        }
    }
}

uint64_t tr_board_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tr_board_stack_paint(void)
{
}

uint32_t tr_board_stack_used(void)
{
    return 0;
}

uint32_t tr_board_stack_size(void)
{
    return 0;
}

/* Nothing to check: the host has no painted stack, and its build can run under -fsanitize=address. */
void tr_board_check_limits(void)
{
}

uint32_t tr_board_static_ram(void)
{
    return 0;
}
