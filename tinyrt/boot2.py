"""The RP2040's boot stage 2: the first 256 bytes of flash, which make the flash executable.

The RP2040 boot ROM reads the first 256 bytes of the external flash into SRAM, checks that the
last 4 are the CRC32 of the first 252 and, if so, runs them; anything else and it falls back to
its USB bootloader. Those 252 bytes (``firmware/boot2_<chip>.S``, chosen by the board file's
``firmware.boot2``) set the flash and the SSI up for execute-in-place and jump to the vector
table at 0x10000100, right after them.

The build compiles the stage like any firmware source (section ``.boot2``); the generated linker
script puts it first in the code region and pads it to 252 bytes with a 4-byte placeholder;
after the link ``write_checksum`` computes the CRC over the 252 bytes as the ROM does and writes
it into the ELF, so the ELF, the UF2 made from it and a raw image all carry the same 256 bytes.

    [firmware]
    boot2 = "w25q080"      # the Raspberry Pi Pico's flash chip
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

from . import elf
from .errors import TinyrtError
from .paths import data_dir

# flash chip -> the boot stage source in firmware/
CHIPS = {"w25q080": "boot2_w25q080.S"}
SECTION = ".boot2"
SIZE = 256
CODE_BYTES = SIZE - 4
XIP_BASE = 0x10000000
# The boot ROM's CRC32: polynomial 0x04c11db7, MSB first (no reflection), initial value
# 0xffffffff, no final XOR (the parameters of CRC-32/MPEG-2); stored little-endian.
POLY, INIT = 0x04C11DB7, 0xFFFFFFFF


def crc32(data: bytes) -> int:
    """The CRC the RP2040 boot ROM computes, bit by bit as it is specified."""
    crc = INIT
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ POLY if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def checksummed(code: bytes) -> bytes:
    """``code`` padded with zeros to 252 bytes, then its CRC: the 256 bytes the ROM accepts."""
    if len(code) > CODE_BYTES:
        raise TinyrtError(f"boot stage 2 is {len(code)} bytes; the RP2040 boot ROM runs at most "
                          f"{CODE_BYTES} (plus its 4-byte CRC)")
    padded = code.ljust(CODE_BYTES, b"\0")
    return padded + struct.pack("<I", crc32(padded))


def chip(board: dict) -> str | None:
    """The flash chip the board's boot stage 2 is for, or None (no boot stage)."""
    return board.get("firmware", {}).get("boot2")


def sources(board: dict) -> list[Path]:
    """The boot stage's source, compiled with the firmware; none without ``firmware.boot2``."""
    name = chip(board)
    return [data_dir("firmware") / CHIPS[name]] if name else []


def check(board: dict, where: str) -> None:
    """A board with a boot stage 2 must run its code from the XIP window (the stage jumps to
    0x10000100) with a vector table that fits the 256 bytes VTOR alignment gives it there."""
    name = chip(board)
    if name is None:
        return
    if name not in CHIPS:
        raise TinyrtError(f"{where}: firmware.boot2 = '{name}' is not a flash chip tinyrt has a "
                          f"boot stage for", [f"known: {', '.join(CHIPS)}"])
    code = board["memory"][board["placement"]["code"]]
    if code["origin"] != XIP_BASE:
        raise TinyrtError(f"{where}: firmware.boot2 needs placement.code in the flash at "
                          f"{XIP_BASE:#x} (it is at {code['origin']:#x}), where the boot stage "
                          f"jumps", ["set placement.code to the flash region"])
    if board["firmware"].get("entry_stub"):
        raise TinyrtError(f"{where}: firmware.boot2 and firmware.entry_stub exclude each other: "
                          f"the boot stage jumps through the vector table, not to the image's "
                          f"first byte")
    if 4 * (16 + board["firmware"].get("irqs", 32)) > SIZE:
        raise TinyrtError(f"{where}: with firmware.boot2 the vector table (16 + firmware.irqs "
                          f"entries) must fit in {SIZE} bytes: irqs at most {SIZE // 4 - 16}")


def _section(blob: bytes, path) -> tuple[int, int, int]:
    """(file offset, address, size) of the ELF's .boot2 section."""
    (_, _, _, _, _, shoff, _, _, _, _, shentsize, shnum, shstrndx) = elf._header(blob, path)
    heads = [struct.unpack_from("<IIIIIIIIII", blob, shoff + i * shentsize) for i in range(shnum)]
    names = heads[shstrndx][4]
    for name_off, _, _, addr, offset, size, *_ in heads[1:]:
        if blob[names + name_off:blob.index(b"\0", names + name_off)] == SECTION.encode():
            return offset, addr, size
    raise TinyrtError(f"{path} has no {SECTION} section: not built with a boot stage 2")


def read(elf_path: str | os.PathLike) -> tuple[int, bytes]:
    """The address and the 256 bytes of the ELF's boot stage 2."""
    blob = Path(elf_path).read_bytes()
    offset, addr, size = _section(blob, elf_path)
    return addr, blob[offset:offset + size]


def write_checksum(elf_path: str | os.PathLike) -> bytes:
    """Write the CRC of the linked stage's first 252 bytes into its last 4, in the ELF file
    itself; returns the 256 bytes."""
    path = Path(elf_path)
    blob = bytearray(path.read_bytes())
    offset, addr, size = _section(blob, path)
    if size != SIZE or addr != XIP_BASE:
        raise TinyrtError(f"{path}: {SECTION} is {size} bytes at {addr:#x}; the boot ROM reads "
                          f"{SIZE} bytes at {XIP_BASE:#x}")
    stage = checksummed(bytes(blob[offset:offset + CODE_BYTES]))
    blob[offset:offset + SIZE] = stage
    path.write_bytes(bytes(blob))
    return stage
