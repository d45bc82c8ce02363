"""The Helium (MVE) int8 kernels (templates/kernels/*_mve.h, tinyrt/kernels/*_mve.py) on the
emulated Cortex-M55 (qemu-m55): each generated layer's output equals tflite-runtime's reference
kernels byte for byte (so equals the portable kernels, their twins: the MVE intrinsics have no
host model). Cases cover odd channel counts and depths that are not multiples of 16 (the
predicated tails), every border, stride 1 and 2, 3x3/5x5/7x7 depthwise, per-tensor and
per-channel weights, zero points -128/127, tiny multipliers (large right shifts) and effective
scales above 1 (left shifts), and every fused activation."""
from __future__ import annotations

import dataclasses
import re
import subprocess

import numpy as np
import pytest

import codegen
from firmware_project import requires_arm_gcc, requires_qemu
from test_op_conv2d import conv_model
from test_op_depthwise_conv2d import dw_model
from codegen.render import kernel_params
from test_op_add_sub import binary_model
from test_op_fully_connected import fc_model
from test_op_pool2d import pool_model
from tinyrt.boards import load_board
from tinyrt.device import deploy_device
from tinyrt.ir import Graph
from tinyrt.kernels import conv2d_s8_mve, dwconv_s8_mve, pool2d_s8_mve
from tinyrt.paths import data_dir
from tinyrt.writer import write_tflite

M55 = load_board("qemu-m55")


def layer_kernels(graph, board=M55):
    return [(layer.variant, layer.kernel) for layer in codegen.lower(graph, board).layers]


def assert_exact_on_m55(graph, kernel, tmp_path, runs=2):
    """The layer takes the MVE ``kernel`` and every run on qemu-m55 is bit-exact."""
    assert layer_kernels(graph) == [("mve", kernel)]
    path = tmp_path / "case.tflite"
    path.write_bytes(write_tflite(graph))
    r = deploy_device(str(path), M55, runs=runs, quiet=True)
    assert r["bit_exact_runs"] == r["runs"] == runs, r


# --- kernel choice (no build) ---------------------------------------------------------------------

def test_mve_rows_are_chosen_on_the_m55_only():
    assert layer_kernels(conv_model(kernel=(1, 1))) == [("mve", "conv2d_s8_1x1_mve")]
    assert layer_kernels(conv_model(kernel=(3, 3))) == [("mve", "conv2d_s8_mve")]
    assert layer_kernels(dw_model()) == [("mve", "dwconv_s8_mve")]
    assert layer_kernels(pool_model("MAX_POOL_2D", (1, 4, 4, 3), (2, 2), (2, 2))) == \
        [("mve", "pool2d_s8_mve")]
    assert layer_kernels(binary_model("SUB", (1, 5), (1, 5))) == [("mve", "add_s8_mve")]
    assert layer_kernels(fc_model(1, 33, 7, 0, 0)) == [("mve", "fully_connected_s8_mve")]
    for board in ("host", "qemu-m4"):
        variants = {v for v, _ in layer_kernels(conv_model(kernel=(1, 1)), load_board(board))}
        assert "mve" not in variants


def test_grouped_conv_and_depth_multiplier_fall_through():
    grouped = conv_model(kernel=(1, 1), groups=3, shape=(1, 4, 4, 6), filters=6)
    assert layer_kernels(grouped)[0][0] != "mve"
    assert layer_kernels(dw_model(multiplier=2))[0][0] != "mve"


def test_gemm_weight_layout():
    w = np.arange(5 * 20, dtype=np.int64).reshape(5, 20).astype(np.int8)
    laid = conv2d_s8_mve.gemm_weights(w).reshape(2, 2, 4, 16)   # groups, chunks, filters, 16
    assert laid.shape == (2, 2, 4, 16)
    assert np.array_equal(laid[1, 1, 0, :4], w[4, 16:20])
    assert not laid[1, 1, 0, 4:].any() and not laid[1, :, 1:].any()


def test_requant_arguments_split_the_shift():
    args, consts = conv2d_s8_mve.requant(np.array([1 << 30, 3 << 29, 1 << 30]),
                                         np.array([2, -3, 0]), 3, -128, (-128, 127))
    assert args[:2] == [1, 1]
    assert consts["rq_left"].tolist() == [2, 0, 0, 0]
    assert consts["rq_neg_right"].tolist() == [0, -3, 0, 0]
    args, _ = conv2d_s8_mve.requant(np.array([5, 5]), np.array([-1, -1]), 2, 0, (-128, 127))
    assert args[:2] == [0, 0]


