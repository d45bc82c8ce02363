"""AVERAGE_POOL_2D and MAX_POOL_2D, int8: TFLite reference_integer_ops::AveragePool / MaxPool.

Input and output share scale and zero point, so the kernels pool raw int8 values: the average is
a rounding division of the window sum by the number of valid (non-padded) elements."""
from __future__ import annotations

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call
from .geometry import out_size, pad_before, pool_params
from .common import act_range, require_dtypes, require_quant, scale, zero_point

KERNELS = {"AVERAGE_POOL_2D": "avgpool2d_s8", "MAX_POOL_2D": "maxpool2d_s8"}


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    require_quant(graph, op, op.inputs[0], op.outputs[0])
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    if len(inp.shape) != 4:
        raise UnsupportedOp(f"input has rank {len(inp.shape)}; pooling takes [N, H, W, C]")
    # TFLite DCHECKs the same tolerance and pools raw values regardless.
    if abs(scale(inp) - scale(out)) > 1e-6 or zero_point(inp) != zero_point(out):
        raise UnsupportedOp("input and output quantisation differ; TFLite's int8 pooling "
                            "requires them equal")
    fh, fw, sh, sw = pool_params(op)
    if min(fh, fw, sh, sw) < 1:
        raise UnsupportedOp(f"filter {fh}x{fw} / stride {sh}x{sw} must be positive")
    if op.attrs.get("activation", "NONE") not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise UnsupportedOp(f"fused activation {op.attrs['activation']} is not supported")
    padding = op.attrs.get("padding", "SAME")
    n, h, w, c = inp.shape
    expected = (n, out_size(padding, h, fh, sh), out_size(padding, w, fw, sw), c)
    if tuple(out.shape) != expected or min(expected) < 1:
        raise UnsupportedOp(f"output shape {list(out.shape)} does not match the pooling "
                            f"of {list(inp.shape)} ({list(expected)})")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    n, h, w, c = graph.t(op.inputs[0]).shape
    _, out_h, out_w, _ = graph.t(op.outputs[0]).shape
    fh, fw, sh, sw = pool_params(op)
    act_min, act_max = act_range(graph, op)
    return Call(KERNELS[op.type], "pool2d_s8",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), n, h, w, c, out_h, out_w, fh, fw, sh, sw,
                 pad_before(h, fh, sh, out_h), pad_before(w, fw, sw, out_w), act_min, act_max])
