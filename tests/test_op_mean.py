"""MEAN int8 is bit-exact with tflite-runtime's reference kernel, for any axis set."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import mean


def mean_model(shape, axes, keep_dims=True, in_scale=0.05, in_zp=3, out_scale=0.02, out_zp=-5):
    m = ModelBuilder()
    x = m.input(shape, scale=in_scale, zero_point=in_zp)
    a = m.const(np.array(axes), "int32")
    rank = len(shape)
    resolved = {ax % rank for ax in axes}
    if keep_dims:
        out_shape = tuple(1 if d in resolved else s for d, s in enumerate(shape))
    else:
        out_shape = tuple(s for d, s in enumerate(shape) if d not in resolved)
    y = m.tensor(out_shape, scale=out_scale, zero_point=out_zp)
    m.op("MEAN", [x, a], [y], keep_dims=keep_dims)
    return m.graph([y])


@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("axes", [[1, 2], [2, 1]])
def test_spatial_mean_of_nhwc(axes, keep_dims):
    assert_bit_exact(mean_model((1, 7, 5, 12), axes, keep_dims))


@pytest.mark.parametrize("keep_dims", [True, False])
@pytest.mark.parametrize("shape,axes", [((2, 4, 6), [2]), ((2, 4, 6), [0]), ((2, 4, 6), [1]),
                                        ((3, 5, 4, 2), [0, 3]), ((3, 5, 4, 2), [1, 3]),
                                        ((3, 5, 4, 2), [-1]), ((3, 5, 4, 2), [0, 1, 2, 3]),
                                        ((2, 3, 2, 3, 2), [0, 2, 4]), ((9,), [0]),
                                        ((3, 5, 4), [1, -2])])
def test_general_axis_sets(shape, axes, keep_dims):
    assert_bit_exact(mean_model(shape, axes, keep_dims))


def test_spatial_mean_takes_the_integer_quantized_mean_or_sum_path():
    # On these inputs TFLite's older reference_integer_ops::Mean (requantise, then divide by
    # H*W) differs from QuantizedMeanOrSum in 5 elements; TFLite 2.14 uses the latter.
    assert_bit_exact(mean_model((1, 4, 7, 4), [1, 2], in_scale=0.05966344822719608, in_zp=1,
                                out_scale=0.010494737304121, out_zp=-51))


def test_same_input_and_output_quantisation():
    assert_bit_exact(mean_model((1, 6, 6, 8), [1, 2], in_scale=0.1, in_zp=-7, out_scale=0.1,
                                out_zp=-7))


@pytest.mark.parametrize("in_zp,out_zp", [(-128, 127), (127, -128), (-128, -128)])
def test_zero_points_at_the_extremes(in_zp, out_zp):
    assert_bit_exact(mean_model((1, 4, 3, 5), [1, 2], in_zp=in_zp, out_zp=out_zp))


@pytest.mark.parametrize("in_scale,out_scale", [(1.0, 1e-3), (1e-3, 1.0), (0.5, 0.004),
                                                (2e-5, 3e-6)])
def test_scale_ratios_over_orders_of_magnitude(in_scale, out_scale):
    assert_bit_exact(mean_model((1, 9, 9, 4), [1, 2], in_scale=in_scale, out_scale=out_scale))


def test_large_window_clamps_the_count_shift():
    # 64 * 64 elements and a ratio around 2^-30: the folded shift hits its -31 floor.
    assert_bit_exact(mean_model((1, 64, 64, 2), [1, 2], in_scale=1e-9, out_scale=1.0))


def test_rejects_axes_that_are_not_constant():
    m = ModelBuilder()
    x = m.input((1, 4, 4, 2), scale=0.1)
    a = m.input((2,), "int32")
    y = m.tensor((1, 1, 1, 2), scale=0.1)
    m.op("MEAN", [x, a], [y], keep_dims=True)
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="not a constant"):
        mean.check(g, g.ops[0])


def test_rejects_float():
    m = ModelBuilder()
    x = m.input((1, 4, 4, 2), "float32")
    a = m.const(np.array([1, 2]), "int32")
    y = m.tensor((1, 1, 1, 2), "float32")
    m.op("MEAN", [x, a], [y], keep_dims=True)
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="float32"):
        mean.check(g, g.ops[0])


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(mean_model((2, 5, 3, 7), [0, 2], keep_dims=False, in_zp=-128), sanitize=True)


@st.composite
def shapes_and_axes(draw):
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=5)))
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=3))
    return shape, axes


@settings(max_examples=10, deadline=None)
@given(case=shapes_and_axes(), keep_dims=st.booleans(), in_zp=st.integers(-128, 127),
       out_zp=st.integers(-128, 127), in_scale=st.floats(1e-3, 1.0), out_scale=st.floats(1e-3, 1.0))
def test_property_shapes_axes_and_quantisation(case, keep_dims, in_zp, out_zp, in_scale, out_scale):
    shape, axes = case
    g = mean_model(shape, axes, keep_dims, in_scale, in_zp, out_scale, out_zp)
    try:
        mean.check(g, g.ops[0])
    except UnsupportedOp:
        return   # more alternating kept/reduced runs than the kernel's six
    assert_bit_exact(g)
