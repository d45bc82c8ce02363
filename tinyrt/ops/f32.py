"""The float32 path of the op modules: FP32 compute, constants (weights, biases, operands) read
as float32 or as fp16 bits (an FP16 model after ``tinyrt.passes.fold_fp16_dequantize``).

Each op module dispatches here when ``is_float(graph, op)``; the kernels are in
templates/kernels/<family>_f32.h and match TFLite's float reference kernels' summation order.
See docs/fp16.md.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const, Scratch
from .common import scale, zero_point
from .add_sub import is_elementwise, layout, layout_consts
from .geometry import out_size, pad_before, pool_params, window

FLT_MAX = float(np.finfo(np.float32).max)
# TFLite CalculateActivationRange for float (kNone: lowest .. max)
ACT_RANGES = {"NONE": (-FLT_MAX, FLT_MAX), "RELU": (0.0, FLT_MAX), "RELU6": (0.0, 6.0),
              "RELU_N1_TO_1": (-1.0, 1.0)}
CONST_DTYPES = ("float32", "float16")


def is_float(graph: Graph, op: Op) -> bool:
    """The op produces float32, or is a float layer whose int8 boundaries were fused
    (``tinyrt.passes.fuse_int8_boundaries``): it belongs to the float path (int8 ops never do)."""
    return bool(op.outputs) and (graph.t(op.outputs[0]).dtype == "float32"
                                 or bool(op.attrs.get("float_compute")))


def act_range(op: Op) -> tuple[float, float]:
    activation = op.attrs.get("activation", "NONE")
    if activation not in ACT_RANGES:
        raise UnsupportedOp(f"fused activation {activation} is not supported")
    return ACT_RANGES[activation]


def _require_float(graph: Graph, t: int, role: str) -> None:
    if graph.t(t).dtype != "float32":
        raise UnsupportedOp(f"{role} is {graph.t(t).dtype}; the float path takes float32")


def _require_activation(graph: Graph, op: Op, t: int, role: str) -> None:
    """float32, or per-tensor int8 in a layer whose DEQUANTIZE / QUANTIZE were fused."""
    tensor = graph.t(t)
    if op.attrs.get("float_compute") and tensor.dtype == "int8":
        if tensor.quant is None or tensor.quant.per_channel:
            raise UnsupportedOp(f"{role} of a fused float layer must be per-tensor int8")
        return
    _require_float(graph, t, role)


def activation(graph: Graph, t: int) -> list:
    """An activation operand of a weighted float kernel: [pointer, is_s8, scale, zero point]."""
    tensor = graph.t(t)
    if tensor.dtype == "int8":
        return [Buf(t), 1, scale(tensor), zero_point(tensor)]
    return [Buf(t), 0, 1.0, 0]


def _require_const(graph: Graph, t: int, role: str) -> None:
    tensor = graph.t(t)
    if tensor.data is None:
        raise UnsupportedOp(f"{role} is not constant", ["freeze the weights into the model"])
    if tensor.dtype not in CONST_DTYPES:
        raise UnsupportedOp(f"{role} is {tensor.dtype}; the float path takes float32 or float16",
                            ["tinyrt quantize MODEL --dtype fp16   (float16 weights, float compute)",
                             "tinyrt quantize MODEL --calib DATA   (full int8)"])


def operand(graph: Graph, t: int) -> list:
    """A constant-or-activation operand: [pointer, is_fp16]."""
    return [Buf(t), int(graph.t(t).dtype == "float16")]


def _bias(graph: Graph, op: Op) -> list:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return operand(graph, op.inputs[2])
    return [0, 0]


def check_weighted(graph: Graph, op: Op, out_c: int) -> None:
    """CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED: float32 input/output, constant float32 or
    float16 weights and bias of ``out_c`` values, a supported activation."""
    _require_activation(graph, op, op.inputs[0], "input")
    _require_activation(graph, op, op.outputs[0], "output")
    _require_const(graph, op.inputs[1], "weights")
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        _require_const(graph, op.inputs[2], "bias")
        if graph.t(op.inputs[2]).size != out_c:
            raise UnsupportedOp(f"bias has {graph.t(op.inputs[2]).size} values for {out_c} "
                                f"output channels")
    act_range(op)


# --- CONV_2D / DEPTHWISE_CONV_2D -----------------------------------------------------------------

def check_conv2d(graph: Graph, op: Op, weighted=check_weighted) -> None:
    """Shapes and groups; ``weighted`` checks the dtypes of the path (FP32 here, FP16 in f16.py)."""
    w = graph.t(op.inputs[1])
    if len(w.shape) != 4:
        raise UnsupportedOp(f"weights have rank {len(w.shape)}; 4 is required")
    out_c, k_h, k_w, f_c = (int(d) for d in w.shape)
    weighted(graph, op, out_c)
    win = window(graph, op, k_h, k_w, out_c)
    if f_c < 1 or win.in_c % f_c or out_c % (win.in_c // f_c):
        raise UnsupportedOp(f"{win.in_c} input channels and {out_c} filters of {f_c} channels "
                            f"do not form groups")


def conv2d_scratch_bytes(in_s8: bool, w16: bool, k_h: int, k_w: int, in_c: int, f_c: int) -> int:
    """CONV2D_F32_SCRATCH_BYTES: an int8 input's receptive field, dequantised once per output
    pixel; else fp16 weights' one filter, converted once per layer; else none."""
    return 4 * k_h * k_w * (in_c if in_s8 else f_c if w16 else 0)


