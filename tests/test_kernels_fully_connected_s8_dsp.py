"""fully_connected_s8_dsp (templates/kernels/fully_connected_s8_dsp.h): FULLY_CONNECTED int8 on
the Arm DSP extension is bit-exact with tflite-runtime on the host twin (also under the
sanitizers) and on qemu-m4: depths and output counts off the 8-channel / 4-output blocking,
batches, per-tensor and per-channel weights, extreme zero points and multipliers (every
tr_requant mode), every fused activation."""

import numpy as np
import pytest

import codegen
from conformance import c_value
from firmware_project import requires_arm_gcc, requires_qemu
from test_kernels_conv2d_s8_dsp import DSP_HOST, assert_dsp_bit_exact, deploy_side_by_side, \
    side_by_side
from test_op_fully_connected import fc_model
from tinyrt.kernels import fully_connected_s8_dsp, requant

CASES = {  # name -> fc_model arguments
    "33 -> 7, RELU": dict(batches=1, in_depth=33, out_depth=7, in_zp=-3, out_zp=5,
                          activation="RELU"),
    "batches, per-channel, extreme zero points": dict(batches=2, in_depth=16, out_depth=9,
                                                      in_zp=-128, out_zp=127, per_channel=True),
    "640 -> 128 (ad01), in_zp 127": dict(batches=1, in_depth=640, out_depth=128, in_zp=127,
                                         out_zp=-128),
    "one input, one output": dict(batches=1, in_depth=1, out_depth=1, in_zp=0, out_zp=0),
    "3 batches, 64 -> 10, RELU6": dict(batches=3, in_depth=64, out_depth=10, in_zp=11,
                                       out_zp=-7, activation="RELU6"),
    "tiny multipliers": dict(batches=1, in_depth=24, out_depth=6, in_zp=-128, out_zp=-128,
                             w_scale=1e-4, activation="RELU_N1_TO_1"),
    "multipliers >= 0.5 (left shifts)": dict(batches=1, in_depth=12, out_depth=5, in_zp=5,
                                             out_zp=3, w_scale=10.0),
    "huge multipliers (exact mode)": dict(batches=1, in_depth=200, out_depth=3, in_zp=127,
                                          out_zp=127, w_scale=50.0, per_channel=True),
}


def model(case):
    c = dict(case)
    return fc_model(c.pop("batches"), c.pop("in_depth"), c.pop("out_depth"), c.pop("in_zp"),
                    c.pop("out_zp"), **c)


@pytest.mark.parametrize("name", CASES)
def test_on_the_host_twin(name):
    assert_dsp_bit_exact(model(CASES[name]), ["fully_connected_s8_dsp"])


def test_clean_under_address_and_undefined_sanitizers():
    graphs = [model(CASES[n]) for n in ("33 -> 7, RELU", "batches, per-channel, extreme zero "
                                        "points", "one input, one output",
                                        "huge multipliers (exact mode)")]
    assert_dsp_bit_exact(side_by_side(graphs), ["fully_connected_s8_dsp"] * 4, sanitize=True)


def test_the_cases_reach_every_requantisation_mode():
    modes = {codegen.lower(model(c), DSP_HOST).layers[0].call.args[-3] for c in CASES.values()}
    assert modes == {requant.EXACT, requant.RIGHT, requant.LEFT}


def test_weight_words_are_offset_binary_pairs():
    w = np.arange(4 * 8, dtype=np.int8).reshape(4, 8)   # w[o][c] = 8 o + c
    rq = {k: np.zeros(4, np.int32) for k in ("rq_mult", "rq_shift", "rq_add")}
    rows = fully_connected_s8_dsp.pack_rows(w, np.array([1, 2, 3, 4], np.int32), rq)
    assert rows[:4].tolist() == [1 + 256 * 2, 2, 3 + 256 * 4, 4]
    words = rows[fully_connected_s8_dsp.ROW_HEAD:].view(np.uint8).reshape(-1, 4)
    # pair (0, 2): outputs (0, 1) then (2, 3); output o of each pair + 128
    assert words[:2].tolist() == [[128, 8, 130, 10], [144, 24, 146, 26]]


def test_scratch_size_agrees_with_the_kernel_header(tmp_path):
    for n in (1, 8, 33, 640):
        (tmp_path / str(n)).mkdir()
        assert fully_connected_s8_dsp.scratch_bytes(n) == c_value(
            tmp_path / str(n), "fully_connected_s8_dsp", f"FC_S8_DSP_SCRATCH_BYTES({n})")


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("group", [0, 1])
def test_every_case_on_qemu_m4(tmp_path, group):
    """The cases above, 4 per firmware (the inner loop runs as assembly there)."""
    cases = list(CASES.values())[4 * group:4 * group + 4]
    report = deploy_side_by_side([model(c) for c in cases], "qemu-m4", tmp_path)
    assert report["bit_exact_runs"] == report["runs"] == 2


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("board", ["qemu-m7", "qemu-m33"])
def test_cases_on_other_cores(tmp_path, board):
    """One firmware per core: blocking tails, batches, every requantisation mode."""
    cases = [CASES[n] for n in ("33 -> 7, RELU", "3 batches, 64 -> 10, RELU6", "tiny multipliers",
                                "huge multipliers (exact mode)")]
    report = deploy_side_by_side([model(c) for c in cases], board, tmp_path)
    assert report["bit_exact_runs"] == report["runs"] == 2
