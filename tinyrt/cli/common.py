"""Options and helpers shared by several subcommands."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_BOARD = "qemu-m4"
JSON_STDOUT = None   # the stdout `--json -` writes to; main() sends everything else to stderr


def add_model(p) -> None:
    p.add_argument("model", help="path to a .tflite model")


def add_board(p, default: str = DEFAULT_BOARD) -> None:
    p.add_argument("--board", "-b", default=default,
                   help=f"board id (default: {default}; `tinyrt boards` lists them)")


def add_compute(p) -> None:
    p.add_argument("--compute", choices=("auto", "fp16", "fp32"), default="auto",
                   help="float models: compute in FP16 or FP32 (default auto: FP16 for FP16 "
                        "models on boards with the mve_fp feature, e.g. qemu-m55; docs/fp16.md)")


def add_kernels(p) -> None:
    p.add_argument("--kernels", choices=("auto", "portable"), default="auto",
                   help="auto (default): the fastest kernel variant the board's features allow "
                        "(dsp, mve); portable: the portable C kernels only, e.g. to compare")


PATCH_HELP = ("auto: run the first layers row by row with line buffers when that lowers the "
              "arena (tinyrt/stream.py, no extra MACs); off (default): layer by layer; @N: the "
              "streamed stage ends at op N")


def add_patch(p) -> None:
    p.add_argument("--patch", default="off", metavar="auto|off|@N", type=_patch, help=PATCH_HELP)
    p.add_argument("--sram-budget", type=int, metavar="BYTES",
                   help="the SRAM the model may use (arena + stack) instead of the board's: "
                        "layer by layer if it fits, else streamed (--patch auto), else an error")
    p.add_argument("--max-overhead", type=_percent, metavar="PCT",
                   help="the extra MACs column strips of a stage whose input is read row by row "
                        "may compute at their edges (default 15%%)")
    p.add_argument("--stream-input", action="store_true",
                   help="read the input a row at a time through tinyrt_read_input() (a camera "
                        "or sensor driver) instead of holding it whole in the arena; implies "
                        "--patch auto")


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / 100
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a percentage such as 15%") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the overhead cannot be negative")
    return value


def _patch(text: str) -> str:
    if text in ("auto", "off") or (text.startswith("@") and text[1:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"'{text}' is not auto, off or @N (an op index)")


def with_kernels(board: dict, args) -> dict:
    """The board with the --kernels and --patch choices attached (codegen.lower reads
    board["kernels"] and board["patch"])."""
    return options(args).board_for(board)


def options(args, **overrides):
    """The one place CLI args become ``DeployOptions`` (tinyrt/pipeline/options.py)."""
    from ..pipeline import from_args
    return from_args(args, **overrides)


def add_input_copy(p) -> None:
    p.add_argument("--input-copy", choices=("auto", "on", "off"), default="auto",
                   help="auto (default): the firmware keeps a copy of the input outside the "
                        "arena when the plan reuses the input's bytes, so every run of an "
                        "INVOKE and `monitor` compute on the input that was set (the copy counts "
                        "as static RAM); off: the application writes its input into the arena "
                        "before every run itself")


def add_protocol(p) -> None:
    p.add_argument("--protocol", choices=("tinyrt", "eembc"), default="tinyrt",
                   help="what the firmware speaks on its console: tinyrt (default; "
                        "docs/protocol.md) or eembc, the MLPerf Tiny benchmark runner's "
                        "protocol (name%%, profile%%, db, infer N W%%, results%%)")


def add_json(p) -> None:
    p.add_argument("--json", metavar="FILE", help="also write a machine-readable report ('-' for stdout)")


def add_quiet(p) -> None:
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def write_json(dest: str | None, report: dict) -> None:
    if not dest:
        return
    text = json.dumps(report, indent=2, default=_default) + "\n"
    if dest == "-":
        (JSON_STDOUT or sys.stdout).write(text)
    else:
        Path(dest).write_text(text)


def _default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")
