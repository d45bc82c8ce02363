"""Trained parameters back into an int8 model.

``params_from_bytes`` reads tinyrt_train_params()'s bytes into named float32 arrays;
``finetuned_graph`` re-quantises them into the int8 model: trained weights get new symmetric
scales (max |w| / 127 per output channel, or per tensor where the model had one scale, as
FULLY_CONNECTED often has), zero point 0; biases become int32 at input scale x weight scale.
The frozen output channels of a channel-sparse layer keep their int8 values and scales where
the scales are per channel. The result is a normal int8 model, so `tinyrt deploy` stays
bit-exact on it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import TinyrtError
from ..ir import Graph, Quant
from ..writer import write_tflite
from .graph import TrainGraph


def params_from_bytes(tg: TrainGraph, raw: bytes,
                      precision: str = "fp32") -> dict[str, np.ndarray]:
    """Named float32 arrays of the device's parameter bytes (FP16 ones widened exactly)."""
    dtype = "<f2" if precision == "fp16" else "<f4"
    want = tg.param_count * np.dtype(dtype).itemsize
    if len(raw) != want:
        raise TinyrtError(f"the trained parameters are {len(raw)} bytes, this training graph "
                          f"has {want} ({tg.param_count} {precision})",
                          ["read them from a device built for the same model, --train and "
                           "--precision"])
    flat = np.frombuffer(raw, dtype=dtype).astype(np.float32)
    return {p.name: flat[p.offset:p.offset + p.size].reshape(p.shape).copy() for p in tg.params}


def _weight_quant(w: np.ndarray, old: Quant, axis: int) -> Quant:
    if old.per_channel:
        moved = np.moveaxis(np.abs(w), axis, 0).reshape(w.shape[axis], -1)
        peak = moved.max(axis=1)
    else:
        peak = np.array([np.abs(w).max()])
    scale = np.where(peak > 0, peak / 127.0, old.scale.astype(np.float64)).astype(np.float32)
    return Quant(scale, np.zeros(scale.size, np.int64), axis)


def _quantise(w: np.ndarray, q: Quant) -> np.ndarray:
    shape = [1] * w.ndim
    if q.per_channel:
        shape[q.axis] = -1
    scale = q.scale.astype(np.float64).reshape(shape)
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8)


def finetuned_graph(tg: TrainGraph, params: dict[str, np.ndarray]) -> Graph:
    """The int8 model with the trained weights and biases of ``params`` (name -> float32)."""
    graph = tg.graph
    tensors = list(graph.tensors)
    by_layer: dict[int, dict[str, np.ndarray]] = {}
    for p in tg.params:
        by_layer.setdefault(p.layer, {})[p.role] = params[p.name]
    tail = {op.index: op for op in tg.tail}
    for layer, trained in by_layer.items():
        op = graph.ops[layer]
        w_index = op.inputs[1]
        w_t = tensors[w_index]
        if "weight" in trained:
            w_t = _trained_weights(w_t, op, tail[layer], trained["weight"])
            tensors[w_index] = w_t
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            tensors[op.inputs[2]] = _bias_tensor(graph, op, tensors, trained, w_t)
    return graph.replace(tensors=tensors)


def _trained_weights(w_t, op, tail_op, trained: np.ndarray):
    """The re-quantised weight tensor; a channel-sparse layer's frozen rows keep their int8
    values where each channel has its own scale."""
    rows = tail_op.trained_c
    full = np.concatenate([trained, tail_op.frozen_weight]) if rows else trained
    axis = 3 if op.type == "DEPTHWISE_CONV_2D" else 0
    quant = _weight_quant(full, w_t.quant, axis)
    data = _quantise(full, quant)
    if rows and w_t.quant.per_channel:
        quant.scale[rows:] = w_t.quant.scale[rows:]
        data[rows:] = w_t.data[rows:]
    return dataclasses.replace(w_t, quant=quant, data=data)


def _bias_tensor(graph: Graph, op, tensors, trained: dict, w_t):
    """The int32 bias at the (possibly new) weight scales: the trained values, or the old
    ones re-expressed when only the weights changed."""
    b_t = tensors[op.inputs[2]]
    old_scale = (b_t.quant.scale if b_t.quant is not None else None)
    in_scale = np.float64(graph.t(op.inputs[0]).quant.scale[0])
    scale = (in_scale * w_t.quant.scale.astype(np.float64)) * np.ones(b_t.shape[0])
    values = trained.get("bias")
    if values is None:
        if "weight" not in trained:
            return b_t
        values = b_t.data.astype(np.float64) * (old_scale.astype(np.float64)
                                                if old_scale is not None else scale)
    q = np.clip(np.round(values.astype(np.float64) / scale), -2**31, 2**31 - 1).astype(np.int32)
    quant = Quant(scale.astype(np.float32), np.zeros(scale.size, np.int64), 0)
    return dataclasses.replace(b_t, quant=quant, data=q)


def finetuned_tflite(tg: TrainGraph, params: dict[str, np.ndarray]) -> bytes:
    return write_tflite(finetuned_graph(tg, params))