def lower_conv2d(graph: Graph, op: Op) -> Call:
    out_c, k_h, k_w, f_c = (int(d) for d in graph.t(op.inputs[1]).shape)
    win = window(graph, op, k_h, k_w, out_c)
    s8_input = graph.t(op.inputs[0]).dtype == "int8"
    w16 = graph.t(op.inputs[1]).dtype == "float16"
    scratch = conv2d_scratch_bytes(s8_input, w16, k_h, k_w, win.in_c, f_c)
    return Call("conv2d_f32", "conv2d_f32",
                [*activation(graph, op.inputs[0]), *operand(graph, op.inputs[1]),
                 *_bias(graph, op), *activation(graph, op.outputs[0]),
                 Scratch() if scratch else 0, win.batches, win.y.size, win.x.size, win.in_c,
                 k_h, k_w, f_c, win.y.out, win.x.out, out_c, *win.args(), *act_range(op)],
                scratch_bytes=scratch)


def check_dwconv(graph: Graph, op: Op, weighted=check_weighted) -> None:
    w = graph.t(op.inputs[1])
    if len(w.shape) != 4 or w.shape[0] != 1:
        raise UnsupportedOp(f"depthwise weights {list(w.shape)} must be [1, KH, KW, C * M]")
    _, k_h, k_w, out_c = (int(d) for d in w.shape)
    weighted(graph, op, out_c)
    win = window(graph, op, k_h, k_w, out_c)
    if out_c % win.in_c:
        raise UnsupportedOp(f"{out_c} output channels are not a multiple of the {win.in_c} "
                            f"input channels")


# fp16 depthwise weights are converted a block of output channels at a time: at most this many
# bytes of scratch (64 channels of a 3x3 kernel), at least one channel.
DWCONV_SCRATCH_LIMIT = 2560


