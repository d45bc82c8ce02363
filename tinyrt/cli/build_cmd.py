"""`tinyrt build MODEL --board B -o DIR`: generate the model and build the board's firmware."""
from __future__ import annotations

from ..boards import load_board
from ..device import build_firmware, prepare
from ..progress import step
from ..table import table
from .common import (add_board, add_compute, add_json, add_kernels, add_model,
                     add_patch, add_quiet, with_kernels, write_json)


def register(sub) -> None:
    p = sub.add_parser("build", help="generate a model and build firmware for a board")
    add_model(p)
    add_board(p)
    add_kernels(p)
    add_patch(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="project directory")
    p.add_argument("--profile", action="store_true", help="build with per-layer timing")
    add_compute(p)
    add_json(p)
    add_quiet(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = with_kernels(load_board(args.board), args)
    lowered, project = prepare(args.model, board, args.output, args.compute, args.quiet)
    step(f"building {lowered.graph.name} for {board['id']}", not args.quiet)
    if board["kind"] == "host":
        from ..errors import TinyrtError
        raise TinyrtError("board 'host' has no firmware to build",
                          [f"tinyrt compile {args.model} --board host -o {args.output}",
                           f"tinyrt deploy {args.model} --board host"])
    fw = build_firmware(lowered, project, board, args.profile)
    s = fw.sizes
    print(table(["section", "bytes"], [["text", s.text], ["rodata (weights incl.)", s.rodata],
                                        ["weights", s.weights], ["data", s.data],
                                        ["bss (without arena)", s.bss], ["arena", s.arena],
                                        ["stack (reserved)", s.stack], ["flash total", s.flash]],
                title=f"{fw.elf}"))
    write_json(args.json, {"board": board["id"], "elf": str(fw.elf), "map": str(fw.map),
                           "sizes": s.as_dict()})
    return 0
