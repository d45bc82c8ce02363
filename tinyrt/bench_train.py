"""`tinyrt bench train --board B`: on-device training figures per model and choice of what trains.

For the example digits model (built here), kws_int8 and vww_int8 (from ../shared/models, skipped
with a note when absent), each of four configurations is deployed on the board and trained:

    last-1     last:1                    weights and bias of the last layer
    last-2     last:2                    ... of the last two layers
    bias-only  bias:last:N               the biases of the last N = 6 layers (fewer when the
                                         model has fewer; never the first layer, which is the
                                         frozen backbone's)
    sparse     bias:last:N,last:K        those biases and the weights of the last K = 2 layers
                                         (K = 1 where that would leave sparse equal to last-2)

Per row: parameters trained, the planned training peak and the measured one (backbone arena +
painted stack + static RAM, which holds the training arena), emulated instructions per training
step (a batch's begin, one sample's forward, loss and backward, its update: batch 1; median of
STEPS steps) and, for the example model, the accuracy before and after fine-tuning on the new writer's
digits (tinyrt/train/scenario.py), measured by the device. A configuration that does not fit
the board says so in its row.
"""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import numpy as np

from .boards import load_board
from .errors import TinyrtError
from .frontend import read_tflite
from .pipeline import DeployOptions
from .progress import step
from .train import device
from .train.finetune import FinetuneConfig, finetune

CONFIGS = ("last-1", "last-2", "bias-only", "sparse")
SHARED_MODELS = ("kws_int8", "vww_int8")
STEPS = 5
WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def spec_for(config: str, graph) -> str:
    """The --train string of a configuration for ``graph``."""
    layers = sum(op.type in WEIGHT_OPS for op in graph.ops)
    n = max(1, min(6, layers - 1))   # the first layer stays in the backbone
    k = 2 if n > 2 else 1
    return {"last-1": "last:1", "last-2": "last:2", "bias-only": f"bias:last:{n}",
            "sparse": f"bias:last:{n},last:{k}"}[config]


def measure_steps(t, steps: int = STEPS, seed: int = 0) -> dict:
    """Instructions per training step on random samples and labels (batch 1), then the
    parameters are reset."""
    rng = np.random.default_rng(seed)
    t_in = t.info.inputs[0]
    info = np.iinfo(t_in.dtype) if np.issubdtype(np.dtype(t_in.dtype), np.integer) else None
    counts = []
    for _ in range(steps):
        x = (rng.integers(info.min, info.max + 1, t_in.shape) if info is not None
             else rng.standard_normal(t_in.shape)).astype(t_in.dtype)
        begun = t.begin(0.9, 1)
        r = t.sample(x, int(rng.integers(0, t.classes)))
        counts.append(begun + r.count + t.update(0.001, 0.9, 1))
    t.reset()
    return {"step_median": int(statistics.median(counts)), "unit": t.info.latency_unit}


def bench_row(model: str, name: str, config: str, board: dict, scenario: dict | None) -> dict:
    graph = read_tflite(model)
    row = {"model": name, "config": config}
    try:
        row["spec"] = spec = spec_for(config, graph)
        with device.deploy(model, board, spec, DeployOptions(quiet=True)) as t:
            row.update(parameters=t.project.tg.param_count,
                       planned_training_peak_bytes=t.info.training.peak_bytes)
            row.update(measure_steps(t))
            row["training_peak_sram_bytes"] = t.memory()["training_peak_sram_bytes"]
    except TinyrtError as e:
        row["error"] = e.message.splitlines()[0]   # "does not fit ...: needs N bytes more"
        return row
    if scenario is not None:
        report, _ = finetune(FinetuneConfig(model, board, scenario["train_data"],
                                            scenario["eval_data"], spec=spec, quiet=True))
        row.update(accuracy_before=report["accuracy_before"],
                   accuracy_after=report["accuracy_after"],
                   training_peak_sram_bytes=max(row["training_peak_sram_bytes"],
                                                report["memory"]["training_peak_sram_bytes"]))
    return row


def bench_train(shared: Path | None, board_id: str, configs=CONFIGS, models=None,
                progress: bool = True) -> list[dict]:
    """Rows of (model, configuration); ``models``: names to keep (``digits`` for the example)."""
    board = load_board(board_id)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyrt-bench-train-") as tmp:
        entries = []
        if not models or "digits" in models:
            from .train.scenario import write_scenario
            step("building the example digits model and the new writer's data", progress)
            sc = write_scenario(tmp)
            entries.append(("digits_int8", sc["model"], sc))
        for name in SHARED_MODELS:
            if models and name not in models:
                continue
            path = shared / "models" / f"{name}.tflite" if shared is not None else None
            if path is None or not path.is_file():
                rows.append({"model": name, "error": "skipped: " + (
                    f"{path} is absent" if path else "no shared folder (--shared DIR)")})
                continue
            entries.append((name, str(path), None))
        for name, path, sc in entries:
            for config in configs:
                step(f"{name} {config} on {board_id}", progress)
                rows.append(bench_row(path, name, config, board, sc))
    return rows
