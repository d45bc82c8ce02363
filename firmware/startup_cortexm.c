/*
 * startup_cortexm.c: reset and exceptions for every Cortex-M board, plus the stack and static-RAM
 * accounting of board.h (they only need the linker symbols, which the generated linker script
 * defines for every board: templates/linker.ld.j2).
 *
 * Reset: enable the FPU (and Helium, which the same CPACR bits gate) before any C code can use
 * it, copy .data from its load address, zero .bss and the arena, point VTOR at our table, main().
 * Faults print one line on the console ("*** tinyrt: fault exc=... pc=... lr=... cfsr=...") and stop.
 * With TR_ENTRY_STUB (boards whose loader jumps to the first byte of the image, e.g. an RP2040
 * RAM UF2) a small entry routine comes before the vector table and does what the core would.
 */
#include <stddef.h>
#include <stdint.h>

#include "board.h"

#ifndef TR_NUM_IRQS
#define TR_NUM_IRQS 32
#endif

#define STACK_PAINT 0xC5C5C5C5u
#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_VTOR REG32(0xE000ED08u)
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_HFSR REG32(0xE000ED2Cu)

extern uint32_t __stack_bottom[], __stack_top[];
extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[], __arena_start[], __arena_end[];
extern uint32_t __vectors_start[];

int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void HardFault_Handler(void) __attribute__((alias("Default_Handler")));
void tr_fault_report(const uint32_t *frame, uint32_t exc_return);

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SecureFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*tr_vector)(void);

/* Initial stack pointer, 15 system exceptions, TR_NUM_IRQS interrupts (none is enabled by
 * default; a board layer that needs one defines the strong handler it names in its table). */
__attribute__((section(".vectors"), used))
const tr_vector tr_vectors[16 + TR_NUM_IRQS] = {
    (tr_vector)(uintptr_t)__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    SecureFault_Handler,
    0, 0, 0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    [16 ... 16 + TR_NUM_IRQS - 1] = Default_Handler,
};

#ifdef TR_ENTRY_STUB
/* Entered at the first byte of the image: load the stack pointer from our table and reset. */
__attribute__((naked, section(".entry"), used))
void tr_entry(void)
{
    __asm__ volatile(
        "ldr r0, =tr_vectors\n"
        "ldr r1, [r0, #0]\n"
        "mov sp, r1\n"
        "ldr r1, [r0, #4]\n"
        "bx r1\n"
        ".ltorg\n");
}
#endif

static void enable_fpu(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= (0xFu << 20); /* CP10 and CP11 full access: FPU and, on Armv8.1-M, MVE */
    __asm__ volatile("dsb\n isb" ::: "memory");
#endif
}

static void copy_words(uint32_t *dst, const uint32_t *src, const uint32_t *end)
{
    while (dst < end) {
        *dst++ = *src++;
    }
}

static void zero_words(uint32_t *dst, const uint32_t *end)
{
    while (dst < end) {
        *dst++ = 0;
    }
}

/* No auto-vectorisation here: on the M55 it could emit MVE before CPACR enables it. */
__attribute__((used, optimize("no-tree-loop-vectorize", "no-tree-loop-distribute-patterns")))
void Reset_Handler(void)
{
    enable_fpu();
    copy_words(__data_start, __data_load, __data_end);
    zero_words(__bss_start, __bss_end);
    zero_words(__arena_start, __arena_end);
    SCB_VTOR = (uint32_t)(uintptr_t)__vectors_start;
    __asm__ volatile("dsb\n isb" ::: "memory");
    main();
    for (;;) {
    }
}

static void put_hex(char *out, uint32_t v)
{
    for (int i = 0; i < 8; i++) {
        out[i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xFu];
    }
}

static void put_field(const char *name, uint32_t value)
{
    char text[20];
    size_t n = 0;
    while (name[n] != '\0' && n < 8) {
        text[n] = name[n];
        n++;
    }
    text[n++] = '=';
    text[n++] = '0';
    text[n++] = 'x';
    put_hex(text + n, value);
    n += 8;
    text[n++] = ' ';
    tr_board_write((const uint8_t *)text, n);
}

/* The fault line is wrapped in zero bytes, so a COBS-framed link sees it as one (undecodable)
 * frame whose text it can show: "\0\r\n*** tinyrt: fault exc=... pc=...\r\n\0". */
void tr_fault_report(const uint32_t *frame, uint32_t exc_return)
{
    static const char head[] = "\0\r\n*** tinyrt: fault ";
    static const char tail[] = "\r\n";
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    tr_board_write((const uint8_t *)head, sizeof head - 1);
    put_field("exc", ipsr & 0x1FFu);
    put_field("pc", frame[6]);
    put_field("lr", frame[5]);
    put_field("sp", (uint32_t)(uintptr_t)frame);
    put_field("excret", exc_return);
#if __ARM_ARCH >= 7
    put_field("cfsr", SCB_CFSR);
    put_field("hfsr", SCB_HFSR);
#endif
    tr_board_write((const uint8_t *)tail, sizeof tail); /* with its terminating zero */
    for (;;) {
    }
}

/* Every fault and unexpected exception lands here with its stacked frame on the main stack
 * (nothing uses the process stack); the exception number tells which one it was. */
__attribute__((naked))
void Default_Handler(void)
{
    __asm__ volatile(
        "mrs r0, msp\n"
        "mov r1, lr\n"
        "bl tr_fault_report\n");
}

/* ---- stack and static RAM (board.h) ---- */

void tr_board_stack_paint(void)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    /* Everything below the live stack pointer is free: this loop keeps its state in registers
     * (volatile stores, so the compiler cannot make it a memset call whose own frame it would
     * overwrite), and an interrupt frame pushed meanwhile is dead once the interrupt returns. */
    for (volatile uint32_t *p = __stack_bottom; p < sp; p++) {
        *p = STACK_PAINT;
    }
}

uint32_t tr_board_stack_used(void)
{
    const uint32_t *p = __stack_bottom;
    while (p < __stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

uint32_t tr_board_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

uint32_t tr_board_static_ram(void)
{
    return (uint32_t)(((uintptr_t)__data_end - (uintptr_t)__data_start) +
                      ((uintptr_t)__bss_end - (uintptr_t)__bss_start));
}
