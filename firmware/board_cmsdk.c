/*
 * board_cmsdk.c: the QEMU Arm MPS2/MPS3 boards (mps2-an386, mps2-an500, mps2-an505, mps3-an547).
 *
 * Console: CMSDK APB UART at TR_CONSOLE_BASE (DATA +0x00, STATE +0x04, CTRL +0x08,
 * INTSTATUS +0x0C, BAUDDIV +0x10). QEMU ignores the baud rate; a valid divider is written anyway.
 * While waiting for a byte the core sleeps in WFI, woken by the UART's RX interrupt line
 * (TR_CONSOLE_RX_IRQ: console.rx_irq in the board file, else the machine's UART0 RX line), so an
 * idle emulated board does not burn a host core. Sleeping happens only between requests: the
 * instructions of a run, and so the latency figures under -icount, are the same.
 *
 * Counter, in emulated instructions (QEMU has no DWT cycle counter): under -icount shift=0 the
 * virtual clock advances 1 ns per executed instruction, so a timer tick is a fixed number of
 * instructions, counter.instructions_per_tick = NUM / DEN (40 for the 25 MHz an386/an500 timer,
 * 50 for the 20 MHz an505 timer, 31.25 for the 32 MHz an547 SysTick). The hardware count is
 * extended to 64 bits (cortexm.h).
 *   counter.kind = "cmsdk_timer": the 32-bit CMSDK timer at TR_COUNTER_BASE, counting down.
 *   counter.kind = "systick":     the 24-bit SysTick itself.
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"

#define UART_DATA TR_REG32(TR_CONSOLE_BASE + 0x00u)
#define UART_STATE TR_REG32(TR_CONSOLE_BASE + 0x04u)
#define UART_CTRL TR_REG32(TR_CONSOLE_BASE + 0x08u)
#define UART_BAUDDIV TR_REG32(TR_CONSOLE_BASE + 0x10u)
#define UART_STATE_TXFULL 0x1u
#define UART_INTSTATUS TR_REG32(TR_CONSOLE_BASE + 0x0Cu)
#define UART_STATE_RXFULL 0x2u
#define UART_CTRL_TX_RX 0x3u
#define UART_CTRL_RX_INTEN 0x8u
#define UART_INT_RX 0x2u

#ifndef TR_CONSOLE_RX_IRQ /* UART0 RX, as QEMU wires it on each machine */
#if TR_CONSOLE_BASE == 0x40004000u
#define TR_CONSOLE_RX_IRQ 0u  /* mps2-an385/an386/an500 */
#elif TR_CONSOLE_BASE == 0x40200000u || TR_CONSOLE_BASE == 0x50200000u
#define TR_CONSOLE_RX_IRQ 32u /* mps2-an505 */
#elif TR_CONSOLE_BASE == 0x49303000u || TR_CONSOLE_BASE == 0x59303000u
#define TR_CONSOLE_RX_IRQ 33u /* mps3-an547 */
#else
#error "board_cmsdk.c: set console.rx_irq (the UART's RX interrupt number) in the board file"
#endif
#endif

#if defined(TR_COUNTER_KIND_CMSDK_TIMER)
#define TIMER_CTRL TR_REG32(TR_COUNTER_BASE + 0x00u)
#define TIMER_VALUE TR_REG32(TR_COUNTER_BASE + 0x04u)
#define TIMER_RELOAD TR_REG32(TR_COUNTER_BASE + 0x08u)
#elif !defined(TR_COUNTER_KIND_SYSTICK)
#error "board_cmsdk.c: counter.kind must be cmsdk_timer or systick"
#endif

#ifndef TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM /* a whole number in the board file */
#define TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM TR_COUNTER_INSTRUCTIONS_PER_TICK
#define TR_COUNTER_INSTRUCTIONS_PER_TICK_DEN 1u
#endif

const char *const tr_board_latency_unit = TR_COUNTER_UNIT;
const uint32_t tr_board_clock_hz = TR_BOARD_CLOCK_HZ;

void SysTick_Handler(void);

#if defined(TR_COUNTER_KIND_CMSDK_TIMER)
static struct tr_ticks ticks;

void SysTick_Handler(void)
{
    (void)tr_ticks_update(&ticks, ~TIMER_VALUE);
}

static uint64_t counter_ticks(void)
{
    return tr_ticks_update(&ticks, ~TIMER_VALUE); /* the timer counts down */
}
#else
static volatile uint32_t wraps;

void SysTick_Handler(void)
{
    wraps++;
}

static uint64_t counter_ticks(void)
{
    return tr_systick_ticks(&wraps);
}
#endif

void tr_board_init(void)
{
    UART_BAUDDIV = 16u;
    UART_CTRL = UART_CTRL_TX_RX | UART_CTRL_RX_INTEN; /* the RX line wakes WFI, never taken */
#if defined(TR_COUNTER_KIND_CMSDK_TIMER)
    TIMER_CTRL = 0u;
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = 0x1u; /* enable; SysTick keeps the 64-bit extension current */
    tr_ticks_start(&ticks, ~TIMER_VALUE, 0xFFFFFFFFu);
#endif
    tr_systick_start();
    __asm__ volatile("cpsie i" ::: "memory");
}

uint8_t tr_board_getc(void)
{
    while ((UART_STATE & UART_STATE_RXFULL) == 0u) {
        /* Lower the line first, so the next byte raises it again whatever came before. */
        UART_INTSTATUS = UART_INT_RX;
        tr_wait_irq(TR_CONSOLE_RX_IRQ, &UART_STATE, UART_STATE_RXFULL);
    }
    return (uint8_t)UART_DATA;
}

void tr_board_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while ((UART_STATE & UART_STATE_TXFULL) != 0u) {
        }
        UART_DATA = data[i];
    }
}

uint64_t tr_board_counter(void)
{
    return counter_ticks() * TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM / TR_COUNTER_INSTRUCTIONS_PER_TICK_DEN;
}
