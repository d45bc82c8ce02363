"""CONV_2D, int8: TFLite reference_integer_ops::ConvPerChannel (per-tensor and per-channel
weights, stride, dilation, SAME/VALID padding, groups). Input [N, H, W, C], weights
[O, KH, KW, C / groups] int8 symmetric, bias int32 [O], output [N, OH, OW, O].

The window geometry (``Window``, ``window``) is shared with DEPTHWISE_CONV_2D.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const, Scratch
from . import f16, f32
from .common import (act_range, channel_multipliers, folded_bias, require_dtypes, require_quant,
                     zero_point)

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a convolution window, as TFLite's ComputePaddingHeightWidth sets it up.
    Output positions ``o`` in [inside_lo, inside_hi) read only taps inside the input."""
    size: int       # input size
    kernel: int
    stride: int
    dilation: int
    out: int
    pad: int        # before; TFLite's extra odd padding goes after and is implicit
    inside_lo: int
    inside_hi: int


def _c_div(a: int, b: int) -> int:
    """C++ integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def window_axis(size: int, kernel: int, stride: int, dilation: int, padding: str) -> Axis:
    """ComputeOutSize + ComputePaddingWithOffset (tensorflow/lite/kernels/padding.h)."""
    if stride < 1 or dilation < 1:
        raise UnsupportedOp(f"stride {stride} / dilation {dilation} must be at least 1")
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        out = _c_div(size + stride - 1, stride)
    elif padding == "VALID":
        out = _c_div(size + stride - effective, stride)
    else:
        raise UnsupportedOp(f"padding {padding} is not supported")
    if out < 1:
        raise UnsupportedOp(f"the {kernel}-tap window (dilation {dilation}) does not fit the "
                            f"input size {size} with {padding} padding: empty output")
    pad = max((out - 1) * stride + effective - size, 0) // 2
    inside = [o for o in range(out) if o * stride - pad >= 0
              and o * stride - pad + effective <= size]
    lo, hi = (inside[0], inside[-1] + 1) if inside else (0, 0)
    return Axis(size, kernel, stride, dilation, out, pad, lo, hi)


@dataclass(frozen=True)
class Window:
    batches: int
    in_c: int
    out_c: int
    y: Axis
    x: Axis

    @property
    def has_border(self) -> bool:
        """Some window reaches outside the input."""
        y, x = self.y, self.x
        return (y.inside_lo, y.inside_hi, x.inside_lo, x.inside_hi) != (0, y.out, 0, x.out)

    def args(self) -> list[int]:
        """stride_h, stride_w, dil_h, dil_w, pad_h, pad_w."""
        y, x = self.y, self.x
        return [y.stride, x.stride, y.dilation, x.dilation, y.pad, x.pad]


def window(graph: Graph, op: Op, k_h: int, k_w: int, out_c: int) -> Window:
    """The geometry of a conv-like op; checks the output tensor has the shape TFLite computes."""
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    if len(inp.shape) != 4:
        raise UnsupportedOp(f"input has rank {len(inp.shape)}; [N, H, W, C] is required")
    batches, in_h, in_w, in_c = inp.shape
    a = op.attrs
    padding = a.get("padding", "SAME")
    y = window_axis(in_h, k_h, a.get("stride_h", 1), a.get("dilation_h", 1), padding)
    x = window_axis(in_w, k_w, a.get("stride_w", 1), a.get("dilation_w", 1), padding)
    expected = (batches, y.out, x.out, out_c)
    if tuple(out.shape) != expected:
        raise UnsupportedOp(f"output shape {list(out.shape)} differs from {list(expected)}, the "
                            f"shape TFLite computes for this window: the model is inconsistent")
    return Window(batches, in_c, out_c, y, x)


def check_conv_like(graph: Graph, op: Op, channel_axis: int, out_c: int) -> None:
    """The checks CONV_2D and DEPTHWISE_CONV_2D share: int8 tensors, constant symmetric weights
    quantised per tensor or along ``channel_axis``, a bias of ``out_c`` values, a supported
    fused activation."""
    require_dtypes(graph, op, {"input": ("int8",), "weights": ("int8",), "bias": ("int32",),
                               "output": ("int8",)})
    require_quant(graph, op, op.inputs[0], op.inputs[1], op.outputs[0])
    w = graph.t(op.inputs[1])
    if w.data is None:
        raise UnsupportedOp("weights are not constant", ["freeze the weights into the model"])
    if len(w.shape) != 4:
        raise UnsupportedOp(f"weights have rank {len(w.shape)}; 4 is required")
    if np.any(w.quant.zero_point != 0):
        raise UnsupportedOp("weights have a non-zero zero point (int8 weights are symmetric)")
    if w.quant.per_channel and (w.quant.axis != channel_axis or w.quant.scale.size != out_c):
        raise UnsupportedOp(f"weights are quantised along dimension {w.quant.axis} with "
                            f"{w.quant.scale.size} scales; expected {out_c} along {channel_axis}")
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = graph.t(op.inputs[2])
        if b.data is None:
            raise UnsupportedOp("bias is not constant", ["freeze the bias into the model"])
        if b.size != out_c:
            raise UnsupportedOp(f"bias has {b.size} values for {out_c} output channels")
    if op.attrs.get("activation", "NONE") not in ACTIVATIONS:
        raise UnsupportedOp(f"fused activation {op.attrs['activation']} is not supported")


def bias_folded(graph: Graph, op: Op, weights_by_channel: np.ndarray) -> np.ndarray:
    """The bias (zeros without one) with the input offset folded in: bias - in_zp * sum(w).
    Exact at the border as well, because the kernels read taps outside the input as in_zp.
    ``weights_by_channel``: [out_c, taps] int8."""
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = graph.t(op.inputs[2]).data.reshape(-1) if has_bias else None
    return folded_bias(weights_by_channel, bias, zero_point(graph.t(op.inputs[0])))


def requant_args(graph: Graph, op: Op, out_c: int) -> tuple[list, dict]:
    """Const multiplier/shift arguments then out_zp, act_min, act_max."""
    inp, w, out = graph.t(op.inputs[0]), graph.t(op.inputs[1]), graph.t(op.outputs[0])
    mults, shifts = channel_multipliers(inp, w, out, out_c)
    act_min, act_max = act_range(graph, op)
    return ([Const("multiplier"), Const("shift"), zero_point(out), act_min, act_max],
            {"multiplier": mults, "shift": shifts})


# --- CONV_2D ------------------------------------------------------------------------------------

def _shape(graph: Graph, op: Op) -> tuple[int, int, int, int]:
    """out_c, k_h, k_w, f_c (input channels per group)."""
    return tuple(int(d) for d in graph.t(op.inputs[1]).shape)


def check(graph: Graph, op: Op) -> None:
    if f16.is_f16(graph, op):
        return f16.check_conv2d(graph, op)
    if f32.is_float(graph, op):
        return f32.check_conv2d(graph, op)
    out_c, k_h, k_w, f_c = _shape(graph, op) if len(graph.t(op.inputs[1]).shape) == 4 \
        else (0, 0, 0, 0)
    check_conv_like(graph, op, 0, out_c)
    win = window(graph, op, k_h, k_w, out_c)
    if f_c < 1 or win.in_c % f_c:
        raise UnsupportedOp(f"input has {win.in_c} channels, not a multiple of the filter's {f_c}")
    groups = win.in_c // f_c
    if out_c % groups:
        raise UnsupportedOp(f"{out_c} filters do not split into {groups} groups")


def macs(graph: Graph, op: Op) -> int:
    out_c, k_h, k_w, f_c = _shape(graph, op)
    return graph.t(op.outputs[0]).size * k_h * k_w * f_c


def is_pointwise(win: Window, k_h: int, k_w: int, f_c: int) -> bool:
    """1x1, stride 1, one group: a matrix multiply (1x1 windows never pad)."""
    return (k_h, k_w, win.y.stride, win.x.stride) == (1, 1, 1, 1) and f_c == win.in_c


def scratch_bytes(k_h: int, k_w: int, f_c: int) -> int:
    """conv2d_s8's window buffer: two pixels' windows (CONV2D_S8_SCRATCH_BYTES in the header)."""
    return 2 * k_h * k_w * f_c


def lower(graph: Graph, op: Op, board: dict) -> Call:
    if f16.is_f16(graph, op):
        return f16.lower_conv2d(graph, op)
    if f32.is_float(graph, op):
        return f32.lower_conv2d(graph, op)
    out_c, k_h, k_w, f_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    w = graph.t(op.inputs[1]).data
    requant, consts = requant_args(graph, op, out_c)
    consts["bias"] = bias_folded(graph, op, w.reshape(out_c, -1))
    head = [Buf(op.inputs[0]), Buf(op.inputs[1]), Const("bias"), Buf(op.outputs[0])]
    if is_pointwise(win, k_h, k_w, f_c):
        pixels = win.batches * win.y.out * win.x.out
        return Call("conv2d_s8_1x1", "conv2d_s8", [*head, pixels, win.in_c, out_c, *requant],
                    consts)
    shape = [win.batches, win.y.size, win.x.size, win.in_c, k_h, k_w, f_c, win.y.out, win.x.out,
             out_c]
    return Call("conv2d_s8", "conv2d_s8",
                [*head, Scratch(), *shape, *win.args(), zero_point(graph.t(op.inputs[0])),
                 *requant], consts, scratch_bytes=scratch_bytes(k_h, k_w, f_c))
