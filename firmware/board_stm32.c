/*
 * board_stm32.c: STM32 boards (Nucleo-144 F746ZG and L4R5ZI; the F405 of QEMU's netduinoplus2).
 * The clock tree comes first (firmware/clock_stm32.c, from the board file's [clock]); the console
 * is a U(S)ART; latency is the DWT cycle counter on silicon, SysTick under QEMU (which models no
 * DWT), both extended to 64 bits (cortexm.h).
 *
 * Family (firmware.defines in the board file):
 *   TR_STM32F4: STM32F405, USART1 on PA9 (TX) / PA10 (RX), AF7, clocked by PCLK2.
 *   TR_STM32F7: STM32F746ZG, USART3 on PD8 (TX) / PD9 (RX), AF7 (the ST-LINK virtual COM port),
 *               clocked by HSI (RCC_DCKCFGR2.USART3SEL).
 *   TR_STM32L4: STM32L4R5ZI, LPUART1 on PG7 (TX) / PG8 (RX), AF8 (ST-LINK VCP), clocked by HSI16
 *               (RCC_CCIPR.LPUART1SEL); port G needs VDDIO2 (PWR_CR2.IOSV).
 * The F7/L4 console runs from the 16 MHz HSI whatever the core clock reached, so its baud rate
 * does not depend on the PLL; the F4's USART has no clock selector: its divider is set for the
 * reset clock, then again for the clock the start-up reached. The console starts before the
 * clock, so a byte that arrives meanwhile waits in the receive register instead of being lost.
 * Register layouts (console.kind): stm32_usart / stm32_lpuart (F7, L4: CR1, BRR, ISR, ICR, RDR,
 * TDR; the LPUART divider is 256 * f / baud) and stm32_usart_v1 (F1/F2/F4: SR, DR, BRR, CR1).
 * While waiting for a byte the core sleeps in WFI, woken by the U(S)ART's interrupt line
 * (CR1.RXNEIE; TR_CONSOLE_RX_IRQ: console.rx_irq in the board file, else USART1 = 37, USART3 = 39,
 * LPUART1 = 70 from the reference manuals' vector tables). The interrupt is never taken: see
 * tr_wait_irq in cortexm.h.
 */
#include <stdint.h>

#include "board.h"
#include "clock.h"
#include "cortexm.h"

#define HSI_HZ 16000000u

#if defined(TR_STM32F4)
#define RCC_BASE 0x40023800u
#define GPIO_BASE 0x40020000u /* GPIOA */
#define TX_PIN 9u
#define RX_PIN 10u
#define PIN_AF 7u
#define RCC_GPIO_EN TR_REG32(RCC_BASE + 0x30u) /* AHB1ENR */
#define RCC_GPIO_BIT (1u << 0)                  /* GPIOAEN */
#define RCC_UART_EN TR_REG32(RCC_BASE + 0x44u) /* APB2ENR */
#define RCC_UART_BIT (1u << 4)                  /* USART1EN */
#elif defined(TR_STM32F7)
#define RCC_BASE 0x40023800u
#define GPIO_BASE 0x40020C00u /* GPIOD */
#define TX_PIN 8u
#define RX_PIN 9u
#define PIN_AF 7u
#define RCC_GPIO_EN TR_REG32(RCC_BASE + 0x30u) /* AHB1ENR */
#define RCC_GPIO_BIT (1u << 3)                  /* GPIODEN */
#define RCC_UART_EN TR_REG32(RCC_BASE + 0x40u) /* APB1ENR */
#define RCC_UART_BIT (1u << 18)                 /* USART3EN */
#define RCC_DCKCFGR2 TR_REG32(RCC_BASE + 0x90u)
#elif defined(TR_STM32L4)
#define RCC_BASE 0x40021000u
#define PWR_BASE 0x40007000u
#define GPIO_BASE 0x48001800u /* GPIOG */
#define TX_PIN 7u
#define RX_PIN 8u
#define PIN_AF 8u
#define RCC_GPIO_EN TR_REG32(RCC_BASE + 0x4Cu) /* AHB2ENR */
#define RCC_GPIO_BIT (1u << 6)                  /* GPIOGEN */
#define RCC_UART_EN TR_REG32(RCC_BASE + 0x5Cu) /* APB1ENR2 */
#define RCC_UART_BIT (1u << 0)                  /* LPUART1EN */
#define RCC_PWR_EN TR_REG32(RCC_BASE + 0x58u)  /* APB1ENR1 */
#define RCC_PWR_BIT (1u << 28)                  /* PWREN */
#define RCC_CCIPR TR_REG32(RCC_BASE + 0x88u)
#define PWR_CR2 TR_REG32(PWR_BASE + 0x04u)
#define PWR_CR2_IOSV (1u << 9)
#else
#error "board_stm32.c: firmware.defines must set TR_STM32F4, TR_STM32F7 or TR_STM32L4"
#endif

