"""The Helium (MVE) int8 kernels (templates/kernels/*_mve.h, tinyrt/kernels/*_mve.py) on the
emulated Cortex-M55 (qemu-m55): each generated layer's output equals tflite-runtime's reference
kernels byte for byte (so equals the portable kernels, their twins: the MVE intrinsics have no
host model). Cases cover odd channel counts and depths that are not multiples of 16 (the
predicated tails), every border, stride 1 and 2, 3x3/5x5/7x7 depthwise, per-tensor and
per-channel weights, zero points -128/127, tiny multipliers (large right shifts) and effective
scales above 1 (left shifts), and every fused activation."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

import codegen
from firmware_project import requires_arm_gcc, requires_qemu
from test_op_conv2d import conv_model
from test_op_depthwise_conv2d import dw_model
from test_op_fully_connected import fc_model
from tinyrt.boards import load_board
from tinyrt.device import deploy_device
from tinyrt.kernels import conv2d_s8_mve
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


def test_scratch_size_agrees_with_the_kernel_header(tmp_path):
    """CONV2D_S8_MVE_SCRATCH_BYTES evaluated by the host compiler (the header itself needs MVE,
    so its #define line is compiled alone)."""
    text = (data_dir("templates") / "kernels" / "conv2d_s8_mve.h").read_text()
    define = re.search(r"^#define CONV2D_S8_MVE_SCRATCH_BYTES.*$", text, re.M).group(0)
    (tmp_path / "main.c").write_text(f'#include <stdio.h>\n{define}\nint main(void) {{ '
                                     f'printf("%d %d", CONV2D_S8_MVE_SCRATCH_BYTES(3, 5, 7), '
                                     f'CONV2D_S8_MVE_SCRATCH_BYTES(10, 4, 1)); return 0; }}\n')
    subprocess.run(["cc", "-o", str(tmp_path / "m"), str(tmp_path / "main.c")], check=True)
    out = subprocess.run([str(tmp_path / "m")], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(conv2d_s8_mve.scratch_bytes(3, 5, 7)),
                           str(conv2d_s8_mve.scratch_bytes(10, 4, 1))]


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


DW_CASES = {
    "3x3 SAME 4 channels": dict(),
    "3x3 stride 2 17 channels zp extremes": dict(shape=(1, 9, 8, 17), stride=(2, 2), in_zp=-128,
                                                 out_zp=127, activation="RELU6"),
    "5x5 3 channels": dict(shape=(1, 8, 9, 3), kernel=(5, 5), activation="RELU"),
    "7x7 33 channels per tensor": dict(shape=(1, 9, 9, 33), kernel=(7, 7), per_channel=False),
    "3x3 VALID 1 channel left shift": dict(shape=(1, 6, 5, 1), padding="VALID", w_scale=2.0,
                                           out_scale=0.01, activation="RELU_N1_TO_1"),
    "3x3 dilated stride 2 tiny scale": dict(shape=(1, 11, 10, 6), dilation=(2, 2),
                                            stride=(2, 2), w_scale=1e-4, out_scale=10.0,
                                            in_zp=127, out_zp=-128, bias=False),
}


@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("case", DW_CASES.values(), ids=DW_CASES.keys())
def test_dwconv_is_bit_exact_on_m55(case, tmp_path):
    assert_exact_on_m55(dw_model(**case), "dwconv_s8_mve", tmp_path)


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
