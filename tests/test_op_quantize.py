"""QUANTIZE and DEQUANTIZE are bit-exact with tflite-runtime's reference kernels, including
float32 graph inputs and outputs (compared byte for byte)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.boards import load_board
from tinyrt.errors import UnsupportedOp
from tinyrt.fixedpoint import quantize_multiplier
from tinyrt.ops import quantize
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


def convert_model(op_type, in_dtype, out_dtype, shape=(256,), q_in=None, q_out=None):
    m = ModelBuilder()
    x = m.input(shape, in_dtype, *(q_in or (None, 0)))
    y = m.tensor(shape, out_dtype, *(q_out or (None, 0)))
    m.op(op_type, [x], [y])
    return m.graph([y])


def run_on(graph, *inputs):
    result = verify_host(graph, write_tflite(graph), inputs=[[x] for x in inputs])
    assert result.ok, result.project_dir


def float_inputs(scale, size=256, seed=0):
    """Rounding ties (k + 1/2) * scale, values over and beyond the int8 range, and the
    specials: NaN, +-inf, +-0, subnormals, +-1e10 (beyond int32 after the division)."""
    rng = np.random.default_rng(seed)
    specials = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e10, -1e10,
                3e9 * scale, -3e9 * scale, 2.0**31 * scale, -(2.0**31) * scale]
    ties = (np.arange(-140, 140) + 0.5) * scale
    spread = rng.uniform(-300 * scale, 300 * scale, 3 * size)
    values = np.concatenate([specials, ties, spread]).astype(np.float32)
    return values[:size], values[size:2 * size], values[2 * size:3 * size]


def exhaustive(dtype):
    info = np.iinfo(dtype)
    return np.arange(info.min, info.max + 1).astype(dtype)


@pytest.mark.parametrize("out_dtype", ["int8", "uint8"])
@pytest.mark.parametrize("q_out", [(1 / 64, 0), (1 / 64, -128), (1 / 64, 127), (0.0078125, 5),
                                   (0.05, -3), (1e-3, 100), (0.3, 0), (3.7, -60)])
def test_quantize_float_rounds_half_away_and_matches_specials(out_dtype, q_out):
    if out_dtype == "uint8":
        q_out = (q_out[0], q_out[1] + 128)
    graph = convert_model("QUANTIZE", "float32", out_dtype, q_out=q_out)
    run_on(graph, *float_inputs(q_out[0]))


def round_half_away(v):
    v = v.astype(np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def test_quantize_divides_by_the_scale():
    # 1 / 0.1f is not exact: next to the rounding ties, x * (1 / scale) rounds differently.
    scale = np.float32(0.1)
    ties = ((np.arange(-128, 128) + 0.5) * scale).astype(np.float32)
    x = np.concatenate([np.nextafter(ties, np.float32(np.inf)),
                        np.nextafter(ties, np.float32(-np.inf))])
    assert np.any(round_half_away(x / scale) != round_half_away(x * (np.float32(1) / scale)))
    graph = convert_model("QUANTIZE", "float32", "int8", q_out=(scale, 0))
    run_on(graph, x[:256], x[256:])


@pytest.mark.parametrize("dtypes", [("int8", "int8"), ("int8", "uint8"), ("uint8", "int8"),
                                    ("uint8", "uint8")])
@pytest.mark.parametrize("scales", [(0.05, 0.05), (0.05, 0.1), (0.1, 0.0123), (1e-4, 0.5),
                                    (3.0, 0.01)])
def test_requantize(dtypes, scales):
    in_dtype, out_dtype = dtypes
    zp_in = -7 if in_dtype == "int8" else 121
    zp_out = 9 if out_dtype == "int8" else 137
    graph = convert_model("QUANTIZE", in_dtype, out_dtype, q_in=(scales[0], zp_in),
                          q_out=(scales[1], zp_out))
    run_on(graph, exhaustive(in_dtype))


@pytest.mark.parametrize("dtypes,zps", [(("int8", "uint8"), (-128, 0)),
                                        (("uint8", "int8"), (128, 0)),
                                        (("int8", "int8"), (-128, 127)),
                                        (("int8", "uint8"), (5, 133))])
def test_requantize_zero_point_shifts_at_equal_scales(dtypes, zps):
    graph = convert_model("QUANTIZE", *dtypes, q_in=(0.02, zps[0]), q_out=(0.02, zps[1]))
    run_on(graph, exhaustive(dtypes[0]))


def test_requantize_multiplier_divides_the_scales_in_double():
    # In float32 the ratio quantises to another multiplier, which moves x - zp = 118.
    s_in, s_out = np.float32(0.0008196604321710765), np.float32(0.001523148501291871)
    assert quantize_multiplier(float(s_in) / float(s_out)) != \
        quantize_multiplier(float(s_in / s_out))
    run_on(convert_model("QUANTIZE", "int8", "int8", q_in=(s_in, -10), q_out=(s_out, 0)),
           exhaustive("int8"))


@pytest.mark.parametrize("in_dtype", ["int8", "uint8"])
@pytest.mark.parametrize("q_in", [(0.05, 0), (1 / 3, -128), (1e-7, 127), (123.456, 17), (1e-38, 3)])
def test_dequantize_every_value(in_dtype, q_in):
    if in_dtype == "uint8":
        q_in = (q_in[0], q_in[1] + 128)
    run_on(convert_model("DEQUANTIZE", in_dtype, "float32", q_in=q_in), exhaustive(in_dtype))


def float_graph(q=(0.02, -5), q_mid=(0.03, -20)):
    """float32 -> QUANTIZE -> ADD (constant) -> HARD_SWISH -> DEQUANTIZE -> float32."""
    m = ModelBuilder()
    x = m.input((1, 4, 4, 8), "float32")
    xq = m.tensor((1, 4, 4, 8), scale=q[0], zero_point=q[1])
    bias = m.const(np.arange(-64, 64, 16), "int8", scale=0.01, zero_point=3)
    s = m.tensor((1, 4, 4, 8), scale=q_mid[0], zero_point=q_mid[1])
    h = m.tensor((1, 4, 4, 8), scale=0.025, zero_point=-100)
    y = m.tensor((1, 4, 4, 8), "float32")
    m.op("QUANTIZE", [x], [xq])
    m.op("ADD", [xq, bias], [s])
    m.op("HARD_SWISH", [s], [h])
    m.op("DEQUANTIZE", [h], [y])
    return m.graph([y])


def test_float_model_end_to_end():
    graph = float_graph()
    assert_bit_exact(graph, runs=5)
    specials = float_inputs(0.02, size=128)[0].reshape(1, 4, 4, 8)
    run_on(graph, specials)


def test_requantize_reuses_its_input_buffer():
    m = ModelBuilder()
    x = m.input((1, 8, 8, 3), scale=0.05, zero_point=3)
    t = m.tensor((1, 8, 8, 3), scale=0.04, zero_point=-10)
    y = m.tensor((1, 8, 8, 3), scale=0.03, zero_point=12)
    m.op("RELU", [x], [t])
    m.op("QUANTIZE", [t], [y])
    graph = m.graph([y])
    plan = codegen.lower(graph, load_board("host")).plan
    assert plan.tensor_offset(t) == plan.tensor_offset(y)
    assert_bit_exact(graph)


@pytest.mark.parametrize("op_type,dtypes", [("QUANTIZE", ("float32", "int16")),
                                            ("QUANTIZE", ("int16", "int8")),
                                            ("DEQUANTIZE", ("float16", "float32")),
                                            ("DEQUANTIZE", ("int16", "float32"))])
def test_int16_and_float16_are_unsupported(op_type, dtypes):
    q = (0.1, 0)
    graph = convert_model(op_type, *dtypes, q_in=q if dtypes[0] != "float32" else None,
                          q_out=q if dtypes[1] != "float32" else None)
    with pytest.raises(UnsupportedOp):
        quantize.check(graph, graph.ops[0])


def test_clean_under_address_and_undefined_sanitizers():
    graph = float_graph()
    flags = ["-fsanitize=address,undefined,float-cast-overflow", "-fno-sanitize-recover=all", "-O1"]
    specials = float_inputs(0.02, size=128)[0].reshape(1, 4, 4, 8)
    result = verify_host(graph, write_tflite(graph), inputs=[[specials]], extra_cflags=flags)
    assert result.ok
    assert_bit_exact(graph, sanitize=True)


@settings(max_examples=8, deadline=None)
@given(zps=st.tuples(st.integers(-128, 127), st.integers(-128, 127)),
       log_scales=st.tuples(st.floats(-4, 1), st.floats(-4, 1)), seed=st.integers(0, 1000))
def test_property_float_round_trip(zps, log_scales, seed):
    s_in, s_mid = (float(10 ** v) for v in log_scales)
    m = ModelBuilder()
    x = m.input((2, 3, 50), "float32")
    q = m.tensor((2, 3, 50), scale=s_in, zero_point=zps[0])
    r = m.tensor((2, 3, 50), scale=s_mid, zero_point=zps[1])
    y = m.tensor((2, 3, 50), "float32")
    m.op("QUANTIZE", [x], [q])
    m.op("QUANTIZE", [q], [r])
    m.op("DEQUANTIZE", [r], [y])
    graph = m.graph([y])
    run_on(graph, *(v.reshape(2, 3, 50) for v in float_inputs(s_in, 300, seed)[:2]))
