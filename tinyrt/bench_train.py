"""`tinyrt bench train --board B`: on-device training figures per model and choice of what trains.

For the example digits model (built here), kws_int8 and vww_int8 (from ../shared/models, skipped
with a note when absent), each configuration is deployed on the board and trained:

    last-1       last:1                  weights and bias of the last layer
    last-2       last:2                  ... of the last two layers
    bias-only    bias:last:N             the biases of the last N = 6 layers (fewer when the
                                         model has fewer; never the first layer, which is the
                                         frozen backbone's)
    sparse-full  bias:last:N,last:K      issue 11's sparse update, all output channels: those
                                         biases and the weights of the last K = 2 layers (K = 1
                                         where that would equal last-2); kws: all biases the
                                         tail can hold (every layer but the first)
    sparse       the same with the largest channel fraction (last:K:F, tinyrt/train/fit.py)
                 whose planned peak fits the goal; when no fraction does, fit's suggestion

The goal is issue 11's training peak for the model (kws 64 KB, vww 256 KB; the board's own
budget, SRAM - stack, where it is smaller or the model has none). A sparse-full row over it is
not deployed: it says by how much and what fits (the refusal of fit.check, hints included); it
is left out where sparse equals it. The measured peak holds the stack and static RAM the plan
does not: a sparse row measured over the goal is chosen again with that overhead taken off.

Per row: parameters trained, the planned training peak and the measured one (backbone arena +
painted stack + static RAM, which holds the training arena), emulated instructions per training
step (a batch's begin, one sample's forward, loss and backward, its update: batch 1; median of
STEPS steps) and, for the example model, the accuracy before and after fine-tuning on the new
writer's digits (tinyrt/train/scenario.py), measured by the device. A configuration that does not
fit the board says so in its row.
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
from .train import device, fit
from .train.finetune import FinetuneConfig, finetune

CONFIGS = ("last-1", "last-2", "bias-only", "sparse", "sparse-full")
SHARED_MODELS = ("kws_int8", "vww_int8")
GOALS = {"kws_int8": 64 * 1024, "vww_int8": 256 * 1024}   # issue 11's training peak SRAM
ALL_BIASES = ("kws_int8",)   # issue 11: "last 2 layers' weights and all biases"
STEPS = 5
WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def spec_for(config: str, graph, name: str = "") -> str:
    """The --train string of a configuration for ``graph`` (``sparse``: before fitting)."""
    layers = sum(op.type in WEIGHT_OPS for op in graph.ops)
    n = layers - 1 if name in ALL_BIASES else max(1, min(6, layers - 1))
    k = 2 if n > 2 else 1
    return {"last-1": "last:1", "last-2": "last:2", "bias-only": f"bias:last:{min(n, 6)}",
            "sparse": f"bias:last:{n},last:{k}", "sparse-full": f"bias:last:{n},last:{k}"}[config]


def goal_of(name: str, board: dict) -> tuple[int | None, str]:
    """(the sparse rows' limit on the planned training peak, what it is)."""
    limit, where = fit.budget_of(board)
    goal = GOALS.get(name)
    if goal is not None and (limit is None or goal < limit):
        return goal, f"issue 11's goal {goal // 1024} KB"
    return limit, where


def sparse_spec(graph, full: str, board: dict, limit: int | None) -> str:
    """The sparse row's --train: ``full`` with the largest channel fraction within ``limit``,
    else the configuration fit suggests (the most parameters that fits)."""
    if limit is None:
        return full
    found = fit.largest_fraction(graph, full, board, limit) or fit.best_fit(graph, full, board,
                                                                             limit)
    if found is None:
        raise TinyrtError(f"no configuration of {graph.name} fits {limit:,} B")
    return found[0]


def full_row_refusal(graph, spec: str, board: dict, limit: int | None,
                     where: str) -> str | None:
    """fit.check's refusal of ``spec`` against ``limit``, hints included; None when it fits."""
    if limit is None:
        return None
    tplan = fit.planned(graph, spec, board)[2]
    try:
        fit.check(graph, spec, board, tplan, budget=limit)
    except TinyrtError as e:
        return f"over {where}: " + str(e).replace("\n", "; ")
    return None


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


def measured(model: str, spec: str, board: dict, precision: str = "fp32") -> dict:
    """Deploy ``spec`` on the board: parameters, planned and measured peak, instructions."""
    with device.deploy(model, board, spec, DeployOptions(quiet=True), precision=precision) as t:
        row = {"parameters": t.project.tg.param_count,
               "planned_training_peak_bytes": t.info.training.peak_bytes}
        row.update(measure_steps(t))
        row["training_peak_sram_bytes"] = t.memory()["training_peak_sram_bytes"]
    return row


def sparse_row(model: str, graph, full: str, board: dict, limit: int | None,
               where: str) -> dict:
    """The sparse configuration that fits ``limit`` as measured (stack and static RAM
    included), deployed; ``note`` says whether the measured peak meets it."""
    spec = sparse_spec(graph, full, board, limit)
    row = {"spec": spec, **measured(model, spec, board)}
    overhead = row["training_peak_sram_bytes"] - row["planned_training_peak_bytes"]
    if limit is not None and row["training_peak_sram_bytes"] > limit:
        again = sparse_spec(graph, full, board, limit - overhead)
        if again != spec:
            row = {"spec": again, **measured(model, again, board)}
    if limit is not None:
        peak = row["training_peak_sram_bytes"]
        row["note"] = (f"{where}: met" if peak <= limit else
                       f"{where}: {peak - limit:,} B over")
    return row


def bench_row(model: str, name: str, config: str, board: dict,
              scenario: dict | None, precision: str = "fp32") -> dict | None:
    """One configuration's row; None for a sparse-full row equal to the sparse one. FP16 rows
    (boards with MVE floating point) are the last-1/last-2 configurations only."""
    graph = read_tflite(model)
    row = {"model": name, "config": config}
    if precision != "fp32":
        row["precision"] = precision
    try:
        row["spec"] = spec = spec_for(config, graph, name)
        limit, where = goal_of(name, board)
        if config == "sparse-full":
            refused = full_row_refusal(graph, spec, board, limit, where)
            return None if refused is None else {**row, "error": refused}
        if config == "sparse":
            row.update(sparse_row(model, graph, spec, board, limit, where))
        else:
            row.update(measured(model, spec, board, precision))
    except TinyrtError as e:
        row["error"] = e.message.splitlines()[0]   # "does not fit ...: needs N bytes more"
        return row
    if scenario is not None:
        report, _ = finetune(FinetuneConfig(model, board, scenario["train_data"],
                                            scenario["eval_data"], spec=row["spec"],
                                            precision=precision, quiet=True))
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
                row = bench_row(path, name, config, board, sc)
                rows += [row] if row is not None else []
                if "mve_fp" in board.get("features", ()) and not config.startswith("sparse"):
                    step(f"{name} {config} on {board_id} in FP16", progress)
                    row = bench_row(path, name, config, board, sc, "fp16")
                    rows += [row] if row is not None else []
    return rows
