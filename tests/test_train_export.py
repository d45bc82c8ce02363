"""Trained parameters go back into an int8 .tflite: re-quantised per channel (per tensor where
the model had one scale), readable by tflite-runtime and deployed bit-exactly by tinyrt."""
import numpy as np
import pytest

from tinyrt.errors import TinyrtError
from tinyrt.frontend import parse_tflite
from tinyrt.train import finetuned_graph, finetuned_tflite, params_from_bytes, prepare
from tinyrt.train import reference as R
from tinyrt.verify import verify_host
from train_models import small_cnn


@pytest.fixture(scope="module")
def trained():
    tg = prepare(small_cnn(), "bias:last:3,last:2")
    rng = np.random.default_rng(3)
    inputs = rng.integers(-128, 128, (12, 1, 9, 7, 3)).astype(np.int8)
    boundary = R.boundary_activations(tg, inputs)
    result = R.train(tg, boundary, rng.integers(0, 5, 12), 0.1, 0.9, 4)
    return tg, {p.name: v for p, v in zip(tg.params, result["params"])}


def test_params_bytes_read_back_by_name(trained):
    tg, params = trained
    raw = np.concatenate([params[p.name].reshape(-1) for p in tg.params]).astype("<f4")
    back = params_from_bytes(tg, raw.tobytes())
    assert all(np.array_equal(back[p.name], params[p.name]) for p in tg.params)


def test_params_of_another_size_are_refused(trained):
    with pytest.raises(TinyrtError, match="bytes, this training graph has"):
        params_from_bytes(trained[0], b"\0" * 12)


def test_trained_weights_are_requantised_within_half_a_step(trained):
    tg, params = trained
    g = finetuned_graph(tg, params)
    conv = g.ops[4]
    w = g.t(conv.inputs[1])
    assert w.quant.per_channel and w.dtype == "int8" and np.abs(w.data).max() == 127
    real = w.quant.scale[:, None, None, None] * w.data.astype(np.float32)
    step = w.quant.scale[:, None, None, None]
    assert np.all(np.abs(real - params["conv_2d_4/weights"]) <= step / 2 + 1e-7)
    fc = g.t(g.ops[7].inputs[1])
    assert not fc.quant.per_channel   # the model's FC had one scale: it keeps one
    bias = g.t(conv.inputs[2])
    np.testing.assert_allclose(bias.data * bias.quant.scale, params["conv_2d_4/bias"],
                               atol=float(bias.quant.scale.max()))


def test_finetuned_model_deploys_bit_exactly(trained):
    tg, params = trained
    data = finetuned_tflite(tg, params)
    graph = parse_tflite(data)
    result = verify_host(graph, data, runs=2, seed=0)
    assert all(r.bit_exact for r in result.runs)


def test_frozen_channels_of_a_sparse_layer_keep_their_int8_weights():
    tg = prepare(small_cnn(), "last:2:0.5")
    conv = tg.tail[0]
    rng = np.random.default_rng(5)
    inputs = rng.integers(-128, 128, (6, 1, 9, 7, 3)).astype(np.int8)
    result = R.train(tg, R.boundary_activations(tg, inputs), rng.integers(0, 5, 6), 0.1, 0.9, 3)
    g = finetuned_graph(tg, {p.name: v for p, v in zip(tg.params, result["params"])})
    old, new = tg.graph.t(tg.graph.ops[conv.index].inputs[1]), g.t(g.ops[conv.index].inputs[1])
    rows = conv.trained_c
    assert 0 < rows < new.shape[0]
    assert np.array_equal(new.data[rows:], old.data[rows:])
    assert np.array_equal(new.quant.scale[rows:], old.quant.scale[rows:])
    assert not np.array_equal(new.data[:rows], old.data[:rows])
    assert all(r.bit_exact for r in verify_host(g, finetuned_tflite(tg, {
        p.name: v for p, v in zip(tg.params, result["params"])}), runs=1, seed=0).runs)
