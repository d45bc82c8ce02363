"""pool2d_s8_dsp: int8 AVERAGE_POOL_2D with the Arm DSP extension (templates/kernels/
pool2d_s8_dsp.h): four channels per input word summed in int16 pairs by SXTAB16, exact for
windows of at most MAX_WINDOW elements; and MAX_POOL_2D, a per-byte signed max of four channels
per word (SSUB8/SEL), any window.
"""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops import Buf, Call
from ..ops.common import act_range
from ..ops.geometry import pad_before, pool_params
from . import Kernel

# |sum| <= 128 * 256 = 2^15: the int16 lanes hold any sum of 256 int8 values (-2^15 included).
MAX_WINDOW = 256


def small_window(graph: Graph, op: Op) -> bool:
    fh, fw, _, _ = pool_params(op)
    return fh * fw <= MAX_WINDOW


def any_window(graph: Graph, op: Op) -> bool:
    return True


def lower(graph: Graph, op: Op, board: dict) -> Call:
    n, h, w, c = graph.t(op.inputs[0]).shape
    _, out_h, out_w, _ = graph.t(op.outputs[0]).shape
    fh, fw, sh, sw = pool_params(op)
    act_min, act_max = act_range(graph, op)
    kernel = "maxpool2d_s8_dsp" if op.type == "MAX_POOL_2D" else "avgpool2d_s8_dsp"
    return Call(kernel, "pool2d_s8_dsp",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), n, h, w, c, out_h, out_w, fh, fw, sh, sw,
                 pad_before(h, fh, sh, out_h), pad_before(w, fw, sw, out_w), act_min, act_max])


KERNELS: list = [
    Kernel("AVERAGE_POOL_2D", "s8", "dsp", lower, small_window, ("dsp",), "window <= 256"),
    Kernel("MAX_POOL_2D", "s8", "dsp", lower, any_window, ("dsp",), "any window"),
]
