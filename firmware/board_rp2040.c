/*
 * board_rp2040.c: Raspberry Pi Pico (RP2040, Cortex-M0+), minimal.
 *
 * Clocks ([clock] in the board file, firmware/clock.h): the 12 MHz crystal (XOSC) is started and
 * drives clk_ref and clk_peri (so the UART's baud rate does not depend on the PLL); PLL_SYS
 * (12 MHz / REFDIV * FBDIV = VCO, / POSTDIV1 / POSTDIV2: m, n, p, p2 in the board file,
 * 1 * 125 / 6 / 2 = 125 MHz) then drives clk_sys. Every wait is bounded: a PLL that does not lock
 * leaves clk_sys on the crystal (12 MHz, reported as the clock); a crystal that does not start
 * leaves clk_sys where the boot ROM put it, an unknown clock reported as 0.
 * Console: UART0 (PL011) on GPIO0 (TX) / GPIO1 (RX). Latency: the M0+ has no DWT cycle counter,
 * so SysTick counts core cycles (24 bits, extended to 64 by counting its wrap interrupts,
 * cortexm.h; at 125 MHz it wraps every 134 ms).
 * While waiting for a byte the core sleeps in WFI, woken by the UART's interrupt line (UART0 = 20,
 * UART1 = 21 in the RP2040 datasheet's interrupt table; console.rx_irq in the board file
 * overrides). The FIFOs stay on, so the line rises when the RX FIFO holds 4 bytes (UARTIFLS 1/8)
 * or, for fewer, 32 bit periods after the last one (receive timeout, 0.3 ms at 115200 baud).
 * The interrupt is never taken: see tr_wait_irq in cortexm.h.
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"
#define TR_CLOCK_DEFINE
#include "clock.h"

#define RESETS_BASE 0x4000C000u
#define RESETS_RESET_CLR TR_REG32(RESETS_BASE + 0x3000u + 0x0u) /* atomic clear alias */
#define RESETS_RESET_DONE TR_REG32(RESETS_BASE + 0x8u)
#define RESET_IO_BANK0 (1u << 5)
#define RESET_PADS_BANK0 (1u << 8)
#define RESET_UART0 (1u << 22)
#define RESET_PLL_SYS (1u << 12)
#define RESETS_RESET_SET TR_REG32(RESETS_BASE + 0x2000u) /* atomic set alias */

#define PLL_SYS_BASE 0x40028000u
#define PLL_CS TR_REG32(PLL_SYS_BASE + 0x0u)
#define PLL_PWR TR_REG32(PLL_SYS_BASE + 0x4u)
#define PLL_FBDIV_INT TR_REG32(PLL_SYS_BASE + 0x8u)
#define PLL_PRIM TR_REG32(PLL_SYS_BASE + 0xCu)
#define PLL_CS_LOCK (1u << 31)
#define PLL_PWR_PD (1u << 0)
#define PLL_PWR_POSTDIVPD (1u << 3)
#define PLL_PWR_VCOPD (1u << 5)

#define XOSC_BASE 0x40024000u
#define XOSC_CTRL TR_REG32(XOSC_BASE + 0x00u)
#define XOSC_STATUS TR_REG32(XOSC_BASE + 0x04u)
#define XOSC_STARTUP TR_REG32(XOSC_BASE + 0x0Cu)
#ifdef TR_CLOCK_SOURCE_HZ
#define XOSC_HZ TR_CLOCK_SOURCE_HZ
#else
#define XOSC_HZ 12000000u
#endif

#define CLOCKS_BASE 0x40008000u
#define CLK_REF_CTRL TR_REG32(CLOCKS_BASE + 0x30u)
#define CLK_REF_DIV TR_REG32(CLOCKS_BASE + 0x34u)
#define CLK_REF_SELECTED TR_REG32(CLOCKS_BASE + 0x38u)
#define CLK_SYS_CTRL TR_REG32(CLOCKS_BASE + 0x3Cu)
#define CLK_SYS_DIV TR_REG32(CLOCKS_BASE + 0x40u)
#define CLK_SYS_SELECTED TR_REG32(CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL TR_REG32(CLOCKS_BASE + 0x48u)

