"""dwconv_s8_mve: Helium DEPTHWISE_CONV_2D with depth multiplier 1
(templates/kernels/dwconv_s8_mve.h): four channels per vector, weights grouped by 4 channels."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import Buf, Call, Const
from ..ops.common import zero_point
from ..ops.conv2d import bias_folded
from ..ops.depthwise_conv2d import _shape
from ..ops.geometry import window
from . import Kernel
from .conv2d_s8_mve import layer_requant, pad_to, round_up


def multiplier_1(graph: Graph, op: Op) -> bool:
    """Depth multiplier 1: output channel c reads input channel c."""
    return _shape(graph, op)[2] == graph.t(op.inputs[0]).shape[3]


def group_weights(w: np.ndarray) -> np.ndarray:
    """[taps, c] int8 -> [ceil(c / 4), taps, 4], zero-padded."""
    taps, c = w.shape
    padded = np.zeros((taps, round_up(c, 4)), np.int8)
    padded[:, :c] = w
    return np.ascontiguousarray(padded.reshape(taps, -1, 4).transpose(1, 0, 2)).reshape(-1)


def lower(graph: Graph, op: Op, board: dict) -> Call:
    k_h, k_w, ch = _shape(graph, op)
    win = window(graph, op, k_h, k_w, ch)
    w = graph.t(op.inputs[1]).data.reshape(k_h * k_w, ch)
    rq, consts = layer_requant(graph, op, ch)
    consts["weights"] = group_weights(w)
    consts["bias"] = pad_to(bias_folded(graph, op, w.T), round_up(ch, 4))
    y, x = win.y, win.x
    return Call("dwconv_s8_mve", "dwconv_s8_mve",
                [Buf(op.inputs[0]), Const("weights"), Const("bias"), Buf(op.outputs[0]),
                 win.batches, y.size, x.size, ch, k_h, k_w, y.out, x.out, *win.args(),
                 y.inside_lo, y.inside_hi, x.inside_lo, x.inside_hi,
                 zero_point(graph.t(op.inputs[0])), *rq], consts)


KERNELS: list = [Kernel("DEPTHWISE_CONV_2D", "s8", "mve", lower, multiplier_1, ("mve",), "M=1")]
