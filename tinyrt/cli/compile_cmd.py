"""`tinyrt compile MODEL --board B -o DIR`: write the generated C library."""
from __future__ import annotations

from pathlib import Path

import codegen

from ..boards import load_board
from ..frontend import read_tflite
from ..host import write_project
from .common import add_board, add_compute, add_kernels, add_model, add_patch, with_kernels


def register(sub) -> None:
    p = sub.add_parser("compile", help="generate the C library for a model")
    add_model(p)
    add_board(p)
    add_kernels(p)
    add_patch(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="directory to write into")
    add_compute(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = with_kernels(load_board(args.board), args)
    lowered = codegen.lower(read_tflite(args.model), board, compute=args.compute)
    files = codegen.render(lowered, host_main=board["kind"] == "host")
    out = write_project(files, args.output)
    total = sum(len(t) for t in files.values())
    print(f"wrote {len(files)} files ({total:,} bytes of C) to {Path(out)}")
    print(f"arena {lowered.plan.arena_bytes:,} B, weights {lowered.weights_bytes():,} B, "
          f"{len(lowered.layers)} layers, compute {lowered.compute}")
    print(kernel_summary(lowered))
    return 0


def kernel_summary(lowered) -> str:
    """One line per kernel that runs: how many layers use it and its variant."""
    used: dict[tuple[str, str], int] = {}
    for layer in lowered.layers:
        if layer.kernel:
            used[(layer.kernel, layer.variant)] = used.get((layer.kernel, layer.variant), 0) + 1
    return "kernels:\n" + "\n".join(f"  {k:<34} {v:<9} x{n}" for (k, v), n in used.items())
