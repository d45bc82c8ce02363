"""MobileNetV2 / MCUNet-style int8 models built in code: what users bring most.

A float32 input quantised by QUANTIZE, a stride-2 3x3 stem, inverted residual blocks (1x1
expand with ReLU6, KxK depthwise at stride 1 or 2 with ReLU6, 1x1 linear projection, residual
ADD when the block keeps its shape), global average pooling and a fully connected classifier.
Weights are random; scales follow each layer's fan-in so activations use the int8 range instead
of saturating, which keeps every requantisation path busy.
"""
from __future__ import annotations

import math

import numpy as np

from .builder import ModelBuilder
from .ir import Tensor
from .ops.geometry import window_axis

# (expansion, out channels at width 1, kernel, stride) per block. BLOCKS: a small MCUNet-like
# network with 3x3, 5x5 and 7x7 depthwise (the tests' model); MOBILENET_V2: Sandler et al.'s
# 17 blocks; MOBILENET_V2_KXK: the same with MCUNet's 3/5/7 depthwise kernels in turn.
BLOCKS = [(1, 32, 3, 1), (4, 36, 5, 2), (3, 36, 7, 1), (4, 48, 3, 2), (3, 48, 5, 1), (6, 72, 7, 2)]
_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
       (6, 320, 1, 1)]   # (t, c, n, s) as in the paper's table 2
MOBILENET_V2 = [(t, c, 3, s if i == 0 else 1) for t, c, n, s in _V2 for i in range(n)]
MOBILENET_V2_KXK = [(t, c, (3, 5, 7)[i % 3], s) for i, (t, c, _, s) in enumerate(MOBILENET_V2)]