def dwconv_block(w16: bool, k_h: int, k_w: int, out_c: int) -> int:
    """Output channels whose converted weights and biases share the scratch at once."""
    if not w16:
        return 0
    return max(1, min(out_c, DWCONV_SCRATCH_LIMIT // (4 * (k_h * k_w + 1))))


def dwconv_scratch_bytes(w16: bool, k_h: int, k_w: int, block: int) -> int:
    """DWCONV_F32_SCRATCH_BYTES: the block's taps and biases as floats."""
    return 4 * (k_h * k_w + 1) * block if w16 else 0


def lower_dwconv(graph: Graph, op: Op) -> Call:
    _, k_h, k_w, out_c = (int(d) for d in graph.t(op.inputs[1]).shape)
    win = window(graph, op, k_h, k_w, out_c)
    w16 = graph.t(op.inputs[1]).dtype == "float16"
    block = dwconv_block(w16, k_h, k_w, out_c)
    scratch = dwconv_scratch_bytes(w16, k_h, k_w, block)
    return Call("dwconv_f32", "dwconv_f32",
                [*activation(graph, op.inputs[0]), *operand(graph, op.inputs[1]),
                 *_bias(graph, op), *activation(graph, op.outputs[0]),
                 Scratch() if scratch else 0, block, win.batches, win.y.size,
                 win.x.size, win.in_c, k_h, k_w,
                 out_c // win.in_c, win.y.out, win.x.out, *win.args(), *act_range(op)],
                scratch_bytes=scratch)


# --- FULLY_CONNECTED -----------------------------------------------------------------------------

def fc_dims(graph: Graph, op: Op) -> tuple[int, int, int]:
    out_depth, in_depth = (int(d) for d in graph.t(op.inputs[1]).shape)
    return graph.t(op.inputs[0]).size // in_depth, in_depth, out_depth


def check_fc(graph: Graph, op: Op, weighted=check_weighted) -> None:
    w = graph.t(op.inputs[1])
    if len(w.shape) != 2:
        raise UnsupportedOp(f"weights have rank {len(w.shape)}; [O, I] is required")
    weighted(graph, op, int(w.shape[0]))
    batches, in_depth, out_depth = fc_dims(graph, op)
    if batches * in_depth != graph.t(op.inputs[0]).size or \
            batches * out_depth != graph.t(op.outputs[0]).size:
        raise UnsupportedOp("input/output sizes do not match the weights' shape")


def lower_fc(graph: Graph, op: Op) -> Call:
    batches, in_depth, out_depth = fc_dims(graph, op)
    return Call("fully_connected_f32", "fully_connected_f32",
                [*activation(graph, op.inputs[0]), *operand(graph, op.inputs[1]),
                 *_bias(graph, op), *activation(graph, op.outputs[0]), batches, in_depth,
                 out_depth, *act_range(op)])


# --- AVERAGE_POOL_2D / MAX_POOL_2D ---------------------------------------------------------------

def _float_input(graph: Graph, op: Op) -> None:
    _require_float(graph, op.inputs[0], "input")
    act_range(op)


def check_pool(graph: Graph, op: Op, dtypes=_float_input) -> None:
    """Shapes; ``dtypes`` checks the input dtype and activation of the path."""
    dtypes(graph, op)
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    if len(inp.shape) != 4:
        raise UnsupportedOp(f"input has rank {len(inp.shape)}; pooling takes [N, H, W, C]")
    fh, fw, sh, sw = pool_params(op)
    if min(fh, fw, sh, sw) < 1:
        raise UnsupportedOp(f"filter {fh}x{fw} / stride {sh}x{sw} must be positive")
    padding = op.attrs.get("padding", "SAME")
    n, h, w, c = inp.shape
    expected = (n, out_size(padding, h, fh, sh), out_size(padding, w, fw, sw), c)
    if tuple(out.shape) != expected or min(expected) < 1:
        raise UnsupportedOp(f"output shape {list(out.shape)} does not match the pooling "
                            f"of {list(inp.shape)} ({list(expected)})")


def lower_pool(graph: Graph, op: Op) -> Call:
    n, h, w, c = graph.t(op.inputs[0]).shape
    _, out_h, out_w, _ = graph.t(op.outputs[0]).shape
    fh, fw, sh, sw = pool_params(op)
    kernel = "maxpool2d_f32" if op.type == "MAX_POOL_2D" else "avgpool2d_f32"
    return Call(kernel, "pool2d_f32",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), n, h, w, c, out_h, out_w, fh, fw, sh, sw,
                 pad_before(h, fh, sh, out_h), pad_before(w, fw, sw, out_w), *act_range(op)])


# --- ADD / SUB -----------------------------------------------------------------------------------

def check_add(graph: Graph, op: Op) -> None:
    for role, t in (("input 1", op.inputs[0]), ("input 2", op.inputs[1])):
        if graph.t(t).is_const:
            _require_const(graph, t, role)
        else:
            _require_float(graph, t, role)
    act_range(op)
    layout(graph, op)


def lower_add(graph: Graph, op: Op) -> Call:
    a, b, out = op.inputs[0], op.inputs[1], op.outputs[0]
    kind = "sub" if op.type == "SUB" else "add"
    dims, s1, s2 = layout(graph, op)
    head = [*operand(graph, a), *operand(graph, b), Buf(out)]
    if is_elementwise(dims, s1, s2):
        return Call(f"{kind}_f32", "add_f32", [*head, dims[0], *act_range(op)])
    return Call(f"{kind}_f32_broadcast", "add_f32",
                [*head, Const("dims"), Const("stride1"), Const("stride2"), *act_range(op)],
                layout_consts(dims, s1, s2))


# --- SOFTMAX -------------------------------------------------------------------------------------

def check_softmax(graph: Graph, op: Op) -> None:
    _require_float(graph, op.inputs[0], "input")
    if len(graph.t(op.inputs[0]).shape) < 1 or graph.t(op.inputs[0]).size == 0:
        raise UnsupportedOp("softmax of a scalar or an empty tensor")


def lower_softmax(graph: Graph, op: Op) -> Call:
    inp = graph.t(op.inputs[0])
    depth = int(inp.shape[-1])
    return Call("softmax_f32", "softmax_f32",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), inp.size // depth, depth,
                 float(np.float32(op.attrs.get("beta", 1.0)))])
