"""FULLY_CONNECTED int8 is bit-exact with tflite-runtime's reference kernel."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact, rand_int8


def fc_model(batches, in_depth, out_depth, in_zp, out_zp, activation="NONE", per_channel=False,
             bias=True, seed=0, w_scale=0.02):
    rng = np.random.default_rng(seed)
    m = ModelBuilder()
    x = m.input((batches, in_depth), scale=0.05, zero_point=in_zp)
    wscale = (w_scale * 10 ** rng.uniform(-2, 1, out_depth)) if per_channel else w_scale
    w = m.const(rand_int8(rng, (out_depth, in_depth)), "int8", scale=wscale, zero_point=0)
    b = m.const(rng.integers(-5000, 5000, out_depth), "int32",
                scale=0.05 * np.atleast_1d(wscale), zero_point=0) if bias else -1
    y = m.tensor((batches, out_depth), scale=0.1, zero_point=out_zp)
    m.op("FULLY_CONNECTED", [x, w, b], [y], activation=activation, keep_num_dims=False)
    return m.graph([y])


@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_activations(activation):
    assert_bit_exact(fc_model(1, 33, 7, in_zp=-3, out_zp=5, activation=activation))


@pytest.mark.parametrize("in_zp,out_zp", [(-128, -128), (127, 127), (0, 0), (-128, 127)])
def test_zero_points_at_the_extremes(in_zp, out_zp):
    assert_bit_exact(fc_model(2, 16, 9, in_zp, out_zp))


def test_without_bias():
    assert_bit_exact(fc_model(1, 20, 4, 3, -2, bias=False))


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(fc_model(3, 64, 10, 11, -7), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(batches=st.integers(1, 3), in_depth=st.integers(1, 80), out_depth=st.integers(1, 40),
       in_zp=st.integers(-128, 127), out_zp=st.integers(-128, 127), seed=st.integers(0, 1000),
       w_scale=st.floats(1e-4, 1.0))
def test_property_shapes_and_quantisation(batches, in_depth, out_depth, in_zp, out_zp, seed, w_scale):
    assert_bit_exact(fc_model(batches, in_depth, out_depth, in_zp, out_zp, seed=seed, w_scale=w_scale))
