"""HARD_SWISH, int8: TFLite activations.cc HardSwishPrepare and reference_ops::HardSwish<int8_t>,
the 16-bit fixed-point algorithm (see templates/kernels/hard_swish_s8.h). Prepare's constants
are float32 arithmetic, quantised with QuantizeMultiplier and rounded to Q15."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..fixedpoint import quantize_multiplier
from ..ir import Graph, Op
from . import Buf, Call
from .common import require_dtypes, require_quant, scale, zero_point

INPLACE = True


def downscale_to_int16(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier: round a Q31 multiplier to Q15, saturating."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


def params(graph: Graph, op: Op) -> tuple[int, int, int, int]:
    """(output multiplier Q15, output exponent, reluish multiplier Q15, reluish exponent)."""
    in_scale = np.float32(scale(graph.t(op.inputs[0])))
    out_scale = np.float32(scale(graph.t(op.outputs[0])))
    hires_input_scale = np.float32(1.0 / 128.0) * in_scale
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    out_mult, out_exp = quantize_multiplier(float(hires_input_scale / out_scale))
    reluish_mult, reluish_exp = quantize_multiplier(float(hires_input_scale / reluish_scale))
    return (downscale_to_int16(out_mult), out_exp, downscale_to_int16(reluish_mult), reluish_exp)


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    require_quant(graph, op, op.inputs[0], op.outputs[0])
    for t in (op.inputs[0], op.outputs[0]):
        if graph.t(t).quant.per_channel:
            raise UnsupportedOp(f"tensor '{graph.t(t).name}' is quantised per channel")
        if scale(graph.t(t)) <= 0.0:
            raise UnsupportedOp(f"tensor '{graph.t(t).name}' has a non-positive scale")
    _, out_exp, _, reluish_exp = params(graph, op)
    if out_exp > 0:
        raise UnsupportedOp("input scale / (128 * output scale) is 1 or more; TFLite's "
                            "HardSwishPrepare rejects it")
    if reluish_exp > 31:
        raise UnsupportedOp(f"input scale {scale(graph.t(op.inputs[0])):g} is out of range")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    out_mult, out_exp, reluish_mult, reluish_exp = params(graph, op)
    return Call("hard_swish_s8", "hard_swish_s8",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), graph.t(op.inputs[0]).size,
                 zero_point(graph.t(op.inputs[0])), zero_point(graph.t(op.outputs[0])),
                 out_mult, out_exp, reluish_mult, reluish_exp])
