"""DEPTHWISE_CONV_2D int8 is bit-exact with tflite-runtime's reference kernel
(DepthwiseConvPerChannel), in both kernel variants: the generic dwconv_s8 and the unrolled
dwconv_s8_3x3. The layers of the MLPerf Tiny models are checked in test_op_conv2d.py."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import assert_bit_exact, rand_int8
from tinyrt.boards import load_board
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import depthwise_conv2d
from tinyrt.ops.geometry import window_axis
from tinyrt.ops.depthwise_conv2d import scratch_bytes
from conformance import c_value


def dw_model(shape=(1, 7, 6, 4), multiplier=1, kernel=(3, 3), stride=(1, 1), dilation=(1, 1),
             padding="SAME", in_zp=-3, out_zp=5, activation="NONE", per_channel=True, bias=True,
             w_scale=0.02, out_scale=0.1, seed=0):
    rng = np.random.default_rng(seed)
    n, h, w, c = shape
    out_c = c * multiplier
    m = ModelBuilder()
    x = m.input(shape, scale=0.05, zero_point=in_zp)
    ws = w_scale * 10 ** rng.uniform(-1, 1, out_c) if per_channel else w_scale
    wt = m.const(rand_int8(rng, (1, *kernel, out_c)), "int8", scale=ws, zero_point=0, axis=3)
    inputs = [x, wt]
    if bias:   # TFLite takes a missing bias as two inputs (a -1 third input fails to prepare)
        inputs.append(m.const(rng.integers(-5000, 5000, out_c), "int32",
                              scale=0.05 * np.atleast_1d(ws), zero_point=0))
    oh = window_axis(h, kernel[0], stride[0], dilation[0], padding).out
    ow = window_axis(w, kernel[1], stride[1], dilation[1], padding).out
    y = m.tensor((n, oh, ow, out_c), scale=out_scale, zero_point=out_zp)
    m.op("DEPTHWISE_CONV_2D", inputs, [y], padding=padding, stride_h=stride[0],
         stride_w=stride[1], dilation_h=dilation[0], dilation_w=dilation[1],
         depth_multiplier=multiplier, activation=activation)
    return m.graph([y])


def kernel_of(graph):
    return codegen.lower(graph, load_board("host")).layers[0].kernel


# --- kernel choice -------------------------------------------------------------------------------

@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (1, 3)])
def test_3x3_without_multiplier_or_dilation_uses_the_unrolled_kernel(stride):
    assert kernel_of(dw_model(stride=stride)) == "dwconv_s8_3x3"


@pytest.mark.parametrize("case", [dict(multiplier=2), dict(dilation=(2, 2)), dict(kernel=(5, 5)),
                                  dict(kernel=(3, 1))])
def test_other_layers_use_the_generic_kernel(case):
    assert kernel_of(dw_model(**case)) == "dwconv_s8"


def test_scratch_size_agrees_with_the_kernel_header(tmp_path):
    assert scratch_bytes(3, 5, 7) == c_value(tmp_path, "dwconv_s8",
                                             "DWCONV_S8_SCRATCH_BYTES(3, 5, 7)")


@pytest.mark.parametrize("padding,scratch", [("SAME", 9 * 4), ("VALID", 0)])
def test_scratch_holds_one_border_window_when_there_are_border_windows(padding, scratch):
    g = dw_model(padding=padding)
    assert depthwise_conv2d.lower(g, g.ops[0], load_board("host")).scratch_bytes == scratch


# --- unrolled dwconv_s8_3x3 -----------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_activations(activation):
    assert_bit_exact(dw_model(activation=activation))


@pytest.mark.parametrize("in_zp,out_zp", [(-128, -128), (127, 127), (0, 0), (127, -128)])
def test_zero_points_at_the_extremes(in_zp, out_zp):
    assert_bit_exact(dw_model(in_zp=in_zp, out_zp=out_zp))


@pytest.mark.parametrize("stride,padding", [((2, 2), "SAME"), ((2, 2), "VALID"),
                                            ((3, 3), "SAME"), ((1, 2), "VALID")])
def test_3x3_strides_and_paddings(stride, padding):
    assert_bit_exact(dw_model(shape=(1, 9, 8, 5), stride=stride, padding=padding))


@pytest.mark.parametrize("shape", [(1, 1, 1, 3), (1, 2, 3, 1), (1, 3, 3, 8)])
def test_3x3_on_inputs_no_larger_than_the_window(shape):
    assert_bit_exact(dw_model(shape=shape, in_zp=90))


@pytest.mark.parametrize("w_scale,out_scale", [(1e-4, 1.0), (0.5, 1e-3), (1.0, 1e-4)])
def test_scales_over_orders_of_magnitude(w_scale, out_scale):
    assert_bit_exact(dw_model(w_scale=w_scale, out_scale=out_scale))


@pytest.mark.parametrize("axis", [3, 0])
def test_per_tensor_weights(axis):
    """One scale broadcast to every channel, whatever quantized_dimension says."""
    g = dw_model(per_channel=False)
    g.tensors[1].quant = dataclasses.replace(g.tensors[1].quant, axis=axis)
    assert_bit_exact(g)


def test_without_bias():
    assert_bit_exact(dw_model(bias=False, in_zp=-77))


def test_batches():
    assert_bit_exact(dw_model(shape=(2, 5, 6, 3), stride=(2, 2)))


# --- generic dwconv_s8 ---------------------------------------------------------------------------

@pytest.mark.parametrize("multiplier", [2, 3])
def test_depth_multiplier(multiplier):
    assert_bit_exact(dw_model(shape=(1, 6, 5, 3), multiplier=multiplier, stride=(2, 1)))


def test_depth_multiplier_comes_from_the_shapes_not_the_attribute():
    """TFLite's Eval derives it from filter/input channels (ComputeDepthMultiplier)."""
    g = dw_model(shape=(1, 5, 5, 2), multiplier=3)
    g.ops[0].attrs["depth_multiplier"] = 1
    assert_bit_exact(g)


