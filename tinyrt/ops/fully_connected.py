"""FULLY_CONNECTED, int8: TFLite reference_integer_ops::FullyConnected (per-tensor and
per-channel weights). Weights [O, I] int8 symmetric, bias int32 [O], output [B, O]."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const
from .common import (act_range, channel_multipliers, folded_bias, require_bias, require_dtypes,
                     require_quant, require_weight_scales, zero_point)


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "weights": ("int8",), "bias": ("int32",),
                               "output": ("int8",)})
    require_quant(graph, op, op.inputs[0], op.inputs[1], op.outputs[0])
    w = graph.t(op.inputs[1])
    if w.data is None:
        raise UnsupportedOp("weights are not constant", ["freeze the weights into the model"])
    if np.any(w.quant.zero_point != 0):
        raise UnsupportedOp("weights have a non-zero zero point (int8 weights are symmetric)")
    _check_shapes(graph, op)
    if op.attrs.get("activation", "NONE") not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise UnsupportedOp(f"fused activation {op.attrs['activation']} is not supported")


def _check_shapes(graph: Graph, op: Op) -> None:
    """Weights [O, I] (quantised per tensor or along O), input a whole number of rows of I, a
    bias of O values, output [batches, O] in any layout."""
    w = graph.t(op.inputs[1])
    if len(w.shape) != 2 or 0 in w.shape:
        raise UnsupportedOp(f"weights have shape {list(w.shape)}; [outputs, inputs] is required")
    out_depth, in_depth = w.shape
    require_weight_scales(w, 0, out_depth)
    size = graph.t(op.inputs[0]).size
    if size % in_depth:
        raise UnsupportedOp(f"input has {size} values, not a whole number of rows of {in_depth}")
    if graph.t(op.outputs[0]).size != size // in_depth * out_depth:
        raise UnsupportedOp(f"output has {graph.t(op.outputs[0]).size} values; "
                            f"{size // in_depth} rows of {out_depth} are computed")
    require_bias(graph, op, out_depth, "outputs")


def _dims(graph: Graph, op: Op) -> tuple[int, int, int]:
    out_depth, in_depth = graph.t(op.inputs[1]).shape
    batches = graph.t(op.inputs[0]).size // in_depth
    return batches, in_depth, out_depth


def macs(graph: Graph, op: Op) -> int:
    batches, in_depth, out_depth = _dims(graph, op)
    return batches * in_depth * out_depth


def lower(graph: Graph, op: Op, board: dict) -> Call:
    inp, w, out = graph.t(op.inputs[0]), graph.t(op.inputs[1]), graph.t(op.outputs[0])
    bias = graph.t(op.inputs[2]).data if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    batches, in_depth, out_depth = _dims(graph, op)
    mults, shifts = channel_multipliers(inp, w, out, out_depth)
    act_min, act_max = act_range(graph, op)
    consts = {"bias": folded_bias(w.data, bias, zero_point(inp))}
    shape_args = [batches, in_depth, out_depth]
    tail = [zero_point(out), act_min, act_max]
    if w.quant.per_channel:
        consts.update(multiplier=mults, shift=shifts)
        return Call("fully_connected_s8_per_channel", "fully_connected_s8",
                    [Buf(op.inputs[0]), Buf(op.inputs[1]), Const("bias"), Buf(op.outputs[0]),
                     *shape_args, Const("multiplier"), Const("shift"), *tail], consts)
    return Call("fully_connected_s8", "fully_connected_s8",
                [Buf(op.inputs[0]), Buf(op.inputs[1]), Const("bias"), Buf(op.outputs[0]),
                 *shape_args, int(mults[0]), int(shifts[0]), *tail], consts)
