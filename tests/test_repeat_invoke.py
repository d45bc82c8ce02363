"""Repeated runs are right by default: on a model whose plan gives the input's arena bytes to a
later tensor, every run of an INVOKE n>1, and every invoke of `tinyrt monitor`, computes on the
input that was set, on the host and on an emulated board; `--input-copy off` keeps the input in
the arena (what the memory benchmark measures) and the firmware then says a second run is not
exact instead of answering with a clobbered output."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from firmware_project import requires_arm_gcc, requires_qemu
from tinyrt import reference
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.examples import write_example
from tinyrt.pipeline import DeployOptions, prepare, session

BOARDS = ["host", pytest.param("qemu-m4", marks=[requires_arm_gcc, requires_qemu, pytest.mark.qemu])]


@pytest.fixture
def model(tmp_path):
    """The example DS-CNN: its first layer's output takes the input's bytes once it is dead."""
    path = write_example(tmp_path)
    lowered = prepare(path, load_board("host"), DeployOptions(quiet=True)).lowered
    assert not lowered.plan.inputs_preserved(lowered.graph.inputs)
    return path


def one_input(path):
    """A seeded input and tflite-runtime's output for it, as packed bytes."""
    from tinyrt.frontend import read_tflite
    x = reference.random_inputs(read_tflite(path), np.random.default_rng(7))
    want = reference.Reference(str(path)).run(x)
    return b"".join(a.tobytes() for a in x), b"".join(a.tobytes() for a in want)


@pytest.mark.parametrize("board", BOARDS)
def test_every_run_of_an_invoke_computes_on_the_input_that_was_set(model, board):
    data, want = one_input(model)
    with session(model, load_board(board), DeployOptions(quiet=True)) as s:
        dev = s.device
        assert dev.info().input_copy and dev.info().repeat_exact
        dev.set_input(data)
        for _ in range(3):   # one input set, three INVOKEs: each output is tflite-runtime's
            dev.invoke(1)
            assert dev.get_output() == want
        counts = dev.invoke(3)   # one INVOKE, three runs: the last run's output is right
        assert len(counts) == 3 and dev.get_output() == want


@pytest.mark.parametrize("board", BOARDS)
def test_input_copy_off_refuses_the_output_of_a_clobbered_input(model, board):
    data, want = one_input(model)
    with session(model, load_board(board), DeployOptions(quiet=True, input_copy="off")) as s:
        dev = s.device
        assert not dev.info().input_copy and not dev.info().repeat_exact
        dev.set_input(data)
        dev.invoke(1)
        assert dev.get_output() == want
        dev.invoke(2)   # the second run computed on the clobbered input: no output to read
        with pytest.raises(TinyrtError, match="NOT_READY|not ready"):
            dev.get_output()


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
def test_the_input_copy_is_counted_as_static_ram_and_off_removes_it(model):
    from tinyrt.pipeline import deploy
    board = load_board("qemu-m4")
    auto = deploy(model, board, DeployOptions(runs=1, quiet=True))
    off = deploy(model, board, DeployOptions(runs=1, quiet=True, input_copy="off"))
    assert auto["bit_exact_runs"] == off["bit_exact_runs"] == 1
    copy = auto["memory"]["input_copy_bytes"]
    assert copy == 490 and off["memory"]["input_copy_bytes"] == 0   # the 49x10 int8 input
    extra = auto["memory"]["static_ram_bytes"] - off["memory"]["static_ram_bytes"]
    assert abs(extra - copy) < 16   # in the ELF's bss, up to the padding around it
    assert auto["memory"]["peak_sram_bytes"] - off["memory"]["peak_sram_bytes"] > copy - 16


def monitor(*args):
    return subprocess.run([sys.executable, "-m", "tinyrt", "monitor", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("copy", ["auto", "off"])
def test_monitor_shows_every_invoke_equal_to_tflite_runtime(model, board, copy):
    proc = monitor(model, "--board", board, "--count", 3, "--interval", 0, "--input-copy", copy)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("invoke")]
    assert len(lines) == 3 and all(line.endswith("= tflite-runtime") for line in lines)
    assert len({re.search(r"crc32 (\w+)", line).group(1) for line in lines}) == 1
    # with the firmware's copy nothing is sent again; without it monitor sends the input itself
    assert ("sent again before every invoke" in proc.stdout) == (copy == "off")


@requires_arm_gcc
def test_build_keeps_the_input_copy_by_default_and_drops_it_when_asked(model, tmp_path):
    sizes = {}
    for copy in ("auto", "off"):
        proc = subprocess.run([sys.executable, "-m", "tinyrt", "build", model, "--board", "qemu-m4",
                               "-o", tmp_path / copy, "--input-copy", copy, "-q", "--json", "-"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        sizes[copy] = json.loads(proc.stdout)
    assert sizes["auto"]["input_copy_bytes"] == 490 and sizes["off"]["input_copy_bytes"] == 0
    assert abs(sizes["auto"]["sizes"]["bss"] - sizes["off"]["sizes"]["bss"] - 490) < 16
