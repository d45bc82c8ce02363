"""FP16 compute (docs/fp16.md "FP16 compute"): on a board with the ``mve_fp`` feature (qemu-m55)
an FP16 model computes in half precision: ``tinyrt.passes.compute_fp16`` retypes the activations
to float16 with conversions at the graph's ends, and the *_f16.h kernels (Helium MVE, with a
portable _Float16 twin) compute. Outputs match tflite-runtime's float32 within the FP16 rule
(tinyrt.verify.tolerance("fp16")); the MVE kernels equal the portable ones bit for bit."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import codegen
from builder import ModelBuilder
from firmware_project import FIRMWARE_TESTS, requires_arm_gcc, requires_qemu
from test_op_fully_connected import fc_model
from tinyrt import firmware, host, qemu, reference
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.frontend import read_tflite
from tinyrt.ir import verify
from tinyrt.passes import compute_fp16, fold_fp16_dequantize
from tinyrt.quantize.fp16 import quantize_fp16
from tinyrt.verify import tolerance, verify_host
from tinyrt.writer import write_tflite

SHARED_FLOAT_MODELS = ["kws", "vww", "ic_resnet8", "ad01"]
CLASSIFIERS = ["kws", "vww", "ic_resnet8"]


def rand(rng, *shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def fp16_bound(ref: np.ndarray) -> float:
    rtol, atol = tolerance("fp16")
    return rtol * float(np.abs(ref).max(initial=0.0)) + atol


# One layer (or a few) on inputs in [-1, 1] has a few fp16 roundings of error: the kernel tests
# also hold it to this, far inside the model-level FP16 rule.
KERNEL_RTOL, KERNEL_ATOL = 1e-2, 1e-4


def assert_fp16_close(float_graph, runs: int = 3, extra_cflags=(), kernels=None):
    """FP16-quantise, compute in FP16 on the host (portable kernels), compare with tflite-runtime
    on the FP16 model: every run within the FP16 rule, and within KERNEL_RTOL * max|ref| +
    KERNEL_ATOL. Returns the Verification."""
    graph = quantize_fp16(float_graph)
    model = write_tflite(graph)
    rng = np.random.default_rng(0)
    inputs = [reference.random_inputs(graph, rng) for _ in range(runs)]
    result = verify_host(graph, model, inputs=inputs, compute="fp16",
                         extra_cflags=list(extra_cflags))
    ref = reference.Reference(model)
    for run, x in zip(result.runs, inputs):
        scale = max(float(np.abs(e).max()) for e in ref.run(x))
        assert run.max_abs_diff <= KERNEL_RTOL * scale + KERNEL_ATOL, \
            f"max |diff| {run.max_abs_diff:g} for max |ref| {scale:g} ({result.project_dir})"
    assert result.lowered.compute == "fp16"
    used = {layer.call.kernel for layer in result.lowered.layers if layer.call}
    assert used >= {"convert_f32_f16", "convert_f16_f32"}
    if kernels is not None:
        assert set(kernels) <= used, used
    bad = [r for r in result.runs if not r.matches]
    assert not bad, (f"{len(bad)}/{len(result.runs)} runs outside the FP16 rule; max |diff| "
                     f"{max(r.max_abs_diff for r in bad):g} (project {result.project_dir})")
    return result


def conv_model(rng, in_shape=(1, 7, 6, 4), out_c=6, k=3, stride=1, padding="SAME",
               activation="NONE", groups=1, bias=True):
    m = ModelBuilder()
    n, h, w, c = in_shape
    x = m.input(in_shape, "float32")
    wt = m.const(rand(rng, out_c, k, k, c // groups), "float32")
    b = m.const(rand(rng, out_c), "float32") if bias else -1
    oh = -(-h // stride) if padding == "SAME" else (h - k) // stride + 1
    ow = -(-w // stride) if padding == "SAME" else (w - k) // stride + 1
    y = m.tensor((n, oh, ow, out_c), "float32")
    m.op("CONV_2D", [x, wt, b], [y], padding=padding, stride_h=stride, stride_w=stride,
         dilation_h=1, dilation_w=1, activation=activation)
    return m.graph([y])


def kernel_zoo(rng):
    """One model through every FP16 kernel, with channel counts that are not multiples of 8
    (the MVE predicated tails): conv 3 -> 11 (SAME, stride 2), dwconv 11 (mult 1), conv 1x1
    11 -> 13, ADD of two activations, max and average pool, FC 13*... -> 10."""
    m = ModelBuilder()
    x = m.input((1, 9, 8, 3), "float32")
    t1 = m.tensor((1, 5, 4, 11), "float32")
    m.op("CONV_2D", [x, m.const(rand(rng, 11, 3, 3, 3), "float32"),
                     m.const(rand(rng, 11), "float32")], [t1], padding="SAME", stride_h=2,
         stride_w=2, dilation_h=1, dilation_w=1, activation="RELU")
    t2 = m.tensor((1, 5, 4, 11), "float32")
    m.op("DEPTHWISE_CONV_2D", [t1, m.const(rand(rng, 1, 3, 3, 11), "float32"),
                               m.const(rand(rng, 11), "float32")], [t2], padding="SAME",
         stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, depth_multiplier=1,
         activation="RELU6")
    t3 = m.tensor((1, 5, 4, 11), "float32")
    m.op("ADD", [t1, t2], [t3], activation="NONE")
    t4 = m.tensor((1, 5, 4, 13), "float32")
    m.op("CONV_2D", [t3, m.const(rand(rng, 13, 1, 1, 11), "float32"),
                     m.const(rand(rng, 13), "float32")], [t4], padding="VALID", stride_h=1,
         stride_w=1, dilation_h=1, dilation_w=1, activation="NONE")
    t5 = m.tensor((1, 3, 2, 13), "float32")
    m.op("MAX_POOL_2D", [t4], [t5], padding="SAME", filter_h=2, filter_w=2, stride_h=2,
         stride_w=2, activation="NONE")
    t6 = m.tensor((1, 2, 1, 13), "float32")
    m.op("AVERAGE_POOL_2D", [t5], [t6], padding="SAME", filter_h=3, filter_w=3, stride_h=2,
         stride_w=2, activation="NONE")
    t7 = m.tensor((1, 26), "float32")
    m.op("RESHAPE", [t6, m.const(np.array([1, 26]), "int32")], [t7])
    y = m.tensor((1, 10), "float32")
    m.op("FULLY_CONNECTED", [t7, m.const(rand(rng, 10, 26), "float32"),
                             m.const(rand(rng, 10), "float32")], [y], activation="NONE")
    return m.graph([y])


def leftover_zoo(rng):
    """The kernels whose Helium versions came last, in one model, with channel counts that are
    not multiples of 8 (per group, per multiplier): grouped conv 6 -> 22 (2 groups of 11, SAME,
    stride 2), depthwise 22 x 3 (SAME, stride 1, dilation 2), broadcast ADD of a per-channel
    constant, broadcast SUB of a per-pixel constant and of an activation from a per-pixel
    constant, average pool, FC 66 -> 15, SOFTMAX."""
    m = ModelBuilder()
    x = m.input((1, 9, 8, 6), "float32")
    t1 = m.tensor((1, 5, 4, 22), "float32")
    m.op("CONV_2D", [x, m.const(rand(rng, 22, 3, 3, 3), "float32"),
                     m.const(rand(rng, 22), "float32")], [t1], padding="SAME", stride_h=2,
         stride_w=2, dilation_h=1, dilation_w=1, activation="RELU")
    t2 = m.tensor((1, 5, 4, 66), "float32")
    m.op("DEPTHWISE_CONV_2D", [t1, m.const(rand(rng, 1, 3, 3, 66), "float32"),
                               m.const(rand(rng, 66), "float32")], [t2], padding="SAME",
         stride_h=1, stride_w=1, dilation_h=2, dilation_w=2, depth_multiplier=3,
         activation="RELU6")
    t3 = m.tensor((1, 5, 4, 66), "float32")
    m.op("ADD", [t2, m.const(rand(rng, 66), "float32")], [t3], activation="NONE")
    t4 = m.tensor((1, 5, 4, 66), "float32")
    m.op("SUB", [t3, m.const(rand(rng, 1, 5, 4, 1), "float32")], [t4], activation="RELU_N1_TO_1")
    t5 = m.tensor((1, 5, 4, 66), "float32")
    m.op("SUB", [m.const(rand(rng, 1, 5, 4, 1), "float32"), t4], [t5], activation="NONE")
    t6 = m.tensor((1, 1, 1, 66), "float32")
    m.op("AVERAGE_POOL_2D", [t5], [t6], padding="VALID", filter_h=5, filter_w=4, stride_h=1,
         stride_w=1, activation="NONE")
    t7 = m.tensor((1, 66), "float32")
    m.op("RESHAPE", [t6, m.const(np.array([1, 66]), "int32")], [t7])
    t8 = m.tensor((1, 15), "float32")
    m.op("FULLY_CONNECTED", [t7, m.const(rand(rng, 15, 66, scale=2.0), "float32"),
                             m.const(rand(rng, 15), "float32")], [t8], activation="NONE")
    y = m.tensor((1, 15), "float32")
    m.op("SOFTMAX", [t8], [y], beta=1.0)
    return m.graph([y])


# --- the pass ------------------------------------------------------------------------------------

def test_pass_retypes_activations_and_converts_at_the_ends():
    graph = fold_fp16_dequantize(quantize_fp16(kernel_zoo(np.random.default_rng(0))))
    out = compute_fp16(graph)
    verify(out)
    assert [out.t(t).dtype for t in (*out.inputs, *out.outputs)] == ["float32", "float32"]
    assert out.inputs == graph.inputs and out.outputs == graph.outputs
    assert out.ops[0].type == "CAST" and out.ops[0].inputs == out.inputs
    assert out.ops[-1].type == "DEQUANTIZE" and out.ops[-1].outputs == out.outputs
    assert [op.type for op in out.ops[1:-1]] == [op.type for op in graph.ops]
    edges = set(out.inputs) | set(out.outputs)
    acts = {out.t(t).dtype for op in out.ops for t in (*op.inputs, *op.outputs)
            if t >= 0 and not out.t(t).is_const and t not in edges}
    assert acts == {"float16"}
    assert {out.t(t).dtype for t in range(len(out.tensors))
            if out.t(t).is_const and out.t(t).dtype.startswith("float")} == {"float16"}


def test_pass_turns_float32_constants_into_float16():
    graph = conv_model(np.random.default_rng(1))
    out = compute_fp16(graph)
    w = out.ops[1].inputs[1]
    assert out.t(w).dtype == "float16"
    assert np.array_equal(out.t(w).data, graph.t(graph.ops[0].inputs[1]).data.astype(np.float16))


def test_pass_leaves_int8_and_mixed_graphs_untouched():
    int8 = fc_model(1, 16, 4, in_zp=0, out_zp=0, activation="NONE")
    assert compute_fp16(int8) is int8
    m = ModelBuilder()     # float input, QUANTIZE, int8 FC, DEQUANTIZE: mixed
    x = m.input((1, 16), "float32")
    q = m.tensor((1, 16), "int8", scale=0.05, zero_point=0)
    m.op("QUANTIZE", [x], [q])
    w = m.const(np.ones((4, 16), np.int8), "int8", scale=0.01, zero_point=0)
    b = m.const(np.zeros(4, np.int32), "int32", scale=0.0005, zero_point=0)
    o = m.tensor((1, 4), "int8", scale=0.1, zero_point=0)
    m.op("FULLY_CONNECTED", [q, w, b], [o], activation="NONE")
    y = m.tensor((1, 4), "float32")
    m.op("DEQUANTIZE", [o], [y])
    mixed = m.graph([y])
    assert compute_fp16(mixed) is mixed


def test_pass_leaves_float_graphs_with_ops_it_cannot_compute():
    m = ModelBuilder()
    x = m.input((1, 8), "float32")
    y = m.tensor((1, 8), "float32")
    m.op("TANH", [x], [y])
    graph = m.graph([y])
    assert compute_fp16(graph) is graph


def widening_model(rng):
    """[1, 8, 8, 2] -> conv 16 -> conv 16 -> average pool -> [1, 1, 1, 16]: the inner
    activations dominate the arena."""
    m = ModelBuilder()
    x = m.input((1, 8, 8, 2), "float32")
    t1, t2 = m.tensor((1, 8, 8, 16), "float32"), m.tensor((1, 8, 8, 16), "float32")
    m.op("CONV_2D", [x, m.const(rand(rng, 16, 3, 3, 2), "float32"),
                     m.const(rand(rng, 16), "float32")], [t1], padding="SAME", stride_h=1,
         stride_w=1, dilation_h=1, dilation_w=1, activation="RELU")
    m.op("CONV_2D", [t1, m.const(rand(rng, 16, 3, 3, 16), "float32"),
                     m.const(rand(rng, 16), "float32")], [t2], padding="SAME", stride_h=1,
         stride_w=1, dilation_h=1, dilation_w=1, activation="RELU")
    y = m.tensor((1, 1, 1, 16), "float32")
    m.op("AVERAGE_POOL_2D", [t2], [y], padding="VALID", filter_h=8, filter_w=8, stride_h=1,
         stride_w=1, activation="NONE")
    return m.graph([y])


def activation_arena(lowered) -> int:
    """The arena the activations alone need (FP32 compute adds scratch: the converted filter of
    an fp16 conv, docs/fp16.md)."""
    from tinyrt import planner
    return planner.plan(lowered.graph, alignment=lowered.plan.alignment,
                        strategy=lowered.plan.strategy).arena_bytes


def test_arena_halves_against_fp32_compute():
    graph = quantize_fp16(widening_model(np.random.default_rng(2)))
    board = load_board("host")
    fp32 = codegen.lower(graph, board, compute="fp32")
    fp16 = codegen.lower(graph, board, compute="fp16")
    assert (fp32.compute, fp16.compute) == ("fp32", "fp16")
    assert fp16.plan.arena_bytes * 2 == activation_arena(fp32)
    # the conversions run in place: the arena never holds float32 and fp16 copies of the input
    cast = next(layer for layer in fp16.layers if layer.op_type == "CAST")
    assert fp16.plan.tensor_offset(cast.inputs[0]) == fp16.plan.tensor_offset(cast.outputs[0])


def test_auto_compute_follows_the_board_features():
    fp16_model = quantize_fp16(conv_model(np.random.default_rng(3)))
    float_model = conv_model(np.random.default_rng(3))
    assert "mve_fp" in load_board("qemu-m55")["features"]
    assert codegen.lower(fp16_model, load_board("qemu-m55")).compute == "fp16"
    for board in ("qemu-m4", "qemu-m7", "host"):
        assert codegen.lower(fp16_model, load_board(board)).compute == "fp32"
    # float32 weights stay float32 compute unless asked: FP16 would round the weights
    assert codegen.lower(float_model, load_board("qemu-m55")).compute == "fp32"
    assert codegen.lower(fp16_model, load_board("qemu-m55"), compute="fp32").compute == "fp32"
    int8 = fc_model(1, 16, 4, in_zp=0, out_zp=0, activation="NONE")
    assert codegen.lower(int8, load_board("qemu-m55")).compute == "int8"
    with pytest.raises(TinyrtError, match="cannot be computed in FP16"):
        codegen.lower(int8, load_board("host"), compute="fp16")


# --- the portable arithmetic: one IEEE rounding per operation ------------------------------------

def round_half(x: Fraction) -> np.float16:
    """The exact value x rounded to the nearest float16, ties to even (overflow: infinity)."""
    if x == 0:
        return np.float16(0.0)
    sign, a = (-1 if x < 0 else 1), abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    quantum = Fraction(2) ** (max(e, -14) - 10)
    n, rest = divmod(a, quantum)
    if rest > quantum / 2 or (rest == quantum / 2 and n % 2):
        n += 1
    value = n * quantum
    if value > 65504:   # the largest half; what rounds above it overflows
        return np.float16(sign * np.inf)
    return np.float16(sign * float(value))


def half_samples(count: int, seed: int) -> np.ndarray:
    """Random fp16 bit patterns (finite), biased toward subnormals and close exponents."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 0x7C00, size=count).astype(np.uint16)
    bits[: count // 4] &= 0x03FF          # subnormals
    bits |= (rng.integers(0, 2, size=count) << 15).astype(np.uint16)
    return bits.view(np.float16)


def test_portable_helpers_round_once_like_the_vector_instructions(tmp_path):
    """tr_f16_fma (double) is the fused VFMA.F16, tr_f16_add / mul (float) the correctly rounded
    VADD / VMUL: checked against exact rational arithmetic on 20,000 triples each."""
    n = 20000
    a, b, c = (half_samples(n, s) for s in (1, 2, 3))
    # products near -c (cancellation) and near c make the rounding of the sum matter
    ratio = np.clip(c.astype(np.float64) / np.where(a == 0, 1.0, a.astype(np.float64)),
                    -1000.0, 1000.0)
    b[: n // 4] = (-ratio[: n // 4]).astype(np.float16)
    b[n // 4: n // 2] = ratio[n // 4: n // 2].astype(np.float16)
    src = tmp_path / "ops.c"
    src.write_text('#include <stdio.h>\n#include "tinyrt_f16.h"\n'
                   "int main(void) { tr_f16 v[3];\n"
                   "  while (fread(v, 2, 3, stdin) == 3) {\n"
                   "    tr_f16 r[3] = { tr_f16_fma(v[0], v[1], v[2]), tr_f16_add(v[0], v[2]),\n"
                   "                    tr_f16_mul(v[0], v[1]) };\n"
                   "    fwrite(r, 2, 3, stdout); } return 0; }\n")
    runtime = Path(codegen.__file__).resolve().parents[1] / "templates" / "runtime"
    exe = tmp_path / "ops"
    host.run_checked(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(runtime),
                      str(src), "-o", str(exe)], "compile")
    stdin = np.stack([a, b, c], axis=1).astype(np.float16).tobytes()
    got = np.frombuffer(subprocess.run([str(exe)], input=stdin, capture_output=True,
                                       check=True).stdout, np.float16).reshape(-1, 3)
    F = lambda v: Fraction(float(v))
    for i in range(n):
        want = (round_half(F(a[i]) * F(b[i]) + F(c[i])), round_half(F(a[i]) + F(c[i])),
                round_half(F(a[i]) * F(b[i])))
        for k in range(3):
            g, w = got[i, k], want[k]
            assert g.tobytes() == w.tobytes() or (g == 0 and w == 0), \
                (k, a[i], b[i], c[i], g, w)


# --- every f16 kernel on the host against tflite-runtime float -----------------------------------

@pytest.mark.parametrize("stride,padding,activation,groups,out_c", [
    (1, "SAME", "NONE", 1, 6), (2, "SAME", "RELU", 1, 9), (2, "VALID", "RELU6", 1, 16),
    (1, "SAME", "NONE", 2, 6), (2, "SAME", "RELU6", 2, 22), (1, "VALID", "RELU", 4, 36)])
def test_conv2d_f16(stride, padding, activation, groups, out_c):
    graph = conv_model(np.random.default_rng(1), out_c=out_c, stride=stride, padding=padding,
                       activation=activation, groups=groups)
    assert_fp16_close(graph, kernels=["conv2d_f16"])


def test_conv2d_f16_single_input_channel_and_1x1():
    assert_fp16_close(conv_model(np.random.default_rng(4), in_shape=(1, 10, 5, 1), out_c=12),
                      kernels=["conv2d_f16"])
    assert_fp16_close(conv_model(np.random.default_rng(5), in_shape=(1, 5, 5, 24), out_c=17,
                                 k=1), kernels=["conv2d_f16"])


@pytest.mark.parametrize("mult,stride,activation,channels",
                         [(1, 1, "RELU", 3), (1, 2, "NONE", 19), (2, 2, "RELU6", 3),
                          (3, 1, "NONE", 11), (5, 2, "RELU", 2), (8, 1, "RELU_N1_TO_1", 9)])
def test_dwconv_f16(mult, stride, activation, channels):
    rng = np.random.default_rng(3)
    m = ModelBuilder()
    x = m.input((1, 9, 8, channels), "float32")
    w = m.const(rand(rng, 1, 3, 3, channels * mult), "float32")
    b = m.const(rand(rng, channels * mult), "float32")
    y = m.tensor((1, -(-9 // stride), -(-8 // stride), channels * mult), "float32")
    m.op("DEPTHWISE_CONV_2D", [x, w, b], [y], padding="SAME", stride_h=stride, stride_w=stride,
         dilation_h=1, dilation_w=1, depth_multiplier=mult, activation=activation)
    assert_fp16_close(m.graph([y]), kernels=["dwconv_f16"])


@pytest.mark.parametrize("bias,activation,batches", [(True, "NONE", 1), (True, "RELU", 2),
                                                     (False, "NONE", 1)])
def test_fully_connected_f16(bias, activation, batches):
    rng = np.random.default_rng(4)
    m = ModelBuilder()
    x = m.input((batches, 33), "float32")
    w = m.const(rand(rng, 10, 33), "float32")
    b = m.const(rand(rng, 10), "float32") if bias else -1
    y = m.tensor((batches, 10), "float32")
    m.op("FULLY_CONNECTED", [x, w, b], [y], activation=activation)
    assert_fp16_close(m.graph([y]), kernels=["fully_connected_f16"])


@pytest.mark.parametrize("op_type,padding", [("AVERAGE_POOL_2D", "VALID"),
                                             ("AVERAGE_POOL_2D", "SAME"), ("MAX_POOL_2D", "SAME")])
def test_pool2d_f16(op_type, padding):
    m = ModelBuilder()
    x = m.input((1, 7, 5, 10), "float32")
    y = m.tensor((1, 3, 2, 10) if padding == "VALID" else (1, 4, 3, 10), "float32")
    m.op(op_type, [x], [y], padding=padding, filter_h=3, filter_w=3, stride_h=2, stride_w=2,
         activation="NONE")
    kernel = "maxpool2d_f16" if op_type == "MAX_POOL_2D" else "avgpool2d_f16"
    assert_fp16_close(m.graph([y]), kernels=[kernel])


def test_add_sub_f16_elementwise_and_broadcast_constant():
    rng = np.random.default_rng(5)
    m = ModelBuilder()
    x = m.input((1, 4, 4, 9), "float32")
    z = m.input((1, 4, 4, 9), "float32")
    s = m.tensor((1, 4, 4, 9), "float32")
    m.op("ADD", [x, z], [s], activation="RELU")
    d = m.tensor((1, 4, 4, 9), "float32")
    m.op("SUB", [s, z], [d], activation="NONE")
    y = m.tensor((1, 4, 4, 9), "float32")
    m.op("ADD", [d, m.const(rand(rng, 9), "float32")], [y], activation="NONE")
    assert_fp16_close(m.graph([y]), kernels=["add_f16", "sub_f16", "add_f16_broadcast"])


@pytest.mark.parametrize("a_shape,b_shape,op_type", [
    ((1, 4, 4, 9), (9,), "ADD"), ((1, 4, 4, 1), (1, 4, 4, 19), "SUB"),
    ((1, 4, 1, 9), (1, 1, 5, 1), "ADD"), ((2, 1, 3, 17), (2, 4, 1, 17), "SUB")])
def test_add_sub_f16_broadcast_activations(a_shape, b_shape, op_type):
    """Two activations broadcast against each other: the inner axis loads from one operand and
    repeats the other, or loads both."""
    m = ModelBuilder()
    a, b = m.input(a_shape, "float32"), m.input(b_shape, "float32")
    y = m.tensor(np.broadcast_shapes(a_shape, b_shape), "float32")
    m.op(op_type, [a, b], [y], activation="RELU6")
    kernel = f"{op_type.lower()}_f16_broadcast"
    assert_fp16_close(m.graph([y]), kernels=[kernel])


@pytest.mark.parametrize("beta,shape,scale", [(1.0, (3, 12), 0.5), (0.5, (3, 12), 0.5),
                                              (1.0, (2, 1), 1.0), (1.0, (1, 37), 8.0),
                                              (2.0, (4, 5), 30.0)])
def test_softmax_f16(beta, shape, scale):
    """Rows of 1, 5 (one vector and a tail), 12 and 37 values; logits spread widely enough that
    the exponentials underflow (scale 30: exp clamps at -87)."""
    m = ModelBuilder()
    x = m.input(shape, "float32")
    h = m.tensor(shape, "float32")
    m.op("ADD", [x, m.const(rand(np.random.default_rng(1), *shape, scale=scale), "float32")],
         [h], activation="NONE")
    y = m.tensor(shape, "float32")
    m.op("SOFTMAX", [h], [y], beta=beta)
    assert_fp16_close(m.graph([y]), kernels=["softmax_f16"])


def test_softmax_f16_exp_is_within_two_float_ulps(tmp_path):
    """softmax_f16_exp (the same float operations as the Helium lanes) against exp in double on
    [-87, 88] and below: at most 2 ulps of float."""
    src = tmp_path / "exp.c"
    src.write_text('#include <stdio.h>\n#define TINYRT_KERNEL static inline\n'
                   '#include "kernels/softmax_f16.h"\n'
                   "int main(void) { float d;\n"
                   "  while (fread(&d, 4, 1, stdin) == 1) { float e = softmax_f16_exp(d);\n"
                   "    fwrite(&e, 4, 1, stdout); } return 0; }\n")
    templates = Path(codegen.__file__).resolve().parents[1] / "templates"
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "softmax_f16.h").write_text(
        (templates / "kernels" / "softmax_f16.h").read_text())
    for name in ("tinyrt_f16.h", "tinyrt_math.h"):
        (tmp_path / name).write_text((templates / "runtime" / name).read_text())
    exe = tmp_path / "exp"
    host.run_checked(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", str(src), "-o",
                      str(exe), "-lm"], "compile")
    d = np.concatenate([np.linspace(-87.0, 88.0, 50001, dtype=np.float32),
                        np.float32([0.0, -0.0, -1e-30, -87.5, -200.0])])
    got = np.frombuffer(subprocess.run([str(exe)], input=d.tobytes(), capture_output=True,
                                       check=True).stdout, np.float32)
    want = np.exp(np.maximum(d.astype(np.float64), -87.0))
    ulp = np.spacing(want.astype(np.float32)).astype(np.float64)
    assert float(np.max(np.abs(got - want) / ulp)) <= 2.0


def test_scratch_sizes_agree_with_the_kernel_headers(tmp_path):
    from conformance import c_value
    from tinyrt.ops.f16 import softmax_scratch_bytes
    (tmp_path / "tinyrt_f16.h").write_text(
        (Path(codegen.__file__).resolve().parents[1] / "templates" / "runtime" /
         "tinyrt_f16.h").read_text())
    assert softmax_scratch_bytes(37) == c_value(tmp_path, "softmax_f16",
                                                "SOFTMAX_F16_SCRATCH_BYTES(37)") == 148


def test_depthwise_f16_weights_are_relaid_multiplier_major():
    from tinyrt.ops.f16 import dwconv_layout
    w = np.arange(2 * 2 * 6, dtype=np.float32).reshape(1, 2, 2, 6)    # C = 2, M = 3
    relaid, bias = dwconv_layout(w, np.arange(6, dtype=np.float32), 2)
    assert relaid.shape == (2, 2, 3, 2) and relaid.dtype == np.float16
    # output channel ic * M + m of tap (ky, kx) sits at [ky, kx, m, ic]
    assert relaid[1, 0, 2, 1] == w[0, 1, 0, 1 * 3 + 2]
    assert list(bias.reshape(-1)) == [0, 3, 1, 4, 2, 5]
    same, _ = dwconv_layout(w.reshape(1, 2, 2, 6), None, 6)            # M = 1: TFLite's own
    assert np.array_equal(same.reshape(-1), w.reshape(-1).astype(np.float16))


def test_f16_kernels_are_clean_under_asan_and_ubsan():
    assert_fp16_close(kernel_zoo(np.random.default_rng(6)), runs=2,
                      extra_cflags=["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                                    "-g"])


def test_fp16_compute_is_really_half_precision():
    """The FP16 path must not silently compute in float32: its outputs differ from the FP32
    path's (bit-exact with tflite-runtime here) on a model with long sums."""
    graph = quantize_fp16(conv_model(np.random.default_rng(7), in_shape=(1, 8, 8, 32), out_c=8))
    r16 = verify_host(graph, write_tflite(graph), runs=2, compute="fp16")
    r32 = verify_host(graph, write_tflite(graph), runs=2, compute="fp32")
    assert all(r.bit_exact for r in r32.runs)
    assert all(r.matches and not r.bit_exact and r.max_abs_diff > 0 for r in r16.runs)


# --- the MLPerf Tiny float models ----------------------------------------------------------------

def top1(x: np.ndarray) -> int:
    return int(np.argmax(x.reshape(-1)))


@pytest.mark.parametrize("name", SHARED_FLOAT_MODELS)
def test_shared_model_fp16_compute_within_the_rule_and_top1(shared_models, name, tmp_path):
    graph = quantize_fp16(read_tflite(str(shared_models / f"{name}_float.tflite")))
    model = write_tflite(graph)
    rng = np.random.default_rng(0)
    inputs = [reference.random_inputs(graph, rng) for _ in range(5)]
    result = verify_host(graph, model, inputs=inputs, compute="fp16", work_dir=str(tmp_path))
    assert all(r.matches for r in result.runs), [r.max_abs_diff for r in result.runs]
    fp32 = codegen.lower(graph, load_board("host"), compute="fp32")
    assert result.lowered.plan.arena_bytes < fp32.plan.arena_bytes
    if name in CLASSIFIERS:
        ref = reference.Reference(model)
        exe_dir = Path(result.project_dir)
        exe = host.build(exe_dir, load_board("host"))
        got = host.run(exe, inputs, [(tuple(d["shape"]), d["dtype"]) for d in ref.outputs])
        agree = sum(top1(ref.run(x)[0]) == top1(g[0]) for x, g in zip(inputs, got))
        assert agree == len(inputs)


# --- on the Cortex-M55 (qemu-m55) ----------------------------------------------------------------

def exact_ops(op: int, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """What the probe's op computes on each lane, from exact rational arithmetic (IEEE signs of
    zero: a product's is the xor of the signs, an exact zero sum is -0 only for -0 + -0)."""
    F = lambda v: Fraction(float(v))
    neg = lambda v: bool(np.signbit(v))

    def add(x, y, x_neg, y_neg):           # x, y exact; signs for the zero cases
        s = x + y
        if s == 0:
            return np.float16(-0.0) if (x == 0 and y == 0 and x_neg and y_neg) else np.float16(0.0)
        return round_half(s)

    out = []
    for i in range(8):
        x, y, z = a[i], b[i], c[i]
        if op in (0, 6):
            m = b[0] if op == 6 else y
            r = add(F(x) * F(m), F(z), neg(x) != neg(m), neg(z))
        elif op == 1:
            r = add(F(x), F(y), neg(x), neg(y))
        elif op == 5:
            r = add(F(x), -F(y), neg(x), not neg(y))
        elif op == 2:
            p = F(x) * F(y)
            r = round_half(p) if p != 0 else np.float16(-0.0 if neg(x) != neg(y) else 0.0)
        elif x == y == 0:                      # maxNum / minNum: +0 is the larger zero
            r = np.float16(-0.0) if ((neg(x) and neg(y)) if op == 3 else (neg(x) or neg(y))) \
                else np.float16(0.0)
        else:
            r = max(x, y) if op == 3 else min(x, y)
        out.append(np.float16(r))
    return np.array(out, np.float16)


@pytest.fixture
def mve_probe(tmp_path):
    """The probe firmware (tests/firmware/mve_f16_main.c) built for qemu-m55."""
    board = load_board("qemu-m55")
    project = tmp_path / "project"
    graph = quantize_fp16(conv_model(np.random.default_rng(0)))
    host.write_project(codegen.render(codegen.lower(graph, board), host_main=False), project)
    fw = firmware.build(project, board, out_dir=tmp_path / "out",
                        app_sources=[FIRMWARE_TESTS / "mve_f16_main.c"])
    return board, fw.elf


def probe(board, elf, requests: list[tuple[int, bytes]]) -> list[bytes]:
    from test_qemu import console, recv_exactly
    answers = []
    with qemu.start(board, elf) as q, console(q) as s:
        for op, payload in requests:
            s.sendall(bytes([op]) + payload)
            answers.append(recv_exactly(s, 16))
    return answers


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
def test_qemu_m55_executes_the_mve_fp16_instructions_exactly(mve_probe):
    """VFMA (vector and by scalar), VADD, VSUB, VMUL, VMAXNM, VMINNM on f16 lanes, the
    instructions the kernels use, against exact IEEE arithmetic: 100 random vectors each,
    subnormals, signed zeros, overflow to infinity included."""
    board, elf = mve_probe
    vals = half_samples(100 * 24, 9).reshape(100, 3, 8)
    vals[0] = np.array([[0.0, -0.0, 65504, 1e-7, -6e-8, 1.0, 2.0, 3.0]] * 3, np.float16)
    vals[0, 1] = np.array([-0.0, 0.0, 2.0, 1e-7, 6e-8, -1.0, 0.5, -3.0], np.float16)
    requests = [(op, v.tobytes()) for op in range(7) for v in vals]
    answers = probe(board, elf, requests)
    for (op, _), v, got in zip(requests, [v for _ in range(7) for v in vals], answers):
        want = exact_ops(op, *v)
        got = np.frombuffer(got, np.float16)
        assert got.tobytes() == want.tobytes(), (op, v, got, want)


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
def test_qemu_7_2_does_not_execute_mve_vcvt_between_f16_and_f32(mve_probe):
    """Why convert_f16.h converts with the scalar VCVTB: QEMU 7.2 gets the MVE VCVTB/VCVTT
    between f16 and f32 wrong (the destination comes back unchanged; in another build it raised
    UNDEFINSTR). If this fails, QEMU now executes them: re-check and consider using them."""
    board, elf = mve_probe
    a = np.array([0.5, -1.25, 3.0, 1e-5, 65504, -0.0, 2.0, 7.0], np.float16)
    f = np.array([0.5, -1.25, 3.0, 1e-5], np.float32)
    c = np.ones(8, np.float16)
    cases = {7: a.astype(np.float32)[0::2].tobytes(), 8: a.astype(np.float32)[1::2].tobytes(),
             9: np.stack([f.astype(np.float16), c[:4]], 1).reshape(-1).tobytes(),
             10: np.stack([c[:4], f.astype(np.float16)], 1).reshape(-1).tobytes()}
    for op, want in cases.items():
        payload = (f.view(np.float16).tobytes() + bytes(8) if op in (9, 10) else a.tobytes())
        answer = probe(board, elf, [(op, payload + a.tobytes() + c.tobytes())])[0]
        assert answer != want, f"QEMU now executes MVE op {op} correctly"


def _build(lowered, board, work, extra_cflags):
    host.write_project(codegen.render(lowered, host_main=False), work)
    return firmware.build(work, board, extra_cflags=list(extra_cflags))


def run_on_qemu(graph, board, inputs, extra_cflags=()):
    """(lowered, outputs per input, counter per input) of ``graph`` built for ``board``."""
    from tinyrt.link import Device
    lowered = codegen.lower(graph, board)
    outs, counts = [], []
    with tempfile.TemporaryDirectory(prefix="tinyrt-f16-") as work, \
            qemu.start(board, _build(lowered, board, Path(work), extra_cflags).elf) as emu:
        with Device.open(emu.port, baud=board["serial"]["baud"],
                         timeout=float(board["serial"].get("timeout_s", 10))) as dev:
            for x in inputs:
                o, c = dev.run(x, runs=1)
                outs.append(o)
                counts += c
    return lowered, outs, counts


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("zoo,out_shape,speedup", [(kernel_zoo, (1, 10), 3),
                                                   (leftover_zoo, (1, 15), 3)])
def test_mve_kernels_equal_the_portable_ones_bit_for_bit(zoo, out_shape, speedup, tmp_path):
    """The same FP16 model on qemu-m55 with the MVE kernels and with -DTINYRT_PORTABLE_F16, and
    on the host (portable): identical output bits, and the MVE build is much faster; every layer
    runs its MVE variant."""
    graph = quantize_fp16(zoo(np.random.default_rng(11)))
    rng = np.random.default_rng(12)
    inputs = [reference.random_inputs(graph, rng) for _ in range(4)]
    board = load_board("qemu-m55")
    lowered, mve, mve_counts = run_on_qemu(graph, board, inputs)
    assert lowered.compute == "fp16"
    weighted = [layer for layer in lowered.layers if layer.op_type not in
                ("CAST", "DEQUANTIZE", "RESHAPE")]
    assert {layer.variant for layer in weighted} == {"mve"}, \
        [(layer.op_type, layer.variant) for layer in weighted]
    _, portable, portable_counts = run_on_qemu(graph, board, inputs, ["-DTINYRT_PORTABLE_F16"])
    result = verify_host(graph, write_tflite(graph), inputs=inputs, compute="fp16",
                         work_dir=str(tmp_path))
    exe = host.build(Path(result.project_dir), load_board("host"))
    on_host = host.run(exe, inputs, [(out_shape, "float32")])
    for a, b, h in zip(mve, portable, on_host):
        assert a[0].tobytes() == b[0].tobytes() == h[0].tobytes()
    assert max(mve_counts) * speedup < min(portable_counts), (mve_counts, portable_counts)


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
def test_kws_fp16_deploys_on_qemu_m55_under_the_fp16_rule(shared_models, tmp_path):
    from tinyrt.device import deploy_device
    path = tmp_path / "kws_fp16.tflite"
    path.write_bytes(write_tflite(quantize_fp16(read_tflite(str(shared_models /
                                                                 "kws_float.tflite")))))
    board = load_board("qemu-m55")
    report = deploy_device(str(path), board, runs=3, seed=0, quiet=True)
    assert report["compute"] == "fp16"
    assert report["matching_runs"] == 3, report["results"]
    fp32 = codegen.lower(read_tflite(str(path)), board, compute="fp32")
    assert report["memory"]["arena_bytes"] * 2 == activation_arena(fp32)
    ref = reference.Reference(str(path))
    from tinyrt.deploy import load_inputs
    for run, x in zip(report["results"], load_inputs(None, read_tflite(str(path)), 3, 0)):
        assert run["max_abs_diff"] <= fp16_bound(ref.run(x)[0])


def test_deploy_cli_compute_flag_and_json_field(tmp_path):
    src = tmp_path / "m_fp16.tflite"
    src.write_bytes(write_tflite(quantize_fp16(conv_model(np.random.default_rng(8)))))
    for compute in ("fp16", "fp32"):
        proc = subprocess.run([sys.executable, "-m", "tinyrt", "deploy", str(src), "--board", "host",
                               "--runs", "2", "--compute", compute, "--json", "-", "-q"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads(proc.stdout)              # `--json -`: stdout is the JSON alone
        assert report["compute"] == compute and report["matching_runs"] == 2
        assert ("FP16 rule" in proc.stderr) == (compute == "fp16")
