"""Fine-tune the example digits model on a new writer's digits, on an emulated Cortex-M4, with the
Python API (tinyrt.train.device): deploy once, then evaluate, train, evaluate, read the
parameters back, export the fine-tuned model, reset.

    .venv/bin/python examples/finetune_new_writer.py [--board qemu-m4] [--epochs 3] [--out DIR]

The new writer's strokes are rotated, thicker and shifted (tinyrt/train/scenario.py); accuracy is
measured by the device, before and after, on digits of the test split it never trains on.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from tinyrt.boards import load_board
from tinyrt.progress import Progress
from tinyrt.train import device
from tinyrt.train.scenario import write_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="qemu-m4")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--out", help="keep the model, the data and the fine-tuned model here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinyrt-example-") as tmp:
        out = Path(args.out or tmp)
        files = write_scenario(out)
        train, evaluation = np.load(files["train_data"]), np.load(files["eval_data"])
        with device.deploy(files["model"], load_board(args.board), "last:2") as t:
            before = t.evaluate(evaluation["x"], evaluation["y"])["accuracy"]
            print(f"{args.board}: accuracy on the new writer before training {100 * before:.1f}%")
            rng = np.random.default_rng(0)
            for epoch in range(1, args.epochs + 1):
                order = rng.permutation(len(train["y"]))
                with Progress(f"epoch {epoch}", len(order)) as bar:
                    e = t.train(train["x"][order], train["y"][order], lr=0.005, momentum=0.9,
                                batch=8, progress=bar)
                acc = t.evaluate(evaluation["x"], evaluation["y"])["accuracy"]
                print(f"epoch {epoch}: loss {e.loss:.3f}, eval accuracy {100 * acc:.1f}%")
            mem, lat = t.memory(), t.latency([e])
            print(f"training peak SRAM {mem['training_peak_sram_bytes']:,} B, "
                  f"{lat['sample_median']:,} {lat['unit']} per sample, "
                  f"{lat['update_median']:,} per update")
            tuned = out / "digits_new_writer_int8.tflite"
            tuned.write_bytes(t.finetuned_tflite())   # parameters read back from the device
            t.reset()                                 # the deployed model's parameters again
            again = t.evaluate(evaluation["x"][:50], evaluation["y"][:50])["accuracy"]
            print(f"after reset, first 50 samples: {100 * again:.1f}% (as before training)")
        print(f"fine-tuned model: {tuned}" + ("" if args.out else " (removed with the temporary folder)"))


if __name__ == "__main__":
    main()
