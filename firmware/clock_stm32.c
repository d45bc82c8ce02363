/*
 * clock_stm32.c: the STM32 clock tree of the board file's [clock] table (firmware/clock.h).
 *
 * Order (reference manuals RM0090 F405, RM0385 F746, RM0432 L4R5): the oscillator, the main
 * PLL, the regulator (F7: scale 1 then over-drive; L4: range 1 with boost), the flash wait states
 * and caches (read back: the flash must take them before the clock rises), the bus prescalers,
 * then SYSCLK switched to the PLL. Every wait is bounded; the first that times out leaves the core
 * on its reset clock (HSI 16 MHz on F4/F7, MSI 4 MHz on L4) with its prescalers untouched.
 * Caches: on F4/L4 "icache", "dcache" and "prefetch" are the flash accelerator's (FLASH_ACR);
 * on the F7 "art" and "prefetch" are, and "icache", "dcache" the Cortex-M7's own L1 caches,
 * enabled whatever the clock reached.
 *
 * Family (firmware.defines): TR_STM32F4, TR_STM32F7 or TR_STM32L4.
 */
#include <stdint.h>

/* Without [clock] board_stm32.c leaves the core on its reset clock and this file is empty. */
#if defined(TR_CLOCK)
#include "cortexm.h"
#define TR_CLOCK_DEFINE
#include "clock.h"

#if defined(TR_STM32F4) || defined(TR_STM32F7)
#define RCC_BASE 0x40023800u
#define FLASH_ACR TR_REG32(0x40023C00u)
#define RCC_PWR_EN TR_REG32(RCC_BASE + 0x40u) /* APB1ENR */
#define RCC_PLLCFGR TR_REG32(RCC_BASE + 0x04u)
#define CR_HSIRDY (1u << 1)
#define SW_PLL 2u
#elif defined(TR_STM32L4)
#define RCC_BASE 0x40021000u
#define FLASH_ACR TR_REG32(0x40022000u)
#define RCC_PWR_EN TR_REG32(RCC_BASE + 0x58u) /* APB1ENR1 */
#define RCC_PLLCFGR TR_REG32(RCC_BASE + 0x0Cu)
#define CR_HSIRDY (1u << 10)
#define SW_PLL 3u
#else
#error "clock_stm32.c: firmware.defines must set TR_STM32F4, TR_STM32F7 or TR_STM32L4"
#endif

#define RCC_CR TR_REG32(RCC_BASE + 0x00u)
#define RCC_CFGR TR_REG32(RCC_BASE + 0x08u)
#define PWR_CR1 TR_REG32(0x40007000u)
#define CR_HSION (1u << 8)
#define CR_HSEON (1u << 16)
#define CR_HSERDY (1u << 17)
#define CR_HSEBYP (1u << 18)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CFGR_SW 0x3u
#define CFGR_HPRE (0xFu << 4)

#ifndef TR_CLOCK_FLASH_WAIT_STATES
#define TR_CLOCK_FLASH_WAIT_STATES 0u
#endif

/* FLASH_ACR bits: LATENCY 3:0, PRFTEN 8; bit 9 is ICEN (F4/L4) or ARTEN (F7), bit 10 DCEN. */
#if defined(TR_CLOCK_CACHE_PREFETCH)
#define ACR_PREFETCH (1u << 8)
#else
#define ACR_PREFETCH 0u
#endif
#if defined(TR_STM32F7) && defined(TR_CLOCK_CACHE_ART)
#define ACR_CACHES (ACR_PREFETCH | (1u << 9))
#elif defined(TR_STM32F7)
#define ACR_CACHES ACR_PREFETCH
#elif defined(TR_CLOCK_CACHE_ICACHE) && defined(TR_CLOCK_CACHE_DCACHE)
#define ACR_CACHES (ACR_PREFETCH | (1u << 9) | (1u << 10))
#elif defined(TR_CLOCK_CACHE_ICACHE)
#define ACR_CACHES (ACR_PREFETCH | (1u << 9))
#elif defined(TR_CLOCK_CACHE_DCACHE)
#define ACR_CACHES (ACR_PREFETCH | (1u << 10))
#else
#define ACR_CACHES ACR_PREFETCH
#endif

/* RCC_CFGR's HPRE and PPREx encodings of a divider. */
#define HPRE(d) ((d) == 1u ? 0u : (d) == 2u ? 8u : (d) == 4u ? 9u : (d) == 8u ? 10u : \
                 (d) == 16u ? 11u : (d) == 64u ? 12u : (d) == 128u ? 13u : (d) == 256u ? 14u : 15u)
