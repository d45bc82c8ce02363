/*
 * board_nrf52.c: nRF52840 (nRF52840-DK), minimal. The 64 MHz core clock is switched to the
 * crystal (HFXO) for an accurate baud rate; the console is UART0 (legacy, polled) on the pins the
 * board file gives (console.tx_pin / rx_pin: P0.06 / P0.08, the J-Link virtual COM port);
 * latency is the DWT cycle counter, extended to 64 bits (cortexm.h).
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"

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
const uint32_t tr_board_clock_hz = TR_BOARD_CLOCK_HZ;

static struct tr_ticks cycles;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    (void)tr_ticks_update(&cycles, TR_DWT_CYCCNT);
}

void tr_board_init(void)
{
    CLOCK_EVENTS_HFCLKSTARTED = 0u;
    CLOCK_TASKS_HFCLKSTART = 1u;
    while (CLOCK_EVENTS_HFCLKSTARTED == 0u) {
    }

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

    tr_dwt_start();
    tr_ticks_start(&cycles, TR_DWT_CYCCNT, 0xFFFFFFFFu);
    tr_systick_start();
    __asm__ volatile("cpsie i" ::: "memory");
}

uint8_t tr_board_getc(void)
{
    /* Sleep until a byte: the event stays set (its line high) until cleared below. */
    while (UART_EVENTS_RXDRDY == 0u) {
        tr_wait_irq(UART_IRQ, &UART_EVENTS_RXDRDY, 1u);
    }
    UART_EVENTS_RXDRDY = 0u;
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

uint64_t tr_board_counter(void)
{
    return tr_ticks_update(&cycles, TR_DWT_CYCCNT);
}
