"""QUANTIZE and DEQUANTIZE: TFLite quantize.cc / dequantize.cc with the reference kernels.

QUANTIZE float32 -> int8/uint8 is reference_ops::AffineQuantize (float32 division, roundf);
int8/uint8 -> int8/uint8 is reference_ops::Requantize with QuantizeMultiplier(input_scale /
output_scale) in double. DEQUANTIZE int8/uint8 -> float32 is scale * (q - zero_point).
Per-tensor quantisation only; int16 and float16 are not supported.
"""
from __future__ import annotations

from ..errors import UnsupportedOp
from ..fixedpoint import quantize_multiplier
from ..ir import Graph, Op
from . import Buf, Call
from .common import require_quant, scale, zero_point

# Same-size conversions (requantize) may write over their input; planner checks the sizes.
INPLACE = True

_SHORT = {"int8": "s8", "uint8": "u8", "float32": "f32"}
_INTS = ("int8", "uint8")
# op type -> allowed (input dtype, output dtype) pairs
SUPPORTED = {"QUANTIZE": {(i, o) for i in ("float32",) + _INTS for o in _INTS},
             "DEQUANTIZE": {(i, "float32") for i in _INTS}}


def check(graph: Graph, op: Op) -> None:
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    if (inp.dtype, out.dtype) not in SUPPORTED[op.type]:
        raise UnsupportedOp(f"{inp.dtype} -> {out.dtype} is not supported; tinyrt converts "
                            f"{', '.join(sorted(f'{i} -> {o}' for i, o in SUPPORTED[op.type]))}")
    quantised = [t for t in (op.inputs[0], op.outputs[0]) if graph.t(t).dtype in _INTS]
    require_quant(graph, op, *quantised)
    for t in quantised:
        if graph.t(t).quant.per_channel:
            raise UnsupportedOp(f"tensor '{graph.t(t).name}' is quantised per channel")
        if scale(graph.t(t)) <= 0.0:
            raise UnsupportedOp(f"tensor '{graph.t(t).name}' has a non-positive scale")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    name = f"{_SHORT[inp.dtype]}_{_SHORT[out.dtype]}"
    io = [Buf(op.inputs[0]), Buf(op.outputs[0]), inp.size]
    if op.type == "DEQUANTIZE":
        return Call(f"dequantize_{name}", "quantize", [*io, scale(inp), zero_point(inp)])
    if inp.dtype == "float32":
        return Call(f"quantize_{name}", "quantize", [*io, scale(out), zero_point(out)])
    # quantize.cc: static_cast<double>(input scale) / static_cast<double>(output scale)
    mult, shift = quantize_multiplier(scale(inp) / scale(out))
    return Call(f"requantize_{name}", "quantize",
                [*io, zero_point(inp), mult, shift, zero_point(out)])
