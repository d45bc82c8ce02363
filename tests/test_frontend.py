"""Reading .tflite files: every shared model loads, and every bad input is a clear TinyrtError."""
import flatbuffers
import numpy as np
import pytest
import tflite

from builder import ModelBuilder
from tinyrt.errors import TinyrtError, UnsupportedOp
from tinyrt.frontend import parse_tflite, read_tflite
from tinyrt.ir import verify
from tinyrt.writer import write_tflite


def small_model_bytes():
    m = ModelBuilder("small")
    x = m.input((1, 8), scale=0.1, zero_point=3)
    w = m.const(np.arange(32).reshape(4, 8) - 16, "int8", scale=0.02)
    b = m.const(np.arange(4), "int32", scale=0.002)
    y = m.tensor((1, 4), scale=0.5, zero_point=-1)
    m.op("FULLY_CONNECTED", [x, w, b], [y], activation="RELU", keep_num_dims=False)
    return write_tflite(m.graph([y]))


def raw_model(tensors, op_code=tflite.BuiltinOperator.RELU, subgraphs=1):
    """A minimal flatbuffer written with the schema's builder functions, for cases the IR writer
    cannot express (several subgraphs, dynamic shapes, odd dtypes, unknown ops)."""
    b = flatbuffers.Builder(256)
    tens = []
    for shape, ttype, sig in tensors:
        name = b.CreateString("t")
        shp = b.CreateNumpyVector(np.array(shape, np.int32))
        sigv = b.CreateNumpyVector(np.array(sig, np.int32)) if sig else None
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shp)
        if sigv is not None:
            tflite.TensorAddShapeSignature(b, sigv)
        tflite.TensorAddType(b, ttype)
        tflite.TensorAddName(b, name)
        tens.append(tflite.TensorEnd(b))
    ins = b.CreateNumpyVector(np.array([0], np.int32))
    outs = b.CreateNumpyVector(np.array([len(tensors) - 1], np.int32))
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, ins)
    tflite.OperatorAddOutputs(b, outs)
    op = tflite.OperatorEnd(b)
    sgs = []
    for _ in range(subgraphs):
        tflite.SubGraphStartTensorsVector(b, len(tens))
        for t in reversed(tens):
            b.PrependUOffsetTRelative(t)
        tv = b.EndVector()
        tflite.SubGraphStartOperatorsVector(b, 1)
        b.PrependUOffsetTRelative(op)
        ov = b.EndVector()
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tv)
        tflite.SubGraphAddOperators(b, ov)
        tflite.SubGraphAddInputs(b, ins)
        tflite.SubGraphAddOutputs(b, outs)
        sgs.append(tflite.SubGraphEnd(b))
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddBuiltinCode(b, op_code)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(op_code, 127))
    code = tflite.OperatorCodeEnd(b)
    tflite.BufferStart(b)
    buf0 = tflite.BufferEnd(b)
    vecs = {}
    for name, items in (("Subgraphs", sgs), ("OperatorCodes", [code]), ("Buffers", [buf0])):
        getattr(tflite, f"ModelStart{name}Vector")(b, len(items))
        for it in reversed(items):
            b.PrependUOffsetTRelative(it)
        vecs[name] = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    for name, v in vecs.items():
        getattr(tflite, f"ModelAdd{name}")(b, v)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


INT8, F32 = tflite.TensorType.INT8, tflite.TensorType.FLOAT32


def test_all_shared_models_load_and_verify(shared_models):
    for path in sorted(shared_models.glob("*.tflite")):
        graph = read_tflite(path)
        verify(graph)
        assert graph.ops and graph.inputs and graph.outputs


def test_missing_file_is_named(tmp_path):
    with pytest.raises(TinyrtError, match="not found"):
        read_tflite(tmp_path / "nope.tflite")


def test_text_file_is_not_a_tflite_model(tmp_path):
    p = tmp_path / "model.tflite"
    p.write_text("this is not a model, it is a README\n")
    with pytest.raises(TinyrtError, match="not a TFLite model") as e:
        read_tflite(p)
    assert e.value.hints


def test_tiny_file_is_not_a_model():
    with pytest.raises(TinyrtError, match="only 3 bytes"):
        parse_tflite(b"TFL")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_file_is_reported_as_truncated_or_corrupt(keep):
    data = small_model_bytes()
    with pytest.raises(TinyrtError, match="truncated or corrupt|not a TFLite"):
        parse_tflite(data[:max(8, int(len(data) * keep))])


def test_random_byte_corruption_never_escapes_as_a_python_error():
    data = small_model_bytes()
    rng = np.random.default_rng(0)
    for _ in range(300):
        buf = bytearray(data)
        for pos in rng.integers(8, len(buf), size=rng.integers(1, 6)):
            buf[pos] = rng.integers(0, 256)
        try:
            parse_tflite(bytes(buf))
        except TinyrtError:
            pass


def test_several_subgraphs_are_refused():
    data = raw_model([((1, 4), INT8, None), ((1, 4), INT8, None)], subgraphs=2)
    with pytest.raises(TinyrtError, match="2 subgraphs"):
        parse_tflite(data)


def test_dynamic_batch_is_pinned_to_one():
    data = raw_model([((1, 4), INT8, (-1, 4)), ((1, 4), INT8, (-1, 4))])
    assert parse_tflite(data).t(0).shape == (1, 4)


def test_dynamic_inner_dimension_is_refused():
    data = raw_model([((1, 4), INT8, (1, -1)), ((1, 4), INT8, None)])
    with pytest.raises(TinyrtError, match="dynamic shape"):
        parse_tflite(data)


def test_unsupported_dtype_is_named():
    data = raw_model([((1, 4), tflite.TensorType.COMPLEX64, None), ((1, 4), INT8, None)])
    with pytest.raises(TinyrtError, match="COMPLEX64"):
        parse_tflite(data)


def test_unsupported_op_names_the_op_its_index_and_the_supported_list():
    data = raw_model([((1, 4), F32, None), ((1, 4), F32, None)], op_code=tflite.BuiltinOperator.EXP)
    with pytest.raises(UnsupportedOp) as e:
        parse_tflite(data)
    assert "EXP" in e.value.message and "op #0" in e.value.message
    assert any("CONV_2D" in h for h in e.value.hints)


def test_reader_keeps_attributes_and_quantisation():
    g = parse_tflite(small_model_bytes())
    (op,) = g.ops
    assert op.type == "FULLY_CONNECTED" and op.attrs["activation"] == "RELU"
    assert g.t(op.inputs[0]).quant.zero_point[0] == 3
    assert g.t(op.inputs[1]).data.shape == (4, 8)
