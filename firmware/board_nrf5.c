/*
 * board_nrf5.c: Nordic nRF51 and nRF52 (the nRF52840-DK; the nRF51822 of QEMU's microbit).
 *
 * Clock: the core runs at its fixed HCLK (64 MHz nRF52, 16 MHz nRF51) from the internal RC
 * oscillator (HFINT) out of reset; [clock] source = "hfxo" starts the crystal (TASKS_HFCLKSTART,
 * bounded wait for EVENTS_HFCLKSTARTED) for an accurate baud rate. A crystal that does not start
 * leaves the core on HFINT at the same frequency: tr_clock_status says so (firmware/clock.h),
 * the clock INFO reports does not change.
 * Console: UART0 (the legacy UART, without EasyDMA; the same registers on both) on the pins the
 * board file gives (console.tx_pin / rx_pin: P0.06 / P0.08 on the DK, the J-Link virtual COM
 * port; P0.24 / P0.25 on the micro:bit). Receiving is not polled: while waiting for a byte the
 * core sleeps in WFI, woken by the UART's RXDRDY interrupt line (enabled only for the wait and
 * never taken: tr_wait_irq in cortexm.h). Sending waits for TXDRDY after each byte.
 * Latency (counter.kind):
 *   dwt:       the DWT cycle counter (nRF52's Cortex-M4), extended to 64 bits from SysTick.
 *   nrf_timer: TIMERn at TR_COUNTER_BASE in 32-bit mode at 16 MHz, read by a capture task
 *              (the nRF51's Cortex-M0 has neither DWT nor SysTick). Extended to 64 bits at each
 *              read, so one run may last up to 2^32 ticks (268 s). Under QEMU -icount a tick is
 *              counter.instructions_per_tick (NUM / DEN) emulated instructions, on silicon
 *              1/16 us.
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"
#define TR_CLOCK_DEFINE
#include "clock.h"

#define CLOCK_BASE 0x40000000u
#define CLOCK_TASKS_HFCLKSTART TR_REG32(CLOCK_BASE + 0x000u)
#define CLOCK_EVENTS_HFCLKSTARTED TR_REG32(CLOCK_BASE + 0x100u)

#define P0_BASE 0x50000000u
#define P0_OUTSET TR_REG32(P0_BASE + 0x508u)
#define P0_PIN_CNF(n) TR_REG32(P0_BASE + 0x700u + 4u * (n))

#define UART_TASKS_STARTRX TR_REG32(TR_CONSOLE_BASE + 0x000u)
#define UART_TASKS_STARTTX TR_REG32(TR_CONSOLE_BASE + 0x008u)
#define UART_EVENTS_RXDRDY TR_REG32(TR_CONSOLE_BASE + 0x108u)
#define UART_EVENTS_TXDRDY TR_REG32(TR_CONSOLE_BASE + 0x11Cu)
#define UART_INTENSET TR_REG32(TR_CONSOLE_BASE + 0x304u)
#define UART_INT_RXDRDY (1u << 2)
/* An nRF peripheral's interrupt number is its ID, bits 12..17 of its address (UART0: 2). */
#define UART_IRQ ((TR_CONSOLE_BASE >> 12) & 0x3Fu)
#define UART_ENABLE TR_REG32(TR_CONSOLE_BASE + 0x500u)
#define UART_PSEL_RTS TR_REG32(TR_CONSOLE_BASE + 0x508u)
#define UART_PSEL_TXD TR_REG32(TR_CONSOLE_BASE + 0x50Cu)
#define UART_PSEL_CTS TR_REG32(TR_CONSOLE_BASE + 0x510u)
#define UART_PSEL_RXD TR_REG32(TR_CONSOLE_BASE + 0x514u)
#define UART_RXD TR_REG32(TR_CONSOLE_BASE + 0x518u)
#define UART_TXD TR_REG32(TR_CONSOLE_BASE + 0x51Cu)
#define UART_BAUDRATE TR_REG32(TR_CONSOLE_BASE + 0x524u)
#define UART_CONFIG TR_REG32(TR_CONSOLE_BASE + 0x56Cu)
#define PSEL_DISCONNECTED 0xFFFFFFFFu

/* BAUDRATE = baud * 2^32 / 16 MHz, rounded to the 4096 steps the peripheral uses
 * (115200 -> 0x01D7E000, as in the product specification's table). */
#define UART_BAUD_REG \
    ((uint32_t)((((uint64_t)TR_SERIAL_BAUD << 32) / 16000000u + 0x800u) & 0xFFFFF000u))

const char *const tr_board_latency_unit = TR_COUNTER_UNIT;

/* ---- the latency counter ---- */
static struct tr_ticks ticks;

#if defined(TR_COUNTER_KIND_DWT)
void SysTick_Handler(void);
void SysTick_Handler(void)
{
    (void)tr_ticks_update(&ticks, TR_DWT_CYCCNT);
}

