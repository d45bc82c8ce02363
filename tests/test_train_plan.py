"""The training plan puts every training buffer in packed static memory (the backbone's arena,
reused once the backbone ran, and the training arena) and reports the training peak (backbone
arena + training arena); the generated C declares the same sizes; the reference models meet
issue 11's memory goals."""
import re

import pytest

from tinyrt import train
from tinyrt.boards import budgets, load_board
from tinyrt.errors import TinyrtError
from tinyrt.frontend import read_tflite
from tinyrt.train import prepare
from tinyrt.train.fit import budget_of, candidates
from tinyrt.train.plan import plan
from train_models import small_cnn


def assert_no_overlap(p, reserved=()):
    """Buffers of one region live at the same step never overlap, nor the ``reserved``
    (offset, size, first, last) spans of the backbone's arena."""
    spans = [(b.region, b.offset, b.size, b.first, b.last) for b in p.buffers]
    for i, a in enumerate(spans):
        for b in spans[i + 1:] + [("backbone", *r) for r in reserved]:
            if a[0] == b[0] and a[3] <= b[4] and b[3] <= a[4]:
                assert a[1] + a[2] <= b[1] or b[1] + b[2] <= a[1], (a, b)


def test_buffers_live_at_the_same_step_never_overlap():
    p = plan(prepare(small_cnn(), "bias:last:3,last:1"))
    assert_no_overlap(p)
    assert max(b.offset + b.size for b in p.buffers) <= p.arena_bytes


def test_tail_buffers_reuse_the_backbone_arena_around_the_boundary():
    tg = prepare(small_cnn(), "depthwise_conv_2d_2,7")   # the boundary is read until the end
    alone = plan(tg)
    boundary = tg.graph.t(tg.boundary).nbytes
    p = plan(tg, backbone_arena_bytes=boundary + 2000, boundary_offset=1000)
    shared = [b for b in p.buffers if b.region == "backbone"]
    assert shared and all(b.first > 0 for b in shared)   # not live while the backbone runs
    assert all(b.offset + b.size <= boundary + 2000 for b in shared)
    assert_no_overlap(p, [(1000, boundary, 0, p.steps.index(f"backward {tg.tail[0].name}")),
                          (0, boundary + 2000, 0, 0)])
    assert p.arena_bytes < alone.arena_bytes


def test_parameters_and_velocity_live_throughout_and_no_gradient_buffer():
    tg = prepare(small_cnn(), "last:2")
    p = plan(tg)
    for name in ("params", "velocity"):
        buf = p.buffer(name)
        assert (buf.first, buf.last, buf.size) == (0, len(p.steps) - 1, 4 * tg.param_count)
    assert not any(b.name == "grads" for b in p.buffers)
    assert [b.name for b in plan(tg, momentum=False).buffers][:2] == ["params", "grads"]


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


KB = 1024
# (model, spec, momentum, training peak on qemu-m4 in bytes: the plan is deterministic)
PEAKS = [("kws", "last:2", True, 56_112), ("kws", "last:2", False, 56_112),
         ("kws", "last:1", True, 22_832),
         ("vww", "bias:last:6,last:2", True, 591_976),
         ("vww", "bias:last:6,last:2:0.36", True, 258_152),
         ("vww", "bias:last:6,last:2:0.25", True, 198_760),
         ("vww", "bias:last:6,last:1", True, 67_688)]


@pytest.mark.parametrize("model,spec,momentum,peak", PEAKS)
def test_training_peaks_of_the_reference_models(shared_models, model, spec, momentum, peak):
    graph = read_tflite(shared_models / f"{model}_int8.tflite")
    project = train.generate(graph, spec, load_board("qemu-m4"), momentum=momentum)
    m = project.report()["memory"]
    print(f"\n{model} {spec} {'momentum' if momentum else 'plain SGD'}: training peak "
          f"{m['training_peak_sram_bytes']:,} B = backbone arena {m['backbone_arena_bytes']:,} "
          f"(of which the tail reuses {m['in_backbone_arena_bytes']:,}) + training arena "
          f"{m['training_arena_bytes']:,} (params+velocity {m['persistent_bytes']:,})")
    assert m["training_peak_sram_bytes"] == m["backbone_arena_bytes"] + m["training_arena_bytes"]
    assert m["persistent_bytes"] == 2 * 4 * project.tg.param_count
    assert m["training_peak_sram_bytes"] == peak


def test_issue_11_memory_goals(shared_models):
    """kws last:2 within 64 KB; vww's sparse update within 256 KB with a quarter of the last
    two layers' output channels (all of them: 65,536 FP32 weights of the 1x1 conv alone,
    262 KB with their velocity twice that, cannot fit)."""
    board = load_board("qemu-m4")
    kws = read_tflite(shared_models / "kws_int8.tflite")
    vww = read_tflite(shared_models / "vww_int8.tflite")
    assert train.generate(kws, "last:2", board).plan.peak_bytes <= 64 * KB
    assert train.generate(vww, "bias:last:6,last:2:0.25", board).plan.peak_bytes <= 256 * KB
    assert train.generate(vww, "bias:last:6,last:2", board).plan.peak_bytes > 256 * KB


def test_a_configuration_over_the_budget_is_refused_naming_one_that_fits(shared_models):
    vww = read_tflite(shared_models / "vww_int8.tflite")
    with pytest.raises(TinyrtError) as refused:
        train.generate(vww, "bias:last:6,last:2", load_board("qemu-m4"), budget=256 * KB)
    assert "training peak 591,976 B" in str(refused.value)
    assert "budget 262,144 B (the given budget): 329,832 B too many" in str(refused.value)
    # the most parameters that fit: one bias layer fewer buys a larger channel fraction
    assert refused.value.hints[0] == ("--train bias:last:3,last:2:0.375 fits: training peak "
                                      "260,200 B, 25,602 trained parameters")


def test_the_board_budget_is_its_sram_minus_its_stack(shared_models):
    board = load_board("nucleo-f746zg")
    sram = budgets(board)["sram"]
    vww = read_tflite(shared_models / "vww_int8.tflite")
    with pytest.raises(TinyrtError, match=rf"SRAM {sram:,} - stack {board['stack_bytes']:,}"):
        train.generate(vww, "bias:last:6,last:2", board)
    assert budget_of(board, static_ram=1000)[0] == sram - board["stack_bytes"] - 1000
    assert budget_of(load_board("host")) == (None, "the host")


def test_when_nothing_smaller_fits_the_refusal_says_so():
    with pytest.raises(TinyrtError) as refused:
        train.generate(small_cnn(), "last:2", load_board("host"), budget=64)
    assert "no smaller choice of trained layers fits" in refused.value.hints[0]


def test_candidates_shrink_fractions_biases_and_layers():
    got = candidates(small_cnn(), "bias:last:3,last:2:0.5")
    assert got[:3] == ["bias:last:3,last:2:0.375", "bias:last:3,last:2:0.25",
                       "bias:last:3,last:2:0.125"]
    assert "last:2:0.5" in got and "last:2" not in got   # fewer biases, never more weights
    # last:1 is the classifier alone: it trains whole, so no fraction of it is tried
    assert "bias:last:2,last:1" in got and not any(c.startswith("bias:last:3,last:1:")
                                                   for c in got)
    assert got[-3:] == ["bias:last:3", "bias:last:2", "bias:last:1"]
