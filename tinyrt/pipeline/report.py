"""What a deploy measures on a running board, and the report built from it: one function for every
target (the JSON report of `tinyrt deploy`)."""
from __future__ import annotations

import collections
import statistics
import sys

import numpy as np

from .. import clock, reference
from ..errors import TinyrtError
from ..progress import Progress
from ..verify import compare, summary


def load_inputs(path: str | None, graph, runs: int, seed: int) -> list[list[np.ndarray]]:
    """Seeded random inputs, or the samples of a .npy/.npz file (first axis = sample)."""
    if path is None:
        rng = np.random.default_rng(seed)
        return [reference.random_inputs(graph, rng) for _ in range(runs)]
    try:
        data = np.load(path)
    except (OSError, ValueError) as e:
        raise TinyrtError(f"cannot read inputs from {path}: {e}") from None
    arr = data[data.files[0]] if hasattr(data, "files") else data
    t = graph.t(graph.inputs[0])
    if arr.size % t.size:
        raise TinyrtError(f"{path}: {arr.shape} does not split into inputs of shape {list(t.shape)}")
    arr = arr.reshape(-1, *t.shape)[:runs]
    if arr.dtype != np.dtype(t.dtype):
        raise TinyrtError(f"{path} holds {arr.dtype}, the model input is {t.dtype}")
    return [[x] for x in arr]


def measure(device, prepared, options, label: str) -> dict:
    """Run every input once, compare each output with tflite-runtime; latency, stack, profile."""
    lowered = prepared.lowered
    inputs = load_inputs(options.inputs_path, lowered.graph, options.runs, options.seed)
    ref = reference.Reference(prepared.model)
    results, counts = [], []
    with Progress(f"running on {label}", len(inputs), enabled=not options.quiet) as bar:
        for i, x in enumerate(inputs):
            outs, c = device.run(x, runs=1)
            counts += c
            results.append(compare(ref.run(x), outs, i, lowered.compute))
            bar.advance()
    info = device.info()
    measured = {**summary(results), "latency": latency(counts, info),
                "clock": clock.status(lowered.board, info.clock_hz), "stats": device.stats()}
    if measured["clock"]["note"]:
        print(f"note: {measured['clock']['note']}", file=sys.stderr)
    if options.profile:
        measured["layers"] = profile_rows(lowered, device.profile())
    return measured


def latency(counts: list[int], info) -> dict:
    unit, median = info.latency_unit, int(statistics.median(counts)) if counts else 0
    per_ms = {"cycles": info.clock_hz / 1e3 if info.clock_hz else None, "ns": 1e6}.get(unit)
    return {"cycles_median": median, "cycles_min": min(counts, default=0),
            "cycles_max": max(counts, default=0), "unit": unit,
            "ms": median / per_ms if per_ms else None, "per_run": counts}


def profile_rows(lowered, layer_counts: list[int]) -> list[dict]:
    """Per layer: what ran (op, kernel, variant), its MACs and count, MACs per counted unit and
    its share of the whole inference."""
    total = max(sum(layer_counts), 1)
    rows = []
    for n, layer in enumerate(lowered.layers):
        count = layer_counts[n]
        rows.append({"index": n, "name": layer.name, "op": layer.op_type,
                     "output_shape": list(lowered.graph.t(layer.outputs[0]).shape),
                     "kernel": layer.kernel or "alias", "variant": layer.variant,
                     "macs": layer.macs, "cycles": count,
                     "macs_per_cycle": round(layer.macs / count, 3) if count else None,
                     "share": round(count / total, 4)})
    return rows


def base_report(lowered, model_path) -> dict:
    """What the plan alone says: model, ops, MACs, arena, weights, streamed stages."""
    g = lowered.graph
    return {"model": g.name, "model_path": None if model_path is None else str(model_path),
            "model_hash": lowered.model_hash,
            "board": lowered.board["id"], "compute": lowered.compute,
            "ops": dict(collections.Counter(op.type for op in g.ops)),
            "macs": sum(layer.macs for layer in lowered.layers),
            "memory": {"arena_bytes": lowered.plan.arena_bytes,
                       "peak_live_bytes": lowered.plan.peak_live_bytes},
            "weights_bytes": lowered.weights_bytes(),
            "stages": [[c.stage.ops[0], c.stage.ops[-1]] for c in lowered.stages]}


def build_report(prepared, built, measured: dict, project=None) -> dict:
    """The deploy report. ``project``: the kept project folder (None: it was removed).
    On a device the memory section is measured: the painted stack, and the ELF's static RAM,
    which holds the input copy when the firmware keeps one (``input_copy_bytes``)."""
    measured = dict(measured)
    stats = measured.pop("stats", None)
    report = base_report(prepared.lowered, prepared.model_path)
    report.update(measured)
    report["flash_bytes"] = built.flash_bytes
    if built.code_bytes is not None:
        report["code_bytes"] = built.code_bytes
    mem = report["memory"]
    mem["input_copy_bytes"] = prepared.input_copy_bytes
    fw = built.firmware
    if fw is not None:
        stack = stats.stack_used if stats is not None else 0
        mem.update(stack_bytes=stack, static_ram_bytes=fw.sizes.static_ram,
                   peak_sram_bytes=mem["arena_bytes"] + stack + fw.sizes.static_ram)
        report["sections"] = fw.sizes.as_dict()
        report["elf"] = str(fw.elf) if project is not None else None
    report["project_dir"] = str(project) if project is not None else None
    return report
