"""The float16 path of the op modules: FP16 compute (docs/fp16.md, "FP16 compute").

``tinyrt.passes.compute_fp16`` retypes a pure float graph's activations and float constants to
float16 (boards with the ``mve_fp`` feature, or ``compute="fp16"``); each op module dispatches
here when ``is_f16(graph, op)``. The kernels are templates/kernels/<family>_f16.h: a Helium (MVE)
version, 8 fp16 lanes, used where the compiler targets MVE with floating point, and a portable
``_Float16`` version beside it that performs the same IEEE fp16 operations in the same order (the
reference the MVE version is tested against).

Every weighted output is one chain of fused multiply-adds in fp16, in TFLite's order (ky, kx,
channel), from +0, then the bias is added (fp16) and the activation clamps. To vectorise over
output channels, CONV_2D and FULLY_CONNECTED weights are emitted transposed, output channel
fastest ([KH, KW, C, O] and [I, O]): the same fp16 values, reordered at generation time.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph, Op
from . import Buf, Call, Const, Scratch, f32
from .f32 import ACT_RANGES
from .add_sub import is_elementwise, layout, layout_consts
from .geometry import pad_before, pool_params, window

F16_MAX = float(np.finfo(np.float16).max)   # 65504
# TFLite clamps float outputs to [-FLT_MAX, FLT_MAX] for NONE; in fp16 the same role is played
# by the largest finite half (an overflow to infinity is clamped back, as TFLite clamps FLT_MAX).
ACT_RANGES_F16 = {name: (max(lo, -F16_MAX), min(hi, F16_MAX))
                  for name, (lo, hi) in ACT_RANGES.items()}


def is_f16(graph: Graph, op: Op) -> bool:
    """The op produces float16 activations: it belongs to the FP16-compute path."""
    return bool(op.outputs) and graph.t(op.outputs[0]).dtype == "float16" \
        and not graph.t(op.outputs[0]).is_const


def act_range(op: Op) -> tuple[float, float]:
    activation = op.attrs.get("activation", "NONE")
    if activation not in ACT_RANGES_F16:
        raise UnsupportedOp(f"fused activation {activation} is not supported")
    return ACT_RANGES_F16[activation]


def _require_f16(graph: Graph, t: int, role: str, const: bool = False) -> None:
    tensor = graph.t(t)
    if tensor.dtype != "float16":
        raise UnsupportedOp(f"{role} is {tensor.dtype}; the FP16-compute path takes float16")
    if const and tensor.data is None:
        raise UnsupportedOp(f"{role} is not constant", ["freeze the weights into the model"])


def _has_bias(op: Op) -> bool:
    return len(op.inputs) > 2 and op.inputs[2] >= 0


def _bias(op: Op) -> Buf | int:
    return Buf(op.inputs[2]) if _has_bias(op) else 0


def check_weighted(graph: Graph, op: Op, out_c: int) -> None:
    _require_f16(graph, op.inputs[0], "input")
    _require_f16(graph, op.outputs[0], "output")
    _require_f16(graph, op.inputs[1], "weights", const=True)
    if _has_bias(op):
        _require_f16(graph, op.inputs[2], "bias", const=True)
        if graph.t(op.inputs[2]).size != out_c:
            raise UnsupportedOp(f"bias has {graph.t(op.inputs[2]).size} values for {out_c} "
                                f"output channels")
    act_range(op)


def weights_out_fastest(data: np.ndarray, out_axis: int = 0) -> np.ndarray:
    """Weights with the output-channel axis moved last (contiguous), float16."""
    return np.ascontiguousarray(np.moveaxis(data.astype(np.float16), out_axis, -1))


# --- CONV_2D / DEPTHWISE_CONV_2D -----------------------------------------------------------------

def check_conv2d(graph: Graph, op: Op) -> None:
    f32.check_conv2d(graph, op, check_weighted)


def lower_conv2d(graph: Graph, op: Op) -> Call:
    out_c, k_h, k_w, f_c = (int(d) for d in graph.t(op.inputs[1]).shape)
    win = window(graph, op, k_h, k_w, out_c)
    return Call("conv2d_f16", "conv2d_f16",
                [Buf(op.inputs[0]), Const("weights"), _bias(op), Buf(op.outputs[0]),
                 win.batches, win.y.size, win.x.size, win.in_c, k_h, k_w, f_c, win.y.out,
                 win.x.out, out_c, *win.args(), *act_range(op)],
                {"weights": weights_out_fastest(graph.t(op.inputs[1]).data)})


def check_dwconv(graph: Graph, op: Op) -> None:
    f32.check_dwconv(graph, op, check_weighted)


def dwconv_layout(weights: np.ndarray, bias: np.ndarray | None, in_c: int):
    """Depthwise weights [1, KH, KW, C * M] as [KH, KW, M, C] and bias [C * M] as [M, C]: input
    channel fastest, so one vector load takes one tap of one multiplier for 8 channels (for
    M = 1 the layout is TFLite's own)."""
    _, k_h, k_w, out_c = weights.shape
    mult = out_c // in_c
    w = weights.astype(np.float16).reshape(k_h, k_w, in_c, mult).transpose(0, 1, 3, 2)
    b = None if bias is None else bias.astype(np.float16).reshape(in_c, mult).T
    return np.ascontiguousarray(w), None if b is None else np.ascontiguousarray(b)


def lower_dwconv(graph: Graph, op: Op) -> Call:
    _, k_h, k_w, out_c = (int(d) for d in graph.t(op.inputs[1]).shape)
    win = window(graph, op, k_h, k_w, out_c)
    weights, bias = dwconv_layout(graph.t(op.inputs[1]).data,
                                  graph.t(op.inputs[2]).data if _has_bias(op) else None, win.in_c)
    consts = {"weights": weights, **({"bias": bias} if bias is not None else {})}
    return Call("dwconv_f16", "dwconv_f16",
                [Buf(op.inputs[0]), Const("weights"), Const("bias") if bias is not None else 0,
                 Buf(op.outputs[0]), win.batches, win.y.size, win.x.size, win.in_c, k_h, k_w,
                 out_c // win.in_c, win.y.out, win.x.out, *win.args(), *act_range(op)], consts)


# --- FULLY_CONNECTED -----------------------------------------------------------------------------

def check_fc(graph: Graph, op: Op) -> None:
    f32.check_fc(graph, op, check_weighted)


def lower_fc(graph: Graph, op: Op) -> Call:
    batches, in_depth, out_depth = f32.fc_dims(graph, op)
    return Call("fully_connected_f16", "fully_connected_f16",
                [Buf(op.inputs[0]), Const("weights"), _bias(op), Buf(op.outputs[0]), batches,
                 in_depth, out_depth, *act_range(op)],
                {"weights": weights_out_fastest(graph.t(op.inputs[1]).data)})


# --- AVERAGE_POOL_2D / MAX_POOL_2D ---------------------------------------------------------------

def _f16_input(graph: Graph, op: Op) -> None:
    _require_f16(graph, op.inputs[0], "input")
    act_range(op)


def check_pool(graph: Graph, op: Op) -> None:
    f32.check_pool(graph, op, _f16_input)


def lower_pool(graph: Graph, op: Op) -> Call:
    n, h, w, c = graph.t(op.inputs[0]).shape
    _, out_h, out_w, _ = graph.t(op.outputs[0]).shape
    fh, fw, sh, sw = pool_params(op)
    kernel = "maxpool2d_f16" if op.type == "MAX_POOL_2D" else "avgpool2d_f16"
    return Call(kernel, "pool2d_f16",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), n, h, w, c, out_h, out_w, fh, fw, sh, sw,
                 pad_before(h, fh, sh, out_h), pad_before(w, fw, sw, out_w), *act_range(op)])


# --- ADD / SUB -----------------------------------------------------------------------------------

def check_add(graph: Graph, op: Op) -> None:
    for role, t in (("input 1", op.inputs[0]), ("input 2", op.inputs[1]),
                    ("output", op.outputs[0])):
        _require_f16(graph, t, role)
    act_range(op)
    layout(graph, op)


def lower_add(graph: Graph, op: Op) -> Call:
    kind = "sub" if op.type == "SUB" else "add"
    dims, s1, s2 = layout(graph, op)
    head = [Buf(op.inputs[0]), Buf(op.inputs[1]), Buf(op.outputs[0])]
    if is_elementwise(dims, s1, s2):
        return Call(f"{kind}_f16", "add_f16", [*head, dims[0], *act_range(op)])
    return Call(f"{kind}_f16_broadcast", "add_f16",
                [*head, Const("dims"), Const("stride1"), Const("stride2"), *act_range(op)],
                layout_consts(dims, s1, s2))


# --- SOFTMAX -------------------------------------------------------------------------------------

def check_softmax(graph: Graph, op: Op) -> None:
    _require_f16(graph, op.inputs[0], "input")
    if len(graph.t(op.inputs[0]).shape) < 1 or graph.t(op.inputs[0]).size == 0:
        raise UnsupportedOp("softmax of a scalar or an empty tensor")


def softmax_scratch_bytes(depth: int) -> int:
    """SOFTMAX_F16_SCRATCH_BYTES: one row's exponentials as floats."""
    return 4 * depth


def lower_softmax(graph: Graph, op: Op) -> Call:
    inp = graph.t(op.inputs[0])
    depth = int(inp.shape[-1])
    return Call("softmax_f16", "softmax_f16",
                [Buf(op.inputs[0]), Buf(op.outputs[0]), Scratch(), inp.size // depth, depth,
                 float(np.float32(op.attrs.get("beta", 1.0)))],
                scratch_bytes=softmax_scratch_bytes(depth))


# --- the conversions at the graph's edges (CAST float32 -> float16, DEQUANTIZE float16 -> float32)

def check_convert(graph: Graph, op: Op, src: str, dst: str) -> None:
    inp, out = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    if (inp.dtype, out.dtype) != (src, dst) or inp.is_const:
        raise UnsupportedOp(f"{inp.dtype} -> {out.dtype}: tinyrt converts {src} activations "
                            f"to {dst} here")
    if inp.size != out.size:
        raise UnsupportedOp("input and output sizes differ")


def lower_convert(graph: Graph, op: Op) -> Call:
    inp = graph.t(op.inputs[0])
    kernel = "convert_f32_f16" if inp.dtype == "float32" else "convert_f16_f32"
    return Call(kernel, "convert_f16", [Buf(op.inputs[0]), Buf(op.outputs[0]), inp.size])
