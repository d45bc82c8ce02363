"""FP16 training (`--precision fp16`, templates/kernels/train_*_f16.h, tinyrt/train/reference16.py):
the single-FP16-operation kernels equal numpy's float16 bit for bit, the summing kernels within
one FP16 rounding, the FP16 plan is half the FP32 one's parameters and velocity, a host-built
FP16 training equals reference16 within FP16_TOLERANCE (2^-10 of each tensor's largest), boards
without FP16 arithmetic refuse it, and on qemu-m55 (the MVE kernels) k steps through
tinyrt.train.device give the same bits as the host build (the portable kernels)."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from codegen.render import c_values, kernel_files
from firmware_project import requires_arm_gcc, requires_qemu
from tinyrt import train
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.paths import data_dir
from tinyrt.train import device, fit, host, reference, reference16
from tinyrt.train.finetune import FP16_TOLERANCE
from train_models import gap_cnn, small_cnn

F16 = np.float16


def run_c(tmp_path, header: str, arrays: dict[str, np.ndarray], body: str,
          outputs: list[str]) -> dict[str, np.ndarray]:
    """Compile ``body`` over tr_f16 ``arrays`` (float16 values) with the host cc; the
    ``outputs`` arrays read back as float16."""
    runtime = data_dir("templates") / "runtime"
    files = {n: (runtime / n).read_text() for n in ("tinyrt_math.h", "tinyrt_f16.h")}
    files.update(kernel_files(header))
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    decls = [f"static tr_f16 {n}[{a.size}] = {{\n" + "\n".join(
        c_values(a.astype(F16).astype(np.float32))) + "\n};" for n, a in arrays.items()]
    writes = "\n".join(f"    fwrite({n}, sizeof {n}, 1, stdout);" for n in outputs)
    (tmp_path / "main.c").write_text(
        f'#include <stdio.h>\n#include "kernels/{header}.h"\n' + "\n".join(decls)
        + f"\nint main(void)\n{{\n{body}\n{writes}\n    return 0;\n}}\n")
    exe = tmp_path / "main"
    subprocess.run(["cc", "-std=c11", "-O1", "-Wall", "-Werror", "-o", str(exe),
                    str(tmp_path / "main.c"), "-lm"], check=True)
    raw = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    out, pos = {}, 0
    for n in outputs:
        out[n] = np.frombuffer(raw[pos:pos + 2 * arrays[n].size], F16).reshape(arrays[n].shape)
        pos += 2 * arrays[n].size
    return out


def test_sgd_step_and_scale_are_single_fp16_operations(tmp_path):
    rng = np.random.default_rng(0)
    w, v = (rng.normal(0, 0.3, 37).astype(F16) for _ in range(2))
    got = run_c(tmp_path, "train_sgd_f16", {"w": w, "v": v, "s": v.copy()},
                "    train_sgd_step_f16(w, v, 37, 0.005f);\n    train_scale_f16(s, 37, 0.9f);",
                ["w", "s"])
    params, velocity = [w.astype(np.float32)], [v.astype(np.float32)]
    reference16.step(params, velocity, 0.005)
    reference16.begin(velocity, 0.9, 1)
    assert np.array_equal(got["w"], params[0].astype(F16))
    assert np.array_equal(got["s"], velocity[0].astype(F16))


def test_fc_kernels_round_float32_sums_once_and_fuse_the_weight_gradient(tmp_path):
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(0, 1, 19), rng.normal(0, 0.3, (7, 19)), rng.normal(0, 0.1, 7)
    dy, v = rng.normal(0, 0.1, 7), rng.normal(0, 0.01, (7, 19))
    arrays = {"x": x, "w": w, "b": b, "y": np.zeros(7), "dy": dy, "v": v, "dx": np.zeros(19)}
    got = run_c(tmp_path, "train_fc_f16", arrays,
                "    train_fc_f16(x, 0, 0.0f, 0, w, 0, 7, b, y, 19, 7, 1);\n"
                "    train_fc_backward_weights_f16(x, 0, 0.0f, 0, dy, v, 7, 19, 7);\n"
                "    train_fc_backward_input_f16(dy, w, 0, 7, dx, 0, 0, 19, 7);",
                ["y", "v", "dx"])
    h = {k: a.astype(F16).astype(np.float32) for k, a in arrays.items()}
    one_ulp = lambda got_, want: np.all(np.abs(got_.astype(np.float32) - want)
                                        <= np.spacing(np.abs(want).astype(F16)).astype(np.float32))
    assert one_ulp(got["y"], np.maximum(h["w"] @ h["x"] + h["b"], 0))
    fused = h["v"].astype(np.float64) + np.outer(h["dy"], h["x"]).astype(np.float64)
    assert np.array_equal(got["v"], fused.astype(F16))
    assert one_ulp(got["dx"], h["w"].T @ h["dy"])


def test_the_fp16_plan_halves_parameters_velocity_and_activations():
    board = load_board("qemu-m55")
    p32 = fit.planned(small_cnn(), "last:4", board)[2]
    p16 = fit.planned(small_cnn(), "last:4", board, precision="fp16")[2]
    for name in ("params", "velocity"):
        assert p16.buffer(name).size * 2 == p32.buffer(name).size
    acts = lambda plan: sum(b.size for b in plan.buffers if b.name.startswith(("act:", "grad:")))
    assert acts(p16) * 2 == acts(p32)
    assert p16.arena_bytes < p32.arena_bytes


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m33"])
def test_boards_without_fp16_arithmetic_refuse_fp16_training(board):
    with pytest.raises(TinyrtError, match="FP16 arithmetic") as e:
        device.check_precision("fp16", load_board(board))
    assert "--precision fp32" in e.value.hints


def _data(n: int, shape, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, (n, *shape)).astype(np.int8), rng.integers(0, classes, n)


def worst_rel(tg, got: dict, want: list) -> float:
    worst = 0.0
    for p, w in zip(tg.params, want):
        assert not np.array_equal(w, reference16.r16(p.init)), f"{p.name} did not train"
        worst = max(worst, float(np.abs(got[p.name] - w).max() / np.abs(w).max()))
    return worst


@pytest.mark.parametrize("model, spec, shape, classes", [
    (small_cnn, "last:2", (1, 9, 7, 3), 5), (small_cnn, "last:4", (1, 9, 7, 3), 5),
    (small_cnn, "depthwise_conv_2d_2,7", (1, 9, 7, 3), 5),
    (small_cnn, "bias:last:3,last:2:0.5", (1, 9, 7, 3), 5),
    (gap_cnn, "last:2", (1, 7, 6, 3), 4)])
def test_host_fp16_training_equals_reference16_within_the_tolerance(model, spec, shape, classes):
    x, y = _data(10, shape, classes, seed=2)
    project = train.generate(model(), spec, load_board("host"), host_main=True, precision="fp16")
    assert all(h.endswith("_f16") for h in project.code.headers)
    boundary = reference.boundary_activations(project.tg, x)
    want = reference16.train(project.tg, boundary, y, 0.05, 0.9, 3)
    with host.built(project.files) as exe:
        got = host.train(exe, project.tg, x, y, 0.05, 0.9, 3, eval_inputs=x[:4])
    params = train.params_from_bytes(project.tg, got["params"], "fp16")
    assert worst_rel(project.tg, params, want["params"]) <= FP16_TOLERANCE
    assert got["predicted"] == want["predicted"]
    assert got["eval"] == reference16.evaluate(project.tg, want["params"], boundary[:4])


@requires_arm_gcc
@requires_qemu
def test_qemu_m55_fp16_k_steps_equal_the_host_build_and_reference16():
    x, y = _data(12, (1, 9, 7, 3), 5, seed=3)
    with device.deploy(small_cnn(), load_board("qemu-m55"), "last:2", precision="fp16") as t:
        assert t.project.code.variants["update"] == "mve"
        assert t.project.code.variants["backward_weights FULLY_CONNECTED"] == "mve"
        epoch = t.train(x, y, lr=0.05, momentum=0.9, batch=4)
        raw = t.raw_params()
        assert min(epoch.step_counts) > 0
    project = train.generate(small_cnn(), "last:2", load_board("host"), host_main=True,
                             precision="fp16")
    with host.built(project.files) as exe:
        on_host = host.train(exe, project.tg, x, y, 0.05, 0.9, 4)
    assert raw == on_host["params"]      # MVE kernels == portable twins, bit for bit
    boundary = reference.boundary_activations(project.tg, x)
    want = reference16.train(project.tg, boundary, y, 0.05, 0.9, 4)["params"]
    got = train.params_from_bytes(project.tg, raw, "fp16")
    assert worst_rel(project.tg, got, want) <= FP16_TOLERANCE
