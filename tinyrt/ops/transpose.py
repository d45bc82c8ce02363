"""TRANSPOSE, int8: TFLite reference_ops::Transpose (rank 1 to 6, constant perm); values are
copied unchanged."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const
from .common import require_dtypes

MAX_RANK = 6   # TFLite's limit, and the kernel's loop depth


def _perm(graph: Graph, op: Op) -> list[int]:
    rank = len(graph.t(op.inputs[0]).shape)
    return [p + rank if p < 0 else p for p in graph.t(op.inputs[1]).data.reshape(-1).tolist()]


def simplified(shape: tuple[int, ...], perm: list[int]) -> tuple[list[int], list[int]]:
    """(input dims, perm) of the same transpose with unit dimensions dropped and input
    dimensions that stay adjacent in the output merged."""
    kept = [d for d in range(len(shape)) if shape[d] != 1]
    renumber = {d: i for i, d in enumerate(kept)}
    dims = [shape[d] for d in kept]
    perm = [renumber[p] for p in perm if p in renumber]
    runs: list[list[int]] = []          # runs of consecutive input dims, in output order
    for p in perm:
        if runs and runs[-1][-1] + 1 == p:
            runs[-1].append(p)
        else:
            runs.append([p])
    order = sorted(range(len(runs)), key=lambda r: runs[r][0])   # runs in input order
    merged_dims = [int(np.prod([dims[d] for d in runs[r]])) for r in order]
    return merged_dims, [order.index(r) for r in range(len(runs))]


def kernel_tables(shape: tuple[int, ...], perm: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(out_dims, in_strides), each of length MAX_RANK, for transpose_s8."""
    dims, perm = simplified(shape, perm)
    strides = [int(np.prod(dims[d + 1:])) for d in range(len(dims))]
    fill = MAX_RANK - len(perm)
    out_dims = [1] * fill + [dims[p] for p in perm]
    in_strides = [0] * fill + [strides[p] for p in perm]
    return np.array(out_dims, np.int32), np.array(in_strides, np.int32)


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    p = graph.t(op.inputs[1])
    if p.data is None or p.dtype not in ("int32", "int64"):
        raise UnsupportedOp("the perm input is not a constant int32 tensor",
                            ["convert with a constant permutation"])
    shape = graph.t(op.inputs[0]).shape
    if not 1 <= len(shape) <= MAX_RANK:
        raise UnsupportedOp(f"input has rank {len(shape)}; TRANSPOSE supports 1 to {MAX_RANK}")
    perm = _perm(graph, op)
    if sorted(perm) != list(range(len(shape))):
        raise UnsupportedOp(f"perm {p.data.tolist()} is not a permutation of {len(shape)} axes")
    if tuple(graph.t(op.outputs[0]).shape) != tuple(shape[d] for d in perm):
        raise UnsupportedOp(f"output shape {list(graph.t(op.outputs[0]).shape)} does not match "
                            f"perm {perm} of {list(shape)}")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    out_dims, in_strides = kernel_tables(graph.t(op.inputs[0]).shape, _perm(graph, op))
    return Call("transpose_s8", "transpose_s8",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), Const("out_dims"), Const("in_strides")],
                {"out_dims": out_dims, "in_strides": in_strides})