#ifndef TR_CONSOLE_RX_IRQ
#if TR_CONSOLE_BASE == 0x40011000u
#define TR_CONSOLE_RX_IRQ 37u /* USART1 */
#elif TR_CONSOLE_BASE == 0x40004800u
#define TR_CONSOLE_RX_IRQ 39u /* USART3 */
#elif TR_CONSOLE_BASE == 0x40008000u
#define TR_CONSOLE_RX_IRQ 70u /* LPUART1 (STM32L4) */
#else
#error "board_stm32.c: set console.rx_irq (the U(S)ART's interrupt number) in the board file"
#endif
#endif

#define GPIO_MODER TR_REG32(GPIO_BASE + 0x00u)
#define GPIO_AFR(n) TR_REG32(GPIO_BASE + 0x20u + 4u * (n))

#if defined(TR_CONSOLE_KIND_STM32_USART_V1)
#define UART_STATUS TR_REG32(TR_CONSOLE_BASE + 0x00u) /* SR */
#define UART_RX TR_REG32(TR_CONSOLE_BASE + 0x04u)     /* DR */
#define UART_TX UART_RX
#define UART_BRR TR_REG32(TR_CONSOLE_BASE + 0x08u)
#define UART_CR1 TR_REG32(TR_CONSOLE_BASE + 0x0Cu)
#define CR1_UE (1u << 13)
#elif defined(TR_CONSOLE_KIND_STM32_USART) || defined(TR_CONSOLE_KIND_STM32_LPUART)
#define UART_CR1 TR_REG32(TR_CONSOLE_BASE + 0x00u)
#define UART_BRR TR_REG32(TR_CONSOLE_BASE + 0x0Cu)
#define UART_STATUS TR_REG32(TR_CONSOLE_BASE + 0x1Cu) /* ISR */
#define UART_ICR TR_REG32(TR_CONSOLE_BASE + 0x20u)
#define UART_RX TR_REG32(TR_CONSOLE_BASE + 0x24u)     /* RDR */
#define UART_TX TR_REG32(TR_CONSOLE_BASE + 0x28u)     /* TDR */
#define CR1_UE (1u << 0)
#else
#error "board_stm32.c: console.kind must be stm32_usart, stm32_lpuart or stm32_usart_v1"
#endif
/* The same bits in SR (v1) and ISR. */
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define ST_ORE (1u << 3)
#define ST_RXNE (1u << 5)
#define ST_TXE (1u << 7)

const char *const tr_board_latency_unit = TR_COUNTER_UNIT;

/* ---- the latency counter ---- */
#if defined(TR_COUNTER_KIND_DWT)
static struct tr_ticks cycles;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    (void)tr_ticks_update(&cycles, TR_DWT_CYCCNT);
}

static void counter_start(void)
{
    tr_dwt_start();
    tr_ticks_start(&cycles, TR_DWT_CYCCNT, 0xFFFFFFFFu);
    tr_systick_start(); /* its interrupt keeps the 64-bit extension current */
}

uint64_t tr_board_counter(void)
{
    return tr_ticks_update(&cycles, TR_DWT_CYCCNT);
}
#elif defined(TR_COUNTER_KIND_SYSTICK)
/* SysTick on the core clock, its wraps counted; under QEMU -icount each tick is a fixed number of
 * emulated instructions (counter.instructions_per_tick = NUM / DEN), on silicon one cycle. */
#ifndef TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM
#ifdef TR_COUNTER_INSTRUCTIONS_PER_TICK
#define TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM TR_COUNTER_INSTRUCTIONS_PER_TICK
#else
#define TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM 1u
#endif
#define TR_COUNTER_INSTRUCTIONS_PER_TICK_DEN 1u
#endif
static volatile uint32_t wraps;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    wraps++;
}

static void counter_start(void)
{
    tr_systick_start();
}

uint64_t tr_board_counter(void)
{
    return tr_scale_u64(tr_systick_ticks(&wraps), TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM,
                        TR_COUNTER_INSTRUCTIONS_PER_TICK_DEN);
}
#else
#error "board_stm32.c: counter.kind must be dwt or systick"
#endif

