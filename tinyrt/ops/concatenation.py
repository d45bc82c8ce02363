"""CONCATENATION, int8: TFLite reference_ops::Concatenation along any axis.

TFLite 2.14 refuses an int8 concatenation whose inputs' scale or zero point differ from the
output's (concatenation.cc Prepare; ConcatenationWithScaling is its uint8-only path), so the
kernel copies values unchanged and check() rejects what TFLite rejects."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const
from .common import require_quant

MAX_INPUTS = 8   # CONCAT_S8_MAX_INPUTS in templates/kernels/concat_s8.h


def _axis(graph: Graph, op: Op) -> int:
    axis = op.attrs.get("axis", 0)
    return axis + len(graph.t(op.outputs[0]).shape) if axis < 0 else axis


def check(graph: Graph, op: Op) -> None:
    out = graph.t(op.outputs[0])
    tensors = [graph.t(t) for t in op.inputs] + [out]
    for t in tensors:
        if t.dtype != "int8":
            raise UnsupportedOp(f"tensor '{t.name}' is {t.dtype}; tinyrt supports int8 here",
                                ["quantise the model to full int8 (`tinyrt quantize`)"])
    require_quant(graph, op, *op.inputs, op.outputs[0])
    if not 1 <= len(op.inputs) <= MAX_INPUTS:
        raise UnsupportedOp(f"{len(op.inputs)} inputs; the kernel takes 1 to {MAX_INPUTS}",
                            ["split the concatenation in two"])
    if op.attrs.get("activation", "NONE") != "NONE":
        raise UnsupportedOp("a fused activation on CONCATENATION (TFLite rejects it too)")
    for t in tensors[:-1]:
        if t.quant.scale[0] != out.quant.scale[0] or t.quant.zero_point[0] != out.quant.zero_point[0]:
            raise UnsupportedOp(f"input '{t.name}' is quantised differently from the output; "
                                f"TFLite's int8 CONCATENATION requires them equal",
                                ["requantise the input first (QUANTIZE)"])
    axis, rank = _axis(graph, op), len(out.shape)
    if not 0 <= axis < rank:
        raise UnsupportedOp(f"axis {op.attrs.get('axis', 0)} is out of range for rank {rank}")
    for t in tensors[:-1]:
        if len(t.shape) != rank or any(t.shape[d] != out.shape[d] for d in range(rank) if d != axis):
            raise UnsupportedOp(f"input {list(t.shape)} does not match output {list(out.shape)} "
                                f"outside axis {axis}")
    if sum(t.shape[axis] for t in tensors[:-1]) != out.shape[axis]:
        raise UnsupportedOp(f"inputs do not add up to the output along axis {axis}")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    out = graph.t(op.outputs[0])
    axis = _axis(graph, op)
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    inner = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
    sizes = np.array([graph.t(t).shape[axis] * inner for t in op.inputs], np.int32)
    pointers = [Buf(t) for t in op.inputs] + [0] * (MAX_INPUTS - len(op.inputs))
    return Call("concat_s8", "concat_s8",
                [Buf(op.outputs[0]), outer, Const("sizes"), len(op.inputs), *pointers],
                {"sizes": sizes})
