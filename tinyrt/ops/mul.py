"""MUL, int8: TFLite mul.cc Prepare and reference_integer_ops::Mul (MulElementwise), elementwise
or broadcast over up to 4 dimensions (after merging). Either operand may be a constant tensor."""
from __future__ import annotations

import numpy as np

from ..fixedpoint import quantize_multiplier
from ..ir import Graph, Op
from . import Buf, Call, Const
from . import add_sub
from .add_sub import check_operands, is_elementwise, layout, layout_consts
from .common import act_range, scale, zero_point

# mul_s8 reads in1[i] and in2[i] before it writes out[i]: the output may overwrite input 0 of
# the output's size (the planner checks), or input 1 too (``inplace_inputs``).
INPLACE = True


def inplace_inputs(graph: Graph, op: Op) -> tuple[int, ...]:
    """ADD/SUB's rule (add_sub.inplace_inputs): input 1 as well when the shapes are equal."""
    return add_sub.inplace_inputs(graph, op)


def real_multiplier(graph: Graph, op: Op) -> float:
    """input1_scale * input2_scale / output_scale evaluated in float32, as mul.cc's
    ``double real_multiplier = input1->params.scale * input2->params.scale / output->params.scale``
    does (float operands; only the result is widened). Not the double product: that quantises
    to a different multiplier for some scales, and tflite-runtime 2.14 agrees with float32."""
    s1, s2, so = (np.float32(scale(graph.t(t))) for t in (*op.inputs[:2], op.outputs[0]))
    return float(np.float32(s1 * s2) / so)


def check(graph: Graph, op: Op) -> None:
    check_operands(graph, op)


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    mult, shift = quantize_multiplier(real_multiplier(graph, op))
    act_min, act_max = act_range(graph, op)
    quant = [-zero_point(graph.t(a)), -zero_point(graph.t(b)), mult, shift,
             zero_point(graph.t(out)), act_min, act_max]
    dims, st1, st2 = layout(graph, op)
    if is_elementwise(dims, st1, st2):
        return Call("mul_s8", "mul_s8", [Buf(a), Buf(b), Buf(out), dims[0], *quant])
    return Call("mul_s8_broadcast", "mul_s8",
                [Buf(a), Buf(b), Buf(out), Const("dims"), Const("stride1"), Const("stride2"),
                 *quant], layout_consts(dims, st1, st2))
