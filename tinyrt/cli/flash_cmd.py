"""`tinyrt flash DIR --board B`: put a built firmware on a board. For an emulated board this
starts QEMU and keeps it running (Ctrl-C stops it) so `tinyrt monitor --port ...` can attach;
a real board is flashed by its method (pyOCD, OpenOCD, UF2 copy), its port then found and
printed. A built image is first checked against the board's memory regions."""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from .. import board_fit, firmware, flash, qemu
from ..boards import load_board
from ..errors import TinyrtError
from ..ports import find_board_port
from .common import add_board


def register(sub) -> None:
    p = sub.add_parser("flash", help="flash a built firmware (or start it in QEMU)")
    p.add_argument("project", metavar="DIR", help="directory given to `tinyrt build -o`")
    add_board(p)
    p.add_argument("--method", help="override the board's flash method (pyocd, openocd, uf2)")
    p.add_argument("--probe", metavar="UID", help="the debug probe to flash through (its unique "
                   "id or a part of it: `pyocd list`, `tinyrt ports`), when several are attached")
    p.add_argument("--dry-run", action="store_true", help="check the fit, print the action only")
    p.add_argument("--seconds", type=float, help="stop QEMU after this long (default: Ctrl-C)")
    p.set_defaults(func=run)


def run(args) -> int:
    board = load_board(args.board)
    out = Path(args.project) / f"build-{board['id']}"
    elf = out / "firmware.elf"
    if elf.is_file():
        board_fit.check(board, board_fit.built_needs(firmware.section_sizes(elf), board),
                        str(elf), built=True)
    elif not args.dry_run:
        raise TinyrtError(f"no firmware for {board['id']} in {args.project} ({elf} is missing)",
                          [f"tinyrt build MODEL --board {board['id']} -o {args.project}"])
    else:
        print(f"note: {elf} is not built yet: its fit is checked by `tinyrt build`", file=sys.stderr)
    if board["kind"] == "qemu":
        return _qemu(board, elf, args)
    uf2 = out / "firmware.uf2" if (out / "firmware.uf2").is_file() else None   # the build's
    if args.dry_run:
        for cmd in flash.commands(board, elf, uf2, args.method, args.probe):
            print(shlex.join(cmd))
        return 0
    done = flash.flash(board, elf, uf2, args.method, args.probe)
    print(f"flashed {elf} to {board['id']}" + (f" through probe {done.unique_id}" if done.unique_id
                                                else f" on {done.volume}" if done.volume else ""))
    try:
        port = find_board_port(board, done.unique_id, wait_s=3.0)
        print(f"console at {port}: tinyrt monitor --board {board['id']} --port {port}")
    except TinyrtError as e:   # flashed all the same: the port is for later
        print(f"note: {e.message}", file=sys.stderr)
    return 0


def _qemu(board: dict, elf: Path, args) -> int:
    if args.dry_run:
        print(shlex.join(qemu.command(board, elf, qemu.free_port())))
        return 0
    # SIGTERM and SIGHUP raise main()'s Stopped here: leaving the with-block stops QEMU
    with qemu.start(board, elf) as running:
        print(f"{board['id']} running in QEMU; console at {running.port}")
        print(f"attach with: tinyrt monitor --board {board['id']} --port {running.port}", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while running.alive and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
    return 0
