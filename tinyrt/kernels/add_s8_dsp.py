"""add_s8_dsp: int8 elementwise ADD and SUB (templates/kernels/add_s8_dsp.h). Each input's
rescaling, TFLite's MultiplyByQuantizedMultiplierSmallerThanOneExp((x - zp) << 20), depends on
one byte only, so the generator tabulates it (256 int32 per input, computed here with TFLite's
integer arithmetic) and the kernel keeps only the output requantisation, in tr_requant's short
form when requant.mode_and_consts proves it exact for the tables' largest sum. Broadcasts stay
portable.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import Buf, Call, Const
from ..ops.add_sub import LEFT_SHIFT, _multipliers, is_elementwise, layout
from ..ops.common import act_range, zero_point
from . import Kernel, requant

INT32_MIN = -(1 << 31)


def srdhm(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul, int64 arithmetic on int32 values."""
    a = np.asarray(a, np.int64)
    r = (a * int(b) + (1 << 30)) >> 31
    return np.where((a == INT32_MIN) & (b == INT32_MIN), (1 << 31) - 1, r)


def rounding_divide_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: round half away from zero."""
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def rescaled(zp: int, mult: int, shift: int) -> np.ndarray:
    """TFLite's rescaled operand for every int8 input value -128 .. 127."""
    x = (np.arange(-128, 128, dtype=np.int64) - zp) * (1 << LEFT_SHIFT)
    return rounding_divide_by_pot(srdhm(x, mult), -shift)


def elementwise(graph: Graph, op: Op) -> bool:
    return is_elementwise(*layout(graph, op))


def lower(graph: Graph, op: Op, board: dict) -> Call:
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    m1, s1, m2, s2, mo, so = _multipliers(graph, op)
    lut1 = rescaled(zero_point(graph.t(a)), m1, s1)
    lut2 = rescaled(zero_point(graph.t(b)), m2, s2) * (-1 if op.type == "SUB" else 1)
    bound = np.abs(lut1).max() + np.abs(lut2).max()
    mode, rq = requant.mode_and_consts(np.array([mo]), np.array([so]), zero_point(graph.t(out)),
                                       np.array([bound]))
    scale = 1 if mode == requant.EXACT else 2       # doubled: see the header
    shift = int(rq["rq_shift"][0]) - (mode == requant.LEFT)
    act_min, act_max = act_range(graph, op)
    return Call("add_s8_dsp", "add_s8_dsp",
                [Buf(a), Buf(b), Buf(out), graph.t(out).size, Const("lut1"), Const("lut2"), mode,
                 int(rq["rq_mult"][0]), shift, int(rq["rq_add"][0]), act_min, act_max],
                {"lut1": (lut1 * scale).astype(np.int32), "lut2": (lut2 * scale).astype(np.int32)})


KERNELS: list = [
    Kernel("ADD", "s8", "dsp", lower, elementwise, ("dsp",), "elementwise"),
    Kernel("SUB", "s8", "dsp", lower, elementwise, ("dsp",), "elementwise"),
]
