"""SOFTMAX, int8 -> int8, over the last axis: TFLite reference_ops::Softmax<int8_t, int8_t>, the
gemmlowp fixed-point kernel tflite-runtime's reference resolver runs (SoftmaxPrepare<kReference>).

The generator computes what SoftmaxPrepare computes: the multiplier of beta * input_scale in Q5.26
(PreprocessSoftmaxScaling) and diff_min (CalculateInputRadius). See docs/ops/softmax.md."""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedOp
from ..fixedpoint import quantize_multiplier
from ..ir import Graph, Op
from . import Buf, Call
from .common import require_dtypes, require_quant, scale, zero_point

INPLACE = True  # each row is read in full before it is written, element c before output c

SCALED_DIFF_INTEGER_BITS = 5  # kScaledDiffIntegerBits: exp() input is Q5.26
OUTPUT_SCALE = np.float32(1.0 / 256)


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    require_quant(graph, op, op.inputs[0], op.outputs[0])
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    if len(inp.shape) < 1:
        raise UnsupportedOp("softmax of a scalar (rank 0)")
    # SoftmaxPrepare: zero point -128 and TF_LITE_ENSURE_NEAR(scale, 1.f/256, 0.001f/256), in float.
    out_scale = np.float32(scale(out))
    delta = abs(out_scale - OUTPUT_SCALE)
    if zero_point(out) != -128 or delta > np.float32(0.001) * OUTPUT_SCALE:
        raise UnsupportedOp(
            f"int8 softmax output must have scale 1/256 and zero point -128, got scale "
            f"{float(out_scale):g} and zero point {zero_point(out)} (tflite-runtime rejects it too)",
            ["requantise the model with the converter's default softmax output parameters"])
    real = _real_multiplier(graph, op)
    if not real > 1.0:
        raise UnsupportedOp(
            f"beta * input_scale = {real / 2 ** 26:g} is too small for the fixed-point softmax "
            "(needs > 2^-26; tflite-runtime aborts on it)")


def _real_multiplier(graph: Graph, op: Op) -> float:
    """PreprocessSoftmaxScaling's product beta * input_scale * 2^(31 - 5), capped at 2^31 - 1.
    beta and the scale are float32 in the model, multiplied in double."""
    beta = float(np.float32(op.attrs.get("beta", 1.0)))
    in_scale = float(np.float32(scale(graph.t(op.inputs[0]))))
    return min(beta * in_scale * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), (1 << 31) - 1.0)


def softmax_params(graph: Graph, op: Op) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min), as SoftmaxPrepare<kReference> sets them."""
    multiplier, left_shift = quantize_multiplier(_real_multiplier(graph, op))
    assert left_shift >= 0, left_shift  # QuantizeMultiplierGreaterThanOne
    # CalculateInputRadius(5, left_shift, 31): floor((2^5 - 1) * 2^26 / 2^left_shift), in double.
    radius = math.floor(1.0 * ((1 << SCALED_DIFF_INTEGER_BITS) - 1)
                        * (1 << (31 - SCALED_DIFF_INTEGER_BITS)) / (1 << left_shift))
    return multiplier, left_shift, -radius


def _dims(graph: Graph, op: Op) -> tuple[int, int]:
    inp = graph.t(op.inputs[0])
    depth = int(inp.shape[-1])
    return (inp.size // depth if depth else 0), depth


def macs(graph: Graph, op: Op) -> int:
    return graph.t(op.inputs[0]).size  # one exp and one multiply per element (counted once)


def lower(graph: Graph, op: Op, board: dict) -> Call:
    outer, depth = _dims(graph, op)
    multiplier, left_shift, diff_min = softmax_params(graph, op)
    return Call("softmax_s8", "softmax_s8",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), outer, depth, multiplier, left_shift,
                 diff_min])
