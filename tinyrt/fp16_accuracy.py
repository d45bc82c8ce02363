"""How far FP16 compute is from tflite-runtime's float32 on the MLPerf Tiny float models
(docs/fp16.md, "FP16 compute"): ``python -m tinyrt.fp16_accuracy [--runs N] [--inputs KIND]``.

Each ``<name>_float.tflite`` in ../shared/models is made FP16 (``quantize_fp16``, what
``tinyrt quantize --dtype fp16`` writes), compiled with ``compute="fp16"`` for the host (the
portable kernels, bit-identical to the MVE ones: tests/test_fp16_mve.py) and run on seeded
inputs beside tflite-runtime on the FP16 model. Inputs: ``uniform`` (reference.random_inputs,
[-1, 1]: every classifier then predicts one class) or ``smooth`` (random low-resolution fields
scaled to the input range of the model's int8 sibling, which spread over the classes).
Prints per model the max / median |diff|, percentiles of max|diff| / max|ref|, top-1 agreement
and how many runs the FP16 rule (tinyrt.verify.tolerance("fp16")) accepts.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import codegen

from . import host, reference
from .bench import shared_dir
from .boards import load_board
from .frontend import read_tflite
from .quantize.fp16 import quantize_fp16
from .verify import tolerance
from .writer import write_tflite

MODELS = ("kws", "vww", "ic_resnet8", "ad01")


def input_range(shared: Path, name: str) -> tuple[float, float]:
    """The float range the int8 sibling's input quantisation covers."""
    g = read_tflite(str(shared / "models" / f"{name}_int8.tflite"))
    q = g.t(g.inputs[0]).quant
    s, z = float(q.scale[0]), int(q.zero_point[0])
    return s * (-128 - z), s * (127 - z)


def smooth_inputs(shape: tuple, lo: float, hi: float, count: int, seed: int = 0) -> list:
    """Random fields of 1/1 .. 1/8 the resolution along H and W, with a random centre and width,
    scaled into [lo, hi]."""
    rng = np.random.default_rng(seed)
    result = []
    for _ in range(count):
        cells = [max(1, d // int(rng.integers(1, 9))) if k in (1, 2) else d
                 for k, d in enumerate(shape)]
        field = rng.uniform(0, 1, size=cells)
        for axis in (1, 2):
            if len(shape) > axis:
                field = np.repeat(field, -(-shape[axis] // cells[axis]), axis=axis)
                field = field.take(range(shape[axis]), axis=axis)
        centre, width = rng.uniform(0.2, 0.8), rng.uniform(0.2, 1.0)
        x = lo + (hi - lo) * np.clip(centre + width * (field.reshape(shape) - 0.5), 0, 1)
        result.append([x.astype(np.float32)])
    return result


def measure(shared: Path, name: str, runs: int, kind: str) -> dict:
    graph = quantize_fp16(read_tflite(str(shared / "models" / f"{name}_float.tflite")))
    model = write_tflite(graph)
    ref = reference.Reference(model)
    if kind == "uniform":
        rng = np.random.default_rng(0)
        inputs = [reference.random_inputs(graph, rng) for _ in range(runs)]
    else:
        inputs = smooth_inputs(tuple(graph.t(graph.inputs[0]).shape),
                               *input_range(shared, name), runs)
    board = load_board("host")
    lowered = codegen.lower(graph, board, compute="fp16")
    work = Path(tempfile.mkdtemp(prefix=f"tinyrt-fp16acc-{name}-"))
    host.write_project(codegen.render(lowered), work)
    specs = [(tuple(d["shape"]), d["dtype"]) for d in ref.outputs]
    got = [o[0] for o in host.run(host.build(work, board), inputs, specs)]
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
