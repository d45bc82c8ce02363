"""RESHAPE and SQUEEZE: the output is the input reinterpreted (row-major order is unchanged),
so the planner aliases the two buffers and no code runs. When it cannot (a constant input, or
an input that must stay live elsewhere), ``lower`` gives a byte copy. Any dtype."""
from __future__ import annotations

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call

ALIAS = True


def check(graph: Graph, op: Op) -> None:
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    if inp.dtype != out.dtype:
        raise UnsupportedOp(f"input is {inp.dtype} but output is {out.dtype}")
    if inp.size != out.size:
        raise UnsupportedOp(f"input {list(inp.shape)} and output {list(out.shape)} hold "
                            f"different numbers of elements")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    return Call("copy_bytes", "copy",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), graph.t(op.outputs[0]).nbytes])
