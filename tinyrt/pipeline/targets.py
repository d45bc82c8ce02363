"""Where a deploy runs: the host, an emulated board, a real board. Each target builds a written
project into an artifact, gives the commands a dry run prints, and starts the artifact as a
context manager yielding a ``link.Device`` on the board's serial protocol; leaving the context
(normally, on an exception or Ctrl-C) stops what it started.

    target = target_for(board)
    built = target.build(project, options)
    with target.start(built, options) as device:
        device.info()
"""
from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .. import firmware, flash, hostdevice, ports, qemu
from ..errors import TinyrtError
from ..link import Device
from ..progress import step
from .options import DeployOptions


@dataclass
class Built:
    """A built project: what runs (``path``: host executable or ELF) and its sizes.
    ``firmware``: the ``firmware.Firmware`` of a device build (None on the host)."""
    path: Path
    flash_bytes: int
    code_bytes: int | None = None
    firmware: firmware.Firmware | None = None
    commands: list[list[str]] = field(default_factory=list)


def input_copy_flags(input_copy: bool) -> list[str]:
    return [f"-DTR_PROTO_INPUT_COPY={int(input_copy)}"]


def _open(port: str, board: dict, options: DeployOptions) -> Device:
    baud, timeout = options.serial(board)
    return Device.open(port, baud=baud, timeout=timeout, invoke_timeout=options.invoke_timeout)


@contextlib.contextmanager
def _explained(process, what: str):
    """A link error while ``process`` has died says what the process printed."""
    try:
        yield
    except TinyrtError as e:
        if process is not None and not process.alive:
            raise TinyrtError(f"{e.message}\n{what} exited: {process.stop().strip()[-2000:]}",
                              e.hints) from None
        raise


class _Target:
    def __init__(self, board: dict):
        self.board = board

    @contextlib.contextmanager
    def attach(self, options: DeployOptions):
        """The board already running at ``options.port``, opened; closed on leaving."""
        with _open(options.port, self.board, options) as device:
            yield device


class HostTarget(_Target):
    """Board ``host``: the protocol server built natively, run on a pty (tinyrt/hostdevice.py)."""

    def build(self, project: Path, options: DeployOptions, input_copy: bool) -> Built:
        flags = [*input_copy_flags(input_copy), *options.extra_cflags]
        exe, sizes = hostdevice.compile_project(project, self.board, profile=options.profile,
                                                sanitize=options.sanitize, extra_cflags=flags,
                                                app_sources=firmware.app_sources(options.protocol))
        return Built(exe, sizes["flash_bytes"], sizes["code_bytes"])

    def commands(self, project: Path, options: DeployOptions, input_copy: bool) -> list[list[str]]:
        flags = [*input_copy_flags(input_copy), *options.extra_cflags]
        return hostdevice.commands(project, self.board, options.profile, options.sanitize, flags,
                                   app_sources=firmware.app_sources(options.protocol))

    @contextlib.contextmanager
    def start(self, built: Built, options: DeployOptions):
        if options.port is not None:   # a host firmware someone else runs (its pty)
            with self.attach(options) as device:
                yield device
            return
        with hostdevice.start(built.path) as program, _explained(program, "the host firmware"):
            with _open(program.port, self.board, options) as device:
                yield device


class QemuTarget(_Target):
    """An emulated board: arm-none-eabi-gcc, then QEMU under -icount with the console on a TCP
    socket; with ``options.port`` the board already runs and is only opened."""

    def build(self, project: Path, options: DeployOptions, input_copy: bool) -> Built:
        fw = firmware.build(project, self.board, profile=options.profile,
                            app_sources=firmware.app_sources(options.protocol),
                            extra_cflags=[*input_copy_flags(input_copy), *options.extra_cflags])
        return Built(fw.elf, fw.sizes.flash, firmware=fw, commands=fw.commands)

    def commands(self, project: Path, options: DeployOptions, input_copy: bool) -> list[list[str]]:
        out = project / f"build-{self.board['id']}"
        cmds = firmware.commands(project, self.board, out, options.profile,
                                 app_sources=firmware.app_sources(options.protocol),
                                 extra_cflags=[*input_copy_flags(input_copy), *options.extra_cflags])
        return cmds + [self.run_command(out / "firmware.elf")]

    def run_command(self, elf: Path) -> list[str]:
        return qemu.command(self.board, elf, qemu.free_port())

    @contextlib.contextmanager
    def start(self, built: Built, options: DeployOptions):
        if options.port is not None:
            with self.attach(options) as device:
                yield device
            return
        step(f"starting QEMU {self.board['flash']['machine']} (-icount shift=0)", not options.quiet)
        with qemu.start(self.board, built.path) as emulator, _explained(emulator, "QEMU"):
            with _open(emulator.port, self.board, options) as device:
                yield device


class BoardTarget(QemuTarget):
    """A real board: built as an emulated one, flashed with the board's method (through
    ``options.probe`` when several probes are attached), then reached on its serial port: the
    one of the probe it was flashed through, else the only one of its probe kind
    (tinyrt/ports.py). ``options.port`` names a board that already runs the firmware: it is not
    flashed again (the model hash INFO reports is checked)."""

    def commands(self, project: Path, options: DeployOptions, input_copy: bool) -> list[list[str]]:
        out = project / f"build-{self.board['id']}"
        cmds = firmware.commands(project, self.board, out, options.profile,
                                 app_sources=firmware.app_sources(options.protocol),
                                 extra_cflags=[*input_copy_flags(input_copy), *options.extra_cflags])
        return cmds + flash.commands(self.board, out / "firmware.elf", probe=options.probe)

    def flash_and_locate(self, built: Built, options: DeployOptions) -> DeployOptions:
        """Flash ``built`` (through ``options.probe``); the options with the flashed board's
        console port. Every flow that flashes a real board goes through here (deploy, monitor,
        ``--protocol eembc``)."""
        step(f"flashing {self.board['id']} ({self.board['flash']['method']})", not options.quiet)
        done = flash.flash(self.board, built.path, built.firmware.uf2 if built.firmware else None,
                           probe=options.probe, quiet=options.quiet)
        # a freshly reset probe leaves the USB bus for a moment: its port is polled for
        return self.locate(options, done.unique_id, wait_s=5.0)

    def locate(self, options: DeployOptions, unique_id: str | None = None,
               wait_s: float = 0.0) -> DeployOptions:
        """The options with the board's console port: ``options.port`` when given, else the
        port of the probe ``unique_id`` or the only one of the board's probe kinds."""
        if options.port is not None:
            return options
        port = ports.find_board_port(self.board, unique_id, wait_s=wait_s)
        step(f"{self.board['id']}'s console is {port}", not options.quiet)
        return options.with_(port=port)

    @contextlib.contextmanager
    def attach(self, options: DeployOptions):
        """The board already running, at ``options.port`` or found on its probe's port."""
        with super().attach(self.locate(options)) as device:
            yield device

    @contextlib.contextmanager
    def start(self, built: Built, options: DeployOptions):
        if options.port is None:
            options = self.flash_and_locate(built, options)
        with self.attach(options) as device:
            yield device


def target_for(board: dict):
    kind = board["kind"]
    if kind == "host":
        return HostTarget(board)
    return QemuTarget(board) if kind == "qemu" else BoardTarget(board)


def print_commands(cmds: list[list[str]]) -> None:
    for cmd in cmds:
        print(shlex.join(cmd))
