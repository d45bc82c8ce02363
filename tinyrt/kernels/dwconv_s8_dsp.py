"""dwconv_s8_dsp: int8 DEPTHWISE_CONV_2D with the Arm DSP extension (templates/kernels/
dwconv_s8_dsp.h), depth multiplier 1, no dilation, kernels up to 49 taps (3x3, 5x5, 7x7, ...),
any stride and padding. Four channels per input word; the weights are widened to int16 pairs
in the order SXTB16 splits the input word, so every product is one SMLABB/SMLATT.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import Buf, Call, Const, Scratch
from ..ops.common import act_range, channel_multipliers, zero_point
from ..ops.conv2d import bias_folded
from ..ops.geometry import window
from . import Kernel, requant

MAX_TAPS = 49


def _shape(graph: Graph, op: Op) -> tuple[int, int, int]:
    _, k_h, k_w, out_c = (int(d) for d in graph.t(op.inputs[1]).shape)
    return k_h, k_w, out_c


def applies(graph: Graph, op: Op) -> bool:
    """Depth multiplier 1, no dilation, at most MAX_TAPS taps."""
    k_h, k_w, out_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    return (win.out_c == win.in_c and win.y.dilation == 1 and win.x.dilation == 1
            and k_h * k_w <= MAX_TAPS)


def scratch_bytes(k_h: int, k_w: int, channels: int) -> int:
    """One border window (DWCONV_S8_DSP_SCRATCH_BYTES in the header)."""
    return k_h * k_w * channels


def pair(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int16 values lo, hi -> the int32 word (lo in bits 0-15, hi in bits 16-31)."""
    word = (lo.astype(np.int64) & 0xFFFF) | ((hi.astype(np.int64) & 0xFFFF) << 16)
    return word.astype(np.uint32).view(np.int32)


def params(w: np.ndarray, bias: np.ndarray, mode: int, rq: dict) -> np.ndarray:
    """The header's parameter stream from weights [taps, channels] int8, the folded bias and
    the requantisation constants. In the RIGHT and LEFT modes weights and bias are doubled (the
    proof of either mode bounds |2 acc| below 2^31) and LEFT's shift is one less, so the kernel
    skips the doubling of every accumulator."""
    taps, channels = w.shape
    scale = 1 if mode == requant.EXACT else 2
    w = w.astype(np.int64) * scale
    bias = bias.astype(np.int64) * scale
    mult, shift, add = rq["rq_mult"], rq["rq_shift"] - (mode == requant.LEFT), rq["rq_add"]
    parts = []
    for c in range(0, channels - 3, 4):
        g = w[:, c:c + 4]
        words = np.stack([pair(g[:, 0], g[:, 2]), pair(g[:, 1], g[:, 3])], axis=1)
        mult_add = np.stack([mult[c:c + 4], add[c:c + 4]], axis=1)
        parts += [bias[c:c + 4], words.reshape(-1), mult_add.reshape(-1), shift[c:c + 4]]
    for c in range(channels & ~3, channels):
        parts += [bias[c:c + 1], w[:, c], mult[c:c + 1], shift[c:c + 1], add[c:c + 1]]
    return np.concatenate([np.asarray(p, np.int64) for p in parts]).astype(np.int32)


def lower(graph: Graph, op: Op, board: dict) -> Call:
    k_h, k_w, c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, c)
    inp, wt, out = graph.t(op.inputs[0]), graph.t(op.inputs[1]), graph.t(op.outputs[0])
    w = wt.data.reshape(k_h * k_w, c)
    bias = bias_folded(graph, op, w.T)
    mults, shifts = channel_multipliers(inp, wt, out, c)
    mode, rq = requant.mode_and_consts(mults, shifts, zero_point(out),
                                       requant.acc_bound(w.T, bias))
    act_min, act_max = act_range(graph, op)
    scratch = scratch_bytes(k_h, k_w, c) if win.has_border else 0
    y, x = win.y, win.x
    return Call("dwconv_s8_dsp", "dwconv_s8_dsp",
                [Buf(op.inputs[0]), Const("params"), Buf(op.outputs[0]),
                 Scratch() if scratch else 0, win.batches, y.size, x.size, c, k_h, k_w, y.out,
                 x.out, y.stride, x.stride, y.pad, x.pad, y.inside_lo, y.inside_hi, x.inside_lo,
                 x.inside_hi, zero_point(inp), mode, act_min, act_max],
                {"params": params(w, bias, mode, rq)}, scratch_bytes=scratch)


KERNELS: list = [
    Kernel("DEPTHWISE_CONV_2D", "s8", "dsp", lower, applies, ("dsp",), "KxK, K*K <= 49"),
]
