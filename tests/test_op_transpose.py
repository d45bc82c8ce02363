"""TRANSPOSE int8 is bit-exact with tflite-runtime's reference kernel, rank 1 to 6."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import transpose


def transpose_model(shape, perm, zp=3):
    m = ModelBuilder()
    x = m.input(shape, scale=0.05, zero_point=zp)
    p = m.const(np.array(perm), "int32")
    y = m.tensor(tuple(shape[d % len(shape)] for d in perm), scale=0.05, zero_point=zp)
    m.op("TRANSPOSE", [x, p], [y])
    return m.graph([y])


@pytest.mark.parametrize("perm", [[0, 3, 1, 2], [0, 2, 3, 1], [3, 2, 1, 0], [0, 2, 1, 3],
                                  [1, 0, 2, 3], [0, 1, 2, 3]])
def test_permutations_of_nhwc(perm):
    assert_bit_exact(transpose_model((2, 3, 4, 5), perm))


@pytest.mark.parametrize("shape,perm", [((7,), [0]), ((3, 5), [1, 0]), ((2, 3, 4), [2, 0, 1]),
                                        ((2, 3, 2, 3, 2), [4, 1, 3, 0, 2]),
                                        ((2, 3, 2, 1, 3, 2), [5, 4, 3, 2, 1, 0])])
def test_ranks_one_to_six(shape, perm):
    assert_bit_exact(transpose_model(shape, perm))


def test_unit_dimensions():
    assert_bit_exact(transpose_model((1, 1, 6, 1), [3, 2, 0, 1]))


def test_rejects_rank_seven():
    g = transpose_model((1,) * 7, list(range(7)))
    with pytest.raises(UnsupportedOp, match="rank 7"):
        transpose.check(g, g.ops[0])


def test_rejects_float():
    m = ModelBuilder()
    x = m.input((2, 3), "float32")
    y = m.tensor((3, 2), "float32")
    m.op("TRANSPOSE", [x, m.const(np.array([1, 0]), "int32")], [y])
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="float32"):
        transpose.check(g, g.ops[0])


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(transpose_model((2, 3, 4, 5), [2, 0, 3, 1], zp=-128), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(dims=st.lists(st.integers(1, 4), min_size=1, max_size=6), data=st.data())
def test_property_shapes_and_permutations(dims, data):
    perm = data.draw(st.permutations(range(len(dims))))
    assert_bit_exact(transpose_model(tuple(dims), list(perm)))
