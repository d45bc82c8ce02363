"""CONCATENATION int8 is bit-exact with tflite-runtime's reference kernel, along any axis."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact, rand_int8
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import concatenation


def concat_model(shapes, axis, scale=0.05, zp=3, const_input=None):
    """``const_input``: index of an input that is a constant tensor instead of a graph input."""
    rng = np.random.default_rng(0)
    m = ModelBuilder()
    ins = [m.const(rand_int8(rng, s), "int8", scale=scale, zero_point=zp) if i == const_input
           else m.input(s, scale=scale, zero_point=zp) for i, s in enumerate(shapes)]
    rank = len(shapes[0])
    a = axis % rank
    out_shape = list(shapes[0])
    out_shape[a] = sum(s[a] for s in shapes)
    y = m.tensor(tuple(out_shape), scale=scale, zero_point=zp)
    m.op("CONCATENATION", ins, [y], axis=axis)
    return m.graph([y])


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
def test_every_axis_of_nhwc(axis):
    shapes = [[2, 3, 4, 5] for _ in range(3)]
    for i, s in enumerate(shapes):
        s[axis] += i
    assert_bit_exact(concat_model([tuple(s) for s in shapes], axis))


@pytest.mark.parametrize("count", [1, 2, 8])
def test_input_counts(count):
    assert_bit_exact(concat_model([(1, 2, 2, c + 1) for c in range(count)], 3))


@pytest.mark.parametrize("shapes,axis", [([(5,), (3,)], 0), ([(2, 3), (2, 1)], 1),
                                         ([(2, 3, 2, 2, 3), (2, 3, 1, 2, 3)], 2)])
def test_ranks(shapes, axis):
    assert_bit_exact(concat_model(shapes, axis))


def test_constant_input_is_read_from_flash():
    assert_bit_exact(concat_model([(1, 3, 3, 2), (1, 3, 3, 4)], 3, const_input=1))


@pytest.mark.parametrize("zp", [-128, 127])
def test_zero_points_at_the_extremes(zp):
    assert_bit_exact(concat_model([(1, 2, 3, 1), (1, 2, 3, 2)], 3, zp=zp))


def test_rejects_inputs_quantised_differently_from_the_output():
    m = ModelBuilder()
    a = m.input((1, 2), scale=0.1, zero_point=1)
    b = m.input((1, 2), scale=0.2, zero_point=1)
    y = m.tensor((1, 4), scale=0.1, zero_point=1)
    m.op("CONCATENATION", [a, b], [y], axis=1)
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="quantised differently"):
        concatenation.check(g, g.ops[0])


def test_rejects_more_inputs_than_the_kernel_takes():
    g = concat_model([(1, 2)] * 9, 1)
    with pytest.raises(UnsupportedOp, match="9 inputs"):
        concatenation.check(g, g.ops[0])


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(concat_model([(2, 3, 1, 4), (2, 3, 2, 4), (2, 3, 3, 4)], 2), sanitize=True)


@st.composite
def shapes_and_axis(draw):
    base = draw(st.lists(st.integers(1, 4), min_size=1, max_size=5))
    axis = draw(st.integers(-len(base), len(base) - 1))
    count = draw(st.integers(1, 4))
    shapes = []
    for _ in range(count):
        s = list(base)
        s[axis] = draw(st.integers(1, 4))
        shapes.append(tuple(s))
    return shapes, axis


@settings(max_examples=8, deadline=None)
@given(case=shapes_and_axis(), zp=st.integers(-128, 127), scale=st.floats(1e-3, 1.0))
def test_property_shapes_and_axes(case, zp, scale):
    shapes, axis = case
    assert_bit_exact(concat_model(shapes, axis, scale=scale, zp=zp))
