/*
 * cortexm.h: Cortex-M core registers the board layers share (SysTick, DWT) and the software
 * extension of a narrow hardware counter to 64 bits. Header-only, for firmware/board_*.c.
 *
 * Two ways to 64 bits:
 *  - a counter wider than SysTick (DWT CYCCNT, a 32-bit timer): tr_ticks_update() folds the
 *    ticks since its last call into a 64-bit total, modulo the counter's width; the board calls it
 *    from the SysTick interrupt too (every 2^24 core clocks), so no wrap goes unseen.
 *  - SysTick itself: its interrupt counts wraps and tr_systick_ticks() combines the count with the
 *    current value. (A modular difference cannot work here: the interrupt comes exactly one
 *    period after the previous one, so the difference is 0 where it should be 2^24.)
 */
#ifndef TINYRT_CORTEXM_H
#define TINYRT_CORTEXM_H

#include <stdint.h>

#define TR_REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define TR_SYST_CSR TR_REG32(0xE000E010u)
#define TR_SYST_RVR TR_REG32(0xE000E014u)
#define TR_SYST_CVR TR_REG32(0xE000E018u)
#define TR_SYST_MAX 0x00FFFFFFu

#define TR_ICSR TR_REG32(0xE000ED04u)
#define TR_ICSR_PENDSTSET (1u << 26)

#define TR_NVIC_ISER(n) TR_REG32(0xE000E100u + 4u * (n))
#define TR_NVIC_ICER(n) TR_REG32(0xE000E180u + 4u * (n))
#define TR_NVIC_ICPR(n) TR_REG32(0xE000E280u + 4u * (n))

#define TR_DEMCR TR_REG32(0xE000EDFCu)
#define TR_DWT_CTRL TR_REG32(0xE0001000u)
#define TR_DWT_CYCCNT TR_REG32(0xE0001004u)
#define TR_DWT_LAR TR_REG32(0xE0001FB0u)

struct tr_ticks {
    uint64_t total; /* ticks since tr_ticks_start() */
    uint32_t last;  /* raw hardware count at the last update */
    uint32_t mask;  /* width of the hardware count: 0xFFFFFFFF, 0xFFFFFF, ... */
};

static inline uint32_t tr_irq_save(void)
{
    uint32_t primask;
    __asm__ volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    return primask;
}

static inline void tr_irq_restore(uint32_t primask)
{
    __asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

static inline void tr_ticks_start(struct tr_ticks *t, uint32_t raw, uint32_t mask)
{
    t->total = 0;
    t->last = raw & mask;
    t->mask = mask;
}

/* `raw` counts up (wrapping at `mask`); interrupts are masked by the caller or here. */
static inline uint64_t tr_ticks_update(struct tr_ticks *t, uint32_t raw)
{
    uint32_t saved = tr_irq_save();
    raw &= t->mask;
    t->total += (raw - t->last) & t->mask;
    t->last = raw;
    uint64_t total = t->total;
    tr_irq_restore(saved);
    return total;
}

/* SysTick from the core clock, full 24-bit period, interrupting at every wrap. */
static inline void tr_systick_start(void)
{
    TR_SYST_CSR = 0u;
    TR_SYST_RVR = TR_SYST_MAX;
    TR_SYST_CVR = 0u;
    TR_SYST_CSR = 0x7u; /* CLKSOURCE = core, TICKINT, ENABLE */
}

/* Ticks since tr_systick_start(): `wraps` is incremented by the SysTick handler. A wrap that
 * happened but whose interrupt is still pending (masked here) is counted once the counter has
 * reloaded; while it still reads 0 the period has not ended. */
static inline uint64_t tr_systick_ticks(const volatile uint32_t *wraps)
{
    uint32_t saved = tr_irq_save();
    uint32_t w = *wraps;
    uint32_t v = TR_SYST_CVR;
    if (TR_ICSR & TR_ICSR_PENDSTSET) {
        v = TR_SYST_CVR;
        if (v != 0u) {
            w++;
        }
    }
    tr_irq_restore(saved);
    return ((uint64_t)w << 24) + (TR_SYST_MAX - v);
}

/* Sleep until interrupt line `irq` rises (or any enabled exception, e.g. SysTick, is pending)
 * unless `*reg & mask` already shows the event: the firmware never takes a peripheral interrupt,
 * the line is enabled in the NVIC only while PRIMASK masks it, as a wake-up source for WFI. The
 * check is made masked, so an event arriving between the check and WFI still wakes it (WFI does
 * not sleep while an enabled interrupt is pending). Returns with the line disabled and its pending
 * bit cleared; the caller clears the peripheral's own interrupt status first or after. */
static inline void tr_wait_irq(uint32_t irq, const volatile uint32_t *reg, uint32_t mask)
{
    uint32_t saved = tr_irq_save();
    TR_NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
    if ((*reg & mask) == 0u) {
        __asm__ volatile("dsb\n wfi" ::: "memory");
    }
    TR_NVIC_ICER(irq / 32u) = 1u << (irq % 32u);
    TR_NVIC_ICPR(irq / 32u) = 1u << (irq % 32u);
    tr_irq_restore(saved);   /* a SysTick that woke us is taken here */
}

/* ticks * num / den for a den below 2^16, without a 64-bit division: that is a library call of
 * ~70 instructions, made after the hardware read, so a latency interval would count it. Long
 * division by den in 16-bit steps, each a 32-bit division by a constant (a multiply). */
__attribute__((always_inline)) static inline uint64_t tr_scale_u64(uint64_t ticks, uint32_t num, uint32_t den)
{
    uint64_t x = ticks * num;
    uint32_t hi = (uint32_t)(x >> 32), lo = (uint32_t)x;
    uint32_t q2 = hi / den, r = hi % den;
    uint32_t a = (r << 16) | (lo >> 16);
    uint32_t q1 = a / den;
    uint32_t b = ((a % den) << 16) | (lo & 0xFFFFu);
    return ((uint64_t)q2 << 32) + ((uint64_t)q1 << 16) + b / den;
}

#if __ARM_ARCH >= 7
/* The DWT cycle counter (Armv7-M and later with the DWT; QEMU does not model it). */
static inline void tr_dwt_start(void)
{
    TR_DEMCR |= (1u << 24); /* TRCENA */
    TR_DWT_LAR = 0xC5ACCE55u; /* unlock, needed on the Cortex-M7, ignored elsewhere */
    TR_DWT_CYCCNT = 0u;
    TR_DWT_CTRL |= 1u;      /* CYCCNTENA */
}
#endif

#endif /* TINYRT_CORTEXM_H */
