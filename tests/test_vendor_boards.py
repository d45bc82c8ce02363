"""Real clocks as board data, and the vendor peripherals under emulation (issue 12, items 4-5):
every [clock] table gives its board's clock_hz; the real boards build with their clock code and
carry their PLL values; qemu-stm32f405 (the Nucleo boards' STM32 USART and clock code) and
qemu-nrf51 (the nRF52840-DK's UART code, on a Cortex-M0) run `tinyrt deploy` bit-exact."""
import json
import os
import re
import subprocess
import sys
import tomllib

import numpy as np
import pytest

import codegen
from tinyrt import clock, firmware, qemu, reference
from tinyrt.boards import board_files, load_board, validate
from tinyrt.errors import TinyrtError
from tinyrt.examples import write_example
from tinyrt.link import Device
from tinyrt.writer import write_tflite

from firmware_project import requires_arm_gcc, requires_qemu, small_model, write_project

RATED = {"nucleo-f746zg": 216_000_000, "nucleo-l4r5zi": 120_000_000, "nrf52840dk": 64_000_000,
         "rpi-pico": 125_000_000}
CLOCKED = [b for b in board_files() if "clock" in load_board(b)]


def raw(board_id: str) -> dict:
    return tomllib.loads(board_files()[board_id].read_text())


def tinyrt(*args):
    return subprocess.run([sys.executable, "-m", "tinyrt", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


# --- the clock tables ---------------------------------------------------------------------------

@pytest.mark.parametrize("board_id", sorted(RATED))
def test_each_real_board_runs_at_its_rated_clock(board_id):
    board = load_board(board_id)
    assert board["clock_hz"] == RATED[board_id]
    assert clock.pll_hz(board["clock"]) == RATED[board_id]


@pytest.mark.parametrize("board_id", CLOCKED)
def test_every_clock_table_validates_and_gives_its_clock_hz(board_id):
    board = load_board(board_id)
    assert clock.pll_hz(board["clock"]) == board["clock_hz"]
    assert board["clock"]["reset_hz"] <= board["clock_hz"]


def test_a_clock_tree_that_does_not_give_clock_hz_is_refused():
    board = raw("nucleo-f746zg")
    board["clock"]["pll"]["n"] = 200
    with pytest.raises(TinyrtError, match=r"clock_hz = 216,000,000 but \[clock\] gives 200,000,000"):
        validate(board, "nucleo-f746zg.toml")


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(wait_states=7), "unknown key 'clock.wait_states'"),
    (lambda c: c.update(caches=["l2"]), "'clock.caches' = 'l2' is not one of"),
    (lambda c: c.update(source="pll"), "'clock.source' = 'pll' is not one of"),
    (lambda c: c["pll"].pop("p"), "pll needs p"),
    (lambda c: c.update(apb1_div=3), "'clock.apb1_div' = 3 is not one of"),
])
def test_a_misspelt_or_impossible_clock_key_is_an_error(change, message):
    board = raw("nucleo-f746zg")
    change(board["clock"])
    with pytest.raises(TinyrtError, match=message):
        validate(board, "nucleo-f746zg.toml")


def test_a_dwt_counter_on_a_core_without_one_is_refused():
    board = raw("rpi-pico")
    board["counter"]["kind"] = "dwt"
    with pytest.raises(TinyrtError, match="cortex-m0plus has no DWT cycle counter"):
        validate(board, "rpi-pico.toml")


def test_defines_carry_the_pll_values_and_the_bounded_wait():
    d = firmware.defines(load_board("nucleo-f746zg"))
    assert {k: d[k] for k in ("TR_CLOCK_PLL_M", "TR_CLOCK_PLL_N", "TR_CLOCK_PLL_P", "TR_CLOCK_PLL_Q",
                              "TR_CLOCK_FLASH_WAIT_STATES", "TR_CLOCK_APB1_DIV")} == {
        "TR_CLOCK_PLL_M": "4u", "TR_CLOCK_PLL_N": "216u", "TR_CLOCK_PLL_P": "2u",
        "TR_CLOCK_PLL_Q": "9u", "TR_CLOCK_FLASH_WAIT_STATES": "7u", "TR_CLOCK_APB1_DIV": "4u"}
    assert d["TR_CLOCK_SOURCE_HSE_BYPASS"] == d["TR_CLOCK_OVERDRIVE"] == d["TR_CLOCK_CACHE_DCACHE"] == "1"
    # 100 ms at the 16 MHz reset clock, 4 cycles a poll
    assert d["TR_CLOCK_TIMEOUT_LOOPS"] == "400000u"
    assert d["TR_BOARD_CLOCK_HZ"] == "216000000u"
    assert clock.defines(load_board("qemu-m4")) == {}


def _pllcfgr_words(elf_path) -> set[int]:
    """Every 32-bit constant the firmware's code loads: literal-pool words and movw/movt pairs."""
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf_path)], capture_output=True,
                          text=True, check=True).stdout
    words = {int(w, 16) for w in re.findall(r"\.word\s+0x([0-9a-f]+)", dump)}
    low = {}
    for op, reg, imm in re.findall(r"\b(movw|movt)\s+(r\d+), #(\d+)", dump):
        if op == "movw":
            low[reg] = int(imm)
        elif reg in low:
            words.add(low.pop(reg) | int(imm) << 16)
    return words


