"""Graph passes run by codegen before the kernels are chosen.

``fold_fp16_dequantize``: an FP16 model (docs/fp16.md) stores each weight as a float16 constant
read through a DEQUANTIZE (float16 -> float32). The float kernels read fp16 constants directly,
so the pass removes those DEQUANTIZE ops and points their consumers at the float16 constant:
the weights stay half precision in flash and no op runs for them.

``fuse_int8_boundaries``: in a mixed int8/FP16 model (docs/quantization.md) an FP16 CONV_2D,
DEPTHWISE_CONV_2D or FULLY_CONNECTED reads its int8 input through a DEQUANTIZE and writes through a
QUANTIZE. The float kernels can do both conversions on the fly with the same float32 arithmetic
(``tr_load_act`` / ``tr_store_act``), so the pass removes those ops and lets the layer read and
write the int8 tensors: bit-identical results, and the float32 copies (four times the int8 bytes)
never take arena space.

``fuse_pad_into_conv``: an int8 PAD (Keras' ZeroPadding2D) that only feeds a VALID CONV_2D or
DEPTHWISE_CONV_2D becomes the convolution's own padding (TFLite's SAME where the amounts are
SAME's, explicit ``pad_top``/``pad_left`` otherwise): the kernels read taps outside the input
as the zero point, which is what the PAD wrote, so the padded copy is never made.

``compute_fp16``: on a core with FP16 vector arithmetic (the board feature ``mve_fp``, Cortex-M55)
a pure float graph computes in FP16: activations become float16, with conversions at the graph's
inputs and outputs (docs/fp16.md, "FP16 compute").
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import UnsupportedOp
from .ir import Graph, Op
from .ops import pad as pad_op
from .ops.geometry import window_axis


def is_const_fp16_dequantize(graph: Graph, op: Op) -> bool:
    if op.type != "DEQUANTIZE" or len(op.inputs) != 1 or len(op.outputs) != 1:
        return False
    src, dst = graph.t(op.inputs[0]), graph.t(op.outputs[0])
    return (src.is_const and src.dtype == "float16" and dst.dtype == "float32"
            and op.outputs[0] not in graph.outputs)


def fold_fp16_dequantize(graph: Graph) -> Graph:
    """The graph without DEQUANTIZE ops of constant float16 tensors (consumers read the float16
    constant), and without the tensors that leaves unused. Unchanged if there are none."""
    folded = {op.outputs[0]: op.inputs[0] for op in graph.ops
              if is_const_fp16_dequantize(graph, op)}
    if not folded:
        return graph
    ops = [Op(op.type, [folded.get(t, t) for t in op.inputs], list(op.outputs), dict(op.attrs),
              op.name)
           for op in graph.ops if not is_const_fp16_dequantize(graph, op)]
    return _with_ops(graph, ops)


def _with_ops(graph: Graph, ops: list[Op]) -> Graph:
    """``graph`` with ``ops``, without the tensors no op, input or output uses any more."""
    used = sorted({t for op in ops for t in (*op.inputs, *op.outputs) if t >= 0}
                  | set(graph.inputs) | set(graph.outputs))
    new_index = {old: new for new, old in enumerate(used)}
    remap = lambda ts: [new_index[t] if t >= 0 else t for t in ts]   # noqa: E731
    return graph.replace(
        tensors=[graph.t(t) for t in used],
        ops=[Op(op.type, remap(op.inputs), remap(op.outputs), op.attrs, op.name) for op in ops],
        inputs=remap(graph.inputs), outputs=remap(graph.outputs))


# --- fused int8 boundaries of FP16 layers (mixed precision) -------------------------------------

FUSABLE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _per_tensor_int8(graph: Graph, t: int) -> bool:
    tensor = graph.t(t)
    return tensor.dtype == "int8" and tensor.quant is not None and not tensor.quant.per_channel


def fuse_int8_boundaries(graph: Graph) -> Graph:
    """A conversion is fused only where nothing else needs the float32 tensor: the DEQUANTIZE
    output has the layer as its only reader, the layer's output has the QUANTIZE as its only
    reader, and neither is a graph output. The fused layer is marked
    ``attrs["float_compute"] = True``: its output may be int8 now, but the float path
    (``tinyrt/ops/f32.py``) computes it. Unchanged if nothing fuses."""
    producers, consumers = graph.producers(), graph.consumers()
    removed: set[int] = set()
    ops = [Op(op.type, list(op.inputs), list(op.outputs), dict(op.attrs), op.name)
           for op in graph.ops]
    for i, op in enumerate(ops):
        if op.type not in FUSABLE or graph.t(op.outputs[0]).dtype != "float32":
            continue
        x, y = op.inputs[0], op.outputs[0]
        p = producers.get(x)
        if p is not None and graph.ops[p].type == "DEQUANTIZE" and consumers.get(x) == [i] \
                and x not in graph.outputs and _per_tensor_int8(graph, graph.ops[p].inputs[0]):
            op.inputs[0] = graph.ops[p].inputs[0]
            removed.add(p)
            op.attrs["float_compute"] = True
        readers = consumers.get(y, [])
        quantize = graph.ops[readers[0]] if len(readers) == 1 else None
        if quantize is not None and quantize.type == "QUANTIZE" and y not in graph.outputs \
                and _per_tensor_int8(graph, quantize.outputs[0]):
            op.outputs = list(quantize.outputs)
            removed.add(readers[0])
            op.attrs["float_compute"] = True
    if not removed:
        return graph
    return _with_ops(graph, [op for i, op in enumerate(ops) if i not in removed])


# --- FP16 compute ---------------------------------------------------------------------------------

# Ops the FP16 kernels (templates/kernels/*_f16.h, tinyrt/ops/f16.py) compute. A graph with any
# other op keeps FP32 compute.
F16_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
                     "MAX_POOL_2D", "ADD", "SUB", "SOFTMAX", "RESHAPE", "SQUEEZE"})
# The internal conversions the pass inserts at the graph's edges. DEQUANTIZE float16 -> float32
# is TFLite's own meaning of DEQUANTIZE; CAST float32 -> float16 is TFLite's CAST.
TO_F16, TO_F32 = "CAST", "DEQUANTIZE"


def can_compute_fp16(graph: Graph) -> bool:
    """A pure float graph (every activation float32, every op one the FP16 kernels cover, float
    constants float32 or float16) with distinct, non-constant inputs and outputs."""
    if not graph.inputs or not graph.outputs or set(graph.inputs) & set(graph.outputs):
        return False
    if any(op.type not in F16_OPS for op in graph.ops):
        return False
    for t in graph.tensors:
        if t.is_const:
            if t.dtype not in ("float32", "float16", "int32", "int64"):
                return False
        elif t.dtype != "float32":
            return False
    return not any(graph.t(t).is_const for t in (*graph.inputs, *graph.outputs))


def compute_fp16(graph: Graph) -> Graph:
    """The graph computed in FP16 (docs/fp16.md, "FP16 compute"): every float32 activation becomes
    float16 (half the arena), float32 constants become float16 (round to nearest even; an FP16
    model's are float16 already), a CAST float32 -> float16 follows each graph input and a
    DEQUANTIZE float16 -> float32 precedes each graph output, so the model's interface stays
    float32. Run after ``fold_fp16_dequantize``. Unchanged unless ``can_compute_fp16``."""
    if not can_compute_fp16(graph):
        return graph
    tensors = []
    for t in graph.tensors:
        if t.is_const and t.dtype == "float32":
            t = dataclasses.replace(t, dtype="float16", data=t.data.astype(np.float16))
        elif not t.is_const and t.dtype == "float32":
            t = dataclasses.replace(t, dtype="float16")
        tensors.append(t)
    edge = {}   # graph input/output index -> index of its float16 twin
    for t in (*graph.inputs, *graph.outputs):
        edge[t] = len(tensors)
        tensors.append(dataclasses.replace(graph.t(t), name=f"{graph.t(t).name}/fp16",
                                           dtype="float16", quant=None))
        tensors[t] = graph.t(t)   # the interface tensors stay float32
    remap = lambda ts: [edge.get(t, t) if t >= 0 else t for t in ts]
    ops = [Op(TO_F16, [t], [edge[t]], {}, f"{graph.t(t).name}/to_fp16") for t in graph.inputs]
    ops += [Op(op.type, remap(op.inputs), remap(op.outputs), dict(op.attrs), op.name)
            for op in graph.ops]
    ops += [Op(TO_F32, [edge[t]], [t], {}, f"{graph.t(t).name}/to_fp32") for t in graph.outputs]
    return graph.replace(tensors=tensors, ops=ops)


# --- PAD fused into the next convolution ---------------------------------------------------------

WINDOWED = ("CONV_2D", "DEPTHWISE_CONV_2D")


def fuse_pad_into_conv(graph: Graph) -> Graph:
    """The graph without the int8 PADs that only feed a VALID CONV_2D / DEPTHWISE_CONV_2D
    (Keras' ZeroPadding2D before a strided convolution): the convolution reads the PAD's input
    with the padding as its own (``fused_padding``), so the padded copy never takes arena
    space. Unchanged if nothing fuses."""
    producers, consumers = graph.producers(), graph.consumers()
    fused: dict[int, tuple[int, dict]] = {}   # conv op index -> (PAD op index, conv attrs)
    for i, op in enumerate(graph.ops):
        p = producers.get(op.inputs[0]) if op.type in WINDOWED and op.inputs else None
        if p is None or graph.ops[p].type != "PAD" or consumers.get(op.inputs[0]) != [i] \
                or op.inputs[0] in graph.outputs or op.inputs.count(op.inputs[0]) != 1:
            continue
        attrs = fused_padding(graph, graph.ops[p], op)
        if attrs is not None:
            fused[i] = (p, attrs)
    if not fused:
        return graph
    removed = {p for p, _ in fused.values()}
    ops = []
    for i, op in enumerate(graph.ops):
        if i in fused:   # the PAD came before the conv, so its input still does: order holds
            p, attrs = fused[i]
            op = Op(op.type, [graph.ops[p].inputs[0], *op.inputs[1:]], list(op.outputs), attrs,
                    op.name)
        if i not in removed:
            ops.append(op)
    return _with_ops(graph, ops)


def fused_padding(graph: Graph, pad: Op, conv: Op) -> dict | None:
    """The conv's attrs when it reads ``pad``'s input instead of its output, or None when that
    would not be exact. Exact because the int8 kernels read taps outside their input as the
    input zero point, which is the PAD's value when the PAD copies its input unchanged (same
    scale and zero point) and pads only H and W; taps past the bottom/right end are read as
    the zero point too, so only the top/left amounts need stating. Refused when a padding
    is at least the window's extent (a window of padding only: TFLite's SAME never has one, and
    the kernels' border paths are not held to it)."""
    if conv.attrs.get("padding") != "VALID" or conv.attrs.get("float_compute"):
        return None
    x, y, out, w = pad.inputs[0], pad.outputs[0], conv.outputs[0], conv.inputs[1]
    tensors = [graph.t(t) for t in (x, y, out, w)]
    if any(t.dtype != "int8" or t.quant is None or len(t.shape) != 4 for t in tensors):
        return None
    if tensors[0].quant.per_channel or tensors[0].quant != tensors[1].quant:
        return None
    try:
        pad_op.check(graph, pad)
    except UnsupportedOp:
        return None
    (n0, n1), (top, bottom), (left, right), (c0, c1) = pad_op.paddings(graph, pad)
    if n0 or n1 or c0 or c1:
        return None
    a = conv.attrs
    axes = []
    for size, k, s, d, before, after, out_size in (
            (tensors[0].shape[1], tensors[3].shape[1], a.get("stride_h", 1),
             a.get("dilation_h", 1), top, bottom, tensors[2].shape[1]),
            (tensors[0].shape[2], tensors[3].shape[2], a.get("stride_w", 1),
             a.get("dilation_w", 1), left, right, tensors[2].shape[2])):
        extent = (k - 1) * d + 1
        if max(before, after) >= extent:
            return None
        axes.append((window_axis(size, k, s, d, "SAME"), before, out_size))
    # TFLite's own SAME geometry where it matches (MobileNet's ZeroPadding2D): the layer then
    # stays an ordinary SAME conv for the stream planner and every kernel's usual path.
    if all(same.out == out_size and same.pad == before for same, before, out_size in axes):
        return {**a, "padding": "SAME"}
    return {**a, "padding": "EXPLICIT", "pad_top": top, "pad_left": left}
