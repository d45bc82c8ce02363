"""The Raspberry Pi Pico executes from its flash: the image starts with a boot stage 2 the RP2040
boot ROM accepts (252 bytes of code and the CRC32 the ROM computes over them), the vector table
follows at 0x10000100, code and weights live in the 2 MB flash and the UF2 writes the flash.
No emulator runs the RP2040: the stage is checked as the ROM would check it, and run only by the
`hardware` test (TINYRT_HARDWARE=1 TINYRT_BOARD=rpi-pico)."""
import binascii
import json
import os
import struct
import subprocess
import sys
import tomllib

import pytest

from firmware_project import requires_arm_gcc, write_project
from test_op_fully_connected import fc_model
from tinyrt import boot2, elf, firmware
from tinyrt.boards import board_files, load_board, region, validate
from tinyrt.errors import TinyrtError
from tinyrt.paths import data_dir
from tinyrt.writer import write_tflite

KWS = "/work/shared/models/kws_int8.tflite"
XIP, VECTORS, RP2040_FAMILY = 0x10000000, 0x10000100, 0xE48BFF56


def rom_crc(data: bytes) -> int:
    """The boot ROM's checksum, computed here the other way round from tinyrt/boot2.py: zlib's
    reflected CRC-32 on bit-reversed bytes, its register taken raw and reversed back."""
    def rev(x, width):
        return int(f"{x:0{width}b}"[::-1], 2)
    register = binascii.crc32(bytes(rev(b, 8) for b in data), 0) ^ 0xFFFFFFFF  # init all ones
    return rev(register, 32)