#define IO_BANK0_GPIO_CTRL(n) TR_REG32(0x40014000u + 0x04u + 8u * (n))
#define FUNC_UART 2u

#ifndef TR_CONSOLE_RX_IRQ
#if TR_CONSOLE_BASE == 0x40034000u
#define TR_CONSOLE_RX_IRQ 20u /* UART0_IRQ */
#elif TR_CONSOLE_BASE == 0x40038000u
#define TR_CONSOLE_RX_IRQ 21u /* UART1_IRQ */
#else
#error "board_rp2040.c: set console.rx_irq (the UART's interrupt number) in the board file"
#endif
#endif

#define UART_DR TR_REG32(TR_CONSOLE_BASE + 0x000u)
#define UART_FR TR_REG32(TR_CONSOLE_BASE + 0x018u)
#define UART_IBRD TR_REG32(TR_CONSOLE_BASE + 0x024u)
#define UART_FBRD TR_REG32(TR_CONSOLE_BASE + 0x028u)
#define UART_LCR_H TR_REG32(TR_CONSOLE_BASE + 0x02Cu)
#define UART_CR TR_REG32(TR_CONSOLE_BASE + 0x030u)
#define UART_IFLS TR_REG32(TR_CONSOLE_BASE + 0x034u)
#define UART_IMSC TR_REG32(TR_CONSOLE_BASE + 0x038u)
#define UART_RIS TR_REG32(TR_CONSOLE_BASE + 0x03Cu)
#define INT_RX (1u << 4) /* RXIM / RXRIS: the RX FIFO reached its trigger level */
#define INT_RT (1u << 6) /* RTIM / RTRIS: receive timeout */
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)

const char *const tr_board_latency_unit = TR_COUNTER_UNIT;

static volatile uint32_t wraps;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    wraps++;
}

static int clocks_from_crystal(void)
{
    XOSC_CTRL = 0xAA0u;                              /* FREQ_RANGE 1-15 MHz */
    XOSC_STARTUP = (XOSC_HZ / 1000u + 128u) / 256u;  /* about 1 ms */
    XOSC_CTRL = (0xFABu << 12) | 0xAA0u;             /* ENABLE */
    if (!tr_clock_wait(&XOSC_STATUS, 1u << 31, 1u << 31)) { /* STABLE */
        return 0;
    }
    CLK_SYS_CTRL = 0u;                               /* clk_sys <- clk_ref (glitchless) */
    if (!tr_clock_wait(&CLK_SYS_SELECTED, 0xFFFFFFFFu, 1u)) {
        return 0;
    }
    CLK_REF_CTRL = 2u;                               /* clk_ref <- XOSC */
    if (!tr_clock_wait(&CLK_REF_SELECTED, 0xFFFFFFFFu, 1u << 2)) {
        return 0;
    }
    CLK_REF_DIV = 1u << 8;
    CLK_SYS_DIV = 1u << 8;
    CLK_PERI_CTRL = 4u << 5;                         /* AUXSRC = XOSC, while disabled */
    CLK_PERI_CTRL = (1u << 11) | (4u << 5);          /* ENABLE */
    tr_clock_running_hz = XOSC_HZ;
    return 1;
}

