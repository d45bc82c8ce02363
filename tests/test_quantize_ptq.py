"""Float graph -> int8 graph (tinyrt/quantize/ptq.py): every rule of the TFLite int8 spec the
quantizer follows, checked on small float models built in code."""
import numpy as np
import pytest

from builder import ModelBuilder
from tinyrt.frontend import parse_tflite
from tinyrt.ir import verify
from tinyrt.quantize import QuantConfig, quantize, requantize
from tinyrt.quantize.report import Int8Runner
from tinyrt.reference import Reference
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

CONV = dict(padding="SAME", stride_w=1, stride_h=1, dilation_w=1, dilation_h=1)
POOL = dict(padding="VALID", stride_w=2, stride_h=2, filter_w=2, filter_h=2, activation="NONE")


def float_cnn(seed=0):
    """input 8x8x3 -> CONV 3x3x6 RELU -> MAX_POOL -> DEPTHWISE 3x3 RELU6 -> AVERAGE_POOL ->
    RESHAPE -> FULLY_CONNECTED 5 -> SOFTMAX."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder("float_cnn")
    x = b.input((1, 8, 8, 3), "float32")
    w1 = b.const(rng.normal(0, 0.3, (6, 3, 3, 3)) * np.array([1, 2, 0.1, 5, 1, 0.01])[:, None,
                                                                             None, None], "float32")
    c1 = b.tensor((1, 8, 8, 6), "float32")
    b.op("CONV_2D", [x, w1, b.const(rng.normal(0, 0.1, 6), "float32")], [c1],
         activation="RELU", **CONV)
    p1 = b.tensor((1, 4, 4, 6), "float32")
    b.op("MAX_POOL_2D", [c1], [p1], **POOL)
    d = b.tensor((1, 4, 4, 6), "float32")
    b.op("DEPTHWISE_CONV_2D", [p1, b.const(rng.normal(0, 0.5, (1, 3, 3, 6)), "float32"),
                               b.const(rng.normal(0, 0.1, 6), "float32")], [d],
         activation="RELU6", depth_multiplier=1, **CONV)
    p2 = b.tensor((1, 2, 2, 6), "float32")
    b.op("AVERAGE_POOL_2D", [d], [p2], **POOL)
    f = b.tensor((1, 24), "float32")
    b.op("RESHAPE", [p2, b.const([1, 24], "int32")], [f], new_shape=[1, 24])
    logits = b.tensor((1, 5), "float32")
    b.op("FULLY_CONNECTED", [f, b.const(rng.normal(0, 0.4, (5, 24)), "float32"),
                             b.const(rng.normal(0, 0.1, 5), "float32")], [logits],
         activation="NONE", keep_num_dims=False)
    y = b.tensor((1, 5), "float32")
    b.op("SOFTMAX", [logits], [y], beta=1.0)
    return b.graph([y])


def samples(graph, n=40, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    return [[(rng.normal(0, scale, graph.t(k).shape)).astype(np.float32) for k in graph.inputs]
            for _ in range(n)]


@pytest.fixture(scope="module")
def cnn():
    g = float_cnn()
    return g, quantize(g, samples(g), progress=False)


def ops_by_type(graph, op_type):
    return [op for op in graph.ops if op.type == op_type]


def test_result_is_a_valid_full_integer_graph(cnn):
    _, r = cnn
    verify(r.graph)
    for k in r.graph.inputs + r.graph.outputs:
        assert r.graph.t(k).dtype == "int8"
    for t in r.graph.tensors:
        assert t.dtype != "float32"


def test_conv_weights_are_per_channel_symmetric_along_axis_0(cnn):
    _, r = cnn
    w = r.graph.t(ops_by_type(r.graph, "CONV_2D")[0].inputs[1])
    assert w.dtype == "int8" and w.quant.axis == 0 and w.quant.scale.size == 6
    assert np.all(w.quant.zero_point == 0) and w.data.min() >= -127
    # every channel uses its full range: max |q| is 127 per channel
    assert np.all(np.abs(w.data).reshape(6, -1).max(axis=1) == 127)


def test_depthwise_weights_are_per_channel_along_axis_3(cnn):
    _, r = cnn
    w = r.graph.t(ops_by_type(r.graph, "DEPTHWISE_CONV_2D")[0].inputs[1])
    assert w.quant.axis == 3 and w.quant.scale.size == 6
    assert np.all(np.abs(w.data).reshape(-1, 6).max(axis=0) == 127)


def test_fully_connected_weights_are_per_tensor_by_default_and_per_channel_on_request(cnn):
    g, r = cnn
    w = r.graph.t(ops_by_type(r.graph, "FULLY_CONNECTED")[0].inputs[1])
    assert w.quant.scale.size == 1
    pc = requantize(r, QuantConfig(per_channel_fc=True)).graph
    w = pc.t(ops_by_type(pc, "FULLY_CONNECTED")[0].inputs[1])
    assert w.quant.scale.size == 5 and w.quant.axis == 0
    Reference(write_tflite(pc))   # tflite-runtime 2.14 accepts per-channel FC weights


@pytest.mark.parametrize("op_type", ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"])
def test_bias_is_int32_with_scale_input_times_weight(cnn, op_type):
    _, r = cnn
    op = ops_by_type(r.graph, op_type)[0]
    x, w, bias = (r.graph.t(k) for k in op.inputs)
    assert bias.dtype == "int32" and np.all(bias.quant.zero_point == 0)
    assert bias.quant.scale.size == w.quant.scale.size
    np.testing.assert_array_equal(bias.quant.scale, (x.quant.scale[0] * w.quant.scale)
                                  .astype(np.float32))


def test_weights_dequantise_to_within_half_a_step(cnn):
    g, r = cnn
    for op_f, op_q in zip(g.ops, r.graph.ops):
        if op_f.type in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            wf, wq = g.t(op_f.inputs[1]).data, r.graph.t(op_q.inputs[1])
            axis = wq.quant.axis
            shape = [1] * 4
            shape[axis] = -1
            step = wq.quant.scale.reshape(shape)
            assert np.all(np.abs(wq.data * step - wf) <= step / 2 * (1 + 1e-5))


@pytest.mark.parametrize("op_type", ["MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE"])
def test_same_scale_ops_keep_their_input_quantisation(cnn, op_type):
    _, r = cnn
    for op in ops_by_type(r.graph, op_type):
        assert r.graph.t(op.inputs[0]).quant == r.graph.t(op.outputs[0]).quant


def test_softmax_output_is_fixed_at_1_over_256_and_minus_128(cnn):
    _, r = cnn
    q = r.graph.t(ops_by_type(r.graph, "SOFTMAX")[0].outputs[0]).quant
    assert float(q.scale[0]) == 1 / 256 and int(q.zero_point[0]) == -128


@pytest.mark.parametrize("op_type, scale, zp", [("LOGISTIC", 1 / 256, -128), ("TANH", 1 / 128, 0)])
def test_logistic_and_tanh_outputs_are_fixed(op_type, scale, zp):
    b = ModelBuilder("act")
    x = b.input((1, 16), "float32")
    y = b.tensor((1, 16), "float32")
    b.op(op_type, [x], [y])
    g = b.graph([y])
    q = quantize(g, samples(g, 10, scale=4), progress=False).graph.t(y).quant
    assert float(q.scale[0]) == scale and int(q.zero_point[0]) == zp


def test_relu_outputs_use_all_256_levels_from_zero(cnn):
    _, r = cnn
    q = r.graph.t(ops_by_type(r.graph, "CONV_2D")[0].outputs[0]).quant
    assert int(q.zero_point[0]) == -128


def test_concatenation_shares_one_quantisation_with_its_inputs():
    b = ModelBuilder("concat")
    x = b.input((1, 4, 4, 2), "float32")
    y1, y2, y = (b.tensor(s, "float32") for s in ((1, 4, 4, 2), (1, 4, 4, 2), (1, 4, 4, 4)))
    b.op("RELU", [x], [y1])
    b.op("ADD", [x, x], [y2], activation="NONE")
    b.op("CONCATENATION", [y1, y2], [y], axis=3, activation="NONE")
    g = b.graph([y])
    q = quantize(g, samples(g, 10), progress=False).graph
    assert q.t(y1).quant == q.t(y2).quant == q.t(y).quant
    Reference(write_tflite(q))   # TFLite's int8 concatenation requires equal parameters


def test_concatenating_a_fixed_quantisation_inserts_a_requantize():
    b = ModelBuilder("concat_softmax")
    x = b.input((1, 8), "float32")
    s, r, y = b.tensor((1, 8), "float32"), b.tensor((1, 8), "float32"), b.tensor((1, 16), "float32")
    b.op("SOFTMAX", [x], [s], beta=1.0)
    b.op("RELU", [x], [r])
    b.op("CONCATENATION", [s, r], [y], axis=1, activation="NONE")
    g = b.graph([y])
    q = quantize(g, samples(g, 10, scale=3), progress=False).graph
    requant = ops_by_type(q, "QUANTIZE")
    assert len(requant) == 1 and requant[0].inputs == [s]
    concat = ops_by_type(q, "CONCATENATION")[0]
    assert {q.t(k).quant == q.t(y).quant for k in concat.inputs} == {True}
    Reference(write_tflite(q))


def test_float_io_keeps_float32_ends_with_quantize_and_dequantize(cnn):
    g, r = cnn
    q = requantize(r, QuantConfig(float_io=True)).graph
    verify(q)
    assert q.ops[0].type == "QUANTIZE" and q.ops[-1].type == "DEQUANTIZE"
    assert [q.t(k).dtype for k in q.inputs + q.outputs] == ["float32", "float32"]
    x = samples(g, 3)
    got = [Reference(write_tflite(q)).run(s)[0] for s in x]
    want = [Int8Runner(write_tflite(r.graph)).run(s)[0] for s in x]
    np.testing.assert_allclose(np.array(got)[:, 0], np.array(want)[:, 0], atol=1e-7)


def test_bias_correction_removes_the_mean_error_of_weight_rounding():
    """A 1x1 conv of a non-zero-mean input: with correction the mean output error is smaller."""
    rng = np.random.default_rng(5)
    b = ModelBuilder("bias_corr")
    x = b.input((1, 6, 6, 16), "float32")
    y = b.tensor((1, 6, 6, 8), "float32")
    b.op("CONV_2D", [x, b.const(rng.normal(0, 1, (8, 1, 1, 16)) * np.r_[50, np.ones(15)],
                                "float32"), b.const(np.zeros(8), "float32")], [y],
         activation="NONE", **CONV)
    g = b.graph([y])
    data = [[(rng.uniform(0, 1, (1, 6, 6, 16)) + 3).astype(np.float32)] for _ in range(30)]
    plain = quantize(g, data, progress=False)
    corrected = requantize(plain, QuantConfig(bias_correction=True))
    ref = Reference(write_tflite(plain.float_graph))

    def mean_error(r):
        run = Int8Runner(write_tflite(r.graph))
        return np.abs(np.mean([run.run(s)[0] - ref.run(s)[0] for s in data], axis=(0, 1, 2, 3)))
    assert mean_error(corrected).mean() < 0.5 * mean_error(plain).mean()


def test_constant_operand_of_an_add_is_quantised_with_its_own_range():
    b = ModelBuilder("addconst")
    x = b.input((1, 10), "float32")
    y = b.tensor((1, 10), "float32")
    b.op("ADD", [x, b.const(np.linspace(-3, 5, 10), "float32")], [y], activation="NONE")
    g = b.graph([y])
    q = quantize(g, samples(g, 10), progress=False).graph
    c = q.t(q.ops[0].inputs[1])
    assert c.dtype == "int8" and c.data.min() == -128 and c.data.max() == 127
    Reference(write_tflite(q))


def test_bias_too_large_for_int32_raises_the_weight_scale():
    """A tiny weight with a large bias: TFLite's quantizer widens the weight range so that the
    bias quantises to about 2^30; so does tinyrt."""
    b = ModelBuilder("bigbias")
    x = b.input((1, 4), "float32")
    y = b.tensor((1, 2), "float32")
    b.op("FULLY_CONNECTED", [x, b.const([[1e-9] * 4, [1.0] * 4], "float32"),
                             b.const([100.0, 0.5], "float32")], [y], activation="NONE",
         keep_num_dims=False)
    g = b.graph([y])
    q = quantize(g, samples(g, 10), QuantConfig(per_channel_fc=True), progress=False).graph
    bias = q.t(q.ops[0].inputs[2]).data
    assert abs(int(bias[0])) <= 2**30 + 2**8


def test_every_existing_tensor_keeps_its_index(cnn):
    g, r = cnn
    for k, t in enumerate(r.float_graph.tensors):
        assert r.graph.t(k).name == t.name and r.graph.t(k).shape == t.shape


@pytest.mark.parametrize("config", [QuantConfig(), QuantConfig(float_io=True),
                                    QuantConfig(per_channel_fc=True, bias_correction=True)])
def test_written_model_reads_back_equal_and_loads_in_tflite_runtime(config):
    """A float model as the frontend reads it (op names are output tensor names) round-trips."""
    g = parse_tflite(write_tflite(float_cnn()), name="float_cnn")
    q = quantize(g, samples(g, 10), config, progress=False).graph
    data = write_tflite(q)
    assert parse_tflite(data, name=q.name) == q
    Reference(data)


@pytest.mark.parametrize("config", [
    QuantConfig(), QuantConfig(method="percentile"),
    QuantConfig(method="mse", bias_correction=True),
    QuantConfig(per_channel_fc=True, float_io=True)], ids=["minmax", "percentile", "mse+bc",
                                                           "pcfc+float_io"])
def test_quantised_model_is_bit_exact_in_generated_code(cnn, config):
    _, r = cnn
    q = requantize(r, config).graph
    result = verify_host(q, write_tflite(q), runs=4)
    assert result.ok, [x for x in result.runs if not x.bit_exact]


def test_requantized_concatenation_is_bit_exact_in_generated_code():
    b = ModelBuilder("concat_softmax")
    x = b.input((1, 8), "float32")
    s, r, y = b.tensor((1, 8), "float32"), b.tensor((1, 8), "float32"), b.tensor((1, 16), "float32")
    b.op("SOFTMAX", [x], [s], beta=1.0)
    b.op("RELU", [x], [r])
    b.op("CONCATENATION", [s, r], [y], axis=1, activation="NONE")
    g = b.graph([y])
    q = quantize(g, samples(g, 10, scale=3), progress=False).graph
    assert verify_host(q, write_tflite(q), runs=4).ok


def test_int8_outputs_track_the_float_model(cnn):
    g, r = cnn
    ref, run = Reference(write_tflite(r.float_graph)), Int8Runner(write_tflite(r.graph))
    held = samples(g, 30, seed=9)
    agree = np.mean([ref.run(s)[0].argmax() == run.run(s)[0].argmax() for s in held])
    assert agree >= 0.9


def test_per_layer_precision_is_int8_or_fp16():
    from tinyrt.errors import TinyrtError
    QuantConfig(layer_dtypes={"conv1": "fp16", "conv2": "int8"})
    with pytest.raises(TinyrtError, match="int16 is not implemented yet"):
        QuantConfig(layer_dtypes={"conv1": "int16"})


def test_per_layer_precision_names_must_be_layers(cnn):
    from tinyrt.errors import TinyrtError
    _, r = cnn
    with pytest.raises(TinyrtError, match="no layer named nope"):
        requantize(r, QuantConfig(layer_dtypes={"nope": "int8"}))
    name = r.float_graph.ops[0].name
    assert requantize(r, QuantConfig(layer_dtypes={name: "int8"})).graph == r.graph
