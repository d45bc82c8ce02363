"""A real board with all its RAMs: nucleo-f746zg lists DTCM, SRAM1 and SRAM2, keeps its stack
and the hottest arena buffers in DTCM and spills the rest of the arena into SRAM1
(tinyrt/regions.py); `tinyrt plan` shows the split, the firmware links it so, and a plan the
two regions cannot hold layer by layer is streamed to fit (tinyrt/fit.py)."""
import json
import subprocess

import pytest

from firmware_project import requires_arm_gcc
from tinyrt.boards import load_board
from tinyrt.cli import main
from tinyrt.fit import fit_to_board
from tinyrt.frontend import read_tflite
from tinyrt.regions import capacities


def test_nucleo_f746zg_lists_its_three_rams_with_stack_and_arena_in_dtcm():
    board = load_board("nucleo-f746zg")
    rams = {n: (r["origin"], r["length"]) for n, r in board["memory"].items() if n != "flash"}
    assert rams == {"dtcm": (0x20000000, 64 << 10), "sram1": (0x20010000, 240 << 10),
                    "sram2": (0x2004C000, 16 << 10)}
    assert board["placement"] == {"code": "flash", "weights": "flash", "data": "sram1",
                                  "arena": "dtcm", "arena_overflow": "sram1", "stack": "dtcm"}
    assert capacities(board) == [(64 << 10) - board["stack_bytes"], 240 << 10]


def test_plan_shows_the_arena_split_between_dtcm_and_sram1(shared_models, tmp_path, capsys):
    model = shared_models / "ic_resnet8_float.tflite"   # 229,376 B of float activations
    assert main(["plan", str(model), "--board", "nucleo-f746zg", "--json", str(tmp_path / "p.json")]) == 0
    out = capsys.readouterr().out
    assert ("arena by region (the hottest buffers first): dtcm 32,768 of 57,344 B, "
            "sram1 196,608 of 245,760 B") in out
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["arena_regions"] == [
        {"region": "dtcm", "arena_bytes": 32_768, "capacity_bytes": 57_344},
        {"region": "sram1", "arena_bytes": 196_608, "capacity_bytes": 245_760}]


def test_a_board_with_one_arena_region_reports_just_that_region(shared_models, tmp_path):
    model = shared_models / "kws_int8.tflite"
    assert main(["plan", str(model), "--board", "qemu-m4", "--json", str(tmp_path / "p.json")]) == 0
    regions = json.loads((tmp_path / "p.json").read_text())["arena_regions"]
    assert [r["region"] for r in regions] == ["sram"]


@requires_arm_gcc
def test_the_firmware_links_stack_and_fast_arena_in_dtcm_the_rest_in_sram1(shared_models, tmp_path):
    model = shared_models / "ic_resnet8_float.tflite"
    assert main(["build", str(model), "--board", "nucleo-f746zg", "-o", str(tmp_path), "-q"]) == 0
    nm = subprocess.run(["arm-none-eabi-nm", str(tmp_path / "build-nucleo-f746zg" / "firmware.elf")],
                        capture_output=True, text=True, check=True).stdout
    symbols = {line.split()[2]: int(line.split()[0], 16) for line in nm.splitlines()
               if len(line.split()) == 3}
    assert symbols["__stack_bottom"] == 0x20000000          # an overflow runs off DTCM: a fault
    assert 0x20000000 < symbols["tinyrt_arena"] < 0x20010000
    assert 0x20010000 <= symbols["tinyrt_arena_1"] < 0x2004C000
    assert 0x20010000 <= symbols["__data_start"] < 0x2004C000


def test_a_plan_two_regions_cannot_hold_layer_by_layer_is_streamed_to_fit(shared_models):
    """vww layer by layer (55,384 B) fits neither 32 + 16 KB of arena; streamed (30,528 B, one
    29,184 B buffer) it does: the fit tries streaming instead of stopping at the split."""
    vww = read_tflite(shared_models / "vww_int8.tflite")
    board = load_board("nucleo-f746zg")
    small = {**board, "memory": {**board["memory"],
                                 "dtcm": {**board["memory"]["dtcm"], "length": 40 << 10},
                                 "sram1": {**board["memory"]["sram1"], "length": 16 << 10}}}
    lowered = fit_to_board(vww, small, quiet=True)
    assert lowered.stages and lowered.plan.arena_bytes <= 32_064
    assert lowered.plan.regions[0] <= 32 << 10 and sum(lowered.plan.regions[1:]) <= 16 << 10
