"""Fitting a model to the board's SRAM (tinyrt/fit.py) counts everything the firmware will hold
beside the arena: the stack and, when the deploy keeps one (`--input-copy`), the copy of the
input, so a plan chosen as fitting also links."""
from __future__ import annotations

import pytest

import codegen
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.fit import fit_to_board
from tinyrt.frontend import read_tflite


@pytest.fixture
def kws(shared_models):
    return read_tflite(shared_models / "kws_int8.tflite")


def just_enough(graph, board):
    """A budget that holds kws's layer-by-layer arena and stack with 100 bytes to spare."""
    lowered = codegen.lower(graph, board)
    assert not lowered.plan.inputs_preserved(graph.inputs), "kws's plan reuses its input bytes"
    return lowered.plan.arena_bytes + board["stack_bytes"] + 100


def test_without_the_input_copy_the_layer_by_layer_plan_fits(kws):
    board = load_board("qemu-m4")
    lowered = fit_to_board(kws, {**board, "sram_budget": just_enough(kws, board)}, quiet=True,
                           input_copy="off")
    assert not lowered.stages


def test_the_input_copy_counts_so_the_first_layers_are_streamed_to_make_room(kws):
    board = load_board("qemu-m4")
    lowered = fit_to_board(kws, {**board, "sram_budget": just_enough(kws, board)}, quiet=True,
                           input_copy="auto")
    assert lowered.stages, "490 B of input copy do not fit in 100 B to spare"


def test_a_budget_nothing_fits_names_the_input_copy_and_how_to_drop_it(kws):
    board = {**load_board("qemu-m4"), "sram_budget": 4000}
    with pytest.raises(TinyrtError, match="input copy 490, --input-copy off drops it"):
        fit_to_board(kws, board, quiet=True, input_copy="on")
