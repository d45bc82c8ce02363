"""HARD_SWISH int8 is bit-exact with tflite-runtime's reference kernel for every input value."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.boards import load_board
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import hard_swish
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


def hswish_model(shape=(256,), q_in=(0.05, 0), q_out=(0.05, 0), dtype="int8"):
    m = ModelBuilder()
    x = m.input(shape, dtype, scale=q_in[0], zero_point=q_in[1])
    y = m.tensor(shape, dtype, scale=q_out[0], zero_point=q_out[1])
    m.op("HARD_SWISH", [x], [y])
    return m.graph([y])


def exhaustive(graph):
    """Every int8 input value once."""
    values = np.arange(-128, 128, dtype=np.int8).reshape(graph.t(graph.inputs[0]).shape)
    result = verify_host(graph, write_tflite(graph), inputs=[[values]])
    assert result.ok, result.project_dir


ZERO_POINTS = [(0, 0), (-128, -128), (127, 127), (-128, 127), (127, -128), (5, -3)]


@pytest.mark.parametrize("zps", ZERO_POINTS)
def test_zero_points_at_the_extremes(zps):
    exhaustive(hswish_model(q_in=(0.04, zps[0]), q_out=(0.03, zps[1])))


@pytest.mark.parametrize("scales", [(0.05, 0.05), (0.02, 0.01), (1e-3, 1e-3), (0.1, 0.2),
                                    (1.0, 0.5), (8.0, 1.0), (60.0, 1.0), (300.0, 4.0),
                                    (1e-5, 2e-7), (0.5, 50.0), (0.01, 10.0)])
def test_scales_over_orders_of_magnitude(scales):
    # reluish exponents from -10 to +15 and output exponents from 0 down to -16 (where
    # RoundingDivideByPOT's 16-bit mask wraps)
    exhaustive(hswish_model(q_in=(scales[0], -9), q_out=(scales[1], 4)))


def test_output_exponent_beyond_sixteen_bits():
    graph = hswish_model(q_in=(0.01, 0), q_out=(100.0, 0))
    assert hard_swish.params(graph, graph.ops[0])[1] < -16
    exhaustive(graph)


def test_typical_mobilenet_v3_quantisation():
    exhaustive(hswish_model(q_in=(0.0470588, -10), q_out=(0.0253, -118)))


def test_odd_shapes():
    assert_bit_exact(hswish_model((1, 7, 5, 3), q_in=(0.07, 11), q_out=(0.05, -4)))


def test_output_scale_too_small_for_the_input_is_unsupported():
    graph = hswish_model(q_in=(1.0, 0), q_out=(1e-3, 0))
    with pytest.raises(UnsupportedOp, match="HardSwishPrepare"):
        hard_swish.check(graph, graph.ops[0])


def test_uint8_is_unsupported():
    graph = hswish_model(dtype="uint8", q_in=(0.1, 128), q_out=(0.1, 128))
    with pytest.raises(UnsupportedOp):
        hard_swish.check(graph, graph.ops[0])


def test_downscale_to_int16_rounds_and_saturates():
    assert hard_swish.downscale_to_int16(1 << 30) == 1 << 14
    assert hard_swish.downscale_to_int16((1 << 30) + (1 << 15)) == (1 << 14) + 1
    assert hard_swish.downscale_to_int16((1 << 31) - 1) == (1 << 15) - 1


def test_output_reuses_the_input_buffer():
    m = ModelBuilder()
    x = m.input((1, 6, 6, 4), scale=0.05, zero_point=3)
    t = m.tensor((1, 6, 6, 4), scale=0.04, zero_point=-20)
    y = m.tensor((1, 6, 6, 4), scale=0.03, zero_point=-30)
    m.op("HARD_SWISH", [x], [t])
    m.op("HARD_SWISH", [t], [y])
    graph = m.graph([y])
    plan = codegen.lower(graph, load_board("host")).plan
    assert plan.tensor_offset(t) == plan.tensor_offset(y)
    assert_bit_exact(graph)


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(hswish_model((4, 64), q_in=(0.3, -128), q_out=(0.01, 127)), sanitize=True)


@settings(max_examples=10, deadline=None)
@given(zps=st.tuples(st.integers(-128, 127), st.integers(-128, 127)),
       log_in=st.floats(-4, 2), log_ratio=st.floats(-2.0, 2.0))
def test_property_quantisation(zps, log_in, log_ratio):
    s_in = 10 ** log_in
    s_out = max(s_in * 10 ** log_ratio, s_in / 120)   # HardSwishPrepare: in / (128 out) < 1
    exhaustive(hswish_model((4, 64), q_in=(s_in, zps[0]), q_out=(s_out, zps[1])))
