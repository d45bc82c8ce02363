"""`tinyrt monitor --board B [--port P]`: attach to a running board, print INFO, then live
latency per invoke, like a serial monitor with measurements."""
from __future__ import annotations

import statistics
import time

import numpy as np

from ..boards import load_board
from ..errors import TinyrtError
from ..link import Device
from ..table import table
from .common import add_board


def register(sub) -> None:
    p = sub.add_parser("monitor", help="attach to a running board and show live latency")
    add_board(p)
    p.add_argument("--port", help="serial port or pyserial URL (socket://127.0.0.1:PORT)")
    p.add_argument("--count", type=int, default=0, help="stop after this many invokes (default: run until Ctrl-C)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between invokes")
    p.set_defaults(func=run)


def run(args) -> int:
    board = load_board(args.board)
    if not args.port:
        raise TinyrtError("monitor needs the board's serial port",
                          ["--port /dev/ttyACM0 for a real board",
                           f"for QEMU: `tinyrt flash DIR --board {board['id']}` prints the socket:// URL"])
    serial_cfg = board.get("serial", {})
    with Device.open(args.port, baud=serial_cfg.get("baud", 115200),
                     timeout=float(serial_cfg.get("timeout_s", 5.0))) as dev:
        info = dev.info()
        print(table(["", ""], [["model", f"{info.model_name} ({info.model_hash})"],
                               ["board", info.board_id], ["firmware", info.firmware_version],
                               ["arena", f"{info.arena_bytes:,} B"], ["layers", info.num_layers],
                               ["inputs", ", ".join(f"{t.dtype}{list(t.shape)}" for t in info.inputs)],
                               ["outputs", ", ".join(f"{t.dtype}{list(t.shape)}" for t in info.outputs)],
                               ["latency unit", info.latency_unit]]))
        rng = np.random.default_rng(0)
        dev.set_input(rng.integers(0, 256, info.input_bytes, dtype=np.uint8).tobytes())
        seen, n = [], 0
        while not args.count or n < args.count:
            (count,) = dev.invoke(1)
            seen.append(count)
            n += 1
            ms = f"  {count / info.clock_hz * 1e3:.3f} ms" if info.latency_unit == "cycles" and info.clock_hz else ""
            print(f"invoke {n:5d}: {count:>12,} {info.latency_unit}{ms}   "
                  f"median {int(statistics.median(seen)):,}  min {min(seen):,}  max {max(seen):,}", flush=True)
            time.sleep(args.interval)
        st = dev.stats()
        print(f"stack used {st.stack_used:,} of {st.stack_size:,} B, arena {st.arena_bytes:,} B, "
              f"static RAM {st.static_ram:,} B")
    return 0