#ifdef TR_CLOCK_PLL_N /* no [clock] pll: the core stays on the crystal */
/* PLL_SYS out of reset, VCO = XOSC / REFDIV * FBDIV, locked, then its post dividers. */
static int start_pll(void)
{
    RESETS_RESET_SET = RESET_PLL_SYS;
    RESETS_RESET_CLR = RESET_PLL_SYS;
    if (!tr_clock_wait(&RESETS_RESET_DONE, RESET_PLL_SYS, RESET_PLL_SYS)) {
        return 0;
    }
    PLL_CS = TR_CLOCK_PLL_M;
    PLL_FBDIV_INT = TR_CLOCK_PLL_N;
    PLL_PWR &= ~(PLL_PWR_PD | PLL_PWR_VCOPD);
    if (!tr_clock_wait(&PLL_CS, PLL_CS_LOCK, PLL_CS_LOCK)) {
        return 0;
    }
    PLL_PRIM = (TR_CLOCK_PLL_P << 16) | (TR_CLOCK_PLL_P2 << 12);
    PLL_PWR &= ~PLL_PWR_POSTDIVPD;
    return 1;
}

/* clk_sys <- its aux mux <- PLL_SYS: the aux source is changed while clk_sys runs from clk_ref
 * (it is not glitchless), then the glitchless mux moves over. */
static int switch_to_pll(void)
{
    CLK_SYS_CTRL = 0u << 5;                          /* AUXSRC = PLL_SYS, SRC = clk_ref */
    CLK_SYS_CTRL = (0u << 5) | 1u;                   /* SRC = aux */
    return tr_clock_wait(&CLK_SYS_SELECTED, 0xFFFFFFFFu, 1u << 1);
}
#endif

uint32_t tr_clock_start(void)
{
    if (!clocks_from_crystal()) {
        tr_clock_status = TR_CLOCK_SOURCE;
        tr_clock_running_hz = 0u; /* where the boot ROM left it: unknown */
#ifdef TR_CLOCK_PLL_N
    } else if (!start_pll()) {
        tr_clock_status = TR_CLOCK_PLL;
    } else if (!switch_to_pll()) {
        tr_clock_status = TR_CLOCK_SWITCH;
#endif
    } else {
        tr_clock_status = TR_CLOCK_REACHED;
        tr_clock_running_hz = TR_BOARD_CLOCK_HZ;
    }
    return tr_clock_running_hz;
}

void tr_board_init(void)
{
    (void)tr_clock_start();
    uint32_t blocks = RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_UART0;
    RESETS_RESET_CLR = blocks;
    while ((RESETS_RESET_DONE & blocks) != blocks) {
    }
    /* PL011 divider in 1/64ths: 8 * f / baud = 128 * IBRD + 2 * FBRD (+1 to round); clk_peri is
     * the crystal. */
    uint32_t div = 8u * XOSC_HZ / TR_SERIAL_BAUD;
    UART_IBRD = div >> 7;
    UART_FBRD = ((div & 0x7Fu) + 1u) / 2u;
    UART_LCR_H = (3u << 5) | (1u << 4); /* 8 bits, FIFOs on; latches the divider */
    UART_IFLS = 0u;                     /* RX (and TX) trigger at 1/8 full */
    UART_IMSC = INT_RX | INT_RT;        /* the RX line wakes WFI, never taken */
    UART_CR = (1u << 9) | (1u << 8) | 1u; /* RXE, TXE, UARTEN */
    IO_BANK0_GPIO_CTRL(TR_CONSOLE_TX_PIN) = FUNC_UART;
    IO_BANK0_GPIO_CTRL(TR_CONSOLE_RX_PIN) = FUNC_UART;

    tr_systick_start();
    __asm__ volatile("cpsie i" ::: "memory");
}

uint8_t tr_board_getc(void)
{
    while (UART_FR & FR_RXFE) {
        /* Both causes clear as the FIFO is read: the line is low while it is empty. */
        tr_wait_irq(TR_CONSOLE_RX_IRQ, &UART_RIS, INT_RX | INT_RT);
    }
    return (uint8_t)UART_DR;
}

void tr_board_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while (UART_FR & FR_TXFF) {
        }
        UART_DR = data[i];
    }
}

uint64_t tr_board_counter(void)
{
    return tr_systick_ticks(&wraps);
}