def c_define(tmp_path, header, macro, args):
    """``macro(*args)`` evaluated by the host compiler (the header itself needs MVE, so its
    #define line is compiled alone)."""
    text = (data_dir("templates") / "kernels" / f"{header}.h").read_text()
    define = re.search(rf"^#define {macro}.*$", text, re.M).group(0)
    (tmp_path / "main.c").write_text(f'#include <stdio.h>\n{define}\nint main(void) {{ '
                                     f'printf("%d", {macro}{tuple(args)}); return 0; }}\n')
    subprocess.run(["cc", "-o", str(tmp_path / "m"), str(tmp_path / "main.c")], check=True)
    return int(subprocess.run([str(tmp_path / "m")], capture_output=True, text=True,
                              check=True).stdout)


def test_scratch_size_agrees_with_the_kernel_header(tmp_path):
    for args in ((3, 5, 7), (10, 4, 1)):
        assert c_define(tmp_path, "conv2d_s8_mve", "CONV2D_S8_MVE_SCRATCH_BYTES", args) == \
            conv2d_s8_mve.scratch_bytes(*args)


# --- on qemu-m55 --------------------------------------------------------------------------------

CONV_CASES = {
    "1x1 odd depth and filters": dict(kernel=(1, 1), shape=(1, 5, 3, 17), filters=33),
    "1x1 one filter per tensor": dict(kernel=(1, 1), shape=(1, 2, 3, 64), filters=1,
                                      per_channel=False, activation="RELU6"),
    "1x1 left shifts, zp extremes": dict(kernel=(1, 1), shape=(1, 3, 3, 33), filters=3,
                                         w_scale=2.0, out_scale=0.01, in_zp=127, out_zp=-128),
    "3x3 SAME every border": dict(kernel=(3, 3), shape=(1, 7, 6, 3), filters=5),
    "3x3 stride 2 zp extremes": dict(kernel=(3, 3), stride=(2, 2), shape=(1, 8, 7, 17),
                                     filters=6, in_zp=-128, out_zp=127, activation="RELU"),
    "10x4 stride 2 in_c 1": dict(kernel=(10, 4), stride=(2, 2), shape=(1, 12, 9, 1), filters=8,
                                 per_channel=False, activation="RELU_N1_TO_1"),
    "3x3 dilated VALID tiny scale": dict(kernel=(3, 3), dilation=(2, 2), padding="VALID",
                                         shape=(1, 9, 8, 4), filters=7, w_scale=1e-4,
                                         out_scale=10.0),
}


