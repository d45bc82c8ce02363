/*
 * board_stm32.c: STM32 Nucleo-144 boards, minimal: the core runs from its reset clock (no PLL),
 * so board.clock_hz is that clock; the console is the U(S)ART wired to the ST-LINK virtual COM
 * port; latency is the DWT cycle counter, extended to 64 bits (cortexm.h).
 *
 * Family (firmware.defines in the board file):
 *   TR_STM32F7: STM32F746ZG, HSI 16 MHz; USART3 on PD8 (TX) / PD9 (RX), AF7.
 *   TR_STM32L4: STM32L4R5ZI, MSI 4 MHz; LPUART1 on PG7 (TX) / PG8 (RX), AF8; port G needs
 *               VDDIO2 (PWR_CR2.IOSV).
 * Both have the same U(S)ART register layout (CR1, BRR, ISR, ICR, RDR, TDR); the LPUART divider
 * is 256 * f / baud instead of f / baud (console.kind stm32_lpuart / stm32_usart).
 * While waiting for a byte the core sleeps in WFI, woken by the U(S)ART's interrupt line
 * (CR1.RXNEIE: raised while ISR.RXNE or ISR.ORE is set; TR_CONSOLE_RX_IRQ: console.rx_irq in
 * the board file, else USART3 = 39 on the F7, LPUART1 = 70 on the L4R5, from the reference
 * manuals' vector tables). The interrupt is never taken: see tr_wait_irq in cortexm.h.
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"

#if defined(TR_STM32F7)
#define RCC_BASE 0x40023800u
#define GPIO_BASE 0x40020C00u /* GPIOD */
#define TX_PIN 8u
#define RX_PIN 9u
#define PIN_AF 7u
#define RCC_GPIO_EN TR_REG32(RCC_BASE + 0x30u) /* AHB1ENR */
#define RCC_GPIO_BIT (1u << 3)                  /* GPIODEN */
#define RCC_UART_EN TR_REG32(RCC_BASE + 0x40u) /* APB1ENR */
#define RCC_UART_BIT (1u << 18)                 /* USART3EN */
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
#define PWR_CR2 TR_REG32(PWR_BASE + 0x04u)
#define PWR_CR2_IOSV (1u << 9)
#else
#error "board_stm32.c: firmware.defines must set TR_STM32F7 or TR_STM32L4"
#endif

#ifndef TR_CONSOLE_RX_IRQ
#if TR_CONSOLE_BASE == 0x40004800u
#define TR_CONSOLE_RX_IRQ 39u /* USART3 */
#elif TR_CONSOLE_BASE == 0x40008000u
#define TR_CONSOLE_RX_IRQ 70u /* LPUART1 (STM32L4) */
#else
#error "board_stm32.c: set console.rx_irq (the U(S)ART's interrupt number) in the board file"
#endif
#endif

#define GPIO_MODER TR_REG32(GPIO_BASE + 0x00u)
#define GPIO_AFR(n) TR_REG32(GPIO_BASE + 0x20u + 4u * (n))

#define UART_CR1 TR_REG32(TR_CONSOLE_BASE + 0x00u)
#define UART_BRR TR_REG32(TR_CONSOLE_BASE + 0x0Cu)
#define UART_ISR TR_REG32(TR_CONSOLE_BASE + 0x1Cu)
#define UART_ICR TR_REG32(TR_CONSOLE_BASE + 0x20u)
#define UART_RDR TR_REG32(TR_CONSOLE_BASE + 0x24u)
#define UART_TDR TR_REG32(TR_CONSOLE_BASE + 0x28u)
#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define ISR_ORE (1u << 3)
#define ISR_RXNE (1u << 5)
#define ISR_TXE (1u << 7)

#if defined(TR_CONSOLE_KIND_STM32_LPUART)
#define UART_DIVIDER ((uint32_t)((256ull * TR_BOARD_CLOCK_HZ + TR_SERIAL_BAUD / 2u) / TR_SERIAL_BAUD))
#elif defined(TR_CONSOLE_KIND_STM32_USART)
#define UART_DIVIDER ((TR_BOARD_CLOCK_HZ + TR_SERIAL_BAUD / 2u) / TR_SERIAL_BAUD)
#else
#error "board_stm32.c: console.kind must be stm32_usart or stm32_lpuart"
#endif

const char *const tr_board_latency_unit = TR_COUNTER_UNIT;
const uint32_t tr_board_clock_hz = TR_BOARD_CLOCK_HZ;

static struct tr_ticks cycles;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    (void)tr_ticks_update(&cycles, TR_DWT_CYCCNT);
}

static void pin_af(uint32_t pin)
{
    GPIO_MODER = (GPIO_MODER & ~(3u << (2u * pin))) | (2u << (2u * pin));
    uint32_t shift = 4u * (pin % 8u);
    GPIO_AFR(pin / 8u) = (GPIO_AFR(pin / 8u) & ~(0xFu << shift)) | (PIN_AF << shift);
}

void tr_board_init(void)
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
    UART_BRR = UART_DIVIDER;
    UART_CR1 = CR1_RXNEIE | CR1_TE | CR1_RE | CR1_UE; /* the RX line wakes WFI, never taken */

    tr_dwt_start();
    tr_ticks_start(&cycles, TR_DWT_CYCCNT, 0xFFFFFFFFu);
    tr_systick_start();
    __asm__ volatile("cpsie i" ::: "memory");
}

uint8_t tr_board_getc(void)
{
    for (;;) {
        uint32_t isr = UART_ISR;
        if (isr & ISR_RXNE) {
            return (uint8_t)UART_RDR;
        }
        if (isr & ISR_ORE) {
            UART_ICR = ISR_ORE; /* a lost byte: the frame's CRC catches it, the host retries */
            continue;
        }
        /* RXNE and ORE hold the line high until read or cleared: checked again masked. */
        tr_wait_irq(TR_CONSOLE_RX_IRQ, &UART_ISR, ISR_RXNE | ISR_ORE);
    }
}

void tr_board_write(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        while ((UART_ISR & ISR_TXE) == 0u) {
        }
        UART_TDR = data[i];
    }
}

uint64_t tr_board_counter(void)
{
    return tr_ticks_update(&cycles, TR_DWT_CYCCNT);
}
