"""`tinyrt bench memory`: each int8 model planned layer by layer and with its first layers
streamed row by row (``--patch auto``), beside TFLite Micro's arena and its arena + stack; on an
emulated board both are deployed, so peak SRAM and latency are measured, not estimated.
"""
from __future__ import annotations

import time
from pathlib import Path

import codegen

from . import planner
from .bench import baseline, baselines, int8_models
from .boards import load_board
from .errors import TinyrtError
from .frontend import read_tflite


def _overhead(lowered) -> float:
    """The extra MACs of column strips, as a fraction of the model's."""
    macs = {layer.index: layer.macs for layer in lowered.layers}
    extra = sum(c.mac_overhead * sum(macs[i] for i in c.stage.ops) for c in lowered.stages)
    return round(extra / max(1, sum(layer.macs for layer in lowered.layers)), 4)


def _planned(graph, board: dict) -> dict:
    layer = codegen.lower(graph, board)
    streamed = codegen.lower(graph, {**board, "patch": "auto"})
    started = time.process_time()
    try:
        read = codegen.lower(graph, {**board, "stream_input": True})
    except TinyrtError:
        read = None   # no first stage to read the input into
    seconds = time.process_time() - started
    return {"arena_bytes": layer.plan.arena_bytes,
            "streamed_arena_bytes": streamed.plan.arena_bytes,
            "input_streamed_arena_bytes": read.plan.arena_bytes if read else None,
            "input_streamed_mac_overhead": _overhead(read) if read else None,
            "input_streamed_stages": len(read.stages) if read else 0,
            "plan_cpu_seconds": round(seconds, 2), "ops": len(graph.ops),
            "input_bytes": sum(graph.t(t).nbytes for t in graph.inputs),
            "stage_ops": [[c.stage.ops[0], c.stage.ops[-1]] for c in streamed.stages],
            "shifted_bytes": sum(c.shifted_bytes for c in streamed.stages),
            "mac_overhead": _overhead(streamed),
            "linear_arena_bytes": codegen.lower(graph, board, "linear").plan.arena_bytes,
            "layer_lower_bound_bytes": planner.layer_lower_bound(graph),
            "peak_live_bytes": layer.plan.peak_live_bytes}


def _measured(path: Path, board: dict, runs: int, progress: bool) -> dict:
    """Each plan deployed: the input written into the arena as an application does, without the
    firmware's input copy (``--input-copy off``; every run sets its input, so each is exact)."""
    from .pipeline import DeployOptions, deploy
    row = {}
    for key, options in (("", {}), ("streamed_", {"patch": "auto"}),
                         ("input_streamed_", {"stream_input": True})):
        try:
            r = deploy(path, board, DeployOptions(runs=runs, quiet=not progress,
                                                  input_copy="off", **options))
        except TinyrtError:
            if key == "input_streamed_":
                continue   # the model's first layers cannot read the input row by row
            raise
        row.update({f"{key}peak_sram_bytes": r["memory"]["peak_sram_bytes"],
                    f"{key}stack_bytes": r["memory"]["stack_bytes"],
                    f"{key}instructions": r["latency"]["cycles_median"],
                    f"{key}bit_exact": r["bit_exact_runs"] == r["runs"]})
    row["latency_unit"] = r["latency"]["unit"]
    row["latency_cost"] = round(row["streamed_instructions"] / row["instructions"] - 1, 4)
    return row


def bench_memory(shared: Path, board_id: str = "qemu-m4", measure: bool = True, runs: int = 2,
                 progress: bool = True, models: list[str] | None = None) -> list[dict]:
    board = load_board(board_id)
    measure = measure and board["kind"] == "qemu"
    base = baselines(shared)
    rows = []
    for path in int8_models(shared, models):
        row = {"model": path.stem, "board": board_id}
        try:
            row.update(_planned(read_tflite(path), board))
            if measure:
                row.update(_measured(path, board, runs, progress))
                if "input_streamed_peak_sram_bytes" in row:   # the firmware holds the input
                    row["input_streamed_peak_without_input_bytes"] = \
                        row["input_streamed_peak_sram_bytes"] - row["input_bytes"]
        except TinyrtError as e:
            row["error"] = e.message.splitlines()[0]
        b = baseline(base, path.stem, board_id)
        if b:
            row["tflm_arena_bytes"] = b["arena_bytes"]
            row["tflm_peak_sram_bytes"] = b["arena_bytes"] + b["stack_bytes"]
            if "arena_bytes" in row:
                row["ratio_vs_tflm"] = round(row["arena_bytes"] / b["arena_bytes"], 3)
                row["streamed_ratio_vs_tflm"] = round(row["streamed_arena_bytes"] / b["arena_bytes"], 3)
            if "streamed_peak_sram_bytes" in row:
                row["streamed_peak_ratio_vs_tflm"] = round(
                    row["streamed_peak_sram_bytes"] / row["tflm_peak_sram_bytes"], 3)
        rows.append(row)
    return rows


# MobileNetV2-style ImageNet models built in code (tinyrt/mobilenet.py), int8 image input, with
# what the literature publishes for comparable models (peak activation SRAM, int8).
MOBILENETS = [
    {"model": "mbv2-w1.0-r224", "width": 1.0, "resolution": 224, "blocks": "MOBILENET_V2",
     "published": "MCUNetV2 (NeurIPS'21, fig. 1): MobileNetV2 1,372 kB per layer, 172 kB "
                  "with 4x4 patches"},
    {"model": "mbv2-w0.35-r144", "width": 0.35, "resolution": 144, "blocks": "MOBILENET_V2",
     "published": "msf-CNN (2025): MobileNetV2-w0.35 at 144x144 in about 15-26 kB at "
                  "1.25-1.4x the MACs"},
    {"model": "mbv2kxk-w0.5-r160", "width": 0.5, "resolution": 160,
     "blocks": "MOBILENET_V2_KXK", "published": ""},
]


def bench_mobilenets(board_id: str = "qemu-m4") -> list[dict]:
    """Plan each model layer by layer and streamed (plan only: they are ImageNet-sized)."""
    from . import mobilenet
    board = load_board(board_id)
    rows = []
    for spec in MOBILENETS:
        graph = mobilenet.mobilenet_v2(spec["resolution"], spec["width"], 1000,
                                       getattr(mobilenet, spec["blocks"]), last=1280,
                                       float_input=False)
        row = {"model": spec["model"], "board": board_id, **_planned(graph, board),
               "published": spec["published"]}
        wider = codegen.lower(graph, {**board, "stream_input": True, "max_overhead": 0.3})
        row["input_streamed_30pct_arena_bytes"] = wider.plan.arena_bytes
        row["input_streamed_30pct_mac_overhead"] = _overhead(wider)
        best = min(v for v in (row["streamed_arena_bytes"], row["input_streamed_arena_bytes"],
                               row["input_streamed_30pct_arena_bytes"]) if v)
        row["reduction"] = round(row["arena_bytes"] / best, 2)
        rows.append(row)
    return rows
