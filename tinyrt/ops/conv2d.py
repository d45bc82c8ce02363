"""CONV_2D, int8: TFLite reference_integer_ops::ConvPerChannel (per-tensor and per-channel
weights, stride, dilation, SAME/VALID padding, groups). Input [N, H, W, C], weights
[O, KH, KW, C / groups] int8 symmetric, bias int32 [O], output [N, OH, OW, O].

The window geometry (``Window``, ``window``) lives in geometry.py, shared with the other paths.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const, Scratch
from .geometry import Window, window
from .common import (act_range, channel_multipliers, folded_bias, require_bias, require_dtypes,
                     require_quant, require_weight_scales, zero_point)

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


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
    require_weight_scales(w, channel_axis, out_c)
    require_bias(graph, op, out_c, "output channels")
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


def pointwise(graph: Graph, op: Op) -> bool:
    """The shape predicate of the 1x1 kernels (``is_pointwise`` on the layer's window)."""
    out_c, k_h, k_w, f_c = _shape(graph, op)
    return is_pointwise(window(graph, op, k_h, k_w, out_c), k_h, k_w, f_c)


def _head(graph: Graph, op: Op) -> tuple[list, dict]:
    """input, weights, folded bias, output; the requantisation arguments and constants."""
    out_c = _shape(graph, op)[0]
    requant, consts = requant_args(graph, op, out_c)
    consts["bias"] = bias_folded(graph, op, graph.t(op.inputs[1]).data.reshape(out_c, -1))
    return [Buf(op.inputs[0]), Buf(op.inputs[1]), Const("bias"), Buf(op.outputs[0])], \
        {"requant": requant, "consts": consts}


def lower_1x1(graph: Graph, op: Op, board: dict) -> Call:
    """Pointwise layers (``pointwise``): a matrix multiply straight from the input."""
    out_c, k_h, k_w, f_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    head, q = _head(graph, op)
    pixels = win.batches * win.y.out * win.x.out
    return Call("conv2d_s8_1x1", "conv2d_s8", [*head, pixels, win.in_c, out_c, *q["requant"]],
                q["consts"])


def lower(graph: Graph, op: Op, board: dict) -> Call:
    """Any CONV_2D: windows copied into scratch two pixels at a time."""
    out_c, k_h, k_w, f_c = _shape(graph, op)
    win = window(graph, op, k_h, k_w, out_c)
    head, q = _head(graph, op)
    shape = [win.batches, win.y.size, win.x.size, win.in_c, k_h, k_w, f_c, win.y.out, win.x.out,
             out_c]
    return Call("conv2d_s8", "conv2d_s8",
                [*head, Scratch(), *shape, *win.args(), zero_point(graph.t(op.inputs[0])),
                 *q["requant"]], q["consts"], scratch_bytes=scratch_bytes(k_h, k_w, f_c))
