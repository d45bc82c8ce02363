"""The `host` board as a device on a serial port: the generated model and the firmware's protocol
server (firmware/main.c, protocol.c, board_host.c) built natively, running on a pty.

The program's stdin and stdout are the pty's master side; the harness opens the slave path (e.g.
``/dev/pts/7``) with pyserial exactly as it opens a board's USB serial port, so everything above
the port (``tinyrt.link``) is the same code for the host, QEMU and silicon.

    with hostdevice.launch(graph) as dev:            # builds, starts
        with link.Device.open(dev.port) as board:
            board.info()
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import tty
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import host
from .boards import load_board
from .errors import TinyrtError
from .paths import data_dir

SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O1", "-g"]
PROTOCOL_SOURCES = ["main.c", "protocol.c", "protocol_frame.c"]


def firmware_sources(board: dict, app_sources: list[Path] | None = None) -> list[Path]:
    """The application (main.c + protocol.c, or ``app_sources``: firmware.app_sources) and the
    board layer."""
    firmware = data_dir("firmware")
    apps = app_sources if app_sources is not None else [firmware / n for n in PROTOCOL_SOURCES]
    names = list(board.get("firmware", {}).get("sources", ["board_host.c"]))
    return [*apps, *(firmware / name for name in names)]


def _cc(board: dict) -> str:
    cc = os.environ.get("CC") or board.get("build", {}).get("cc", "cc")
    if shutil.which(cc) is None:
        raise TinyrtError(f"C compiler '{cc}' not found", ["apt-get install gcc   (or set CC to your compiler)"])
    return cc


def commands(project: str | os.PathLike, board: dict, profile: bool = False, sanitize: bool = False,
             extra_cflags: list[str] = (), cc: str | None = None,
             app_sources: list[Path] | None = None) -> list[list[str]]:
    """Every compile command (one object per source, the model's two first) and the link, last."""
    project = Path(project)
    cc = cc or os.environ.get("CC") or board.get("build", {}).get("cc", "cc")
    cflags = list(board.get("build", {}).get("cflags", ["-O2"]))
    cflags += [f'-DTINYRT_BOARD_ID="{board["id"]}"', "-I", str(project), "-I", str(data_dir("firmware"))]
    cflags += (["-DTINYRT_PROFILE"] if profile else []) + (SANITIZE_FLAGS if sanitize else [])
    cflags += list(extra_cflags)
    training = (project / "model_train.c").is_file()   # a training project: firmware.is_training
    cflags += ["-DTINYRT_TRAINING=1"] if training else []
    # no folder names in the objects (debug info, __FILE__): the same build in any folder, from
    # any working folder (debug info's comp_dir); the last map that matches wins
    cflags += [f"-fdebug-prefix-map={Path.cwd()}=.", f"-ffile-prefix-map={project}=.",
               f"-ffile-prefix-map={data_dir('firmware')}=firmware"]
    sources = [project / "model.c", project / "model_weights.c", *firmware_sources(board, app_sources)]
    if training:
        sources += [project / "model_train.c", data_dir("firmware") / "train.c"]
    objs = [project / "obj" / (src.stem + ".o") for src in sources]
    cmds = [[cc, *cflags, "-c", str(src), "-o", str(obj)] for src, obj in zip(sources, objs)]
    cmds.append([cc, *cflags, "-o", str(project / "firmware"), *map(str, objs), "-lm"])
    return cmds


def compile_project(project: str | os.PathLike, board: dict, profile: bool = False,
                    sanitize: bool = False, extra_cflags: list[str] = (),
                    app_sources: list[Path] | None = None) -> tuple[Path, dict]:
    """Compile a written project (``codegen.render(lowered, host_main=False)``) with the protocol
    server into ``project/firmware``, once: the model's objects also give its flash figures
    (``host.object_sizes``). Returns (executable, sizes)."""
    project = Path(project)
    cmds = commands(project, board, profile, sanitize, extra_cflags, _cc(board), app_sources)
    (project / "obj").mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda cmd: host.run_checked(cmd, "host firmware build"), cmds[:-1]))
    host.run_checked(cmds[-1], "host firmware link")
    model_obj, weights_obj = (Path(cmds[i][-1]) for i in (0, 1))
    return project / "firmware", host.object_sizes(model_obj, weights_obj)


