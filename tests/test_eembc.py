"""`--protocol eembc`: the firmware speaks the MLPerf Tiny benchmark runner's DUT protocol
(mlcommons/tiny benchmark/api, benchmark/runner) and computes what tflite-runtime computes.

The command parser is tested on the host build (firmware/eembc.c with board_host.c on a pty);
the whole runner flow (load, infer, results bit-exact) on the host and on qemu-m4 over its socket,
with the runner-like client of tinyrt/eembc.py."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from firmware_project import requires_arm_gcc, requires_qemu, small_model
from tinyrt import eembc, reference
from tinyrt.boards import load_board
from tinyrt.cli import main
from tinyrt.errors import TinyrtError
from tinyrt.examples import write_example
from tinyrt.pipeline import DeployOptions, prepare

QEMU = pytest.param("qemu-m4", marks=[requires_arm_gcc, requires_qemu, pytest.mark.qemu])


def start(model, board="host", **options):
    opts = DeployOptions(quiet=True, **options)
    prepared = prepare(model, load_board(board), opts)
    return eembc.session(prepared, eembc.options_for(prepared, opts)), prepared


@pytest.fixture(scope="module")
def dut():
    """The small FC model's EEMBC firmware on the host, and its graph."""
    ctx, prepared = start(small_model())
    with ctx as (runner, _, _):
        yield runner, prepared.lowered.graph


def ask(runner, command: str) -> list[str]:
    lines = runner.command(command)
    assert lines[-1] == "m-ready"
    return lines[:-1]


def test_name_and_profile_answer_the_runners_patterns(dut):
    runner, graph = dut
    assert ask(runner, "name") == ["m-name-dut-[tinyrt]"]
    lines = ask(runner, "profile")
    assert lines[:2] == ["m-profile-[ULPMark for tinyML Firmware V0.0.1]", "m-model-[case]"]
    assert runner.profile()["unit"] == "ns" and runner.profile()["input_bytes"] == "64"


def test_db_load_hex_and_print_as_the_reference(dut):
    runner, _ = dut
    assert ask(runner, "db load 10") == ["m-[Expecting 10 bytes]"]
    assert ask(runner, "db 00010203") == []
    assert ask(runner, "db 0405060708090a0b0c") == ["m-load-done"]   # the rest is disregarded
    assert ask(runner, "db print") == ["m-buffer-00-01-02-03-04-05-06-07", "m-buffer-08-09"]


def test_infer_prints_laps_and_results_bit_exact(dut):
    runner, graph = dut
    x = reference.random_inputs(graph, np.random.default_rng(3))
    runner.load(eembc.encode_input(x))
    lines = ask(runner, "infer 3 2")
    assert lines[:3] == ["m-warmup-start-2", "m-warmup-done", "m-infer-start-3"]
    assert [re.match(r"^m-lap-us-[0-9]+$", line) is not None for line in lines[3:5]] == [True, True]
    assert lines[5] == "m-infer-done" and lines[6].startswith("m-tinyrt-infer-[runs=3,count=")
    inf = eembc.parse_infer(lines)
    got = eembc.decode_results(inf.results, graph)
    want = reference.Reference(_model_bytes(graph)).run(x)
    assert [g.tobytes() for g in got] == [w.tobytes() for w in want]
    assert ask(runner, "results") == [lines[-1]]   # results% prints the last inference's again


def _model_bytes(graph) -> bytes:
    from tinyrt.writer import write_tflite
    return write_tflite(graph)


@pytest.mark.parametrize("command,answer", [
    ("bogus", "e-[Unknown command: bogus]"),
    ("db", "e-[Command 'db' requires a subcommand]"),
    ("db load", "e-[Command 'db load' requires the # of bytes]"),
    ("db load 0", "e-[Command 'db load' must be >0 bytes]"),
    ("db load 65", "e-[Supplied buffer size 65 exceeds maximum of 64]"),
    ("infer 0", "e-[Inference iterations must be >0]"),
    ("infer x", "e-[Inference iterations must be >0]"),
    ("infer 1 -1", "e-[Inference warmup must be >=0]"),
    ("x" * 81, "e-[Command longer than 80 characters]"),
])
def test_malformed_commands_get_the_runners_errors_then_m_ready(dut, command, answer):
    runner, _ = dut
    assert ask(runner, command) == [answer]


def test_hex_errors_and_bytes_without_a_load(dut):
    runner, _ = dut
    assert ask(runner, "db load 2") == ["m-[Expecting 2 bytes]"]
    assert ask(runner, "db 012") == ["e-[Insufficent number of hex digits]"]
    assert ask(runner, "db 0g") == ["e-[Invalid hex digit '0g']"]
    assert ask(runner, "db 0102") == ["m-load-done"]
    assert ask(runner, "db 03") == ["e-[No bytes expected: send 'db load N' first]"]


def test_an_incomplete_input_is_refused_not_inferred(dut):
    runner, _ = dut
    ask(runner, "db load 64")
    ask(runner, "db 0102")
    assert ask(runner, "infer 1 0") == ["e-[Input db has 2 bytes, expected 64]"]


def test_an_empty_command_and_line_ends_are_ignored(dut):
    runner, _ = dut
    assert ask(runner, "") == []
    assert ask(runner, "\r\nname") == ["m-name-dut-[tinyrt]"]


def test_results_before_any_inference_is_an_error():
    ctx, _ = start(small_model())
    with ctx as (runner, _, _):
        assert ask(runner, "results") == ["e-[No results: run 'infer' first]"]


