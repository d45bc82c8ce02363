"""Run firmware on an emulated board: qemu-system-arm with a deterministic instruction count.

``start(board, elf)`` launches QEMU for a ``kind = "qemu"`` board with ``-icount shift=0`` (the
virtual clock advances 1 ns per executed instruction, so timer readings convert exactly to
instructions and repeated runs give the same counts), no display and no monitor, and the board's
console UART on a TCP socket on 127.0.0.1; it returns a ``QemuBoard`` whose ``port`` is the pyserial
URL ``socket://127.0.0.1:PORT`` for ``tinyrt.link``. ``command()`` gives the exact command line
(``--dry-run``) without running anything.
"""
from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path

from .boards import board_files, load_board
from .errors import TinyrtError

QEMU = "qemu-system-arm"
INSTALL_HINT = "apt-get install qemu-system-arm"

# Every QEMU this process started and has not stopped: stopped at exit, so an interrupted run
# leaves no emulator running after the command (the firmware sleeps with WFI while idle).
_RUNNING: "weakref.WeakSet[QemuBoard]" = weakref.WeakSet()


def qemu_binary() -> str:
    """Path of qemu-system-arm (``TINYRT_QEMU`` overrides), or a TinyrtError with the install
    command."""
    exe = os.environ.get("TINYRT_QEMU", QEMU)
    path = shutil.which(exe)
    if path is None:
        raise TinyrtError(f"QEMU ('{exe}') is not installed or not on PATH",
                          [INSTALL_HINT, "or set TINYRT_QEMU to your qemu-system-arm"])
    return path


def command(board: dict, elf: str | os.PathLike, port: int | str, qemu: str = QEMU) -> list[str]:
    """The qemu-system-arm command line that runs ``elf`` on ``board`` with the console on
    127.0.0.1:``port``."""
    if board["kind"] != "qemu":
        emulated = [b for b in board_files() if load_board(b)["kind"] == "qemu"]
        raise TinyrtError(f"board '{board['id']}' is a {board['kind']} board, not an emulated one",
                          [f"emulated boards: {', '.join(emulated)} (`tinyrt boards`)"])
    flash = board["flash"]
    return [qemu, "-machine", flash["machine"], *flash.get("args", []),
            "-nographic", "-monitor", "none", "-icount", "shift=0",
            "-kernel", str(elf),
            "-serial", f"tcp:127.0.0.1:{port},server=on,wait=off,nodelay=on"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuBoard:
    """A running emulated board. ``port``: pyserial URL of its console; ``command``: how it was
    started; ``stop()`` ends QEMU and returns what it wrote to stderr."""

    def __init__(self, process: subprocess.Popen, command: list[str], tcp_port: int, log: Path):
        self.process, self.command, self.tcp_port, self._log = process, command, tcp_port, log
        self._stderr: str | None = None
        self.port = f"socket://127.0.0.1:{tcp_port}"
        _RUNNING.add(self)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr(self) -> str:
        if self._stderr is not None:
            return self._stderr
        try:
            return self._log.read_text(errors="replace")
        except OSError:
            return ""

    def check(self) -> None:
        """Raise TinyrtError with QEMU's stderr if it has exited."""
        if not self.alive:
            raise _exited(self.process.returncode, self.command, self.stderr())

    def stop(self, timeout: float = 5.0) -> str:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._stderr is None:
            self._stderr = self.stderr()
            self._log.unlink(missing_ok=True)
        _RUNNING.discard(self)
        return self._stderr

    def __enter__(self) -> "QemuBoard":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for running in list(_RUNNING):
        running.stop(timeout=2.0)


def _exited(status: int, cmd: list[str], stderr: str) -> TinyrtError:
    from shlex import join
    text = stderr.strip()[-4000:] or "(nothing on stderr)"
    return TinyrtError(f"QEMU exited early with status {status}: {join(cmd)}\n{text}",
                       ["check that the firmware was built for this board (`tinyrt build ... --board`)"])


def start(board: dict, elf: str | os.PathLike, timeout: float = 10.0, attempts: int = 3) -> QemuBoard:
    """Start QEMU on a free port and wait until its console socket accepts connections."""
    qemu = qemu_binary()
    if not Path(elf).is_file():
        raise TinyrtError(f"firmware {elf} does not exist", ["build it first: tinyrt build MODEL --board B -o DIR"])
    for attempt in range(attempts):
        port = free_port()
        cmd = command(board, elf, port, qemu)
        fd, name = tempfile.mkstemp(prefix="qemu-", suffix=".log", dir=Path(elf).parent)
        os.close(fd)
        log = Path(name)
        with open(log, "wb") as out:
            try:
                process = subprocess.Popen(_tied_to_us(cmd), stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=out, start_new_session=True)
            except OSError as e:
                raise TinyrtError(f"cannot start {qemu}: {e}", [INSTALL_HINT]) from None
        running = QemuBoard(process, cmd, port, log)
        if _wait_listening(running, timeout):
            # flash.settle_s: some UART models (QEMU's STM32 USART) drop what arrives before
            # the firmware enables them; QEMU listens before the guest runs
            time.sleep(board["flash"].get("settle_s", 0))
            return running
        stderr = running.stop()
        if "Address already in use" not in stderr or attempt == attempts - 1:
            if process.returncode is not None and process.returncode != -15:
                raise _exited(process.returncode, cmd, stderr)
            raise TinyrtError(f"QEMU did not open its console socket within {timeout:.0f} s: "
                              f"{' '.join(cmd)}\n{stderr.strip()[-4000:]}")
    raise AssertionError("unreachable")


def _tied_to_us(cmd: list[str]) -> list[str]:
    """``cmd`` run so that QEMU gets SIGTERM when the thread that starts it ends, however it
    ends: atexit and signal handlers stop it on Ctrl-C, an exception or SIGTERM, but nothing
    runs on SIGKILL (a test's timeout, an OOM kill), and QEMU in its own session (so that a
    terminal's Ctrl-C reaches tinyrt alone, which then stops it in order) would run on.
    util-linux's setpriv sets the parent-death signal and execs QEMU (same pid)."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *cmd] if setpriv else cmd


def _wait_listening(running: QemuBoard, timeout: float) -> bool:
    """Poll until 127.0.0.1:port accepts a connection (closed at once: QEMU's socket server
    goes back to listening) or QEMU exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running.alive:
            return False
        try:
            with socket.create_connection(("127.0.0.1", running.tcp_port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False
