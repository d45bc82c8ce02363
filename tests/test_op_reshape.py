"""RESHAPE and SQUEEZE are bit-exact with tflite-runtime: aliased (no code) when the planner can,
a byte copy when it cannot."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import assert_bit_exact, rand_int8
from tinyrt.boards import load_board
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import reshape


def reshape_model(in_shape, out_shape, dtype="int8", op_type="RESHAPE"):
    m = ModelBuilder()
    q = {"scale": 0.05, "zero_point": -3} if dtype == "int8" else {}
    x = m.input(in_shape, dtype, **q)
    y = m.tensor(out_shape, dtype, **q)
    if op_type == "RESHAPE":
        s = m.const(np.array(out_shape), "int32")
        m.op("RESHAPE", [x, s], [y], new_shape=list(out_shape))
    else:
        m.op("SQUEEZE", [x], [y], squeeze_dims=[d for d, n in enumerate(in_shape) if n == 1])
    return m.graph([y])


def const_reshape_model(in_shape, out_shape):
    """A RESHAPE of a constant, concatenated with the graph input: the copy path."""
    m = ModelBuilder()
    c = m.const(rand_int8(np.random.default_rng(1), in_shape), "int8", scale=0.05, zero_point=2)
    r = m.tensor(out_shape, scale=0.05, zero_point=2)
    m.op("RESHAPE", [c, m.const(np.array(out_shape), "int32")], [r], new_shape=list(out_shape))
    x = m.input(out_shape, scale=0.05, zero_point=2)
    y = m.tensor((2 * out_shape[0],) + tuple(out_shape[1:]), scale=0.05, zero_point=2)
    m.op("CONCATENATION", [x, r], [y], axis=0)
    return m.graph([y])


def layer_calls(graph):
    return [layer.call for layer in codegen.lower(graph, load_board("host")).layers]


@pytest.mark.parametrize("in_shape,out_shape", [((1, 4, 4, 3), (1, 48)), ((6,), (2, 3)),
                                                ((2, 3, 4), (4, 3, 2)), ((1, 1, 1, 1), (1,))])
def test_reshape_is_aliased_and_needs_no_code(in_shape, out_shape):
    g = reshape_model(in_shape, out_shape)
    assert layer_calls(g) == [None]
    assert_bit_exact(g)


@pytest.mark.parametrize("in_shape", [(1, 1, 1, 10), (1, 5, 1, 3), (1, 1)])
def test_squeeze_is_aliased_and_needs_no_code(in_shape):
    out_shape = tuple(n for n in in_shape if n != 1)
    g = reshape_model(in_shape, out_shape, op_type="SQUEEZE")
    assert layer_calls(g) == [None]
    assert_bit_exact(g)


def test_constant_input_is_copied():
    g = const_reshape_model((2, 3, 4), (4, 6))
    assert layer_calls(g)[0].kernel == "copy_bytes"
    assert_bit_exact(g)


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_any_dtype(dtype):
    assert_bit_exact(reshape_model((2, 6), (3, 4), dtype=dtype))


def test_rejects_a_different_element_count():
    g = reshape_model((2, 6), (3, 5))
    with pytest.raises(UnsupportedOp, match="different numbers"):
        reshape.check(g, g.ops[0])


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(const_reshape_model((3, 2, 5), (6, 5)), sanitize=True)


@settings(max_examples=6, deadline=None)
@given(dims=st.lists(st.integers(1, 5), min_size=1, max_size=4), data=st.data())
def test_property_copy_path_shapes(dims, data):
    out_shape = tuple(data.draw(st.permutations(dims)))
    assert_bit_exact(const_reshape_model(tuple(dims), out_shape))
