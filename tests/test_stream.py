"""Row-streamed stages (tinyrt/stream.py, `--patch`): the first layers run a row at a time with
line buffers; outputs stay byte-equal to tflite-runtime's, the arena shrinks, no MAC is added,
and no two live regions of the arena ever overlap."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import rand_int8
from firmware_project import requires_arm_gcc, requires_qemu
from mobilenet import mobilenet_v2
from test_planner import assert_valid
from tinyrt import stream
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError, UnsupportedOp
from tinyrt.frontend import read_tflite
from tinyrt.ops.geometry import window_axis
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

HOST = {**load_board("host"), "patch": "auto"}
DSP_TWIN = {**HOST, "features": ["dsp"]}
ACLE = ["-DTINYRT_ACLE_PORTABLE"]


def longest_stage(graph, board: dict) -> dict:
    """The board asking for the longest stage the graph allows (auto keeps a small graph
    layer by layer when streaming would not shrink its arena)."""
    stages = codegen.stage.candidates(graph, list(range(len(graph.ops))))
    return {**board, "patch": f"@{stages[-1].last}"}


def assert_streamed_bit_exact(graph, board=HOST, runs=2, flags=()):
    board = longest_stage(graph, board) if board.get("patch") == "auto" else board
    result = verify_host(graph, write_tflite(graph), runs=runs, board=board, extra_cflags=list(flags))
    assert result.lowered.stage is not None, "no stage was streamed"
    bad = [r for r in result.runs if not r.bit_exact]
    assert not bad, f"{len(bad)} runs differ (project in {result.project_dir})"
    assert_valid(result.lowered.plan)
    return result.lowered


def conv_chain(layers, size=(11, 9), channels=3, seed=0):
    """A chain of CONV_2D / DEPTHWISE_CONV_2D layers (type, kernel, stride, dilation, padding,
    out channels), with a residual ADD after every stride-1 same-shape layer marked "res"."""
    rng = np.random.default_rng(seed)
    m = ModelBuilder("chain")
    x = m.input((1, *size, channels), scale=0.05, zero_point=int(rng.integers(-128, 128)))
    shape = (1, *size, channels)
    for kind, k, s, d, pad, out_c, res in layers:
        c = shape[3]
        out_c = c if kind == "dw" else out_c
        w_shape = (1, k, k, c) if kind == "dw" else (out_c, k, k, c)
        ws = 0.02 * 10 ** rng.uniform(-1, 1, out_c)
        w = m.const(rand_int8(rng, w_shape), "int8", scale=ws, axis=3 if kind == "dw" else 0)
        b = m.const(rng.integers(-3000, 3000, out_c), "int32", scale=0.05 * ws)
        oh = window_axis(shape[1], k, s, d, pad).out
        ow = window_axis(shape[2], k, s, d, pad).out
        y = m.tensor((1, oh, ow, out_c), scale=0.1, zero_point=int(rng.integers(-128, 128)))
        op = "DEPTHWISE_CONV_2D" if kind == "dw" else "CONV_2D"
        m.op(op, [x, w, b], [y], padding=pad, stride_h=s, stride_w=s, dilation_h=d,
             dilation_w=d, activation="RELU6" if kind == "dw" else "NONE")
        if res and (oh, ow, out_c) == shape[1:]:
            z = m.tensor((1, oh, ow, out_c), scale=0.15, zero_point=3)
            m.op("ADD", [x, y], [z])
            y = z
        x, shape = y, (1, oh, ow, out_c)
    return m.graph([x])


def test_a_global_average_pool_ends_a_stage_by_summing_rows():
    m = ModelBuilder()
    x = m.input((1, 7, 5, 9), scale=0.05, zero_point=-3)
    w = m.const(rand_int8(np.random.default_rng(1), (6, 3, 3, 9)), "int8", scale=0.01)
    b = m.const(np.arange(6) * 100, "int32", scale=0.0005)
    y = m.tensor((1, 7, 5, 6), scale=0.1, zero_point=4)
    m.op("CONV_2D", [x, w, b], [y], padding="SAME", stride_h=1, stride_w=1, activation="RELU")
    p = m.tensor((1, 1, 1, 6), scale=0.1, zero_point=4)
    m.op("AVERAGE_POOL_2D", [y], [p], padding="VALID", filter_h=7, filter_w=5, stride_h=1,
         stride_w=1, activation="NONE")
    lowered = assert_streamed_bit_exact(m.graph([p]), runs=3)
    assert lowered.stage.stage.ops == [0, 1]
    assert lowered.stage.stage.lines == {y: 1}     # the pool keeps sums, not rows


@pytest.mark.parametrize("layers", [
    [("conv", 3, 2, 1, "SAME", 8, 0), ("dw", 3, 1, 1, "SAME", 0, 1), ("conv", 1, 1, 1, "SAME", 8, 1)],
    [("conv", 5, 1, 1, "VALID", 6, 0), ("dw", 7, 2, 1, "SAME", 0, 0), ("conv", 3, 1, 2, "SAME", 5, 0)],
    [("dw", 5, 1, 1, "SAME", 0, 1), ("dw", 3, 2, 1, "VALID", 0, 0), ("conv", 1, 1, 1, "VALID", 4, 0)],
    # a 1x1 stride-2 reader never reads the odd rows: they are not computed at all
    [("conv", 3, 1, 1, "SAME", 6, 0), ("conv", 1, 2, 1, "SAME", 4, 0), ("dw", 3, 1, 1, "SAME", 0, 0)],
])
def test_chains_stream_bit_exact_at_every_border(layers):
    graph = conv_chain(layers)
    assert_streamed_bit_exact(graph)
    assert_streamed_bit_exact(graph, DSP_TWIN, flags=ACLE)
    auto = codegen.lower(graph, HOST).plan.arena_bytes     # auto never makes the arena larger
    assert auto <= codegen.lower(graph, load_board("host")).plan.arena_bytes


@settings(max_examples=6, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["conv", "dw"]), st.sampled_from([1, 3, 5]),
                          st.sampled_from([1, 2]), st.sampled_from([1, 2]),
                          st.sampled_from(["SAME", "VALID"]), st.integers(1, 6), st.booleans()),
                min_size=1, max_size=4), st.integers(0, 1000))
def test_random_chains_stream_bit_exact(layers, seed):
    layers = [(k, n, s, d if s == 1 else 1, p, c, r) for k, n, s, d, p, c, r in layers]
    try:
        graph = conv_chain(layers, size=(13, 7), seed=seed)
    except UnsupportedOp:
        return   # a VALID window larger than what is left of the image
    if codegen.stage.candidates(graph, list(range(len(graph.ops)))):
        assert_streamed_bit_exact(graph)


def test_the_mobilenet_v2_style_model_streams_bit_exact_with_every_kernel_variant():
    graph = mobilenet_v2(resolution=40)
    assert_streamed_bit_exact(graph)
    assert_streamed_bit_exact(graph, DSP_TWIN, flags=ACLE)
    auto = codegen.lower(graph, HOST).plan.arena_bytes
    assert auto < codegen.lower(graph, load_board("host")).plan.arena_bytes


def test_streaming_adds_no_macs_and_keeps_the_kernel_table_choices():
    graph = conv_chain([("conv", 3, 1, 1, "SAME", 8, 0), ("dw", 3, 1, 1, "SAME", 0, 0)])
    streamed = codegen.lower(graph, load_board("qemu-m4"), patch="@1")
    full = codegen.lower(graph, load_board("qemu-m4"))
    assert [layer.macs for layer in streamed.layers] == [layer.macs for layer in full.layers]
    assert [layer.variant for layer in streamed.layers] == [layer.variant for layer in full.layers]
    runs = [s for s in streamed.stage.steps if s[0] == "call"]
    assert len(runs) == sum(graph.t(op.outputs[0]).shape[1] for op in graph.ops)


def test_patch_off_plans_layer_by_layer_and_at_n_ends_the_stage_there():
    graph = conv_chain([("conv", 3, 1, 1, "SAME", 8, 0), ("dw", 3, 1, 1, "SAME", 0, 0),
                        ("conv", 1, 1, 1, "SAME", 4, 0)])
    assert codegen.lower(graph, load_board("host")).stage is None
    assert codegen.lower(graph, load_board("host"), patch="@1").stage.stage.ops == [0, 1]


def test_a_side_branch_the_last_op_does_not_need_ends_no_stage():
    m = ModelBuilder()
    x = m.input((1, 6, 6, 4), scale=0.05)
    y = m.tensor((1, 6, 6, 4), scale=0.05)
    m.op("RELU", [x], [y])
    z = m.tensor((1, 6, 6, 4), scale=0.05)
    m.op("RELU6", [x], [z])
    graph = m.graph([y, z])
    assert [stage.ops for stage in codegen.stage.candidates(graph, [0, 1])] == [[0]]
    with pytest.raises(ValueError):
        stream.simulate(graph, [0, 1])


@pytest.mark.parametrize("name", ["kws_int8", "vww_int8", "ic_resnet8_int8"])
def test_shared_models_stream_bit_exact_in_a_fraction_of_the_arena(shared_models, name):
    graph = read_tflite(shared_models / f"{name}.tflite")
    result = verify_host(graph, str(shared_models / f"{name}.tflite"), runs=2, board=DSP_TWIN,
                         extra_cflags=ACLE)
    assert all(r.bit_exact for r in result.runs), result.project_dir
    layerwise = codegen.lower(graph, {**DSP_TWIN, "patch": "off"}).plan.arena_bytes
    assert result.lowered.plan.arena_bytes < 0.7 * layerwise


def test_plan_prints_the_streamed_stage(shared_models):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "plan", str(shared_models / "kws_int8.tflite"),
                           "--patch", "auto", "--json", "-"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["stages"][0]["mac_overhead"] == 0.0 and report["stages"][0]["ops"][0] == 0
    assert "streamed row by row" in proc.stderr
    bad = subprocess.run([sys.executable, "-m", "tinyrt", "plan", str(shared_models / "kws_int8.tflite"),
                          "--patch", "sideways"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "auto, off or @N" in bad.stderr


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
@pytest.mark.parametrize("name", ["kws_int8", "vww_int8", "ic_resnet8_int8"])
def test_streamed_shared_models_are_bit_exact_on_device(shared_models, board, name):
    from tinyrt.device import deploy_device
    r = deploy_device(str(shared_models / f"{name}.tflite"), {**load_board(board), "patch": "auto"},
                      runs=2, quiet=True)
    assert r["bit_exact_runs"] == r["runs"] == 2
    assert r["memory"]["arena_bytes"] == r["sections"]["arena"]   # the plan is what the ELF holds


def test_plan_plots_live_memory_with_and_without_streaming(shared_models, tmp_path):
    png = tmp_path / "kws.png"
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "plan", str(shared_models / "kws_int8.tflite"),
                           "--patch", "auto", "--plot", str(png)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def small_sram(board_id: str, sram: int) -> dict:
    board = load_board(board_id)
    region = board["placement"]["arena"]
    return {**board, "memory": {**board["memory"], region: {**board["memory"][region],
                                                             "length": sram}}}


def test_a_model_too_big_layer_by_layer_is_streamed_to_fit_the_board(shared_models, tmp_path, capsys):
    from tinyrt.device import deploy_device
    board = small_sram("qemu-m4", 16384 + 40 * 1024)   # stack + 40 KiB: vww needs 64 KB layer-wise
    # no input copy: its 27,648 B of static RAM would not fit either (the dry run checks)
    deploy_device(str(shared_models / "vww_int8.tflite"), board, dry_run=True,
                  work_dir=str(tmp_path), input_copy="off")
    out = capsys.readouterr()
    assert "streamed row by row (--patch auto)" in out.out + out.err
    assert "_rows(" in (tmp_path / "model.c").read_text()     # the row steps were generated


def test_a_model_that_fits_no_plan_names_the_best_peak_and_the_budget(shared_models, tmp_path):
    from tinyrt.device import deploy_device
    board = small_sram("qemu-m4", 16384 + 8 * 1024)
    with pytest.raises(TinyrtError) as e:
        deploy_device(str(shared_models / "vww_int8.tflite"), board, dry_run=True,
                      work_dir=str(tmp_path))
    message = str(e.value.message)
    assert "does not fit board qemu-m4" in message and "is 24,576 B" in message
    assert "streamed row by row" in message and "biggest activations" in message
    assert "too many" in message


def test_the_input_can_be_read_row_by_row_instead_of_held_whole(shared_models, tmp_path):
    graph = read_tflite(shared_models / "vww_int8.tflite")
    board = {**DSP_TWIN, "patch": "off", "stream_input": True}
    result = verify_host(graph, str(shared_models / "vww_int8.tflite"), runs=2, board=board,
                         extra_cflags=ACLE, work_dir=str(tmp_path))
    assert all(r.bit_exact for r in result.runs), result.project_dir
    held = codegen.lower(graph, {**DSP_TWIN, "patch": "auto"}).plan.arena_bytes
    assert result.lowered.plan.arena_bytes < held - graph.t(graph.inputs[0]).nbytes / 2
    from pathlib import Path
    project = Path(result.project_dir)
    assert "#define TINYRT_INPUT_STREAMED 1" in (project / "model.h").read_text()
    assert "tinyrt_read_input(0, 0u," in (project / "model.c").read_text()


def test_a_streamed_input_chain_with_a_stride_two_reader_is_exact():
    graph = conv_chain([("conv", 1, 2, 1, "SAME", 6, 0), ("dw", 3, 1, 1, "SAME", 0, 1)])
    assert_streamed_bit_exact(graph, {**HOST, "stream_input": True, "patch": "@1"}, runs=3)


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
def test_a_streamed_input_runs_bit_exact_on_device(shared_models):
    from tinyrt.device import deploy_device
    r = deploy_device(str(shared_models / "kws_int8.tflite"),
                      {**load_board("qemu-m4"), "stream_input": True}, runs=2, quiet=True)
    assert r["bit_exact_runs"] == r["runs"] == 2
    assert r["memory"]["arena_bytes"] < 7000


def test_plan_with_an_sram_budget_streams_only_when_layer_by_layer_does_not_fit(shared_models):
    model = str(shared_models / "vww_int8.tflite")
    stack = load_board("qemu-m4")["stack_bytes"]

    def plan(budget):
        return subprocess.run([sys.executable, "-m", "tinyrt", "plan", model, "--sram-budget",
                               str(budget), "--json", "-"], capture_output=True, text=True,
                              timeout=120)
    roomy, tight, tiny = plan(stack + 60_000), plan(stack + 40_000), plan(stack + 20_000)
    assert json.loads(roomy.stdout)["stages"] == []
    assert json.loads(tight.stdout)["stages"][0]["ops"][0] == 0
    assert tiny.returncode == 1 and "--sram-budget" in tiny.stderr and "--stream-input" in tiny.stderr


# --- column strips (tinyrt/tiles.py) -------------------------------------------------------------

def tiled_board(board: dict) -> dict:
    return {**board, "stream_input": True, "max_overhead": 1.0}


@pytest.mark.parametrize("resolution", [40, 48])
def test_column_strips_recompute_their_edges_and_stay_bit_exact(resolution):
    graph = mobilenet_v2(resolution=resolution, float_input=False)
    for board, flags in ((HOST, []), (DSP_TWIN, ACLE)):
        result = verify_host(graph, write_tflite(graph), runs=2, board=tiled_board(board),
                             extra_cflags=flags)
        assert all(r.bit_exact for r in result.runs), result.project_dir
        assert any(len(code.stage.cols) > 1 for code in result.lowered.stages)


def test_strips_shrink_the_line_buffers_at_a_reported_mac_cost():
    graph = mobilenet_v2(resolution=64, float_input=False)
    ops = list(range(6))
    whole = stream.simulate(graph, ops, tuple(graph.inputs))
    strips = stream.simulate(graph, ops, tuple(graph.inputs), 2)
    lines = lambda st: sum(st.line_bytes(graph, t) for t in st.lines)
    assert lines(strips) < 0.7 * lines(whole)
    from tinyrt.ops import op_module
    from tinyrt import tiles
    macs = {i: op_module(graph.ops[i].type).macs(graph, graph.ops[i]) for i in ops}
    assert 0 < tiles.mac_overhead(graph, ops, strips.cols, macs) < 0.5


def test_a_stage_whose_input_is_whole_in_the_arena_is_not_split_in_strips():
    graph = mobilenet_v2(resolution=40, float_input=False)
    with pytest.raises(ValueError, match="read row by row"):
        stream.simulate(graph, list(range(6)), (), 2)


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_column_strips_are_bit_exact_on_device(board, tmp_path):
    from tinyrt.device import deploy_device
    graph = mobilenet_v2(resolution=48, float_input=False)
    path = tmp_path / "mbv2.tflite"
    path.write_bytes(write_tflite(graph))
    r = deploy_device(str(path), tiled_board(load_board(board)), runs=2, quiet=True)
    assert r["bit_exact_runs"] == r["runs"] == 2
