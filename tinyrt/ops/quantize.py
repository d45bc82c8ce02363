"""QUANTIZE and DEQUANTIZE: TFLite quantize.cc / dequantize.cc with the reference kernels.

QUANTIZE float32 -> int8/uint8 is reference_ops::AffineQuantize (float32 division, roundf);
int8/uint8 -> int8/uint8 is reference_ops::Requantize with QuantizeMultiplier(input_scale /
output_scale) in double. DEQUANTIZE int8/uint8 -> float32 is scale * (q - zero_point).
DEQUANTIZE float16 -> float32 of an activation is the conversion at a graph output that
``tinyrt.passes.compute_fp16`` inserts (FP16 compute, tinyrt/ops/f16.py).
Per-tensor quantisation only; int16 is not supported.
"""
from __future__ import annotations

from ..errors import UnsupportedOp
from ..fixedpoint import quantize_multiplier
from ..ir import Graph, Op
from . import Buf, Call, f16
from .common import require_quant, scale, zero_point

# Same-size conversions (requantize) may write over their input; planner checks the sizes.
INPLACE = True

_SHORT = {"int8": "s8", "uint8": "u8", "float32": "f32"}
_INTS = ("int8", "uint8")
# op type -> allowed (input dtype, output dtype) pairs
SUPPORTED = {"QUANTIZE": {(i, o) for i in ("float32",) + _INTS for o in _INTS},
             "DEQUANTIZE": {(i, "float32") for i in _INTS}}


def _is_f16_activation(graph: Graph, op: Op) -> bool:
    """The FP16-compute pass's conversion: an unquantised float16 activation to float32."""
    src = graph.t(op.inputs[0])
    return op.type == "DEQUANTIZE" and src.dtype == "float16" and not src.is_const \
        and src.quant is None


def inplace_resize(graph: Graph, op: Op) -> bool:
    """float16 -> float32 may overwrite its (smaller) input: that kernel converts back to front
    (the planner grows the buffer to the output's size). The int8 kernels may not."""
    return _is_f16_activation(graph, op)


def check(graph: Graph, op: Op) -> None:
    if _is_f16_activation(graph, op):
        return f16.check_convert(graph, op, "float16", "float32")
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
    if _is_f16_activation(graph, op):
        return f16.lower_convert(graph, op)
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
