"""conv2d_s8_dsp (templates/kernels/conv2d_s8_dsp.h): CONV_2D int8 on the Arm DSP extension is
bit-exact with tflite-runtime, on the host twin (-DTINYRT_ACLE_PORTABLE, also under the
sanitizers) and on qemu-m4, for the shapes that reach every path: channel counts that are odd
and not multiples of the 2-channel / 4-pixel / 4-byte blocking, padding at every border, stride
1 and 2, dilation, per-tensor and per-channel weights, extreme zero points and multipliers (all
tr_requant modes), every fused activation, batches."""
import dataclasses

import numpy as np
import pytest

import codegen
from conformance import c_value
from firmware_project import requires_arm_gcc, requires_qemu
from test_op_conv2d import conv_model
from tinyrt.boards import load_board
from tinyrt.ir import Graph, Op, verify
from tinyrt.kernels import conv2d_s8_dsp, requant
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

DSP_HOST = {**load_board("host"), "features": ["dsp"]}
PORTABLE_ACLE = ["-DTINYRT_ACLE_PORTABLE"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O1", "-g"]


def assert_dsp_bit_exact(graph, kernels, sanitize=False, runs=3):
    """Every layer runs the expected dsp kernel and the host twin equals tflite-runtime."""
    verify(graph)
    flags = PORTABLE_ACLE + (SANITIZE if sanitize else [])
    result = verify_host(graph, write_tflite(graph), runs=runs, board=DSP_HOST, extra_cflags=flags)
    by_op = sorted(result.lowered.layers, key=lambda l: l.index)   # the schedule may re-order
    assert [(l.kernel, l.variant) for l in by_op] == [(k, "dsp") for k in kernels]
    bad = [r for r in result.runs if not r.bit_exact]
    assert not bad, f"{bad[0].mismatched} values differ (project kept in {result.project_dir})"


def side_by_side(graphs: list[Graph]) -> Graph:
    """One graph computing every single-op graph of ``graphs`` (own inputs and outputs), so one
    firmware build checks many layers."""
    tensors, ops, inputs, outputs = [], [], [], []
    for n, g in enumerate(graphs):
        base = len(tensors)
        tensors += [dataclasses.replace(t, name=f"g{n}_{t.name}") for t in g.tensors]
        ops += [Op(op.type, [t + base if t >= 0 else -1 for t in op.inputs],
                   [t + base for t in op.outputs], dict(op.attrs), op.name) for op in g.ops]
        inputs += [t + base for t in g.inputs]
        outputs += [t + base for t in g.outputs]
    return Graph(tensors, ops, inputs, outputs, "dsp_layers")


POINTWISE = {  # name -> conv_model arguments
    "odd channels, 15 pixels": dict(shape=(1, 5, 3, 7), filters=9, kernel=(1, 1), in_zp=-128),
    "in_c multiple of 8, 16 pixels": dict(shape=(1, 4, 4, 16), filters=8, kernel=(1, 1),
                                          in_zp=127, out_zp=-128, activation="RELU6"),
    "one channel, batches": dict(shape=(2, 3, 3, 1), filters=1, kernel=(1, 1)),
    "per-tensor, 6 -> 3, RELU": dict(shape=(1, 3, 5, 6), filters=3, kernel=(1, 1),
                                     per_channel=False, activation="RELU"),
    "tiny multipliers": dict(shape=(1, 2, 3, 12), filters=5, kernel=(1, 1), w_scale=1e-4,
                             out_scale=1.0, activation="RELU_N1_TO_1"),
    "multipliers >= 0.5 (left shifts)": dict(shape=(1, 3, 3, 10), filters=6, kernel=(1, 1),
                                             w_scale=1.0, out_scale=1e-3),
    "huge multipliers (exact mode)": dict(shape=(1, 1, 5, 20), filters=4, kernel=(1, 1),
                                          w_scale=1.0, out_scale=1e-5),
}

GENERAL = {
    "3x3 SAME, 3 channels (int8 im2col)": dict(shape=(1, 7, 6, 3), filters=5, in_zp=-128,
                                               out_zp=127),
    "3x3 stride 2 SAME, 8 channels (direct)": dict(shape=(1, 9, 8, 8), filters=7,
                                                   stride=(2, 2), in_zp=127, out_zp=-128),
    "3x3 stride 2 VALID, per-tensor": dict(shape=(1, 9, 8, 4), filters=6, stride=(2, 2),
                                           padding="VALID", per_channel=False),
    "10x4 stride 2, 1 channel": dict(shape=(1, 13, 7, 1), filters=9, kernel=(10, 4),
                                     stride=(2, 2), activation="RELU"),
    "dilation 2x3, 8 channels": dict(shape=(1, 9, 10, 8), filters=3, dilation=(2, 3),
                                     activation="RELU6"),
    "5x5 on 3x3 (all border)": dict(shape=(1, 3, 3, 4), filters=2, kernel=(5, 5), in_zp=100),
    "1x1 stride 2": dict(shape=(1, 5, 5, 6), filters=5, kernel=(1, 1), stride=(2, 2)),
    "batches, multipliers >= 0.5": dict(shape=(2, 5, 4, 4), filters=3, stride=(2, 1),
                                        w_scale=1.0, out_scale=1e-3, activation="RELU_N1_TO_1"),
    "tiny multipliers, 2x2": dict(shape=(1, 6, 5, 5), filters=11, kernel=(2, 2), w_scale=1e-4,
                                  out_scale=1.0),
}


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_on_the_host_twin(name):
    assert_dsp_bit_exact(conv_model(**POINTWISE[name]), ["conv2d_s8_1x1_dsp"])


@pytest.mark.parametrize("name", GENERAL)
def test_general_on_the_host_twin(name):
    assert_dsp_bit_exact(conv_model(**GENERAL[name]), ["conv2d_s8_dsp"])


def test_clean_under_address_and_undefined_sanitizers():
    graphs = [conv_model(**POINTWISE["odd channels, 15 pixels"]),
              conv_model(**GENERAL["3x3 SAME, 3 channels (int8 im2col)"]),
              conv_model(**GENERAL["dilation 2x3, 8 channels"]),
              conv_model(**GENERAL["batches, multipliers >= 0.5"])]
    assert_dsp_bit_exact(side_by_side(graphs), ["conv2d_s8_1x1_dsp"] + ["conv2d_s8_dsp"] * 3,
                         sanitize=True)


def test_the_cases_reach_every_requantisation_mode():
    modes = set()
    for case in [*POINTWISE.values(), *GENERAL.values()]:
        call = codegen.lower(conv_model(**case), DSP_HOST).layers[0].call
        modes.add(call.args[-3])    # ..., mode, act_min, act_max
    assert modes == {requant.EXACT, requant.RIGHT, requant.LEFT}


def test_grouped_convolutions_stay_portable():
    g = conv_model(shape=(1, 6, 5, 6), filters=9, groups=3)
    assert codegen.lower(g, DSP_HOST).layers[0].variant == "portable"


def test_boards_without_dsp_take_the_portable_kernels():
    assert codegen.lower(conv_model(kernel=(1, 1)), load_board("host")).layers[0].variant \
        == "portable"


def test_weight_words_pair_channels_as_sxtb16_does():
    w = np.arange(2 * 8, dtype=np.int8).reshape(2, 8)   # w[o][c] = 8 o + c
    words = conv2d_s8_dsp.pack_weights(w).view(np.uint8).reshape(-1, 4)
    # pairs (0, 2), (1, 3), (4, 6), (5, 7); word [w0a + 128, w1a, w0b + 128, w1b]
    assert words.tolist() == [[128, 8, 130, 10], [129, 9, 131, 11], [132, 12, 134, 14],
                              [133, 13, 135, 15]]


def test_window_depth_order_puts_each_rows_leftover_bytes_last():
    # 3 rows of 9 bytes (3x3 window, 3 channels): 8 whole bytes per row, then bytes 8, 17, 26
    order = conv2d_s8_dsp.depth_order(3, 9).tolist()
    assert order == [*range(0, 8), *range(9, 17), *range(18, 26), 8, 17, 26]
    assert conv2d_s8_dsp.depth_order(1, 7).tolist() == list(range(7))


def test_scratch_size_agrees_with_the_kernel_header(tmp_path):
    for depth in (27, 1, 576, 7):
        (tmp_path / str(depth)).mkdir()
        assert conv2d_s8_dsp.scratch_bytes(depth) == c_value(
            tmp_path / str(depth), "conv2d_s8_dsp", f"CONV2D_S8_DSP_SCRATCH_BYTES({depth})")


ALL_CASES = [*POINTWISE.values(), *GENERAL.values()]
QEMU_GROUPS = [ALL_CASES[i:i + 4] for i in range(0, len(ALL_CASES), 4)]  # 4 inputs per firmware


def deploy_side_by_side(graphs, board, tmp_path):
    from tinyrt.device import deploy_device
    path = tmp_path / "layers.tflite"
    path.write_bytes(write_tflite(side_by_side(graphs)))
    return deploy_device(str(path), load_board(board), runs=2, quiet=True)


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("group", range(len(QEMU_GROUPS)))
def test_every_case_on_qemu_m4(tmp_path, group):
    """The cases above, 4 per firmware (the inner loops run as assembly there)."""
    report = deploy_side_by_side([conv_model(**c) for c in QEMU_GROUPS[group]], "qemu-m4",
                                 tmp_path)
    assert report["bit_exact_runs"] == report["runs"] == 2


OFFSET_CASES = {  # >= 16 channel pairs: offset-binary weights, input sums, partial pixel blocks
    "pointwise 40 -> 7, 9 pixels, in_zp -128": dict(shape=(1, 3, 3, 40), filters=7,
                                                     kernel=(1, 1), in_zp=-128, out_zp=127),
    "3x3 SAME, 5 channels (leftover bytes), 7x5": dict(shape=(1, 7, 5, 5), filters=9, in_zp=127,
                                                       activation="RELU6"),
    "3x3 stride 2, 4 channels, multipliers >= 0.5": dict(shape=(1, 7, 7, 4), filters=5,
                                                         stride=(2, 2), w_scale=1.0,
                                                         out_scale=1e-3),
    "dilation 2, 5 channels (im2col), tiny multipliers": dict(shape=(1, 8, 9, 5), filters=3,
                                                              kernel=(3, 3), dilation=(2, 2),
                                                              w_scale=1e-4, out_scale=1.0),
}


@pytest.mark.parametrize("name", OFFSET_CASES)
def test_offset_binary_windows_on_the_host_twin(name):
    g = conv_model(**OFFSET_CASES[name])
    kernel = "conv2d_s8_1x1_dsp" if name.startswith("pointwise") else "conv2d_s8_dsp"
    assert codegen.lower(g, DSP_HOST).layers[0].call.args[-4] == 1   # offset binary
    assert_dsp_bit_exact(g, [kernel])


def test_offset_binary_clean_under_sanitizers():
    graphs = [conv_model(**c) for c in OFFSET_CASES.values()]
    assert_dsp_bit_exact(side_by_side(graphs), ["conv2d_s8_1x1_dsp"] + ["conv2d_s8_dsp"] * 3,
                         sanitize=True)


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
def test_offset_binary_cases_on_qemu_m4(tmp_path):
    report = deploy_side_by_side([conv_model(**c) for c in OFFSET_CASES.values()], "qemu-m4",
                                 tmp_path)
    assert report["bit_exact_runs"] == report["runs"] == 2


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("board", ["qemu-m7", "qemu-m33"])
def test_mixed_cases_on_other_cores(tmp_path, board):
    """One firmware per core: plain and offset-binary weights, pointwise and general."""
    cases = [POINTWISE["odd channels, 15 pixels"], GENERAL["3x3 SAME, 3 channels (int8 im2col)"],
             *list(OFFSET_CASES.values())[:2]]
    report = deploy_side_by_side([conv_model(**c) for c in cases], board, tmp_path)
    assert report["bit_exact_runs"] == report["runs"] == 2
