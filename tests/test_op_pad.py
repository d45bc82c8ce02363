"""PAD int8 is bit-exact with tflite-runtime's reference kernel."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import pad


def pad_model(shape, pads, in_zp=3, out_zp=None, in_scale=0.05, out_scale=None, dtype="int32"):
    m = ModelBuilder()
    x = m.input(shape, scale=in_scale, zero_point=in_zp)
    p = m.const(np.array(pads).reshape(len(shape), 2), dtype)
    out_shape = tuple(s + b + a for s, (b, a) in zip(shape, pads))
    y = m.tensor(out_shape, scale=in_scale if out_scale is None else out_scale,
                 zero_point=in_zp if out_zp is None else out_zp)
    m.op("PAD", [x, p], [y])
    return m.graph([y])


@pytest.mark.parametrize("pads", [[(0, 0), (1, 1), (1, 1), (0, 0)], [(0, 0), (0, 1), (2, 0), (0, 0)],
                                  [(0, 0), (0, 0), (0, 0), (3, 2)], [(1, 2), (0, 0), (0, 0), (0, 0)],
                                  [(1, 0), (2, 1), (0, 3), (1, 1)], [(0, 0)] * 4])
def test_paddings_on_nhwc(pads):
    assert_bit_exact(pad_model((2, 5, 3, 4), pads))


@pytest.mark.parametrize("shape,pads", [((7,), [(2, 5)]), ((3, 4), [(1, 0), (0, 2)]),
                                        ((2, 3, 4), [(0, 1), (1, 1), (2, 0)]),
                                        ((2, 2, 3, 2, 3), [(1, 0), (0, 1), (1, 1), (2, 0), (0, 1)])])
def test_ranks_one_to_five(shape, pads):
    assert_bit_exact(pad_model(shape, pads))


@pytest.mark.parametrize("out_zp", [-128, 127])
def test_pad_value_is_the_output_zero_point(out_zp):
    assert_bit_exact(pad_model((1, 3, 3, 2), [(0, 0), (1, 1), (1, 1), (0, 0)], in_zp=out_zp))


def test_copies_raw_values_when_quantisation_differs():
    assert_bit_exact(pad_model((1, 3, 3, 2), [(0, 0), (2, 1), (1, 2), (0, 0)], in_zp=-20,
                               out_zp=100, out_scale=0.3))


def test_int64_paddings():
    assert_bit_exact(pad_model((1, 4, 4, 3), [(0, 0), (1, 2), (2, 1), (0, 0)], dtype="int64"))


def test_one_by_one_input():
    assert_bit_exact(pad_model((1, 1, 1, 1), [(0, 0), (3, 3), (3, 3), (0, 0)]))


def test_rejects_rank_six():
    g = pad_model((1,) * 6, [(1, 1)] * 6)
    with pytest.raises(UnsupportedOp, match="rank 6"):
        pad.check(g, g.ops[0])


def test_rejects_paddings_that_are_not_constant():
    m = ModelBuilder()
    x = m.input((1, 2, 2, 1), scale=0.1)
    p = m.input((4, 2), "int32")
    y = m.tensor((1, 4, 4, 1), scale=0.1)
    m.op("PAD", [x, p], [y])
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="not a constant"):
        pad.check(g, g.ops[0])


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(pad_model((2, 3, 5, 3), [(1, 0), (0, 2), (1, 1), (2, 1)]), sanitize=True)


@st.composite
def shapes_and_pads(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=5)))
    pads = [(draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in shape]
    return shape, pads


@settings(max_examples=8, deadline=None)
@given(case=shapes_and_pads(), zp=st.integers(-128, 127))
def test_property_shapes_and_paddings(case, zp):
    shape, pads = case
    assert_bit_exact(pad_model(shape, pads, in_zp=zp))
