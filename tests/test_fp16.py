"""FP16 models (docs/fp16.md): `tinyrt quantize --dtype fp16` writes TFLite's float16 format
(float16 constants behind DEQUANTIZE ops), tinyrt keeps those weights as fp16 in flash and
computes in FP32; outputs match tflite-runtime on the FP16 model within TOLERANCE."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import codegen
from builder import ModelBuilder
from tinyrt import host, reference
from tinyrt.boards import load_board
from tinyrt.frontend import parse_tflite, read_tflite
from tinyrt.passes import fold_fp16_dequantize
from tinyrt.quantize.fp16 import quantize_fp16
from tinyrt.quantize.prepare import prepare_float
from tinyrt.writer import write_tflite

SHARED_FLOAT_MODELS = ["kws", "vww", "ic_resnet8", "ad01"]


def tolerance(ref: np.ndarray) -> float:
    """max |tinyrt - tflite-runtime| allowed: the kernels sum in TFLite's order, so only libm
    (expf in SOFTMAX) and a compiler's contraction into FMA may differ, by a few float32 ulps of
    the largest output."""
    return 1e-4 * float(np.abs(ref).max(initial=0.0)) + 1e-5


def run_host(graph, runs: int = 3, seed: int = 0, extra_cflags=()):
    """(lowered, [(reference outputs, tinyrt outputs)]) for the graph built on the host."""
    board = load_board("host")
    ref = reference.Reference(write_tflite(graph))
    lowered = codegen.lower(graph, board)
    rng = np.random.default_rng(seed)
    inputs = [reference.random_inputs(graph, rng) for _ in range(runs)]
    specs = [(tuple(d["shape"]), d["dtype"]) for d in ref.outputs]
    with tempfile.TemporaryDirectory(prefix="tinyrt-fp16-") as work:
        host.write_project(codegen.render(lowered), Path(work))
        got = host.run(host.build(Path(work), board, extra_cflags=list(extra_cflags)), inputs, specs)
    return lowered, [(r, g) for x, outs in zip(inputs, got) for r, g in zip(ref.run(x), outs)]


def assert_close_fp16(float_graph, runs: int = 3, extra_cflags=()):
    """FP16-quantise, run tflite-runtime and tinyrt's host build; every output within tolerance."""
    lowered, pairs = run_host(quantize_fp16(float_graph), runs, extra_cflags=extra_cflags)
    for ref, got in pairs:
        assert ref.dtype == got.dtype == np.float32
        diff = float(np.abs(ref.astype(np.float64) - got).max())
        assert diff <= tolerance(ref), f"max abs diff {diff:g} > {tolerance(ref):g}"
    return lowered


