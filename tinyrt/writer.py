"""Write the IR back to a ``.tflite`` flatbuffer that tflite-runtime loads.

Used to build models in code for the op-conformance tests and by the quantizer. Buffer 0 is the
empty sentinel; each constant tensor gets its own buffer; builtin codes below 127 are also
written to ``deprecated_builtin_code``, as the converter does.
"""
from __future__ import annotations

import flatbuffers
import numpy as np
import tflite

from . import schema
from .ir import Graph, Op, Tensor

_NP = {"float32": np.float32, "float16": np.float16, "int32": np.int32, "uint8": np.uint8,
       "int64": np.int64, "int16": np.int16, "int8": np.int8, "bool": np.bool_}


def write_tflite(graph: Graph) -> bytes:
    b = flatbuffers.Builder(1024)
    op_types = sorted({op.type for op in graph.ops})
    codes = [_opcode(b, t) for t in op_types]
    buffers = [_buffer(b, None)]
    tensors = []
    for t in graph.tensors:
        bindex = 0
        if t.data is not None:
            buffers.append(_buffer(b, np.ascontiguousarray(t.data.astype(_NP[t.dtype])).tobytes()))
            bindex = len(buffers) - 1
        tensors.append(_tensor(b, t, bindex))
    ops = [_operator(b, op, op_types.index(op.type)) for op in graph.ops]
    name = b.CreateString(graph.name)
    subgraph = _table(b, "SubGraph", [
        ("Tensors", _vector(b, "SubGraphStartTensorsVector", tensors)),
        ("Inputs", _ints(b, "SubGraphStartInputsVector", graph.inputs)),
        ("Outputs", _ints(b, "SubGraphStartOutputsVector", graph.outputs)),
        ("Operators", _vector(b, "SubGraphStartOperatorsVector", ops)),
        ("Name", name)])
    desc = b.CreateString("tinyrt")
    model = _table(b, "Model", [
        ("Version", 3),
        ("OperatorCodes", _vector(b, "ModelStartOperatorCodesVector", codes)),
        ("Subgraphs", _vector(b, "ModelStartSubgraphsVector", [subgraph])),
        ("Description", desc),
        ("Buffers", _vector(b, "ModelStartBuffersVector", buffers))])
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


def _table(b, name: str, fields: list[tuple[str, object]]) -> int:
    getattr(tflite, f"{name}Start")(b)
    for field, value in fields:
        getattr(tflite, f"{name}Add{field}")(b, value)
    return getattr(tflite, f"{name}End")(b)


def _vector(b, start: str, offsets: list[int]) -> int:
    getattr(tflite, start)(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _ints(b, start: str, values, prepend="PrependInt32") -> int:
    getattr(tflite, start)(b, len(values))
    for v in reversed(list(values)):
        getattr(b, prepend)(int(v))
    return b.EndVector()


def _numbers(b, arr: np.ndarray) -> int:
    return b.CreateNumpyVector(np.ascontiguousarray(arr))


def _opcode(b, op_type: str) -> int:
    code = schema.BUILTIN_CODES[op_type]
    return _table(b, "OperatorCode", [("DeprecatedBuiltinCode", min(code, 127)),
                                      ("BuiltinCode", code), ("Version", 1)])


def _buffer(b, data: bytes | None) -> int:
    if data is None:
        return _table(b, "Buffer", [])
    b.StartVector(1, len(data), 16)   # 16-byte aligned data, as the converter writes it
    b.head = b.head - len(data)
    b.Bytes[b.head:b.head + len(data)] = data
    vec = b.EndVector()
    return _table(b, "Buffer", [("Data", vec)])


def _tensor(b, t: Tensor, bindex: int) -> int:
    name = b.CreateString(t.name)
    shape = _numbers(b, np.array(t.shape, np.int32))
    fields = [("Shape", shape), ("Type", schema.TENSOR_TYPE_CODES[t.dtype]), ("Buffer", bindex),
              ("Name", name)]
    if t.quant is not None:
        scale = _numbers(b, t.quant.scale.astype(np.float32))
        zp = _numbers(b, t.quant.zero_point.astype(np.int64))
        q = _table(b, "QuantizationParameters", [("Scale", scale), ("ZeroPoint", zp),
                                                  ("QuantizedDimension", t.quant.axis)])
        fields.append(("Quantization", q))
    return _table(b, "Tensor", fields)


def _operator(b, op: Op, opcode_index: int) -> int:
    inputs = _numbers(b, np.array(op.inputs, np.int32))
    outputs = _numbers(b, np.array(op.outputs, np.int32))
    table_name, fields = schema.OPTIONS[op.type]
    entries = [("OpcodeIndex", opcode_index), ("Inputs", inputs), ("Outputs", outputs)]
    if table_name is not None:
        opts = _options(b, table_name, fields, op.attrs)
        entries += [("BuiltinOptionsType", getattr(tflite.BuiltinOptions, table_name)),
                    ("BuiltinOptions", opts)]
    return _table(b, "Operator", entries)


def _options(b, table_name: str, fields, attrs: dict) -> int:
    vectors = {}
    for attr, field, kind in fields:
        if kind == "ints" and attrs.get(attr) is not None:
            vectors[field] = _numbers(b, np.array(attrs[attr], np.int32))
    values = []
    for attr, field, kind in fields:
        if kind == "ints":
            if field in vectors:
                values.append((field, vectors[field]))
            continue
        v = attrs.get(attr, schema.default(attr, kind))
        if kind == "padding":
            v = getattr(tflite.Padding, v)
        elif kind == "activation":
            v = getattr(tflite.ActivationFunctionType, v)
        values.append((field, v))
    return _table(b, table_name, values)