def channels(c: float, divisor: int = 8) -> int:
    """MobileNet's _make_divisible: the nearest multiple of 8, never 10 % below ``c``."""
    rounded = max(divisor, int(c + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * c else rounded


SPREAD = 40.0   # int8 units per standard deviation of an activation: +-3 sigma fits the range


class _Net:
    """Builds layers while tracking each activation's approximate standard deviation (``sigma``,
    in real units), from which its scale follows."""

    def __init__(self, seed: int):
        self.m = ModelBuilder("mobilenet_v2_style")
        self.rng = np.random.default_rng(seed)

    def act(self, shape, sigma, relu6=False):
        """(tensor, scale): ReLU6 outputs have zero point -128, as TFLite's converter gives them."""
        if relu6:
            scale = min(6.0, 4 * sigma) / 255
            return self.m.tensor(shape, scale=scale, zero_point=-128), scale
        scale = sigma / SPREAD
        return self.m.tensor(shape, scale=scale, zero_point=int(self.rng.integers(-20, 20))), scale

    def weighted(self, op, x, x_shape, x_scale, x_sigma, w_shape, out_c, stride, relu6, axis):
        fan_in = int(np.prod(w_shape)) // out_c
        ws = 10 ** self.rng.uniform(-0.3, 0.3, out_c) / (127 * math.sqrt(fan_in))
        w = self.m.const(self.rng.integers(-127, 128, w_shape), "int8", scale=ws, axis=axis)
        b = self.m.const(self.rng.integers(-800, 800, out_c), "int32", scale=x_scale * ws)
        n, h, wd, _ = x_shape
        k = w_shape[1]
        shape = (n, window_axis(h, k, stride, 1, "SAME").out, window_axis(wd, k, stride, 1, "SAME").out,
                 out_c)
        sigma = 0.8 * x_sigma   # weights of std 73 / (127 sqrt(fan_in)), plus the bias, measured
        y, y_scale = self.act(shape, sigma, relu6)
        attrs = dict(padding="SAME", stride_h=stride, stride_w=stride,
                     activation="RELU6" if relu6 else "NONE")
        if op == "DEPTHWISE_CONV_2D":
            attrs["depth_multiplier"] = 1
        self.m.op(op, [x, w, b], [y], **attrs)
        return y, shape, y_scale, (0.6 * sigma if relu6 else sigma)

    def conv(self, x, shape, scale, sigma, out_c, k, stride, relu6):
        return self.weighted("CONV_2D", x, shape, scale, sigma, (out_c, k, k, shape[3]), out_c,
                             stride, relu6, 0)

    def dwconv(self, x, shape, scale, sigma, k, stride):
        c = shape[3]
        return self.weighted("DEPTHWISE_CONV_2D", x, shape, scale, sigma, (1, k, k, c), c, stride,
                             True, 3)

    def block(self, x, shape, scale, sigma, expand, out_c, k, stride):
        h, hs, hsc, hsg = x, shape, scale, sigma
        if expand != 1:
            h, hs, hsc, hsg = self.conv(h, hs, hsc, hsg, shape[3] * expand, 1, 1, True)
        h, hs, hsc, hsg = self.dwconv(h, hs, hsc, hsg, k, stride)
        h, hs, hsc, hsg = self.conv(h, hs, hsc, hsg, out_c, 1, 1, False)
        if stride == 1 and shape[3] == out_c:
            y_sigma = math.hypot(sigma, hsg)
            y, y_scale = self.act(hs, y_sigma)
            self.m.op("ADD", [x, h], [y])
            return y, hs, y_scale, y_sigma
        return h, hs, hsc, hsg


def mobilenet_v2(resolution: int = 32, width: float = 0.35, classes: int = 10,
                 blocks=BLOCKS, seed: int = 0, last: int = 0, float_input: bool = True):
    """The int8 graph (float32 input through QUANTIZE, or an int8 image with
    ``float_input=False``; int8 logits); ``last``: the channels of a final 1x1 convolution
    before the pool (1280 in MobileNetV2; scaled by widths above 1)."""
    net = _Net(seed)
    m = net.m
    shape = (1, resolution, resolution, 3)
    if float_input:
        x_float = m.input(shape, "float32")
        x = m.tensor(shape, scale=1 / 32, zero_point=0)   # unit-variance inputs, +-4 sigma
        m.op("QUANTIZE", [x_float], [x])
    else:
        x = m.input(shape, scale=1 / 32, zero_point=0)
    h, hs, hsc, hsg = net.conv(x, shape, 1 / 32, 1.0, channels(32 * width), 3, 2, True)
    for expand, out_c, k, stride in blocks:
        h, hs, hsc, hsg = net.block(h, hs, hsc, hsg, expand, channels(out_c * width), k, stride)
    if last:
        h, hs, hsc, hsg = net.conv(h, hs, hsc, hsg, channels(last * max(1.0, width)), 1, 1, True)
    # pooling and reshaping keep their input's quantisation, as TFLite requires
    q = m.tensors[h].quant
    pooled = m._add(Tensor("pooled", (1, 1, 1, hs[3]), "int8", q))
    m.op("AVERAGE_POOL_2D", [h], [pooled], padding="VALID", filter_h=hs[1], filter_w=hs[2],
         stride_h=1, stride_w=1, activation="NONE")
    flat = m._add(Tensor("features", (1, hs[3]), "int8", q))
    m.op("RESHAPE", [pooled, m.const(np.array([1, hs[3]]), "int32")], [flat], new_shape=[1, hs[3]])
    ws = np.full(classes, 1 / (127 * math.sqrt(hs[3])), np.float32)
    w = m.const(net.rng.integers(-127, 128, (classes, hs[3])), "int8", scale=ws)
    b = m.const(net.rng.integers(-500, 500, classes), "int32", scale=hsc * ws)
    # pooling averages the spatial noise away: the logits' spread is about the pooled one
    logits = m.tensor((1, classes), scale=hsc / 4, zero_point=0)
    m.op("FULLY_CONNECTED", [flat, w, b], [logits], activation="NONE")
    return m.graph([logits])
