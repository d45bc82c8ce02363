"""`tinyrt boards`: the boards tinyrt knows, with their features; `tinyrt boards add` makes one
from a CMSIS-Pack device description, `tinyrt boards remove` deletes a user board."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from .. import boardgen, firmware, packs
from ..boards import (budgets, builtin_board_files, load_board, user_board_files,
                      user_boards_dir, validate)
from ..errors import TinyrtError
from ..paths import data_dir
from ..table import table
from .common import add_json, write_json


def register(sub) -> None:
    p = sub.add_parser("boards", help="list the boards; add one from a CMSIS-Pack")
    add_json(p)
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="write a board file for a part from its CMSIS-Pack")
    add.add_argument("--device", required=True, metavar="PART",
                     help="the part's name in its pack (e.g. STM32F746ZGTx)")
    add.add_argument("--pack", metavar="FILE", help="the part's pack (.pack as downloaded, or "
                     "its .pdsc); without it the pack cache, then the online pack index")
    add.add_argument("--name", metavar="ID", help="board id (default: the part in lower case)")
    add.add_argument("--console", metavar="KIND[@BASE][,KEY=VALUE...]",
                     help="the UART wired to the host, as a built-in board's console kind and "
                          "its base address (e.g. stm32_usart@0x40004800)")
    add.add_argument("--qemu", metavar="MACHINE", help="the part is emulated by this QEMU "
                     "machine (e.g. mps2-an386): an emulated board, run by `tinyrt deploy`")
    add.add_argument("--clock-hz", type=int, metavar="HZ",
                     help="the core clock the firmware runs at (default: the board layer's)")
    add.add_argument("--offline", action="store_true",
                     help="never download the pack index")
    add.add_argument("--force", action="store_true", help="replace a user board of that id")
    add_json(add)
    add.set_defaults(func=run_add)
    rm = actions.add_parser("remove", help="delete a board from the user boards folder")
    rm.add_argument("board", metavar="ID")
    rm.set_defaults(func=run_remove)


def _kb(region: dict | None) -> str:
    return f"{region['length'] // 1024} KB" if region and "length" in region else "-"


def _ram(board: dict) -> dict | None:
    """The region named sram, else (a board listing its RAMs apart: nucleo-f746zg's DTCM and
    SRAM1) the RAM the placement uses for data, arena and stack."""
    mem = board.get("memory", {})
    if "sram" in mem or board["kind"] == "host":
        return mem.get("sram")
    return {"length": budgets(board)["sram"]}


def run(args) -> int:
    user = user_board_files()
    boards, broken = [], []
    for b in {**builtin_board_files(), **user}:
        try:
            boards.append(load_board(b))
        except TinyrtError as e:  # a broken user file must not hide the other boards
            if b not in user:
                raise
            broken.append(e)
    rows = []
    for b in boards:
        mem = b.get("memory", {})
        rows.append([b["id"], b["kind"], b.get("cpu", "native"), ",".join(b["features"]) or "-",
                     _kb(_ram(b)), _kb(mem.get("flash")),
                     "user" if b["id"] in user else "built-in", b["description"]])
    print(table(["board", "kind", "cpu", "features", "sram", "flash", "from", "description"], rows))
    print(f"user boards: {user_boards_dir()} (TINYRT_BOARDS; `tinyrt boards add`)")
    for e in broken:
        print("\n".join([f"error: {e.message}"] + [f"try: {h}" for h in e.hints]), file=sys.stderr)
    write_json(args.json, {"boards": [{**{k: v for k, v in b.items() if k != "dir"},
                                       "user": b["id"] in user} for b in boards]})
    return 1 if broken else 0


def run_add(args) -> int:
    device = _device(args)
    target = _target(args)
    made = boardgen.generate(device, target.stem, args.console, args.qemu, args.clock_hz)
    text = boardgen.to_toml(made["board"], _header(args, device))
    _write_checked(text, target, made["notes"])
    board = load_board(target.stem)
    _report(board, device, made, target)
    write_json(args.json, {"board": {k: v for k, v in board.items() if k != "dir"},
                           "file": str(target), "template": made["template"],
                           "part": device["part"], "pack": device["pack"],
                           "notes": made["notes"]})
    return 0


def _target(args) -> Path:
    board_id = args.name or re.sub(r"[^a-z0-9.-]+", "-", args.device.lower()).strip("-")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", board_id):
        raise TinyrtError(f"board id '{board_id}' may hold only letters, digits, '.', '_' and '-'",
                          ["--name ID"])
    if board_id in builtin_board_files():
        raise TinyrtError(f"'{board_id}' is a built-in board", ["--name ID with another id"])
    target = user_boards_dir() / f"{board_id}.toml"
    if target.exists() and not args.force:
        raise TinyrtError(f"board '{board_id}' exists already ({target})",
                          ["--force to replace it", "--name ID for another id"])
    return target


def _device(args) -> dict:
    cache = packs.open_cache()
    pack = packs.import_pack(cache, args.pack) if args.pack else None
    try:
        entry = packs.lookup(cache, args.device, pack)
    except TinyrtError:
        if pack is not None or args.offline:
            raise
        print("the part is not in the pack cache: downloading the CMSIS-Pack index ...",
              file=sys.stderr)
        packs.update_index(cache)
        entry = packs.lookup(cache, args.device)
    return packs.describe(cache, entry)


def _header(args, device: dict) -> list[str]:
    pack = device["pack"]
    cmd = " ".join(["tinyrt boards add --device", device["part"]]
                   + [f"--{k.replace('_', '-')} {v}" for k, v in
                      (("pack", args.pack), ("console", args.console), ("qemu", args.qemu),
                       ("clock_hz", args.clock_hz)) if v])
    return [f"Generated by `{cmd}`", f"from {pack['vendor']}.{pack['name']} {pack['version']} "
            f"({device['family']}). Edit freely: `tinyrt boards` validates it."]


def _write_checked(text: str, target: Path, notes: list[str]) -> None:
    """Validate the text as it will be read back and compile its board layer, then put it in
    place in one rename: a board that cannot build is never written."""
    board = tomllib.loads(text)
    try:
        validate(board, str(target))
    except TinyrtError as e:
        raise TinyrtError(f"the generated board fails validation: {e.message}",
                          e.hints + ["this is a tinyrt bug; the board file was not written"]) from None
    notes.append(_check_layer(board))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_layer(board: dict) -> str:
    """Compile the board's startup and board layer with its defines (a layer stops with an
    #error when the board file lacks a key it needs, e.g. console.rx_irq for another UART)."""
    try:
        firmware.toolchain()
    except TinyrtError:
        return "the board layer was not compile-checked: arm-none-eabi-gcc is not installed"
    sources = {str(data_dir("firmware") / s) for s in board["firmware"]["sources"]}
    with tempfile.TemporaryDirectory(prefix="tinyrt-board-") as tmp:
        for cmd in firmware.commands(tmp, board, tmp):
            if "-c" in cmd and cmd[cmd.index("-c") + 1] in sources:
                Path(cmd[-1]).parent.mkdir(parents=True, exist_ok=True)
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
                    raise TinyrtError(
                        f"the board layer does not build for this board (file not written): "
                        f"{(errors or proc.stderr.splitlines() or ['?'])[0]}",
                        ["--console KIND@BASE,KEY=VALUE sets a console key the layer asks for "
                         "(e.g. ,rx_irq=37: the UART's interrupt number)"])
    return "the board layer compiles for this board"


