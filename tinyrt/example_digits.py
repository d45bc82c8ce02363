"""A trained example model: a small CNN for scikit-learn's 8x8 handwritten digits.

The data ship inside scikit-learn (``load_digits``: 1,797 images, no download). Each image is
scaled to [0, 1] and upscaled to 16x16 (each pixel repeated 2x2). The network,

    input 16x16x1 -> CONV 3x3x8 SAME + ReLU -> MAXPOOL 2x2 -> CONV 3x3x16 SAME + ReLU
    -> MAXPOOL 2x2 -> RESHAPE 256 -> FULLY_CONNECTED 10 -> SOFTMAX

is trained here with plain numpy (im2col convolutions, Adam, float64, a fixed seed: the same
weights on every run, in a few seconds), written as a float ``.tflite`` with tinyrt's writer and
quantised to int8 with tinyrt's quantizer. ``make_example`` writes the models and the data files
that `tinyrt quantize` takes, and returns the float and int8 test accuracies.

    python -m tinyrt.example_digits OUT_DIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .errors import TinyrtError
from .ir import Graph, Op, Tensor
from .writer import write_tflite

SIZE, CLASSES = 16, 10
CONV1, CONV2 = 8, 16
TEST_FRACTION = 0.2


def load_data(seed: int = 0):
    """(x_train, y_train, x_test, y_test); x: float32 [N, 16, 16, 1] in [0, 1]."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise TinyrtError("scikit-learn is needed for the example model (it ships the digits)",
                          ["make setup", "pip install scikit-learn"]) from None
    digits = load_digits()
    x = (digits.images / 16.0).repeat(2, axis=1).repeat(2, axis=2)[..., None].astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


# ---- numpy layers (NHWC, weights in TFLite layout [O, KH, KW, I]) ------------------------------

def im2col(x: np.ndarray) -> np.ndarray:
    """3x3 SAME patches: [N, H, W, C] -> [N*H*W, 9*C], ordered (kh, kw, c)."""
    n, h, w, c = x.shape
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    cols = [p[:, i:i + h, j:j + w, :] for i in range(3) for j in range(3)]
    return np.concatenate(cols, axis=3).reshape(n * h * w, 9 * c)


def col2im(cols: np.ndarray, shape) -> np.ndarray:
    n, h, w, c = shape
    cols = cols.reshape(n, h, w, 9, c)
    p = np.zeros((n, h + 2, w + 2, c))
    for k in range(9):
        i, j = divmod(k, 3)
        p[:, i:i + h, j:j + w, :] += cols[:, :, :, k, :]
    return p[:, 1:-1, 1:-1, :]


def conv_forward(x, w, b):
    n, h, wd, _ = x.shape
    cols = im2col(x)
    y = cols @ w.reshape(w.shape[0], -1).T + b
    return y.reshape(n, h, wd, w.shape[0]), cols


def conv_backward(g, cols, x_shape, w):
    g2 = g.reshape(-1, w.shape[0])
    dw = (g2.T @ cols).reshape(w.shape)
    dx = col2im(g2 @ w.reshape(w.shape[0], -1), x_shape)
    return dx, dw, g2.sum(axis=0)


