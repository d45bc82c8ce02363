"""`tinyrt monitor [MODEL] --board B [--port P]`: attach to a running board (without --port, a
real board's is found from its probe's USB ids) or, given a model and no port, build and start
it; print INFO, then live latency per invoke, like a serial monitor with measurements. One input is set once; every invoke's output is read back and, given the
model, compared with tflite-runtime's."""
from __future__ import annotations

import contextlib
import statistics
import time
import zlib

import numpy as np

from .. import pipeline
from ..boards import load_board
from ..errors import TinyrtError
from ..table import table
from .common import add_board, add_input_copy, options


def register(sub) -> None:
    p = sub.add_parser("monitor", help="attach to a running board and show live latency")
    p.add_argument("model", nargs="?", help="the .tflite the board runs: checks its outputs; "
                                            "without --port the board is built and started")
    add_board(p)
    p.add_argument("--port", help="serial port or pyserial URL (socket://127.0.0.1:PORT); "
                                  "a real board's is found from its probe without it")
    p.add_argument("--count", type=int, default=0, help="stop after this many invokes (default: run until Ctrl-C)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between invokes")
    p.add_argument("--seed", type=int, default=0, help="seed of the input (default 0)")
    add_input_copy(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = load_board(args.board)
    if not args.port and not args.model and board["kind"] != "mcu":   # a real board: its probe's
        raise TinyrtError("monitor needs the board's serial port, or the model to start it with",
                          [f"--port URL: `tinyrt flash DIR --board {board['id']}` starts the "
                           f"board and prints its socket:// URL",
                           f"tinyrt monitor MODEL --board {board['id']} builds and starts it"])
    opts = options(args, quiet=True, runs=1)
    with _device(args.model, board, opts) as (dev, prepared):
        print(_info_table(dev.info()))
        data, expected = _input(dev.info(), prepared, opts)
        return _loop(dev, data, expected, args)


@contextlib.contextmanager
def _device(model, board: dict, opts):
    """(device, prepared model or None): the board running at --port (a real board's found on
    its probe without it), or the model built and started."""
    prepared = pipeline.prepare(model, board, opts) if model else None
    if opts.port is None and model:
        with pipeline.session(model, board, opts, prepared) as s:
            yield s.device, prepared
        return
    with pipeline.target_for(board).attach(opts) as dev:
        if prepared is not None:
            pipeline.check_model(dev, prepared)
        yield dev, prepared


def _input(info, prepared, opts) -> tuple[bytes, bytes | None]:
    """The input to set (seeded) and, given the model, tflite-runtime's output bytes for it."""
    if prepared is None:
        rng = np.random.default_rng(opts.seed)
        return rng.integers(0, 256, info.input_bytes, dtype=np.uint8).tobytes(), None
    from ..reference import Reference
    x = pipeline.load_inputs(opts.inputs_path, prepared.lowered.graph, 1, opts.seed)[0]
    ref = Reference(prepared.model).run(x)
    return (b"".join(np.ascontiguousarray(a).tobytes() for a in x),
            b"".join(np.ascontiguousarray(a).tobytes() for a in ref))


def _info_table(info) -> str:
    return table(["", ""], [["model", f"{info.model_name} ({info.model_hash})"],
                            ["board", info.board_id], ["firmware", info.firmware_version],
                            ["arena", f"{info.arena_bytes:,} B"], ["layers", info.num_layers],
                            ["inputs", ", ".join(f"{t.dtype}{list(t.shape)}" for t in info.inputs)],
                            ["outputs", ", ".join(f"{t.dtype}{list(t.shape)}" for t in info.outputs)],
                            ["input copy", "yes" if info.input_copy else "no"],
                            ["every run exact", "yes" if info.repeat_exact else "no"],
                            ["latency unit", info.latency_unit]])


def _loop(dev, data: bytes, expected: bytes | None, args) -> int:
    info = dev.info()
    resend = not info.repeat_exact
    if resend:
        print("note: this firmware keeps no input copy and its plan reuses the input's bytes "
              "(built with --input-copy off): the input is sent again before every invoke")
    dev.set_input(data)
    seen, n, wrong = [], 0, 0
    while not args.count or n < args.count:
        if resend and n:
            dev.set_input(data)
        (count,) = dev.invoke(1)
        out = dev.get_output()
        seen.append(count)
        n += 1
        ms = f"  {count / info.clock_hz * 1e3:.3f} ms" if info.latency_unit == "cycles" and info.clock_hz else ""
        check = "" if expected is None else ("  = tflite-runtime" if out == expected else "  DIFFERS from tflite-runtime")
        wrong += expected is not None and out != expected
        print(f"invoke {n:5d}: {count:>12,} {info.latency_unit}{ms}   "
              f"median {int(statistics.median(seen)):,}  min {min(seen):,}  max {max(seen):,}   "
              f"output crc32 {zlib.crc32(out):08x}{check}", flush=True)
        time.sleep(args.interval)
    st = dev.stats()
    print(f"stack used {st.stack_used:,} of {st.stack_size:,} B, arena {st.arena_bytes:,} B, "
          f"static RAM {st.static_ram:,} B (input copy {st.input_buffer_bytes:,} B)")
    if wrong:
        print(f"error: {wrong} of {n} outputs differ from tflite-runtime", flush=True)
    return 1 if wrong else 0