static void counter_start(void)
{
    tr_dwt_start();
    tr_ticks_start(&ticks, TR_DWT_CYCCNT, 0xFFFFFFFFu);
    tr_systick_start(); /* its interrupt keeps the 64-bit extension current */
}

uint64_t tr_board_counter(void)
{
    return tr_ticks_update(&ticks, TR_DWT_CYCCNT);
}
#elif defined(TR_COUNTER_KIND_NRF_TIMER)
#define TIMER_TASKS_START TR_REG32(TR_COUNTER_BASE + 0x000u)
#define TIMER_TASKS_CLEAR TR_REG32(TR_COUNTER_BASE + 0x00Cu)
#define TIMER_TASKS_CAPTURE3 TR_REG32(TR_COUNTER_BASE + 0x04Cu)
#define TIMER_MODE TR_REG32(TR_COUNTER_BASE + 0x504u)
#define TIMER_BITMODE TR_REG32(TR_COUNTER_BASE + 0x508u)
#define TIMER_PRESCALER TR_REG32(TR_COUNTER_BASE + 0x510u)
#define TIMER_CC3 TR_REG32(TR_COUNTER_BASE + 0x54Cu)
#ifndef TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM
#ifdef TR_COUNTER_INSTRUCTIONS_PER_TICK
#define TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM TR_COUNTER_INSTRUCTIONS_PER_TICK
#else
#define TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM 1u /* silicon: the unit is the timer's tick */
#endif
#define TR_COUNTER_INSTRUCTIONS_PER_TICK_DEN 1u
#endif

static uint32_t timer_now(void)
{
    TIMER_TASKS_CAPTURE3 = 1u;
    return TIMER_CC3;
}

static void counter_start(void)
{
    TIMER_MODE = 0u;      /* timer */
    TIMER_BITMODE = 3u;   /* 32 bits */
    TIMER_PRESCALER = 0u; /* 16 MHz */
    TIMER_TASKS_CLEAR = 1u;
    TIMER_TASKS_START = 1u;
    tr_ticks_start(&ticks, timer_now(), 0xFFFFFFFFu);
}

uint64_t tr_board_counter(void)
{
    return tr_scale_u64(tr_ticks_update(&ticks, timer_now()), TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM,
                        TR_COUNTER_INSTRUCTIONS_PER_TICK_DEN);
}
#else
#error "board_nrf5.c: counter.kind must be dwt or nrf_timer"
#endif

/* ---- clock and console ---- */
uint32_t tr_clock_start(void)
{
#if defined(TR_CLOCK_SOURCE_HFXO)
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    int started = tr_clock_wait(&CLOCK_EVENTS_HFCLKSTARTED, 1u, 1u);
    tr_clock_status = started ? TR_CLOCK_REACHED : TR_CLOCK_SOURCE;
#else /* hfint, or no [clock]: the RC oscillator the core runs on from reset */
    tr_clock_status = TR_CLOCK_REACHED;
#endif
    /* HCLK is fixed: HFINT and HFXO give the same core clock */
    tr_clock_running_hz = TR_BOARD_CLOCK_HZ;
    return tr_clock_running_hz;
}

void tr_board_init(void)
{
    (void)tr_clock_start();

    P0_OUTSET = 1u << TR_CONSOLE_TX_PIN;
    P0_PIN_CNF(TR_CONSOLE_TX_PIN) = 0x3u; /* output, input buffer disconnected */
    P0_PIN_CNF(TR_CONSOLE_RX_PIN) = 0x0u; /* input */
    UART_PSEL_TXD = TR_CONSOLE_TX_PIN;
    UART_PSEL_RXD = TR_CONSOLE_RX_PIN;
    UART_PSEL_RTS = PSEL_DISCONNECTED;
    UART_PSEL_CTS = PSEL_DISCONNECTED;
    UART_CONFIG = 0u; /* no parity, no flow control */
    UART_BAUDRATE = UART_BAUD_REG;
    UART_ENABLE = 4u;
    UART_EVENTS_RXDRDY = 0u;
    UART_EVENTS_TXDRDY = 0u;
    UART_INTENSET = UART_INT_RXDRDY; /* the RX line wakes WFI in tr_board_getc, never taken */
    UART_TASKS_STARTRX = 1u;
    UART_TASKS_STARTTX = 1u;

    counter_start();
    __asm__ volatile("cpsie i" ::: "memory");
}

uint8_t tr_board_getc(void)
{
    /* Sleep until a byte: the event stays set (its line high) until cleared below. */
    while (UART_EVENTS_RXDRDY == 0u) {
        tr_wait_irq(UART_IRQ, &UART_EVENTS_RXDRDY, 1u);
    }
    UART_EVENTS_RXDRDY = 0u; /* before reading RXD, which raises it again for a queued byte */
    return (uint8_t)UART_RXD;
}

void tr_board_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        UART_TXD = data[i];
        while (UART_EVENTS_TXDRDY == 0u) {
        }
        UART_EVENTS_TXDRDY = 0u;
    }
}
