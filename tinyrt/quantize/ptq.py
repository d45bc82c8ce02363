"""Graph(float) -> Graph(int8): post-training quantisation following the TFLite int8 spec.

- Weights of CONV_2D (axis 0) and DEPTHWISE_CONV_2D (axis 3): int8, symmetric per channel,
  scale = max|w| / 127, values in [-127, 127]. FULLY_CONNECTED: per tensor (the spec's choice;
  ``per_channel_fc`` quantises along axis 0, which tflite-runtime 2.14 also runs).
- Biases: int32, zero point 0, scale = input_scale * weight_scale (float32 product); a weight
  scale is raised when a bias would not fit in half the int32 range (as TFLite's quantizer
  does). TFLite's convolutions require a bias: a conv without one gets zeros.
- Activations: int8, asymmetric per tensor, from the calibrated range (observers.py). Ops that
  must keep their input's quantisation (pools, RESHAPE, SQUEEZE, PAD, TRANSPOSE,
  RESIZE_NEAREST_NEIGHBOR, CONCATENATION) share one (scale, zero point) with their inputs: the
  union of the ranges of the tensors that feed the group. SOFTMAX and LOGISTIC outputs are
  (1/256, -128), TANH (1/128, 0). A concatenation input whose quantisation is fixed otherwise
  gets a requantising QUANTIZE op, as TensorFlow's quantizer inserts.
- Inputs and outputs are int8 (full integer, like ``inference_input_type=tf.int8``), or float32
  with QUANTIZE / DEQUANTIZE at the ends when ``float_io`` is set.

Every existing tensor keeps its index (new tensors are appended), so the int8 graph's
activations line up with the float graph's for the per-layer report.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import TinyrtError
from ..ir import Graph, Op, Quant, Tensor
from .calibrate import Calibration
from .mixed import keep_fp16
from .observers import METHODS, asymmetric_params, choose_range
from .prepare import FIXED_OUTPUT, SAME_SCALE, WEIGHTED

INT32_MAX = 2**31 - 1
LAYER_DTYPES = ("int8", "fp16")   # per-layer precisions (fp16: mixed.py)


@dataclass(frozen=True)
class QuantConfig:
    method: str = "minmax"            # minmax | percentile | mse
    percentile: float = 99.99
    bias_correction: bool = False
    per_channel_fc: bool = False
    float_io: bool = False
    layer_dtypes: dict = field(default_factory=dict)   # op name -> "int8" (default) | "fp16"

    def __post_init__(self):
        if self.method not in METHODS:
            raise TinyrtError(f"unknown calibration method '{self.method}'",
                              [f"choose one of: {', '.join(METHODS)}"])
        if not 50.0 < self.percentile <= 100.0:
            raise TinyrtError(f"percentile {self.percentile} must be in (50, 100]")
        for name, dtype in self.layer_dtypes.items():
            if dtype not in LAYER_DTYPES:
                raise TinyrtError(f"layer '{name}': precision {dtype} is not implemented yet",
                                  [f"available: {', '.join(LAYER_DTYPES)}"])


def rround(x) -> np.ndarray:
    """Round half away from zero (std::round), elementwise."""
    x = np.asarray(x, np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# ---- activation quantisation ------------------------------------------------------------------

class _Groups:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, k: int) -> int:
        self.parent.setdefault(k, k)
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def activation_params(graph: Graph, calib: Calibration, config: QuantConfig
                      ) -> tuple[dict[int, tuple[float, int]], list[tuple[int, int]]]:
    """Tensor -> (scale, zero point) for every float activation, and the (op, input) pairs of
    concatenations that need a requantising QUANTIZE in front."""
    groups, fixed, sources = _Groups(), {}, set(calib.hist)
    for op in graph.ops:
        if op.type in FIXED_OUTPUT:
            fixed[op.outputs[0]] = FIXED_OUTPUT[op.type]
    fixed_root = lambda k: any(groups.find(f) == groups.find(k) for f in fixed)  # noqa: E731
    requant = []
    for i, op in enumerate(graph.ops):
        if op.type not in SAME_SCALE:
            continue
        out = op.outputs[0]
        sources.discard(out)
        ins = [k for k in op.inputs if k >= 0 and not graph.t(k).is_const]
        ins = ins if op.type == "CONCATENATION" else ins[:1]
        for k in ins:
            if op.type == "CONCATENATION" and fixed_root(k):
                requant.append((i, k))
            else:
                groups.union(out, k)
    members: dict[int, list[int]] = {}
    for k in calib.hist:
        members.setdefault(groups.find(k), []).append(k)
    params = {}
    for root, ks in members.items():
        fixed_here = [fixed[k] for k in ks if k in fixed]
        if fixed_here:
            p = (float(np.float32(fixed_here[0][0])), fixed_here[0][1])
        else:
            hists = [calib.hist[k] for k in ks if k in sources] or [calib.hist[k] for k in ks]
            merged = hists[0]
            for h in hists[1:]:
                merged = merged.merge(h)
            p = asymmetric_params(*choose_range(merged, config.method, config.percentile))
        for k in ks:
            params[k] = p
    requant = [(i, k) for i, k in requant if params[k] != params[graph.ops[i].outputs[0]]]
    return params, requant


# ---- weights and biases -----------------------------------------------------------------------

def weight_scales(w: np.ndarray, axis: int | None) -> np.ndarray:
    """max|w| / 127 per channel (or for the whole tensor), float32 as in TFLite's quantizer."""
    if axis is None:
        maxabs = np.array([np.abs(w).max(initial=0.0)], np.float32)
    else:
        maxabs = np.abs(np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)).max(axis=1)
    return (maxabs.astype(np.float32) / np.float32(127.0)).astype(np.float32)


