"""Talk to a board running tinyrt firmware over a serial link (docs/protocol.md).

``Link`` sends one request at a time and waits for its response, retrying a bounded number of
times (same request id) when a frame is damaged or the answer does not come in time; then it
raises ``TinyrtError`` saying what the link looked like: silent, garbled or corrupting; the fault
line a crashed firmware prints raises at once ("the device faulted: ..."). On a link that keeps
damaging frames it moves inputs and outputs in smaller chunks (``Link.payload_limit``): a long
frame is far less likely to cross a noisy line whole. ``Device``
is the typed API on top: ``info()``, ``set_input()``, ``invoke()``, ``get_output()``, ``stats()``,
``profile()``, and ``run()`` for whole numpy tensors.

A port is a device path (``/dev/ttyACM0``, a pty such as ``/dev/pts/5``) or a pyserial URL
(``socket://127.0.0.1:4321`` for QEMU's console).
"""
from __future__ import annotations

import errno
import os
import random
import re
import time

import numpy as np
import serial

from . import protocol as p
from .errors import TinyrtError

DEFAULT_BAUD = 115200
POLL_S = 0.02
# Chunk sizing on a noisy link: a request that fails twice halves the payload limit (down to
# MIN_PAYLOAD); GROW_AFTER requests in a row that pass at the first attempt double it again.
MIN_PAYLOAD = 24
GROW_AFTER = 32
# The firmware's fault handler (firmware/startup_cortexm.c) prints one line wrapped in 0x00, so
# it reaches the link as one frame that does not decode: "\r\n*** tinyrt: fault exc=... \r\n".
FAULT_MARK = b"*** tinyrt: fault"
EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault", 7: "SecureFault"}


def _available_ports() -> str:
    try:
        from serial.tools import list_ports
        ports = [info.device for info in list_ports.comports()]
    except Exception:  # listing ports is a hint only
        ports = []
    return ", ".join(ports) if ports else "none found"


def open_port(port: str, baud: int = DEFAULT_BAUD, exclusive: bool = True) -> serial.SerialBase:
    """Open ``port`` with pyserial; every failure becomes a ``TinyrtError`` with a diagnosis."""
    is_url = "://" in port
    if not is_url and not os.path.exists(port):
        raise TinyrtError(f"port missing: {port} does not exist",
                          [f"serial ports on this machine: {_available_ports()}",
                           "is the board plugged in and powered? (`dmesg | tail` shows new USB serial ports)"])
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=POLL_S, write_timeout=5.0,
                                     exclusive=None if is_url else exclusive)
    except serial.SerialException as e:
        raise _open_error(port, e) from None
    except ValueError as e:  # pyserial's answer to a malformed URL
        raise TinyrtError(f"cannot open {port}: {e}", ["a port is a device path or a URL like socket://host:port"]) from None


