"""pool2d_s8_mve: int8 AVERAGE_POOL_2D and MAX_POOL_2D on Helium (templates/kernels/
pool2d_s8_mve.h): 16 channels per step; averages summed in int16 lanes (exact for windows of at
most MAX_WINDOW elements) and divided with a multiply-high by ceil(2^32 / count), exact for
every sum such a window can have (`division_is_exact` checks it).
"""
from __future__ import annotations

import numpy as np

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


def division_is_exact(count: int) -> bool:
    """The kernel's (n * ceil(2^32 / count)) >> 32 equals n // count for every n it can meet:
    n = |sum| + count // 2 with |sum| <= 128 * count."""
    if count == 1:
        return True
    m = (0xFFFFFFFF // count) + 1
    n = np.arange(128 * count + count // 2 + 1, dtype=np.uint64)
    return bool(np.array_equal((n * np.uint64(m)) >> np.uint64(32), n // np.uint64(count)))


def lower(graph: Graph, op: Op, board: dict) -> Call:
    n, h, w, c = graph.t(op.inputs[0]).shape
    _, out_h, out_w, _ = graph.t(op.outputs[0]).shape
    fh, fw, sh, sw = pool_params(op)
    return Call("pool2d_s8_mve", "pool2d_s8_mve",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), int(op.type == "AVERAGE_POOL_2D"), n, h,
                 w, c, out_h, out_w, fh, fw, sh, sw, pad_before(h, fh, sh, out_h),
                 pad_before(w, fw, sw, out_w), *act_range(graph, op)])


KERNELS: list = [
    Kernel("AVERAGE_POOL_2D", "s8", "mve", lower, small_window, ("mve",), "window <= 256"),
    Kernel("MAX_POOL_2D", "s8", "mve", lower, features=("mve",)),
]
