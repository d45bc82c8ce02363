"""`tinyrt build MODEL --board B -o DIR`: generate the model and build the board's firmware."""
from __future__ import annotations

from .. import pipeline
from ..boards import load_board
from ..errors import TinyrtError
from ..table import table
from .common import (add_board, add_compute, add_input_copy, add_json, add_kernels, add_model,
                     add_patch, add_protocol, add_quiet, options, write_json)


def register(sub) -> None:
    p = sub.add_parser("build", help="generate a model and build firmware for a board")
    add_model(p)
    add_board(p)
    add_kernels(p)
    add_patch(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="project directory")
    p.add_argument("--profile", action="store_true", help="build with per-layer timing")
    add_input_copy(p)
    add_compute(p)
    add_protocol(p)
    add_json(p)
    add_quiet(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = load_board(args.board)
    opts = options(args)
    prepared = pipeline.prepare(args.model, board, opts)
    project = pipeline.write(prepared, args.output)
    if board["kind"] == "host":
        raise TinyrtError("board 'host' has no firmware to build",
                          [f"tinyrt compile {args.model} --board host -o {args.output}",
                           f"tinyrt deploy {args.model} --board host"])
    if opts.protocol == "eembc":
        from ..eembc import options_for
        opts = options_for(prepared, opts)
    fw = pipeline.build(prepared, project, opts).firmware
    s = fw.sizes
    copy = prepared.input_copy_bytes
    if opts.protocol == "eembc":
        from ..eembc import buffer_bytes
        copy = buffer_bytes(prepared.lowered)   # the db buffer holds the input outside the arena
    print(table(["section", "bytes"], [["text", s.text], ["rodata (weights incl.)", s.rodata],
                                        ["weights", s.weights], ["data", s.data],
                                        ["bss (without arena)", s.bss], ["arena", s.arena],
                                        ["input copy (in bss)", copy],
                                        ["stack (reserved)", s.stack], ["flash total", s.flash]],
                title=f"{fw.elf}"))
    if opts.protocol == "eembc":
        print(f"protocol: eembc (MLPerf Tiny runner; {' '.join(opts.extra_cflags[-2:])})")
    write_json(args.json, {"board": board["id"], "elf": str(fw.elf), "map": str(fw.map),
                           "sizes": s.as_dict(), "input_copy_bytes": copy,
                           "protocol": opts.protocol})
    return 0
