"""The `tinyrt` command. One module per subcommand, each with ``register(subparsers)`` and
``run(args) -> exit code``; options shared by several live in ``common``.

Errors a user can cause print ``error: ...`` and ``try: ...`` lines and exit 1; the traceback
is shown only with ``-v``.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import subprocess
import sys
import threading
import traceback

from ..errors import TinyrtError
from . import common

COMMANDS = ["compile", "plan", "deploy", "build", "flash", "monitor", "boards", "kernels", "bench", "demo",
            "quantize", "finetune", "ports"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tinyrt", description="Compile .tflite models to bit-exact C "
                                "for microcontrollers, deploy them and measure.")
    p.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}_cmd").register(sub)
    return p


class Stopped(BaseException):
    """A signal asked the command to stop (SIGTERM from a service manager or a test's timeout,
    SIGHUP from a closed terminal). Like Ctrl-C's KeyboardInterrupt it unwinds the stack, so
    the boards and folders the command started are stopped and removed on the way out."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame):
    raise Stopped(signum)


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP raise Stopped, unless someone chose their handling already (nohup
    ignores SIGHUP); Python can set handlers only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, _stop):
            signal.signal(signum, _stop)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    stop_on_signals()
    # `--json -`: stdout carries the JSON alone (parseable as it is); the tables go to stderr
    machine = getattr(args, "json", None) == "-"
    common.JSON_STDOUT = sys.stdout if machine else None
    try:
        with contextlib.redirect_stdout(sys.stderr) if machine else contextlib.nullcontext():
            return int(args.func(args) or 0)
    except TinyrtError as e:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {e.message}", file=sys.stderr)
        for h in e.hints:
            print(f"try: {h}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Stopped as e:
        print(f"stopped by {signal.Signals(e.signum).name}", file=sys.stderr)
        return 128 + e.signum
    except subprocess.CalledProcessError as e:
        print(f"error: command failed with exit status {e.returncode}: {e.cmd}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
