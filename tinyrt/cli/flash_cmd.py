"""`tinyrt flash DIR --board B`: put a built firmware on a board. For an emulated board this
starts QEMU and keeps it running (Ctrl-C stops it) so `tinyrt monitor --port ...` can attach."""
from __future__ import annotations

import shlex
import signal
import sys
import time
from pathlib import Path

from .. import flash, qemu
from ..boards import load_board
from ..errors import TinyrtError
from .common import add_board


def register(sub) -> None:
    p = sub.add_parser("flash", help="flash a built firmware (or start it in QEMU)")
    p.add_argument("project", metavar="DIR", help="directory given to `tinyrt build -o`")
    add_board(p)
    p.add_argument("--method", help="override the board's flash method (pyocd, openocd, uf2)")
    p.add_argument("--dry-run", action="store_true", help="print the command only")
    p.add_argument("--seconds", type=float, help="stop QEMU after this long (default: Ctrl-C)")
    p.set_defaults(func=run)


def run(args) -> int:
    board = load_board(args.board)
    elf = Path(args.project) / f"build-{board['id']}" / "firmware.elf"
    if not elf.is_file() and not args.dry_run:
        raise TinyrtError(f"no firmware for {board['id']} in {args.project} ({elf} is missing)",
                          [f"tinyrt build MODEL --board {board['id']} -o {args.project}"])
    if board["kind"] == "qemu":
        if args.dry_run:
            print(shlex.join(qemu.command(board, elf, qemu.free_port())))
            return 0
        # SIGTERM (a service manager, a test) must stop QEMU too, not leave it spinning
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        with qemu.start(board, elf) as running:
            print(f"{board['id']} running in QEMU; console at {running.port}")
            print(f"attach with: tinyrt monitor --board {board['id']} --port {running.port}", flush=True)
            deadline = time.monotonic() + args.seconds if args.seconds else None
            while running.alive and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.2)
        return 0
    cmds = flash.commands(board, elf, method=args.method)
    if args.dry_run:
        for cmd in cmds:
            print(shlex.join(cmd))
        return 0
    flash.flash(board, elf, method=args.method)
    print(f"flashed {elf} to {board['id']}")
    return 0
