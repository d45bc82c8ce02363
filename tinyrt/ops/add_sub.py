"""ADD and SUB, int8: TFLite add.cc / sub.cc Prepare and reference_integer_ops::Add (AddFunc),
and reference_ops::Sub (SubFunc), elementwise or broadcast over up to 4 dimensions (after merging).
SUB subtracts the rescaled inputs; negating input 2's multiplier and adding (as some TFLite
versions do) differs at rounding ties. Either operand may be a constant tensor.

MUL shares the operand checks and the broadcast layout: ``broadcast_layout`` turns two
broadcastable shapes into (at most) four output dimensions and per-input element strides,
merging dimensions that need no broadcast.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..fixedpoint import quantize_multiplier
from ..ir import Graph, Op
from . import Buf, Call, Const
from .common import act_range, require_quant, scale, zero_point

# The output may overwrite input 0 when it has the output's size (the planner checks): every
# kernel (portable, add_s8_dsp, add_s8_mve, FP32, FP16) reads an element before it writes it.
INPLACE = True
LEFT_SHIFT = 20      # add.cc / sub.cc: 20 for the 8-bit path
MAX_DIMS = 4


def broadcast_layout(shape1, shape2) -> tuple[list[int], list[int], list[int]]:
    """(dims, strides1, strides2) with dims[-1] fastest; stride 0 along a broadcast axis.
    Axes of extent 1 are dropped and adjacent axes that step alike in both inputs merged, so a
    same-shape pair becomes one axis with strides (1, 1)."""
    try:
        out = np.broadcast_shapes(tuple(shape1), tuple(shape2))
    except ValueError:
        raise UnsupportedOp(f"shapes {list(shape1)} and {list(shape2)} do not broadcast") from None
    rank = len(out)
    axes = []
    for shape in (shape1, shape2):
        shape = (1,) * (rank - len(shape)) + tuple(shape)
        contiguous = np.cumprod((1,) + shape[:0:-1])[::-1]
        axes.append([0 if shape[a] == 1 else int(contiguous[a]) for a in range(rank)])
    dims, s1, s2 = [], [], []
    for a in range(rank):
        if out[a] == 1:
            continue
        if dims and s1[-1] == axes[0][a] * out[a] and s2[-1] == axes[1][a] * out[a]:
            dims[-1] *= out[a]
            s1[-1], s2[-1] = axes[0][a], axes[1][a]
            continue
        dims.append(int(out[a]))
        s1.append(axes[0][a])
        s2.append(axes[1][a])
    return dims or [1], s1 or [0], s2 or [0]


def layout(graph: Graph, op: Op) -> tuple[list[int], list[int], list[int]]:
    """``broadcast_layout`` of a binary op's inputs, checked against its output."""
    dims, s1, s2 = broadcast_layout(graph.t(op.inputs[0]).shape, graph.t(op.inputs[1]).shape)
    if len(dims) > MAX_DIMS:
        raise UnsupportedOp(f"broadcast over {len(dims)} dimensions (at most {MAX_DIMS})")
    if int(np.prod(dims)) != graph.t(op.outputs[0]).size:
        raise UnsupportedOp("output size differs from the broadcast of the inputs' shapes")
    return dims, s1, s2


def is_elementwise(dims, s1, s2) -> bool:
    return len(dims) == 1 and s1 == [1] and s2 == [1]


def layout_consts(dims, s1, s2) -> dict[str, np.ndarray]:
    """The broadcast kernels' ``dims``, ``stride1``, ``stride2``, padded to four axes."""
    pad = MAX_DIMS - len(dims)
    return {"dims": np.array([1] * pad + dims, np.int32),
            "stride1": np.array([0] * pad + s1, np.int32),
            "stride2": np.array([0] * pad + s2, np.int32)}


def inplace_inputs(graph: Graph, op: Op) -> tuple[int, ...]:
    """The inputs the output may overwrite (when that input dies at this op): input 0, and
    input 1 as well when both operands have the output's shape. The elementwise kernels load
    both operands of an element (add_s8_dsp: of a pair; add_s8_mve, add_f16 on Helium: of a
    vector) before they store its result and never read it again, so ``out == in2`` is as safe
    as ``out == in1``. A broadcast input 1 is never the output's size; MUL shares this."""
    shapes = {tuple(graph.t(t).shape) for t in (*op.inputs[:2], op.outputs[0])}
    return (0, 1) if len(shapes) == 1 else (0,)


def check_operands(graph: Graph, op: Op) -> None:
    """int8 per-tensor operands and output, a fused activation with a quantised range, shapes
    that broadcast to the output."""
    for role, t in (("input 1", op.inputs[0]), ("input 2", op.inputs[1]),
                    ("output", op.outputs[0])):
        if graph.t(t).dtype != "int8":
            raise UnsupportedOp(f"{role} is {graph.t(t).dtype}; tinyrt supports int8 here",
                                ["quantise the model to full int8 (`tinyrt quantize`)"])
    require_quant(graph, op, op.inputs[0], op.inputs[1], op.outputs[0])
    for t in (*op.inputs[:2], op.outputs[0]):
        if graph.t(t).quant.per_channel:
            raise UnsupportedOp(f"tensor '{graph.t(t).name}' is quantised per channel")
    if op.attrs.get("activation", "NONE") not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise UnsupportedOp(f"fused activation {op.attrs['activation']} is not supported")
    layout(graph, op)


def _multipliers(graph: Graph, op: Op) -> list[int]:
    """[m1, s1, m2, s2, mo, so] as Prepare computes them (double, 2 * max input scale)."""
    s_in1, s_in2 = (float(np.float32(scale(graph.t(t)))) for t in op.inputs[:2])
    s_out = float(np.float32(scale(graph.t(op.outputs[0]))))
    if min(s_in1, s_in2, s_out) <= 0.0:
        raise UnsupportedOp("a quantisation scale is not positive")
    twice_max = 2.0 * max(s_in1, s_in2)
    # (1 << 20) * output scale is a float product in TFLite; a power of two makes it exact.
    reals = [s_in1 / twice_max, s_in2 / twice_max, twice_max / ((1 << LEFT_SHIFT) * s_out)]
    if not 0.0 < reals[2] < 1.0:
        raise UnsupportedOp(f"output scale {s_out:g} is too small for the input scales "
                            f"(TFLite requires an output multiplier below 1)")
    result = []
    for real in reals:   # QuantizeMultiplierSmallerThanOneExp
        m, s = quantize_multiplier(real)
        if s > 0:
            raise UnsupportedOp("a rescaling multiplier rounds up to 1 (TFLite rejects it)")
        result += [m, s]
    return result


def check(graph: Graph, op: Op) -> None:
    check_operands(graph, op)
    _multipliers(graph, op)


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    m1, s1, m2, s2, mo, so = _multipliers(graph, op)
    act_min, act_max = act_range(graph, op)
    quant = [-zero_point(graph.t(a)), m1, s1, -zero_point(graph.t(b)), m2, s2, mo, so,
             zero_point(graph.t(out)), act_min, act_max]
    dims, st1, st2 = layout(graph, op)
    kind = "sub" if op.type == "SUB" else "add"
    if is_elementwise(dims, st1, st2):
        return Call(f"{kind}_s8", "add_s8", [Buf(a), Buf(b), Buf(out), dims[0], *quant])
    return Call(f"{kind}_s8_broadcast", "add_s8",
                [Buf(a), Buf(b), Buf(out), Const("dims"), Const("stride1"), Const("stride2"),
                 *quant], layout_consts(dims, st1, st2))