def test_the_runners_uint8_images_are_shifted_to_the_int8_input():
    """vww01/ic01 datasets are uint8 images; the reference firmware subtracts 128."""
    graph = small_model()
    graph.name = "vww_tiny"
    ctx, prepared = start(graph)
    with ctx as (runner, _, _):
        prof = runner.profile()
        assert (prof["model"], prof["input_offset"]) == ("vww01", "128")
        x = reference.random_inputs(graph, np.random.default_rng(5))
        runner.load(eembc.encode_input(x, 128))
        got = eembc.decode_results(runner.infer(1, 0).results, prepared.lowered.graph)
        want = reference.Reference(_model_bytes(prepared.lowered.graph)).run(x)
        assert [g.tobytes() for g in got] == [w.tobytes() for w in want]


def test_results_that_are_not_dequantized_outputs_are_refused():
    graph = small_model()
    scale = float(graph.t(graph.outputs[0]).quant.scale[0])
    with pytest.raises(TinyrtError, match="not int8 values"):
        eembc.decode_results([scale * 0.5] * 10, graph)
    with pytest.raises(TinyrtError, match="m-results has 9 values"):
        eembc.decode_results([0.0] * 9, graph)


def test_model_versions_are_the_runners_names():
    assert [eembc.model_version(n) for n in ("kws_int8", "vww_int8", "ic_resnet8", "ad01_int8",
                                             "icecream")] == ["kws01", "vww01", "ic01", "ad01", "icecream"]


@pytest.mark.parametrize("board", ["host", QEMU])
def test_deploy_drives_the_runner_steps_bit_exact(board, tmp_path):
    """The example DS-CNN reuses its input's bytes: every repeated run gets its input again."""
    path = write_example(tmp_path)
    lowered = prepare(path, load_board(board), DeployOptions(quiet=True)).lowered
    assert not lowered.plan.inputs_preserved(lowered.graph.inputs)
    report = eembc.deploy(path, load_board(board), DeployOptions(runs=3, quiet=True), infer=(4, 1))
    assert (report["runs"], report["bit_exact_runs"]) == (3, 3)
    e = report["eembc"]
    assert e["results_after_repeats_equal"] and e["inferences"] == 4 and e["count"] > 0
    if board != "host":   # -icount shift=0: a microsecond is 1000 emulated instructions
        assert e["unit"] == "emulated_instructions"
        assert abs(e["elapsed_us"] - e["count"] / 1000) <= 1 + e["count"] / 1000 * 0.01


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
def test_kws_int8_on_qemu_m4_is_bit_exact(shared_models):
    path = shared_models / "kws_int8.tflite"
    report = eembc.deploy(path, load_board("qemu-m4"), DeployOptions(runs=2, quiet=True), infer=(2, 1))
    assert (report["runs"], report["bit_exact_runs"]) == (2, 2)
    assert report["eembc"]["model"] == "kws01" and report["eembc"]["results_after_repeats_equal"]


def test_cli_deploy_protocol_eembc_on_the_host(tmp_path, capsys):
    assert main(["deploy", "--board", "host", "--protocol", "eembc", "--runs", "2", "-q",
                 "--json", "-", str(write_example(tmp_path))]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["protocol"] == "eembc" and report["bit_exact_runs"] == 2


def test_cli_refuses_profile_with_the_eembc_protocol(tmp_path, capsys):
    assert main(["deploy", "--board", "host", "--protocol", "eembc", "--profile",
                 str(write_example(tmp_path))]) == 1
    assert "--profile needs tinyrt's protocol" in capsys.readouterr().err


@requires_arm_gcc
def test_build_and_dry_run_compile_the_eembc_sources(tmp_path, capsys):
    model = str(write_example(tmp_path))
    assert main(["deploy", model, "--board", "qemu-m4", "--protocol", "eembc", "--dry-run",
                 "--work-dir", str(tmp_path / "dry")]) == 0
    out = capsys.readouterr().out
    assert "eembc.c" in out and "eembc_model.c" in out and "protocol.c" not in out
    assert main(["build", model, "--board", "qemu-m4", "--protocol", "eembc", "-o",
                 str(tmp_path / "b"), "-q"]) == 0
    assert "protocol: eembc" in capsys.readouterr().out


# --- on a real board: TINYRT_HARDWARE=1 TINYRT_BOARD=<id> TINYRT_PORT=<its serial port> --------

HARDWARE_BOARD = os.environ.get("TINYRT_BOARD", "nucleo-l4r5zi")
requires_board = pytest.mark.skipif(
    os.environ.get("TINYRT_HARDWARE") != "1" or "TINYRT_PORT" not in os.environ,
    reason="needs a real board: TINYRT_HARDWARE=1 TINYRT_BOARD=<id> TINYRT_PORT=<serial port>")


@pytest.mark.hardware
@requires_board
def test_a_real_board_answers_the_runner_in_cycles(tmp_path):
    model = str(write_example(tmp_path))
    out = tmp_path / "build"
    assert main(["build", model, "--board", HARDWARE_BOARD, "--protocol", "eembc", "-o", str(out), "-q"]) == 0
    assert main(["flash", str(out), "--board", HARDWARE_BOARD]) == 0
    options = DeployOptions(runs=3, quiet=True, port=os.environ["TINYRT_PORT"])
    report = eembc.deploy(model, load_board(HARDWARE_BOARD), options, infer=(10, 1))
    assert report["bit_exact_runs"] == 3 and report["eembc"]["unit"] == "cycles"
    clock_mhz = load_board(HARDWARE_BOARD)["clock_hz"] / 1e6
    e = report["eembc"]
    assert abs(e["elapsed_us"] - e["count"] / clock_mhz) <= 50 + 0.01 * e["elapsed_us"]
