"""FP16 post-training quantisation: the float model with its constant weights stored as float16.

The output is TFLite's own float16 format: each float32 constant an op reads becomes a float16
constant and a DEQUANTIZE (float16 -> float32) placed at the start of the graph, whose output
the op reads instead. tflite-runtime runs it as it is; tinyrt's codegen folds the DEQUANTIZE ops
away (``tinyrt.passes.fold_fp16_dequantize``), keeps the weights in flash as fp16 and computes
in FP32. See docs/fp16.md.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from .prepare import prepare_float


def quantize_fp16(graph: Graph) -> Graph:
    """``graph`` with every float32 constant operand stored as float16 behind a DEQUANTIZE.
    A hybrid model's int8 weights (and an FP16 model's float16 ones) are first made float32
    (``prepare_float``, which also rejects int8 models and ops tinyrt cannot quantise)."""
    graph = prepare_float(graph)   # int8 (hybrid) or float16 weights -> float32; checks
    tensors = list(graph.tensors)
    read = {t for op in graph.ops for t in op.inputs if t >= 0}
    dequantize = []
    for t in sorted(read):
        tensor = tensors[t]
        if not tensor.is_const or tensor.dtype != "float32":
            continue
        half = Tensor(tensor.name, tensor.shape, "float16",
                      data=tensor.data.astype(np.float16))
        tensors.append(half)
        # the float32 tensor keeps its index (consumers unchanged) and becomes DEQUANTIZE's output
        tensors[t] = Tensor(f"{tensor.name}_dequantize", tensor.shape, "float32")
        dequantize.append(Op("DEQUANTIZE", [len(tensors) - 1], [t],
                             name=f"dequantize_{tensor.name}"))
    return graph.replace(tensors=tensors, ops=dequantize + list(graph.ops),
                         inputs=list(graph.inputs), outputs=list(graph.outputs))


def weights_bytes(graph: Graph) -> dict[str, int]:
    """Bytes of the constant float data by dtype: {"float32": ..., "float16": ...}."""
    out = {"float32": 0, "float16": 0}
    for t in graph.tensors:
        if t.is_const and t.dtype in out:
            out[t.dtype] += t.nbytes
    return out
