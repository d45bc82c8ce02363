"""TFLite's integer arithmetic on the host side: the constants kernels are given.

Each function mirrors the TFLite function of the same name (tensorflow/lite/kernels/internal/
quantization_util.cc, kernel_util.cc) in double or float precision exactly as TFLite computes it,
because a multiplier one LSB off changes outputs.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import UnsupportedOp

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
QRANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
          "int32": (INT32_MIN, INT32_MAX)}


def tflite_round(x: float) -> int:
    """std::round: half away from zero (not Python's half-to-even). A non-finite value comes from
    a zero, huge or tiny scale (a damaged or odd model): refused, naming the value."""
    if not math.isfinite(x):
        raise UnsupportedOp(f"a quantisation constant is {x}: a scale is zero or out of range",
                            ["check the tensors' quantisation scales (e.g. with a model viewer); "
                             "re-convert the model"])
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(double_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = q * 2**(shift - 31), q in [2**30, 2**31)."""
    if double_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(double_multiplier)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return int(q_fixed), int(shift)


def quantize_multiplier_smaller_than_one_exp(double_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: the shift returned is <= 0."""
    assert 0.0 < double_multiplier < 1.0, double_multiplier
    q, shift = quantize_multiplier(double_multiplier)
    assert shift <= 0
    return q, shift


def activation_range(activation: str, scale: float, zero_point: int,
                     dtype: str = "int8") -> tuple[int, int]:
    """CalculateActivationRangeQuantized: clamp bounds of a fused activation, in output units.
    The division is float32, as in TFLite."""
    qmin, qmax = QRANGE[dtype]

    def quantize(f: float) -> int:
        return int(zero_point) + tflite_round(float(np.float32(f) / np.float32(scale)))
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise UnsupportedOp(f"fused activation {activation} has no quantised range",
                        ["use NONE, RELU, RELU6 or RELU_N1_TO_1 as the fused activation"])
