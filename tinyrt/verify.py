"""Compile a graph for the host, run it on seeded random inputs and compare every output byte
with tflite-runtime's reference kernels."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import codegen

from . import host, reference
from .boards import load_board
from .ir import Graph
from .writer import write_tflite


# Float outputs (FP16/float models) may differ from tflite-runtime by a few ULPs where libm's
# expf or the compiler's multiply-add contraction differ; integer outputs must match exactly.
FLOAT_RTOL, FLOAT_ATOL = 1e-4, 1e-5
# FP16 compute (activations and arithmetic in half precision, docs/fp16.md "FP16 compute"):
# each layer rounds to 11 significant bits and sums in fp16, so the outputs differ from
# tflite-runtime's float32 by far more than ulps. Applies only when the FP16-compute path ran.
FP16_RTOL, FP16_ATOL = 1e-1, 1e-3
TOLERANCES = {"fp16": (FP16_RTOL, FP16_ATOL)}


def tolerance(compute: str = "fp32") -> tuple[float, float]:
    """(rtol, atol) of the float-output rule for a model computed in ``compute``:
    |tinyrt - tflite-runtime| <= rtol * max|reference output| + atol, per output tensor."""
    return TOLERANCES.get(compute, (FLOAT_RTOL, FLOAT_ATOL))


@dataclass
class RunResult:
    index: int
    bit_exact: bool
    max_abs_diff: float
    mismatched: int
    matches: bool = True   # integers byte-equal, floats within rtol * max|ref| + atol (tolerance())


@dataclass
class Verification:
    runs: list[RunResult] = field(default_factory=list)
    lowered: object = None
    project_dir: str = ""

    @property
    def bit_exact_runs(self) -> int:
        return sum(r.bit_exact for r in self.runs)

    @property
    def ok(self) -> bool:
        return all(r.bit_exact for r in self.runs)


def summary(results: list[RunResult]) -> dict:
    """The report fields of a set of compared runs (shared by every deploy flow)."""
    return {"runs": len(results), "bit_exact_runs": sum(r.bit_exact for r in results),
            "matching_runs": sum(r.matches for r in results),
            "results": [{"run": r.index, "bit_exact": r.bit_exact, "mismatched": r.mismatched,
                         "max_abs_diff": r.max_abs_diff, "matches": r.matches} for r in results]}


def compare(expected: list[np.ndarray], got: list[np.ndarray], index: int,
            compute: str = "fp32") -> RunResult:
    """One run's outputs against the reference; ``compute`` picks the float rule (tolerance)."""
    rtol, atol = tolerance(compute)
    diffs = [np.abs(e.astype(np.float64) - g.astype(np.float64)).reshape(-1)
             for e, g in zip(expected, got)]
    same = all(e.tobytes() == g.tobytes() for e, g in zip(expected, got))
    matches = all(
        e.tobytes() == g.tobytes() if not np.issubdtype(e.dtype, np.floating) else
        bool(np.all(d <= rtol * float(np.abs(e).max(initial=0)) + atol))
        for e, g, d in zip(expected, got, diffs))
    flat = np.concatenate(diffs) if diffs else np.zeros(1)
    return RunResult(index, same, float(flat.max(initial=0)), int((flat != 0).sum()), matches)


def verify_host(graph: Graph, model: bytes | str | None = None, runs: int = 5, seed: int = 0,
                work_dir: str | None = None, extra_cflags: list[str] = (),
                inputs: list[list[np.ndarray]] | None = None,
                board: dict | None = None, compute: str = "auto") -> Verification:
    """``model``: the .tflite (path or bytes) the reference runs; written from ``graph`` if None.
    ``inputs``: one list of arrays per run; ``runs`` seeded random ones if None.
    ``compute``: codegen's compute option ("auto", "fp16", "fp32")."""
    board = board or load_board("host")
    ref = reference.Reference(model if model is not None else write_tflite(graph))
    lowered = codegen.lower(graph, board, compute=compute)
    work = Path(work_dir or tempfile.mkdtemp(prefix="tinyrt-"))
    result = Verification(lowered=lowered, project_dir=str(work))
    try:
        host.write_project(codegen.render(lowered), work)
        exe = host.build(work, board, extra_cflags=list(extra_cflags))
        if inputs is None:
            rng = np.random.default_rng(seed)
            inputs = [reference.random_inputs(graph, rng) for _ in range(runs)]
        specs = [(tuple(d["shape"]), d["dtype"]) for d in ref.outputs]
        got = host.run(exe, inputs, specs)
        for i, (x, y) in enumerate(zip(inputs, got)):
            result.runs.append(compare(ref.run(x), y, i, lowered.compute))
    finally:
        # a project made here is removed, unless an output is off (byte-unequal, or a float one
        # outside its tolerance): then it stays to be read
        # (project_dir names it in the failure)
        if work_dir is None and all(r.matches for r in result.runs):
            shutil.rmtree(work, ignore_errors=True)
            result.project_dir = ""
    return result
