"""Firmware builds with arm-none-eabi-gcc for every device board, emulated and real."""
import re

import pytest

from tinyrt import elf, firmware
from tinyrt.boards import load_board, region
from tinyrt.errors import TinyrtError

from builder import ModelBuilder
from conformance import rand_int8
from firmware_project import DEVICE_BOARDS, requires_arm_gcc, small_model, write_project

pytestmark = requires_arm_gcc


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """board id -> (Firmware, Lowered) for the small model, built once per board."""
    cache = {}

    def get(board_id):
        if board_id not in cache:
            board = load_board(board_id)
            project = tmp_path_factory.mktemp(board_id)
            lowered = write_project(small_model(), board, project)
            cache[board_id] = (firmware.build(project, board), lowered)
        return cache[board_id]
    return get


@pytest.mark.parametrize("board_id", DEVICE_BOARDS)
def test_firmware_links_for_every_device_board(built, board_id):
    fw, lowered = built(board_id)
    assert fw.elf.is_file() and fw.map.is_file()
    s = fw.sizes
    assert s.flash == s.text + s.rodata + s.data
    assert s.weights >= lowered.weights_bytes() and s.rodata >= s.weights
    assert s.arena >= lowered.plan.arena_bytes
    assert s.stack == load_board(board_id)["stack_bytes"]
    assert 1000 < s.text < 16384, "startup + board layer + protocol + one FC layer stay small"


@pytest.mark.parametrize("board_id", DEVICE_BOARDS)
def test_every_section_lands_in_the_region_its_board_places_it(built, board_id):
    fw, _ = built(board_id)
    board = load_board(board_id)
    roles = {".text": "code", ".rodata": "code", ".weights": "weights", ".data": "data",
             ".bss": "data", ".arena": "arena", ".stack": "stack"}
    for sec in elf.sections(fw.elf):
        if sec.name in roles and sec.size:
            r = region(board, roles[sec.name])
            assert r["origin"] <= sec.addr and sec.addr + sec.size <= r["origin"] + r["length"], sec


@pytest.mark.parametrize("board_id", DEVICE_BOARDS)
def test_vector_table_holds_the_stack_top_and_reset_handler(built, board_id):
    fw, _ = built(board_id)
    board = load_board(board_id)
    text = next(s for s in elf.sections(fw.elf) if s.name == ".text")
    vectors = text.addr + (512 if board["firmware"].get("entry_stub") else 0)
    seg = next(g for g in elf.load_segments(fw.elf) if g.vaddr <= vectors < g.vaddr + len(g.data))
    sp, reset = (int.from_bytes(seg.data[vectors - seg.vaddr + 4 * i:][:4], "little") for i in (0, 1))
    stack = region(board, "stack")
    assert stack["origin"] < sp <= stack["origin"] + stack["length"] and sp % 8 == 0
    assert reset & 1, "Thumb bit set on the reset vector"


def test_rpi_pico_gets_a_flash_uf2_image(built):
    fw, _ = built("rpi-pico")
    blob = fw.uf2.read_bytes()
    assert len(blob) % 512 == 0 and blob
    for off in range(0, len(blob), 512):
        magic0, magic1, flags, addr, size, n, total, family = \
            (int.from_bytes(blob[off + 4 * i:off + 4 * i + 4], "little") for i in range(8))
        assert (magic0, magic1, size, family) == (0x0A324655, 0x9E5D5157, 256, 0xE48BFF56)
        assert addr % 256 == 0 and 0x10000000 <= addr < 0x10200000
        assert n == off // 512 and total == len(blob) // 512
    first = int.from_bytes(blob[12:16], "little")
    assert first == 0x10000000, "the flash starts with the boot stage 2 (tests/test_boot2.py)"


def test_build_commands_use_the_board_cpu_and_float_abi(tmp_path):
    board = load_board("qemu-m7")
    cmds = firmware.commands(tmp_path, board, tmp_path / "out")
    compile_model = cmds[0]
    assert {"-mthumb", "-mcpu=cortex-m7", "-mfloat-abi=hard", "-mfpu=fpv5-d16", "-O2",
            "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections"} <= set(compile_model)
    link = cmds[-1]
    assert "--specs=nano.specs" in link and "-Wl,--gc-sections" in link
    assert any(a.startswith("-Wl,-Map=") for a in link)
    assert not (tmp_path / "out").exists(), "commands() only plans"


