"""Boards are data: one TOML file each in boards/, loaded into a plain dict.

Adding a board never touches Python. The schema (required keys and their types) is checked on
load and in the tests, so a typo in a board file is an error, not a silent default.
"""
from __future__ import annotations

import difflib
import tomllib
from pathlib import Path

from .errors import TinyrtError
from .paths import data_dir

REQUIRED = {"id": str, "description": str, "kind": str, "features": list}
KINDS = {"host", "qemu", "mcu"}


def board_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(data_dir("boards").glob("*.toml"))}


def load_board(board_id: str) -> dict:
    files = board_files()
    if board_id not in files:
        close = difflib.get_close_matches(board_id, files, n=3, cutoff=0.4)
        hints = [f"did you mean {', '.join(close)}?"] if close else []
        hints.append(f"known boards: {', '.join(files)} (see `tinyrt boards`)")
        raise TinyrtError(f"unknown board '{board_id}'", hints)
    board = tomllib.loads(files[board_id].read_text())
    validate(board, files[board_id])
    board.setdefault("alignment", 8)
    board["dir"] = str(files[board_id].parent)
    return board


def validate(board: dict, where: Path | str = "board") -> None:
    for key, typ in REQUIRED.items():
        if not isinstance(board.get(key), typ):
            raise TinyrtError(f"{where}: key '{key}' must be a {typ.__name__}")
    if board["kind"] not in KINDS:
        raise TinyrtError(f"{where}: kind '{board['kind']}' is not one of {sorted(KINDS)}")
    if Path(str(where)).suffix == ".toml" and Path(str(where)).stem != board["id"]:
        raise TinyrtError(f"{where}: id '{board['id']}' must match the file name")
