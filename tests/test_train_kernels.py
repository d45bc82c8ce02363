"""Each FP32 training kernel (templates/kernels/train_*.h), compiled with the host cc, equals
the numpy reference of tinyrt/train/reference.py on small random shapes: odd sizes, strides,
SAME and VALID padding, a depth multiplier, int8 and float inputs, the gradient written
over the saved input it is computed from, and channel-sparse weights (the first trained_c
output channels' rows train, the others are frozen constants)."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from codegen.render import c_values, kernel_files
from tinyrt.ops.geometry import window_axis
from tinyrt.paths import data_dir
from tinyrt.train import reference as R
from tinyrt.train.graph import ACTIVATIONS, TailOp

RTOL = 1e-5


def run_c(tmp_path, header: str, arrays: dict[str, np.ndarray], body: str,
          outputs: list[str]) -> dict[str, np.ndarray]:
    """Compile a program holding ``arrays`` (float32, or int8 when the array is) that runs
    ``body`` and writes the ``outputs`` arrays; return them as float32/int8 arrays."""
    files = {"tinyrt_math.h": (data_dir("templates") / "runtime" / "tinyrt_math.h").read_text(),
             **kernel_files(header)}
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    decls = []
    for name, arr in arrays.items():
        ctype = "int8_t" if arr.dtype == np.int8 else "float"
        values = "\n".join(c_values(arr.astype(arr.dtype if arr.dtype == np.int8 else np.float32)))
        decls.append(f"static {ctype} {name}[{max(arr.size, 1)}] = {{\n{values}\n}};")
    writes = "\n".join(f"    fwrite({n}, sizeof {n}, 1, stdout);" for n in outputs)
    (tmp_path / "main.c").write_text(
        f'#include <stdio.h>\n#include <stdint.h>\n#include "kernels/{header}.h"\n'
        + "\n".join(decls) + f"\nint main(void)\n{{\n{body}\n{writes}\n    return 0;\n}}\n")
    exe = tmp_path / "main"
    subprocess.run(["cc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror",
                    "-Wno-unused-function", "-Wno-unused-variable", "-o", str(exe), str(tmp_path / "main.c"), "-lm"],
                   check=True)
    raw = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    result, pos = {}, 0
    for n in outputs:
        arr = arrays[n]
        size = arr.size * (1 if arr.dtype == np.int8 else 4)
        result[n] = np.frombuffer(raw[pos:pos + size], np.int8 if arr.dtype == np.int8
                                  else np.float32).reshape(arr.shape)
        pos += size
    return result


def close(got: np.ndarray, want: np.ndarray) -> None:
    scale = max(float(np.abs(want).max()), 1e-30)
    assert float(np.abs(got - want).max()) / scale <= RTOL, (got, want)


def conv_op(kind, in_shape, out_c, k, stride, padding, dm=1, act="RELU") -> TailOp:
    h, w, c = in_shape
    ah, aw = (window_axis(h, k, stride, 1, padding), window_axis(w, k, stride, 1, padding))
    if kind == "DEPTHWISE_CONV_2D":
        out_c = c * dm
    geom = {"kh": k, "kw": k, "sh": stride, "sw": stride, "ph": ah.pad, "pw": aw.pad, "dm": dm}
    return TailOp(0, kind, "case", 0, 1, (1, h, w, c), (1, ah.out, aw.out, out_c), act, geom)


def random_case(op: TailOp, rng, s8: bool):
    h, w, c = op.x_shape[1:]
    oc = op.y_shape[3]
    shape = {"CONV_2D": (oc, op.geom["kh"], op.geom["kw"], c),
             "DEPTHWISE_CONV_2D": (1, op.geom["kh"], op.geom["kw"], oc)}.get(op.type)
    q = rng.integers(-128, 128, (h, w, c)).astype(np.int8)
    scale, zp = np.float32(0.03), -7
    x = (scale * (q.astype(np.int32) - zp).astype(np.float32)) if s8 else \
        rng.standard_normal((h, w, c)).astype(np.float32)
    weights = rng.standard_normal(shape).astype(np.float32) if shape else None
    bias = rng.standard_normal(oc).astype(np.float32) if shape else None
    return q, scale, zp, x, weights, bias


CONV_CASES = [  # (op, input HWC, out channels, k, stride, padding, depth multiplier,
    #               trained output channels: 0 all)
    ("CONV_2D", (5, 7, 3), 4, 3, 1, "SAME", 1, 0),
    ("CONV_2D", (7, 6, 2), 5, 3, 2, "SAME", 1, 2),
    ("CONV_2D", (8, 5, 3), 2, 3, 2, "VALID", 1, 0),
    ("CONV_2D", (3, 5, 6), 7, 1, 1, "SAME", 1, 3),
    ("CONV_2D", (6, 6, 2), 3, 5, 3, "SAME", 1, 1),
    ("DEPTHWISE_CONV_2D", (5, 6, 3), 0, 3, 1, "SAME", 2, 0),
    ("DEPTHWISE_CONV_2D", (7, 5, 4), 0, 3, 2, "SAME", 1, 0),
    ("DEPTHWISE_CONV_2D", (6, 7, 2), 0, 3, 2, "VALID", 3, 0),
]


@pytest.mark.parametrize("kind,shape,oc,k,stride,padding,dm,rows", CONV_CASES)
def test_conv_kernels_equal_numpy(tmp_path, kind, shape, oc, k, stride, padding, dm, rows):
    rng = np.random.default_rng(hash((kind, shape, k, stride)) % 2**32)
    op = conv_op(kind, shape, oc, k, stride, padding, dm, act="RELU6")
    s8 = stride == 2   # the strided cases read an int8 boundary input
    q, scale, zp, x, full, b = random_case(op, rng, s8)
    w, frozen = sparse(op, full, rows)
    params = _params(op, w, b)
    y = R.forward_op(op, x, params)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    start = rng.standard_normal(w.shape).astype(np.float32)   # gradients accumulate
    grads = [start.copy(), np.zeros_like(b)]
    R.backward_op(op, x, dy, params, grads)
    saved = np.maximum(x, 0)   # the input as if a ReLU produced it: its mask applies
    want_dx = R.backward_op(op, saved, dy, params, [np.zeros_like(w), np.zeros_like(b)]) \
        * R.act_mask(saved, "RELU")
    fam = "train_conv2d" if kind == "CONV_2D" else "train_dwconv"
    g = op.geom
    ih, iw, ic = shape
    _, yh, yw, yc = op.y_shape
    last = dm if kind == "DEPTHWISE_CONV_2D" else yc
    dims = f"{ih}, {iw}, {ic}, {yh}, {yw}, {last}, {g['kh']}, {g['kw']}, {g['sh']}, " \
           f"{g['sw']}, {g['ph']}, {g['pw']}"
    src = ("q, 1, 0.0299999993f, -7" if s8 else "x, 0, 0.0f, 0")
    arrays = {"q": q, "x": x, "w": w, "wf": frozen, "b": b, "y": np.zeros(y.shape, np.float32),
              "dy": dy, "gw": start, "io": saved.copy()}
    split = "" if kind == "DEPTHWISE_CONV_2D" else f"wf, {rows or yc}, "
    rows_arg = "" if kind == "DEPTHWISE_CONV_2D" else f"{rows or yc}, "
    body = (f"    {fam}_f32({src}, w, {split}b, y, {dims}, {ACTIVATIONS['RELU6']});\n"
            f"    {fam}_backward_weights_f32({src}, dy, gw, {rows_arg}{dims});\n"
            f"    {fam}_backward_input_f32(dy, w, {split}io, io, 1, {dims});")
    got = run_c(tmp_path, f"{fam}_f32", arrays, body, ["y", "gw", "io"])
    close(got["y"], y)
    close(got["gw"], grads[0])
    close(got["io"], want_dx)


def _params(op, w, b):
    op.weight, op.bias = 0, 1
    return [w, b]


def sparse(op: TailOp, w: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The trained rows of ``w`` and its frozen ones (empty when all rows train)."""
    if not rows:
        return w, np.zeros(0, np.float32)
    op.trained_c, op.frozen_weight = rows, w[rows:].copy()
    return w[:rows].copy(), op.frozen_weight


