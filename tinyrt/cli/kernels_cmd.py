"""`tinyrt kernels [--board B]`: the kernel-variant table, or which rows a board can use."""
from __future__ import annotations

from .. import variants
from ..boards import load_board
from ..table import table
from .common import add_json, write_json


def register(sub) -> None:
    p = sub.add_parser("kernels", help="list the kernel-variant table (which kernel computes what)")
    p.add_argument("--board", help="mark the rows this board's features allow")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    features = set(load_board(args.board)["features"]) if args.board else None
    rows = variants.table()
    for r in rows:
        r["usable"] = None if features is None else set(r["features"]) <= features
    head = ["op", "dtype", "variant", "case", "needs"] + (["on " + args.board] if args.board else [])
    body = [[r["op"], r["dtype"], r["variant"], r["case"], ",".join(r["features"]) or "-"]
            + ([r["usable"]] if args.board else []) for r in rows]
    print(table(head, body, title="kernel-variant table, in resolution order: the first row "
                                  "whose features the board has and whose case holds computes "
                                  "the layer"))
    write_json(args.json, {"board": args.board, "kernels": rows})
    return 0
