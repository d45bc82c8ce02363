"""The kernel-variant table: the one place where tinyrt chooses which kernel computes a layer.

Each entry names an op, the arithmetic of its activations (``dtype``: ``s8``, ``f32``, ``f16``
or ``any``), a variant (``portable``, ``dsp``, ``mve``), the board features the variant needs, a
predicate on the layer's shapes and how its call is built (``lower``: arguments, constants in
the layout the kernel wants, scratch bytes). ``resolve`` walks the table in order and takes the
first entry that applies, so specialised and SIMD entries stand before the general portable one
of the same op; every (op, dtype) ends with a portable entry that always applies.

``FAMILIES`` holds the check of each (op, dtype): what the kernels of that family accept. Op
modules keep shapes, MACs, checks and lowering; they never pick a dtype path themselves.
"""
from __future__ import annotations

from typing import Callable

from .errors import UnsupportedOp
from .ir import Graph, Op
from .kernels import Kernel, simd_kernels
from .ops import (add_sub, conv2d, depthwise_conv2d, f16, f32, fully_connected, op_module,
                  pool2d, softmax)
from .ops import SUPPORTED_OPS

VARIANTS = ("portable", "dsp", "mve")


def _f(check, lower):
    """An FP32/FP16 path's (check, lower(graph, op)) as a family check and a kernel builder."""
    return check, (lambda graph, op, board: lower(graph, op))


def _portable(op: str, dtype: str, lower, when=None, case: str = "") -> Kernel:
    return Kernel(op, dtype, "portable", lower, *([when] if when else []), case=case)


_FLOAT = {  # (op, dtype) -> (check, lower) of the FP32 and FP16 paths
    ("CONV_2D", "f32"): _f(f32.check_conv2d, f32.lower_conv2d),
    ("CONV_2D", "f16"): _f(f16.check_conv2d, f16.lower_conv2d),
    ("DEPTHWISE_CONV_2D", "f32"): _f(f32.check_dwconv, f32.lower_dwconv),
    ("DEPTHWISE_CONV_2D", "f16"): _f(f16.check_dwconv, f16.lower_dwconv),
    ("FULLY_CONNECTED", "f32"): _f(f32.check_fc, f32.lower_fc),
    ("FULLY_CONNECTED", "f16"): _f(f16.check_fc, f16.lower_fc),
    ("AVERAGE_POOL_2D", "f32"): _f(f32.check_pool, f32.lower_pool),
    ("AVERAGE_POOL_2D", "f16"): _f(f16.check_pool, f16.lower_pool),
    ("MAX_POOL_2D", "f32"): _f(f32.check_pool, f32.lower_pool),
    ("MAX_POOL_2D", "f16"): _f(f16.check_pool, f16.lower_pool),
    ("ADD", "f32"): _f(f32.check_add, f32.lower_add),
    ("ADD", "f16"): _f(f16.check_add, f16.lower_add),
    ("SUB", "f32"): _f(f32.check_add, f32.lower_add),
    ("SUB", "f16"): _f(f16.check_add, f16.lower_add),
    ("SOFTMAX", "f32"): _f(f32.check_softmax, f32.lower_softmax),
    ("SOFTMAX", "f16"): _f(f16.check_softmax, f16.lower_softmax),
}
_INT8 = {  # op type -> module whose check/lower are the int8 family
    "CONV_2D": conv2d, "DEPTHWISE_CONV_2D": depthwise_conv2d, "FULLY_CONNECTED": fully_connected,
    "AVERAGE_POOL_2D": pool2d, "MAX_POOL_2D": pool2d, "ADD": add_sub, "SUB": add_sub,
    "SOFTMAX": softmax,
}

# (op, dtype) -> check. Ops whose one module handles every dtype it accepts (data movement,
# QUANTIZE/DEQUANTIZE, ...) are the "any" family of their module.
FAMILIES: dict[tuple[str, str], Callable[[Graph, Op], None]] = {
    **{key: check for key, (check, _) in _FLOAT.items()},
    **{(op, "s8"): mod.check for op, mod in _INT8.items()},
    **{(op, "any"): op_module(op).check for op in SUPPORTED_OPS if op not in _INT8},
}