def pool_forward(x):
    n, h, w, c = x.shape
    r = x.reshape(n, h // 2, 2, w // 2, 2, c)
    y = r.max(axis=(2, 4))
    mask = r == y[:, :, None, :, None, :]
    return y, mask


def pool_backward(g, mask):
    n, h2, _, w2, _, c = mask.shape
    share = mask / mask.sum(axis=(2, 4), keepdims=True)
    return (share * g[:, :, None, :, None, :]).reshape(n, h2 * 2, w2 * 2, c)


def init_params(rng) -> dict:
    def he(shape, fan_in):
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
    return {"w1": he((CONV1, 3, 3, 1), 9), "b1": np.zeros(CONV1),
            "w2": he((CONV2, 3, 3, CONV1), 9 * CONV1), "b2": np.zeros(CONV2),
            "w3": he((CLASSES, 16 * CONV2), 16 * CONV2) / 2, "b3": np.zeros(CLASSES)}


def forward(p: dict, x: np.ndarray, cache: dict | None = None) -> np.ndarray:
    a1, cols1 = conv_forward(x, p["w1"], p["b1"])
    r1 = np.maximum(a1, 0)
    m1, mask1 = pool_forward(r1)
    a2, cols2 = conv_forward(m1, p["w2"], p["b2"])
    r2 = np.maximum(a2, 0)
    m2, mask2 = pool_forward(r2)
    flat = m2.reshape(len(x), -1)
    logits = flat @ p["w3"].T + p["b3"]
    if cache is not None:
        cache.update(x=x, a1=a1, cols1=cols1, mask1=mask1, m1=m1, a2=a2, cols2=cols2,
                     mask2=mask2, m2=m2, flat=flat)
    return logits


def gradients(p: dict, x: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    c: dict = {}
    logits = forward(p, x, c)
    z = logits - logits.max(axis=1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = float(-np.log(prob[np.arange(len(y)), y] + 1e-12).mean())
    g = prob
    g[np.arange(len(y)), y] -= 1
    g /= len(y)
    grads = {"w3": g.T @ c["flat"], "b3": g.sum(axis=0)}
    gm2 = (g @ p["w3"]).reshape(c["m2"].shape)
    ga2 = pool_backward(gm2, c["mask2"]) * (c["a2"] > 0)
    gm1, grads["w2"], grads["b2"] = conv_backward(ga2, c["cols2"], c["m1"].shape, p["w2"])
    ga1 = pool_backward(gm1, c["mask1"]) * (c["a1"] > 0)
    _, grads["w1"], grads["b1"] = conv_backward(ga1, c["cols1"], c["x"].shape, p["w1"])
    return loss, grads


def train(x, y, seed: int = 0, epochs: int = 12, batch: int = 32, lr: float = 3e-3) -> dict:
    """Adam on the cross-entropy; deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    step = 0
    xd = x.astype(np.float64)
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for i in range(0, len(y), batch):
            idx = order[i:i + batch]
            _, g = gradients(p, xd[idx], y[idx])
            step += 1
            for k in p:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                v[k] = 0.999 * v[k] + 0.001 * g[k] ** 2
                mh, vh = m[k] / (1 - 0.9 ** step), v[k] / (1 - 0.999 ** step)
                p[k] -= lr * mh / (np.sqrt(vh) + 1e-8)
    return p


def accuracy(p: dict, x, y) -> float:
    return float((forward(p, x.astype(np.float64)).argmax(axis=1) == y).mean())


# ---- export and quantise ----------------------------------------------------------------------

def float_graph(p: dict) -> Graph:
    tensors: list[Tensor] = []

    def add(name, shape, data=None, dtype="float32"):
        arr = None if data is None else np.asarray(data).astype(dtype)
        tensors.append(Tensor(name, tuple(shape), dtype, None, arr))
        return len(tensors) - 1

    conv = dict(padding="SAME", stride_w=1, stride_h=1, activation="RELU", dilation_w=1,
                dilation_h=1)
    pool = dict(padding="VALID", stride_w=2, stride_h=2, filter_w=2, filter_h=2,
                activation="NONE")
    x = add("image", (1, SIZE, SIZE, 1))
    w1, b1 = add("conv1/weights", p["w1"].shape, p["w1"]), add("conv1/bias", (CONV1,), p["b1"])
    c1 = add("conv1/relu", (1, SIZE, SIZE, CONV1))
    p1 = add("pool1", (1, SIZE // 2, SIZE // 2, CONV1))
    w2, b2 = add("conv2/weights", p["w2"].shape, p["w2"]), add("conv2/bias", (CONV2,), p["b2"])
    c2 = add("conv2/relu", (1, SIZE // 2, SIZE // 2, CONV2))
    p2 = add("pool2", (1, SIZE // 4, SIZE // 4, CONV2))
    flat_n = (SIZE // 4) ** 2 * CONV2
    shape = add("flatten/shape", (2,), [1, flat_n], "int32")
    f = add("flatten", (1, flat_n))
    w3, b3 = add("fc/weights", p["w3"].shape, p["w3"]), add("fc/bias", (CLASSES,), p["b3"])
    logits = add("fc/logits", (1, CLASSES))
    prob = add("probabilities", (1, CLASSES))
    ops = [Op("CONV_2D", [x, w1, b1], [c1], dict(conv), "conv1"),
           Op("MAX_POOL_2D", [c1], [p1], dict(pool), "pool1"),
           Op("CONV_2D", [p1, w2, b2], [c2], dict(conv), "conv2"),
           Op("MAX_POOL_2D", [c2], [p2], dict(pool), "pool2"),
           Op("RESHAPE", [p2, shape], [f], {"new_shape": [1, flat_n]}, "flatten"),
           Op("FULLY_CONNECTED", [f, w3, b3], [logits],
              {"activation": "NONE", "keep_num_dims": False}, "fc"),
           Op("SOFTMAX", [logits], [prob], {"beta": 1.0}, "softmax")]
    return Graph(tensors, ops, [x], [prob], "digits_cnn")


def make_example(out_dir: str | Path, seed: int = 0, calib_count: int = 200,
                 method: str = "minmax", progress: bool = False) -> dict:
    """Train, export, quantise; write the models and data files into ``out_dir``."""
    from .quantize import QuantConfig, quantize
    from .quantize.report import compare
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_test, y_test = load_data(seed)
    params = train(x_train, y_train, seed)
    graph = float_graph(params)
    calib = x_train[np.random.default_rng(seed).permutation(len(x_train))[:calib_count]]
    result = quantize(graph, [[c[None]] for c in calib], QuantConfig(method=method),
                      progress=progress)
    paths = {"float_model": out / "digits_float.tflite", "int8_model": out / "digits_int8.tflite",
             "calibration": out / "digits_calib.npy", "test_inputs": out / "digits_test.npy",
             "test_labels": out / "digits_test_labels.npy"}
    paths["float_model"].write_bytes(write_tflite(graph))
    paths["int8_model"].write_bytes(write_tflite(result.graph))
    np.save(paths["calibration"], calib)
    np.save(paths["test_inputs"], x_test)
    np.save(paths["test_labels"], y_test)
    report = compare(result.float_graph, result.graph, [[x[None]] for x in x_test], y_test,
                     progress=progress)
    return {"numpy_test_accuracy": accuracy(params, x_test, y_test),
            "float_test_accuracy": report["float_accuracy"],
            "int8_test_accuracy": report["int8_accuracy"],
            "top1_agreement": report["top1_agreement"], "test_samples": len(y_test),
            "train_samples": len(y_train), "calibration_samples": len(calib),
            **{k: str(v) for k, v in paths.items()}}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else "build/example"
    print(json.dumps(make_example(out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