@pytest.mark.parametrize("kernel", [(1, 1), (5, 5), (3, 1), (2, 4)])
def test_kernel_shapes(kernel):
    assert_bit_exact(dw_model(shape=(1, 8, 7, 3), kernel=kernel, stride=(2, 2), in_zp=-128))


@pytest.mark.parametrize("dilation,padding", [((2, 2), "SAME"), ((2, 3), "VALID"),
                                              ((1, 3), "SAME")])
def test_dilation(dilation, padding):
    assert_bit_exact(dw_model(shape=(1, 9, 10, 3), dilation=dilation, padding=padding))


def test_generic_activation_and_extreme_zero_points():
    assert_bit_exact(dw_model(multiplier=2, in_zp=127, out_zp=-128, activation="RELU6"))


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(dw_model(shape=(1, 7, 6, 5), stride=(2, 1), in_zp=-128), sanitize=True)
    assert_bit_exact(dw_model(shape=(1, 7, 6, 3), multiplier=2, kernel=(3, 2), dilation=(2, 1),
                              stride=(1, 2)), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), c=st.integers(1, 9), mult=st.integers(1, 3),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2), padding=st.sampled_from(["SAME", "VALID"]),
       in_zp=st.integers(-128, 127), out_zp=st.integers(-128, 127), seed=st.integers(0, 1000),
       w_scale=st.floats(1e-4, 1.0))
def test_property_shapes_and_quantisation(h, w, c, mult, kh, kw, sh, sw, dh, dw, padding, in_zp,
                                          out_zp, seed, w_scale):
    if padding == "VALID" and ((kh - 1) * dh + 1 > h or (kw - 1) * dw + 1 > w):
        padding = "SAME"
    assert_bit_exact(dw_model((1, h, w, c), mult, (kh, kw), (sh, sw), (dh, dw), padding, in_zp,
                              out_zp, seed=seed, w_scale=w_scale))


@settings(max_examples=6, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), c=st.integers(1, 12), sh=st.integers(1, 3),
       sw=st.integers(1, 3), padding=st.sampled_from(["SAME", "VALID"]),
       in_zp=st.integers(-128, 127), seed=st.integers(0, 1000))
def test_property_3x3(h, w, c, sh, sw, padding, in_zp, seed):
    if padding == "VALID" and (h < 3 or w < 3):
        padding = "SAME"
    assert_bit_exact(dw_model((1, h, w, c), 1, (3, 3), (sh, sw), padding=padding, in_zp=in_zp,
                              seed=seed))


# --- what is rejected -----------------------------------------------------------------------------

def test_rejects_int16_activations():
    g = dw_model()
    g.tensors[0] = dataclasses.replace(g.tensors[0], dtype="int16")
    with pytest.raises(UnsupportedOp, match="input is int16"):
        depthwise_conv2d.check(g, g.ops[0])


def test_rejects_per_channel_scales_along_another_axis():
    g = dw_model()
    g.tensors[1].quant = dataclasses.replace(g.tensors[1].quant, axis=0)
    with pytest.raises(UnsupportedOp, match="along dimension 0"):
        depthwise_conv2d.check(g, g.ops[0])


def test_macs_count_output_elements_times_taps():
    g = dw_model(shape=(1, 6, 5, 3), multiplier=2, kernel=(3, 2), stride=(2, 1))
    assert depthwise_conv2d.macs(g, g.ops[0]) == 3 * 5 * 6 * 3 * 2
