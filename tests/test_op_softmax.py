"""SOFTMAX int8 is bit-exact with tflite-runtime's reference kernel (gemmlowp fixed point),
including the rows where that kernel's arithmetic leaves its intended range."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.errors import UnsupportedOp
from tinyrt.frontend import read_tflite
from tinyrt.ops import softmax
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


def softmax_model(shape, in_scale=0.1, in_zp=0, beta=1.0, out_scale=1 / 256, out_zp=-128):
    m = ModelBuilder()
    x = m.input(shape, scale=in_scale, zero_point=in_zp)
    y = m.tensor(shape, scale=out_scale, zero_point=out_zp)
    m.op("SOFTMAX", [x], [y], beta=beta)
    return m.graph([y])


def assert_exact_on(graph, inputs):
    result = verify_host(graph, write_tflite(graph), inputs=[[x] for x in inputs])
    bad = [r for r in result.runs if not r.bit_exact]
    assert not bad, f"{bad[0].mismatched} values differ (project kept in {result.project_dir})"


@pytest.mark.parametrize("depth", [1, 2, 10, 12, 1000])
def test_row_lengths(depth):
    assert_bit_exact(softmax_model((3, depth), in_scale=0.05, in_zp=-9))


@pytest.mark.parametrize("in_scale", [1e-3, 0.0123, 0.1, 1.0, 10.0])
def test_input_scales_over_orders_of_magnitude(in_scale):
    assert_bit_exact(softmax_model((4, 12), in_scale=in_scale, in_zp=5))


@pytest.mark.parametrize("in_zp", [-128, 127])
def test_zero_points_at_the_extremes(in_zp):
    assert_bit_exact(softmax_model((4, 10), in_scale=0.08, in_zp=in_zp))


@pytest.mark.parametrize("beta", [0.25, 0.7, 2.0, 10.0])
def test_beta_other_than_one(beta):
    assert_bit_exact(softmax_model((3, 12), in_scale=0.06, in_zp=-3, beta=beta))


def test_beta_and_scale_so_large_the_multiplier_is_capped():
    # beta * scale * 2^26 >= 2^31 - 1: only the row maximum has a non-zero exp.
    assert_bit_exact(softmax_model((4, 10), in_scale=8.0, beta=10.0))


@pytest.mark.parametrize("shape", [(12,), (2, 3, 10), (1, 2, 2, 5), (2, 1, 1, 1, 7)])
def test_any_rank_over_the_last_axis(shape):
    assert_bit_exact(softmax_model(shape, in_scale=0.07, in_zp=2))


def test_rows_whose_sum_of_exps_reaches_512():
    # The reference's final shift then exceeds 31 bits: the row maxima saturate to 127 and the
    # others get values unrelated to their probability. Reproduced, not corrected.
    rng = np.random.default_rng(0)
    assert_exact_on(softmax_model((2, 1000), in_scale=0.001),
                    [rng.integers(100, 128, (2, 1000)).astype(np.int8),
                     np.full((2, 1000), 7, np.int8)])
    mixed = np.full((1, 1000), 127, np.int8)
    mixed[0, 700:] = np.arange(300) % 129 - 128
    assert_exact_on(softmax_model((1, 1000), in_scale=0.1), [mixed])


def test_sum_of_exps_wrapping_around_int32():
    # 4096 or more values at the maximum overflow the Q12.19 sum (it wraps in the reference);
    # 8192 of them wrap it to exactly zero.
    rng = np.random.default_rng(1)
    assert_exact_on(softmax_model((1, 5000), in_scale=1e-4),
                    [rng.integers(120, 128, (1, 5000)).astype(np.int8)])
    assert_exact_on(softmax_model((1, 8192), in_scale=1e-3), [np.full((1, 8192), 127, np.int8)])


@pytest.mark.parametrize("model", ["kws_int8", "vww_int8", "ic_resnet8_int8"])
def test_softmax_layer_of_real_model(shared_models, model):
    g = read_tflite(shared_models / f"{model}.tflite")
    layer = next(op for op in g.ops if op.type == "SOFTMAX")
    inp, out = g.t(layer.inputs[0]), g.t(layer.outputs[0])
    m = ModelBuilder()
    x = m.input(inp.shape, scale=inp.quant.scale, zero_point=inp.quant.zero_point)
    y = m.tensor(out.shape, scale=out.quant.scale, zero_point=out.quant.zero_point)
    m.op("SOFTMAX", [x], [y], **layer.attrs)
    assert_bit_exact(m.graph([y]), runs=20)


def test_accepts_output_scale_within_tflite_tolerance():
    assert_bit_exact(softmax_model((2, 10), out_scale=1 / 256 * 1.0005))


@pytest.mark.parametrize("out_scale,out_zp", [(1 / 256, 0), (1 / 256 * 1.002, -128), (1 / 128, -128)])
def test_rejects_output_quantisation_tflite_rejects(out_scale, out_zp):
    g = softmax_model((2, 10), out_scale=out_scale, out_zp=out_zp)
    with pytest.raises(UnsupportedOp, match="1/256"):
        softmax.check(g, g.ops[0])


def test_rejects_beta_times_scale_below_fixed_point_range():
    g = softmax_model((2, 10), in_scale=1e-9)
    with pytest.raises(UnsupportedOp, match="too small"):
        softmax.check(g, g.ops[0])


def test_rejects_int16():
    m = ModelBuilder()
    x = m.input((1, 10), dtype="int16")
    y = m.tensor((1, 10), dtype="int16")
    m.op("SOFTMAX", [x], [y], beta=1.0)
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="int16"):
        softmax.check(g, g.ops[0])


def test_in_place_and_out_of_place():
    # x feeds both ops: the first cannot overwrite it, the second (last reader) runs in place.
    m = ModelBuilder()
    x = m.input((3, 12), scale=0.1, zero_point=4)
    a = m.tensor((3, 12), scale=1 / 256, zero_point=-128)
    b = m.tensor((3, 12), scale=1 / 256, zero_point=-128)
    m.op("SOFTMAX", [x], [a], beta=1.0)
    m.op("SOFTMAX", [x], [b], beta=0.5)
    g = m.graph([a, b])
    result = verify_host(g, write_tflite(g), runs=3)
    assert result.ok
    plan = result.lowered.plan
    assert plan.tensor_offset(a) != plan.tensor_offset(x)
    assert plan.tensor_offset(b) == plan.tensor_offset(x)


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(softmax_model((3, 1000), in_scale=0.002, in_zp=-128), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(rows=st.integers(1, 4), depth=st.integers(1, 300), in_scale=st.floats(1e-3, 10.0),
       in_zp=st.integers(-128, 127), beta=st.floats(0.1, 4.0), seed=st.integers(0, 1000))
def test_property_shapes_and_quantisation(rows, depth, in_scale, in_zp, beta, seed):
    assert_bit_exact(softmax_model((rows, depth), in_scale, in_zp, beta), seed=seed)
