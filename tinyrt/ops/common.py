"""Helpers shared by op modules: dtype checks and the quantisation constants of conv-like ops."""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..fixedpoint import activation_range, quantize_multiplier
from ..ir import Graph, Op, Tensor


def require_dtypes(graph: Graph, op: Op, allowed: dict[str, tuple[str, ...]]) -> None:
    """``allowed`` maps a role ("input", "output", "weights", "bias") to accepted dtypes;
    roles are positional: input 0 is "input", 1 "weights", 2 "bias"; output 0 "output"."""
    roles = {"input": op.inputs[0] if op.inputs else -1,
             "weights": op.inputs[1] if len(op.inputs) > 1 else -1,
             "bias": op.inputs[2] if len(op.inputs) > 2 else -1,
             "output": op.outputs[0]}
    for role, dtypes in allowed.items():
        t = roles[role]
        if t >= 0 and graph.t(t).dtype not in dtypes:
            raise UnsupportedOp(
                f"{role} is {graph.t(t).dtype}; tinyrt supports {'/'.join(dtypes)} here",
                ["quantise the model to full int8 (`tinyrt quantize`)"])


def require_quant(graph: Graph, op: Op, *tensors: int) -> None:
    for t in tensors:
        if t >= 0 and graph.t(t).quant is None:
            raise UnsupportedOp(f"tensor '{graph.t(t).name}' has no quantisation parameters",
                                ["convert with full-integer quantisation"])


def require_weight_scales(w: Tensor, axis: int, count: int) -> None:
    """Per-channel weights must carry one scale per output channel, along ``axis``."""
    if w.quant.per_channel and (w.quant.axis != axis or w.quant.scale.size != count):
        raise UnsupportedOp(f"weights are quantised along dimension {w.quant.axis} with "
                            f"{w.quant.scale.size} scales; expected {count} along {axis}")


def require_bias(graph: Graph, op: Op, count: int, what: str) -> None:
    """An optional third input, constant, with one value per output (``what`` names them)."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = graph.t(op.inputs[2])
        if b.data is None:
            raise UnsupportedOp("bias is not constant", ["freeze the bias into the model"])
        if b.size != count:
            raise UnsupportedOp(f"bias has {b.size} values for {count} {what}")


def scale(t: Tensor) -> float:
    """The per-tensor scale of an activation. Zero (or less) would divide by zero in every
    multiplier derived from it: refused, naming the tensor."""
    s = float(t.quant.scale[0])
    if not s > 0.0:
        raise UnsupportedOp(f"tensor '{t.name}' has quantisation scale {s}; an activation's "
                            f"scale is positive", ["re-convert the model"])
    return s


def zero_point(t: Tensor) -> int:
    return int(t.quant.zero_point[0])


def act_range(graph: Graph, op: Op) -> tuple[int, int]:
    out = graph.t(op.outputs[0])
    return activation_range(op.attrs.get("activation", "NONE"), scale(out), zero_point(out),
                            out.dtype)


def channel_multipliers(input_t: Tensor, weights_t: Tensor, output_t: Tensor,
                        channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel (multiplier, shift), computed as TFLite's
    PopulateConvolutionQuantizationParams does: in double, input * filter / output."""
    ws = weights_t.quant.scale
    if ws.size == 1:
        ws = np.repeat(ws, channels)
    mults, shifts = [], []
    for c in range(channels):
        real = float(np.float32(scale(input_t))) * float(ws[c]) / float(np.float32(scale(output_t)))
        m, s = quantize_multiplier(real)
        mults.append(m)
        shifts.append(s)
    return np.array(mults, np.int32), np.array(shifts, np.int32)


def folded_bias(weights: np.ndarray, bias: np.ndarray | None, input_zp: int) -> np.ndarray:
    """bias[c] + (-input_zp) * sum(weights[c]), per output channel (axis 0 of ``weights``), with
    int32 wrap-around like the accumulator it seeds. Lets kernels skip the input offset."""
    w = weights.reshape(weights.shape[0], -1).astype(np.int64)
    acc = -int(input_zp) * w.sum(axis=1)
    if bias is not None:
        acc = acc + bias.astype(np.int64).reshape(-1)
    return ((acc + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)
