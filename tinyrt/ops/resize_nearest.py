"""RESIZE_NEAREST_NEIGHBOR, int8: TFLite reference_ops::ResizeNearestNeighbor. The source row and
column of every output pixel are computed here, with TFLite's float32 arithmetic, and passed to
the kernel as tables; values are copied unchanged."""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedOp
from ..fixedpoint import tflite_round
from ..ir import Graph, Op
from . import Buf, Call, Const
from .common import require_dtypes


def nearest(out_index: int, in_size: int, out_size: int, align_corners: bool,
            half_pixel_centers: bool) -> int:
    """GetNearestNeighbor, in float32 like TFLite: scale and (index + offset) * scale are float
    operations, then std::round (align_corners) or std::floor."""
    f32 = np.float32
    if align_corners and out_size > 1:
        scale = f32(in_size - 1) / f32(out_size - 1)
    else:
        scale = f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    value = float((f32(out_index) + offset) * scale)
    source = tflite_round(value) if align_corners else math.floor(value)
    source = min(source, in_size - 1)
    return max(0, source) if half_pixel_centers else source


def source_indices(in_size: int, out_size: int, align_corners: bool,
                   half_pixel_centers: bool) -> list[int]:
    return [nearest(i, in_size, out_size, align_corners, half_pixel_centers)
            for i in range(out_size)]


def check(graph: Graph, op: Op) -> None:
    require_dtypes(graph, op, {"input": ("int8",), "output": ("int8",)})
    inp, size = graph.t(op.inputs[0]), graph.t(op.inputs[1])
    if len(inp.shape) != 4:
        raise UnsupportedOp(f"input has rank {len(inp.shape)}; the resize takes [N, H, W, C]")
    if size.data is None or size.dtype != "int32" or size.data.size != 2:
        raise UnsupportedOp("the size input is not a constant int32 [2] tensor",
                            ["convert with a fixed output size"])
    out_h, out_w = (int(v) for v in size.data.reshape(-1))
    n, _, _, c = inp.shape
    if tuple(graph.t(op.outputs[0]).shape) != (n, out_h, out_w, c) or min(out_h, out_w) < 1:
        raise UnsupportedOp(f"output shape {list(graph.t(op.outputs[0]).shape)} does not match "
                            f"size {[out_h, out_w]}")


def macs(graph: Graph, op: Op) -> int:
    return 0


def lower(graph: Graph, op: Op, board: dict) -> Call:
    n, h, w, c = graph.t(op.inputs[0]).shape
    _, out_h, out_w, _ = graph.t(op.outputs[0]).shape
    flags = (bool(op.attrs.get("align_corners", False)),
             bool(op.attrs.get("half_pixel_centers", False)))
    ys = np.array(source_indices(h, out_h, *flags), np.int32) * (w * c)
    xs = np.array(source_indices(w, out_w, *flags), np.int32) * c
    return Call("resize_nearest_s8", "resize_nearest_s8",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), n, h * w * c, out_h, out_w, c,
                 Const("y_offsets"), Const("x_offsets")],
                {"y_offsets": ys.astype(np.int32), "x_offsets": xs.astype(np.int32)})
