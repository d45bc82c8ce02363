"""Talk to a board running tinyrt firmware over a serial link (docs/protocol.md).

``Link`` sends one request at a time and waits for its response, retrying a bounded number of
times (same request id) when a frame is damaged or the answer does not come in time; then it
raises ``TinyrtError`` saying what the link looked like: silent, garbled or corrupting; the fault
line a crashed firmware prints raises at once ("the device faulted: ..."). On a link that keeps
damaging frames it moves inputs and outputs in smaller chunks (``Link.payload_limit``): a long
frame is far less likely to cross a noisy line whole. ``Device``
is the typed API on top: ``info()``, ``set_input()``, ``invoke()``, ``get_output()``, ``stats()``,
``profile()``, and ``run()`` for whole numpy tensors, which sends the input again once when the
board lost it (a reset between SET_INPUT and GET_OUTPUT). Diagnoses: ``tinyrt.linkdiag``.

A port is a device path (``/dev/ttyACM0``, a pty such as ``/dev/pts/5``) or a pyserial URL
(``socket://127.0.0.1:4321`` for QEMU's console).
"""
from __future__ import annotations

import random
import time

import numpy as np
import serial

from . import protocol as p
from .errors import TinyrtError
# Public names of this module that live in linkdiag (imported from here by users of tinyrt.link).
from .linkdiag import (DEFAULT_BAUD, EXCEPTIONS, FAULT_MARK, POLL_S, DeviceRejected,  # noqa: F401
                       device_error, fault_error, lost_connection, open_port, request_failed)

# Chunk sizing on a noisy link: a request that fails twice halves the payload limit (down to
# MIN_PAYLOAD); GROW_AFTER requests in a row that pass at the first attempt double it again.
MIN_PAYLOAD = 24
GROW_AFTER = 32
# An ERROR for a damaged frame that carries one of the last STALE_SEQS seqs may answer the
# remains of an earlier request; any other seq is this request's, damaged on the way.
STALE_SEQS = 4


