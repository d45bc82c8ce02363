"""Read a ``.tflite`` flatbuffer into the IR, with an error a user can act on for every bad input."""
from __future__ import annotations

import os
import struct

import numpy as np
import tflite

from . import schema
from .errors import TinyrtError, UnsupportedOp
from .ir import Graph, Op, Quant, Tensor
from .ops import SUPPORTED_OPS

MAX_ELEMENTS = (1 << 31) - 1   # TFLite counts elements in an int
_NP_DTYPES = {"float32": np.float32, "float16": np.float16, "int32": np.int32, "uint8": np.uint8,
              "int64": np.int64, "int16": np.int16, "int8": np.int8, "bool": np.bool_}


def read_tflite(path: str | os.PathLike) -> Graph:
    """Load a model file. Raises TinyrtError for anything that is not a usable TFLite model."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except FileNotFoundError:
        raise TinyrtError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise TinyrtError(f"{path} is a directory, not a .tflite model") from None
    name = os.path.splitext(os.path.basename(path))[0]
    return parse_tflite(buf, name=name, where=path)


def parse_tflite(buf: bytes, name: str = "model", where: str = "<bytes>") -> Graph:
    _check_header(buf, where)
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        nsub, version = model.SubgraphsLength(), model.Version()
    except Exception as e:  # a flatbuffer with garbage offsets raises anything
        raise _corrupt(where, e) from None
    if version != 3:   # the only schema version there is; anything else is damage
        raise _invalid(where, f"schema version {version} (TFLite models are version 3)")
    if nsub != 1:
        raise TinyrtError(
            f"{where} has {nsub} subgraphs; tinyrt compiles single-subgraph models only",
            ["models with control flow (WHILE/IF) or several signatures are not supported",
             "export one inference function per model"])
    try:
        return _read_subgraph(model, buf, name, where)
    except TinyrtError:
        raise
    except Exception as e:
        raise _corrupt(where, e) from None


def _check_header(buf: bytes, where: str) -> None:
    if len(buf) < 8:
        raise TinyrtError(f"{where} is not a TFLite model: only {len(buf)} bytes",
                          ["pass a .tflite file written by the TFLite converter or by tinyrt"])
    if buf[4:8] != b"TFL3":
        raise TinyrtError(
            f"{where} is not a TFLite model (no 'TFL3' file identifier at bytes 4-8)",
            ["pass a .tflite flatbuffer; Keras .h5, SavedModel and ONNX files must be converted "
             "first"])
    root = struct.unpack_from("<I", buf, 0)[0]
    if root + 4 > len(buf):
        raise _corrupt(where, f"root table offset {root} beyond the end of the file")


def _corrupt(where: str, detail) -> TinyrtError:
    return TinyrtError(f"{where} is truncated or corrupt: the flatbuffer cannot be parsed ({detail})",
                       ["re-export the model, or check the download/copy was complete"])


def _invalid(where: str, detail: str) -> TinyrtError:
    return TinyrtError(f"{where} is not a valid TFLite model: {detail}",
                       ["re-export the model, or check the download/copy was complete"])


def _read_subgraph(model, buf: bytes, name: str, where: str) -> Graph:
    sg = model.Subgraphs(0)
    tensors = [_read_tensor(model, buf, sg.Tensors(i), i, where) for i in range(sg.TensorsLength())]
    ops = []
    for i in range(sg.OperatorsLength()):
        ops.append(_read_op(model, sg.Operators(i), i, tensors, where))
    graph = Graph(tensors=tensors, ops=ops, inputs=[int(i) for i in sg.InputsAsNumpy()],
                  outputs=[int(i) for i in sg.OutputsAsNumpy()], name=name)
    for i in graph.inputs + graph.outputs:
        if not 0 <= i < len(tensors):
            raise _corrupt(where, f"graph input/output index {i} out of range")
    _check_dataflow(graph, where)
    return graph


def _check_dataflow(graph: Graph, where: str) -> None:
    """Every activation is written once, by one op, before any op reads it; constants and graph
    inputs are never written; every graph output is computed. TFLite runs ops in file order, so a
    model that breaks this reads a tensor nothing wrote (a mutated index, or a damaged file)."""
    written = set(graph.inputs)
    for i, op in enumerate(graph.ops):
        for t in op.inputs:
            if t >= 0 and not graph.t(t).is_const and t not in written:
                raise _invalid(where, f"op #{i} {op.type} reads tensor {t} "
                                      f"'{graph.t(t).name}' before any op writes it")
        for t in op.outputs:
            if graph.t(t).is_const or t in written:
                what = "a constant" if graph.t(t).is_const else "already written"
                raise _invalid(where, f"op #{i} {op.type} writes tensor {t} "
                                      f"'{graph.t(t).name}', which is {what}")
            written.add(t)
    for t in graph.outputs:
        if t not in written and not graph.t(t).is_const:
            raise _invalid(where, f"graph output {t} '{graph.t(t).name}' is never computed")


def c_safe_name(name: str) -> str:
    """``name`` with what would break the generated C replaced by '_': names are printed into C
    string literals and comments, where a NUL, a newline, a quote, a backslash, a trigraph
    ("??/") or "*/" from a damaged or hostile file would end them early."""
    name = "".join(c if c.isprintable() and c not in '"\\?' else "_" for c in name)
    return name.replace("*/", "*_")


def _read_tensor(model, buf: bytes, t, index: int, where: str) -> Tensor:
    tname = c_safe_name((t.Name() or b"").decode("utf-8", "replace")) or f"tensor_{index}"
    ttype = t.Type()
    if ttype not in schema.TENSOR_TYPES:
        raise TinyrtError(
            f"tensor {index} '{tname}' has dtype {schema.TYPE_NAMES.get(ttype, ttype)}, "
            f"which tinyrt does not support",
            [f"supported dtypes: {', '.join(sorted(schema.TENSOR_TYPE_CODES))}"])
    dtype = schema.TENSOR_TYPES[ttype]
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    if t.ShapeSignatureLength():
        sig = [int(d) for d in t.ShapeSignatureAsNumpy()]
        # A dynamic batch dimension is how Keras exports every model; batch 1 is the only one an
        # MCU runs (TFLM does the same). Any other unknown dimension has no static plan.
        if any(d < 0 for d in sig[1:]):
            raise TinyrtError(
                f"tensor {index} '{tname}' has a dynamic shape {sig}; tinyrt needs static shapes",
                ["convert the model with fixed input sizes (e.g. a concrete input_shape)"])
    if any(d < 0 for d in shape):
        raise TinyrtError(f"tensor {index} '{tname}' has an unknown dimension in {list(shape)}",
                          ["convert the model with fixed input sizes"])
    elements = 1
    for d in shape:   # Python ints: numpy's int64 product would wrap around silently
        elements *= d
    if elements > MAX_ELEMENTS:
        raise _invalid(where, f"tensor {index} '{tname}' has shape {list(shape)}: {elements:,} "
                              f"elements, more than any board holds")
    if t.Buffer() >= model.BuffersLength():
        raise _corrupt(where, f"tensor {index} '{tname}' refers to buffer {t.Buffer()}, "
                              f"but the model has {model.BuffersLength()}")
    data = _read_buffer(model, buf, t.Buffer(), dtype, shape, tname, where)
    quant = _read_quant(t, shape, dtype, f"tensor {index} '{tname}'", where)
    if data is None and quant is not None and np.any(quant.scale == 0):
        # weights may have an all-zero channel; an activation's scale divides every multiplier
        raise _invalid(where, f"tensor {index} '{tname}' (an activation) has quantisation "
                              f"scale 0")
    return Tensor(name=tname, shape=shape, dtype=dtype, data=data, quant=quant)


def _read_buffer(model, buf, bindex, dtype, shape, tname, where):
    if bindex <= 0 or bindex >= model.BuffersLength():
        return None
    b = model.Buffers(bindex)
    if b.Offset() > 1:  # models over 2 GB keep buffers after the flatbuffer
        start, size = b.Offset(), b.Size()
        if start + size > len(buf):
            raise _corrupt(where, f"buffer of tensor '{tname}' runs past the end of the file")
        raw = buf[start:start + size]
    else:
        if b.DataLength() == 0:
            return None
        raw = b.DataAsNumpy().tobytes()
    arr = np.frombuffer(raw, dtype=_NP_DTYPES[dtype])
    expected = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if arr.size != expected:
        raise _corrupt(where, f"tensor '{tname}' has {arr.size} values for shape {list(shape)}")
    return arr.reshape(shape).copy()


def _read_quant(t, shape: tuple, dtype: str, what: str, where: str) -> Quant | None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scale = q.ScaleAsNumpy().astype(np.float32)
    zp = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(0, np.int64)
    axis = int(q.QuantizedDimension())
    rank = len(shape)
    if not 0 <= axis < max(rank, 1):
        raise TinyrtError(
            f"{what} is quantised along dimension {axis}, "
            f"but it has only {rank} dimensions: the model is invalid (TFLite rejects it too)",
            ["re-convert the model with a current TFLite converter"])
    _check_quant(scale, zp, axis, shape, dtype, what, where)
    return Quant(scale=scale, zero_point=zp, axis=axis)


def _check_quant(scale, zp, axis, shape, dtype, what: str, where: str) -> None:
    """What TFLite's interpreter requires of quantisation parameters (and a finite, non-negative
    scale: every multiplier tinyrt derives divides by or multiplies with it)."""
    if zp.size != scale.size:
        raise _invalid(where, f"{what} has {scale.size} scales and {zp.size} zero points")
    if scale.size > 1 and shape and scale.size != shape[axis]:
        raise _invalid(where, f"{what} has {scale.size} scales for {shape[axis]} channels "
                              f"along dimension {axis}")
    if not np.all(np.isfinite(scale)) or np.any(scale < 0):
        bad = scale[~np.isfinite(scale) | (scale < 0)][0]
        raise _invalid(where, f"{what} has quantisation scale {bad}: scales are finite and >= 0")
    lo, hi = _ZP_RANGE.get(dtype, (None, None))
    if lo is not None and (zp.min() < lo or zp.max() > hi):
        bad = zp[(zp < lo) | (zp > hi)][0]
        raise _invalid(where, f"{what} is {dtype} with zero point {bad}, outside [{lo}, {hi}]")


_ZP_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def _read_op(model, op, index: int, tensors: list[Tensor], where: str) -> Op:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == tflite.BuiltinOperator.CUSTOM:
        op_name = "CUSTOM:" + (code.CustomCode() or b"?").decode()
    else:
        op_name = schema.BUILTIN_NAMES.get(builtin, f"builtin #{builtin}")
    inputs = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
    outputs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
    first_in = next((tensors[i] for i in inputs if i >= 0), None)
    if op_name not in SUPPORTED_OPS:
        shape = f" on input {first_in.dtype}{list(first_in.shape)}" if first_in else ""
        raise UnsupportedOp(
            f"unsupported operator {op_name} (op #{index}{shape})",
            [f"supported operators: {', '.join(sorted(SUPPORTED_OPS))}",
             "rewrite the layer with supported ops, or open an issue naming the op"])
    for i in inputs + outputs:
        if not -1 <= i < len(tensors):
            raise _corrupt(where, f"op #{index} refers to tensor {i}")
    _check_arity(op_name, index, inputs, outputs, where)
    attrs = _read_options(op, op_name, index, where)
    return Op(type=op_name, inputs=inputs, outputs=outputs, attrs=attrs,
              name=tensors[outputs[0]].name if outputs else f"op{index}")


def _check_arity(op_name: str, index: int, inputs: list[int], outputs: list[int], where: str):
    fewest, most = schema.ARITY[op_name]
    n = f"{fewest}" if fewest == most else f"{fewest} or more" if most is None else f"{fewest}-{most}"
    if not fewest <= len(inputs) <= (most if most is not None else len(inputs)):
        raise _invalid(where, f"op #{index} {op_name} has {len(inputs)} inputs; it takes {n}")
    if any(t < 0 for t in inputs[:fewest]):
        raise _invalid(where, f"op #{index} {op_name} lacks a required input ({inputs})")
    if len(outputs) != 1 or outputs[0] < 0:
        raise _invalid(where, f"op #{index} {op_name} has outputs {outputs}; it writes one tensor")


def _read_options(op, op_name: str, index: int, where: str) -> dict:
    table_name, fields = schema.OPTIONS[op_name]
    attrs = {attr: schema.default(attr, kind) for attr, _, kind in fields}
    if table_name is None or op.BuiltinOptions() is None:
        return attrs
    kind = op.BuiltinOptionsType()
    if kind != getattr(tflite.BuiltinOptions, table_name):
        # tflite-runtime then reads no options at all (strides of 0): refused, not guessed
        names = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
        raise _invalid(where, f"op #{index} {op_name} has options of type "
                              f"{names.get(kind, kind)}; it takes {table_name}")
    table = getattr(tflite, table_name)()
    opts = op.BuiltinOptions()
    table.Init(opts.Bytes, opts.Pos)
    for attr, field, kind in fields:
        if kind == "ints":
            value = [int(v) for v in getattr(table, field + "AsNumpy")()] \
                if getattr(table, field + "Length")() else None
        else:
            value = getattr(table, field)()
            value = {"padding": lambda v: schema.PADDINGS[v],
                     "activation": lambda v: schema.ACTIVATIONS[v],
                     "bool": bool, "int": int, "float": float}[kind](value)
        attrs[attr] = value
    return attrs