def build(files: dict[str, str], work_dir: str | os.PathLike, board: dict | None = None,
          profile: bool = False, sanitize: bool = False, extra_cflags: list[str] = ()) -> Path:
    """Write the generated ``files`` (``codegen.render(lowered, host_main=False)``) to
    ``work_dir`` and compile them with the protocol server into ``work_dir/firmware``."""
    board = board or load_board("host")
    project = host.write_project(files, work_dir)
    return compile_project(project, board, profile, sanitize, extra_cflags)[0]


class HostDevice:
    """A running host firmware. ``port`` is the pty path to open; ``stop()`` ends the program."""

    def __init__(self, exe: Path, process: subprocess.Popen, port: str, slave_fd: int, stderr_path: Path):
        self.exe, self.process, self.port = exe, process, port
        self._slave_fd, self._stderr_path = slave_fd, stderr_path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr(self) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def check(self) -> None:
        """Raise ``TinyrtError`` with the program's stderr if it has exited."""
        if not self.alive:
            raise TinyrtError(f"the host firmware exited with status {self.process.returncode}\n"
                              f"{self.stderr().strip()[-4000:]}")

    owned_dir: Path | None = None   # the project launch() made for it, removed by stop()

    def stop(self, timeout: float = 5.0) -> str:
        """End the program (if still running) and return what it wrote to stderr."""
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._slave_fd >= 0:
            os.close(self._slave_fd)
            self._slave_fd = -1
        text = self.stderr()
        if self.owned_dir is not None:
            shutil.rmtree(self.owned_dir, ignore_errors=True)
            self.owned_dir = None
        return text

    def __enter__(self) -> "HostDevice":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(exe: str | os.PathLike) -> HostDevice:
    """Run ``exe`` with a new pty's master as stdin and stdout; return its slave path."""
    exe = Path(exe)
    master, slave = os.openpty()
    tty.setraw(slave)   # no echo, no line editing, no CR/LF mapping: bytes go through as they are
    stderr_path = exe.with_name(exe.name + ".stderr")
    with open(stderr_path, "wb") as err:
        try:
            process = subprocess.Popen([str(exe)], stdin=master, stdout=master, stderr=err,
                                       close_fds=True, start_new_session=True)
        except OSError as e:
            os.close(master)
            os.close(slave)
            raise TinyrtError(f"cannot start {exe}: {e}") from None
    os.close(master)
    # The parent keeps the slave open for the program's lifetime, so the program's reads do not
    # fail with EIO while no harness has the port open (a board stays up between connections).
    device = HostDevice(exe, process, os.ttyname(slave), slave, stderr_path)
    time.sleep(0.01)
    device.check()
    return device


def launch(model, work_dir: str | os.PathLike | None = None, profile: bool = False,
           sanitize: bool = False, board: dict | None = None, extra_cflags: list[str] = ()) -> HostDevice:
    """Build and start the host firmware for ``model``: a ``Graph`` or a ``codegen.Lowered``.
    ``extra_cflags`` e.g. ``-DTR_PROTO_MAX_PAYLOAD=128`` for a smaller frame."""
    import codegen

    board = board or load_board("host")
    lowered = model if hasattr(model, "plan") else codegen.lower(model, board)
    work = Path(work_dir or tempfile.mkdtemp(prefix="tinyrt-hostdev-"))
    try:
        exe = build(codegen.render(lowered, host_main=False), work, board, profile=profile,
                    sanitize=sanitize, extra_cflags=list(extra_cflags))
        device = start(exe)
    except BaseException:
        if work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
        raise
    if work_dir is None:
        device.owned_dir = work   # removed by stop()
    return device
