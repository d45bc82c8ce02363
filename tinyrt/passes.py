"""Graph passes run by codegen before the kernels are chosen.

``fold_fp16_dequantize``: an FP16 model (docs/fp16.md) stores each weight as a float16 constant
read through a DEQUANTIZE (float16 -> float32). The float kernels read fp16 constants directly,
so the pass removes those DEQUANTIZE ops and points their consumers at the float16 constant:
the weights stay half precision in flash and no op runs for them.
"""
from __future__ import annotations

from .ir import Graph, Op


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
    used = sorted({t for op in ops for t in (*op.inputs, *op.outputs) if t >= 0}
                  | set(graph.inputs) | set(graph.outputs))
    new_index = {old: new for new, old in enumerate(used)}
    remap = lambda ts: [new_index[t] if t >= 0 else t for t in ts]
    return graph.replace(
        tensors=[graph.t(t) for t in used],
        ops=[Op(op.type, remap(op.inputs), remap(op.outputs), op.attrs, op.name) for op in ops],
        inputs=remap(graph.inputs), outputs=remap(graph.outputs))
