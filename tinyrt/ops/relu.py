"""RELU, RELU6 and RELU_N1_TO_1, int8: TFLite activations.cc ReluPrepare and QuantizedReluX
(reference ReluX): requantise from the input to the output scale, then clamp to the activation's
bounds. The constants are computed in float32 where TFLite does."""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedOp
from ..fixedpoint import INT32_MIN, quantize_multiplier, tflite_round
from ..ir import Graph, Op
from . import Buf, Call
from .common import require_dtypes, require_quant, scale, zero_point

INPLACE = True

# op type -> (act_min, act_max) in real units, as the Eval functions pass them to QuantizedReluX
BOUNDS = {"RELU": (0.0, math.inf), "RELU6": (0.0, 6.0), "RELU_N1_TO_1": (-1.0, 1.0)}
IDENTITY = (1 << 30, 1)   # QuantizeMultiplier(1.0): exact, x -> x


def _x86_int32(value: float) -> int:
    """static_cast<int32_t> of a float as x86-64 does it: out of range or NaN gives INT32_MIN."""
    if math.isnan(value) or not -2.0**31 <= value < 2.0**31:
        return INT32_MIN
    return int(value)


def _wrap32(value: int) -> int:
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def quantized_bounds(op_type: str, out_scale: float, out_zp: int) -> tuple[int, int]:
    """QuantizedReluX's clamp: zero_point + (int32)roundf(bound / scale) (float32 division),
    limited to [-128, 127]; an infinite upper bound is 127."""
    lo, hi = BOUNDS[op_type]

    def quantize(bound: float) -> int:
        q = float(np.float32(bound) / np.float32(out_scale))
        return _wrap32(out_zp + _x86_int32(float(tflite_round(q)) if math.isfinite(q) else q))
    act_min = max(-128, quantize(lo))
    act_max = 127 if math.isinf(hi) else min(127, quantize(hi))
    return act_min, act_max


def multiplier(graph: Graph, op: Op) -> tuple[int, int]:
    """QuantizeMultiplier(input_scale / output_scale), the division in float32."""
    ratio = np.float32(scale(graph.t(op.inputs[0]))) / np.float32(scale(graph.t(op.outputs[0])))
    return quantize_multiplier(float(ratio))


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    require_quant(graph, op, op.inputs[0], op.outputs[0])
    for t in (op.inputs[0], op.outputs[0]):
        if graph.t(t).quant.per_channel:
            raise UnsupportedOp(f"tensor '{graph.t(t).name}' is quantised per channel")
        if scale(graph.t(t)) <= 0.0:
            raise UnsupportedOp(f"tensor '{graph.t(t).name}' has a non-positive scale")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    act_min, act_max = quantized_bounds(op.type, scale(out), zero_point(out))
    mult, shift = multiplier(graph, op)
    io = [Buf(op.inputs[0]), Buf(op.outputs[0]), inp.size]
    if (mult, shift) == IDENTITY:
        return Call("relu_s8_clamp", "relu_s8",
                    [*io, zero_point(out) - zero_point(inp), act_min, act_max])
    return Call("relu_s8", "relu_s8",
                [*io, zero_point(inp), mult, shift, zero_point(out), act_min, act_max])