# The FP16 family's Helium code sits inside its headers (templates/kernels/*_f16.h, compiled in
# where the core has MVE: TINYRT_F16_MVE); these rows record where it runs, so the profile names
# the variant that really computes. Every FP16 kernel now has its MVE version for every shape
# (groups, depth multipliers, broadcasts, softmax): no predicate.
_F16_MVE = [
    ("CONV_2D", None, ""), ("DEPTHWISE_CONV_2D", None, ""), ("FULLY_CONNECTED", None, ""),
    ("AVERAGE_POOL_2D", None, ""), ("MAX_POOL_2D", None, ""), ("ADD", None, ""),
    ("SUB", None, ""), ("SOFTMAX", None, ""),
]

KERNELS: list[Kernel] = [
    *simd_kernels(),     # tinyrt/kernels/: Helium (mve) and Arm DSP (dsp) families
    # portable int8, most specialised first
    _portable("CONV_2D", "s8", conv2d.lower_1x1, conv2d.pointwise, "1x1"),
    _portable("CONV_2D", "s8", conv2d.lower),
    _portable("DEPTHWISE_CONV_2D", "s8", depthwise_conv2d.lower_3x3,
              depthwise_conv2d.unrolled_3x3, "3x3"),
    _portable("DEPTHWISE_CONV_2D", "s8", depthwise_conv2d.lower),
    *[_portable(op, "s8", mod.lower) for op, mod in _INT8.items()
      if op not in ("CONV_2D", "DEPTHWISE_CONV_2D")],
    *[Kernel(op, "f16", "mve", _FLOAT[(op, "f16")][1], *([when] if when else []),
             features=("mve_fp",), case=case) for op, when, case in _F16_MVE],
    # FP32 and FP16 paths
    *[_portable(op, dtype, lower) for (op, dtype), (_, lower) in _FLOAT.items()],
    # every other op: one portable kernel family for the dtypes its module accepts
    *[_portable(op, "any", op_module(op).lower) for op in SUPPORTED_OPS if op not in _INT8],
]


def dtype_of(graph: Graph, op: Op) -> str:
    """The arithmetic path of an op: "f16" (FP16 compute), "f32" (float, including FP16 layers
    of a mixed model that read and write int8) or "s8"."""
    if f16.is_f16(graph, op):
        return "f16"
    return "f32" if f32.is_float(graph, op) else "s8"


def _family(graph: Graph, op: Op) -> tuple[str, str]:
    dtype = dtype_of(graph, op)
    for key in ((op.type, dtype), (op.type, "any"), (op.type, "s8")):
        if key in FAMILIES:
            return key
    raise UnsupportedOp(f"{op.type} is not supported",
                        [f"supported ops: {', '.join(sorted(SUPPORTED_OPS))}"])


def check(graph: Graph, op: Op) -> None:
    """Raise UnsupportedOp (without the op index) when no kernel family computes this op.
    A dtype without a family of its own gets the int8 family's check, whose message names
    the dtype it found and the one it takes."""
    op_type, dtype = _family(graph, op)
    FAMILIES[(op_type, dtype)](graph, op)


def resolve(graph: Graph, op: Op, board: dict, allowed: tuple[str, ...] = VARIANTS) -> Kernel:
    """The first table entry for this (checked) op whose features the board has, whose variant
    is ``allowed`` and whose shape predicate holds."""
    op_type, dtype = _family(graph, op)
    features = set(board.get("features", ()))
    for k in KERNELS:
        if (k.op, k.dtype) == (op_type, dtype) and k.variant in allowed \
                and set(k.features) <= features and k.when(graph, op):
            return k
    raise UnsupportedOp(f"no {'/'.join(allowed)} kernel computes this {op_type} ({dtype})")


def table() -> list[dict]:
    """The table as plain rows, for `tinyrt kernels` and the docs."""
    return [{"op": k.op, "dtype": k.dtype, "variant": k.variant, "case": k.case or "any",
             "features": list(k.features)} for k in KERNELS]