def _open_error(port: str, e: serial.SerialException) -> TinyrtError:
    code, text = getattr(e, "errno", None), str(e)
    if "exclusively lock" in text or code in (errno.EBUSY, errno.EAGAIN):
        return TinyrtError(f"port busy: another program has {port} open",
                           ["close the other serial monitor (screen, minicom, picocom, `tinyrt monitor`)",
                            f"`lsof {port}` shows which process holds it"])
    if code == errno.ENOENT:
        return TinyrtError(f"port missing: {port} does not exist",
                           [f"serial ports on this machine: {_available_ports()}"])
    if code == errno.EACCES:
        return TinyrtError(f"permission denied opening {port}",
                           ["add yourself to the serial group: sudo usermod -aG dialout $USER (then log in again)"])
    if "refused" in text.lower() or "errno 111" in text.lower():
        return TinyrtError(f"port missing: nothing is listening at {port}",
                           ["is the emulator running? start it with `tinyrt flash DIR --board qemu-m4`",
                            "check the TCP port number"])
    return TinyrtError(f"cannot open {port}: {text}")


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
        wire = p.encode_frame(p.request_frame(request, seq))
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
                raise self._diagnose(name, problems, self.splitter.received - received_before)
            self.resends += 1
            self._write(wire)
            deadline = time.monotonic() + timeout

    def _adapt(self, damaged: int | None) -> None:
        """Halve the payload limit when one request meets a second damaged frame (one is a blip;
        two mean frames this long rarely cross whole). Silence does not count: a frame cut short
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
        if damaged == 2:
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
                raise _fault_error(name, raw) from None
            return f"damaged frame from the device ({e.code.name}: {e})"
        self.valid_frames += 1
        if isinstance(response, p.DeviceError) and response.retryable:
            if frame.seq in (seq, p.SEQ_UNKNOWN):
                return f"the device received a damaged request ({response.describe()})"
            return None
        if frame.seq != seq:
            return None
        if isinstance(response, p.DeviceError):
            raise _device_error(name, response)
        if (frame.type & ~p.RESPONSE_BIT) != p.Command[name]:
            return f"answer of the wrong type {frame.type:#04x}"
        return response

    def _read(self) -> bytes:
        try:
            # The port's own timeout is a short poll interval (set at open, since changing it
            # reconfigures the port); the caller loops until its deadline.
            return self.serial.read(max(1, self.serial.in_waiting))
        except (serial.SerialException, OSError) as e:
            raise TinyrtError(f"lost the connection to {self.port}: {e}",
                              ["the board was unplugged, reset or the emulator exited"]) from None

    def _write(self, data: bytes) -> None:
        try:
            self.serial.write(data)
        except (serial.SerialException, OSError) as e:
            raise TinyrtError(f"lost the connection to {self.port}: {e}",
                              ["the board was unplugged, reset or the emulator exited"]) from None

    def _drain(self) -> None:
        try:
            self.serial.reset_input_buffer()
        except Exception:  # termios.error on a port that went away: the next write says so
            pass
        self.splitter.clear()

    def _diagnose(self, name: str, problems: list[str], received: int) -> TinyrtError:
        tries = f"{name} failed {len(problems)} times"
        detail = "; ".join(dict.fromkeys(problems))
        if received == 0:
            if self.valid_frames:
                return TinyrtError(f"board silent: it answered before but not {name} ({tries}: {detail})",
                                   ["the firmware may have crashed or hung; reset the board or restart the emulator"])
            return TinyrtError(
                f"board silent: no bytes at all from {self.port} ({tries}: {detail})",
                ["is the board flashed with tinyrt firmware and running? (`tinyrt flash DIR --board B`)",
                 f"is {self.port} the board's port? serial ports here: {_available_ports()}",
                 f"the baud rate must match the firmware's (this link: {self.baud})"])
        if self.valid_frames == 0:
            return TinyrtError(
                f"garbled link: {received} bytes from {self.port} but no valid frame ({tries}: {detail})",
                [f"check the baud rate (this link: {self.baud}) matches the firmware's",
                 "is this the right port? another device may be attached to it",
                 "is another program (a serial monitor) reading the same port?"])
        return TinyrtError(f"corrupted frames: {tries} ({detail})",
                           ["the link drops or flips bytes: try a lower baud rate, another cable or USB port",
                            "is another program reading the same port?"])


def _fault_error(name: str, raw: bytes) -> TinyrtError:
    line = raw[raw.index(FAULT_MARK):].decode("ascii", errors="replace").strip()
    if "stack-overflow" in line or "arena-overrun" in line:
        return _limit_error(name, line)
    exc = re.search(r"exc=(0x[0-9a-fA-F]+)", line)
    kind = EXCEPTIONS.get(int(exc.group(1), 16), "exception") if exc else "exception"
    pc = re.search(r"pc=(0x[0-9a-fA-F]+)", line)
    hints = ["the firmware stopped: reset the board or restart the emulator"]
    if pc:
        hints.insert(0, f"find the faulting code: arm-none-eabi-addr2line -f -e firmware.elf {pc.group(1)}")
    return TinyrtError(f"the device faulted: {line} ({kind} while answering {name})", hints)


def _limit_error(name: str, line: str) -> TinyrtError:
    """A device limit the firmware checks (firmware/startup_cortexm.c): the stack reached its
    guard band after a run (used=) or grew past its end and faulted (sp=, limit=), or a run
    wrote over the guard words after the arena (debug builds)."""
    f = {k: int(v, 16) for k, v in re.findall(r"(\w+)=(0x[0-9a-fA-F]+)", line)}
    stopped = "the firmware stopped: reset the board or restart the emulator"
    if "arena-overrun" in line:
        return TinyrtError(
            f"arena overrun while answering {name}: a run wrote past the end of the {f['arena']:,} B "
            f"arena (guard word {f['word']} now holds {f['value']:#010x})",
            ["a kernel wrote outside its buffers, a tinyrt bug: please report it with the model",
             "run the model on the host (`--board host`) under a memory checker to find the kernel", stopped])
    size, guard = f["size"], f["guard"]
    if "used" in f:
        what, used = f"a run used {f['used']:,} B of the {size:,} B stack, into its last {guard} B", f["used"]
    else:
        over = f["limit"] - f["sp"]
        kind = EXCEPTIONS.get(f.get("exc", 0), "a fault")
        what = (f"the stack grew at least {over:,} B past the end of its {size:,} B" if over > 0 else
                f"the stack reached the end of its {size:,} B" if over == 0 else
                f"the stack reached its last {guard} B") + f" ({kind} at sp={f['sp']:#x})"
        used = size + max(over, 0)
    need = used + guard
    suggest = -(-(need + need // 4) // 1024) * 1024   # a quarter to spare, whole KiB
    at_least = "" if "used" in f else "at least "
    return TinyrtError(f"stack overflow while answering {name}: {what}",
                       [f"give the board a larger stack: stack_bytes = {suggest} in its board file (now {size}; "
                        f"the run used {at_least}{used:,} B, and the lowest {guard} B are a guard band it "
                        f"must not reach)", stopped])


def _device_error(name: str, error: p.DeviceError) -> TinyrtError:
    hints = {p.ErrorCode.BAD_VERSION: ["rebuild and flash the firmware with this version of tinyrt"],
             p.ErrorCode.UNKNOWN_COMMAND: ["rebuild and flash the firmware with this version of tinyrt"],
             p.ErrorCode.NOT_SUPPORTED: ["build the firmware with profiling (`--profile`)"],
             p.ErrorCode.NOT_READY: ["set the input and invoke before reading results",
                                     "an output is readable only after a run on a fresh input: SET_INPUT, "
                                     "then INVOKE 1 (unless INFO says the input survives runs)"],
             p.ErrorCode.TOO_LARGE: [f"rebuild the firmware with larger frames, e.g. "
                                     f"-DTR_PROTO_MAX_PAYLOAD={max(1024, error.detail + 64)}"]}
    return TinyrtError(f"the device rejected {name}: {error.describe()}", hints.get(error.code, []))


class Device:
    """A board running tinyrt firmware. Open with ``Device.open(port)``; use as a context manager.

    ``invoke_timeout`` bounds the wait for the first INVOKE; later ones wait the link timeout
    plus four times the slowest wall time per run seen so far (never longer than the bound)."""

    def __init__(self, link: Link, invoke_timeout: float = 120.0):
        self.link = link
        self.invoke_timeout = invoke_timeout
        self._info: p.DeviceInfo | None = None
        self._run_seconds: float | None = None

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
        only add counts."""
        info = self.info()
        if len(inputs) != len(info.inputs):
            raise TinyrtError(f"{len(inputs)} inputs given, the model takes {len(info.inputs)}")
        self.set_input(b"".join(np.ascontiguousarray(x, dtype=t.dtype).tobytes()
                                for x, t in zip(inputs, info.inputs)))
        counts = self.invoke(1)
        raw, pos, outputs = self.get_output(), 0, []
        if runs > 1:
            counts += self.invoke(runs - 1)
        for t in info.outputs:
            outputs.append(np.frombuffer(raw[pos:pos + t.bytes], dtype=t.dtype).reshape(t.shape).copy())
            pos += t.bytes
        return outputs, counts
