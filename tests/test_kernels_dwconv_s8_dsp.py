"""dwconv_s8_dsp (templates/kernels/dwconv_s8_dsp.h, tinyrt/kernels/dwconv_s8_dsp.py): int8
DEPTHWISE_CONV_2D with the Arm DSP extension is bit-exact with tflite-runtime, on the host twin
(exact C models of the instructions, under the sanitizers too) and on the emulated Cortex-M4.
Also the helpers the pool and add tests share: ``host_exact``, ``qemu_exact``, ``c_value``."""
import tempfile
from pathlib import Path

import numpy as np
import pytest

import codegen
from builder import ModelBuilder
from conformance import c_value, rand_int8
from firmware_project import requires_arm_gcc, requires_qemu
from test_op_depthwise_conv2d import dw_model
from tinyrt.boards import load_board
from tinyrt.kernels import dwconv_s8_dsp, requant
from tinyrt.ops.geometry import window_axis
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

DSP_HOST = {**load_board("host"), "features": ["dsp"]}
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O1", "-g"]


def host_exact(graph, kernel: str, sanitize: bool = False) -> list:
    """Run the host twin against tflite-runtime; every layer of ``graph`` must use ``kernel``.
    Returns the lowered calls."""
    flags = ["-DTINYRT_ACLE_PORTABLE", *(SANITIZE if sanitize else [])]
    r = verify_host(graph, write_tflite(graph), runs=3, board=DSP_HOST, extra_cflags=flags)
    assert [(l.variant, l.kernel) for l in r.lowered.layers] == \
        [("dsp", kernel)] * len(r.lowered.layers)
    bad = [run for run in r.runs if not run.bit_exact]
    assert not bad, f"{bad[0].mismatched} values differ (project kept in {r.project_dir})"
    return [l.call for l in r.lowered.layers]


def qemu_exact(graph, kernel, board: str = "qemu-m4") -> None:
    """``kernel``: the kernel every layer uses, or the set of kernels the layers use."""
    from tinyrt.device import deploy_device
    b = load_board(board)
    want = {kernel} if isinstance(kernel, str) else set(kernel)
    assert {l.kernel for l in codegen.lower(graph, b).layers} == want
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(write_tflite(graph))
        r = deploy_device(str(path), b, runs=2, quiet=True)
    assert r["bit_exact_runs"] == r["runs"]


MODE_ARG = 21   # position of `mode` in dwconv_s8_dsp's arguments


def chain(channels, layers, in_zp=-3, h=12, w=11, seed=0):
    """One model of depthwise layers in sequence: ``layers`` are dicts of kernel, stride,
    padding, activation, per_channel, w_scale, out_scale, out_zp."""
    rng = np.random.default_rng(seed)
    m = ModelBuilder()
    x = m.input((1, h, w, channels), scale=0.05, zero_point=in_zp)
    in_scale = 0.05
    for spec in layers:
        k, s = spec.get("kernel", 3), spec.get("stride", 1)
        pad = spec.get("padding", "SAME")
        ws = spec.get("w_scale", 0.02)
        ws = ws * 10 ** rng.uniform(-1, 1, channels) if spec.get("per_channel", True) else ws
        wt = m.const(rand_int8(rng, (1, k, k, channels)), "int8", scale=ws, zero_point=0, axis=3)
        bias = m.const(rng.integers(-5000, 5000, channels), "int32",
                       scale=in_scale * np.atleast_1d(ws), zero_point=0)
        h, w = window_axis(h, k, s, 1, pad).out, window_axis(w, k, s, 1, pad).out
        in_scale = spec.get("out_scale", 0.1)
        y = m.tensor((1, h, w, channels), scale=in_scale, zero_point=spec.get("out_zp", 5))
        m.op("DEPTHWISE_CONV_2D", [x, wt, bias], [y], padding=pad, stride_h=s, stride_w=s,
             depth_multiplier=1, activation=spec.get("activation", "NONE"))
        x = y
    return m.graph([x])