@requires_arm_gcc
@pytest.mark.parametrize("board_id, pllcfgr", [
    # M 4 | N 216 << 6 | P 2 -> 0 << 16 | HSE << 22 | Q 9 << 24
    ("nucleo-f746zg", 4 | 216 << 6 | 1 << 22 | 9 << 24),
    # HSI16 2 | M-1 1 << 4 | N 30 << 8 | PLLREN << 24 | R 2 -> 0 << 25
    ("nucleo-l4r5zi", 2 | 1 << 4 | 30 << 8 | 1 << 24),
    ("qemu-stm32f405", 4 | 168 << 6 | 1 << 22 | 7 << 24),
])
def test_real_boards_build_their_clock_code_with_the_pll_values(board_id, pllcfgr, tmp_path):
    board = load_board(board_id)
    write_project(small_model(), board, tmp_path)
    fw = firmware.build(tmp_path, board)   # -Wall -Wextra -Werror
    assert any("-Werror" in cmd and str(tmp_path) in " ".join(cmd) for cmd in fw.commands)
    assert pllcfgr in _pllcfgr_words(fw.elf)


@requires_arm_gcc
@pytest.mark.parametrize("board_id", ["nrf52840dk", "rpi-pico", "qemu-nrf51"])
def test_other_clocked_boards_build(board_id, tmp_path):
    board = load_board(board_id)
    write_project(small_model(), board, tmp_path)
    assert firmware.build(tmp_path, board).sizes.text > 0


# --- the Cortex-M0 ------------------------------------------------------------------------------

def test_the_m0_gets_portable_kernels():
    lowered = codegen.lower(small_model(), load_board("qemu-nrf51"))
    assert {layer.variant for layer in lowered.layers if layer.kernel} == {"portable"}


@requires_arm_gcc
def test_the_m0_firmware_is_built_for_armv6m(tmp_path):
    board = load_board("qemu-nrf51")
    write_project(small_model(), board, tmp_path)
    fw = firmware.build(tmp_path, board)
    assert all("-mcpu=cortex-m0" in cmd for cmd in fw.commands)


# --- under emulation ----------------------------------------------------------------------------

@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
def test_qemu_nrf51_deploys_the_example_bit_exact_in_16_kb(tmp_path):
    model = write_example(tmp_path)
    proc = tinyrt("deploy", model, "--board", "qemu-nrf51", "--runs", 2, "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["bit_exact_runs"] == r["runs"] == 2
    assert r["latency"]["unit"] == "emulated_instructions" and r["latency"]["cycles_median"] > 0
    assert r["memory"]["peak_sram_bytes"] <= 16 * 1024
    assert r["clock"] == {"rated_hz": 16_000_000, "running_hz": 16_000_000, "reached": True,
                          "note": None}


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
def test_qemu_stm32f405_deploys_kws_bit_exact_and_reports_the_clock_it_could_not_start(
        shared_models, tmp_path):
    proc = tinyrt("deploy", shared_models / "kws_int8.tflite", "--board", "qemu-stm32f405",
                  "--runs", 2, "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["bit_exact_runs"] == r["runs"] == 2
    # QEMU models no RCC: the HSE never becomes ready, the bounded wait gives up, the core stays
    # on the 16 MHz HSI and INFO says so
    assert r["clock"]["running_hz"] == 16_000_000 and r["clock"]["rated_hz"] == 168_000_000
    assert not r["clock"]["reached"]
    assert "runs at its reset clock (16 MHz), not its rated 168 MHz" in proc.stderr


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
def test_the_f405_counts_the_instructions_the_mps2_m4_counts(tmp_path):
    """Same core, same kernels: SysTick at QEMU's fixed 168 MHz (125/21 instructions a tick)
    reads the run as the an386's 25 MHz timer does, to a tick of the coarser one."""
    graph = small_model()
    x = reference.random_inputs(graph, np.random.default_rng(3))
    expected = reference.Reference(write_tflite(graph)).run(x)[0].tobytes()
    counts = {}
    for board_id in ("qemu-m4", "qemu-stm32f405"):
        board = load_board(board_id)
        write_project(graph, board, tmp_path / board_id)
        fw = firmware.build(tmp_path / board_id, board)
        with qemu.start(board, fw.elf) as q, Device.open(q.port) as dev:
            outputs, runs = dev.run(x, runs=3)
            assert outputs[0].tobytes() == expected
            counts[board_id] = min(runs)
    assert abs(counts["qemu-stm32f405"] - counts["qemu-m4"]) <= 2 * 40 + 64, counts


# --- on a real board: TINYRT_HARDWARE=1 TINYRT_BOARD=<id> ---------------------------------------

@pytest.mark.hardware
@pytest.mark.skipif(os.environ.get("TINYRT_HARDWARE") != "1" or os.environ.get("TINYRT_BOARD") not in RATED,
                    reason="needs a real board: TINYRT_HARDWARE=1 TINYRT_BOARD=<nucleo-f746zg|nucleo-l4r5zi|"
                           "nrf52840dk|rpi-pico>")
def test_a_real_board_reaches_its_rated_clock_and_reports_ms(tmp_path):
    board_id = os.environ["TINYRT_BOARD"]
    model = tmp_path / "small.tflite"
    model.write_bytes(write_tflite(small_model()))
    proc = tinyrt("deploy", model, "--board", board_id, "--runs", 3, "--json", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["bit_exact_runs"] == 3
    assert r["clock"] == {"rated_hz": RATED[board_id], "running_hz": RATED[board_id], "reached": True,
                          "note": None}
    lat = r["latency"]
    assert lat["unit"] == "cycles" and lat["ms"] == pytest.approx(lat["cycles_median"] / RATED[board_id] * 1e3)
