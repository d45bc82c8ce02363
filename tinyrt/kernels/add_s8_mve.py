"""add_s8_mve: int8 elementwise ADD and SUB on Helium (templates/kernels/add_s8_mve.h): TFLite's
integer arithmetic on four lanes, each rescaling in tinyrt_mve.h's exact vector form (RIGHT
for a negative shift, LEFT, i.e. no rounding division, for a zero one). Broadcasts stay on the
other kernels.
"""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops import Buf, Call
from ..ops.add_sub import _multipliers, is_elementwise, layout
from ..ops.common import act_range, zero_point
from . import Kernel
from .conv2d_s8_mve import rq_mode


def elementwise(graph: Graph, op: Op) -> bool:
    return is_elementwise(*layout(graph, op))


def _rescale(mult: int, shift: int) -> list[int]:
    """mult, mode, neg_right of one MultiplyByQuantizedMultiplierSmallerThanOneExp (shift <= 0)."""
    return [mult, rq_mode([shift]), min(shift, 0)]


def lower(graph: Graph, op: Op, board: dict) -> Call:
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    m1, s1, m2, s2, mo, so = _multipliers(graph, op)
    return Call("add_s8_mve", "add_s8_mve",
                [Buf(a), Buf(b), Buf(out), graph.t(out).size, int(op.type == "SUB"),
                 -zero_point(graph.t(a)), *_rescale(m1, s1), -zero_point(graph.t(b)),
                 *_rescale(m2, s2), *_rescale(mo, so), zero_point(graph.t(out)),
                 *act_range(graph, op)])


KERNELS: list = [
    Kernel("ADD", "s8", "mve", lower, elementwise, ("mve",), "elementwise"),
    Kernel("SUB", "s8", "mve", lower, elementwise, ("mve",), "elementwise"),
]
