"""CONV_2D int8 is bit-exact with tflite-runtime's reference kernel (ConvPerChannel), in both
kernel variants: the generic conv2d_s8 and the pointwise conv2d_s8_1x1."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import assert_bit_exact, c_value, rand_int8
from tinyrt.boards import load_board
from tinyrt.errors import UnsupportedOp
from tinyrt.frontend import read_tflite
from tinyrt.ir import Graph, Op
from tinyrt.ops import conv2d
from tinyrt.ops.conv2d import scratch_bytes
from tinyrt.ops.geometry import window_axis
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


def conv_model(shape=(1, 7, 6, 3), filters=5, kernel=(3, 3), stride=(1, 1), dilation=(1, 1),
               padding="SAME", in_zp=-3, out_zp=5, activation="NONE", groups=1,
               per_channel=True, bias=True, w_scale=0.02, out_scale=0.1, seed=0):
    rng = np.random.default_rng(seed)
    n, h, w, c = shape
    m = ModelBuilder()
    x = m.input(shape, scale=0.05, zero_point=in_zp)
    ws = w_scale * 10 ** rng.uniform(-1, 1, filters) if per_channel else w_scale
    wt = m.const(rand_int8(rng, (filters, *kernel, c // groups)), "int8", scale=ws, zero_point=0)
    inputs = [x, wt]
    inputs.append(m.const(rng.integers(-5000, 5000, filters), "int32",
                          scale=0.05 * np.atleast_1d(ws), zero_point=0) if bias else -1)
    oh = window_axis(h, kernel[0], stride[0], dilation[0], padding).out
    ow = window_axis(w, kernel[1], stride[1], dilation[1], padding).out
    y = m.tensor((n, oh, ow, filters), scale=out_scale, zero_point=out_zp)
    m.op("CONV_2D", inputs, [y], padding=padding, stride_h=stride[0], stride_w=stride[1],
         dilation_h=dilation[0], dilation_w=dilation[1], activation=activation)
    return m.graph([y])


def kernel_of(graph):
    return codegen.lower(graph, load_board("host")).layers[0].kernel


# --- kernel choice -------------------------------------------------------------------------------

def test_pointwise_layers_use_the_matrix_multiply_kernel():
    assert kernel_of(conv_model(kernel=(1, 1))) == "conv2d_s8_1x1"


@pytest.mark.parametrize("case", [dict(kernel=(1, 1), stride=(2, 2)), dict(kernel=(3, 3)),
                                  dict(kernel=(1, 1), groups=3, shape=(1, 4, 4, 6), filters=6)])
def test_other_layers_use_the_generic_kernel(case):
    assert kernel_of(conv_model(**case)) == "conv2d_s8"


def test_scratch_size_agrees_with_the_kernel_header(tmp_path):
    assert scratch_bytes(3, 5, 7) == c_value(tmp_path, "conv2d_s8",
                                             "CONV2D_S8_SCRATCH_BYTES(3, 5, 7)")


def test_pointwise_layers_need_no_scratch():
    g = conv_model(kernel=(1, 1))
    assert codegen.lower(g, load_board("host")).layers[0].call.scratch_bytes == 0


# --- generic conv2d_s8 ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_activations(activation):
    assert_bit_exact(conv_model(activation=activation))


@pytest.mark.parametrize("in_zp,out_zp", [(-128, -128), (127, 127), (0, 0), (-128, 127)])
def test_zero_points_at_the_extremes(in_zp, out_zp):
    assert_bit_exact(conv_model(in_zp=in_zp, out_zp=out_zp))


@pytest.mark.parametrize("stride,padding", [((2, 2), "SAME"), ((2, 2), "VALID"),
                                            ((3, 3), "VALID"), ((2, 1), "SAME"),
                                            ((1, 3), "SAME")])
def test_strides_and_paddings(stride, padding):
    assert_bit_exact(conv_model(shape=(1, 9, 8, 3), stride=stride, padding=padding))


@pytest.mark.parametrize("kernel", [(1, 3), (5, 5), (10, 4), (2, 2)])
def test_kernel_shapes(kernel):
    assert_bit_exact(conv_model(shape=(1, 11, 7, 2), kernel=kernel, stride=(2, 2)))


def test_window_larger_than_the_input_reads_only_real_taps():
    """SAME padding with a 5x5 window on 3x3: every window is a border window."""
    assert_bit_exact(conv_model(shape=(1, 3, 3, 4), kernel=(5, 5), in_zp=100))


@pytest.mark.parametrize("dilation,padding", [((2, 2), "SAME"), ((2, 3), "VALID"),
                                              ((3, 1), "SAME")])
def test_dilation(dilation, padding):
    assert_bit_exact(conv_model(shape=(1, 9, 10, 3), dilation=dilation, padding=padding))


def test_grouped_convolution():
    assert_bit_exact(conv_model(shape=(1, 6, 5, 6), filters=9, groups=3, stride=(2, 1)))


@pytest.mark.parametrize("axis", [0, 3])
def test_per_tensor_weights(axis):
    """One scale broadcast to every filter, whatever quantized_dimension says."""
    g = conv_model(per_channel=False)
    g.tensors[1].quant = dataclasses.replace(g.tensors[1].quant, axis=axis)
    assert_bit_exact(g)


def test_without_bias_computes_as_a_zero_bias():
    """tflite-runtime 2.14 refuses CONV_2D without a bias (TFLite Micro accepts it); tinyrt
    compiles it as a zero bias, checked against the reference running an explicit zero bias."""
    with_zeros = conv_model(in_zp=77)
    with_zeros.tensors[2].data = np.zeros_like(with_zeros.tensors[2].data)
    result = verify_host(conv_model(bias=False, in_zp=77), write_tflite(with_zeros), runs=3)
    assert result.ok


@pytest.mark.parametrize("w_scale,out_scale", [(1e-4, 1.0), (0.5, 1e-3), (1.0, 1e-4)])
def test_scales_over_orders_of_magnitude(w_scale, out_scale):
    """Requantisation multipliers from ~1e-6 up to >100 (left shifts)."""
    assert_bit_exact(conv_model(w_scale=w_scale, out_scale=out_scale))


def test_batches():
    assert_bit_exact(conv_model(shape=(2, 5, 4, 3), stride=(2, 2)))


# --- pointwise conv2d_s8_1x1 ---------------------------------------------------------------------

@pytest.mark.parametrize("shape,filters", [((1, 5, 3, 7), 9), ((1, 4, 4, 16), 8),
                                           ((2, 3, 3, 1), 1)])
def test_pointwise_odd_pixel_and_channel_counts(shape, filters):
    assert_bit_exact(conv_model(shape=shape, filters=filters, kernel=(1, 1), in_zp=-128))


def test_pointwise_activation_and_extreme_zero_points():
    assert_bit_exact(conv_model(shape=(1, 3, 5, 6), kernel=(1, 1), in_zp=127, out_zp=-128,
                                activation="RELU6"))


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(conv_model(shape=(1, 9, 8, 6), filters=5, kernel=(3, 2), stride=(2, 1),
                                dilation=(2, 1), in_zp=-128), sanitize=True)
    assert_bit_exact(conv_model(shape=(1, 6, 5, 6), filters=4, groups=2, dilation=(1, 2)),
                     sanitize=True)
    assert_bit_exact(conv_model(shape=(1, 5, 3, 7), filters=5, kernel=(1, 1)), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), c=st.integers(1, 9), filters=st.integers(1, 9),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2), padding=st.sampled_from(["SAME", "VALID"]),
       in_zp=st.integers(-128, 127), out_zp=st.integers(-128, 127), seed=st.integers(0, 1000),
       w_scale=st.floats(1e-4, 1.0))
def test_property_shapes_and_quantisation(h, w, c, filters, kh, kw, sh, sw, dh, dw, padding,
                                          in_zp, out_zp, seed, w_scale):
    if padding == "VALID" and ((kh - 1) * dh + 1 > h or (kw - 1) * dw + 1 > w):
        padding = "SAME"
    assert_bit_exact(conv_model((1, h, w, c), filters, (kh, kw), (sh, sw), (dh, dw), padding,
                                in_zp, out_zp, seed=seed, w_scale=w_scale))


# --- what is rejected -----------------------------------------------------------------------------

def test_rejects_float_convolution():
    g = conv_model()
    g.tensors[0] = dataclasses.replace(g.tensors[0], dtype="float32", quant=None)
    with pytest.raises(UnsupportedOp, match="input is float32"):
        conv2d.check(g, g.ops[0])


def test_rejects_weights_with_a_zero_point():
    g = conv_model()
    q = g.tensors[1].quant
    g.tensors[1].quant = dataclasses.replace(q, zero_point=q.zero_point + 1)
    with pytest.raises(UnsupportedOp, match="zero point"):
        conv2d.check(g, g.ops[0])


def test_rejects_an_output_shape_tflite_would_not_compute():
    g = conv_model()
    g.tensors[-1] = dataclasses.replace(g.tensors[-1], shape=(1, 6, 6, 5))
    with pytest.raises(UnsupportedOp, match="output shape"):
        conv2d.check(g, g.ops[0])


def test_macs_count_taps_times_channels_per_group():
    g = conv_model(shape=(1, 6, 5, 6), filters=9, groups=3, kernel=(3, 2), stride=(2, 1))
    assert conv2d.macs(g, g.ops[0]) == 3 * 5 * 9 * 3 * 2 * 2


# --- the layers of the MLPerf Tiny models ---------------------------------------------------------

def conv_layers(graph: Graph) -> Graph:
    """Every CONV_2D / DEPTHWISE_CONV_2D of ``graph`` side by side: each layer's input becomes a
    graph input and its output a graph output, so one build checks all of them."""
    tensors, ops, inputs, outputs = [], [], [], []
    for op in graph.ops:
        if op.type not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        remap = {}
        for t in op.inputs + op.outputs:
            if t >= 0 and t not in remap:
                remap[t] = len(tensors)
                src = graph.t(t)
                tensors.append(dataclasses.replace(src, name=f"{len(tensors)}_{src.name}"))
        inputs.append(remap[op.inputs[0]])
        outputs.append(remap[op.outputs[0]])
        ops.append(Op(op.type, [remap.get(t, -1) for t in op.inputs],
                      [remap[t] for t in op.outputs], dict(op.attrs), op.name))
    return Graph(tensors, ops, inputs, outputs, f"{graph.name}_convs")


@pytest.mark.parametrize("model", ["kws_int8", "vww_int8", "ic_resnet8_int8"])
def test_every_conv_layer_of_the_mlperf_tiny_models(shared_models, model):
    graph = conv_layers(read_tflite(shared_models / f"{model}.tflite"))
    assert graph.ops
    assert_bit_exact(graph, runs=3)
