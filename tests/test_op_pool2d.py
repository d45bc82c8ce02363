"""AVERAGE_POOL_2D and MAX_POOL_2D int8 are bit-exact with tflite-runtime's reference kernels."""
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import pool2d

POOLS = ["AVERAGE_POOL_2D", "MAX_POOL_2D"]


def pool_model(op_type, shape, filt, stride, padding="VALID", activation="NONE", zp=0,
               scale=0.05, out_scale=None, out_zp=None):
    n, h, w, c = shape
    m = ModelBuilder()
    x = m.input(shape, scale=scale, zero_point=zp)
    out_h = pool2d.out_size(padding, h, filt[0], stride[0])
    out_w = pool2d.out_size(padding, w, filt[1], stride[1])
    y = m.tensor((n, out_h, out_w, c), scale=scale if out_scale is None else out_scale,
                 zero_point=zp if out_zp is None else out_zp)
    m.op(op_type, [x], [y], padding=padding, filter_h=filt[0], filter_w=filt[1],
         stride_h=stride[0], stride_w=stride[1], activation=activation)
    return m.graph([y])


@pytest.mark.parametrize("op_type", POOLS)
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("filt,stride", [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 2), (1, 2)),
                                         ((1, 1), (1, 1)), ((5, 4), (3, 1))])
def test_filters_strides_and_paddings(op_type, padding, filt, stride):
    assert_bit_exact(pool_model(op_type, (1, 9, 8, 3), filt, stride, padding, zp=-4))


@pytest.mark.parametrize("op_type", POOLS)
@pytest.mark.parametrize("activation", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_fused_activations(op_type, activation):
    assert_bit_exact(pool_model(op_type, (1, 6, 6, 4), (3, 3), (1, 1), "SAME", activation,
                                zp=9, scale=0.02))


@pytest.mark.parametrize("op_type", POOLS)
@pytest.mark.parametrize("zp", [-128, 127])
def test_zero_points_at_the_extremes(op_type, zp):
    assert_bit_exact(pool_model(op_type, (2, 5, 7, 2), (2, 3), (2, 2), "SAME", "RELU", zp=zp))


@pytest.mark.parametrize("op_type", POOLS)
def test_global_pool_over_whole_image(op_type):
    assert_bit_exact(pool_model(op_type, (1, 7, 7, 16), (7, 7), (7, 7), "VALID"))


@pytest.mark.parametrize("op_type", POOLS)
def test_one_by_one_input(op_type):
    assert_bit_exact(pool_model(op_type, (1, 1, 1, 5), (3, 3), (2, 2), "SAME"))


def test_rejects_different_input_and_output_quantisation():
    g = pool_model("AVERAGE_POOL_2D", (1, 4, 4, 2), (2, 2), (2, 2), out_scale=0.1)
    with pytest.raises(UnsupportedOp, match="quantisation differ"):
        pool2d.check(g, g.ops[0])


def test_rejects_int16():
    m = ModelBuilder()
    x = m.input((1, 4, 4, 1), "int16")
    y = m.tensor((1, 2, 2, 1), "int16")
    m.op("MAX_POOL_2D", [x], [y], padding="VALID", filter_h=2, filter_w=2, stride_h=2, stride_w=2)
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="int16"):
        pool2d.check(g, g.ops[0])


@pytest.mark.parametrize("op_type", POOLS)
def test_clean_under_address_and_undefined_sanitizers(op_type):
    assert_bit_exact(pool_model(op_type, (2, 7, 6, 3), (3, 3), (2, 2), "SAME", zp=5),
                     sanitize=True)


@settings(max_examples=8, deadline=None)
@given(op_type=st.sampled_from(POOLS), n=st.integers(1, 2), h=st.integers(1, 12),
       w=st.integers(1, 12), c=st.integers(1, 9), fh=st.integers(1, 5), fw=st.integers(1, 5),
       sh=st.integers(1, 3), sw=st.integers(1, 3), padding=st.sampled_from(["SAME", "VALID"]),
       activation=st.sampled_from(["NONE", "RELU", "RELU6"]), zp=st.integers(-128, 127),
       scale=st.floats(1e-3, 1.0))
def test_property_shapes_and_quantisation(op_type, n, h, w, c, fh, fw, sh, sw, padding,
                                          activation, zp, scale):
    if padding == "VALID":
        fh, fw = min(fh, h), min(fw, w)
    assert_bit_exact(pool_model(op_type, (n, h, w, c), (fh, fw), (sh, sw), padding, activation,
                                zp=zp, scale=scale))
