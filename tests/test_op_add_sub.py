"""ADD and SUB int8 are bit-exact with tflite-runtime's reference kernels, elementwise and
broadcast."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import assert_bit_exact, rand_int8
from tinyrt.boards import load_board
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import add_sub
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


def binary_model(op_type, shape1, shape2, q1=(0.05, 0), q2=(0.03, 0), qo=(0.08, 0),
                 activation="NONE", const=None, seed=0):
    """``const``: None, 1 or 2, the operand that is a constant tensor."""
    rng = np.random.default_rng(seed)
    m = ModelBuilder()
    ins = []
    for k, (shape, (s, z)) in enumerate(((shape1, q1), (shape2, q2)), start=1):
        if const == k:
            ins.append(m.const(rand_int8(rng, shape), "int8", scale=s, zero_point=z))
        else:
            ins.append(m.input(shape, scale=s, zero_point=z))
    out_shape = np.broadcast_shapes(tuple(shape1), tuple(shape2))
    y = m.tensor(out_shape, scale=qo[0], zero_point=qo[1])
    m.op(op_type, ins, [y], activation=activation)
    return m.graph([y])


OPS = ["ADD", "SUB"]


ZERO_POINTS = [(-128, -128, -128), (127, 127, 127), (-128, 127, 0), (127, -128, 127)]


@pytest.mark.parametrize("op_type", OPS)
@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_fused_activations(op_type, activation):
    assert_bit_exact(binary_model(op_type, (1, 5, 3, 7), (1, 5, 3, 7), q1=(0.02, -3), q2=(0.03, 4),
                                  qo=(0.01, 2), activation=activation))


@pytest.mark.parametrize("op_type", OPS)
@pytest.mark.parametrize("zps", ZERO_POINTS)
def test_zero_points_at_the_extremes(op_type, zps):
    z1, z2, zo = zps
    assert_bit_exact(binary_model(op_type, (2, 33), (2, 33), q1=(0.05, z1), q2=(0.07, z2),
                                  qo=(0.1, zo)))


@pytest.mark.parametrize("op_type", OPS)
@pytest.mark.parametrize("scales", [(1e-3, 1.0, 0.05), (2.0, 1e-4, 1.5), (0.5, 0.5, 0.5),
                                    (1e-5, 3e-5, 1e-6), (10.0, 20.0, 100.0)])
def test_scales_over_orders_of_magnitude(op_type, scales):
    s1, s2, so = scales
    assert_bit_exact(binary_model(op_type, (1, 4, 4, 9), (1, 4, 4, 9), q1=(s1, 3), q2=(s2, -7),
                                  qo=(so, 1)))


@pytest.mark.parametrize("op_type", OPS)
@pytest.mark.parametrize("shapes", [((1, 6, 5, 8), (1, 1, 1, 8)), ((1, 1, 1, 8), (1, 6, 5, 8)),
                                    ((1, 3, 4, 5), (1,)), ((2, 1, 3), (1, 4, 1)),
                                    ((3, 1, 5, 1), (1, 4, 1, 6)), ((7,), (3, 1)),
                                    ((2, 3, 4, 5, 6), (2, 3, 1, 1, 6))])
def test_broadcast(op_type, shapes):
    assert_bit_exact(binary_model(op_type, *shapes, q1=(0.04, -5), q2=(0.09, 12), qo=(0.1, -2)))


@pytest.mark.parametrize("op_type", OPS)
@pytest.mark.parametrize("const,shapes", [(2, ((1, 4, 4, 6), (6,))),
                                          (1, ((1, 1, 1, 6), (1, 4, 4, 6))),
                                          (2, ((1, 3, 3, 4), (1, 3, 3, 4)))])
def test_constant_operand(op_type, const, shapes):
    assert_bit_exact(binary_model(op_type, *shapes, q1=(0.02, 9), q2=(0.5, -100), qo=(0.3, 4),
                                  const=const))


@pytest.mark.parametrize("op_type", OPS)
def test_same_tensor_as_both_operands(op_type):
    m = ModelBuilder()
    x = m.input((1, 8, 8, 3), scale=0.05, zero_point=-20)
    y = m.tensor((1, 8, 8, 3), scale=0.1, zero_point=10)
    m.op(op_type, [x, x], [y])
    assert_bit_exact(m.graph([y]))


@pytest.mark.parametrize("op_type", OPS)
@pytest.mark.parametrize("broadcast", [False, True])
def test_rounding_ties_over_every_input_pair(op_type, broadcast):
    # Input 2's multiplier 0x5A5A5400 has low 11 bits 2^10, so every odd (y - zp) << 20 is an
    # exact rounding tie of SaturatingRoundingDoublingHighMul, and an output multiplier near
    # 1/2 lets a one-unit difference in the sum show. SUB must subtract: negating the
    # multiplier and adding rounds those ties the other way (4 of these 65536 pairs differ).
    s2 = float(np.float32(0x5A5A5400 / 2**31))
    values = np.arange(-128, 128, dtype=np.int8)
    if broadcast:
        shapes, inputs = ((256, 1), (1, 256)), [values.reshape(256, 1), values.reshape(1, 256)]
    else:
        shapes = ((256, 256), (256, 256))
        inputs = [np.repeat(values[:, None], 256, 1), np.repeat(values[None, :], 256, 0)]
    graph = binary_model(op_type, *shapes, q1=(1.0, 1), q2=(s2, -1), qo=(2.0 / 2**19, 0))
    result = verify_host(graph, write_tflite(graph), inputs=[inputs])
    assert result.ok, result.project_dir


@pytest.mark.parametrize("op_type", OPS)
def test_rescale_multipliers_are_computed_in_double(op_type):
    # With these scales, s1 / (2 * max(s1, s2)) and the output multiplier evaluated in float32
    # quantise to other multipliers, which change some of the 65536 outputs.
    s1, s2, so = 0.12796682119369507, 0.014173950999975204, 0.03304852917790413
    values = np.arange(-128, 128, dtype=np.int8)
    graph = binary_model(op_type, (256, 1), (1, 256), q1=(s1, 0), q2=(s2, 0), qo=(so, 0))
    inputs = [[values.reshape(256, 1), values.reshape(1, 256)]]
    assert verify_host(graph, write_tflite(graph), inputs=inputs).ok


def test_output_reuses_input_0_in_place():
    m = ModelBuilder()
    x = m.input((1, 10, 10, 4), scale=0.05, zero_point=3)
    b = m.input((1, 1, 1, 4), scale=0.02, zero_point=-8)
    t = m.tensor((1, 10, 10, 4), scale=0.06, zero_point=1)
    y = m.tensor((1, 10, 10, 4), scale=0.07, zero_point=-1)
    m.op("ADD", [x, b], [t])
    m.op("SUB", [t, b], [y])
    graph = m.graph([y])
    plan = codegen.lower(graph, load_board("host")).plan
    assert plan.tensor_offset(t) == plan.tensor_offset(y)
    assert_bit_exact(graph)


def test_int16_operands_are_unsupported():
    m = ModelBuilder()
    x = m.input((1, 4), "int16")
    y = m.tensor((1, 4), "int16")
    m.op("ADD", [x, x], [y])
    graph = m.graph([y])
    with pytest.raises(UnsupportedOp):
        add_sub.check(graph, graph.ops[0])


def test_broadcast_over_more_than_four_unmergeable_axes_is_unsupported():
    graph = binary_model("ADD", (2, 3, 4, 5, 6), (2, 1, 4, 1, 6))
    with pytest.raises(UnsupportedOp, match="5 dimensions"):
        add_sub.check(graph, graph.ops[0])


def test_broadcast_layout_merges_axes_that_step_alike():
    assert add_sub.broadcast_layout((1, 4, 4, 8), (1, 4, 4, 8)) == ([128], [1], [1])
    assert add_sub.broadcast_layout((1, 4, 4, 8), (8,)) == ([16, 8], [8, 1], [0, 1])
    assert add_sub.broadcast_layout((2, 1, 3), (1, 4, 1)) == ([2, 4, 3], [3, 0, 1], [0, 1, 0])


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(binary_model("SUB", (1, 5, 5, 6), (1, 1, 5, 1), q1=(0.03, -128), q2=(0.2, 127),
                                  qo=(0.05, 0), activation="RELU6"), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(op_type=st.sampled_from(OPS),
       shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
       mask1=st.lists(st.booleans(), min_size=4, max_size=4),
       mask2=st.lists(st.booleans(), min_size=4, max_size=4),
       zps=st.tuples(*[st.integers(-128, 127)] * 3),
       log_scales=st.tuples(*[st.floats(-4, 1)] * 3),
       activation=st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]))
def test_property_shapes_and_quantisation(op_type, shape, mask1, mask2, zps, log_scales,
                                          activation):
    shape1 = [1 if m else d for d, m in zip(shape, mask1)]
    shape2 = [1 if m else d for d, m in zip(shape, mask2)]
    s1, s2, so = (10 ** v for v in log_scales)
    so = max(so, 2 * max(s1, s2) / 2**19)   # TFLite needs an output multiplier below 1
    assert_bit_exact(binary_model(op_type, shape1, shape2, q1=(s1, zps[0]), q2=(s2, zps[1]),
                                  qo=(so, zps[2]), activation=activation))
