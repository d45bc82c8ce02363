"""conv2d_s8_dsp: CONV_2D int8 on the Arm DSP extension (templates/kernels/conv2d_s8_dsp.h).

A register-blocked GEMM, 2 output channels x 4 pixels per inner loop: the windows of 4 output
pixels are expanded once to int16 pairs in scratch (their sums on the way), the weights are
re-laid out here in offset binary so that one LDR + one SXTB16 per 4 weights feed the SMLADs of
2 output channels (the header explains the algebra). Requantisation through the kernel's
tr_requant form with the mode proved exact by requant.py.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import Buf, Call, Const, Scratch
from ..ops.common import act_range, channel_multipliers, zero_point
from ..ops.conv2d import _shape, bias_folded, pointwise
from ..ops.geometry import window
from . import Kernel, requant

HEADER = "conv2d_s8_dsp"
ROW_HEAD = 8
# Offset binary saves one SXTB16 per channel pair and costs ~15 instructions per 2 x 4 block
# (input sums, accumulator set-up and correction): from 16 channel pairs on it pays.
OFFSET_MIN_PAIRS = 16


def use_offset(depth: int) -> bool:
    return depth4(depth) // 2 >= OFFSET_MIN_PAIRS


def depth4(depth: int) -> int:
    return (depth + 3) // 4 * 4


def scratch_bytes(depth: int) -> int:
    """CONV2D_S8_DSP_SCRATCH_BYTES(depth): int16 windows of 4 pixels, their 4 sums, one int8
    window."""
    return 9 * depth4(depth) + 16


def depth_order(rows: int, row_bytes: int) -> np.ndarray:
    """The kernel's window depth order (indices into [rows, row_bytes]): each row's whole groups
    of 4 bytes, then the rows' leftover bytes one after the other."""
    whole = row_bytes // 4 * 4
    idx = np.arange(rows * row_bytes).reshape(rows, row_bytes)
    return np.concatenate([idx[:, :whole].reshape(-1), idx[:, whole:].reshape(-1)])


def _wrap32(a) -> np.ndarray:
    return ((np.asarray(a, np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def pack_weights(w: np.ndarray, offset: bool = True) -> np.ndarray:
    """[out_c, depth] int8 (already in the kernel's depth order) -> the weight words
    [oc_pairs][pairs], channel o in offset binary when ``offset`` (layout: the header)."""
    out_c, depth = w.shape
    oc2, d4 = out_c + out_c % 2, depth4(depth)
    padded = np.zeros((oc2, d4), np.int64)
    padded[:out_c, :depth] = w
    if offset:
        padded[0::2] += 128                          # channels o of each pair: offset binary
    groups = padded.reshape(oc2, d4 // 4, 4)
    # pair 2g = channels (4g, 4g+2), pair 2g+1 = (4g+1, 4g+3): [oc2, pairs, 2 (a, b)]
    pairs = np.stack([groups[:, :, [0, 2]], groups[:, :, [1, 3]]], axis=2).reshape(oc2, -1, 2)
    # word bytes [w[o][a] + 128, w[o+1][a], w[o][b] + 128, w[o+1][b]]
    words = np.ascontiguousarray(pairs.reshape(oc2 // 2, 2, -1, 2).transpose(0, 2, 3, 1))
    return words.astype(np.uint8).reshape(oc2 // 2, -1).view("<i4").astype(np.int32)


def pack_rows(w: np.ndarray, bias: np.ndarray, rq: dict[str, np.ndarray],
              offset: bool = True) -> np.ndarray:
    """wpack: per pair of output channels (o, o+1) the row [bias o + 256 bias o+1, bias o+1,
    mult o, mult o+1, shift o, shift o+1, add o, add o+1, weight words...]. An odd last channel
    is paired with zero weights (and copies of its constants); the kernel never stores it."""
    def pairs_of(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, np.int64)
        return np.concatenate([a, a[-1:]]).reshape(-1, 2) if a.size % 2 else a.reshape(-1, 2)
    b = pairs_of(bias)
    if w.shape[0] % 2:
        b[-1, 1] = 0                                 # the padding channel's weights are zero
    if offset:
        b[:, 0] = b[:, 0] + 256 * b[:, 1]
    head = [_wrap32(b), *[pairs_of(rq[k]).astype(np.int32)
                          for k in ("rq_mult", "rq_shift", "rq_add")]]
    return np.concatenate([*head, pack_weights(w, offset)], axis=1).reshape(-1)


def gemm_args(graph: Graph, op: Op, w: np.ndarray, order: np.ndarray) -> tuple[list, dict]:
    """The GEMM over ``w`` ([out_c, depth] int8, window order): the packed constants (depth in
    the kernel's ``order``), whether the weights are in offset binary, the requantisation mode
    proved exact (requant.py) and the activation range."""
    inp, wt, out = graph.t(op.inputs[0]), graph.t(op.inputs[1]), graph.t(op.outputs[0])
    out_c = w.shape[0]
    bias = bias_folded(graph, op, w)
    mults, shifts = channel_multipliers(inp, wt, out, out_c)
    mode, rq = requant.mode_and_consts(mults, shifts, zero_point(out), requant.acc_bound(w, bias))
    offset = use_offset(w.shape[1])
    return ([int(offset), mode, *act_range(graph, op)],
            {"wpack": pack_rows(w[:, order], bias, rq, offset)})


def _head(op: Op) -> list:
    return [Buf(op.inputs[0]), Const("wpack"), Buf(op.outputs[0]), Scratch()]


def lower_1x1(graph: Graph, op: Op, board: dict) -> Call:
    out_c, k_h, k_w, f_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    w = graph.t(op.inputs[1]).data.reshape(out_c, -1)
    tail, consts = gemm_args(graph, op, w, depth_order(1, win.in_c))
    pixels = win.batches * win.y.out * win.x.out
    return Call("conv2d_s8_1x1_dsp", HEADER, [*_head(op), pixels, win.in_c, out_c, *tail], consts,
                scratch_bytes=scratch_bytes(win.in_c))


def one_group(graph: Graph, op: Op) -> bool:
    """The general kernel's predicate: one group (any window, stride, dilation, padding)."""
    f_c = _shape(graph, op)[3]
    return graph.t(op.inputs[0]).shape[3] == f_c


def lower(graph: Graph, op: Op, board: dict) -> Call:
    out_c, k_h, k_w, f_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    w = graph.t(op.inputs[1]).data.reshape(out_c, -1)
    tail, consts = gemm_args(graph, op, w, depth_order(k_h, k_w * f_c))
    shape = [win.batches, win.y.size, win.x.size, win.in_c, k_h, k_w, win.y.out, win.x.out,
             out_c, *win.args(), zero_point(graph.t(op.inputs[0]))]
    return Call("conv2d_s8_dsp", HEADER, [*_head(op), *shape, *tail], consts,
                scratch_bytes=scratch_bytes(k_h * k_w * f_c))


KERNELS: list = [
    Kernel("CONV_2D", "s8", "dsp", lower_1x1, pointwise, ("dsp",), "1x1"),
    Kernel("CONV_2D", "s8", "dsp", lower, one_group, ("dsp",), "one group"),
]
