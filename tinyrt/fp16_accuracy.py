"""How far FP16 compute is from tflite-runtime's float32 on the MLPerf Tiny float models
(docs/fp16.md, "FP16 compute"): ``python -m tinyrt.fp16_accuracy [--runs N] [--inputs KIND]``.

Each ``<name>_float.tflite`` in ../shared/models is made FP16 (``quantize_fp16``, what
``tinyrt quantize --dtype fp16`` writes), compiled with ``compute="fp16"`` for the host (the
portable kernels, bit-identical to the MVE ones: tests/test_fp16_mve.py) through the deploy
pipeline (the host firmware on a pty, tinyrt/pipeline) and run on seeded
inputs beside tflite-runtime on the FP16 model. Inputs: ``uniform`` (reference.random_inputs,
[-1, 1]: every classifier then predicts one class) or ``smooth`` (``quantize.synthetic``, the
inputs of ``bench quant`` / ``bench mixed``: smooth random fields in the input range of the
model's int8 sibling, which spread over more classes).
Prints per model the max / median |diff|, percentiles of max|diff| / max|ref|, top-1 agreement
and how many runs the FP16 rule (tinyrt.verify.tolerance("fp16")) accepts.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import reference
from .bench import shared_dir
from .boards import load_board
from .frontend import read_tflite
from .quantize.synthetic import input_range, smooth_inputs
from .verify import tolerance

MODELS = ("kws", "vww", "ic_resnet8", "ad01")


def measure(shared: Path, name: str, runs: int, kind: str) -> dict:
    from .pipeline import DeployOptions, prepare, session
    options = DeployOptions(dtype="fp16", compute="fp16", quiet=True)
    board = load_board("host")
    prepared = prepare(shared / "models" / f"{name}_float.tflite", board, options)
    graph = prepared.lowered.graph
    if kind == "uniform":
        rng = np.random.default_rng(0)
        inputs = [reference.random_inputs(graph, rng) for _ in range(runs)]
    else:
        int8 = read_tflite(str(shared / "models" / f"{name}_int8.tflite"))
        inputs = smooth_inputs(tuple(graph.t(graph.inputs[0]).shape), *input_range(int8), runs,
                               seed=0)
    with session(None, board, options, prepared) as s:
        got = [s.device.run(x)[0][0] for x in inputs]
    ref = reference.Reference(prepared.model)
    refs = [ref.run(x)[0] for x in inputs]
    diff = [float(np.abs(r.astype(np.float64) - g).max()) for r, g in zip(refs, got)]
    scale = [float(np.abs(r).max()) for r in refs]
    rel = [d / s for d, s in zip(diff, scale)]
    rtol, atol = tolerance("fp16")
    return {"model": name, "inputs": kind, "runs": runs, "max_abs_diff": max(diff),
            "median_abs_diff": float(np.median(diff)),
            "rel_p50": float(np.percentile(rel, 50)), "rel_p99": float(np.percentile(rel, 99)),
            "rel_max": max(rel), "max_ref": max(scale),
            "top1_agree": sum(int(np.argmax(r)) == int(np.argmax(g)) for r, g in zip(refs, got)),
            "top1_classes": len({int(np.argmax(r)) for r in refs}),
            "within_rule": sum(d <= rtol * s + atol for d, s in zip(diff, scale))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tinyrt.fp16_accuracy", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--inputs", choices=("uniform", "smooth"), default="smooth")
    p.add_argument("--shared", help="the shared folder (default ../shared or TINYRT_SHARED)")
    p.add_argument("--models", nargs="*", default=list(MODELS))
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    shared = shared_dir(args.shared)
    rows = []
    for name in args.models:
        rows.append(measure(shared, name, args.runs, args.inputs))
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
