"""A faulty serial link on purpose: a TCP relay that damages bytes at set rates.

``LinkProxy(target_port, Faults(corrupt=0.01, ...))`` listens on 127.0.0.1 and relays between
one client (``tinyrt.link`` opening ``proxy.url``) and the emulated board's console socket, and
on the way each byte may be corrupted (replaced by another value, 0x00 included), dropped,
duplicated or swapped with the next one, and each chunk held back (order kept) by up to
``max_delay`` seconds. Which byte gets which fault depends only on the seed, the direction and the
byte's position in the stream (except swaps at a chunk's end, which are skipped, and the delays'
timing). ``retarget(port)`` moves the relay to another board socket while the client stays
connected: that is a board reset as the host sees it on a real serial port (the port stays open,
the device's state is gone). The relay stops by itself after ``lifetime`` seconds; ``stop()``
(or leaving the ``with`` block) closes every socket and joins its thread.
"""
from __future__ import annotations

import os
import random
import select
import socket
import threading
import time
from dataclasses import dataclass

UP, DOWN = "host->board", "board->host"
KINDS = ("bytes", "corrupted", "dropped", "duplicated", "reordered", "delayed", "lost_no_board")


@dataclass(frozen=True)
class Faults:
    """Per-byte rates (``corrupt``, ``drop``, ``duplicate``, ``reorder``), a per-chunk rate of
    holding a chunk back (``delay``, up to ``max_delay`` s) and the seed. ``directions``: which
    way the faults apply (both by default)."""
    corrupt: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    max_delay: float = 0.05
    seed: int = 0
    directions: tuple[str, ...] = (UP, DOWN)

    def __post_init__(self):
        for name in ("corrupt", "drop", "duplicate", "reorder", "delay"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                from .errors import TinyrtError
                raise TinyrtError(f"--{name} {rate} is not a rate between 0 and 1",
                                  [f"--{name} 0.01 damages 1 % of the bytes"])


class _Direction:
    """The faults of one direction: a seeded generator, the counts, and held-back chunks."""

    def __init__(self, name: str, faults: Faults):
        self.name, self.faults = name, faults
        self.active = name in faults.directions
        self.rng = random.Random(f"{faults.seed}:{name}")
        self.counts = dict.fromkeys(KINDS, 0)
        self.queue: list[tuple[float, bytes]] = []   # (release time, bytes), in order

    def damage(self, data: bytes) -> bytes:
        self.counts["bytes"] += len(data)
        if not self.active:
            return data
        f, rng, out = self.faults, self.rng, bytearray()
        swap_next = False
        for i, byte in enumerate(data):
            # Always draw the same numbers per byte, so positions, not chunking, decide faults.
            r_drop, r_dup, r_cor, r_swap, value = (rng.random(), rng.random(), rng.random(),
                                                   rng.random(), rng.randrange(1, 256))
            if r_cor < f.corrupt:
                byte ^= value   # value != 0: the byte really changes
                self.counts["corrupted"] += 1
            if r_drop < f.drop:
                self.counts["dropped"] += 1
                continue
            out.append(byte)
            if r_dup < f.duplicate:
                out.append(byte)
                self.counts["duplicated"] += 1
            if swap_next and len(out) >= 2:
                out[-1], out[-2] = out[-2], out[-1]
                self.counts["reordered"] += 1
            swap_next = r_swap < f.reorder and i + 1 < len(data)
        return bytes(out)

    def push(self, data: bytes, now: float) -> None:
        data = self.damage(data)
        if not data:
            return
        release = self.queue[-1][0] if self.queue else now   # never overtakes what is held
        if self.active and self.rng.random() < self.faults.delay:
            release = max(release, now + self.rng.uniform(0, self.faults.max_delay))
            self.counts["delayed"] += 1
        self.queue.append((release, data))

    def due(self, now: float) -> bytes:
        out = bytearray()
        while self.queue and self.queue[0][0] <= now:
            out += self.queue.pop(0)[1]
        return bytes(out)


class LinkProxy:
    """Relay 127.0.0.1:``port`` (``url``) <-> 127.0.0.1:``target_port`` with ``faults``."""

    POLL_S = 0.005

    def __init__(self, target_port: int, faults: Faults = Faults(), lifetime: float = 3600.0):
        self.faults, self.lifetime = faults, lifetime
        self._target, self._retarget = target_port, False
        self._lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self.directions = {UP: _Direction(UP, faults), DOWN: _Direction(DOWN, faults)}
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._client: socket.socket | None = None
        self._board: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="linkproxy", daemon=True)
        self._thread.start()

    # --- control ---------------------------------------------------------------------------

    def retarget(self, target_port: int, wait: float = 0.0) -> None:
        """Relay to the board socket at ``target_port`` from now on (the client stays). With
        ``wait``, return once connected to it (up to ``wait`` s, and only with a client: the
        relay connects to the board when a client is there), so what the client sends next
        reaches the new board."""
        with self._lock:
            self._target, self._retarget = target_port, True
        os.write(self._wake_w, b"r")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self._lock:
                if self._client is None or (not self._retarget and self._board is not None):
                    return
            time.sleep(0.005)

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: dict(d.counts) for name, d in self.directions.items()}

    def stop(self) -> None:
        self._stop.set()
        try:
            os.write(self._wake_w, b"s")
        except OSError:
            pass
        self._thread.join(timeout=5.0)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> "LinkProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the relay thread ------------------------------------------------------------------

    def _serve(self) -> None:
        deadline = time.monotonic() + self.lifetime
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._step()
        finally:
            for s in (self._client, self._board, self.server):
                if s is not None:
                    s.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _step(self) -> None:
        with self._lock:
            if self._retarget:
                self._retarget = False
                self._close_board()
        if self._board is None and self._client is not None:
            self._connect_board()
        socks = [s for s in (self.server, self._client, self._board) if s is not None]
        ready, _, _ = select.select(socks + [self._wake_r], [], [], self.POLL_S)
        if self._wake_r in ready:
            os.read(self._wake_r, 64)
        now = time.monotonic()
        if self.server in ready:
            self._accept()
        with self._lock:
            for sock, name in ((self._client, UP), (self._board, DOWN)):
                if sock is not None and sock in ready:
                    self._receive(sock, name, now)
            self._flush(now)

    def _accept(self) -> None:
        conn, _ = self.server.accept()
        if self._client is not None:   # a new client replaces the old one, as on a serial port
            self._client.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = conn
        self._close_board()

    def _connect_board(self) -> None:
        try:
            self._board = socket.create_connection(("127.0.0.1", self._target), timeout=0.2)
            # Frames are small: Nagle's algorithm would hold each one for the peer's delayed ACK.
            self._board.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            self._board = None   # not up (yet): the host's bytes are lost meanwhile
            time.sleep(0.02)

    def _close_board(self) -> None:
        if self._board is not None:
            self._board.close()
            self._board = None
        self.directions[DOWN].queue.clear()

    def _receive(self, sock: socket.socket, name: str, now: float) -> None:
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        if data:
            self.directions[name].push(data, now)
        elif sock is self._client:
            self._client.close()
            self._client = None
            self._close_board()
        else:
            self._close_board()   # the board went away (reset, emulator stopped)

    def _flush(self, now: float) -> None:
        for name, dst in ((UP, self._board), (DOWN, self._client)):
            data = self.directions[name].due(now)
            if not data:
                continue
            if dst is None:
                self.directions[name].counts["lost_no_board"] += len(data)
                continue
            try:
                dst.sendall(data)
            except OSError:
                self.directions[name].counts["lost_no_board"] += len(data)
