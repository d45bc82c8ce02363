"""MobileNetV2/MCUNet-style networks (tests/mobilenet.py: float input through QUANTIZE,
inverted residual blocks with 3x3/5x5/7x7 depthwise at stride 1 and 2, residual ADD) are
bit-exact with tflite-runtime with every kernel variant: portable on the host, the DSP kernels'
host twin, and each emulated core's own SIMD kernels."""
from __future__ import annotations

import pytest

from firmware_project import QEMU_BOARDS, requires_arm_gcc, requires_qemu
from mobilenet import mobilenet_v2
from tinyrt.boards import load_board
from tinyrt.ir import verify
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

DSP_TWIN = {**load_board("host"), "features": ["dsp"]}
ACLE_PORTABLE = ["-DTINYRT_ACLE_PORTABLE"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O1", "-g"]


@pytest.fixture(scope="module")
def model():
    graph = mobilenet_v2()
    verify(graph)
    return graph


def assert_runs_bit_exact(result):
    bad = [r for r in result.runs if not r.bit_exact]
    assert not bad, f"{len(bad)}/{len(result.runs)} runs differ (project in {result.project_dir})"


def test_the_model_has_the_layers_users_bring(model):
    ops = [op.type for op in model.ops]
    assert ops[0] == "QUANTIZE" and ops.count("ADD") >= 3
    kernels = {model.t(op.inputs[1]).shape[1] for op in model.ops if op.type == "DEPTHWISE_CONV_2D"}
    strides = {op.attrs["stride_h"] for op in model.ops if op.type == "DEPTHWISE_CONV_2D"}
    assert kernels == {3, 5, 7} and strides == {1, 2}


def test_portable_kernels_are_bit_exact_on_the_host(model):
    assert_runs_bit_exact(verify_host(model, write_tflite(model), runs=3))


def test_dsp_kernels_host_twin_is_bit_exact_under_the_sanitizers(model):
    result = verify_host(model, write_tflite(model), runs=2, board=DSP_TWIN,
                         extra_cflags=ACLE_PORTABLE + SANITIZE)
    assert_runs_bit_exact(result)


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_bit_exact_on_every_emulated_core(model, board, tmp_path):
    from tinyrt.device import deploy_device
    path = tmp_path / "mobilenet_v2_style.tflite"
    path.write_bytes(write_tflite(model))
    if board == "qemu-nrf51":  # 16 KB of SRAM: 1 KB short even streamed, and deploy says so
        from tinyrt.errors import TinyrtError
        with pytest.raises(TinyrtError, match="does not fit board qemu-nrf51"):
            deploy_device(str(path), load_board(board), quiet=True)
        return
    r = deploy_device(str(path), load_board(board), runs=3, quiet=True)
    assert r["bit_exact_runs"] == r["runs"] == 3