def tinyrt(*args):
    return subprocess.run([sys.executable, "-m", "tinyrt", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def raw_pico() -> dict:
    return tomllib.loads(board_files()["rpi-pico"].read_text())


# --- the checksum -------------------------------------------------------------------------------

def test_the_crc_is_crc32_mpeg2_as_the_rp2040_datasheet_specifies():
    assert boot2.crc32(b"123456789") == 0x0376E6E7      # the catalogue check value
    assert boot2.crc32(b"") == 0xFFFFFFFF               # initial value, no final XOR
    data = bytes(range(252))
    assert boot2.crc32(data) == rom_crc(data)


def test_a_stage_is_padded_to_252_bytes_and_its_crc_appended_little_endian():
    stage = boot2.checksummed(b"\x00\xb5")
    assert len(stage) == 256 and stage[:2] == b"\x00\xb5" and stage[2:252] == bytes(250)
    assert struct.unpack("<I", stage[252:])[0] == rom_crc(stage[:252])


def test_a_stage_longer_than_252_bytes_is_refused():
    with pytest.raises(TinyrtError, match="253 bytes; the RP2040 boot ROM runs at most 252"):
        boot2.checksummed(bytes(253))


# --- the board file -----------------------------------------------------------------------------

def test_the_pico_runs_code_and_weights_from_flash_and_writes_only_sram():
    board = load_board("rpi-pico")
    assert board["firmware"]["boot2"] == "w25q080" and "entry_stub" not in board["firmware"]
    assert region(board, "code") == {"name": "flash", "origin": XIP, "length": 2 << 20, "access": "rx"}
    assert region(board, "weights")["name"] == "flash"
    assert {region(board, r)["name"] for r in ("data", "arena", "stack")} == {"sram", "scratch"}
    assert board["clock_hz"] == 125_000_000 and board["clock"]["source"] == "xosc"
    assert board["flash"]["family_id"] == RP2040_FAMILY


@pytest.mark.parametrize("change, message", [
    (lambda b: b["placement"].update(code="sram"), "needs placement.code in the flash at 0x10000000"),
    (lambda b: b["firmware"].update(entry_stub=True), "boot2 and firmware.entry_stub exclude"),
    (lambda b: b["firmware"].update(irqs=49), "irqs at most 48"),
    (lambda b: b["firmware"].update(boot2="w25q128"), "'firmware.boot2' = 'w25q128' is not one of"),
])
def test_a_boot_stage_the_rom_could_not_use_is_refused_on_load(change, message):
    board = raw_pico()
    change(board)
    with pytest.raises(TinyrtError, match=message):
        validate(board, "rpi-pico.toml")


def test_boards_without_a_boot_stage_keep_their_linker_script():
    script = firmware.linker_script(load_board("qemu-m4"))
    assert ".boot2" not in script and ". = ALIGN(512);" in script
    assert boot2.sources(load_board("qemu-m4")) == []


# --- the stage itself ---------------------------------------------------------------------------

@requires_arm_gcc
def test_the_stage_is_position_independent_and_fits_252_bytes(tmp_path):
    """Linked where it is stored (flash) and where the ROM runs it (the top of SRAM), the
    stage is the same bytes: nothing in it depends on its address."""
    src = data_dir("firmware") / "boot2_w25q080.S"
    images = []
    for addr in (XIP, 0x20041F00):
        out = tmp_path / f"stage-{addr:x}.elf"
        subprocess.run(["arm-none-eabi-gcc", "-mthumb", "-mcpu=cortex-m0plus", "-Wall", "-Werror",
                        "-nostdlib", "-Wl,-e,tr_boot2", f"-Wl,--section-start=.boot2={addr:#x}",
                        str(src), "-o", str(out)], check=True)
        at, code = boot2.read(out)
        assert at == addr
        images.append(code)
    assert images[0] == images[1] and 100 < len(images[0]) <= 252
    assert images[0][:2] == b"\x00\xb5", "push {lr}: it returns to a caller that is not the ROM"


# --- a built image ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kws(tmp_path_factory):
    """kws_int8 built for rpi-pico with the CLI: its build folder."""
    out = tmp_path_factory.mktemp("kws")
    proc = tinyrt("build", KWS, "--board", "rpi-pico", "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out / "build-rpi-pico"


def words(blob: bytes, n: int) -> list[int]:
    return list(struct.unpack_from(f"<{n}I", blob))


@requires_arm_gcc
def test_the_image_starts_with_256_bytes_whose_crc_the_boot_rom_accepts(kws):
    (first, *_) = elf.load_segments(kws / "firmware.elf")
    assert first.paddr == XIP
    stage = first.data[:256]
    assert struct.unpack("<I", stage[252:])[0] == rom_crc(stage[:252]) != 0
    assert boot2.read(kws / "firmware.elf") == (XIP, stage)


@requires_arm_gcc
def test_the_vector_table_at_0x10000100_starts_the_reset_handler_in_flash(kws):
    board = load_board("rpi-pico")
    (first, *_) = elf.load_segments(kws / "firmware.elf")
    sp, reset = words(first.data[VECTORS - XIP:], 2)
    scratch = region(board, "stack")
    assert sp == scratch["origin"] + board["stack_bytes"]   # the stack at the bottom of SRAM4/5
    assert reset & 1 and VECTORS < reset & ~1 < XIP + (2 << 20), hex(reset)
    text = next(s for s in elf.sections(kws / "firmware.elf") if s.name == ".text")
    assert text.addr == VECTORS


@requires_arm_gcc
def test_the_uf2_writes_the_flash_from_its_first_byte(kws):
    blob = (kws / "firmware.uf2").read_bytes()
    blocks = [blob[o:o + 512] for o in range(0, len(blob), 512)]
    heads = [words(b, 8) for b in blocks]
    addrs = [h[3] for h in heads]
    assert all(h[7] == RP2040_FAMILY for h in heads)
    assert addrs[0] == XIP and all(XIP <= a < XIP + (2 << 20) for a in addrs)
    assert addrs == sorted(addrs)
    assert blocks[0][32:32 + 256] == boot2.read(kws / "firmware.elf")[1]


@requires_arm_gcc
def test_weights_too_big_for_sram_now_fit_in_the_flash(tmp_path):
    # 600 x 500 int8 weights, 300 KB: more than the Pico's 264 KB of SRAM, far less than 2 MB.
    board = load_board("rpi-pico")
    lowered = write_project(fc_model(1, 500, 600, in_zp=0, out_zp=0), board, tmp_path)
    assert lowered.weights_bytes() > 264 << 10
    fw = firmware.build(tmp_path, board)
    weights = next(s for s in elf.sections(fw.elf) if s.name == ".weights")
    assert XIP < weights.addr and weights.addr + weights.size <= XIP + (2 << 20)
    assert fw.sizes.static_ram + fw.sizes.arena < 16 << 10


# --- on the board -------------------------------------------------------------------------------

@pytest.mark.hardware
@pytest.mark.skipif(os.environ.get("TINYRT_HARDWARE") != "1" or os.environ.get("TINYRT_BOARD") != "rpi-pico",
                    reason="needs a Raspberry Pi Pico: TINYRT_HARDWARE=1 TINYRT_BOARD=rpi-pico")
def test_a_pico_boots_from_flash_and_runs_a_model_larger_than_its_sram(tmp_path):
    model = tmp_path / "big.tflite"
    model.write_bytes(write_tflite(fc_model(1, 500, 600, in_zp=0, out_zp=0)))
    proc = tinyrt("deploy", model, "--board", "rpi-pico", "--runs", 3, "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["bit_exact_runs"] == 3
    assert report["clock"]["running_hz"] == 125_000_000
