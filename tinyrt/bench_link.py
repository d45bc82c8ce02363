"""`tinyrt bench link`: inferences on an emulated board through a faulty link (tinyrt/linkproxy.py).

Every inference is sorted: **verified** (the output equals tflite-runtime's, byte for byte),
a **reported failure** (a ``TinyrtError``: what could not get through within the retries), or
**silently wrong** (an output that differs: must never happen). Board resets are spread evenly
over the run: the emulator is killed and started again right before or right after the k-th
frame the host writes during that inference (k and which drawn from the seed), so a reset lands
between or inside the exchanges of SET_INPUT, INVOKE and GET_OUTPUT; the host's port stays open,
as a real board's serial port does across a reset, and ``Device.run`` must notice (NOT_READY)
and send the input again.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .link import Device, Link
from .linkproxy import Faults, LinkProxy

MODELS = ("example", "small")


def small_model(path: Path) -> Path:
    """Two fully connected layers, 96 input bytes, 10 output bytes, seeded weights: an
    inference moves a few frames, so 10,000 of them fit in minutes on QEMU."""
    from .builder import ModelBuilder
    from .writer import write_tflite
    rng = np.random.default_rng(0)
    m = ModelBuilder("link_small")
    x = m.input((1, 96), scale=0.05, zero_point=3)
    h, y = m.tensor((1, 32), scale=0.1, zero_point=-128), m.tensor((1, 10), scale=0.2, zero_point=5)
    for src, dst, n_in, n_out, act in ((x, h, 96, 32, "RELU"), (h, y, 32, 10, "NONE")):
        w = m.const(rng.integers(-127, 128, (n_out, n_in)), "int8", scale=0.01, zero_point=0)
        b = m.const(rng.integers(-3000, 3000, n_out), "int32", scale=0.01 * (0.05 if src == x else 0.1))
        m.op("FULLY_CONNECTED", [src, w, b], [dst], activation=act, keep_num_dims=False)
    path.write_bytes(write_tflite(m.graph([y])))
    return path


def _model_file(model: str, work: Path) -> Path:
    from .errors import TinyrtError
    from .examples import write_example
    if model == "example":
        return write_example(work)
    if model == "small":
        return small_model(work / "link_small_int8.tflite")
    if not Path(model).is_file():
        raise TinyrtError(f"bench link: no model {model}",
                          [f"--model is {' or '.join(MODELS)} or the path of an int8 .tflite"])
    return Path(model)


def bench_link(count: int, faults: Faults, board_id: str = "qemu-m4", resets: int = 0,
               timeout: float = 0.5, retries: int = 8, progress: bool = True,
               model: str = "example") -> dict:
    """``count`` inferences of ``model`` (``MODELS`` or a .tflite path) on ``board_id`` through a
    ``LinkProxy`` with ``faults``, ``resets`` board resets among them; the counts of the module
    docstring plus the link's resends and the proxy's fault counts. Everything is built in a
    temporary folder, removed at the end."""
    from . import reference
    from .boards import load_board

    board = load_board(board_id)
    work = Path(tempfile.mkdtemp(prefix="tinyrt-link-"))
    run = None
    try:
        path, lowered, elf = build(model, board, work)
        with LinkProxy(0, faults) as proxy:
            run = _LinkRun(proxy, board, elf, reference.Reference(str(path)), lowered.graph)
            result = run.go(count, resets, np.random.default_rng(faults.seed), progress,
                            timeout, retries)
            result["faults"] = proxy.counts()
            result["model"] = lowered.graph.name if model not in MODELS else model
        return result
    finally:
        if run is not None and run.emulator is not None:
            run.emulator.stop()
        shutil.rmtree(work, ignore_errors=True)


def build(model: str, board: dict, work: Path):
    """The model file, the lowered model and the firmware ELF for ``board``, made in ``work``."""
    from .device import build_firmware, prepare
    path = _model_file(model, work)
    lowered, project = prepare(str(path), board, str(work / "project"), quiet=True)
    return path, lowered, build_firmware(lowered, project, board).elf


class ResettingLink(Link):
    """A ``Link`` that, once armed, calls ``reset`` right after the ``n``-th frame it writes
    (the board restarts while it reads the frame, runs the model or answers), or right before
    it with ``before`` (between two exchanges: the outcome no longer depends on timing)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._armed: list | None = None

    def arm(self, n: int, reset, before: bool = False) -> None:
        self._armed = [n, reset, before]

    def disarm(self) -> bool:
        """Whether the link was still armed."""
        armed, self._armed = self._armed is not None, None
        return armed

    def _write(self, data: bytes) -> None:
        fire = self._armed is not None and self._armed[0] <= 1
        if fire and self._armed[2]:
            self._fire()
        super()._write(data)
        if fire and self._armed is not None:
            self._fire()
        elif self._armed is not None:
            self._armed[0] -= 1

    def _fire(self) -> None:
        reset, self._armed = self._armed[1], None
        reset()