@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("case", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv2d_is_bit_exact_on_m55(case, tmp_path):
    kernel = "conv2d_s8_1x1_mve" if case["kernel"] == (1, 1) else "conv2d_s8_mve"
    assert_exact_on_m55(conv_model(**case), kernel, tmp_path)


def merge(*graphs):
    """Independent single-layer graphs as one model (their own inputs and outputs): one
    firmware build and QEMU run for several layers (the firmware's protocol takes at most
    MAX_IO inputs and outputs)."""
    tensors, ops, inputs, outputs = [], [], [], []
    for k, g in enumerate(graphs):
        base = len(tensors)
        shift = lambda ids: [i + base if i >= 0 else i for i in ids]
        tensors += [dataclasses.replace(t, name=f"g{k}_{t.name}") for t in g.tensors]
        ops += [dataclasses.replace(o, inputs=shift(o.inputs), outputs=shift(o.outputs),
                                    name=f"g{k}_{o.name}") for o in g.ops]
        inputs += shift(g.inputs)
        outputs += shift(g.outputs)
    return Graph(tensors, ops, inputs, outputs, "merged")


MAX_IO = 4


def models(graphs):
    """``graphs`` merged into as few models as the protocol's MAX_IO inputs allow."""
    out, group = [], []
    for g in graphs:
        if group and sum(len(x.inputs) for x in group) + len(g.inputs) > MAX_IO:
            out.append(merge(*group))
            group = []
        group.append(g)
    return out + [merge(*group)] if group else out


def assert_all_exact_on_m55(graph, kernel, tmp_path, runs=2):
    """Every layer takes the MVE ``kernel``; every run on qemu-m55 is bit-exact."""
    assert set(layer_kernels(graph)) == {("mve", kernel)}
    path = tmp_path / "case.tflite"
    path.write_bytes(write_tflite(graph))
    r = deploy_device(str(path), M55, runs=runs, quiet=True)
    assert r["bit_exact_runs"] == r["runs"] == runs, r


def call_args(graph, name):
    """Argument ``name`` of every layer's kernel call (names from the header's prototype)."""
    values = []
    for layer in codegen.lower(graph, M55).layers:
        names = kernel_params(layer.call.header)[layer.call.kernel]
        values.append(layer.call.args[names.index(name)])
    return values


# Two models of depthwise layers: channel counts below, at and past the 8-lane groups (tails of
# 1 to 7), 3x3/5x5/7x7 and 3x1, stride 1/2/mixed, dilation, SAME (band copy: every border) and
# VALID (in place), per-tensor and per-channel, zero points -128/127, every activation, and all
# three requantisation forms (RIGHT: tiny scales; LEFT: scales above 1; EXACT: both in a layer).
DW_MODELS = {
    "tails, strides": [
        dict(shape=(1, 7, 6, 17), in_zp=-128, out_zp=127, activation="RELU6"),
        dict(shape=(1, 9, 8, 33), stride=(2, 2), per_channel=False, in_zp=127, out_zp=-128),
        dict(shape=(1, 6, 5, 8), kernel=(3, 1), stride=(2, 1)),
    ],
    "5x5, 7x7": [
        dict(shape=(1, 8, 9, 3), kernel=(5, 5), activation="RELU"),
        dict(shape=(1, 9, 9, 9), kernel=(7, 7), stride=(1, 2)),
    ],
    "requantisation forms": [
        dict(shape=(1, 6, 5, 1), padding="VALID", w_scale=2.0, out_scale=0.01,
             activation="RELU_N1_TO_1"),
        dict(shape=(1, 11, 10, 6), dilation=(2, 2), stride=(2, 2), w_scale=1e-4, out_scale=10.0,
             in_zp=127, out_zp=-128, bias=False),
        dict(shape=(1, 5, 6, 16), w_scale=0.02, out_scale=0.01, seed=3),
        dict(shape=(1, 7, 7, 24), padding="VALID", w_scale=3.0, out_scale=0.01,
             per_channel=False, in_zp=-128, out_zp=127),
    ],
}


def test_dw_models_cover_every_requantisation_form():
    graph = merge(*(dw_model(**case) for cases in DW_MODELS.values() for case in cases))
    assert set(call_args(graph, "mode")) == {conv2d_s8_mve.RQ_EXACT, conv2d_s8_mve.RQ_RIGHT,
                                             conv2d_s8_mve.RQ_LEFT}
    assert set(call_args(graph, "per_channel")) == {0, 1}
    assert 0 in call_args(graph, "scratch")       # a layer without borders reads in place


def test_dw_parameter_record_layout():
    w = np.arange(2 * 10, dtype=np.int64).reshape(2, 10).astype(np.int8)   # 2 taps, 10 channels
    bias = np.arange(100, 110, dtype=np.int32)
    mults, shifts = np.arange(1, 11, dtype=np.int32), -np.arange(1, 11, dtype=np.int32)
    rec = dwconv_s8_mve.params(w, bias, mults, shifts, True, conv2d_s8_mve.RQ_RIGHT)
    rec = rec.reshape(2, -1)                  # 2 groups of 8 channels
    assert rec.shape[1] == 8 + 2 * 4 + 8 + 8  # bias, 2 taps of 8 int16, mult, neg_right
    assert rec[0, :8].tolist() == [100, 102, 104, 106, 101, 103, 105, 107]
    assert rec[1, :8].tolist() == [108, 0, 0, 0, 109, 0, 0, 0]
    assert rec[0, 8:16].view(np.int16).tolist() == w[:, :8].reshape(-1).tolist()
    assert rec[1, 8:16].view(np.int16).reshape(2, 8)[:, :2].tolist() == w[:, 8:].tolist()
    assert rec[0, 16:24].tolist() == [1, 3, 5, 7, 2, 4, 6, 8]
    assert rec[0, 24:].tolist() == [-1, -3, -5, -7, -2, -4, -6, -8]


def test_dw_scratch_size_agrees_with_the_kernel_header(tmp_path):
    assert c_define(tmp_path, "dwconv_s8_mve", "DWCONV_S8_MVE_SCRATCH_BYTES", (3, 9, 17)) == \
        dwconv_s8_mve.scratch_bytes(3, 9, 17)


@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("cases", DW_MODELS.values(), ids=DW_MODELS.keys())
def test_dwconv_is_bit_exact_on_m55(cases, tmp_path):
    assert_all_exact_on_m55(merge(*(dw_model(**case) for case in cases)), "dwconv_s8_mve",
                            tmp_path)


# Pooling: 16-channel steps with tails, global windows (literal count), borders (runtime
# count, one UDIV), a 1x1 window (count 1), the largest window (256), every activation.
POOL_CASES = [
    ("AVERAGE_POOL_2D", (1, 5, 5, 33), (5, 5), (1, 1), "VALID", "NONE", -128),
    ("AVERAGE_POOL_2D", (1, 9, 8, 17), (3, 3), (2, 2), "SAME", "RELU", 5),
    ("AVERAGE_POOL_2D", (1, 6, 7, 16), (2, 3), (1, 2), "SAME", "RELU6", 127),
    ("AVERAGE_POOL_2D", (1, 3, 4, 7), (1, 1), (1, 1), "VALID", "RELU_N1_TO_1", 0),
    ("AVERAGE_POOL_2D", (1, 16, 16, 5), (16, 16), (1, 1), "VALID", "NONE", -128),
    ("MAX_POOL_2D", (1, 7, 6, 20), (3, 3), (1, 1), "SAME", "RELU6", -3),
    ("MAX_POOL_2D", (1, 8, 9, 3), (2, 2), (2, 2), "VALID", "RELU_N1_TO_1", 127),
    ("MAX_POOL_2D", (1, 5, 5, 48), (5, 5), (1, 1), "VALID", "NONE", -128),
]


def pool_graphs():
    return [pool_model(op, shape, filt, stride, padding, act, zp, scale=0.02)
            for op, shape, filt, stride, padding, act, zp in POOL_CASES]


def test_pool_division_is_exact_for_every_window():
    assert all(pool2d_s8_mve.division_is_exact(count) for count in range(1, 257))


def test_large_average_windows_fall_through():
    big = pool_model("AVERAGE_POOL_2D", (1, 17, 16, 4), (17, 16), (1, 1))
    assert layer_kernels(big)[0][0] != "mve"


@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("part", [0, 1])
def test_pooling_is_bit_exact_on_m55(part, tmp_path):
    assert_all_exact_on_m55(models(pool_graphs())[part], "pool2d_s8_mve", tmp_path)


# ADD/SUB: element counts not a multiple of 4 (predicated tail), zero points at the extremes,
# equal input scales (both rescalings without a division: LEFT) and unequal ones (RIGHT),
# scales over orders of magnitude, every activation.
ADD_CASES = [
    ("ADD", (1, 5, 3, 7), (0.02, -3), (0.03, 4), (0.01, 2), "NONE"),
    ("SUB", (1, 5, 3, 7), (0.02, -128), (0.02, 127), (0.05, -128), "RELU"),
    ("ADD", (2, 33), (0.05, 127), (0.07, -128), (0.1, 127), "RELU6"),
    ("SUB", (3, 3, 1, 2), (1e-3, 3), (1.0, -7), (0.05, 0), "RELU_N1_TO_1"),
    ("ADD", (1, 4, 4, 16), (10.0, 0), (20.0, 5), (100.0, -1), "NONE"),
    ("ADD", (1, 3), (1e-5, 0), (3e-5, 0), (1e-6, 0), "NONE"),
]


def add_graphs():
    return [binary_model(op, shape, shape, q1, q2, qo, act)
            for op, shape, q1, q2, qo, act in ADD_CASES]


def test_add_cases_cover_both_rescaling_forms_and_broadcasts_fall_through():
    graph = merge(*add_graphs())
    modes = set(call_args(graph, "mode1")) | set(call_args(graph, "mode2"))
    assert modes == {conv2d_s8_mve.RQ_RIGHT, conv2d_s8_mve.RQ_LEFT}
    assert layer_kernels(binary_model("ADD", (1, 4, 4, 3), (1, 1, 1, 3)))[0][0] != "mve"


@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("part", [0, 1, 2])
def test_add_sub_is_bit_exact_on_m55(part, tmp_path):
    assert_all_exact_on_m55(models(add_graphs())[part], "add_s8_mve", tmp_path)


FC_CASES = {
    "odd depth": ((1, 33, 7, -3, 5), dict()),
    "per channel, zp extremes, relu": ((2, 16, 9, -128, 127), dict(per_channel=True,
                                                                   activation="RELU")),
    "left shift, 3 batches": ((3, 640, 17, 127, -128), dict(w_scale=2.0, activation="RELU6")),
    "tiny scale, no bias": ((1, 5, 1, 0, 0), dict(w_scale=1e-6, bias=False)),
}


@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("case", FC_CASES.values(), ids=FC_CASES.keys())
def test_fully_connected_is_bit_exact_on_m55(case, tmp_path):
    args, kw = case
    assert_exact_on_m55(fc_model(*args, **kw), "fully_connected_s8_mve", tmp_path)
