"""MUL int8 is bit-exact with tflite-runtime's reference kernel, elementwise and broadcast."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact, rand_int8
from tinyrt.errors import UnsupportedOp
from tinyrt.fixedpoint import quantize_multiplier
from tinyrt.ops import mul
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


def mul_model(shape1, shape2, q1=(0.05, 0), q2=(0.03, 0), qo=(0.002, 0), activation="NONE",
              const=None, seed=0):
    """``const``: None, 1 or 2, the operand that is a constant tensor."""
    rng = np.random.default_rng(seed)
    m = ModelBuilder()
    ins = []
    for k, (shape, (s, z)) in enumerate(((shape1, q1), (shape2, q2)), start=1):
        if const == k:
            ins.append(m.const(rand_int8(rng, shape), "int8", scale=s, zero_point=z))
        else:
            ins.append(m.input(shape, scale=s, zero_point=z))
    y = m.tensor(np.broadcast_shapes(tuple(shape1), tuple(shape2)), scale=qo[0], zero_point=qo[1])
    m.op("MUL", ins, [y], activation=activation)
    return m.graph([y])


ZERO_POINTS = [(-128, -128, -128), (127, 127, 127), (-128, 127, 0), (127, -128, 127)]


@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_fused_activations(activation):
    assert_bit_exact(mul_model((1, 5, 3, 7), (1, 5, 3, 7), q1=(0.02, -3), q2=(0.03, 4),
                               qo=(0.004, 2), activation=activation))


@pytest.mark.parametrize("zps", ZERO_POINTS)
def test_zero_points_at_the_extremes(zps):
    z1, z2, zo = zps
    assert_bit_exact(mul_model((2, 33), (2, 33), q1=(0.05, z1), q2=(0.07, z2), qo=(0.5, zo)))


@pytest.mark.parametrize("scales", [(1e-3, 1.0, 0.05), (2.0, 1e-4, 1e-3), (0.5, 0.5, 1e-4),
                                    (1e-3, 3e-3, 0.1), (10.0, 20.0, 0.5)])
def test_scales_over_orders_of_magnitude(scales):
    s1, s2, so = scales
    assert_bit_exact(mul_model((1, 4, 4, 9), (1, 4, 4, 9), q1=(s1, 3), q2=(s2, -7), qo=(so, 1)))


@pytest.mark.parametrize("scales", [(0.22383220493793488, 0.47351911664009094, 0.9462253451347351),
                                    (0.6099501848220825, 0.019922448322176933, 0.2972361445426941)])
def test_multiplier_is_the_float32_product_of_the_scales(scales):
    # For these scales s1 * s2 / so in double quantises to another multiplier than in float32,
    # and that one rounds some product of two int8 values differently (1102 and 1846).
    s1, s2, so = (np.float32(s) for s in scales)
    assert quantize_multiplier(float(s1) * float(s2) / float(so)) != \
        quantize_multiplier(float(s1 * s2 / so))
    values = np.arange(-128, 128, dtype=np.int8)
    graph = mul_model((256, 1), (1, 256), q1=(s1, 0), q2=(s2, 0), qo=(so, 0))
    inputs = [[values.reshape(256, 1), values.reshape(1, 256)]]
    assert verify_host(graph, write_tflite(graph), inputs=inputs).ok


@pytest.mark.parametrize("shapes", [((1, 6, 5, 8), (1, 1, 1, 8)), ((1, 1, 1, 8), (1, 6, 5, 8)),
                                    ((1, 3, 4, 5), (1,)), ((2, 1, 3), (1, 4, 1)),
                                    ((3, 1, 5, 1), (1, 4, 1, 6)), ((7,), (3, 1))])
def test_broadcast(shapes):
    assert_bit_exact(mul_model(*shapes, q1=(0.04, -5), q2=(0.09, 12), qo=(0.01, -2)))


@pytest.mark.parametrize("const,shapes", [(2, ((1, 4, 4, 6), (6,))),
                                          (1, ((1, 1, 1, 6), (1, 4, 4, 6))),
                                          (2, ((1, 3, 3, 4), (1, 3, 3, 4)))])
def test_constant_operand(const, shapes):
    assert_bit_exact(mul_model(*shapes, q1=(0.02, 9), q2=(0.5, -100), qo=(0.3, 4), const=const))


def test_square_of_one_tensor():
    m = ModelBuilder()
    x = m.input((1, 8, 8, 3), scale=0.05, zero_point=-20)
    y = m.tensor((1, 8, 8, 3), scale=0.02, zero_point=-128)
    m.op("MUL", [x, x], [y])
    assert_bit_exact(m.graph([y]))


def test_int16_operands_are_unsupported():
    m = ModelBuilder()
    x = m.input((1, 4), "int16", scale=0.1)
    y = m.tensor((1, 4), "int16", scale=0.1)
    m.op("MUL", [x, x], [y])
    graph = m.graph([y])
    with pytest.raises(UnsupportedOp):
        mul.check(graph, graph.ops[0])


def test_no_multiply_accumulates_are_counted():
    graph = mul_model((1, 4, 4, 8), (8,))
    assert mul.macs(graph, graph.ops[0]) == 0


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(mul_model((1, 5, 5, 6), (1, 1, 5, 1), q1=(0.03, -128), q2=(0.2, 127),
                               qo=(0.05, 0), activation="RELU"), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
       mask1=st.lists(st.booleans(), min_size=4, max_size=4),
       mask2=st.lists(st.booleans(), min_size=4, max_size=4),
       zps=st.tuples(*[st.integers(-128, 127)] * 3),
       log_scales=st.tuples(*[st.floats(-4, 1)] * 3),
       activation=st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]))
def test_property_shapes_and_quantisation(shape, mask1, mask2, zps, log_scales, activation):
    shape1 = [1 if m else d for d, m in zip(shape, mask1)]
    shape2 = [1 if m else d for d, m in zip(shape, mask2)]
    s1, s2, so = (10 ** v for v in log_scales)
    assert_bit_exact(mul_model(shape1, shape2, q1=(s1, zps[0]), q2=(s2, zps[1]), qo=(so, zps[2]),
                               activation=activation))