POOL_CASES = [  # (op, input HWC, window, stride, padding)
    ("AVERAGE_POOL_2D", (5, 7, 3), 3, 2, "SAME"),
    ("AVERAGE_POOL_2D", (6, 5, 2), 2, 2, "VALID"),
    ("AVERAGE_POOL_2D", (5, 3, 4), 5, 5, "VALID"),    # global
    ("MAX_POOL_2D", (5, 7, 3), 3, 2, "SAME"),
    ("MAX_POOL_2D", (4, 4, 2), 2, 1, "VALID"),
]


@pytest.mark.parametrize("kind,shape,k,stride,padding", POOL_CASES)
def test_pool_kernels_equal_numpy(tmp_path, kind, shape, k, stride, padding):
    rng = np.random.default_rng(k * 7 + stride)
    h, w, c = shape
    kh, kw = (h, w) if k == 5 and padding == "VALID" else (k, k)
    ah, aw = window_axis(h, kh, stride if kh == k else h, 1, padding), \
        window_axis(w, kw, stride if kw == k else w, 1, padding)
    geom = {"kh": kh, "kw": kw, "sh": ah.stride, "sw": aw.stride, "ph": ah.pad, "pw": aw.pad,
            "dm": 1}
    op = TailOp(0, kind, "case", 0, 1, (1, h, w, c), (1, ah.out, aw.out, c), "RELU", geom)
    x = np.maximum(rng.standard_normal(shape).astype(np.float32), 0)   # a ReLU's output
    y = R.forward_op(op, x, [])
    dy = rng.standard_normal(y.shape).astype(np.float32)
    want = R.backward_op(op, x, dy, [], []) * R.act_mask(x, "RELU")
    dims = f"{h}, {w}, {c}, {ah.out}, {aw.out}, {kh}, {kw}, {ah.stride}, {aw.stride}, " \
           f"{ah.pad}, {aw.pad}"
    is_max = int(kind == "MAX_POOL_2D")
    backward = "train_maxpool_backward_input_f32(dy, dx, x, 1, " if is_max else \
        "train_avgpool_backward_input_f32(dy, io, io, 1, "
    arrays = {"x": x, "io": x.copy(), "y": np.zeros(y.shape, np.float32), "dy": dy,
              "dx": np.zeros_like(x)}
    body = (f"    train_pool_f32(x, y, {dims}, {is_max}, 1);\n"
            f"    {backward}{dims});")
    got = run_c(tmp_path, "train_pool_f32", arrays, body, ["y", "dx" if is_max else "io"])
    close(got["y"], y)
    close(got["dx" if is_max else "io"], want)