def test_defines_come_from_the_board_file():
    d = firmware.defines(load_board("qemu-m55"))
    assert d["TR_CONSOLE_BASE"] == "0x59303000u"
    assert (d["TR_COUNTER_INSTRUCTIONS_PER_TICK_NUM"], d["TR_COUNTER_INSTRUCTIONS_PER_TICK_DEN"]) == ("125u", "4u")
    assert d["TR_COUNTER_KIND_SYSTICK"] == "1" and d["TINYRT_BOARD_ID"] == '"qemu-m55"'
    assert firmware.defines(load_board("nucleo-l4r5zi"))["TR_STM32L4"] == "1"


def test_profile_build_defines_tinyrt_profile(tmp_path):
    board = load_board("qemu-m4")
    write_project(small_model(), board, tmp_path)
    fw = firmware.build(tmp_path, board, profile=True)
    assert all("-DTINYRT_PROFILE=1" in c for c in fw.commands[:-1])
    assert fw.elf.is_file()


def test_generated_linker_script_follows_the_placement():
    script = firmware.linker_script(load_board("qemu-m55"))
    assert re.search(r"itcm \(rx\) : ORIGIN = 0x10000000, LENGTH = 0x80000", script)
    assert re.search(r"\.weights :.*?\} > flash", script, re.S)
    assert re.search(r"\.arena \(NOLOAD\) :.*?\} > sram", script, re.S)


def test_a_board_may_bring_its_own_linker_script(tmp_path):
    board = load_board("qemu-m4")
    (tmp_path / "mine.ld").write_text("/* mine */\n")
    board = {**board, "dir": str(tmp_path), "firmware": {**board["firmware"], "linker_script": "mine.ld"}}
    assert firmware.linker_script(board) == "/* mine */\n"


def test_missing_toolchain_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYRT_ARM_GCC", "no-such-arm-none-eabi-gcc")
    with pytest.raises(TinyrtError) as e:
        firmware.build(tmp_path, load_board("qemu-m4"))
    assert "not installed" in e.value.message
    assert "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" in e.value.hints


def test_a_directory_without_a_generated_model_is_refused(tmp_path):
    with pytest.raises(TinyrtError, match="not a generated model project"):
        firmware.build(tmp_path, load_board("qemu-m4"))


def test_weights_too_big_for_the_board_name_the_region_and_overflow(tmp_path):
    # 600 x 500 int8 weights = 300 KB: more than the nRF51's 256 KB of flash.
    rng = __import__("numpy").random.default_rng(0)
    m = ModelBuilder()
    x = m.input((1, 500), scale=0.05, zero_point=0)
    w = m.const(rand_int8(rng, (600, 500)), "int8", scale=0.01, zero_point=0)
    y = m.tensor((1, 600), scale=0.1, zero_point=0)
    m.op("FULLY_CONNECTED", [x, w, -1], [y], activation="NONE", keep_num_dims=False)
    board = load_board("qemu-nrf51")
    write_project(m.graph([y]), board, tmp_path)
    with pytest.raises(firmware.FirmwareTooLarge) as e:
        firmware.build(tmp_path, board)
    assert e.value.region == "flash" and e.value.overflow > 40_000
    assert "does not fit board qemu-nrf51" in e.value.message and "weights" in e.value.message


def test_arena_too_big_for_the_board_suggests_patch_based_planning(tmp_path):
    # A 1100 x 500 int8 input (550 KB) cannot fit the qemu-m55's 512 KB DTCM.
    rng = __import__("numpy").random.default_rng(0)
    m = ModelBuilder()
    x = m.input((1100, 500), scale=0.05, zero_point=0)
    w = m.const(rand_int8(rng, (4, 500)), "int8", scale=0.01, zero_point=0)
    y = m.tensor((1100, 4), scale=0.1, zero_point=0)
    m.op("FULLY_CONNECTED", [x, w, -1], [y], activation="NONE", keep_num_dims=False)
    board = load_board("qemu-m55")
    write_project(m.graph([y]), board, tmp_path)
    with pytest.raises(firmware.FirmwareTooLarge) as e:
        firmware.build(tmp_path, board)
    assert e.value.region == "sram" and "arena" in e.value.roles
    assert "arena" in e.value.message and any("patch" in h for h in e.value.hints)
