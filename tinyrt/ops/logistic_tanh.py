"""LOGISTIC and TANH, int8: a 256-entry lookup table, computed here exactly as tflite-runtime's
SigmoidPrepare / TanhPrepare (kReference) compute theirs (LUTPopulate<int8_t>, float32 math with
the C library's expf / tanhf), so the kernel is one table read per element.

See docs/ops/logistic_tanh.md."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const
from .common import require_dtypes, require_quant, scale, zero_point

INPLACE = True  # output[i] depends only on input[i]

_F32 = np.float32


@functools.lru_cache(maxsize=1)
def _libm():
    """The C library's float expf and tanhf: the functions tflite-runtime's tables are built with.
    numpy's float32 exp/tanh are SIMD approximations that differ from them in the last bit for
    about a third of all inputs, which moves some table entries by one (LOGISTIC at input scale
    0.0034475638 and zero point 6, entry 68, for one). None where there is no C library to load."""
    name = ctypes.util.find_library("m") or ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name)
        fns = {}
        for fn in ("expf", "tanhf"):
            f = getattr(lib, fn)
            f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
            fns[fn] = f
        return fns
    except (OSError, AttributeError, TypeError):
        return None


def _apply(fn: str, x: np.ndarray) -> np.ndarray:
    """float32 expf or tanhf elementwise, through the C library when it can be loaded, else in
    double rounded to float32 (correctly rounded almost always, like a good libm)."""
    lib = _libm()
    if lib is not None:
        f = lib[fn]
        return np.array([f(float(v)) for v in x], _F32)
    ref = np.exp if fn == "expf" else np.tanh
    with np.errstate(over="ignore"):
        return ref(x.astype(np.float64)).astype(_F32)


def _transform(op_type: str, x: np.ndarray) -> np.ndarray:
    if op_type == "LOGISTIC":
        # [](float v) { return 1.0f / (1.0f + std::exp(-v)); }
        return _F32(1.0) / (_F32(1.0) + _apply("expf", -x))
    return _apply("tanhf", x)


def lookup_table(op_type: str, in_scale: float, in_zp: int, out_scale: float,
                 out_zp: int) -> np.ndarray:
    """LUTPopulate<int8_t>: entry k is the output for input value k - 128, all arithmetic in
    float32 as in TFLite: dequantise, transform, multiply by 1/out_scale, std::round (half away
    from zero), add the zero point, convert to int32, clamp."""
    values = np.arange(-128, 128)
    with np.errstate(over="ignore", invalid="ignore"):
        dequantized = _F32(in_scale) * (values - int(in_zp)).astype(_F32)
        transformed = _transform(op_type, dequantized)
        scaled = transformed * (_F32(1.0) / _F32(out_scale))
        # roundf, computed in double: in float32, 0.49999997f + 0.5f already rounds up to 1.
        wide = scaled.astype(np.float64)
        rescaled = (np.sign(wide) * np.floor(np.abs(wide) + 0.5)).astype(_F32)
        with_zp = (rescaled + _F32(out_zp)).astype(_F32)
    # static_cast<int32_t>(float): x86-64 turns a value outside int32 (or NaN) into INT32_MIN.
    in_range = (with_zp >= -2.0 ** 31) & (with_zp < 2.0 ** 31)
    quantized = np.where(in_range, np.nan_to_num(with_zp), -2.0 ** 31).astype(np.int64)
    return np.clip(quantized, -128, 127).astype(np.int8)


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    require_quant(graph, op, op.inputs[0], op.outputs[0])
    out = graph.t(op.outputs[0])
    # SigmoidPrepare<kReference> insists on this exact scale (any zero point); TanhPrepare
    # checks nothing for int8: its table serves any output quantisation.
    if op.type == "LOGISTIC" and float(_F32(scale(out))) != 1.0 / 256:
        raise UnsupportedOp(
            f"int8 LOGISTIC output must have scale 1/256, got {float(_F32(scale(out))):g} "
            "(tflite-runtime rejects it too)",
            ["requantise the model with the converter's default logistic output parameters"])


def macs(graph: Graph, op: Op) -> int:
    return 0  # a table lookup per element


def lower(graph: Graph, op: Op, board: dict) -> Call:
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    table = lookup_table(op.type, scale(inp), zero_point(inp), scale(out), zero_point(out))
    return Call("lut_s8", "lut_s8", [Buf(op.inputs[0]), Buf(op.outputs[0]), inp.size,
                                     Const("table")], {"table": table})