def rand(rng, *shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# --- small models, one op each -------------------------------------------------------------------

@pytest.mark.parametrize("stride,padding,activation,groups", [
    (1, "SAME", "NONE", 1), (2, "SAME", "RELU", 1), (2, "VALID", "RELU6", 1),
    (1, "SAME", "NONE", 2)])
def test_conv2d(stride, padding, activation, groups):
    rng = np.random.default_rng(1)
    m = ModelBuilder()
    x = m.input((1, 7, 6, 4), "float32")
    w = m.const(rand(rng, 6, 3, 3, 4 // groups), "float32")
    b = m.const(rand(rng, 6), "float32")
    out = 7 // stride + (7 % stride > 0) if padding == "SAME" else (7 - 3) // stride + 1
    out_w = 6 // stride + (6 % stride > 0) if padding == "SAME" else (6 - 3) // stride + 1
    y = m.tensor((1, out, out_w, 6), "float32")
    m.op("CONV_2D", [x, w, b], [y], padding=padding, stride_h=stride, stride_w=stride,
         dilation_h=1, dilation_w=1, activation=activation)
    assert_close_fp16(m.graph([y]))


def test_conv2d_1x1_stride_2():
    rng = np.random.default_rng(2)
    m = ModelBuilder()
    x = m.input((1, 5, 5, 8), "float32")
    w = m.const(rand(rng, 3, 1, 1, 8), "float32")
    b = m.const(rand(rng, 3), "float32")
    y = m.tensor((1, 3, 3, 3), "float32")
    m.op("CONV_2D", [x, w, b], [y], padding="SAME", stride_h=2, stride_w=2, dilation_h=1,
         dilation_w=1, activation="NONE")
    assert_close_fp16(m.graph([y]))


def test_fully_connected_without_bias():
    rng = np.random.default_rng(7)
    m = ModelBuilder()
    x = m.input((1, 12), "float32")
    w = m.const(rand(rng, 5, 12), "float32")
    y = m.tensor((1, 5), "float32")
    m.op("FULLY_CONNECTED", [x, w, -1], [y], activation="NONE")
    assert_close_fp16(m.graph([y]))


@pytest.mark.parametrize("mult,stride,activation",
                         [(1, 1, "RELU"), (2, 2, "NONE"), (1, 2, "RELU6")])
def test_depthwise_conv2d(mult, stride, activation):
    rng = np.random.default_rng(3)
    m = ModelBuilder()
    x = m.input((1, 9, 8, 3), "float32")
    w = m.const(rand(rng, 1, 3, 3, 3 * mult), "float32")
    b = m.const(rand(rng, 3 * mult), "float32")
    y = m.tensor((1, -(-9 // stride), -(-8 // stride), 3 * mult), "float32")
    m.op("DEPTHWISE_CONV_2D", [x, w, b], [y], padding="SAME", stride_h=stride, stride_w=stride,
         dilation_h=1, dilation_w=1, depth_multiplier=mult, activation=activation)
    assert_close_fp16(m.graph([y]))


@pytest.mark.parametrize("activation", ["NONE", "RELU"])
def test_fully_connected(activation):
    rng = np.random.default_rng(4)
    m = ModelBuilder()
    x = m.input((2, 33), "float32")
    w = m.const(rand(rng, 10, 33), "float32")
    b = m.const(rand(rng, 10), "float32")
    y = m.tensor((2, 10), "float32")
    m.op("FULLY_CONNECTED", [x, w, b], [y], activation=activation)
    assert_close_fp16(m.graph([y]))


@pytest.mark.parametrize("op_type,padding", [("AVERAGE_POOL_2D", "VALID"),
                                             ("AVERAGE_POOL_2D", "SAME"), ("MAX_POOL_2D", "SAME")])
def test_pool2d(op_type, padding):
    m = ModelBuilder()
    x = m.input((1, 7, 5, 3), "float32")
    shape = (1, 3, 2, 3) if padding == "VALID" else (1, 4, 3, 3)
    y = m.tensor(shape, "float32")
    m.op(op_type, [x], [y], padding=padding, filter_h=3, filter_w=3, stride_h=2, stride_w=2,
         activation="NONE")
    assert_close_fp16(m.graph([y]))


def test_add_of_activations_and_broadcast_fp16_constant():
    rng = np.random.default_rng(5)
    m = ModelBuilder()
    x = m.input((1, 4, 4, 8), "float32")
    z = m.input((1, 4, 4, 8), "float32")
    s = m.tensor((1, 4, 4, 8), "float32")
    m.op("ADD", [x, z], [s], activation="RELU")
    c = m.const(rand(rng, 8), "float32")
    y = m.tensor((1, 4, 4, 8), "float32")
    m.op("ADD", [s, c], [y], activation="NONE")
    assert_close_fp16(m.graph([y]))


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_softmax(beta):
    m = ModelBuilder()
    x = m.input((3, 10), "float32")
    y = m.tensor((3, 10), "float32")
    m.op("SOFTMAX", [x], [y], beta=beta)
    assert_close_fp16(m.graph([y]))


def test_float_kernels_are_clean_under_asan_and_ubsan():
    rng = np.random.default_rng(8)
    m = ModelBuilder()
    x = m.input((1, 6, 5, 4), "float32")
    w1 = m.const(rand(rng, 1, 3, 3, 4), "float32")
    b1 = m.const(rand(rng, 4), "float32")
    t1 = m.tensor((1, 6, 5, 4), "float32")
    m.op("DEPTHWISE_CONV_2D", [x, w1, b1], [t1], padding="SAME", stride_h=1, stride_w=1,
         dilation_h=1, dilation_w=1, depth_multiplier=1, activation="RELU")
    w2 = m.const(rand(rng, 5, 3, 3, 4), "float32")
    b2 = m.const(rand(rng, 5), "float32")
    t2 = m.tensor((1, 3, 3, 5), "float32")
    m.op("CONV_2D", [t1, w2, b2], [t2], padding="SAME", stride_h=2, stride_w=2, dilation_h=1,
         dilation_w=1, activation="RELU6")
    t3 = m.tensor((1, 1, 1, 5), "float32")
    m.op("AVERAGE_POOL_2D", [t2], [t3], padding="VALID", filter_h=3, filter_w=3, stride_h=1,
         stride_w=1, activation="NONE")
    t4 = m.tensor((1, 5), "float32")
    shape = m.const(np.array([1, 5]), "int32")
    m.op("RESHAPE", [t3, shape], [t4])
    w3 = m.const(rand(rng, 3, 5), "float32")
    b3 = m.const(rand(rng, 3), "float32")
    t5 = m.tensor((1, 3), "float32")
    m.op("FULLY_CONNECTED", [t4, w3, b3], [t5], activation="NONE")
    y = m.tensor((1, 3), "float32")
    m.op("SOFTMAX", [t5], [y], beta=1.0)
    assert_close_fp16(m.graph([y]), runs=2,
                      extra_cflags=["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                                    "-g"])


def test_plain_float32_weights_take_the_same_kernels():
    graph = small_fc_graph()
    lowered, pairs = run_host(graph)
    assert [layer.call.kernel for layer in lowered.layers] == ["fully_connected_f32"]
    for ref, got in pairs:
        assert float(np.abs(ref - got).max()) <= tolerance(ref)


# --- the format and the fold ---------------------------------------------------------------------

def small_fc_graph():
    rng = np.random.default_rng(6)
    m = ModelBuilder()
    x = m.input((1, 16), "float32")
    w = m.const(rand(rng, 4, 16), "float32")
    b = m.const(rand(rng, 4), "float32")
    y = m.tensor((1, 4), "float32")
    m.op("FULLY_CONNECTED", [x, w, b], [y], activation="NONE")
    return m.graph([y])


def test_fp16_model_is_tflites_float16_format():
    graph = parse_tflite(write_tflite(quantize_fp16(small_fc_graph())))
    deq = [op for op in graph.ops if op.type == "DEQUANTIZE"]
    assert len(deq) == 2 and graph.ops[:2] == deq
    assert all(graph.t(op.inputs[0]).dtype == "float16" and graph.t(op.inputs[0]).is_const
               and graph.t(op.outputs[0]).dtype == "float32" for op in deq)


def test_fold_removes_the_dequantize_ops_and_keeps_fp16_weights():
    folded = fold_fp16_dequantize(quantize_fp16(small_fc_graph()))
    assert [op.type for op in folded.ops] == ["FULLY_CONNECTED"]
    fc = folded.ops[0]
    assert [folded.t(t).dtype for t in fc.inputs] == ["float32", "float16", "float16"]
    assert len(folded.tensors) == 4


def test_half_to_float_is_exact_for_all_65536_values(tmp_path):
    src = tmp_path / "half.c"
    src.write_text('#include <stdio.h>\n#include <string.h>\n#include "tinyrt_math.h"\n'
                   "int main(void) { for (unsigned h = 0; h < 65536u; h++) {\n"
                   "  float f = tr_half_to_float((uint16_t)h); uint32_t u; memcpy(&u, &f, 4);\n"
                   "  fwrite(&u, 4, 1, stdout); } return 0; }\n")
    runtime = Path(codegen.__file__).resolve().parents[1] / "templates" / "runtime"
    exe = tmp_path / "half"
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(runtime),
                    str(src), "-o", str(exe)], check=True)
    got = np.frombuffer(subprocess.run([str(exe)], capture_output=True, check=True).stdout,
                        np.uint32)
    want = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16) \
        .astype(np.float32).view(np.uint32)
    assert np.array_equal(got, want)


def test_cli_writes_an_fp16_model_without_calibration(tmp_path):
    src = tmp_path / "m_float.tflite"
    src.write_bytes(write_tflite(small_fc_graph()))
    out = tmp_path / "m_fp16.tflite"
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "quantize", str(src), "--dtype", "fp16",
                           "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    graph = read_tflite(str(out))
    assert {graph.t(t).dtype for t in range(len(graph.tensors)) if graph.t(t).is_const} == \
        {"float16"}
    reference.Reference(str(out))


def test_cli_int8_without_calibration_says_what_to_pass(tmp_path):
    src = tmp_path / "m_float.tflite"
    src.write_bytes(write_tflite(small_fc_graph()))
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "quantize", str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "--calib" in proc.stderr and "--dtype fp16" in proc.stderr


# --- the MLPerf Tiny float models ----------------------------------------------------------------

@pytest.mark.parametrize("name", SHARED_FLOAT_MODELS)
def test_shared_float_model_in_fp16_matches_tflite_and_halves_the_weights(shared_models, name):
    graph = read_tflite(str(shared_models / f"{name}_float.tflite"))
    lowered = assert_close_fp16(graph, runs=2)
    float_lowered = codegen.lower(prepare_float(graph), load_board("host"))
    assert lowered.weights_bytes() * 2 == float_lowered.weights_bytes()


@pytest.mark.qemu
def test_fp16_model_runs_on_qemu_m4_within_tolerance(shared_models, tmp_path):
    from tinyrt.deploy import load_inputs
    from tinyrt.device import deploy_device
    from tinyrt.errors import TinyrtError
    board = load_board("qemu-m4")
    path = tmp_path / "kws_fp16.tflite"
    graph = read_tflite(str(shared_models / "kws_float.tflite"))
    path.write_bytes(write_tflite(quantize_fp16(graph)))
    try:
        report = deploy_device(str(path), board, runs=3, seed=0, quiet=True)
    except TinyrtError as e:
        if "not installed" in e.message:
            pytest.skip(e.message)
        raise
    ref = reference.Reference(str(path))
    inputs = load_inputs(None, read_tflite(str(path)), 3, 0)
    for run, x in zip(report["results"], inputs):
        assert run["max_abs_diff"] <= tolerance(ref.run(x)[0])


@pytest.mark.qemu
def test_device_half_conversion_is_exact_for_subnormal_and_extreme_fp16_values(tmp_path):
    """On an M-profile FPU tr_half_to_float is one VCVTB: a FULLY_CONNECTED of input 1.0 with
    fp16 weights outputs each weight; the device must be bit-exact. Weights: every subnormal,
    the smallest and largest normal binades (both signs), and every 61st other value."""
    from tinyrt.device import deploy_device
    from tinyrt.errors import TinyrtError
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    exponent = (bits >> 10) & 0x1F
    pick = (exponent <= 1) | (exponent == 30) | (bits % 61 == 0)
    halves = bits[pick & (exponent != 31)].view(np.float16)
    weights = halves.astype(np.float32)
    m = ModelBuilder()
    x = m.input((1, 1), "float32")
    w = m.const(weights.reshape(-1, 1), "float32")
    b = m.const(np.zeros(weights.size), "float32")
    y = m.tensor((1, weights.size), "float32")
    m.op("FULLY_CONNECTED", [x, w, b], [y], activation="NONE")
    path, inputs = tmp_path / "halves_fp16.tflite", tmp_path / "one.npy"
    path.write_bytes(write_tflite(quantize_fp16(m.graph([y]))))
    np.save(inputs, np.ones((1, 1, 1), np.float32))
    try:
        report = deploy_device(str(path), load_board("qemu-m4"), runs=1, inputs_path=str(inputs),
                               quiet=True)
    except TinyrtError as e:
        if "not installed" in e.message:
            pytest.skip(e.message)
        raise
    assert report["bit_exact_runs"] == 1, report["results"]


# --- fp16 weights converted once per layer (FP32 compute) ----------------------------------------

def once_per_layer_model(rng):
    """Every loop the once-per-layer conversion changed, with borders on all sides: conv 5x3
    SAME stride 2 (one filter in scratch), grouped conv 3x3 dilation 2, conv 1x1, depthwise 5x5
    of 30 channels x multiplier 2 (60 output channels in blocks of 24: 24, 24, 12), depthwise
    3x3 stride 2 VALID (60 channels in one block), every fused activation."""
    m = ModelBuilder()
    x = m.input((1, 11, 9, 3), "float32")

    t1 = m.tensor((1, 6, 5, 7), "float32")
    m.op("CONV_2D", [x, m.const(rand(rng, 7, 5, 3, 3), "float32"),
                     m.const(rand(rng, 7), "float32")], [t1], padding="SAME", stride_h=2, stride_w=2, dilation_h=1, dilation_w=1,
         activation="RELU")
    t2 = m.tensor((1, 6, 5, 10), "float32")
    m.op("CONV_2D", [t1, m.const(rand(rng, 10, 1, 1, 7), "float32"),
                     m.const(rand(rng, 10), "float32")], [t2], padding="VALID", stride_h=1,
         stride_w=1, dilation_h=1, dilation_w=1, activation="NONE")
    t3 = m.tensor((1, 6, 5, 30), "float32")
    m.op("CONV_2D", [t2, m.const(rand(rng, 30, 3, 3, 5), "float32"),
                     m.const(rand(rng, 30), "float32")], [t3], padding="SAME", stride_h=1,
         stride_w=1, dilation_h=2, dilation_w=2, activation="RELU6")
    t4 = m.tensor((1, 6, 5, 60), "float32")
    m.op("DEPTHWISE_CONV_2D", [t3, m.const(rand(rng, 1, 5, 5, 60), "float32"),
                               m.const(rand(rng, 60), "float32")], [t4], padding="SAME",
         stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, depth_multiplier=2,
         activation="RELU_N1_TO_1")
    y = m.tensor((1, 2, 2, 60), "float32")
    m.op("DEPTHWISE_CONV_2D", [t4, m.const(rand(rng, 1, 3, 3, 60), "float32"),
                               m.const(rand(rng, 60), "float32")], [y],
         padding="VALID", stride_h=2, stride_w=2, dilation_h=1, dilation_w=1,
         depth_multiplier=1, activation="NONE")
    return m.graph([y])


def test_fp16_weights_are_converted_once_per_layer_into_scratch():
    graph = quantize_fp16(once_per_layer_model(np.random.default_rng(20)))
    lowered = codegen.lower(graph, load_board("host"))
    calls = [layer.call for layer in lowered.layers]
    assert [c.kernel for c in calls] == ["conv2d_f32"] * 3 + ["dwconv_f32"] * 2
    assert [c.scratch_bytes for c in calls] == [4 * 5 * 3 * 3, 4 * 7, 4 * 3 * 3 * 5,
                                                4 * 26 * 24, 4 * 10 * 60]


def test_fp16_weight_layers_stay_bit_exact_with_tflite_on_the_host():
    """The once-per-layer conversion performs the same float operations in the same order as
    tflite-runtime (no libm here): bit for bit, also under the sanitizers."""
    graph = once_per_layer_model(np.random.default_rng(20))
    for flags in ((), ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g")):
        _, pairs = run_host(quantize_fp16(graph), runs=2, extra_cflags=flags)
        for ref, got in pairs:
            assert ref.tobytes() == got.tobytes(), float(np.abs(ref - got).max())


def test_fp32_scratch_sizes_agree_with_the_kernel_headers(tmp_path):
    from conformance import c_value
    from tinyrt.ops.f32 import conv2d_scratch_bytes, dwconv_block, dwconv_scratch_bytes
    for args in ((0, 1, 5, 3, 12, 4), (1, 1, 3, 3, 12, 4), (0, 0, 3, 3, 12, 12)):
        sub = tmp_path / "_".join(map(str, args))
        sub.mkdir()
        assert conv2d_scratch_bytes(*map(bool, args[:2]), *args[2:]) == c_value(
            sub, "conv2d_f32", f"CONV2D_F32_SCRATCH_BYTES{args}")
    for w16, k, out_c in ((1, 5, 60), (1, 3, 64), (1, 7, 7), (0, 3, 64)):
        block = dwconv_block(bool(w16), k, k, out_c)
        sub = tmp_path / f"dw_{w16}_{k}_{out_c}"
        sub.mkdir()
        assert dwconv_scratch_bytes(bool(w16), k, k, block) == c_value(
            sub, "dwconv_f32", f"DWCONV_F32_SCRATCH_BYTES({w16}, {k}, {k}, {block})")
    assert dwconv_block(True, 3, 3, 64) == 64 and dwconv_block(True, 5, 5, 60) == 24


@pytest.mark.qemu
def test_fp16_weight_layers_are_bit_exact_on_qemu_m4(tmp_path):
    """The same on the Cortex-M4 (VCVTB once per weight per layer, VMLA.F32 not fused)."""
    from tinyrt.device import deploy_device
    from tinyrt.errors import TinyrtError
    path = tmp_path / "once_fp16.tflite"
    path.write_bytes(write_tflite(quantize_fp16(once_per_layer_model(np.random.default_rng(20)))))
    try:
        report = deploy_device(str(path), load_board("qemu-m4"), runs=2, quiet=True)
    except TinyrtError as e:
        if "not installed" in e.message:
            pytest.skip(e.message)
        raise
    assert report["bit_exact_runs"] == report["runs"] == 2, report["results"]
