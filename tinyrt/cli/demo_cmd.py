"""`tinyrt demo`: deploy the example model to the default board and print the report."""
from __future__ import annotations

import tempfile
from pathlib import Path

from .. import examples
from .common import DEFAULT_BOARD


def register(sub) -> None:
    p = sub.add_parser("demo", help="deploy the example model (what `make demo` runs)")
    p.add_argument("--board", default=DEFAULT_BOARD, help=f"board (default {DEFAULT_BOARD})")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--json", metavar="FILE", help="write the deploy report as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import cli
    out = Path(tempfile.mkdtemp(prefix="tinyrt-demo-"))
    model = examples.write_example(out)
    print(f"example model: {model}\n  {examples.DESCRIPTION}")
    argv = ["deploy", str(model), "--board", args.board, "--runs", str(args.runs)]
    return cli.main(argv + (["--json", args.json] if args.json else []))
