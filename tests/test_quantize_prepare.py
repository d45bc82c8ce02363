"""What the quantizer accepts as a float model (tinyrt/quantize/prepare.py) and how its data
are read (tinyrt/quantize/data.py)."""
import numpy as np
import pytest

from builder import ModelBuilder
from tinyrt.errors import TinyrtError, UnsupportedOp
from tinyrt.ir import Quant
from tinyrt.quantize import quantize
from tinyrt.quantize.data import from_arrays, load_samples
from tinyrt.quantize.prepare import prepare_float
from tinyrt.reference import Reference
from tinyrt.writer import write_tflite


def fc_model(weight_dtype="float32", quant=None):
    rng = np.random.default_rng(0)
    b = ModelBuilder("fc")
    x = b.input((1, 8), "float32")
    wdata = rng.normal(0, 1, (4, 8))
    if weight_dtype == "int8":
        w = b.const(np.clip(np.round(wdata * 40), -127, 127), "int8", scale=quant)
    else:
        w = b.const(wdata, weight_dtype)
    if weight_dtype == "float16":
        wf = b.tensor((4, 8), "float32")
        b.op("DEQUANTIZE", [w], [wf])
        w = wf
    y = b.tensor((1, 4), "float32")
    b.op("FULLY_CONNECTED", [x, w, b.const(np.zeros(4), "float32")], [y], activation="NONE",
         keep_num_dims=False)
    return b.graph([y])


def test_float16_weights_behind_dequantize_become_float32_constants():
    g = fc_model("float16")
    Reference(write_tflite(g))    # a valid float16-weight model
    p = prepare_float(g)
    assert [op.type for op in p.ops] == ["FULLY_CONNECTED"]
    w = p.t(p.ops[0].inputs[1])
    assert w.dtype == "float32" and w.is_const
    np.testing.assert_array_equal(w.data, g.t(1).data.astype(np.float32))


def test_hybrid_int8_weights_are_dequantised():
    g = fc_model("int8", quant=0.025)
    p = prepare_float(g)
    w = p.t(p.ops[0].inputs[1])
    assert w.dtype == "float32" and w.quant is None
    np.testing.assert_allclose(w.data, g.t(1).data * 0.025, rtol=1e-6)


def test_per_channel_hybrid_weights_use_their_axis():
    g = fc_model("int8", quant=0.01)
    g.tensors[1].quant = Quant(np.array([0.01, 0.02, 0.03, 0.04], np.float32), np.zeros(4), 0)
    w = prepare_float(g).t(1).data
    np.testing.assert_allclose(w, g.t(1).data * np.array([0.01, 0.02, 0.03, 0.04])[:, None],
                               rtol=1e-6)


def test_unused_tensors_are_dropped_and_indices_renumbered():
    g = fc_model("float16")
    p = prepare_float(g)
    assert len(p.tensors) == len(g.tensors) - 1   # the float16 source is gone
    assert all(0 <= k < len(p.tensors) for op in p.ops for k in op.inputs)


def test_fused_activation_without_int8_kernel_is_refused():
    b = ModelBuilder("tanh_fused")
    x, y = b.input((1, 4), "float32"), b.tensor((1, 4), "float32")
    b.op("ADD", [x, x], [y], activation="TANH")
    with pytest.raises(UnsupportedOp, match="ADD.*fused activation TANH"):
        prepare_float(b.graph([y]))


def test_non_float_inputs_are_refused():
    b = ModelBuilder("ints")
    x, y = b.input((1, 4), "int32"), b.tensor((1, 4), "int32")
    b.op("RELU", [x], [y])
    with pytest.raises(TinyrtError, match="int32 input"):
        prepare_float(b.graph([y]))


def test_model_with_two_inputs_takes_an_npz_keyed_by_input_name(tmp_path):
    b = ModelBuilder("two")
    x1, x2, y = b.input((1, 3), "float32"), b.input((1, 3), "float32"), b.tensor((1, 3), "float32")
    b.op("ADD", [x1, x2], [y], activation="NONE")
    g = b.graph([y])
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", input_1=rng.normal(size=(5, 3)).astype(np.float32),
             input_0=np.ones((5, 3), np.float32))
    samples = load_samples(tmp_path / "d.npz", g)
    assert len(samples) == 5 and np.all(samples[0][0] == 1)
    q = quantize(g, samples, progress=False).graph
    assert [q.t(k).dtype for k in q.inputs] == ["int8", "int8"]


def test_one_sample_may_keep_its_batch_dimension():
    g = fc_model()
    assert len(from_arrays([np.zeros((1, 8), np.float32)], g)) == 1
    assert len(from_arrays([np.zeros((6, 1, 8), np.float32)], g)) == 6
    assert from_arrays([np.zeros((6, 8))], g)[0][0].dtype == np.float32   # float64 accepted


def test_samples_of_different_counts_per_input_are_refused():
    b = ModelBuilder("two")
    x1, x2, y = b.input((1, 3), "float32"), b.input((1, 3), "float32"), b.tensor((1, 3), "float32")
    b.op("ADD", [x1, x2], [y], activation="NONE")
    with pytest.raises(TinyrtError, match="different sample counts"):
        from_arrays([np.zeros((4, 3), np.float32), np.zeros((5, 3), np.float32)], b.graph([y]))
