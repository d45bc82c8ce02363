"""The training plan puts every training buffer in one packed arena and reports the training
peak (backbone arena + training arena); the generated C declares the same sizes."""
import re

import pytest

from tinyrt import train
from tinyrt.boards import load_board
from tinyrt.frontend import read_tflite
from tinyrt.train import prepare
from tinyrt.train.plan import plan
from train_models import small_cnn


def test_buffers_live_at_the_same_step_never_overlap():
    p = plan(prepare(small_cnn(), "bias:last:3,last:1"))
    for a in p.buffers:
        for b in p.buffers:
            if a is not b and a.first <= b.last and b.first <= a.last:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    assert max(b.offset + b.size for b in p.buffers) <= p.arena_bytes


def test_parameters_gradients_and_momentum_live_throughout():
    tg = prepare(small_cnn(), "last:2")
    p = plan(tg)
    for name in ("params", "grads", "velocity"):
        buf = next(b for b in p.buffers if b.name == name)
        assert (buf.first, buf.last, buf.size) == (0, len(p.steps) - 1, 4 * tg.param_count)


def test_a_gradient_takes_its_activation_buffer_except_after_a_max_pool():
    tg = prepare(small_cnn(), "bias:last:3,last:1")
    p = plan(tg)
    dw, pool, conv = tg.tail[0], tg.tail[1], tg.tail[2]
    assert p.grad[dw.y] != p.act[dw.y]      # read by the max pool's backward
    assert p.grad[pool.y] == p.act[pool.y]  # the 1x1 conv's backward is a gather


def test_generated_header_declares_the_planned_sizes():
    project = train.generate(small_cnn(), "last:2", load_board("host"))
    header = project.files["model_train.h"]
    assert re.search(rf"TINYRT_TRAIN_ARENA_BYTES {project.plan.arena_bytes}\b", header)
    assert re.search(rf"TINYRT_ARENA_BYTES {project.plan.backbone_arena_bytes}\b",
                     project.files["model.h"])
    assert f"TINYRT_TRAIN_PARAM_COUNT {project.tg.param_count}" in header


@pytest.mark.parametrize("model,spec,momentum", [
    ("kws", "last:2", True), ("kws", "last:2", False), ("kws", "last:1", True),
    ("vww", "bias:last:6,last:2", True), ("vww", "bias:last:6,last:1", True)])
def test_training_peaks_of_the_reference_models(shared_models, model, spec, momentum):
    graph = read_tflite(shared_models / f"{model}_int8.tflite")
    project = train.generate(graph, spec, load_board("qemu-m4"), momentum=momentum)
    m = project.report()["memory"]
    print(f"\n{model} {spec} {'momentum' if momentum else 'plain SGD'}: training peak {m['training_peak_sram_bytes']:,} B = backbone "
          f"arena {m['backbone_arena_bytes']:,} + training arena "
          f"{m['training_arena_bytes']:,} (params+grads+momentum {m['persistent_bytes']:,})")
    assert m["training_peak_sram_bytes"] == m["backbone_arena_bytes"] + m["training_arena_bytes"]
    assert m["persistent_bytes"] == (3 if momentum else 2) * 4 * project.tg.param_count