@pytest.mark.parametrize("rows", [0, 3])
def test_fully_connected_kernels_equal_numpy(tmp_path, rows):
    rng = np.random.default_rng(3)
    n_in, n_out = 13, 7
    op = TailOp(0, "FULLY_CONNECTED", "fc", 0, 1, (1, 1, 1, n_in), (1, 1, 1, n_out), "RELU")
    w, frozen = sparse(op, rng.standard_normal((n_out, n_in)).astype(np.float32), rows)
    b = rng.standard_normal(n_out).astype(np.float32)
    q = rng.integers(-128, 128, n_in).astype(np.int8)
    x = np.float32(0.02) * (q.astype(np.int32) - 3).astype(np.float32)
    params = _params(op, w, b)
    y = R.forward_op(op, x, params)
    dy = rng.standard_normal(n_out).astype(np.float32)
    grads = [np.ones_like(w), np.ones_like(b)]
    saved = np.maximum(x, 0)
    want_dx = R.backward_op(op, saved, dy, params, [np.zeros_like(w), np.zeros_like(b)]) \
        * R.act_mask(saved, "RELU")
    R.backward_op(op, x, dy, params, grads)
    arrays = {"q": q, "w": w, "wf": frozen, "b": b, "y": np.zeros(n_out, np.float32), "dy": dy,
              "gw": np.ones_like(w), "gb": np.ones_like(b), "io": saved.copy()}
    split, dims = f"wf, {rows or n_out}", f"{n_in}, {n_out}"
    body = (f"    train_fc_f32(q, 1, 0.0199999996f, 3, w, {split}, b, y, {dims}, 1);\n"
            f"    train_fc_backward_weights_f32(q, 1, 0.0199999996f, 3, dy, gw, {rows or n_out}, "
            f"{dims});\n"
            f"    train_fc_backward_input_f32(dy, w, {split}, io, io, 1, {dims});")
    got = run_c(tmp_path, "train_fc_f32", arrays, body, ["y", "gw", "io"])
    close(got["y"], y)
    close(got["gw"], grads[0])
    close(got["io"], want_dx)


def test_bias_gradient_adds_the_sum_over_positions(tmp_path):
    dy = np.random.default_rng(4).standard_normal((15, 6)).astype(np.float32)
    arrays = {"dy": dy, "gb": np.full(6, 0.5, np.float32)}
    got = run_c(tmp_path, "train_bias_f32", arrays, "    train_bias_grad_f32(dy, gb, 15, 6);",
                ["gb"])
    close(got["gb"], 0.5 + dy.sum(axis=0))


