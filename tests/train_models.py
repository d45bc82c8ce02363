"""Small int8 CNNs for the training tests, built with tinyrt's ModelBuilder: odd sizes, strides,
SAME and VALID padding, a depth multiplier, ReLU and ReLU6, max and average pooling, a reshape,
a fully connected layer and a softmax, so every training kernel is exercised."""
from __future__ import annotations

import numpy as np

from tinyrt.builder import ModelBuilder
from tinyrt.ops.geometry import window_axis

ACT_SCALE = 0.05


def _weights(m: ModelBuilder, rng, shape, axis: int, fan_in: int, per_channel=True) -> int:
    channels = shape[axis] if per_channel else 1
    scale = (1.5 / (127 * np.sqrt(fan_in))) * rng.uniform(0.6, 1.4, channels)
    return m.const(rng.integers(-127, 128, shape), "int8", scale=scale, zero_point=0, axis=axis)


def _bias(m: ModelBuilder, rng, w: int, n: int) -> int:
    scale = np.broadcast_to(ACT_SCALE * m.tensors[w].quant.scale, (n,))
    return m.const(rng.integers(-400, 400, n), "int32", scale=scale, zero_point=0)


def _out(m: ModelBuilder, shape, act: str) -> int:
    return m.tensor(shape, scale=ACT_SCALE, zero_point=-128 if act != "NONE" else 0)


def _conv(m, rng, x, filters, k, stride, padding, act, depthwise=False, dm=1):
    n, h, w, c = m.tensors[x].shape
    oh = window_axis(h, k, stride, 1, padding).out
    ow = window_axis(w, k, stride, 1, padding).out
    if depthwise:
        filters = c * dm
        wt = _weights(m, rng, (1, k, k, filters), 3, k * k)
    else:
        wt = _weights(m, rng, (filters, k, k, c), 0, k * k * c)
    y = _out(m, (n, oh, ow, filters), act)
    attrs = dict(padding=padding, stride_h=stride, stride_w=stride, dilation_h=1, dilation_w=1,
                 activation=act)
    if depthwise:
        attrs["depth_multiplier"] = dm
    m.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, wt, _bias(m, rng, wt, filters)],
         [y], **attrs)
    return y


def _pool(m, x, op_type, k, stride, padding):
    n, h, w, c = m.tensors[x].shape
    oh = window_axis(h, k[0], stride, 1, padding).out
    ow = window_axis(w, k[1], stride, 1, padding).out
    y = m.tensor((n, oh, ow, c), scale=ACT_SCALE, zero_point=int(m.tensors[x].quant.zero_point[0]))
    m.op(op_type, [x], [y], padding=padding, stride_h=stride, stride_w=stride, filter_h=k[0],
         filter_w=k[1], activation="NONE")
    return y


def small_cnn(seed: int = 0, classes: int = 5):
    """input 9x7x3 -> conv3x3 SAME ReLU -> conv3x3/2 SAME ReLU -> dw3x3 VALID x2 ReLU6
    -> maxpool 2x2/1 SAME -> conv1x1 ReLU -> avgpool 3x3/2 SAME -> reshape -> FC -> softmax."""
    rng = np.random.default_rng(seed)
    m = ModelBuilder("small_cnn")
    x = m.input((1, 9, 7, 3), scale=ACT_SCALE, zero_point=-10)
    h = _conv(m, rng, x, 6, 3, 1, "SAME", "RELU")
    h = _conv(m, rng, h, 8, 3, 2, "SAME", "RELU")
    h = _conv(m, rng, h, 0, 3, 1, "VALID", "RELU6", depthwise=True, dm=2)
    h = _pool(m, h, "MAX_POOL_2D", (2, 2), 1, "SAME")
    h = _conv(m, rng, h, 10, 1, 1, "SAME", "RELU")
    h = _pool(m, h, "AVERAGE_POOL_2D", (3, 3), 2, "SAME")
    return _classifier(m, rng, h, classes, zero_point=0)


def _classifier(m, rng, h: int, classes: int, zero_point: int):
    """RESHAPE to [1, N] (with ``zero_point``), FULLY_CONNECTED to ``classes``, SOFTMAX."""
    flat_n = int(np.prod(m.tensors[h].shape))
    shape = m.const(np.array([1, flat_n]), "int32")
    f = m.tensor((1, flat_n), scale=ACT_SCALE, zero_point=zero_point)
    m.op("RESHAPE", [h, shape], [f], new_shape=[1, flat_n])
    wt = _weights(m, rng, (classes, flat_n), 0, flat_n, per_channel=False)
    logits = m.tensor((1, classes), scale=0.1, zero_point=0)
    m.op("FULLY_CONNECTED", [f, wt, _bias(m, rng, wt, classes)], [logits],
         activation="NONE", keep_num_dims=False)
    prob = m.tensor((1, classes), scale=1 / 256, zero_point=-128)
    m.op("SOFTMAX", [logits], [prob], beta=1.0)
    return m.graph([prob])


def gap_cnn(seed: int = 1, classes: int = 4):
    """input 7x6x3 -> conv3x3 SAME ReLU -> conv3x3/2 SAME ReLU6 -> global average pool
    -> reshape -> FC -> softmax: last:2 trains the conv fused with the global pool."""
    rng = np.random.default_rng(seed)
    m = ModelBuilder("gap_cnn")
    x = m.input((1, 7, 6, 3), scale=ACT_SCALE, zero_point=3)
    h = _conv(m, rng, x, 5, 3, 1, "SAME", "RELU")
    h = _conv(m, rng, h, 6, 3, 2, "SAME", "RELU6")
    _, oh, ow, _ = m.tensors[h].shape
    h = _pool(m, h, "AVERAGE_POOL_2D", (oh, ow), oh, "VALID")
    return _classifier(m, rng, h, classes, int(m.tensors[h].quant.zero_point[0]))