# Every kernel size, stride 1 and 2, SAME and VALID, all activations, extreme zero points, and
# the three requantisation modes: RIGHT (small scales), LEFT (effective scale >= 0.5 on every
# channel), EXACT (channels on both sides of 0.5).
LAYERS = [
    dict(kernel=3, stride=1, activation="RELU6", out_zp=-128),
    dict(kernel=5, stride=2, per_channel=False, out_zp=127, activation="RELU_N1_TO_1"),
    dict(kernel=7, stride=1, activation="RELU", out_zp=0),
    dict(kernel=3, stride=2, padding="VALID", w_scale=0.5, out_scale=1e-3, out_zp=-7),
    dict(kernel=5, stride=1, w_scale=50.0, out_scale=0.1, out_zp=3),
    dict(kernel=3, stride=1, w_scale=1e-4, out_scale=1.0, out_zp=-128),
]


def test_layers_take_the_dsp_kernel_and_cover_every_requantisation_mode():
    calls = [l.call for l in codegen.lower(chain(13, LAYERS), DSP_HOST).layers]
    assert {c.kernel for c in calls} == {"dwconv_s8_dsp"}
    assert {c.args[MODE_ARG] for c in calls} == {requant.RIGHT, requant.LEFT, requant.EXACT}


@pytest.mark.parametrize("channels", [4, 13, 6, 1])
def test_host_twin_is_bit_exact(channels):
    """Multiples of 4 and not (tails of 1, 2, 3 channels: 13 then 3 -> 7 in the next case)."""
    host_exact(chain(channels, LAYERS, in_zp=127), "dwconv_s8_dsp")


def test_host_twin_tail_of_three_channels_and_input_zero_point_minus_128():
    host_exact(chain(7, LAYERS[:3], in_zp=-128, h=9, w=10), "dwconv_s8_dsp")


@pytest.mark.parametrize("case", [dict(shape=(2, 5, 6, 5), stride=(2, 2)),
                                  dict(shape=(1, 2, 3, 9), kernel=(5, 5)),
                                  dict(shape=(1, 8, 7, 6), kernel=(3, 5), stride=(2, 1)),
                                  dict(bias=False, in_zp=-77)])
def test_host_twin_batches_small_inputs_rectangular_kernels_no_bias(case):
    host_exact(dw_model(**case), "dwconv_s8_dsp")


def test_clean_under_address_and_undefined_sanitizers():
    host_exact(chain(7, LAYERS, in_zp=-128, h=9, w=8), "dwconv_s8_dsp", sanitize=True)


@pytest.mark.parametrize("case", [dict(multiplier=2), dict(dilation=(2, 2)),
                                  dict(kernel=(7, 8))])
def test_other_layers_stay_portable(case):
    layer = codegen.lower(dw_model(**case), DSP_HOST).layers[0]
    assert layer.variant == "portable"


def test_scratch_size_agrees_with_the_kernel_header(tmp_path):
    assert dwconv_s8_dsp.scratch_bytes(3, 5, 7) == c_value(
        tmp_path, "dwconv_s8_dsp", "DWCONV_S8_DSP_SCRATCH_BYTES(3, 5, 7)")


def test_parameter_stream_length_agrees_with_the_kernel_header(tmp_path):
    g = dw_model(shape=(1, 5, 5, 11), kernel=(5, 5))
    call = dwconv_s8_dsp.lower(g, g.ops[0], DSP_HOST)
    words = c_value(tmp_path, "dwconv_s8_dsp",
                    "2 * DWCONV_S8_DSP_GROUP_WORDS(25) + 3 * DWCONV_S8_DSP_TAIL_WORDS(25)")
    assert call.consts["params"].size == words


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("channels", [13, 8])
def test_bit_exact_on_the_emulated_cortex_m4(channels):
    qemu_exact(chain(channels, LAYERS, in_zp=-128 if channels == 8 else 127), "dwconv_s8_dsp")


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("board", ["qemu-m7", "qemu-m33"])
def test_bit_exact_on_the_emulated_cortex_m7_and_m33(board):
    """One build per core: a channel tail of 3, both extreme input zero points in the chain."""
    qemu_exact(chain(11, LAYERS, in_zp=-128), "dwconv_s8_dsp", board)
