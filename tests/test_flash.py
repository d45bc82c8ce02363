"""Flashing real boards: the exact action of each method in a dry run (pyOCD's Python API, the
OpenOCD command line, the UF2 copy), the fit checked first, UF2 images as the UF2 spec lays them
out, and the errors a user meets with no probe, several probes, the wrong board, no OpenOCD, no
UF2 drive. pyOCD is really run: with no probe attached (CI) it finds none. Tests that flash a
board carry the `hardware` marker (TINYRT_HARDWARE=1 TINYRT_BOARD=<id> [TINYRT_PROBE=<uid>]
runs them)."""
import json
import os
import shlex
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from pyocd.board.board_ids import BoardInfo

from firmware_project import requires_arm_gcc, small_model
from test_op_fully_connected import fc_model
from tinyrt import board_fit, elf, firmware, flash, flash_pyocd
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.writer import write_tflite

UF2_MAGIC_START0, UF2_MAGIC_START1, UF2_MAGIC_END = 0x0A324655, 0x9E5D5157, 0x0AB16F30
RP2040 = 0xE48BFF56


def tinyrt(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tinyrt", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def model_file(tmp_path, graph, name="model.tflite"):
    path = tmp_path / name
    path.write_bytes(write_tflite(graph))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The small model built for a Nucleo (pyOCD) and for the Pico (UF2): {board: project}."""
    tmp = tmp_path_factory.mktemp("built")
    model = model_file(tmp, small_model())
    out = {}
    for board in ("nucleo-f746zg", "rpi-pico"):
        proc = tinyrt("build", model, "--board", board, "-o", tmp / board, "-q")
        assert proc.returncode == 0, proc.stderr
        out[board] = tmp / board
    return out


def no_probe_attached() -> bool:
    from pyocd.core.helpers import ConnectHelper
    return not ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)


def uf2_drive(root: Path, label="RPI-RP2") -> Path:
    """A folder laid out as a mounted UF2 bootloader drive (its INFO_UF2.TXT)."""
    drive = root / "user" / label
    drive.mkdir(parents=True)
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\n")
    return drive


# --- the dry run: the exact action ----------------------------------------------------------

def test_pyocd_dry_run_prints_the_python_api_call_that_flashes(tmp_path):
    proc = tinyrt("flash", tmp_path, "--board", "nucleo-f746zg", "--dry-run", "--probe", "066DFF")
    assert proc.returncode == 0, proc.stderr
    argv = shlex.split(proc.stdout)
    assert argv[:2] == [sys.executable, "-c"] and len(argv) == 3
    code = argv[2]
    compile(code, "dry-run", "exec")   # runnable as printed
    elf_path = tmp_path / "build-nucleo-f746zg" / "firmware.elf"
    assert ('ConnectHelper.session_with_chosen_probe(blocking=False, return_first=True, '
            'unique_id="066DFF", target_override="stm32f746zgtx")') in code
    assert f'FileProgrammer(session).program("{elf_path}", file_format="elf")' in code
    assert "session.target.reset()" in code


def test_deploy_dry_run_on_a_real_board_ends_with_the_flash_through_the_chosen_probe(tmp_path):
    model = model_file(tmp_path, small_model())
    proc = tinyrt("deploy", model, "--board", "nucleo-l4r5zi", "--dry-run", "--probe", "0668FF",
                  "--work-dir", tmp_path / "w")
    assert proc.returncode == 0, proc.stderr
    last = shlex.split(proc.stdout.splitlines()[-1])[-1]
    assert 'unique_id="0668FF", target_override="stm32l4r5zitx"' in last
    assert str(tmp_path / "w" / "build-nucleo-l4r5zi" / "firmware.elf") in last


def test_a_board_from_a_cmsis_pack_flashes_with_its_pack(tmp_path):
    board = load_board("nucleo-f746zg")
    board = {**board, "flash": {**board["flash"], "pack": "Keil.STM32F7xx_DFP.2.16.0.pack"}}
    call = flash_pyocd.call_for(board, tmp_path / "firmware.elf")
    assert call.kwargs()["options"] == {"pack": str(Path(board["dir"]) / "Keil.STM32F7xx_DFP.2.16.0.pack")}
    assert f'options={{"pack": "{Path(board["dir"])}/Keil.STM32F7xx_DFP.2.16.0.pack"}}' in call.text()


def test_openocd_dry_run_prints_the_command_line_with_the_chosen_adapter(tmp_path):
    proc = tinyrt("flash", tmp_path, "--board", "nucleo-f746zg", "--dry-run", "--method", "openocd",
                  "--probe", "066DFF")
    elf_path = tmp_path / "build-nucleo-f746zg" / "firmware.elf"
    assert shlex.split(proc.stdout) == [
        "openocd", "-f", "board/st_nucleo_f7.cfg", "-c", "adapter serial 066DFF",
        "-c", f"program {elf_path} verify reset exit"]


def test_uf2_dry_run_prints_the_copy_onto_the_drive_it_found(tmp_path):
    drive = uf2_drive(tmp_path / "media")
    proc = tinyrt("flash", tmp_path, "--board", "rpi-pico", "--dry-run",
                  env={"TINYRT_UF2_MOUNTS": str(tmp_path / "media")})
    assert shlex.split(proc.stdout) == ["cp", str(tmp_path / "build-rpi-pico" / "firmware.uf2"),
                                        f"{drive}/"]
    proc = tinyrt("flash", tmp_path, "--board", "rpi-pico", "--dry-run",
                  env={"TINYRT_UF2_MOUNTS": str(tmp_path / "nothing")})
    assert shlex.split(proc.stdout)[-1] == "<RPI-RP2 drive, not mounted>/"


def test_a_dry_run_refuses_a_model_that_cannot_fit_before_printing_any_command(tmp_path):
    big = model_file(tmp_path, fc_model(1, 1100, 1000, in_zp=0, out_zp=0))   # 1.1 MB of weights
    proc = tinyrt("deploy", big, "--board", "nucleo-f746zg", "--dry-run", "--work-dir", tmp_path / "w")
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert "error: model does not fit board nucleo-f746zg:\n  memory region 'flash' has " \
           "1,048,576 B; it would hold weights 1,1" in proc.stderr and "B too many" in proc.stderr
    assert "before the code" in proc.stderr
    assert "try: a smaller model (fewer or narrower layers)" in proc.stderr   # int8 already
    assert "try: boards it fits: " in proc.stderr and "nucleo-l4r5zi" in proc.stderr
    assert not (tmp_path / "w").exists()   # refused first: nothing written


def test_the_fit_counts_every_role_placed_in_a_region():
    # a board that runs from SRAM (as rpi-pico did before it executed from flash): code and
    # weights in SRAM, the stack in SCRATCH
    board = {"id": "pico-like", "kind": "mcu",
             "memory": {"flash": {"origin": 0x10000000, "length": 0x200000},
                        "sram": {"origin": 0x20000000, "length": 0x40000},
                        "scratch": {"origin": 0x20040000, "length": 0x2000}},
             "placement": {"code": "sram", "weights": "sram", "data": "sram", "arena": "sram",
                           "stack": "scratch"}}
    needs = {"code": 20_000, "weights": 200_000, "data": 2_000, "arena": 50_000, "stack": 4096}
    (over,) = board_fit.overflows(board, needs)
    assert (over.region, over.need, over.over) == ("sram", 272_000, 272_000 - 262_144)
    assert over.parts == {"code": 20_000, "weights": 200_000, "data": 2_000, "arena": 50_000}
    assert board_fit.overflows(load_board("nucleo-f746zg"), needs) == []
    assert board_fit.overflows(load_board("host"), needs) == []


@requires_arm_gcc
def test_flash_dry_run_of_a_built_image_checks_it_against_the_board(built):
    proc = tinyrt("flash", built["nucleo-f746zg"], "--board", "nucleo-f746zg", "--dry-run")
    assert proc.returncode == 0 and "not built yet" not in proc.stderr
    sizes = firmware.section_sizes(built["nucleo-f746zg"] / "build-nucleo-f746zg" / "firmware.elf")
    needs = board_fit.built_needs(sizes, load_board("nucleo-f746zg"))
    assert needs["code"] > 0 and needs["weights"] >= 640 and needs["stack"] == 8192


# --- UF2 images, by the spec ----------------------------------------------------------------

def test_a_bin_becomes_512_byte_uf2_blocks_of_256_payload_bytes_with_the_family_id(tmp_path):
    data = bytes(range(256)) * 2 + b"\xAA" * 88   # 600 B: two whole pages and a part
    (tmp_path / "fw.bin").write_bytes(data)
    image = flash.uf2_image(load_board("rpi-pico"), tmp_path / "fw.bin")
    assert len(image) == 3 * 512
    for n in range(3):
        block = image[512 * n: 512 * (n + 1)]
        start0, start1, flags, addr, size, number, total, family = struct.unpack_from("<8I", block)
        assert (start0, start1, struct.unpack_from("<I", block, 508)[0]) == \
            (UF2_MAGIC_START0, UF2_MAGIC_START1, UF2_MAGIC_END)
        assert flags == 0x00002000 and family == RP2040   # familyID present
        assert (addr, size, number, total) == (0x10000000 + 256 * n, 256, n, 3)   # its flash
        assert block[32:288] == data[256 * n: 256 * (n + 1)].ljust(256, b"\0")
        assert block[288:508] == bytes(220)


@requires_arm_gcc
def test_the_uf2_of_a_built_elf_holds_every_loaded_byte_at_its_address(built):
    path = built["rpi-pico"] / "build-rpi-pico" / "firmware.elf"
    image = flash.uf2_image(load_board("rpi-pico"), path)
    memory = {}
    for n in range(len(image) // 512):
        addr, size = struct.unpack_from("<II", image, 512 * n + 12)
        memory.update({addr + i: b for i, b in enumerate(image[512 * n + 32: 512 * n + 32 + size])})
    for seg in elf.load_segments(path):
        assert bytes(memory[seg.paddr + i] for i in range(len(seg.data))) == seg.data
    assert image == (built["rpi-pico"] / "build-rpi-pico" / "firmware.uf2").read_bytes()


def test_uf2_needs_the_boards_family_id(tmp_path):
    (tmp_path / "fw.bin").write_bytes(b"\0" * 16)
    with pytest.raises(TinyrtError, match="no UF2 family id") as e:
        flash.uf2_image(load_board("nucleo-f746zg"), tmp_path / "fw.bin")
    assert "stm32f7 0x53b80f00" in e.value.hints[0]


@requires_arm_gcc
def test_uf2_flash_writes_the_image_onto_the_bootloader_drive(built, tmp_path, monkeypatch):
    drive = uf2_drive(tmp_path)
    monkeypatch.setenv("TINYRT_UF2_MOUNTS", str(tmp_path))
    out = built["rpi-pico"] / "build-rpi-pico"
    done = flash.flash(load_board("rpi-pico"), out / "firmware.elf", out / "firmware.uf2")
    assert done == flash.Flashed("uf2", volume=str(drive))
    assert (drive / "firmware.uf2").read_bytes() == (out / "firmware.uf2").read_bytes()


def test_a_missing_uf2_drive_says_where_it_looked(tmp_path, monkeypatch):
    (tmp_path / "RPI-RP2").mkdir()     # an empty mount point left behind is not the drive
    monkeypatch.setenv("TINYRT_UF2_MOUNTS", str(tmp_path))
    with pytest.raises(TinyrtError) as e:
        flash.flash(load_board("rpi-pico"), tmp_path / "firmware.elf")
    assert e.value.message == (f"no UF2 drive 'RPI-RP2' is mounted; looked for "
                               f"RPI-RP2/INFO_UF2.TXT in {tmp_path}, {tmp_path}/*")
    assert "BOOTSEL" in e.value.hints[0]


# --- errors ---------------------------------------------------------------------------------

@requires_arm_gcc
@pytest.mark.skipif(not no_probe_attached(), reason="a debug probe is attached")
def test_flashing_with_no_probe_attached_says_what_pyocd_sees(built):
    proc = tinyrt("flash", built["nucleo-f746zg"], "--board", "nucleo-f746zg")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "error: no debug probe found; pyOCD sees no probe at all" in proc.stderr
    assert "try: `pyocd list` shows the probes" in proc.stderr
    proc = tinyrt("flash", built["nucleo-f746zg"], "--board", "nucleo-f746zg", "--probe", "0668FF")
    assert "error: no debug probe matches '0668FF'; pyOCD sees no probe at all" in proc.stderr


@requires_arm_gcc
@pytest.mark.skipif(not no_probe_attached(), reason="a debug probe is attached")
def test_deploy_on_a_real_board_with_no_probe_stops_after_the_build_with_the_reason(tmp_path):
    proc = tinyrt("deploy", model_file(tmp_path, small_model()), "--board", "nucleo-l4r5zi",
                  "--runs", "1", env={"TMPDIR": str(tmp_path)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "flashing nucleo-l4r5zi (pyocd)" in proc.stderr
    assert "error: no debug probe found" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]   # project removed


def probe(uid, description):
    return SimpleNamespace(unique_id=uid, description=description)


def test_several_probes_ask_for_one_by_its_unique_id():
    probes = [probe("066DFF575251717867183439", "STM32 STLink"), probe("683412345", "J-Link OB")]
    with pytest.raises(TinyrtError) as e:
        flash_pyocd.choose_probe(probes, None, probes)
    assert e.value.message.startswith("2 debug probes are attached: 066DFF575251717867183439 (STM32")
    assert e.value.hints == ["--probe 066DFF575251717867183439  (STM32 STLink)",
                             "--probe 683412345  (J-Link OB)"]


def test_a_probe_id_that_matches_none_lists_the_probes_pyocd_sees():
    seen = [probe("683412345", "J-Link OB")]
    with pytest.raises(TinyrtError, match=r"no debug probe matches '0668'; pyOCD sees: 683412345 "
                                          r"\(J-Link OB\)"):
        flash_pyocd.choose_probe([], "0668", seen)


def test_a_probe_on_another_board_is_a_target_mismatch():
    l4r5 = BoardInfo("NUCLEO-L4R5ZI", "stm32l4r5zitx")
    with pytest.raises(TinyrtError) as e:
        flash_pyocd.check_board_info(l4r5, "stm32f746zgtx", load_board("nucleo-f746zg"))
    assert e.value.message == ("target mismatch: the probe is on a NUCLEO-L4R5ZI (stm32l4r5zitx), "
                               "but board nucleo-f746zg is a stm32f746zgtx")
    assert e.value.hints[0] == "--board nucleo-l4r5zi"
    flash_pyocd.check_board_info(BoardInfo("NUCLEO-F746ZG", "stm32f746zgtx"), "stm32f746zgtx",
                                 load_board("nucleo-f746zg"))
    flash_pyocd.check_board_info(None, "stm32f746zgtx", load_board("nucleo-f746zg"))


def test_a_target_pyocd_has_no_pack_for_says_how_to_install_it():
    flash_pyocd.check_target_known("nrf52840", None)            # built into pyOCD
    if "stm32f746zgtx" in flash_pyocd._installed_pack_targets():
        pytest.skip("the STM32F7 pack is installed here")
    with pytest.raises(TinyrtError, match="pyOCD has no target 'stm32f746zgtx'") as e:
        flash_pyocd.check_target_known("stm32f746zgtx", None)
    assert e.value.hints[0].startswith("pyocd pack install stm32f746zgtx")


def test_a_pack_the_board_names_must_exist(tmp_path):
    with pytest.raises(TinyrtError, match="flash.pack is missing"):
        flash_pyocd.check_target_known("stm32f746zgtx", str(tmp_path / "missing.pack"))


def test_openocd_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))   # a machine without OpenOCD
    with pytest.raises(TinyrtError, match="OpenOCD is not installed") as e:
        flash.flash(load_board("nucleo-f746zg"), tmp_path / "firmware.elf", method="openocd")
    assert e.value.hints[0] == "apt-get install openocd"


def test_an_emulated_board_has_nothing_to_flash(tmp_path):
    with pytest.raises(TinyrtError, match="emulated"):
        flash.flash(load_board("qemu-m4"), tmp_path / "firmware.elf")


# --- on a real board ------------------------------------------------------------------------

HARDWARE_BOARD = os.environ.get("TINYRT_BOARD", "nucleo-f746zg")
requires_board = pytest.mark.skipif(os.environ.get("TINYRT_HARDWARE") != "1",
                                    reason="needs a real board: TINYRT_HARDWARE=1 TINYRT_BOARD=<id>")


@pytest.mark.hardware
@requires_board
def test_deploy_on_a_real_board_flashes_finds_its_port_and_is_bit_exact(tmp_path):
    model = model_file(tmp_path, small_model())
    probe = ["--probe", os.environ["TINYRT_PROBE"]] if os.environ.get("TINYRT_PROBE") else []
    proc = tinyrt("deploy", model, "--board", HARDWARE_BOARD, "--runs", "3", "--json", "-", *probe)
    assert proc.returncode == 0, proc.stderr
    assert "its console is /dev/" in proc.stderr
    report = json.loads(proc.stdout)
    assert report["bit_exact_runs"] == 3 and report["latency"]["unit"] == "cycles"


@pytest.mark.hardware
@requires_board
def test_ports_names_the_attached_boards_probe():
    from tinyrt.ports import list_ports, probe_kinds
    kinds = probe_kinds(load_board(HARDWARE_BOARD))
    assert any(p.probe in kinds for p in list_ports()), list_ports()