#define PPRE(d) ((d) == 1u ? 0u : (d) == 2u ? 4u : (d) == 4u ? 5u : (d) == 8u ? 6u : 7u)
#if defined(TR_STM32L4)
#define CFGR_PPRE_SHIFT 8u  /* PPRE1 10:8, PPRE2 13:11 */
#else
#define CFGR_PPRE_SHIFT 10u /* PPRE1 12:10, PPRE2 15:13 */
#endif
#define CFGR_PPRE_MASK (0x3Fu << CFGR_PPRE_SHIFT)
#define CFGR_PPRE ((PPRE(TR_CLOCK_APB1_DIV) | (PPRE(TR_CLOCK_APB2_DIV) << 3)) << CFGR_PPRE_SHIFT)

static int start_source(void)
{
#if defined(TR_CLOCK_SOURCE_HSE) || defined(TR_CLOCK_SOURCE_HSE_BYPASS)
#if defined(TR_CLOCK_SOURCE_HSE_BYPASS)
    RCC_CR |= CR_HSEBYP; /* an external clock (the ST-LINK's MCO), not a crystal */
#endif
    RCC_CR |= CR_HSEON;
    return tr_clock_wait(&RCC_CR, CR_HSERDY, CR_HSERDY);
#elif defined(TR_CLOCK_SOURCE_HSI) || defined(TR_CLOCK_SOURCE_HSI16)
    RCC_CR |= CR_HSION;
    return tr_clock_wait(&RCC_CR, CR_HSIRDY, CR_HSIRDY);
#elif defined(TR_CLOCK_SOURCE_MSI) && defined(TR_STM32L4)
    return tr_clock_wait(&RCC_CR, 1u << 1, 1u << 1); /* MSIRDY: on since reset */
#else
#error "clock_stm32.c: clock.source must be hse, hse_bypass, hsi (F4/F7), hsi16 or msi (L4)"
#endif
}

#if defined(TR_STM32L4)
/* RCC_PLLCFGR: PLLSRC 1:0 (1 MSI, 2 HSI16, 3 HSE), PLLM-1 7:4, PLLN 14:8, PLLREN 24,
 * PLLR 26:25 (R = 2, 4, 6, 8). */
#if defined(TR_CLOCK_SOURCE_MSI)
#define PLL_SRC 1u
#elif defined(TR_CLOCK_SOURCE_HSI16)
#define PLL_SRC 2u
#else
#define PLL_SRC 3u
#endif
#define PLLCFGR_VALUE (PLL_SRC | ((TR_CLOCK_PLL_M - 1u) << 4) | (TR_CLOCK_PLL_N << 8) | (1u << 24) | \
                       ((TR_CLOCK_PLL_R / 2u - 1u) << 25))
#else
/* RCC_PLLCFGR: PLLM 5:0, PLLN 14:6, PLLP 17:16 (P = 2, 4, 6, 8), PLLSRC 22 (1 HSE), PLLQ 27:24. */
#if defined(TR_CLOCK_SOURCE_HSE) || defined(TR_CLOCK_SOURCE_HSE_BYPASS)
#define PLL_SRC (1u << 22)
#else
#define PLL_SRC 0u
#endif
#ifndef TR_CLOCK_PLL_Q
#define TR_CLOCK_PLL_Q 4u /* the 48 MHz domain's divider: unused here, any valid value */
#endif
#define PLLCFGR_VALUE (TR_CLOCK_PLL_M | (TR_CLOCK_PLL_N << 6) | ((TR_CLOCK_PLL_P / 2u - 1u) << 16) | \
                       PLL_SRC | (TR_CLOCK_PLL_Q << 24))
#endif

static int start_pll(void)
{
    RCC_PLLCFGR = PLLCFGR_VALUE;
    RCC_CR |= CR_PLLON;
    return tr_clock_wait(&RCC_CR, CR_PLLRDY, CR_PLLRDY);
}

/* The regulator for the target clock. F4: scale 1 (PWR_CR VOS, bit 14). F7: scale 1 (VOS 15:14)
 * and, above 180 MHz, over-drive (ODEN 16 -> ODRDY, ODSWEN 17 -> ODSWRDY in PWR_CSR1).
 * L4: range 1 (VOS 10:9 = 01; VOSF in PWR_SR2 clears when it is ready) and, above 80 MHz,
 * boost (PWR_CR5.R1MODE = 0). */
