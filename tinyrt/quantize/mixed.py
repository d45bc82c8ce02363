"""Mixed precision: chosen layers of an int8 model kept in FP16 (float16 weights, float32
activations, float compute), the rest int8. Issue 4, item 4.

``keep_fp16(int8_graph, float_graph, names)`` is a pure pass over the int8 graph that
``ptq.quantize_graph`` made from ``float_graph``. For each op named in ``names``:

- its float32 constants (weights, bias, a constant ADD operand) come back from the float graph,
  stored as float16 behind a DEQUANTIZE: TFLite's own float16 format, as in ``fp16.py``, so
  tflite-runtime runs the result and tinyrt's codegen folds the DEQUANTIZE away;
- an int8 activation it reads goes through a DEQUANTIZE (int8 -> float32) placed just before
  it; an activation written by another kept op is read as float32 directly;
- it writes float32. The tensor keeps its index (the per-layer report then reads the float
  value); an int8 copy is made by a QUANTIZE just after it, with the calibrated (scale, zero
  point) the int8 model had there, for the int8 ops that read it and for graph outputs.

So the boundaries cost one DEQUANTIZE / QUANTIZE each and consecutive kept layers stay float32
between them. The kept ops are computed by the float kernels, which follow TFLite's float
reference order, and QUANTIZE is TFLite's AffineQuantize: int8 outputs stay bit-exact with
tflite-runtime. Graph inputs and outputs keep their int8 (or float-I/O) types.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import TinyrtError
from ..ir import Graph, Op, Tensor

# ops with a float kernel (tinyrt/ops/f32.py): what a layer kept in FP16 may be
FP16_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
            "ADD", "SUB", "SOFTMAX", "RESHAPE")


def check_fp16_layers(graph: Graph, names) -> None:
    """Every name is an op of ``graph`` that has a float kernel."""
    by_name = {op.name: op for op in graph.ops}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise TinyrtError(f"no layer named {', '.join(unknown)} in '{graph.name}'",
                          ["layer names are the ops' output tensor names; `tinyrt quantize "
                           "--sensitivity` lists them with their '#' index, which works too"])
    bad = sorted(f"'{n}' ({by_name[n].type})" for n in names if by_name[n].type not in FP16_OPS)
    if bad:
        raise TinyrtError(f"layer {', '.join(bad)} cannot be kept in FP16: tinyrt has no float "
                          f"kernel for it", [f"FP16 layers may be: {', '.join(FP16_OPS)}"])


def keep_fp16(graph: Graph, float_graph: Graph, names) -> Graph:
    """``graph`` (int8, made from ``float_graph`` by ptq) with the ops named in ``names`` in FP16."""
    names = set(names)
    if not names:
        return graph
    check_fp16_layers(float_graph, names)
    float_ops = {op.name: op for op in float_graph.ops}
    tensors = list(graph.tensors)
    outputs = list(graph.outputs)
    weights: list[Op] = []           # DEQUANTIZE float16 -> float32, at the start (fp16 format)
    ops: list[Op] = [Op(op.type, list(op.inputs), list(op.outputs), dict(op.attrs), op.name)
                     for op in graph.ops]
    kept = [i for i, op in enumerate(ops) if op.name in names]
    is_float: set[int] = set()       # activations that are float32 after the pass
    as_float: dict[int, int] = {}    # int8 activation -> its DEQUANTIZE output
    before: dict[int, list[Op]] = {}  # op index -> ops to insert before / after it
    after: dict[int, list[Op]] = {}

    def add(t: Tensor) -> int:
        tensors.append(t)
        return len(tensors) - 1

    for i in kept:
        op, fop = ops[i], float_ops[ops[i].name]
        inputs = []
        for k in fop.inputs:
            t = float_graph.t(k) if k >= 0 else None
            if t is None or (t.is_const and t.dtype != "float32"):
                inputs.append(k)                       # absent, or a shape operand
            elif t.is_const:
                half = add(Tensor(f"{op.name}/{t.name}/fp16", t.shape, "float16",
                                  data=t.data.astype(np.float16)))
                full = add(Tensor(f"{op.name}/{t.name}/dequantize", t.shape, "float32"))
                weights.append(Op("DEQUANTIZE", [half], [full], name=tensors[full].name))
                inputs.append(full)
            elif k in is_float:
                inputs.append(k)
            else:
                if k not in as_float:
                    src = tensors[k]
                    as_float[k] = add(Tensor(f"{src.name}/float", src.shape, "float32"))
                    before.setdefault(i, []).append(
                        Op("DEQUANTIZE", [k], [as_float[k]], name=tensors[as_float[k]].name))
                inputs.append(as_float[k])
        op.inputs, op.attrs = inputs, dict(fop.attrs)
        for out in op.outputs:
            int8 = tensors[out]
            tensors[out] = replace(float_graph.t(out), quant=None)
            is_float.add(out)
            readers = [j for j, other in enumerate(ops) if j not in kept and out in other.inputs]
            if not readers and out not in outputs:
                continue
            copy = add(replace(int8, name=f"{int8.name}/int8"))
            after.setdefault(i, []).append(Op("QUANTIZE", [out], [copy], name=int8.name + "/int8"))
            for j in readers:
                ops[j].inputs = [copy if x == out else x for x in ops[j].inputs]
            outputs = [copy if x == out else x for x in outputs]
    result = list(weights)
    for i, op in enumerate(ops):
        result += before.get(i, []) + [op] + after.get(i, [])
    return graph.replace(tensors=tensors, ops=result, outputs=outputs)


def layer_precisions(graph: Graph) -> dict[str, str]:
    """Op name -> "fp16" or "int8" for the computing ops of a (mixed) graph: an op is FP16 when
    it writes float32 while the graph also holds int8 activations."""
    has_int8 = any(not t.is_const and t.dtype == "int8" for t in graph.tensors)
    out = {}
    for op in graph.ops:
        if op.type in ("QUANTIZE", "DEQUANTIZE") or not op.outputs:
            continue
        dtype = graph.t(op.outputs[0]).dtype
        out[op.name] = "fp16" if dtype == "float32" and has_int8 else \
            ("int8" if dtype == "int8" else dtype)
    return out
