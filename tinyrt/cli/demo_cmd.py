"""`tinyrt demo`: train the example model, quantise it with tinyrt, deploy it to the default
board on real test digits and print the report."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..frontend import read_tflite
from .common import DEFAULT_BOARD


def register(sub) -> None:
    p = sub.add_parser("demo", help="train, quantise and deploy the example model (`make demo`)")
    p.add_argument("--board", default=DEFAULT_BOARD, help=f"board (default {DEFAULT_BOARD})")
    p.add_argument("--runs", type=int, default=20, help="test digits to run on the board")
    p.add_argument("--out", metavar="DIR", help="where to write the models and data")
    p.add_argument("--json", metavar="FILE", help="write the deploy report as JSON")
    p.set_defaults(func=run)


def quantized_inputs(int8_model: Path, float_inputs: Path, out: Path) -> Path:
    """The float test digits as the int8 model's input expects them."""
    graph = read_tflite(int8_model)
    x = graph.t(graph.inputs[0])
    s, z = float(x.quant.scale[0]), int(x.quant.zero_point[0])
    q = np.clip(np.round(np.load(float_inputs) / s) + z, -128, 127).astype(np.int8)
    np.save(out, q)
    return out


def run(args) -> int:
    from .. import cli
    from ..example_digits import make_example
    out = Path(args.out or tempfile.mkdtemp(prefix="tinyrt-demo-"))
    print("training a small CNN on scikit-learn's 8x8 digits (numpy, deterministic)...", flush=True)
    ex = make_example(out)
    print(f"  float accuracy {ex['float_test_accuracy']:.1%}, int8 accuracy "
          f"{ex['int8_test_accuracy']:.1%} (tinyrt quantize, min/max), top-1 agreement "
          f"{ex['top1_agreement']:.1%} on {ex['test_samples']} held-out digits")
    print(f"  models in {out}")
    inputs = quantized_inputs(Path(ex["int8_model"]), Path(ex["test_inputs"]), out / "digits_test_int8.npy")
    argv = ["deploy", ex["int8_model"], "--board", args.board, "--runs", str(args.runs),
            "--inputs", str(inputs)]
    return cli.main(argv + (["--json", args.json] if args.json else []))
