"""Benchmarks printed by `tinyrt bench ...`: tinyrt's figures beside TFLite Micro's baselines.

Baselines are read from ``shared/baselines/tflm.json`` (measured TFLite Micro + CMSIS-NN on the
same emulated boards). Nothing here is asserted; it is measured and printed.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path


from .boards import load_board
from .errors import TinyrtError
from .paths import _REPO


def shared_dir(explicit: str | None = None) -> Path:
    if explicit and not (Path(explicit) / "models").is_dir():
        raise TinyrtError(f"{explicit} has no models/ folder: it is not the shared folder",
                          ["pass --shared DIR where DIR holds models/ and baselines/"])
    for cand in (explicit, os.environ.get("TINYRT_SHARED"), _REPO.parent / "shared",
                 Path.cwd().parent / "shared"):
        if cand and (Path(cand) / "models").is_dir():
            return Path(cand)
    raise TinyrtError("the shared folder with the MLPerf Tiny models and baselines was not found",
                      ["pass --shared DIR or set TINYRT_SHARED (it holds models/ and baselines/)"])


def baselines(shared: Path) -> list[dict]:
    path = shared / "baselines" / "tflm.json"
    return json.loads(path.read_text())["rows"] if path.is_file() else []


def baseline(rows: list[dict], model: str, board: str, stack: str = "tflm+cmsis-nn") -> dict | None:
    return next((r for r in rows if r["model"] == model and r["board"] == board
                 and r["stack"] == stack), None)


def int8_models(shared: Path, models: list[str] | None = None) -> list[Path]:
    """The shared int8 models, or those named in ``models`` (with or without "_int8")."""
    paths = sorted((shared / "models").glob("*_int8.tflite"))
    return [p for p in paths if not models or p.stem in models
            or p.stem.removesuffix("_int8") in models]


def bench_latency(shared: Path, board_id: str = "qemu-m4", runs: int = 3,
                  progress: bool = True, models: list[str] | None = None,
                  kernels: tuple[str, ...] | None = None) -> list[dict]:
    """Deploy every int8 model on ``board_id`` and put the measured figures beside TFLM's
    (CMSIS-NN and reference kernels) on the same emulated board. ``kernels``: the variants
    allowed (default: the best the board permits). The input is written into the arena as an
    application (and TFLite Micro's) does: no input copy (``--input-copy off``), so peak SRAM
    compares like for like; every run sets its input, so each is exact."""
    from .pipeline import DeployOptions, deploy
    board = load_board(board_id)
    if kernels:
        board["kernels"] = tuple(kernels)
    options = DeployOptions(runs=runs, quiet=not progress, input_copy="off")
    base = baselines(shared)
    rows = []
    for path in int8_models(shared, models):
        row = {"model": path.stem, "board": board_id}
        try:
            r = deploy(path, board, options)
            row.update(instructions=r["latency"]["cycles_median"], unit=r["latency"]["unit"],
                       bit_exact=r["bit_exact_runs"] == r["runs"], macs=r["macs"],
                       arena_bytes=r["memory"]["arena_bytes"], stack_bytes=r["memory"]["stack_bytes"],
                       peak_sram_bytes=r["memory"]["peak_sram_bytes"], flash_bytes=r["flash_bytes"])
        except TinyrtError as e:
            row["error"] = e.message.splitlines()[0]
        if row.get("instructions"):
            row["macs_per_instruction"] = round(row["macs"] / row["instructions"], 3)
        for stack, key in (("tflm+cmsis-nn", "cmsis"), ("tflm-reference", "ref")):
            b = baseline(base, path.stem, board_id, stack)
            if b:
                row[f"tflm_{key}_instructions"] = b["emulated_instructions_per_inference"]
                row[f"tflm_{key}_macs_per_instruction"] = round(
                    b["macs"] / b["emulated_instructions_per_inference"], 3)
                row[f"tflm_{key}_peak_sram_bytes"] = b["arena_bytes"] + b["stack_bytes"]
                row[f"tflm_{key}_flash_bytes"] = b["flash_bytes"]
                if "instructions" in row:
                    row[f"ratio_vs_tflm_{key}"] = round(row["instructions"] /
                                                        b["emulated_instructions_per_inference"], 3)
        rows.append(row)
    return rows


def geomean(values: list[float]) -> float | None:
    values = [v for v in values if v]
    return round(math.exp(sum(math.log(v) for v in values) / len(values)), 3) if values else None


def latency_summary(rows: list[dict]) -> dict:
    """The geometric mean and the largest of each ratio over the models that ran."""
    out = {"models": sum(1 for r in rows if r.get("instructions")),
           "all_bit_exact": all(r.get("bit_exact") for r in rows)}
    for key in ("cmsis", "ref"):
        ratios = [r[f"ratio_vs_tflm_{key}"] for r in rows if r.get(f"ratio_vs_tflm_{key}")]
        out[f"geomean_ratio_vs_tflm_{key}"] = geomean(ratios)
        out[f"max_ratio_vs_tflm_{key}"] = max(ratios, default=None)
    return out


def bench_fp16(shared: Path, board_id: str = "qemu-m55", runs: int = 3,
               models: list[str] | None = None, progress: bool = True) -> list[dict]:
    """Every float model made FP16 (``tinyrt quantize --dtype fp16``) and deployed on
    ``board_id`` with FP16 compute (``--compute auto``: FP16 where the board has ``mve_fp``) and
    with FP32 compute, beside TensorFlow's int8 model: latency, arena, flash and how far the
    outputs are from tflite-runtime (docs/fp16.md)."""
    from .pipeline import DeployOptions, deploy
    board = load_board(board_id)
    rows = []
    for path in sorted((shared / "models").glob("*_float.tflite")):
        name = path.stem[:-len("_float")]
        if models and name not in models:
            continue
        variants = [("int8", shared / "models" / f"{name}_int8.tflite", None, "auto"),
                    ("fp16", path, "fp16", "auto"), ("fp16", path, "fp16", "fp32")]
        for dtype, model, convert, compute in variants:
            row = {"model": name, "board": board_id, "weights": dtype}
            try:
                r = deploy(model, board, DeployOptions(runs=runs, quiet=not progress,
                                                       dtype=convert, compute=compute))
                row.update(compute=r["compute"], instructions=r["latency"]["cycles_median"],
                           unit=r["latency"]["unit"], arena_bytes=r["memory"]["arena_bytes"],
                           flash_bytes=r["flash_bytes"], weights_bytes=r["weights_bytes"],
                           runs=r["runs"], matching_runs=r["matching_runs"],
                           bit_exact_runs=r["bit_exact_runs"],
                           max_abs_diff=max(x["max_abs_diff"] for x in r["results"]))
            except TinyrtError as e:
                row["error"] = e.message.splitlines()[0]
            rows.append(row)
    return rows
