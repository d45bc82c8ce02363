"""RELU, RELU6 and RELU_N1_TO_1 int8 are bit-exact with tflite-runtime's reference kernels."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.boards import load_board
from tinyrt.errors import UnsupportedOp
from tinyrt.fixedpoint import quantize_multiplier
from tinyrt.ops import relu
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

OPS = ["RELU", "RELU6", "RELU_N1_TO_1"]


def relu_model(op_type, shape=(1, 5, 5, 8), q_in=(0.05, 0), q_out=(0.05, 0), dtype="int8"):
    m = ModelBuilder()
    x = m.input(shape, dtype, scale=q_in[0], zero_point=q_in[1])
    y = m.tensor(shape, dtype, scale=q_out[0], zero_point=q_out[1])
    m.op(op_type, [x], [y])
    return m.graph([y])


def exhaustive(graph):
    """Every int8 input value once."""
    values = np.arange(-128, 128, dtype=np.int8).reshape(graph.t(graph.inputs[0]).shape)
    assert verify_host(graph, write_tflite(graph), inputs=[[values]]).ok


ZERO_POINTS = [(0, 0), (-128, -128), (127, 127), (-128, 127), (127, -128), (5, -3)]


@pytest.mark.parametrize("op_type", OPS)
@pytest.mark.parametrize("zps", ZERO_POINTS)
def test_zero_points_at_the_extremes(op_type, zps):
    exhaustive(relu_model(op_type, (256,), q_in=(0.04, zps[0]), q_out=(0.03, zps[1])))


@pytest.mark.parametrize("op_type", OPS)
@pytest.mark.parametrize("scales", [(0.05, 0.05), (1e-3, 0.1), (0.1, 1e-3), (3.0, 0.0235),
                                    (1e-5, 2e-5), (10.0, 100.0), (0.0235, 0.0235 * 3)])
def test_scales_over_orders_of_magnitude(op_type, scales):
    exhaustive(relu_model(op_type, (16, 16), q_in=(scales[0], -7), q_out=(scales[1], 9)))


@pytest.mark.parametrize("op_type", OPS)
def test_equal_scales_clamp_without_rescaling(op_type):
    graph = relu_model(op_type, (2, 128), q_in=(0.02, -20), q_out=(0.02, 10))
    assert relu.multiplier(graph, graph.ops[0]) == relu.IDENTITY
    exhaustive(graph)


@pytest.mark.parametrize("op_type", ["RELU", "RELU6"])
def test_multiplier_divides_the_scales_in_float32(op_type):
    # input_scale / output_scale in double quantises to another multiplier, which maps
    # x - zp = 118 to 64 instead of 63.
    s_in, s_out = np.float32(0.0008196604321710765), np.float32(0.001523148501291871)
    assert quantize_multiplier(float(s_in) / float(s_out)) != \
        quantize_multiplier(float(s_in / s_out))
    exhaustive(relu_model(op_type, (256,), q_in=(s_in, -10), q_out=(s_out, 0)))


@pytest.mark.parametrize("op_type", OPS)
def test_bounds_beyond_int32_follow_the_reference(op_type):
    # 6 / 1e-10 overflows int32: the reference's float-to-int conversion yields INT32_MIN.
    exhaustive(relu_model(op_type, (256,), q_in=(1e-10, 3), q_out=(1e-10, -3)))


@pytest.mark.parametrize("op_type", OPS)
def test_odd_shapes(op_type):
    assert_bit_exact(relu_model(op_type, (1, 7, 3, 5), q_in=(0.07, 11), q_out=(0.05, -4)))


def test_uint8_is_unsupported():
    graph = relu_model("RELU", dtype="uint8", q_in=(0.1, 128), q_out=(0.1, 128))
    with pytest.raises(UnsupportedOp):
        relu.check(graph, graph.ops[0])


def test_output_reuses_the_input_buffer():
    m = ModelBuilder()
    x = m.input((1, 6, 6, 4), scale=0.05, zero_point=3)
    t = m.tensor((1, 6, 6, 4), scale=0.04, zero_point=-128)
    y = m.tensor((1, 6, 6, 4), scale=0.04, zero_point=-128)
    m.op("RELU", [x], [t])
    m.op("RELU6", [t], [y])
    graph = m.graph([y])
    plan = codegen.lower(graph, load_board("host")).plan
    assert plan.tensor_offset(t) == plan.tensor_offset(y)
    assert_bit_exact(graph)


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(relu_model("RELU6", (1, 9, 9, 3), q_in=(0.1, -128), q_out=(0.03, 127)),
                     sanitize=True)


@settings(max_examples=8, deadline=None)
@given(op_type=st.sampled_from(OPS), zps=st.tuples(st.integers(-128, 127), st.integers(-128, 127)),
       log_scales=st.tuples(st.floats(-4, 1), st.floats(-4, 1)))
def test_property_quantisation(op_type, zps, log_scales):
    s_in, s_out = (10 ** v for v in log_scales)
    exhaustive(relu_model(op_type, (4, 64), q_in=(s_in, zps[0]), q_out=(s_out, zps[1])))
