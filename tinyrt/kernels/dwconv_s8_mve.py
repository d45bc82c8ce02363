"""dwconv_s8_mve: Helium DEPTHWISE_CONV_2D with depth multiplier 1
(templates/kernels/dwconv_s8_mve.h): eight channels per step in int16 lanes, one parameter
record per group of 8 channels (widened weights, folded bias, requantisation constants)."""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import Buf, Call, Const, Scratch
from ..ops.common import act_range, zero_point
from ..ops.conv2d import bias_folded
from ..ops.depthwise_conv2d import _shape
from ..ops.geometry import window
from . import Kernel
from .conv2d_s8_mve import RQ_LEFT, RQ_RIGHT, layer_multipliers, rq_mode, round_up

GROUP = 8
# Lanes of a group in the order VMULLB/VMULLT produce them: even channels, then odd.
EVEN_ODD = np.array([0, 2, 4, 6, 1, 3, 5, 7])


def multiplier_1(graph: Graph, op: Op) -> bool:
    """Depth multiplier 1: output channel c reads input channel c."""
    return _shape(graph, op)[2] == graph.t(op.inputs[0]).shape[3]


def scratch_bytes(k_h: int, band_w: int, ch: int) -> int:
    """DWCONV_S8_MVE_SCRATCH_BYTES: one band of padded input rows [k_h, band_w, ch]."""
    return k_h * band_w * ch




def _groups(arr: np.ndarray, groups: int) -> np.ndarray:
    """[..., c] -> [groups, ..., 8], zero-padded, each group's lanes in EVEN_ODD order for
    int32 blocks (the caller keeps channel order for the int16 weights)."""
    padded = np.zeros(arr.shape[:-1] + (groups * GROUP,), arr.dtype)
    padded[..., :arr.shape[-1]] = arr
    return np.moveaxis(padded.reshape(arr.shape[:-1] + (groups, GROUP)), -2, 0)


def params(w: np.ndarray, bias: np.ndarray, mults: np.ndarray, shifts: np.ndarray,
           per_channel: bool, mode: int) -> np.ndarray:
    """The kernel's int32 parameter stream (layout in the header). w: [taps, c] int8."""
    c = w.shape[1]
    groups = round_up(c, GROUP) // GROUP
    blocks = [_groups(np.asarray(bias, np.int32), groups)[:, EVEN_ODD],
              _groups(w.astype(np.int16), groups).reshape(groups, -1).view(np.int32)]
    rows = []
    if per_channel:
        rows.append(mults)
        if mode != RQ_RIGHT:
            rows.append(np.maximum(shifts, 0))
        if mode != RQ_LEFT:
            rows.append(np.minimum(shifts, 0))
    for r in rows:
        blocks.append(_groups(np.asarray(r, np.int32), groups)[:, EVEN_ODD])
    return np.concatenate(blocks, axis=1).reshape(-1).astype(np.int32)


def lower(graph: Graph, op: Op, board: dict) -> Call:
    k_h, k_w, ch = _shape(graph, op)
    win = window(graph, op, k_h, k_w, ch)
    w = graph.t(op.inputs[1]).data.reshape(k_h * k_w, ch)
    mults, shifts = layer_multipliers(graph, op, ch)
    per_channel = int(np.unique(mults).size > 1 or np.unique(shifts).size > 1)
    mode = rq_mode(shifts)
    consts = {"params": params(w, bias_folded(graph, op, w.T), mults, shifts, per_channel,
                               mode)}
    band_w = (win.x.out - 1) * win.x.stride + (k_w - 1) * win.x.dilation + 1
    x_border = int(win.x.inside_lo > 0 or win.x.inside_hi < win.x.out)
    scratch = scratch_bytes(k_h, band_w, ch) if win.has_border else 0
    out = graph.t(op.outputs[0])
    y, x = win.y, win.x
    return Call("dwconv_s8_mve", "dwconv_s8_mve",
                [Buf(op.inputs[0]), Const("params"), Buf(op.outputs[0]),
                 Scratch() if scratch else 0, win.batches, y.size, x.size, ch, k_h, k_w,
                 y.out, x.out, *win.args(), y.inside_lo, y.inside_hi, x_border, band_w,
                 zero_point(graph.t(op.inputs[0])), per_channel, mode, int(mults[0]),
                 max(int(shifts[0]), 0), min(int(shifts[0]), 0), zero_point(out),
                 *act_range(graph, op)], consts, scratch_bytes=scratch)


KERNELS: list = [Kernel("DEPTHWISE_CONV_2D", "s8", "mve", lower, multiplier_1, ("mve",), "M=1")]
