"""conv2d_s8_mve: Helium CONV_2D kernels (templates/kernels/conv2d_s8_mve.h), and the GEMM weight
layout and requantisation arguments the other MVE families share.

Every GEMM row (a pixel's input or window, a fully connected input) is multiplied with the
filters four at a time by tr_mve_gemv4_s8 (tinyrt_mve.h); its requantisation is TFLite's
MultiplyByQuantizedMultiplier on four lanes, exact for every value (no bound to prove).
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import Buf, Call, Const, Scratch
from ..ops.common import act_range, channel_multipliers, zero_point
from ..ops.conv2d import _shape, bias_folded, pointwise
from ..ops.geometry import window
from . import Kernel


def round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def pad_to(arr: np.ndarray, n: int) -> np.ndarray:
    """``arr`` (1-D) zero-padded to ``n`` elements."""
    out = np.zeros(n, arr.dtype)
    out[:arr.size] = arr
    return out


def gemm_weights(w: np.ndarray) -> np.ndarray:
    """[out_c, depth] int8 -> tr_mve_gemv4_s8's layout [ceil(out_c/4), ceil(depth/16), 4, 16],
    zero-padded."""
    out_c, depth = w.shape
    padded = np.zeros((round_up(out_c, 4), round_up(depth, 16)), np.int8)
    padded[:out_c, :depth] = w
    g, k = padded.shape[0] // 4, padded.shape[1] // 16
    return np.ascontiguousarray(padded.reshape(g, 4, k, 16).transpose(0, 2, 1, 3)).reshape(-1)


def requant(mults: np.ndarray, shifts: np.ndarray, channels: int, out_zp: int,
            act: tuple[int, int]) -> tuple[list, dict]:
    """The requantisation arguments (per_channel, has_left, mult, left, neg_right, out_zp,
    act_min, act_max) and their constants, padded to a multiple of 4 channels. A layer whose
    channels all share one multiplier and shift takes the scalar form."""
    mults, shifts = np.asarray(mults, np.int32), np.asarray(shifts, np.int32)
    per_channel = int(np.unique(mults).size > 1 or np.unique(shifts).size > 1)
    n = round_up(channels, 4)
    has_left = int(np.any(shifts > 0))
    consts = {"rq_mult": pad_to(mults, n), "rq_neg_right": pad_to(np.minimum(shifts, 0), n)}
    if has_left:   # otherwise the kernel never reads it: no array in flash (a null pointer)
        consts["rq_left"] = pad_to(np.maximum(shifts, 0), n)
    args = [per_channel, has_left, Const("rq_mult"), Const("rq_left") if has_left else 0,
            Const("rq_neg_right"), int(out_zp), int(act[0]), int(act[1])]
    return args, consts


# tinyrt_mve.h's TR_MVE_RQ_* requantisation forms.
RQ_EXACT, RQ_RIGHT, RQ_LEFT = 0, 1, 2


def rq_mode(shifts: np.ndarray) -> int:
    """RIGHT when every TFLite shift is negative, LEFT when none is, else EXACT (tinyrt_mve.h
    says why each is exact)."""
    shifts = np.asarray(shifts)
    if np.all(shifts < 0):
        return RQ_RIGHT
    return RQ_LEFT if np.all(shifts >= 0) else RQ_EXACT


def layer_multipliers(graph: Graph, op: Op, channels: int) -> tuple[np.ndarray, np.ndarray]:
    inp, w, out = graph.t(op.inputs[0]), graph.t(op.inputs[1]), graph.t(op.outputs[0])
    return channel_multipliers(inp, w, out, channels)


def layer_requant(graph: Graph, op: Op, channels: int) -> tuple[list, dict]:
    inp, w, out = graph.t(op.inputs[0]), graph.t(op.inputs[1]), graph.t(op.outputs[0])
    mults, shifts = channel_multipliers(inp, w, out, channels)
    return requant(mults, shifts, channels, zero_point(out), act_range(graph, op))


def _head(graph: Graph, op: Op) -> tuple[list, list, dict]:
    out_c = _shape(graph, op)[0]
    w = graph.t(op.inputs[1]).data.reshape(out_c, -1)
    rq, consts = layer_requant(graph, op, out_c)
    consts["weights"] = gemm_weights(w)
    consts["bias"] = pad_to(bias_folded(graph, op, w), round_up(out_c, 4))
    return [Buf(op.inputs[0]), Const("weights"), Const("bias"), Buf(op.outputs[0])], rq, consts


def one_group(graph: Graph, op: Op) -> bool:
    out_c, k_h, k_w, f_c = _shape(graph, op)
    return f_c == graph.t(op.inputs[0]).shape[3]


def scratch_bytes(k_h: int, k_w: int, in_c: int) -> int:
    """CONV2D_S8_MVE_SCRATCH_BYTES: one window, rounded up to whole 16-byte chunks."""
    return round_up(k_h * k_w * in_c, 16)


def lower_1x1(graph: Graph, op: Op, board: dict) -> Call:
    out_c, k_h, k_w, f_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    head, rq, consts = _head(graph, op)
    pixels = win.batches * win.y.out * win.x.out
    return Call("conv2d_s8_1x1_mve", "conv2d_s8_mve", [*head, pixels, win.in_c, out_c, *rq],
                consts)


def lower(graph: Graph, op: Op, board: dict) -> Call:
    out_c, k_h, k_w, f_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    head, rq, consts = _head(graph, op)
    shape = [win.batches, win.y.size, win.x.size, win.in_c, k_h, k_w, win.y.out, win.x.out,
             out_c, *win.args(), zero_point(graph.t(op.inputs[0]))]
    return Call("conv2d_s8_mve", "conv2d_s8_mve", [*head[:4], Scratch(), *shape, *rq], consts,
                scratch_bytes=scratch_bytes(k_h, k_w, win.in_c))


KERNELS: list = [
    Kernel("CONV_2D", "s8", "mve", lower_1x1, pointwise, ("mve",), "1x1"),
    Kernel("CONV_2D", "s8", "mve", lower, one_group, ("mve",), "one group"),
]