/* ---- clock and console ---- */
#if !defined(TR_CLOCK)
/* No [clock] table: the core stays on its reset clock, which clock_hz must then be. */
const uint32_t tr_board_clock_hz = TR_BOARD_CLOCK_HZ;
#define tr_clock_start() (TR_BOARD_CLOCK_HZ)
#define TR_CLOCK_RESET_HZ TR_BOARD_CLOCK_HZ
#endif

/* The U(S)ART's kernel clock: HSI on F7/L4 (selected here), PCLK2 on F4. */
static uint32_t console_clock(uint32_t core_hz)
{
#if defined(TR_STM32F7)
    RCC_DCKCFGR2 = (RCC_DCKCFGR2 & ~(3u << 4)) | (2u << 4); /* USART3SEL = HSI, on since reset */
    (void)core_hz;
    return HSI_HZ;
#elif defined(TR_STM32L4)
    TR_REG32(RCC_BASE + 0x00u) |= 1u << 8; /* HSION; on already when it feeds the PLL */
#if defined(TR_CLOCK)
    (void)tr_clock_wait(&TR_REG32(RCC_BASE + 0x00u), 1u << 10, 1u << 10); /* HSIRDY */
#endif
    RCC_CCIPR = (RCC_CCIPR & ~(3u << 10)) | (2u << 10); /* LPUART1SEL = HSI16 */
    (void)core_hz;
    return HSI_HZ;
#elif defined(TR_CLOCK)
    return tr_clock_status == TR_CLOCK_REACHED ? core_hz / TR_CLOCK_APB2_DIV : core_hz;
#else
    return core_hz;
#endif
}

static uint32_t uart_divider(uint32_t f)
{
#if defined(TR_CONSOLE_KIND_STM32_LPUART)
    return (uint32_t)((256ull * f + TR_SERIAL_BAUD / 2u) / TR_SERIAL_BAUD);
#else
    return (f + TR_SERIAL_BAUD / 2u) / TR_SERIAL_BAUD;
#endif
}

static void pin_af(uint32_t pin)
{
    GPIO_MODER = (GPIO_MODER & ~(3u << (2u * pin))) | (2u << (2u * pin));
    uint32_t shift = 4u * (pin % 8u);
    GPIO_AFR(pin / 8u) = (GPIO_AFR(pin / 8u) & ~(0xFu << shift)) | (PIN_AF << shift);
}

/* The console at the reset clock: it receives while the clock starts (a byte that arrives
 * meanwhile waits in RDR/DR), and bytes sent to a disabled U(S)ART would be lost. */
static void console_start(void)
{
#if defined(TR_STM32L4)
    RCC_PWR_EN |= RCC_PWR_BIT;
    (void)RCC_PWR_EN;
    PWR_CR2 |= PWR_CR2_IOSV;
#endif
    RCC_GPIO_EN |= RCC_GPIO_BIT;
    RCC_UART_EN |= RCC_UART_BIT;
    (void)RCC_UART_EN; /* read back: the clock is running before the registers are touched */
    pin_af(TX_PIN);
    pin_af(RX_PIN);
    UART_CR1 = 0u;
    UART_BRR = uart_divider(console_clock(TR_CLOCK_RESET_HZ));
    UART_CR1 = CR1_RXNEIE | CR1_TE | CR1_RE | CR1_UE; /* the RX line wakes WFI, never taken */
}

void tr_board_init(void)
{
    console_start();
    uint32_t core_hz = tr_clock_start();
#if defined(TR_STM32F4)
    UART_BRR = uart_divider(console_clock(core_hz)); /* PCLK2 changed with the core clock */
#else
    (void)core_hz; /* the console runs from HSI: its divider stays */
#endif
    counter_start();
    __asm__ volatile("cpsie i" ::: "memory");
}

uint8_t tr_board_getc(void)
{
    for (;;) {
        uint32_t st = UART_STATUS;
        if (st & ST_RXNE) {
            return (uint8_t)UART_RX;
        }
        if (st & ST_ORE) {
            /* a lost byte: the frame's CRC catches it, the host retries */
#if defined(TR_CONSOLE_KIND_STM32_USART_V1)
            (void)UART_RX; /* SR then DR read clears ORE */
#else
            UART_ICR = ST_ORE;
#endif
            continue;
        }
        /* RXNE and ORE hold the line high until read or cleared: checked again masked. */
        tr_wait_irq(TR_CONSOLE_RX_IRQ, &UART_STATUS, ST_RXNE | ST_ORE);
    }
}

void tr_board_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while ((UART_STATUS & ST_TXE) == 0u) {
        }
        UART_TX = data[i];
    }
}
