"""DEPTHWISE_CONV_2D, int8: TFLite reference_integer_ops::DepthwiseConvPerChannel (per-tensor
and per-channel weights, stride, dilation, SAME/VALID padding, depth multiplier). Input
[N, H, W, C], weights [1, KH, KW, C * M] int8 symmetric (output channel c * M + m), bias int32
[C * M], output [N, OH, OW, C * M].

As TFLite does at Eval (ComputeDepthMultiplier), the depth multiplier is taken from the shapes,
M = filter channels / input channels; the ``depth_multiplier`` attribute is not used.
"""
from __future__ import annotations

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const, Scratch
from .common import zero_point
from .conv2d import Window, bias_folded, check_conv_like, requant_args, window


def _shape(graph: Graph, op: Op) -> tuple[int, int, int]:
    """k_h, k_w, out_c."""
    _, k_h, k_w, out_c = (int(d) for d in graph.t(op.inputs[1]).shape)
    return k_h, k_w, out_c


def check(graph: Graph, op: Op) -> None:
    w = graph.t(op.inputs[1])
    out_c = int(w.shape[3]) if len(w.shape) == 4 else 0
    check_conv_like(graph, op, 3, out_c)
    if w.shape[0] != 1:
        raise UnsupportedOp(f"depthwise weights {list(w.shape)} must be [1, KH, KW, C * M]")
    k_h, k_w, _ = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    if out_c % win.in_c:
        raise UnsupportedOp(f"{out_c} output channels are not a multiple of the {win.in_c} "
                            f"input channels")


def macs(graph: Graph, op: Op) -> int:
    k_h, k_w, _ = _shape(graph, op)
    return graph.t(op.outputs[0]).size * k_h * k_w


def is_3x3(win: Window, k_h: int, k_w: int) -> bool:
    """The unrolled variant: 3x3 taps, depth multiplier 1, no dilation (any stride, padding)."""
    return (k_h, k_w, win.y.dilation, win.x.dilation) == (3, 3, 1, 1) and win.out_c == win.in_c


def scratch_bytes(k_h: int, k_w: int, in_c: int) -> int:
    """One border window, [k_h, k_w, in_c] (DWCONV_S8_SCRATCH_BYTES in the header)."""
    return k_h * k_w * in_c


def unrolled_3x3(graph: Graph, op: Op) -> bool:
    """The shape predicate of dwconv_s8_3x3 (``is_3x3`` on the layer's window)."""
    k_h, k_w, out_c = _shape(graph, op)
    return is_3x3(window(graph, op, k_h, k_w, out_c), k_h, k_w)


def _parts(graph: Graph, op: Op):
    k_h, k_w, out_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    w = graph.t(op.inputs[1]).data
    requant, consts = requant_args(graph, op, out_c)
    consts["bias"] = bias_folded(graph, op, w.reshape(-1, out_c).T)
    # Scratch holds one border window; without border windows the kernel gets a null pointer.
    scratch = scratch_bytes(k_h, k_w, win.in_c) if win.has_border else 0
    head = [Buf(op.inputs[0]), Buf(op.inputs[1]), Const("bias"), Buf(op.outputs[0]),
            Scratch() if scratch else 0]
    y, x = win.y, win.x
    inside = [y.inside_lo, y.inside_hi, x.inside_lo, x.inside_hi]
    tail = [zero_point(graph.t(op.inputs[0])), *requant]
    return win, head, inside, tail, consts, scratch


def lower_3x3(graph: Graph, op: Op, board: dict) -> Call:
    win, head, inside, tail, consts, scratch = _parts(graph, op)
    y, x = win.y, win.x
    return Call("dwconv_s8_3x3", "dwconv_s8",
                [*head, win.batches, y.size, x.size, win.in_c, y.out, x.out, y.stride,
                 x.stride, y.pad, x.pad, *inside, *tail], consts, scratch_bytes=scratch)


def lower(graph: Graph, op: Op, board: dict) -> Call:
    k_h, k_w, out_c = _shape(graph, op)
    win, head, inside, tail, consts, scratch = _parts(graph, op)
    y, x = win.y, win.x
    return Call("dwconv_s8", "dwconv_s8",
                [*head, win.batches, y.size, x.size, win.in_c, k_h, k_w, out_c // win.in_c,
                 y.out, x.out, *win.args(), *inside, *tail], consts, scratch_bytes=scratch)
