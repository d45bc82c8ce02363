"""One module per operator, registered in the one table below.

An op module defines:

- ``check(graph, op) -> None``: raise ``UnsupportedOp`` (message without the op index; the caller
  adds it) for a configuration the kernels do not cover, e.g. a float CONV_2D in the int8 path.
- ``macs(graph, op) -> int``: multiply-accumulates of one inference (0 for data movement).
- ``lower(graph, op, board) -> Call``: the kernel call that computes the op, as plain data. Kernel
  choice is a function of the op's shapes and the board's features; all constants that can be
  computed at generation time (multipliers, shifts, bounds) are computed here and passed as
  literals or per-layer constant arrays.
- ``INPLACE = True`` when the output may overwrite input 0 (same size, each output element
  depends only on the input element at the same index, or the kernel reads before it writes);
  ``ALIAS = True`` when the output *is* input 0 reinterpreted (RESHAPE, SQUEEZE): no code.
- ``inplace_resize(graph, op) -> bool`` (optional): the output may overwrite input 0 although
  their sizes differ (the FP16 conversions, whose kernels walk in the safe direction).
- ``inplace_inputs(graph, op) -> tuple`` (optional): which inputs an ``INPLACE`` op's output may
  overwrite (default ``(0,)``; elementwise ADD/SUB/MUL of equal shapes also name input 1; the
  planner uses input 0 only so far).

How each op is computed, and which TFLite reference kernel it matches, is written in docs/ops.md.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

# op type -> module in this package
SUPPORTED_OPS = {
    "CONV_2D": "conv2d",
    "DEPTHWISE_CONV_2D": "depthwise_conv2d",
    "FULLY_CONNECTED": "fully_connected",
    "AVERAGE_POOL_2D": "pool2d",
    "MAX_POOL_2D": "pool2d",
    "ADD": "add_sub",
    "SUB": "add_sub",
    "MUL": "mul",
    "MEAN": "mean",
    "PAD": "pad",
    "RESHAPE": "reshape",
    "SQUEEZE": "reshape",
    "CONCATENATION": "concatenation",
    "TRANSPOSE": "transpose",
    "RESIZE_NEAREST_NEIGHBOR": "resize_nearest",
    "SOFTMAX": "softmax",
    "LOGISTIC": "logistic_tanh",
    "TANH": "logistic_tanh",
    "HARD_SWISH": "hard_swish",
    "RELU": "relu",
    "RELU6": "relu",
    "RELU_N1_TO_1": "relu",
    "QUANTIZE": "quantize",
    "DEQUANTIZE": "quantize",
    "CAST": "cast",
}


def op_module(op_type: str):
    return importlib.import_module(f"{__name__}.{SUPPORTED_OPS[op_type]}")


@dataclass(frozen=True)
class Buf:
    """A tensor argument: codegen turns it into a pointer into the arena, or into flash for a
    constant tensor."""
    tensor: int


@dataclass(frozen=True)
class Const:
    """A per-layer constant array from ``Call.consts``, placed in flash."""
    name: str


@dataclass(frozen=True)
class Scratch:
    """Pointer to this call's scratch buffer (``Call.scratch_bytes`` bytes, 4-aligned), or
    ``offset`` bytes into it."""
    offset: int = 0


@dataclass(frozen=True)
class Region:
    """Pointer ``offset`` bytes into the arena buffer of tensor ``tensor``: a band of rows of a
    row-streamed layer (tinyrt/stream.py)."""
    tensor: int
    offset: int


@dataclass
class Call:
    """One kernel call. ``args`` are ints, floats, ``Buf``, ``Const`` or ``Scratch``, in the
    order of the C prototype in ``templates/kernels/<header>.h``."""
    kernel: str
    header: str
    args: list
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    scratch_bytes: int = 0
