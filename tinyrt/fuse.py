"""``fuse_int8_boundaries``: in a mixed int8/FP16 model (docs/quantization.md) a float CONV_2D,
DEPTHWISE_CONV_2D or FULLY_CONNECTED reads its input through a DEQUANTIZE (int8 -> float32) and
writes through a QUANTIZE (float32 -> int8). The float kernels can do both conversions on the
fly with the same float32 arithmetic (``tr_load_act`` / ``tr_store_act``), so this pass removes
those ops and lets the layer read and write the int8 tensors: the results are bit-identical and
the float32 copies, four times the int8 bytes, never take arena space.

A conversion is fused only where nothing else needs the float32 tensor: the DEQUANTIZE output has
the layer as its only reader, the layer's output has the QUANTIZE as its only reader, and neither
is a graph output. The fused layer is marked ``attrs["float_compute"] = True`` (its output is
int8 now, but it is computed by the float path, ``tinyrt/ops/f32.py``).
"""
from __future__ import annotations

from .ir import Graph, Op

FUSABLE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _per_tensor_int8(graph: Graph, t: int) -> bool:
    tensor = graph.t(t)
    return tensor.dtype == "int8" and tensor.quant is not None and not tensor.quant.per_channel


def fuse_int8_boundaries(graph: Graph) -> Graph:
    producers, consumers = graph.producers(), graph.consumers()
    kept_float = set(graph.outputs)
    removed: set[int] = set()
    ops = [Op(op.type, list(op.inputs), list(op.outputs), dict(op.attrs), op.name)
           for op in graph.ops]
    for i, op in enumerate(ops):
        if op.type not in FUSABLE or graph.t(op.outputs[0]).dtype != "float32":
            continue
        x, y = op.inputs[0], op.outputs[0]
        p = producers.get(x)
        if p is not None and graph.ops[p].type == "DEQUANTIZE" and consumers.get(x) == [i] \
                and x not in kept_float and _per_tensor_int8(graph, graph.ops[p].inputs[0]):
            op.inputs[0] = graph.ops[p].inputs[0]
            removed.add(p)
            op.attrs["float_compute"] = True
        readers = consumers.get(y, [])
        if len(readers) == 1 and graph.ops[readers[0]].type == "QUANTIZE" \
                and y not in kept_float and _per_tensor_int8(graph, graph.ops[readers[0]].outputs[0]):
            op.outputs = list(graph.ops[readers[0]].outputs)
            removed.add(readers[0])
            op.attrs["float_compute"] = True
    if not removed:
        return graph
    ops = [op for i, op in enumerate(ops) if i not in removed]
    used = sorted({t for op in ops for t in (*op.inputs, *op.outputs) if t >= 0}
                  | set(graph.inputs) | set(graph.outputs))
    new_index = {old: new for new, old in enumerate(used)}
    remap = lambda ts: [new_index[t] if t >= 0 else t for t in ts]   # noqa: E731
    return graph.replace(
        tensors=[graph.t(t) for t in used],
        ops=[Op(op.type, remap(op.inputs), remap(op.outputs), op.attrs, op.name) for op in ops],
        inputs=remap(graph.inputs), outputs=remap(graph.outputs))
