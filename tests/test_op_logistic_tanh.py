"""LOGISTIC and TANH int8 are bit-exact with tflite-runtime's reference kernels, for every one of
the 256 input values: both are a table lookup, and the table is built as TFLite builds it."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import logistic_tanh
from tinyrt.reference import Reference
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
DEFAULT_OUT = {"LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0)}


def act_model(op_type, in_scale, in_zp, out=None, shape=(256,)):
    out_scale, out_zp = out or DEFAULT_OUT[op_type]
    m = ModelBuilder()
    x = m.input(shape, scale=in_scale, zero_point=in_zp)
    y = m.tensor(shape, scale=out_scale, zero_point=out_zp)
    m.op(op_type, [x], [y])
    return m.graph([y])


def assert_exact_for_every_input_value(graph, sanitize=False):
    """Run the compiled model on all 256 int8 values (plus one random input) and compare."""
    shape = graph.t(graph.inputs[0]).shape
    assert int(np.prod(shape)) == 256
    rng = np.random.default_rng(0)
    inputs = [[ALL_INT8.reshape(shape)], [rng.permutation(ALL_INT8).reshape(shape)]]
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O1", "-g"] if sanitize else []
    result = verify_host(graph, write_tflite(graph), inputs=inputs, extra_cflags=flags)
    bad = [r for r in result.runs if not r.bit_exact]
    assert not bad, f"{bad[0].mismatched} values differ (project kept in {result.project_dir})"


@pytest.mark.parametrize("op_type", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("in_scale", [1e-3, 0.0173, 0.1, 1.0, 10.0])
def test_every_input_value_over_input_scales(op_type, in_scale):
    assert_exact_for_every_input_value(act_model(op_type, in_scale, in_zp=3))


@pytest.mark.parametrize("op_type", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("in_zp", [-128, 127])
def test_every_input_value_with_zero_points_at_the_extremes(op_type, in_zp):
    assert_exact_for_every_input_value(act_model(op_type, 0.05, in_zp))


def test_table_uses_the_c_library_expf_not_numpy():
    # numpy's float32 exp is off by one ulp here, which moves table entry 68 by one.
    assert_exact_for_every_input_value(act_model("LOGISTIC", 0.0034475638531148434, 6))


def test_tables_equal_tflite_over_many_quantisations():
    # The table alone, against the reference on all 256 values: fast, so it covers many scales.
    rng = np.random.default_rng(1)
    for _ in range(100):
        in_scale, in_zp = float(10 ** rng.uniform(-4, 1.5)), int(rng.integers(-128, 128))
        for op_type in ("LOGISTIC", "TANH"):
            out_scale, out_zp = DEFAULT_OUT[op_type]
            expected = Reference(write_tflite(act_model(op_type, in_scale, in_zp))).run([ALL_INT8])[0]
            table = logistic_tanh.lookup_table(op_type, in_scale, in_zp, out_scale, out_zp)
            assert np.array_equal(table, expected), (op_type, in_scale, in_zp)


def test_tanh_with_any_output_quantisation():
    # TanhPrepare checks nothing for int8: the table follows whatever output scale is given.
    assert_exact_for_every_input_value(act_model("TANH", 0.03, -7, out=(0.0123, 17)))


def test_tanh_output_scale_so_small_the_float_to_int_conversion_overflows():
    # Entries beyond int32 come out as INT32_MIN, i.e. -128, in tflite-runtime (x86-64).
    assert_exact_for_every_input_value(act_model("TANH", 0.05, 0, out=(1e-10, 5)))


def test_logistic_with_output_zero_point_other_than_minus_128():
    # SigmoidPrepare only checks the scale.
    assert_exact_for_every_input_value(act_model("LOGISTIC", 0.05, 0, out=(1 / 256, 0)))


def test_logistic_rejects_output_scale_tflite_rejects():
    g = act_model("LOGISTIC", 0.05, 0, out=(1 / 255, -128))
    with pytest.raises(UnsupportedOp, match="1/256"):
        logistic_tanh.check(g, g.ops[0])


@pytest.mark.parametrize("op_type", ["LOGISTIC", "TANH"])
def test_rejects_float(op_type):
    m = ModelBuilder()
    x = m.input((4,), dtype="float32")
    y = m.tensor((4,), dtype="float32")
    m.op(op_type, [x], [y])
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="float32"):
        logistic_tanh.check(g, g.ops[0])


@pytest.mark.parametrize("shape", [(1,), (1, 1, 1, 1), (2, 3, 5, 7), (1, 1031)])
def test_any_shape(shape):
    assert_bit_exact(act_model("TANH", 0.04, -3, shape=shape))
    assert_bit_exact(act_model("LOGISTIC", 0.04, -3, shape=shape))


def test_in_place_and_out_of_place():
    # x feeds both ops: TANH (first) cannot overwrite it, LOGISTIC (last reader) runs in place.
    m = ModelBuilder()
    x = m.input((2, 128), scale=0.06, zero_point=-20)
    a = m.tensor((2, 128), scale=1 / 128, zero_point=0)
    b = m.tensor((2, 128), scale=1 / 256, zero_point=-128)
    m.op("TANH", [x], [a])
    m.op("LOGISTIC", [x], [b])
    g = m.graph([a, b])
    result = verify_host(g, write_tflite(g), runs=2)
    assert result.ok
    plan = result.lowered.plan
    assert plan.tensor_offset(a) != plan.tensor_offset(x)
    assert plan.tensor_offset(b) == plan.tensor_offset(x)


@pytest.mark.parametrize("op_type", ["LOGISTIC", "TANH"])
def test_clean_under_address_and_undefined_sanitizers(op_type):
    assert_exact_for_every_input_value(act_model(op_type, 0.07, 11, shape=(4, 64)), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(op_type=st.sampled_from(["LOGISTIC", "TANH"]), in_scale=st.floats(1e-4, 20.0),
       in_zp=st.integers(-128, 127), out_zp=st.integers(-128, 127))
def test_property_quantisation(op_type, in_scale, in_zp, out_zp):
    out = (1 / 256, out_zp) if op_type == "LOGISTIC" else (2.0 / 255, out_zp)
    assert_exact_for_every_input_value(act_model(op_type, in_scale, in_zp, out=out))
