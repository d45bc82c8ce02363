"""An arena in two memory regions (tinyrt/regions.py): a board whose arena region is small names
an overflow region; the plan keeps the hottest buffers in the small fast one, puts the rest in
the other, never splits a buffer between them, and the model stays bit-exact."""
from __future__ import annotations

import copy

import pytest

import codegen
from firmware_project import requires_arm_gcc, requires_qemu
from test_planner import assert_valid
from tinyrt import regions
from tinyrt.boards import load_board, validate
from tinyrt.errors import TinyrtError
from tinyrt.examples import build_example
from tinyrt.writer import write_tflite

FAST = 8 * 1024


def two_region_board(fast: int = FAST) -> dict:
    """qemu-m4 with its SRAM cut in two: a small 'fast' region for the arena (as a DTCM would
    be) and the rest for data, stack and the arena's overflow."""
    board = copy.deepcopy(load_board("qemu-m4"))
    sram = board["memory"].pop("sram")
    board["memory"]["fast"] = {"origin": sram["origin"], "length": fast, "access": "rwx"}
    board["memory"]["sram"] = {"origin": sram["origin"] + fast, "length": sram["length"] - fast,
                               "access": "rwx"}
    board["placement"].update(arena="fast", arena_overflow="sram")
    return board


@pytest.fixture
def graph():
    return build_example()


def test_the_board_file_schema_takes_an_overflow_region_and_checks_its_name():
    board = {k: v for k, v in two_region_board().items() if k != "dir"}   # the file's keys
    validate(board, "two-region board")
    board["placement"]["arena_overflow"] = "dtcm2"
    with pytest.raises(TinyrtError, match="placement.arena_overflow names region 'dtcm2'"):
        validate(board, "two-region board")


def test_an_arena_larger_than_its_region_spills_whole_buffers_to_the_overflow(graph):
    one = codegen.lower(graph, load_board("qemu-m4"))
    assert one.plan.arena_bytes > FAST, "the example needs more than the fast region"
    two = codegen.lower(graph, two_region_board())
    first, second = two.plan.regions
    assert 0 < first <= FAST and second > 0
    for b in two.plan.buffers:   # no buffer straddles the two arrays
        assert b.offset + b.size <= first or b.offset >= first
    assert_valid(two.plan)


def test_the_hottest_buffers_per_byte_stay_in_the_fast_region(graph):
    two = codegen.lower(graph, two_region_board())
    heat = {id(b): regions.heat(two.graph, two.plan.order, b) for b in two.plan.buffers}
    fast = [heat[id(b)] for b in two.plan.buffers if b.offset < two.plan.regions[0]]
    slow = [heat[id(b)] for b in two.plan.buffers if b.offset >= two.plan.regions[0]]
    assert max(fast) >= max(slow)


def test_an_arena_that_fits_its_region_stays_in_one(graph):
    plan = codegen.lower(graph, two_region_board(fast=512 * 1024)).plan
    assert plan.regions == [plan.arena_bytes]
    assert "tinyrt_arena_1" not in codegen.render(codegen.lower(graph, two_region_board(
        fast=512 * 1024)))["model.c"]


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
def test_a_two_region_arena_runs_bit_exact_on_qemu_m4(graph, tmp_path):
    from tinyrt.device import deploy_device
    path = tmp_path / "example.tflite"
    path.write_bytes(write_tflite(graph))
    r = deploy_device(str(path), two_region_board(), runs=2, quiet=True)
    assert r["bit_exact_runs"] == r["runs"] == 2
    assert r["memory"]["arena_bytes"] == codegen.lower(graph, two_region_board()).plan.arena_bytes


def test_the_fit_check_counts_each_region_for_its_part_of_the_arena(graph):
    from tinyrt import board_fit
    lowered = codegen.lower(graph, two_region_board())
    board_fit.check_plan(lowered, 0, "example")   # the fast region alone is too small: no error


def test_an_arena_too_big_for_both_regions_is_refused_with_both_figures(graph):
    board = two_region_board()
    board["memory"]["sram"]["length"] = 12 * 1024
    with pytest.raises(TinyrtError, match="does not fit its two regions"):
        codegen.lower(graph, board)
