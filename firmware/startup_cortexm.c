/*
 * startup_cortexm.c: reset and exceptions for every Cortex-M board, plus the stack and static-RAM
 * accounting of board.h (they only need the linker symbols, which the generated linker script
 * defines for every board: templates/linker.ld.j2).
 *
 * Reset: enable the FPU (and Helium, which the same CPACR bits gate) before any C code can use
 * it, copy .data from its load address, zero .bss and the arena, point VTOR at our table, main().
 * Faults print one line on the console ("*** tinyrt: fault exc=... pc=... lr=... cfsr=...") and stop.
 *
 * Device limits, reported on the same kind of line so the harness turns them into clear errors:
 *  - the lowest TR_STACK_GUARD bytes of the stack are a guard band: painted at boot and checked
 *    after every run (tr_board_check_limits); a run that reached them stops the board with
 *    "*** tinyrt: fault stack-overflow used=... size=... guard=...". A stack that grows past its
 *    region's start faults (the stack comes first in RAM: templates/linker.ld.j2); the fault
 *    handler then has no stack to run on, so it moves to the (dead) top of the stack and reports
 *    "*** tinyrt: fault stack-overflow exc=... sp=... limit=..." instead of locking the core up.
 *  - with -DTINYRT_ARENA_CANARY (debug builds), TR_ARENA_GUARD_WORDS painted words right after
 *    the arena, checked after every run: "*** tinyrt: fault arena-overrun word=... value=...".
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
#define ARENA_PAINT 0xA5E1A5E1u
/* Bytes, no suffix: the fault handler's assembly uses it too. A multiple of 8. */
#ifndef TR_STACK_GUARD
#define TR_STACK_GUARD 32
#endif
#ifndef TR_ARENA_GUARD_WORDS
#define TR_ARENA_GUARD_WORDS 4
#endif
#define TR_STR_(x) #x
#define TR_STR(x) TR_STR_(x)
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
void tr_stack_fault_report(uint32_t frame, uint32_t exc_return);

#ifdef TINYRT_ARENA_CANARY
/* In the arena's own input section, so the linker puts it right after model.c's arena (model.o
 * is linked first); zeroed with the arena at reset, then painted. */
__attribute__((section(".bss.tinyrt_arena"), used))
static uint32_t arena_guard[TR_ARENA_GUARD_WORDS];
#endif

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
#ifdef TINYRT_ARENA_CANARY
    for (int i = 0; i < TR_ARENA_GUARD_WORDS; i++) {
        ((volatile uint32_t *)arena_guard)[i] = ARENA_PAINT;
    }
#endif
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
 * frame whose text it can show: "\0\r\n*** tinyrt: fault exc=... pc=...\r\n\0". `kind` names a
 * device limit ("stack-overflow ") or is empty for a plain fault. */
static void fault_line_begin(const char *kind)
{
    static const char head[] = "\0\r\n*** tinyrt: fault ";
    size_t n = 0;
    while (kind[n] != '\0') {
        n++;
    }
    tr_board_write((const uint8_t *)head, sizeof head - 1);
    tr_board_write((const uint8_t *)kind, n);
}

__attribute__((noreturn)) static void fault_line_end(void)
{
    static const char tail[] = "\r\n";
    tr_board_write((const uint8_t *)tail, sizeof tail); /* with its terminating zero */
    for (;;) {
    }
}

static uint32_t exception_number(void)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    return ipsr & 0x1FFu;
}

void tr_fault_report(const uint32_t *frame, uint32_t exc_return)
{
    fault_line_begin("");
    put_field("exc", exception_number());
    put_field("pc", frame[6]);
    put_field("lr", frame[5]);
    put_field("sp", (uint32_t)(uintptr_t)frame);
    put_field("excret", exc_return);
#if __ARM_ARCH >= 7
    put_field("cfsr", SCB_CFSR);
    put_field("hfsr", SCB_HFSR);
#endif
    fault_line_end();
}

/* A fault whose frame lies in or below the guard band: the stack ran out. The frame may not be
 * readable (below RAM), so only its address is reported, with the stack pointer the code had
 * before the exception pushed it (a basic frame, or one with the FP context: EXC_RETURN bit 4). */
void tr_stack_fault_report(uint32_t frame, uint32_t exc_return)
{
    fault_line_begin("stack-overflow ");
    put_field("exc", exception_number());
    put_field("sp", frame + ((exc_return & 0x10u) ? 32u : 104u));
    put_field("limit", (uint32_t)(uintptr_t)__stack_bottom);
    put_field("size", tr_board_stack_size());
    put_field("guard", TR_STACK_GUARD);
    fault_line_end();
}

/* Every fault and unexpected exception lands here with its stacked frame on the main stack
 * (nothing uses the process stack); the exception number tells which one it was. A frame below
 * the guard band means the stack overflowed: C code would fault again pushing onto it (a lockup,
 * which QEMU turns into an abort), so the handler first moves to the top of the dead stack. */
__attribute__((naked))
void Default_Handler(void)
{
    __asm__ volatile(
        "mrs r0, msp\n"
        "mov r1, lr\n"
        "ldr r2, =__stack_bottom + " TR_STR(TR_STACK_GUARD) "\n"
        "cmp r0, r2\n"
        "bhs 1f\n"
        "ldr r2, =__stack_top\n"
        "mov sp, r2\n"
        "bl tr_stack_fault_report\n"
        "1:\n"
        "bl tr_fault_report\n"
        ".ltorg\n");
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

/* After every run (protocol.c): a run that reached the stack's guard band, or wrote over the
 * arena's guard words, stops the board with a fault line; what it overwrote cannot be trusted. */
void tr_board_check_limits(void)
{
    const volatile uint32_t *band = __stack_bottom;
    for (uint32_t i = 0; i < TR_STACK_GUARD / 4; i++) {
        if (band[i] != STACK_PAINT) {
            fault_line_begin("stack-overflow ");
            put_field("used", tr_board_stack_used());
            put_field("size", tr_board_stack_size());
            put_field("guard", TR_STACK_GUARD);
            fault_line_end();
        }
    }
#ifdef TINYRT_ARENA_CANARY
    for (uint32_t i = 0; i < TR_ARENA_GUARD_WORDS; i++) {
        uint32_t value = ((const volatile uint32_t *)arena_guard)[i];
        if (value != ARENA_PAINT) {
            fault_line_begin("arena-overrun ");
            put_field("word", i);
            put_field("value", value);
            put_field("arena", (uint32_t)((uintptr_t)arena_guard - (uintptr_t)__arena_start));
            fault_line_end();
        }
    }
#endif
}

uint32_t tr_board_static_ram(void)
{
    return (uint32_t)(((uintptr_t)__data_end - (uintptr_t)__data_start) +
                      ((uintptr_t)__bss_end - (uintptr_t)__bss_start));
}
