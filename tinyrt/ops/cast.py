"""CAST float32 -> float16: the conversion at a graph input that ``tinyrt.passes.compute_fp16``
inserts (FP16 compute, tinyrt/ops/f16.py): round to nearest even, as TFLite's CAST and numpy's
``astype(float16)``. Other casts are not supported."""
from __future__ import annotations

from ..ir import Graph, Op
from . import Call, f16


def check(graph: Graph, op: Op) -> None:
    f16.check_convert(graph, op, "float32", "float16")


def inplace_resize(graph: Graph, op: Op) -> bool:
    """The output may overwrite the (larger) input: the kernel converts front to back."""
    return True


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    return f16.lower_convert(graph, op)