static int start_power(void)
{
    RCC_PWR_EN |= 1u << 28; /* PWREN */
    (void)RCC_PWR_EN;       /* read back: the clock runs before PWR is touched */
#if defined(TR_STM32F4)
    PWR_CR1 |= 1u << 14;
    return 1;
#elif defined(TR_STM32F7)
    PWR_CR1 |= 3u << 14;
#if TR_CLOCK_OVERDRIVE
    volatile uint32_t *csr1 = &TR_REG32(0x40007004u);
    PWR_CR1 |= 1u << 16;
    if (!tr_clock_wait(csr1, 1u << 16, 1u << 16)) {
        return 0;
    }
    PWR_CR1 |= 1u << 17;
    return tr_clock_wait(csr1, 1u << 17, 1u << 17);
#else
    return 1;
#endif
#else
    PWR_CR1 = (PWR_CR1 & ~(3u << 9)) | (1u << 9);
    if (!tr_clock_wait(&TR_REG32(0x40007014u), 1u << 10, 0u)) {
        return 0;
    }
#if TR_CLOCK_BOOST
    TR_REG32(0x40007080u) &= ~(1u << 8);
#endif
    return 1;
#endif
}

/* Wait states first (read back, as the reference manuals ask), then caches and prefetch. */
static int set_flash(void)
{
    FLASH_ACR = (FLASH_ACR & ~0xFu) | TR_CLOCK_FLASH_WAIT_STATES;
    if ((FLASH_ACR & 0xFu) != TR_CLOCK_FLASH_WAIT_STATES) {
        return 0;
    }
    FLASH_ACR |= ACR_CACHES;
    return 1;
}

/* Prescalers, then SYSCLK <- PLL. Above 80 MHz the L4 first runs the AHB at half speed for
 * 1 us across the switch (RM0432, range 1 boost). */
static int switch_to_pll(void)
{
    uint32_t cfgr = (RCC_CFGR & ~(CFGR_HPRE | CFGR_PPRE_MASK)) | CFGR_PPRE;
#if defined(TR_STM32L4) && TR_CLOCK_BOOST
    RCC_CFGR = cfgr | (HPRE(2u) << 4);
#else
    RCC_CFGR = cfgr | (HPRE(TR_CLOCK_AHB_DIV) << 4);
#endif
    RCC_CFGR = (RCC_CFGR & ~CFGR_SW) | SW_PLL;
    if (!tr_clock_wait(&RCC_CFGR, 0xCu, SW_PLL << 2)) {
        return 0;
    }
#if defined(TR_STM32L4) && TR_CLOCK_BOOST
    for (volatile uint32_t n = TR_BOARD_CLOCK_HZ / 2000000u; n != 0u; n--) {
    }
    RCC_CFGR = (RCC_CFGR & ~CFGR_HPRE) | (HPRE(TR_CLOCK_AHB_DIV) << 4);
#endif
    return 1;
}

/* The Cortex-M7 L1 caches: invalidate, then enable (CCR.IC bit 17, CCR.DC bit 16). */
static void enable_core_caches(void)
{
#if defined(TR_STM32F7) && defined(TR_CLOCK_CACHE_ICACHE)
    __asm__ volatile("dsb\n isb" ::: "memory");
    TR_REG32(0xE000EF50u) = 0u; /* ICIALLU */
    __asm__ volatile("dsb\n isb" ::: "memory");
    TR_REG32(0xE000ED14u) |= 1u << 17;
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
#if defined(TR_STM32F7) && defined(TR_CLOCK_CACHE_DCACHE)
    TR_REG32(0xE000ED84u) = 0u; /* CSSELR: level 1 data cache */
    __asm__ volatile("dsb" ::: "memory");
    uint32_t ccsidr = TR_REG32(0xE000ED80u);
    uint32_t sets = (ccsidr >> 13) & 0x7FFFu, ways = (ccsidr >> 3) & 0x3FFu;
    for (uint32_t s = 0; s <= sets; s++) {
        for (uint32_t w = 0; w <= ways; w++) {
            TR_REG32(0xE000EF60u) = (s << 5) | (w << 30); /* DCISW, 32-byte lines, 4 ways */
        }
    }
    __asm__ volatile("dsb" ::: "memory");
    TR_REG32(0xE000ED14u) |= 1u << 16;
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
}

uint32_t tr_clock_start(void)
{
    /* In order; step i failing is status TR_CLOCK_SOURCE + i (clock.h). */
    static int (*const steps[])(void) = {start_source, start_pll, start_power, set_flash,
                                         switch_to_pll};
    uint32_t status = TR_CLOCK_REACHED;
    for (uint32_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (!steps[i]()) {
            status = TR_CLOCK_SOURCE + i;
            break;
        }
    }
    if (status == TR_CLOCK_REACHED) {
        tr_clock_running_hz = TR_BOARD_CLOCK_HZ;
    }
    tr_clock_status = status;
    enable_core_caches();
    return tr_clock_running_hz;
}
#endif /* TR_CLOCK */
