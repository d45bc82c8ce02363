"""Graph -> Graph: the float model the quantizer works on, and the checks that reject what it
cannot quantise.

Two kinds of "float" model carry weights that are not float32, and both are turned into plain
float32 weights here: float16 weights behind a DEQUANTIZE op (TFLite's "float16 quantisation"),
and int8 weights read directly by a float op (dynamic-range or "hybrid" models, e.g. the MLPerf
Tiny ``kws_float.tflite``): real = scale * (q - zero_point). Tensors nothing uses any more are
dropped, so the prepared graph's tensor indices are those tflite-runtime shows when it runs it.
"""
from __future__ import annotations

import numpy as np

from ..errors import TinyrtError, UnsupportedOp
from ..ir import Graph, Op, Tensor

WEIGHTED = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}   # op -> channel axis
# ops whose int8 output must share the input's (scale, zero point), as the TFLite int8 spec says
SAME_SCALE = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "SQUEEZE", "PAD", "TRANSPOSE",
              "RESIZE_NEAREST_NEIGHBOR", "CONCATENATION"}
# ops whose int8 output quantisation is fixed by the spec: (scale, zero point)
FIXED_OUTPUT = {"SOFTMAX": (1 / 256, -128), "LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0)}
FREE = {"ADD", "SUB", "MUL", "MEAN", "HARD_SWISH", "RELU", "RELU6", "RELU_N1_TO_1"}
QUANTIZABLE = set(WEIGHTED) | SAME_SCALE | set(FIXED_OUTPUT) | FREE
FUSED_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
INT_DTYPES = ("int8", "uint8", "int16")


def prepare_float(graph: Graph) -> Graph:
    check_not_quantized(graph)
    graph = _fold_weight_dequantize(graph)
    check_quantizable(graph)
    return compact(graph)


def check_not_quantized(graph: Graph) -> None:
    for k in graph.inputs + graph.outputs:
        t = graph.t(k)
        if t.dtype in INT_DTYPES:
            raise TinyrtError(
                f"model '{graph.name}' is already quantised: its {_role(graph, k)} '{t.name}' is "
                f"{t.dtype}", ["compile it directly: tinyrt compile MODEL.tflite",
                               "or quantise the float model it was converted from"])
        if t.dtype != "float32":
            raise TinyrtError(f"model '{graph.name}' has a {t.dtype} {_role(graph, k)} "
                              f"'{t.name}'; tinyrt quantises float32 models")
    for i, op in enumerate(graph.ops):
        for k in op.outputs:
            t = graph.t(k)
            if t.dtype in INT_DTYPES:
                raise TinyrtError(
                    f"model '{graph.name}' is already (partly) quantised: op #{i} {op.type} "
                    f"writes {t.dtype} tensor '{t.name}'",
                    ["compile it directly: tinyrt compile MODEL.tflite",
                     "or quantise the float model it was converted from"])


def check_quantizable(graph: Graph) -> None:
    problems = []
    for i, op in enumerate(graph.ops):
        reason = _unsupported_reason(graph, op)
        if reason:
            problems.append(f"op #{i} {op.type} ('{op.name}'): {reason}")
    if problems:
        raise UnsupportedOp(
            f"model '{graph.name}' has {len(problems)} op(s) tinyrt cannot quantise to int8: "
            + "; ".join(problems),
            [f"quantisable ops: {', '.join(sorted(QUANTIZABLE))}",
             "replace the op in the float model, or quantise it with TensorFlow's converter"])


def _unsupported_reason(graph: Graph, op: Op) -> str:
    if op.type not in QUANTIZABLE:
        return "no int8 quantisation rule for this operator"
    if op.attrs.get("activation", "NONE") not in FUSED_ACTIVATIONS:
        return f"fused activation {op.attrs['activation']} has no int8 kernel"
    floats = [graph.t(k) for k in op.inputs + op.outputs if k >= 0
              and graph.t(k).dtype not in ("int32", "int64")]
    if any(t.dtype != "float32" for t in floats):
        return "non-float32 tensors " + ", ".join(f"'{t.name}' {t.dtype}" for t in floats
                                                   if t.dtype != "float32")
    if op.type in WEIGHTED:
        if not graph.t(op.inputs[1]).is_const:
            return "weights are not constant (a matmul of two activations)"
        if len(op.inputs) > 2 and op.inputs[2] >= 0 and not graph.t(op.inputs[2]).is_const:
            return "bias is not constant"
    return ""


def _fold_weight_dequantize(graph: Graph) -> Graph:
    tensors = list(graph.tensors)
    ops = []
    for op in graph.ops:
        if op.type == "DEQUANTIZE" and tensors[op.inputs[0]].is_const:
            src, dst = tensors[op.inputs[0]], tensors[op.outputs[0]]
            tensors[op.outputs[0]] = Tensor(dst.name, dst.shape, "float32", None, _real(src))
            continue
        ops.append(op)
    # int8 weights read directly by a float op (dynamic-range quantised "hybrid" models)
    for op in ops:
        for k in op.inputs:
            if k >= 0 and tensors[k].is_const and tensors[k].dtype in INT_DTYPES:
                t = tensors[k]
                tensors[k] = Tensor(t.name, t.shape, "float32", None, _real(t))
    return graph.replace(tensors=tensors, ops=ops)


def _real(t: Tensor) -> np.ndarray:
    data = t.data.astype(np.float32)
    if t.quant is None:
        return data
    shape = [1] * data.ndim
    if t.quant.per_channel:
        shape[t.quant.axis] = -1
    scale = t.quant.scale.reshape(shape or [1]).astype(np.float32)
    zp = t.quant.zero_point.reshape(shape or [1]).astype(np.float32)
    return (scale * (data - zp)).astype(np.float32)


def compact(graph: Graph) -> Graph:
    """Drop tensors no op, input or output refers to; renumber the rest in order."""
    used = set(graph.inputs) | set(graph.outputs)
    for op in graph.ops:
        used |= {k for k in op.inputs + op.outputs if k >= 0}
    keep = sorted(used)
    new = {old: i for i, old in enumerate(keep)}

    def remap(ks):
        return [new[k] if k >= 0 else -1 for k in ks]
    ops = [Op(op.type, remap(op.inputs), remap(op.outputs), dict(op.attrs), op.name)
           for op in graph.ops]
    return graph.replace(tensors=[graph.tensors[k] for k in keep], ops=ops,
                         inputs=remap(graph.inputs), outputs=remap(graph.outputs))


def _role(graph: Graph, k: int) -> str:
    return "input" if k in graph.inputs else "output"