class Link:
    """Request/response over one open port. ``timeout`` is per attempt, in seconds; ``retries``
    is how many times a request is sent again after the first attempt failed."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD, timeout: float = 2.0, retries: int = 3,
                 exclusive: bool = True):
        self.port, self.baud, self.timeout, self.retries = port, baud, timeout, retries
        self.serial = open_port(port, baud, exclusive)
        self.splitter = p.FrameSplitter()
        self.valid_frames = 0     # valid frames received since the port was opened
        self.resends = 0          # requests sent again (damage, a damaged-request ERROR, silence)
        self.timeouts = 0         # of which after silence
        self.payload_limit: int | None = None   # None: frames as large as the device takes
        self._clean = 0           # requests in a row answered at the first attempt
        # A random first seq: a board still holding the answer to an earlier session's INVOKE
        # (docs/protocol.md, seq) must not take this session's first INVOKE for its retry.
        self._seq = random.randrange(p.SEQ_UNKNOWN)

    def close(self) -> None:
        self.serial.close()

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % p.SEQ_UNKNOWN
        return self._seq

    def request(self, request, timeout: float | None = None):
        """Send ``request`` (a ``protocol`` request dataclass) and return its decoded response.

        A damaged frame either way, or no answer within ``timeout``, sends the same frame again
        (same seq), at most ``retries`` times; an answer to any of the copies is accepted. A device
        ERROR that retrying cannot fix, or the device's fault line, raises ``TinyrtError`` at once."""
        seq = self._next_seq()
        # One more 0x00 after the frame's own closing one (an empty frame, ignored): when a noisy
        # line damages the closing 0x00, the frame still ends now, not at the next request after
        # a timeout. Halves the timeouts at 1 % corrupted bytes.
        wire = p.encode_frame(p.request_frame(request, seq)) + b"\0"
        name, timeout = request.command.name, timeout or self.timeout
        received_before, problems = self.splitter.received, []
        self._drain()
        self._write(wire)
        deadline = time.monotonic() + timeout
        while True:
            left, problem = deadline - time.monotonic(), None
            if left <= 0:
                problem = f"no answer within {timeout:g} s"
                self.timeouts += 1
                self.splitter.clear()   # a partial frame that stopped coming is junk
            else:
                for raw in self.splitter.feed(self._read()):
                    outcome = self._check(raw, seq, name)
                    if outcome is not None and not isinstance(outcome, str):
                        if not problems:
                            self._adapt(damaged=None)
                        return outcome
                    problem = problem or outcome
                if problem is None:
                    continue
            problems.append(problem)
            if not problem.startswith("no answer"):
                self._adapt(damaged=sum(not x.startswith("no answer") for x in problems))
            if len(problems) > self.retries:
                raise request_failed(self.port, self.baud, name, problems,
                                     self.splitter.received - received_before, self.valid_frames)
            self.resends += 1
            self._write(wire)
            deadline = time.monotonic() + timeout

    def _adapt(self, damaged: int | None) -> None:
        """Halve the payload limit each time one request meets a second damaged frame (one is a
        blip; two mean frames this long rarely cross whole), so a request that fails on 500-byte
        frames leaves the next one 32-byte frames. Silence does not count: a frame cut short
        costs a timeout and then the device's ERROR for its remains, one damage. None: a request
        answered at its first attempt."""
        if damaged is None:
            self._clean += 1
            if self.payload_limit is not None and self._clean >= GROW_AFTER:
                self.payload_limit, self._clean = self.payload_limit * 2, 0
                if self.payload_limit >= p.MAX_PAYLOAD_HIGHEST:
                    self.payload_limit = None
            return
        self._clean = 0
        if damaged % 2 == 0:
            current = self.payload_limit or p.DEFAULT_MAX_PAYLOAD
            self.payload_limit = max(MIN_PAYLOAD, current // 2)

    def chunk(self, max_payload: int, header: int) -> int:
        """Data bytes per SET_INPUT/GET_OUTPUT frame: the device's limit, or less on a noisy link."""
        limit = max_payload if self.payload_limit is None else min(max_payload, self.payload_limit)
        return max(1, limit - header)

    def _check(self, raw: bytes, seq: int, name: str):
        """The response in frame ``raw`` if it answers ``seq``; a string if it shows the exchange
        failed; None for frames to ignore (answers to earlier requests)."""
        try:
            frame = p.decode_frame(raw)
            response = p.decode_response(frame)
        except p.ProtocolError as e:
            if FAULT_MARK in raw:
                raise fault_error(name, raw) from None
            return f"damaged frame from the device ({e.code.name}: {e})"
        self.valid_frames += 1
        if isinstance(response, p.DeviceError) and response.retryable:
            # The device echoes the seq it read from the damaged frame, which may be damaged too:
            # only the seqs of the last few requests can be late answers to something else.
            if frame.seq != p.SEQ_UNKNOWN and 0 < (seq - frame.seq) % p.SEQ_UNKNOWN <= STALE_SEQS:
                return None
            return f"the device received a damaged request ({response.describe()})"
        if frame.seq != seq:
            return None
        if isinstance(response, p.DeviceError):
            raise device_error(name, response)
        if (frame.type & ~p.RESPONSE_BIT) != p.Command[name]:
            return f"answer of the wrong type {frame.type:#04x}"
        return response

    def _read(self) -> bytes:
        try:
            # The port's own timeout is a short poll interval (set at open, since changing it
            # reconfigures the port); the caller loops until its deadline.
            return self.serial.read(max(1, self.serial.in_waiting))
        except (serial.SerialException, OSError) as e:
            raise lost_connection(self.port, e) from None

    def _write(self, data: bytes) -> None:
        try:
            self.serial.write(data)
        except (serial.SerialException, OSError) as e:
            raise lost_connection(self.port, e) from None

    def _drain(self) -> None:
        try:
            self.serial.reset_input_buffer()
        except Exception:  # termios.error on a port that went away: the next write says so
            pass
        self.splitter.clear()

class Device:
    """A board running tinyrt firmware. Open with ``Device.open(port)``; use as a context manager.

    ``invoke_timeout`` bounds the wait for the first INVOKE; later ones wait the link timeout
    plus four times the slowest wall time per run seen so far (never longer than the bound)."""

    def __init__(self, link: Link, invoke_timeout: float = 120.0):
        self.link = link
        self.invoke_timeout = invoke_timeout
        self._info: p.DeviceInfo | None = None
        self._run_seconds: float | None = None
        self.recoveries = 0   # inferences run() sent again after the board lost their input

    @classmethod
    def open(cls, port: str, baud: int = DEFAULT_BAUD, timeout: float = 2.0, retries: int = 3,
             invoke_timeout: float = 120.0) -> "Device":
        return cls(Link(port, baud, timeout, retries), invoke_timeout)

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ping(self, data: bytes = b"") -> bytes:
        echo = self.link.request(p.Ping(data)).data
        if echo != bytes(data):
            raise TinyrtError(f"PING echo differs from what was sent ({len(echo)} vs {len(data)} bytes)")
        return echo

    def info(self) -> p.DeviceInfo:
        if self._info is None:
            self._info = self.link.request(p.Info())
        return self._info

    def set_input(self, data: bytes) -> None:
        """All inputs, packed one after another in the model's order."""
        info, data = self.info(), bytes(data)
        if len(data) != info.input_bytes:
            raise TinyrtError(f"input is {len(data)} bytes, the model on the device takes {info.input_bytes}")
        offset = 0
        while offset < len(data):
            chunk = data[offset:offset + self.link.chunk(info.max_payload, 4)]
            ack = self.link.request(p.SetInput(offset, chunk))
            if (ack.offset, ack.length) != (offset, len(chunk)):
                raise TinyrtError(f"device stored {ack.length} input bytes at {ack.offset}, "
                                  f"sent {len(chunk)} at {offset}")
            offset += len(chunk)

    def invoke(self, runs: int = 1, timeout: float | None = None) -> list[int]:
        """Run the model ``runs`` times; one count per run in ``info().latency_unit``."""
        per_request = (self.info().max_payload - 2) // 8
        counts: list[int] = []
        while len(counts) < runs:
            n = min(per_request, runs - len(counts))
            started = time.monotonic()
            got = self.link.request(p.Invoke(n), timeout or self._invoke_timeout(n)).counts
            if len(got) != n:
                raise TinyrtError(f"INVOKE of {n} runs returned {len(got)} counts")
            self._run_seconds = max(self._run_seconds or 0.0, (time.monotonic() - started) / n)
            counts += got
        return counts

    def _invoke_timeout(self, runs: int) -> float:
        if self._run_seconds is None:
            return self.invoke_timeout
        return min(self.invoke_timeout, self.link.timeout + 4 * runs * self._run_seconds)

    def get_output(self) -> bytes:
        """All outputs of the last run, packed one after another. NOT_READY (a ``TinyrtError``)
        unless that run computed on the input as SET_INPUT wrote it: docs/protocol.md, "State"."""
        info = self.info()
        out = bytearray()
        while len(out) < info.output_bytes:
            n = min(self.link.chunk(info.max_payload, 4), info.output_bytes - len(out))
            chunk = self.link.request(p.GetOutput(len(out), n))
            if chunk.offset != len(out) or len(chunk.data) != n:
                raise TinyrtError(f"GET_OUTPUT returned {len(chunk.data)} bytes at {chunk.offset}, "
                                  f"asked {n} at {len(out)}")
            out += chunk.data
        return bytes(out)

    def stats(self) -> p.Stats:
        return self.link.request(p.GetStats())

    def profile(self) -> list[int]:
        """Per-layer counts of the last run (firmware built with profiling)."""
        counts: list[int] = []
        while True:
            chunk = self.link.request(p.Profile(len(counts)))
            if chunk.start != len(counts) or (not chunk.counts and len(counts) < chunk.layers):
                raise TinyrtError(f"PROFILE returned layers from {chunk.start}, asked from {len(counts)}")
            counts += chunk.counts
            if len(counts) >= chunk.layers:
                return counts[:chunk.layers]

    def run(self, inputs: list[np.ndarray], runs: int = 1) -> tuple[list[np.ndarray], list[int]]:
        """Set the inputs, invoke ``runs`` times and read the outputs as arrays shaped as INFO says.

        The outputs are read right after the first run, the one exact on every firmware (a run
        may clobber an input kept in the arena, see ``DeviceInfo.repeat_exact``); the other runs
        only add counts. A board reset between SET_INPUT and GET_OUTPUT is recovered from once
        (``exact_output``)."""
        info = self.info()
        if len(inputs) != len(info.inputs):
            raise TinyrtError(f"{len(inputs)} inputs given, the model takes {len(info.inputs)}")
        raw, counts = self.exact_output(b"".join(np.ascontiguousarray(x, dtype=t.dtype).tobytes()
                                                 for x, t in zip(inputs, info.inputs)))
        if runs > 1:
            counts += self.invoke(runs - 1)
        outputs, pos = [], 0
        for t in info.outputs:
            outputs.append(np.frombuffer(raw[pos:pos + t.bytes], dtype=t.dtype).reshape(t.shape).copy())
            pos += t.bytes
        return outputs, counts

    def exact_output(self, data: bytes) -> tuple[bytes, list[int]]:
        """SET_INPUT ``data``, INVOKE 1, GET_OUTPUT: the output and the run's count.

        NOT_READY right after this SET_INPUT and INVOKE means the board lost the input in
        between: it was reset (the firmware boots with no input, docs/protocol.md "State") or
        another program set one. Then INFO is read again, the same model must be there, and the
        whole exchange is done once more; a second NOT_READY is reported."""
        for attempt in (0, 1):
            self.set_input(data)
            counts = self.invoke(1)
            try:
                return self.get_output(), counts
            except DeviceRejected as e:
                if e.code != p.ErrorCode.NOT_READY or attempt:
                    raise
            self.recoveries += 1
            self._same_model()
        raise AssertionError("unreachable")

    def _same_model(self) -> None:
        before, self._info = self._info, None
        now = self.info()
        if before is not None and (now.model_hash, now.input_bytes, now.output_bytes) != (
                before.model_hash, before.input_bytes, before.output_bytes):
            raise TinyrtError(f"the board now runs another model: {now.model_name} ({now.model_hash}), "
                              f"was {before.model_name} ({before.model_hash})",
                              ["was the board flashed or swapped during the run? open it again"])
