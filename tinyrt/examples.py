"""The example model of the demo: a DS-CNN keyword-spotting shape (conv, depthwise-separable
blocks, average pool, fully connected, softmax), int8, built in code with seeded random
weights. It is not trained: it shows the flow and the figures, not accuracy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .ir import Graph, Op, Quant, Tensor
from .writer import write_tflite

DESCRIPTION = ("DS-CNN-like keyword-spotting shape, int8, random weights (seed 0); "
               "not trained: it demonstrates the flow and the measurements")


class _Net:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []

    def add(self, t: Tensor) -> int:
        self.tensors.append(t)
        return len(self.tensors) - 1

    def act(self, name, shape, scale, zp=-128) -> int:
        return self.add(Tensor(name, tuple(shape), "int8",
                               Quant(np.array([scale], np.float32), np.array([zp]))))

    def weights(self, name, shape, channels, in_scale, axis=0, per_channel=True):
        n_scales = channels if per_channel else 1
        w_scale = (0.5 + self.rng.random(n_scales)).astype(np.float32) / 127 * 0.3
        w = self.rng.integers(-127, 128, size=shape).astype(np.int8)
        wi = self.add(Tensor(name + "/weights", tuple(shape), "int8",
                             Quant(w_scale, np.zeros(n_scales, np.int64), axis), data=w))
        b = self.rng.integers(-2000, 2000, size=channels).astype(np.int32)
        bi = self.add(Tensor(name + "/bias", (channels,), "int32",
                             Quant((w_scale * in_scale).astype(np.float32),
                                   np.zeros(n_scales, np.int64)), data=b))
        return wi, bi


def build_example(seed: int = 0) -> Graph:
    n = _Net(seed)
    x = n.act("input", (1, 49, 10, 1), 0.5, 0)
    w, b = n.weights("conv0", (64, 10, 4, 1), 64, 0.5)
    h = n.act("conv0/relu", (1, 25, 5, 64), 0.05)
    n.ops.append(Op("CONV_2D", [x, w, b], [h], dict(padding="SAME", stride_w=2, stride_h=2,
                 activation="RELU", dilation_w=1, dilation_h=1), "conv0"))
    for i in range(2):
        w, b = n.weights(f"dw{i}", (1, 3, 3, 64), 64, 0.05, axis=3)
        d = n.act(f"dw{i}/relu", (1, 25, 5, 64), 0.05)
        n.ops.append(Op("DEPTHWISE_CONV_2D", [h, w, b], [d], dict(
            padding="SAME", stride_w=1, stride_h=1, depth_multiplier=1, activation="RELU",
            dilation_w=1, dilation_h=1), f"dw{i}"))
        w, b = n.weights(f"pw{i}", (64, 1, 1, 64), 64, 0.05)
        h = n.act(f"pw{i}/relu", (1, 25, 5, 64), 0.05)
        n.ops.append(Op("CONV_2D", [d, w, b], [h], dict(padding="VALID", stride_w=1, stride_h=1,
                     activation="RELU", dilation_w=1, dilation_h=1), f"pw{i}"))
    p = n.act("pool", (1, 1, 1, 64), 0.05)
    n.ops.append(Op("AVERAGE_POOL_2D", [h], [p], dict(padding="VALID", stride_w=1, stride_h=1,
                 filter_w=5, filter_h=25, activation="NONE"), "pool"))
    shape = n.add(Tensor("flatten/shape", (2,), "int32", data=np.array([1, 64], np.int32)))
    f = n.act("flatten", (1, 64), 0.05)
    n.ops.append(Op("RESHAPE", [p, shape], [f], dict(new_shape=[1, 64]), "flatten"))
    w, b = n.weights("fc", (12, 64), 12, 0.05, per_channel=False)
    logits = n.act("fc", (1, 12), 0.2, 0)
    n.ops.append(Op("FULLY_CONNECTED", [f, w, b], [logits],
                    dict(activation="NONE", keep_num_dims=False), "fc"))
    y = n.act("softmax", (1, 12), 1 / 256, -128)
    n.ops.append(Op("SOFTMAX", [logits], [y], dict(beta=1.0), "softmax"))
    return Graph(n.tensors, n.ops, [x], [y], "example_dscnn")


def write_example(out_dir: str | Path, seed: int = 0) -> Path:
    path = Path(out_dir) / "example_dscnn_int8.tflite"
    path.write_bytes(write_tflite(build_example(seed)))
    return path
