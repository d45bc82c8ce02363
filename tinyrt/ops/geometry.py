"""Window geometry of conv-like and pooling ops, as TFLite's padding.h computes it.

A leaf module: the int8, FP32 and FP16 paths and the SIMD kernel builders all import it, and it
imports no op module.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnsupportedOp
from ..ir import Graph, Op


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a convolution window, as TFLite's ComputePaddingHeightWidth sets it up.
    Output positions ``o`` in [inside_lo, inside_hi) read only taps inside the input."""
    size: int       # input size
    kernel: int
    stride: int
    dilation: int
    out: int
    pad: int        # before; TFLite's extra odd padding goes after and is implicit
    inside_lo: int
    inside_hi: int


def _c_div(a: int, b: int) -> int:
    """C++ integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def window_axis(size: int, kernel: int, stride: int, dilation: int, padding: str,
                explicit: tuple[int, int] | None = None) -> Axis:
    """ComputeOutSize + ComputePaddingWithOffset (tensorflow/lite/kernels/padding.h).

    ``padding == "EXPLICIT"`` with ``explicit = (out, pad)``: a band of rows of a larger layer
    (tinyrt/stream.py): ``out`` output positions whose first window starts ``pad`` positions
    before the band's first input position; positions past the band's end are the image's own
    bottom padding, so they read the zero point as TFLite's do."""
    if stride < 1 or dilation < 1:
        raise UnsupportedOp(f"stride {stride} / dilation {dilation} must be at least 1")
    effective = (kernel - 1) * dilation + 1
    if padding == "EXPLICIT" and explicit is not None:
        out, pad = explicit
        return Axis(size, kernel, stride, dilation, out, pad, *_inside(size, effective, stride,
                                                                       out, pad))
    if padding == "SAME":
        out = _c_div(size + stride - 1, stride)
    elif padding == "VALID":
        out = _c_div(size + stride - effective, stride)
    else:
        raise UnsupportedOp(f"padding {padding} is not supported")
    if out < 1:
        raise UnsupportedOp(f"the {kernel}-tap window (dilation {dilation}) does not fit the "
                            f"input size {size} with {padding} padding: empty output")
    pad = max((out - 1) * stride + effective - size, 0) // 2
    return Axis(size, kernel, stride, dilation, out, pad, *_inside(size, effective, stride, out,
                                                                   pad))


def _inside(size: int, effective: int, stride: int, out: int, pad: int) -> tuple[int, int]:
    inside = [o for o in range(out) if o * stride - pad >= 0
              and o * stride - pad + effective <= size]
    return (inside[0], inside[-1] + 1) if inside else (0, 0)


@dataclass(frozen=True)
class Window:
    batches: int
    in_c: int
    out_c: int
    y: Axis
    x: Axis

    @property
    def has_border(self) -> bool:
        """Some window reaches outside the input."""
        y, x = self.y, self.x
        return (y.inside_lo, y.inside_hi, x.inside_lo, x.inside_hi) != (0, y.out, 0, x.out)

    def args(self) -> list[int]:
        """stride_h, stride_w, dil_h, dil_w, pad_h, pad_w."""
        y, x = self.y, self.x
        return [y.stride, x.stride, y.dilation, x.dilation, y.pad, x.pad]


def window(graph: Graph, op: Op, k_h: int, k_w: int, out_c: int) -> Window:
    """The geometry of a conv-like op; checks the output tensor has the shape TFLite computes."""
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    if len(inp.shape) != 4:
        raise UnsupportedOp(f"input has rank {len(inp.shape)}; [N, H, W, C] is required")
    batches, in_h, in_w, in_c = inp.shape
    a = op.attrs
    padding = a.get("padding", "SAME")
    rows = (int(out.shape[1]), a["pad_top"]) if padding == "EXPLICIT" else None
    cols = (int(out.shape[2]), a["pad_left"]) if padding == "EXPLICIT" else None
    y = window_axis(in_h, k_h, a.get("stride_h", 1), a.get("dilation_h", 1), padding, rows)
    x = window_axis(in_w, k_w, a.get("stride_w", 1), a.get("dilation_w", 1), padding, cols)
    expected = (batches, y.out, x.out, out_c)
    if tuple(out.shape) != expected:
        raise UnsupportedOp(f"output shape {list(out.shape)} differs from {list(expected)}, the "
                            f"shape TFLite computes for this window: the model is inconsistent")
    return Window(batches, in_c, out_c, y, x)



# --- pooling windows ---

def out_size(padding: str, in_size: int, filter_size: int, stride: int) -> int:
    """TFLite's ComputeOutSize (dilation 1)."""
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - filter_size) // stride


def pad_before(in_size: int, filter_size: int, stride: int, out: int) -> int:
    """TFLite's ComputePaddingWithOffset: the top/left padding; the odd pixel goes after."""
    return max((out - 1) * stride + filter_size - in_size, 0) // 2


def pool_params(op: Op) -> tuple[int, int, int, int]:
    a = op.attrs
    return a.get("filter_h", 1), a.get("filter_w", 1), a.get("stride_h", 1), a.get("stride_w", 1)