def _report(board: dict, device: dict, made: dict, target: Path) -> None:
    regions = ", ".join(f"{n} {r['origin']:#x} {r['length'] // 1024} KB {r['access']}"
                        for n, r in board["memory"].items())
    rows = [["file", str(target)], ["part", device["part"]],
            ["pack", f"{device['pack']['vendor']}.{device['pack']['name']} "
                     f"{device['pack']['version']}"],
            ["kind", board["kind"]], ["cpu", f"{board['cpu']} (fpu {board['fpu']}, "
                                             f"{board['float_abi']} float ABI)"],
            ["features", ",".join(board["features"]) or "-"], ["memory", regions],
            ["clock", f"{board['clock_hz']:,} Hz"],
            ["console", f"{board['console']['kind']} @ {board['console'].get('base', 0):#x}"],
            ["flash", ", ".join(f"{k} {v}" for k, v in board["flash"].items())]]
    print(table(["added board", board["id"]], rows))
    for note in made["notes"]:
        print(f"note: {note}")
    print(f"next: tinyrt build MODEL --board {board['id']} -o DIR"
          + (f"   or   tinyrt deploy MODEL --board {board['id']}" if board["kind"] == "qemu" else ""))


def run_remove(args) -> int:
    user = user_board_files()
    if args.board not in user:
        hint = ("built-in boards cannot be removed" if args.board in builtin_board_files()
                else f"user boards: {', '.join(user) or 'none'}")
        raise TinyrtError(f"'{args.board}' is not a user board", [hint])
    user[args.board].unlink()
    print(f"removed {user[args.board]}")
    return 0
