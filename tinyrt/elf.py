"""Just enough of ELF32 (little-endian, as arm-none-eabi-gcc writes it) to size a firmware image
and to convert it to UF2; no dependency beyond the standard library."""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import TinyrtError

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHT_NOBITS = 8
PT_LOAD = 1

UF2_MAGIC = (0x0A324655, 0x9E5D5157, 0x0AB16F30)
UF2_FLAG_FAMILY = 0x00002000
UF2_PAYLOAD = 256


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    flags: int
    addr: int
    size: int

    @property
    def alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)


@dataclass(frozen=True)
class Segment:
    paddr: int
    vaddr: int
    data: bytes
    memsz: int


def _header(blob: bytes, path) -> tuple:
    if blob[:4] != b"\x7fELF" or blob[4] != 1 or blob[5] != 1:
        raise TinyrtError(f"{path} is not a little-endian 32-bit ELF file")
    return struct.unpack_from("<HHIIIIIHHHHHH", blob, 16)


def sections(path: str | os.PathLike) -> list[Section]:
    blob = Path(path).read_bytes()
    (_, _, _, _, _, shoff, _, _, _, _, shentsize, shnum, shstrndx) = _header(blob, path)
    raw = [struct.unpack_from("<IIIIIIIIII", blob, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = raw[shstrndx][4]
    out = []
    for name_off, sh_type, flags, addr, _, size, *_ in raw[1:]:
        end = blob.index(b"\0", strtab_off + name_off)
        out.append(Section(blob[strtab_off + name_off:end].decode(), sh_type, flags, addr, size))
    return out


def load_segments(path: str | os.PathLike) -> list[Segment]:
    """PT_LOAD segments with file bytes, at their load (physical) address."""
    blob = Path(path).read_bytes()
    (_, _, _, _, phoff, _, _, _, phentsize, phnum, _, _, _) = _header(blob, path)
    out = []
    for i in range(phnum):
        p_type, offset, vaddr, paddr, filesz, memsz, _, _ = struct.unpack_from(
            "<IIIIIIII", blob, phoff + i * phentsize)
        if p_type == PT_LOAD and filesz:
            out.append(Segment(paddr, vaddr, blob[offset:offset + filesz], memsz))
    return out


def uf2_blocks(segments: list[Segment], family_id: int) -> bytes:
    """The UF2 image (https://github.com/microsoft/uf2) of the segments: one block per 256-byte
    aligned page touched, unused bytes of a page zero (the RP2040 bootrom wants aligned pages)."""
    pages: dict[int, bytearray] = {}
    for seg in segments:
        for i, byte in enumerate(seg.data):
            addr = seg.paddr + i
            pages.setdefault(addr & ~(UF2_PAYLOAD - 1), bytearray(UF2_PAYLOAD))[addr % UF2_PAYLOAD] = byte
    out = bytearray()
    for n, addr in enumerate(sorted(pages)):
        head = struct.pack("<IIIIIIII", UF2_MAGIC[0], UF2_MAGIC[1], UF2_FLAG_FAMILY, addr,
                           UF2_PAYLOAD, n, len(pages), family_id)
        out += head + bytes(pages[addr]).ljust(476, b"\0") + struct.pack("<I", UF2_MAGIC[2])
    return bytes(out)