@pytest.mark.parametrize("act", ["RELU", "RELU6"])
def test_activation_backward_passes_only_inside_the_linear_range(tmp_path, act):
    y = np.array([-1, 0, 0.5, 5.9, 6, 7], np.float32)
    arrays = {"y": y, "g": np.ones(6, np.float32)}
    got = run_c(tmp_path, "train_act_f32", arrays,
                f"    train_act_backward_f32(y, g, 6, {ACTIVATIONS[act]});", ["g"])
    assert got["g"].tolist() == R.act_mask(y, act).tolist()


def test_softmax_cross_entropy_equals_numpy(tmp_path):
    z = np.random.default_rng(5).standard_normal(11).astype(np.float32) * 4
    loss, grad = R.xent(z, 7)
    arrays = {"z": z, "g": np.zeros(11, np.float32), "out": np.zeros(2, np.float32)}
    body = ("    int predicted = -1;\n"
            "    out[0] = train_softmax_xent_f32(z, g, 11, 7, &predicted);\n"
            "    out[1] = (float)predicted;")
    got = run_c(tmp_path, "train_xent_f32", arrays, body, ["g", "out"])
    close(got["g"], grad)
    assert abs(got["out"][0] - loss) <= RTOL * abs(loss)
    assert got["out"][1] == int(np.argmax(z))


def test_the_softmax_exp_gives_the_references_bits(tmp_path):
    """train_expf_f32 and reference.expf32: the same float32 operations, the same bits (so the
    C library's expf, which differs by a last bit between newlib, glibc and numpy, plays no
    part), and within 1.2 ulp of exp; 0 below -86."""
    rng = np.random.default_rng(8)
    x = np.concatenate([-rng.uniform(0, 90, 4000), -rng.uniform(0, 1e-3, 100),
                        [0.0, -86.0, -86.0001, -0.34657359, -0.34657362]]).astype(np.float32)
    body = ("    for (int i = 0; i < (int)(sizeof x / sizeof x[0]); i++) {\n"
            "        y[i] = train_expf_f32(x[i]);\n"
            "    }")
    got = run_c(tmp_path, "train_xent_f32", {"x": x, "y": np.zeros_like(x)}, body, ["y"])
    want = R.expf32(x)
    assert got["y"].view(np.uint32).tolist() == want.view(np.uint32).tolist()
    exact = np.exp(x.astype(np.float64))
    normal = x > -80
    ulps = np.abs(want[normal] - exact[normal]) / np.spacing(exact[normal].astype(np.float32))
    assert ulps.max() < 1.2 and not want[x < -86].any()


def test_sgd_begin_and_step_equal_numpy(tmp_path):
    """A batch begins with v *= momentum; the step is w -= lr * v."""
    rng = np.random.default_rng(6)
    w, v = (rng.standard_normal(9).astype(np.float32) for _ in range(2))
    want_w, want_v = [w.copy()], [v.copy()]
    assert R.begin(want_v, 0.9, 4) == np.float32(0.25)
    R.step(want_w, want_v, 0.05)
    got = run_c(tmp_path, "train_sgd_f32", {"w": w, "v": v},
                "    train_scale_f32(v, 9, 0.899999976f);\n"
                "    train_sgd_step_f32(w, v, 9, 0.0500000007f);", ["w", "v"])
    assert got["v"].tolist() == want_v[0].tolist()   # one rounding each: bit for bit
    assert got["w"].tolist() == want_w[0].tolist()


def test_a_separate_gradient_sum_trains_the_same_as_the_velocity_accumulation():
    """reference.update (v = m*v + G/batch with G summed apart) and begin/sample/step (the C's
    order) are the same training up to rounding."""
    from tinyrt.train import prepare
    from train_models import small_cnn
    tg = prepare(small_cnn(), "last:2")
    rng = np.random.default_rng(0)
    q = R.boundary_activations(tg, rng.integers(-128, 128, (7, 1, 9, 7, 3)).astype(np.int8))
    y = rng.integers(0, 5, 7)
    want = R.train(tg, q, y, 0.05, 0.9, 3)["params"]
    params = [p.init.copy() for p in tg.params]
    grads, velocity = [np.zeros_like(w) for w in params], [np.zeros_like(w) for w in params]
    for start in range(0, 7, 3):
        chunk = range(start, min(7, start + 3))
        for i in chunk:
            R.sample(tg, params, grads, q[i], int(y[i]))
        R.update(params, grads, velocity, 0.05, 0.9, len(chunk))
    for got, ref, p in zip(params, want, tg.params):
        assert not np.array_equal(got, p.init)
        close(got, ref)
