/*
 * boot2_w25q080.S: the RP2040's boot stage 2 for a Winbond W25Q080 (the Raspberry Pi Pico's
 * 2 MB QSPI flash; W25Q16JV-class parts answer the same commands).
 *
 * The boot ROM copies the first 256 bytes of flash into SRAM (0x20041f00), checks that their
 * last 4 bytes are the CRC32 of the first 252 (tinyrt/boot2.py writes it after the link) and
 * calls this code with lr = 0. Out of reset the SSI reads the flash one bit at a time with a
 * command byte per access (03h); this code makes every read of the XIP window (0x10000000) a
 * quad I/O fast read (EBh) in continuous-read mode, where the flash takes only the address and
 * the mode bits, then jumps through the application's vector table at 0x10000100: VTOR, MSP,
 * reset handler. Called from code (lr != 0) it returns instead.
 *
 * Written from the RP2040 datasheet (SSI and boot sequence chapters) and the W25Q080 data
 * sheet, with pico-sdk's boot2_w25q080.S as a cross-check of the register values.
 *
 * Constraints: it runs where it was not linked (linked at 0x10000000, run at 0x20041f00), so
 * only PC-relative branches and PC-relative loads of constants; no stack beyond the ROM's; at
 * most 252 bytes (the linker script refuses more). r3 = SSI base throughout.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

#ifndef TR_BOOT2_CLKDIV
#define TR_BOOT2_CLKDIV 2   /* SCK = clk_sys / 2: 62.5 MHz at 125 MHz (even, >= 2) */
#endif
#if (TR_BOOT2_CLKDIV & 1) || TR_BOOT2_CLKDIV < 2
#error "TR_BOOT2_CLKDIV must be an even number >= 2"
#endif

/* QSPI pads (IO_QSPI's pad controls) */
#define PADS_QSPI 0x40020000
#define PAD_SCLK 0x04
#define PAD_SD0 0x08
#define PAD_DRIVE_8MA (2 << 4)
#define PAD_SLEWFAST 1
#define PAD_SCHMITT 2

/* SSI (Synopsys DW_apb_ssi) in front of the XIP window */
#define SSI 0x18000000
#define SSI_CTRLR0 0x00
#define SSI_CTRLR1 0x04
#define SSI_SSIENR 0x08
#define SSI_BAUDR 0x14
#define SSI_SR 0x28
#define SSI_DR0 0x60
#define SSI_RX_SAMPLE_DLY 0xf0
#define SSI_SPI_CTRLR0 0xf4
#define SR_BUSY 1
#define SR_TFE 4

/* CTRLR0: frame format (bits 22:21, 2 = quad), data frame size - 1 (20:16), transfer mode
 * (9:8: 0 = transmit and receive, 3 = EEPROM read: send command + address, then receive). */
#define CTRLR0_SERIAL_8BIT ((7 << 16) | (0 << 8))
#define CTRLR0_QUAD_READ_32BIT ((2 << 21) | (31 << 16) | (3 << 8))

/* SPI_CTRLR0: XIP command / mode bits (31:24), wait cycles (15:11), instruction length (9:8:
 * 0 = none, 2 = 8 bits), address length in nibbles (5:2), transfer type (1:0: 1 = command
 * serial and address quad, 2 = both quad). Address length 8 nibbles = 24 address bits and the
 * 8 mode bits; the W25Q080 wants 4 dummy clocks after the mode bits in EBh reads. */
#define FLASH_QUAD_READ 0xeb
#define MODE_CONTINUOUS 0xa0    /* M7:4 = 1010b: the next read comes without a command byte */
#define ADDR_NIBBLES 8
#define DUMMY_CLOCKS 4
#define SPI_CTRLR0_FIRST_READ \
    ((DUMMY_CLOCKS << 11) | (2 << 8) | (ADDR_NIBBLES << 2) | 1)
#define SPI_CTRLR0_XIP \
    ((MODE_CONTINUOUS << 24) | (DUMMY_CLOCKS << 11) | (0 << 8) | (ADDR_NIBBLES << 2) | 2)

/* W25Q080 status registers: QE (quad enable, the pins IO2/IO3 are data, not /WP and /HOLD)
 * is bit 1 of status register 2. It is non-volatile: written once, then only checked. The
 * W25Q080 takes SR2 only as the second byte of a two-byte 01h write (it has no 31h). */
#define FLASH_WRITE_ENABLE 0x06
#define FLASH_READ_SR1 0x05
#define FLASH_READ_SR2 0x35
#define FLASH_WRITE_SR 0x01
#define SR2_QUAD_ENABLE 0x02
#define SR1_WIP 0x01

#define XIP_BASE 0x10000000
#define APP_VECTORS (XIP_BASE + 0x100)
#define SCB_VTOR 0xe000ed08

    .section .boot2, "ax"
    .global tr_boot2
    .type tr_boot2, %function
    .thumb_func
