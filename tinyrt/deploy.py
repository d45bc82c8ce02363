"""The deploy flow as a function: model -> IR -> plan -> C -> build -> run -> compare -> report.

``deploy_host`` is the fast path (board ``host``); device boards go through ``tinyrt.device``.
Both return the same report dict (the JSON report of `tinyrt deploy`).
"""
from __future__ import annotations

import collections
import shutil
import tempfile

import numpy as np

from . import host, reference
from .frontend import read_tflite
from .progress import step
from .verify import summary, verify_host


def load_inputs(path: str | None, graph, runs: int, seed: int) -> list[list[np.ndarray]]:
    """Seeded random inputs, or the samples of a .npy/.npz file (first axis = sample)."""
    if path is None:
        rng = np.random.default_rng(seed)
        return [reference.random_inputs(graph, rng) for _ in range(runs)]
    from .errors import TinyrtError
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


def base_report(lowered, model_path: str) -> dict:
    g = lowered.graph
    return {"model": g.name, "model_path": str(model_path), "model_hash": lowered.model_hash,
            "board": lowered.board["id"], "compute": lowered.compute,
            "ops": dict(collections.Counter(op.type for op in g.ops)),
            "macs": sum(layer.macs for layer in lowered.layers),
            "memory": {"arena_bytes": lowered.plan.arena_bytes,
                       "peak_live_bytes": lowered.plan.peak_live_bytes},
            "weights_bytes": lowered.weights_bytes(),
            "stages": [[c.stage.ops[0], c.stage.ops[-1]] for c in lowered.stages]}


def deploy_host(model_path: str, board: dict, runs: int = 10, seed: int = 0,
                inputs_path: str | None = None, work_dir: str | None = None,
                quiet: bool = False, compute: str = "auto") -> dict:
    graph = read_tflite(model_path)
    inputs = load_inputs(inputs_path, graph, runs, seed)
    step(f"building {graph.name} for host and comparing {len(inputs)} runs", not quiet)
    work = work_dir or tempfile.mkdtemp(prefix=f"tinyrt-{graph.name}-")
    try:
        result = verify_host(graph, model_path, work_dir=work, inputs=inputs, board=board,
                             compute=compute)
        sizes = host.flash_bytes(result.project_dir, board)
    finally:
        if work_dir is None:   # a project made here leaves nothing behind
            shutil.rmtree(work, ignore_errors=True)
    report = base_report(result.lowered, model_path)
    report.update(summary(result.runs), flash_bytes=sizes["flash_bytes"],
                  code_bytes=sizes["code_bytes"], project_dir=work_dir)
    return report
