"""`tinyrt boards`: the boards tinyrt knows, with their features."""
from __future__ import annotations

from ..boards import board_files, load_board
from ..table import table
from .common import add_json, write_json


def register(sub) -> None:
    p = sub.add_parser("boards", help="list the boards")
    add_json(p)
    p.set_defaults(func=run)


def _kb(region: dict | None) -> str:
    return f"{region['length'] // 1024} KB" if region and "length" in region else "-"


def run(args) -> int:
    boards = [load_board(b) for b in board_files()]
    rows = []
    for b in boards:
        mem = b.get("memory", {})
        rows.append([b["id"], b["kind"], b.get("cpu", "native"), ",".join(b["features"]) or "-",
                     _kb(mem.get("sram")), _kb(mem.get("flash")), b["description"]])
    print(table(["board", "kind", "cpu", "features", "sram", "flash", "description"], rows))
    write_json(args.json, {"boards": [{k: v for k, v in b.items() if k != "dir"} for b in boards]})
    return 0
