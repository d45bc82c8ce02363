"""tinyrt's int8 quantisation of the float MLPerf Tiny models beside the int8 models
TensorFlow's converter made from the same networks (../shared/models).

Inputs: the shared folder has no datasets. Each model gets smooth random fields
(tinyrt.quantize.synthetic) over the real range TensorFlow's int8 model covers at its input:
100 for calibration (seed 1) and 150 held out (seed 2), drawn the same way. Both int8 models
are compared with the float model on the held-out set. TensorFlow calibrated on the real data,
which these inputs only imitate, so this favours the quantizer calibrated on data like the
held-out set; ``test_..._equal_tensorflows`` removes calibration from the comparison.
ad01 is an autoencoder: it is compared by output SQNR and the correlation of its anomaly score
(mean squared reconstruction error) with the float model's, not by top-1.
"""
import numpy as np
import pytest

from tinyrt.frontend import parse_tflite, read_tflite
from tinyrt.quantize import QuantConfig, quantize, requantize
from tinyrt.quantize.ptq import quantize_graph
from tinyrt.quantize.report import align_ops, compare_many
from tinyrt.quantize.synthetic import input_range, smooth_inputs
from tinyrt.reference import Reference
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

CLASSIFIERS = ["kws", "vww", "ic_resnet8"]
MODELS = CLASSIFIERS + ["ad01"]
CONFIGS = {"minmax": QuantConfig(), "mse+bc": QuantConfig(method="mse", bias_correction=True)}
_cache: dict = {}


def setup(models_dir, name):
    """Quantise once per model; compare TF's and every config's int8 model in one pass."""
    if name not in _cache:
        graph = read_tflite(models_dir / f"{name}_float.tflite")
        tf = read_tflite(models_dir / f"{name}_int8.tflite")
        lo, hi = input_range(tf)
        shape = graph.t(graph.inputs[0]).shape
        calib, held = smooth_inputs(shape, lo, hi, 100, 1), smooth_inputs(shape, lo, hi, 150, 2)
        result = quantize(graph, calib, progress=False)
        fg = result.float_graph
        ours = {c: requantize(result, cfg).graph for c, cfg in CONFIGS.items()}
        reports = compare_many(fg, [(tf, align_ops(fg, tf))] + [(g, None) for g in ours.values()],
                               held, progress=False)
        _cache[name] = dict(result=result, tf=tf, tf_report=reports[0],
                            reports=dict(zip(ours, reports[1:])))
    return _cache[name]


def report(models_dir, name, config):
    s = setup(models_dir, name)
    return s["reports"][config], s["tf_report"]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_top1_agreement_with_float_is_at_least_tensorflows(shared_models, name, config):
    ours, tf = report(shared_models, name, config)
    assert ours["top1_agreement"] >= tf["top1_agreement"], (ours, tf)


@pytest.mark.parametrize("config", CONFIGS)
def test_ad01_reconstruction_tracks_float_at_least_as_well_as_tensorflows(shared_models, config):
    ours, tf = report(shared_models, "ad01", config)
    assert ours["output_sqnr_db"] >= tf["output_sqnr_db"], (ours, tf)
    assert ours["score_correlation"] >= tf["score_correlation"], (ours, tf)


@pytest.mark.parametrize("name", MODELS)
def test_quantised_model_is_bit_exact_in_generated_code(shared_models, name):
    graph = setup(shared_models, name)["result"].graph
    result = verify_host(graph, write_tflite(graph), runs=10, seed=0)
    assert result.bit_exact_runs == 10, [r for r in result.runs if not r.bit_exact][:3]


@pytest.mark.parametrize("name", MODELS)
def test_quantised_model_round_trips_and_loads(shared_models, name):
    graph = setup(shared_models, name)["result"].graph
    data = write_tflite(graph)
    assert parse_tflite(data, name=graph.name) == graph
    Reference(data)


@pytest.mark.parametrize("name", ["vww", "ic_resnet8", "ad01"])
def test_with_tensorflows_activation_ranges_weights_and_biases_equal_tensorflows(
        shared_models, name):
    """Given TF's activation quantisation, tinyrt's int8 weights, weight scales and int32
    biases are TF's, value for value. (kws_float.tflite keeps int8 'hybrid' conv weights, not
    the float weights TF quantised, so it cannot match.)"""
    s = setup(shared_models, name)
    fg, tf = s["result"].float_graph, s["tf"]
    amap = align_ops(fg, tf)
    fixed = {k: (float(tf.t(v).quant.scale[0]), int(tf.t(v).quant.zero_point[0]))
             for k, v in amap.items()}
    ours = quantize_graph(fg, s["result"].calibration, QuantConfig(), fixed)
    compared = 0
    for op, top in zip(ours.ops, tf.ops):
        if op.type not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        for j in (1, 2):
            a, b = ours.t(op.inputs[j]), tf.t(top.inputs[j])
            np.testing.assert_array_equal(a.data, b.data, err_msg=f"{op.type} input {j}")
            np.testing.assert_array_equal(a.quant.scale, b.quant.scale)
            assert a.quant.axis == b.quant.axis or a.quant.scale.size == 1
            compared += 1
    assert compared >= 2