class _LinkRun:
    """The inference loop of ``bench_link`` and its counts."""

    def __init__(self, proxy, board, elf, ref, graph):
        from . import qemu
        self.proxy, self.board, self.elf = proxy, board, elf
        self.emulator = qemu.start(board, elf)
        proxy.retarget(self.emulator.tcp_port)
        self.ref, self.graph = ref, graph
        self.counts = dict(inferences=0, verified=0, recovered=0, reported_failures=0,
                           silently_wrong=0, resets=0)
        self.failures: dict[str, int] = {}

    def reset_board(self) -> None:
        """Kill the emulator, start it again and point the proxy at it."""
        from . import qemu
        self.emulator.stop()
        self.emulator = None
        self.emulator = qemu.start(self.board, self.elf)
        self.proxy.retarget(self.emulator.tcp_port, wait=2.0)
        self.counts["resets"] += 1

    def one(self, dev: Device, x: list[np.ndarray]) -> None:
        from .errors import TinyrtError
        from .verify import compare
        self.counts["inferences"] += 1
        recoveries = dev.recoveries
        try:
            outs, _ = dev.run(x)
        except TinyrtError as e:
            self.counts["reported_failures"] += 1
            key = e.message.split(" (")[0].split(":")[0]
            self.failures[key] = self.failures.get(key, 0) + 1
            return
        if not compare(self.ref.run(x), outs, 0, "int8").bit_exact:
            self.counts["silently_wrong"] += 1
            return
        self.counts["verified"] += 1
        self.counts["recovered"] += dev.recoveries > recoveries

    def go(self, count: int, resets: int, rng, progress: bool, timeout: float, retries: int) -> dict:
        from .progress import Progress
        from .reference import random_inputs
        at = {int((k + 0.5) * count / resets) for k in range(resets)} if resets else set()
        started = time.monotonic()
        link = ResettingLink(self.proxy.url, timeout=timeout, retries=retries)
        with Device(link, invoke_timeout=3.0) as dev, \
                Progress("inferences through the faulty link", count, enabled=progress) as bar:
            for i in range(count):
                x = random_inputs(self.graph, rng)
                if i in at:   # any frame of the inference: its SET_INPUT chunks, INVOKE, GET_OUTPUT
                    info = dev.info()
                    frames = -(-info.input_bytes // link.chunk(info.max_payload, 4)) + 2
                    link.arm(int(rng.integers(1, frames + 1)), self.reset_board, bool(rng.integers(2)))
                self.one(dev, x)
                if link.disarm():   # the inference wrote fewer frames: reset between inferences
                    self.reset_board()
                bar.advance()
            elapsed = time.monotonic() - started
            return {**self.counts, "resends": link.resends, "timeouts": link.timeouts,
                    "payload_limit": link.payload_limit, "elapsed_s": round(elapsed, 2),
                    "inferences_per_s": round(count / elapsed, 2) if elapsed else None,
                    "failure_kinds": self.failures}