def _channel_shape(ndim: int, axis: int | None) -> list[int]:
    shape = [1] * ndim
    if axis is not None:
        shape[axis] = -1
    return shape or [1]


def quantize_weights(w: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    """round(w * (127 / max|w|)) in float32, clamped to [-127, 127]; a channel of zeros is 0."""
    half_range = (scale * np.float32(127.0)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(half_range > 0, np.float32(127.0) / half_range, 0).astype(np.float32)
    prod = (w.astype(np.float32) * inv.reshape(_channel_shape(w.ndim, axis))).astype(np.float32)
    return np.clip(rround(prod), -127, 127).astype(np.int8)


def dequantize_weights(q: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    return q.astype(np.float64) * scale.reshape(_channel_shape(q.ndim, axis)).astype(np.float64)


def fit_bias(bias: np.ndarray, in_scale: float, w_scale: np.ndarray) -> np.ndarray:
    """Weight scales raised so that every quantised bias stays within half the int32 range, as
    TFLite's ``AdjustWeightsForBiasScale`` does (the bias then quantises to about 2^30)."""
    b = np.abs(bias.astype(np.float32))
    if w_scale.size == 1:
        b = np.array([b.max(initial=0.0)], np.float32)
    limit = 0.5 * np.float64(in_scale) * w_scale.astype(np.float64) * INT32_MAX
    per_input = np.float64(np.float32(127.0) / np.float32(in_scale))   # float32, as in TFLite
    adjusted = (2.0 * b.astype(np.float64) / INT32_MAX * per_input).astype(np.float32) \
        / np.float32(127.0)
    return np.where(b >= limit, adjusted, w_scale).astype(np.float32)


def quantize_bias(bias: np.ndarray, in_scale: float, w_scale: np.ndarray):
    """int32 bias with scale = input_scale * weight_scale (float32), rounded as TFLite does:
    round(bias * float(1 / scale)) in float32, clamped to +-(2^31 - 1)."""
    scale = (np.float32(in_scale) * w_scale.astype(np.float32)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(scale > 0, 1.0 / scale.astype(np.float64), 0).astype(np.float32)
    prod = (bias.astype(np.float32) * inv).astype(np.float32)
    q = np.clip(rround(prod), -INT32_MAX, INT32_MAX)
    return q.astype(np.int32), scale


def correction(op_type: str, dw: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(W - W_int8) . E[x] per output channel: the expected output shift weight rounding adds."""
    if op_type == "CONV_2D":
        return dw.sum(axis=(1, 2)) @ mean
    if op_type == "DEPTHWISE_CONV_2D":
        per_out = dw.sum(axis=(0, 1, 2))
        return per_out * np.repeat(mean, per_out.size // mean.size)
    return dw @ mean


# ---- the pass ---------------------------------------------------------------------------------

def quantize_graph(graph: Graph, calib: Calibration, config: QuantConfig = QuantConfig(),
                   fixed_params: dict[int, tuple[float, int]] | None = None) -> Graph:
    """The int8 graph of a prepared float graph (prepare.prepare_float) and its calibration.

    ``fixed_params``: activation tensor -> (scale, zero point) to use instead of the calibrated
    ones (e.g. another quantizer's, to compare weight quantisation alone)."""
    unknown = set(config.layer_dtypes) - {op.name for op in graph.ops}
    if unknown:
        raise TinyrtError(f"no layer named {', '.join(sorted(unknown))} in '{graph.name}'",
                          ["layer names are the ops' output tensor names (tinyrt plan lists them)"])
    params, requant = activation_params(graph, calib, config)
    params.update(fixed_params or {})
    tensors = list(graph.tensors)
    for k, (scale, zp) in params.items():
        t = tensors[k]
        tensors[k] = replace(t, dtype="int8", quant=_quant([scale], [zp]))
    ops = [Op(op.type, list(op.inputs), list(op.outputs), dict(op.attrs), op.name)
           for op in graph.ops]
    done: dict[int, tuple] = {}
    for op in ops:
        if op.type in WEIGHTED:
            _quantize_weighted(graph, op, tensors, params, calib, config, done)
        else:
            _quantize_other_consts(graph, op, tensors, params)
    result = graph.replace(tensors=tensors, ops=ops)
    result = _insert_requantize(result, requant)
    result = keep_fp16(result, graph, [n for n, d in config.layer_dtypes.items() if d == "fp16"])
    return _float_io(result, graph) if config.float_io else result


def _quant(scale, zp, axis: int = 0) -> Quant:
    return Quant(np.asarray(scale, np.float32).reshape(-1),
                 np.asarray(zp, np.int64).reshape(-1), axis)


def _quantize_weighted(graph, op, tensors, params, calib, config, done) -> None:
    axis = WEIGHTED[op.type] if op.type != "FULLY_CONNECTED" or config.per_channel_fc else None
    wk = op.inputs[1]
    w = graph.t(wk).data.astype(np.float32)
    in_scale = params[op.inputs[0]][0]
    bk = op.inputs[2] if len(op.inputs) > 2 else -1
    bias = graph.t(bk).data.astype(np.float64) if bk >= 0 else None
    if bias is None and op.type != "FULLY_CONNECTED":   # TFLite's convs require a bias
        bias = np.zeros(w.shape[WEIGHTED[op.type]])
    scale = weight_scales(w, axis)
    if wk in done:                      # weights shared by several ops: quantised once
        scale = done[wk]
    elif bias is not None:
        scale = fit_bias(bias, in_scale, scale)
    q = quantize_weights(w, scale, axis)
    done[wk] = scale
    tensors[wk] = replace(graph.t(wk), dtype="int8", data=q,
                          quant=_quant(scale, np.zeros(scale.size), axis or 0))
    if config.bias_correction and op.inputs[0] in calib.channel_mean:
        delta = correction(op.type, w - dequantize_weights(q, scale, axis),
                           calib.channel_mean[op.inputs[0]])
        bias = delta if bias is None else bias + delta
    if bias is None:
        return
    qb, bscale = quantize_bias(bias, in_scale, scale)
    name = graph.t(bk).name if bk >= 0 else f"{op.name}/bias"
    t = Tensor(name, (qb.size,), "int32", _quant(bscale, np.zeros(bscale.size), 0), qb)
    if bk >= 0 and bk not in done:
        tensors[bk] = t
        done[bk] = ()
    else:                               # a new or shared bias: this op gets its own
        tensors.append(t)
        if len(op.inputs) < 3:
            op.inputs.append(-1)
        op.inputs[2] = len(tensors) - 1


def _quantize_other_consts(graph, op, tensors, params) -> None:
    """Float constants read by other ops (an ADD of a constant, a concatenated table)."""
    for j, k in enumerate(op.inputs):
        t = graph.t(k) if k >= 0 else None
        if t is None or not t.is_const or t.dtype != "float32":
            continue
        if op.type in SAME_SCALE:
            scale, zp = params[op.outputs[0]]
        else:
            scale, zp = asymmetric_params(float(t.data.min()), float(t.data.max()))
        q = np.clip(rround(t.data / np.float64(scale)) + zp, -128, 127).astype(np.int8)
        tensors.append(replace(t, dtype="int8", quant=_quant([scale], [zp]), data=q))
        op.inputs[j] = len(tensors) - 1   # a copy: the same constant may feed other ops


def _insert_requantize(graph: Graph, requant: list[tuple[int, int]]) -> Graph:
    if not requant:
        return graph
    tensors, ops = list(graph.tensors), list(graph.ops)
    for i, k in sorted(requant, reverse=True):
        out = tensors[ops[i].outputs[0]]
        src = tensors[k]
        tensors.append(replace(src, name=f"{src.name}/requantized", quant=out.quant))
        new = len(tensors) - 1
        ops[i].inputs = [new if x == k else x for x in ops[i].inputs]
        ops.insert(i, Op("QUANTIZE", [k], [new], {}, tensors[new].name))
    return graph.replace(tensors=tensors, ops=ops)


def _float_io(graph: Graph, float_graph: Graph) -> Graph:
    """Keep float32 inputs and outputs: QUANTIZE after each input, DEQUANTIZE before each output."""
    tensors, ops = list(graph.tensors), list(graph.ops)
    head, tail, outputs = [], [], []
    for k in graph.inputs:
        q = tensors[k]
        tensors[k] = float_graph.t(k)
        tensors.append(replace(q, name=f"{q.name}/int8"))
        new = len(tensors) - 1
        for op in ops:
            op.inputs = [new if x == k else x for x in op.inputs]
        head.append(Op("QUANTIZE", [k], [new], {}, tensors[new].name))
    for k in graph.outputs:
        t = replace(tensors[k], dtype="float32", quant=None)   # k may be a mixed model's copy
        tensors.append(replace(t, name=f"{t.name}/float"))
        outputs.append(len(tensors) - 1)
        tail.append(Op("DEQUANTIZE", [k], [outputs[-1]], {}, tensors[-1].name))
    return graph.replace(tensors=tensors, ops=head + ops + tail, outputs=outputs)
