"""PAD, int8: TFLite reference_ops::Pad with constant paddings; the pad value is the output zero
point (PAD has no constant_values input) and input values are copied unchanged."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const
from .common import require_dtypes, require_quant, zero_point

MAX_RANK = 5   # TFLite's PadKernelMaxDimensionCount()


def paddings(graph: Graph, op: Op) -> list[tuple[int, int]]:
    return [(int(b), int(a)) for b, a in graph.t(op.inputs[1]).data.reshape(-1, 2).tolist()]


def merged(shape: tuple[int, ...], pads: list[tuple[int, int]]) -> tuple[list[int], list[int], list[int]]:
    """(in_dims, before, after) of rank MAX_RANK: a dimension with no padding is merged into its
    outer neighbour (its rows become longer), then leading 1s fill up to MAX_RANK."""
    dims, before, after = [], [], []
    for size, (b, a) in zip(shape, pads):
        if dims and b == 0 and a == 0:
            dims[-1], before[-1], after[-1] = dims[-1] * size, before[-1] * size, after[-1] * size
        else:
            dims.append(size)
            before.append(b)
            after.append(a)
    fill = MAX_RANK - len(dims)
    return [1] * fill + dims, [0] * fill + before, [0] * fill + after


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    require_quant(graph, op, op.outputs[0])
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        raise UnsupportedOp("PAD with a constant_values input (PADV2) is not supported")
    p = graph.t(op.inputs[1])
    if p.data is None or p.dtype not in ("int32", "int64"):
        raise UnsupportedOp("the paddings input is not a constant int32/int64 tensor",
                            ["convert with constant paddings"])
    shape = graph.t(op.inputs[0]).shape
    if len(shape) > MAX_RANK:
        raise UnsupportedOp(f"input has rank {len(shape)}; PAD supports up to {MAX_RANK}")
    if p.data.shape != (len(shape), 2) or np.any(p.data < 0):
        raise UnsupportedOp(f"paddings {p.data.tolist()} are not non-negative "
                            f"[{len(shape)}, 2] values")
    expected = tuple(s + b + a for s, (b, a) in zip(shape, paddings(graph, op)))
    if tuple(graph.t(op.outputs[0]).shape) != expected:
        raise UnsupportedOp(f"output shape {list(graph.t(op.outputs[0]).shape)} does not match "
                            f"the padded input {list(expected)}")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    dims, before, after = merged(graph.t(op.inputs[0]).shape, paddings(graph, op))
    out_dims = [d + b + a for d, b, a in zip(dims, before, after)]
    consts = {"in_dims": np.array(dims, np.int32), "before": np.array(before, np.int32),
              "out_dims": np.array(out_dims, np.int32)}
    return Call("pad_s8", "pad_s8",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), Const("in_dims"), Const("before"),
                 Const("out_dims"), zero_point(graph.t(op.outputs[0]))], consts)
