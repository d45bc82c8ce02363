"""`tinyrt finetune MODEL --board B --train-data TRAIN.npz --eval-data EVAL.npz`: train the model
on the board (the TRAIN_* protocol commands), report loss and accuracy per epoch as the device
measures them, the training peak SRAM and the step latency, and write the fine-tuned .tflite."""
from __future__ import annotations

from ..boards import load_board
from ..table import table
from ..train.finetune import FinetuneConfig, finetune, write_output
from .common import add_board, add_json, add_model, add_quiet, options, write_json


def register(sub) -> None:
    p = sub.add_parser("finetune", help="fine-tune a model on the board (on-device training)")
    add_model(p)
    add_board(p)
    p.add_argument("--train-data", required=True, metavar="TRAIN.npz",
                   help=".npz with x (samples: float32 in real units, or the model's input dtype) "
                        "and y (integer labels)")
    p.add_argument("--eval-data", required=True, metavar="EVAL.npz",
                   help=".npz like --train-data; accuracy is measured on it by the device")
    p.add_argument("--epochs", type=int, default=3, help="passes over the training data (default 3)")
    p.add_argument("--lr", type=float, default=0.005, help="SGD learning rate (default 0.005)")
    p.add_argument("--momentum", type=float, default=0.9,
                   help="SGD momentum (default 0.9; 0 builds plain SGD without momentum state)")
    p.add_argument("--batch", type=int, default=8, help="samples per update (default 8)")
    p.add_argument("--train", default="last:2", metavar="SPEC",
                   help="what trains: last:K, bias, bias:last:N, bias:last:N,last:K, or layer "
                        "names/indices (default last:2; docs/training.md)")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32",
                   help="the trainable part's storage and arithmetic (default fp32; fp16: FP16 storage, float32 sums, on boards with MVE floating point such as qemu-m55, and the host)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample order (default 0)")
    p.add_argument("-o", "--output", metavar="OUT.tflite", help="write the fine-tuned int8 model here")
    p.add_argument("--check-reference", action="store_true",
                   help="train the same way in numpy and report the largest relative difference "
                        "of the device's parameters (reference.max_rel_diff)")
    p.add_argument("--port", help="serial port or pyserial URL of a board running this training "
                                  "firmware")
    p.add_argument("--work-dir", metavar="DIR", help="keep the generated project here")
    add_json(p)
    add_quiet(p)
    p.set_defaults(func=run)


def format_report(r: dict) -> str:
    mem, lat = r["memory"], r["latency"]
    lines = [table(["epoch", "loss", "train accuracy", "eval accuracy (device)"],
                   [[i, f"{e['loss']:.4f}", f"{100 * e['train_accuracy']:.1f}%",
                     f"{100 * e['eval_accuracy']:.1f}%"] for i, e in enumerate(r["epochs"], 1)],
                   title=f"{r['model']} fine-tuned on {r['board']} ({r['train']['spec']}, "
                         f"{r['train']['parameters']:,} parameters, {r['precision'].upper()})")]
    rows = [["accuracy before -> after", f"{100 * r['accuracy_before']:.1f}% -> "
             f"{100 * r['accuracy_after']:.1f}% (measured by the device)"],
            ["exported int8 model", f"{100 * r['exported']['eval_accuracy']:.1f}% "
             "(tflite-runtime on the evaluation data)"],
            ["training peak SRAM", f"{mem['training_peak_sram_bytes']:,} B (planned "
             f"{mem['planned_training_peak_bytes']:,} B + stack {mem['stack_bytes']:,} B"
             + (f"; backbone arena + stack + {mem['static_ram_bytes']:,} B static RAM)"
                if "static_ram_bytes" in mem else ")")],
            ["step latency", f"{lat['step_median']:,} {lat['unit']} (median, batch of "
             f"{r['settings']['batch']}; per sample {lat['sample_median']:,}, update "
             f"{lat['update_median']:,})"]]
    if "reference" in r:
        rows.append(["numpy reference", f"max relative difference {r['reference']['max_rel_diff']:.2e}"])
    if r.get("output"):
        rows.append(["written", r["output"]])
    return lines[0] + "\n" + table(["", ""], rows)


def run(args) -> int:
    board = load_board(args.board)
    config = FinetuneConfig(args.model, board, args.train_data, args.eval_data, args.epochs,
                            args.lr, args.momentum, args.batch, args.train, args.precision,
                            args.seed, args.check_reference,
                            options(args, quiet=True, runs=1, work_dir=args.work_dir), args.quiet)
    report, tflite = finetune(config)
    report["output"] = write_output(tflite, args.output) if args.output else None
    print(format_report(report))
    write_json(args.json, report)
    return 0
