"""The generated training code, built for the host with cc and driven by the host runner
(templates/train_main_host.c), trains exactly as the numpy reference does: after k steps every
trained parameter is within 1e-5 relative (max |C - numpy| / max |numpy|, per tensor) of the
reference's, with the same per-sample losses and predictions.

A pre-activation that lands within float rounding of a ReLU kink may pass the gradient in one
float32 implementation and not in the other; the seeds here have none."""
from __future__ import annotations

import numpy as np
import pytest

from tinyrt import train
from tinyrt.boards import load_board
from tinyrt.frontend import read_tflite
from tinyrt.train import host, reference
from tinyrt.train.data import model_inputs
from train_models import gap_cnn, small_cnn

RTOL = 1e-5


def train_both(graph, spec: str, inputs, labels, lr=0.05, momentum=0.9, batch=3,
               state=True, begin=True):
    project = train.generate(graph, spec, load_board("host"), host_main=True, momentum=state)
    boundary = reference.boundary_activations(project.tg, inputs)
    want = reference.train(project.tg, boundary, labels, lr, momentum, batch)
    with host.built(project.files) as exe:
        got = host.train(exe, project.tg, inputs, labels, lr, momentum, batch,
                         eval_inputs=inputs[:4], begin=begin)
    want["eval"] = reference.evaluate(project.tg, want["params"], boundary[:4])
    return project, got, want


def assert_same_training(project, got, want) -> float:
    trained = train.params_from_bytes(project.tg, got["params"])
    worst = 0.0
    for p, ref in zip(project.tg.params, want["params"]):
        assert not np.array_equal(ref, p.init), f"{p.name} did not train"
        rel = float(np.abs(trained[p.name] - ref).max() / np.abs(ref).max())
        assert rel <= RTOL, f"{p.name}: {rel:.2e} relative to the numpy reference"
        worst = max(worst, rel)
    np.testing.assert_allclose(got["losses"], want["losses"], rtol=1e-4, atol=1e-6)
    assert got["predicted"] == want["predicted"]
    assert got["eval"] == want["eval"]
    return worst


@pytest.mark.parametrize("spec", ["last:1", "last:2", "last:4", "bias:last:3,last:1",
                                  "depthwise_conv_2d_2,7", "last:2:0.5",
                                  "bias:last:3,last:2:0.5"])
def test_small_cnn_trains_as_the_numpy_reference(spec):
    rng = np.random.default_rng(2)
    inputs = rng.integers(-128, 128, (10, 1, 9, 7, 3)).astype(np.int8)
    labels = rng.integers(0, 5, 10)
    assert_same_training(*train_both(small_cnn(), spec, inputs, labels))


@pytest.mark.parametrize("spec", ["last:2", "bias:last:2", "last:2:0.3"])
def test_conv_fused_with_a_global_pool_trains_as_the_reference(spec):
    rng = np.random.default_rng(4)
    inputs = rng.integers(-128, 128, (9, 1, 7, 6, 3)).astype(np.int8)
    labels = rng.integers(0, 4, 9)
    project, got, want = train_both(gap_cnn(), spec, inputs, labels, batch=2)
    assert project.tg.fused_pool and "train_conv2d_gap_f32" in project.code.headers
    assert not any(b.name == f"act:{project.tg.tail[0].y}" for b in project.plan.buffers)
    assert_same_training(project, got, want)


def test_plain_sgd_build_trains_as_the_reference_without_momentum():
    rng = np.random.default_rng(2)
    inputs = rng.integers(-128, 128, (8, 1, 9, 7, 3)).astype(np.int8)
    labels = rng.integers(0, 5, 8)
    project, got, want = train_both(small_cnn(), "last:2", inputs, labels, momentum=0.0,
                                    state=False)
    assert not project.plan.momentum
    assert_same_training(project, got, want)


def test_channel_sparse_layers_train_only_their_first_channels_the_classifier_all():
    rng = np.random.default_rng(2)
    inputs = rng.integers(-128, 128, (6, 1, 9, 7, 3)).astype(np.int8)
    project, got, want = train_both(small_cnn(), "last:2:0.5", inputs, rng.integers(0, 5, 6))
    conv, fc = project.tg.tail[-4], project.tg.tail[-1]
    assert conv.trained_c == conv.y_shape[3] // 2 + conv.y_shape[3] % 2
    assert project.tg.params[conv.weight].shape[0] == conv.trained_c
    assert fc.trained_c == 0 and project.tg.params[fc.weight].shape[0] == 5   # all 5 classes
    assert_same_training(project, got, want)


def test_batches_without_begin_train_the_same_when_their_size_repeats():
    """Callers written before tinyrt_train_begin existed (samples, then update) get the same
    training while batch and momentum stay the same (the first batch's size is its own)."""
    rng = np.random.default_rng(2)
    inputs = rng.integers(-128, 128, (9, 1, 9, 7, 3)).astype(np.int8)
    labels = rng.integers(0, 5, 9)
    assert_same_training(*train_both(small_cnn(), "last:2", inputs, labels, begin=False))


def test_example_digits_last_2_trains_as_the_numpy_reference(tmp_path):
    pytest.importorskip("sklearn")
    from tinyrt.example_digits import make_example
    paths = make_example(tmp_path)
    graph = read_tflite(paths["int8_model"])
    x = np.load(paths["test_inputs"])[:12]
    y = np.load(paths["test_labels"])[:12]
    inputs = model_inputs(graph, x)
    project, got, want = train_both(graph, "last:2", inputs, (y + 1) % 10, lr=0.02)
    assert [t.type for t in project.tg.tail] == ["CONV_2D", "MAX_POOL_2D", "RESHAPE",
                                                 "FULLY_CONNECTED"]
    print(f"digits last:2: max rel diff {assert_same_training(project, got, want):.2e}")


def test_kws_last_2_trains_as_the_numpy_reference(shared_models):
    graph = read_tflite(shared_models / "kws_int8.tflite")
    rng = np.random.default_rng(0)
    inputs = rng.integers(-128, 128, (6, 1, 49, 10, 1)).astype(np.int8)
    labels = rng.integers(0, 12, 6)
    project, got, want = train_both(graph, "last:2", inputs, labels, lr=0.01, batch=2)
    print(f"kws last:2: max rel diff {assert_same_training(project, got, want):.2e}")