tr_boot2:
    push {lr}

    /* The pads: SCLK at 8 mA with fast edges; no input Schmitt trigger on SD0-3 (less delay on
     * the sampled data at 62.5 MHz). */
    ldr r3, =PADS_QSPI
    movs r0, #(PAD_DRIVE_8MA | PAD_SLEWFAST)
    str r0, [r3, #PAD_SCLK]
    ldr r0, [r3, #PAD_SD0]
    movs r1, #PAD_SCHMITT
    bics r0, r1
    str r0, [r3, #PAD_SD0]
    str r0, [r3, #PAD_SD0 + 4]
    str r0, [r3, #PAD_SD0 + 8]
    str r0, [r3, #PAD_SD0 + 12]

    /* The SSI is configured while disabled. Sample RX one system clock late: at clk_sys / 2
     * the data the flash launches on one SCK edge is then taken just before the next one. */
    ldr r3, =SSI
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]
    movs r1, #TR_BOOT2_CLKDIV
    str r1, [r3, #SSI_BAUDR]
    movs r1, #1
    movs r2, #SSI_RX_SAMPLE_DLY
    str r1, [r3, r2]

    /* Quad mode on in the flash, unless it already is (every boot after the first). */
    ldr r1, =CTRLR0_SERIAL_8BIT
    str r1, [r3, #SSI_CTRLR0]
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]
    movs r0, #FLASH_READ_SR2
    bl read_status
    cmp r0, #SR2_QUAD_ENABLE
    beq quad_enabled
    movs r0, #FLASH_WRITE_ENABLE
    str r0, [r3, #SSI_DR0]
    bl wait_idle
    ldr r0, [r3, #SSI_DR0]          /* the byte clocked in meanwhile */
    movs r0, #FLASH_WRITE_SR
    str r0, [r3, #SSI_DR0]
    movs r0, #0                     /* SR1: no block protection */
    str r0, [r3, #SSI_DR0]
    movs r0, #SR2_QUAD_ENABLE
    str r0, [r3, #SSI_DR0]
    bl wait_idle
    ldr r0, [r3, #SSI_DR0]
    ldr r0, [r3, #SSI_DR0]
    ldr r0, [r3, #SSI_DR0]
write_in_progress:                  /* a status write takes up to 15 ms */
    movs r0, #FLASH_READ_SR1
    bl read_status
    movs r1, #SR1_WIP
    tst r0, r1
    bne write_in_progress
quad_enabled:
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]

    /* One quad read with the command byte and mode bits 0xa0: from then on the flash expects
     * every transfer to start with the address. The data read is discarded. */
    ldr r1, =CTRLR0_QUAD_READ_32BIT
    str r1, [r3, #SSI_CTRLR0]
    movs r1, #0                     /* one data frame */
    str r1, [r3, #SSI_CTRLR1]
    ldr r1, =SPI_CTRLR0_FIRST_READ
    movs r2, #SSI_SPI_CTRLR0
    str r1, [r3, r2]
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]
    movs r1, #FLASH_QUAD_READ
    str r1, [r3, #SSI_DR0]
    movs r1, #MODE_CONTINUOUS       /* address 0, then the mode bits: starts the transfer */
    str r1, [r3, #SSI_DR0]
    bl wait_idle

    /* XIP reads: no command, address and mode bits 0xa0 in quad, 4 dummy clocks, 32 bits back. */
    movs r1, #0
    str r1, [r3, #SSI_SSIENR]
    ldr r1, =SPI_CTRLR0_XIP
    str r1, [r3, r2]                /* r2 is still SSI_SPI_CTRLR0 */
    movs r1, #1
    str r1, [r3, #SSI_SSIENR]

    /* From the boot ROM (lr was 0): into the application. Otherwise back to the caller. */
    pop {r0}
    cmp r0, #0
    beq start_application
    bx r0
start_application:
    ldr r0, =APP_VECTORS
    ldr r1, =SCB_VTOR
    str r0, [r1]
    ldm r0, {r0, r1}                /* initial SP, reset handler */
    msr msp, r0
    bx r1

/* Send the command in r0 and one more byte; return in r0 the byte read during the second. */
    .thumb_func
read_status:
    push {lr}
    str r0, [r3, #SSI_DR0]
    str r0, [r3, #SSI_DR0]
    bl wait_idle
    ldr r0, [r3, #SSI_DR0]
    ldr r0, [r3, #SSI_DR0]
    pop {pc}

/* Wait until the TX FIFO is empty and the SSI no longer busy (chip select released).
 * Clobbers r0, r1. */
    .thumb_func
wait_idle:
    ldr r1, [r3, #SSI_SR]
    movs r0, #SR_TFE
    tst r1, r0
    beq wait_idle
    movs r0, #SR_BUSY
    tst r1, r0
    bne wait_idle
    bx lr

    .ltorg
    .size tr_boot2, . - tr_boot2
