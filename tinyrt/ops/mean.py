"""MEAN, int8: TFLite 2.14 reference_ops::QuantizedMeanOrSum (integer version).

TFLite 2.14's reference MEAN sends every int8 axis set through this function, the 4D spatial
mean (axes [1, 2]) included: the older reference_integer_ops::Mean special case is no longer on
the reference path (checked against tflite-runtime; see docs/ops/mean.md)."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..fixedpoint import quantize_multiplier
from ..ir import Graph, Op
from . import Buf, Call
from .common import require_dtypes, require_quant, scale, zero_point

MAX_GROUPS = 6   # the kernel's view: [k0, r0, k1, r1, k2, r2]
MAX_COUNT = 1 << 23   # elements per mean: 256 * count stays inside int32


def _axes(graph: Graph, op: Op) -> list[int]:
    """Resolved axes: negatives wrapped, duplicates dropped (reference_ops::ResolveAxis)."""
    rank = len(graph.t(op.inputs[0]).shape)
    resolved = []
    for a in graph.t(op.inputs[1]).data.reshape(-1).tolist():
        a = a + rank if a < 0 else a
        if a not in resolved:
            resolved.append(int(a))
    return resolved


def groups(shape: tuple[int, ...], axes: list[int]) -> list[int]:
    """Merge runs of kept / reduced dimensions into the kernel's [k0, r0, k1, r1, k2, r2]."""
    runs: list[list] = [[False, 1]]            # [reduced?, size], starting with a kept run
    for d, size in enumerate(shape):
        reduced = d in axes
        if runs[-1][0] != reduced:
            runs.append([reduced, 1])
        runs[-1][1] *= size
    sizes = [size for _, size in runs]
    if len(sizes) > MAX_GROUPS:
        raise UnsupportedOp(f"reducing axes {axes} of a rank-{len(shape)} tensor alternates kept "
                            f"and reduced dimensions more than the kernel supports",
                            ["transpose the reduced axes next to each other"])
    return sizes + [1] * (MAX_GROUPS - len(sizes))


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    require_quant(graph, op, op.inputs[0], op.outputs[0])
    axis = graph.t(op.inputs[1])
    if axis.data is None or axis.dtype != "int32":
        raise UnsupportedOp("the axes input is not a constant int32 tensor",
                            ["convert with constant reduction axes"])
    shape = graph.t(op.inputs[0]).shape
    for a in axis.data.reshape(-1).tolist():
        if not -len(shape) <= a < len(shape):
            raise UnsupportedOp(f"axis {a} is out of range for a rank-{len(shape)} input")
    if graph.t(op.inputs[0]).size == 0:
        raise UnsupportedOp("the input is empty")
    k0, r0, k1, r1, k2, r2 = groups(shape, _axes(graph, op))
    if graph.t(op.outputs[0]).size != k0 * k1 * k2:
        raise UnsupportedOp(f"output shape {list(graph.t(op.outputs[0]).shape)} does not match "
                            f"the reduction of {list(shape)}")
    if r0 * r1 * r2 > MAX_COUNT:
        raise UnsupportedOp(f"the mean is over {r0 * r1 * r2} elements; the int32 accumulator "
                            f"holds at most {MAX_COUNT}")


def macs(graph: Graph, op: Op) -> int:
    return 0


def requant_params(in_scale: float, out_scale: float, count: int) -> tuple[int, int]:
    """PrepareMeanOrSum's QuantizeMultiplier(input_scale / output_scale) in double, then
    QuantizedMeanOrSum folds 1/count in: multiplier << s / count (int64), shift - s, with
    s = floor(log2(count)) clamped to <= 32 and <= 31 + shift."""
    multiplier, shift = quantize_multiplier(float(np.float32(in_scale)) / float(np.float32(out_scale)))
    s = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << s) // count, shift - s


def lower(graph: Graph, op: Op, board: dict) -> Call:
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    k0, r0, k1, r1, k2, r2 = groups(inp.shape, _axes(graph, op))
    count = r0 * r1 * r2
    multiplier, shift = requant_params(scale(inp), scale(out), count)
    return Call("mean_s8", "mean_s8",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), k0, r0, k1, r1, k2, r2,
                 -zero_point(inp) * count, multiplier, shift, zero_point(out)])
