"""The tinyrt serial protocol (docs/protocol.md): COBS framing, CRC-32, typed messages. No I/O.

A frame on the wire is ``0x00 COBS(body) 0x00`` with ``body = version:u8 type:u8 seq:u16
length:u16 payload crc32:u32``, little-endian. Requests are dataclasses with ``payload()``;
responses are dataclasses with ``decode(payload)`` and ``encode()``.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

# The device's twins of these constants are in firmware/protocol.h (TR_PROTO_*, TR_CMD_*, TR_ERR_*,
# TR_FLAG_*); tests/test_protocol_constants.py parses the header and fails when they drift.
VERSION = 1
HEADER = struct.Struct("<BBHH")
OVERHEAD = HEADER.size + 4
DEFAULT_MAX_PAYLOAD = 512
MAX_PAYLOAD_LOWEST, MAX_PAYLOAD_HIGHEST = 128, 65000   # what -DTR_PROTO_MAX_PAYLOAD may be
SEQ_UNKNOWN = 0xFFFF
ERROR_TYPE = 0xFF
RESPONSE_BIT = 0x80
ERROR_PAYLOAD = struct.Struct("<BBI")   # code, command, detail
STR_MAX = 48        # INFO strings are cut to this many bytes
MAX_TENSORS = 4     # inputs, and outputs, INFO can describe
MAX_RANK = 6


class Command(IntEnum):
    PING = 0x01
    INFO = 0x02
    SET_INPUT = 0x03
    INVOKE = 0x04
    GET_OUTPUT = 0x05
    GET_STATS = 0x06
    PROFILE = 0x07


class ErrorCode(IntEnum):
    BAD_COBS = 1
    BAD_CRC = 2
    OVERSIZE = 3
    BAD_LENGTH = 4
    BAD_VERSION = 5
    UNKNOWN_COMMAND = 6
    BAD_ARGUMENT = 7
    NOT_READY = 8
    NOT_SUPPORTED = 9
    TOO_LARGE = 10


# The frame was damaged on the way: sending the same request again may work.
LINK_ERRORS = frozenset({ErrorCode.BAD_COBS, ErrorCode.BAD_CRC, ErrorCode.OVERSIZE, ErrorCode.BAD_LENGTH})

ERROR_TEXT = {
    ErrorCode.BAD_COBS: "a frame's COBS encoding is broken",
    ErrorCode.BAD_CRC: "a frame's CRC does not match",
    ErrorCode.OVERSIZE: "a frame is longer than the device's receive buffer",
    ErrorCode.BAD_LENGTH: "a frame's length is wrong",
    ErrorCode.BAD_VERSION: "the device speaks another protocol version",
    ErrorCode.UNKNOWN_COMMAND: "the device does not know the command",
    ErrorCode.BAD_ARGUMENT: "an argument is out of range",
    ErrorCode.NOT_READY: "there is nothing to read yet",
    ErrorCode.NOT_SUPPORTED: "the firmware was built without this feature",
    ErrorCode.TOO_LARGE: "the response does not fit in one frame",
}


class ProtocolError(Exception):
    """Bytes that are not a valid message. ``code`` says why, in the device's error terms."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code


# --- framing ---------------------------------------------------------------------------------

def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    start = 0
    while True:
        end = start
        while end < len(data) and data[end] != 0 and end - start < 254:
            end += 1
        out.append(end - start + 1)
        out += data[start:end]
        if end == len(data):
            return bytes(out)
        start = end if end - start == 254 else end + 1


def cobs_decode(data: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while pos < len(data):
        code = data[pos]
        pos += 1
        if code == 0 or pos + code - 1 > len(data):
            raise ProtocolError(ErrorCode.BAD_COBS, f"COBS code {code} at byte {pos - 1} of {len(data)}")
        block = data[pos:pos + code - 1]
        if 0 in block:
            raise ProtocolError(ErrorCode.BAD_COBS, "a 0x00 inside a COBS frame")
        out += block
        pos += code - 1
        if code < 0xFF and pos < len(data):
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes = b""
    version: int = VERSION


def frame_body(frame: Frame) -> bytes:
    """The decoded body, CRC included (what COBS encodes)."""
    body = HEADER.pack(frame.version, frame.type, frame.seq, len(frame.payload)) + bytes(frame.payload)
    return body + struct.pack("<I", crc32(body))


def encode_frame(frame: Frame) -> bytes:
    """The bytes to send, both delimiters included."""
    return b"\0" + cobs_encode(frame_body(frame)) + b"\0"


def decode_frame(encoded: bytes) -> Frame:
    """One frame as it came between two delimiters (no 0x00 in it)."""
    body = cobs_decode(encoded)
    if len(body) < OVERHEAD:
        raise ProtocolError(ErrorCode.BAD_LENGTH, f"frame of {len(body)} bytes is shorter than a header")
    (crc,) = struct.unpack_from("<I", body, len(body) - 4)
    if crc != crc32(body[:-4]):
        raise ProtocolError(ErrorCode.BAD_CRC, f"CRC {crc:#010x} != {crc32(body[:-4]):#010x}")
    version, type_, seq, length = HEADER.unpack_from(body)
    if version != VERSION:
        raise ProtocolError(ErrorCode.BAD_VERSION, f"protocol version {version}, expected {VERSION}")
    if length != len(body) - OVERHEAD:
        raise ProtocolError(ErrorCode.BAD_LENGTH, f"length field {length}, payload {len(body) - OVERHEAD}")
    return Frame(type_, seq, body[HEADER.size:-4], version)


class FrameSplitter:
    """Cut a byte stream at 0x00 delimiters. ``feed`` returns the complete non-empty frames
    (without delimiters); ``received`` counts every byte ever fed."""

    def __init__(self):
        self.pending = bytearray()
        self.received = 0

    def feed(self, data: bytes) -> list[bytes]:
        self.received += len(data)
        *frames, rest = (bytes(self.pending) + bytes(data)).split(b"\0")
        self.pending = bytearray(rest)
        return [f for f in frames if f]

    def clear(self) -> None:
        self.pending.clear()


# --- payloads --------------------------------------------------------------------------------

class _Reader:
    def __init__(self, data: bytes, what: str):
        self.data, self.pos, self.what = bytes(data), 0, what

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError(ErrorCode.BAD_LENGTH,
                                f"{self.what} payload of {len(self.data)} bytes is too short")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def unpack(self, fmt: str):
        values = struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))
        return values if len(values) > 1 else values[0]

    def str(self) -> str:
        return self.take(self.unpack("B")).decode("ascii", errors="replace")

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)


def _str(text: str) -> bytes:
    raw = text.encode("ascii")[:STR_MAX]
    return bytes([len(raw)]) + raw


@dataclass(frozen=True)
class Ping:
    data: bytes = b""
    command = Command.PING

    def payload(self) -> bytes:
        return bytes(self.data)


@dataclass(frozen=True)
class Info:
    command = Command.INFO

    def payload(self) -> bytes:
        return b""


@dataclass(frozen=True)
class SetInput:
    offset: int
    data: bytes
    command = Command.SET_INPUT

    def payload(self) -> bytes:
        return struct.pack("<I", self.offset) + bytes(self.data)


@dataclass(frozen=True)
class Invoke:
    runs: int = 1
    command = Command.INVOKE

    def payload(self) -> bytes:
        return struct.pack("<H", self.runs)


@dataclass(frozen=True)
class GetOutput:
    offset: int
    length: int
    command = Command.GET_OUTPUT

    def payload(self) -> bytes:
        return struct.pack("<IH", self.offset, self.length)


@dataclass(frozen=True)
class GetStats:
    command = Command.GET_STATS

    def payload(self) -> bytes:
        return b""


@dataclass(frozen=True)
class Profile:
    start: int = 0
    command = Command.PROFILE

    def payload(self) -> bytes:
        return struct.pack("<H", self.start)


def request_frame(request, seq: int) -> Frame:
    return Frame(int(request.command), seq, request.payload())


@dataclass(frozen=True)
class Pong:
    data: bytes

    @classmethod
    def decode(cls, payload: bytes) -> "Pong":
        return cls(bytes(payload))

    def encode(self) -> bytes:
        return bytes(self.data)


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    bytes: int

    @classmethod
    def read(cls, r: _Reader) -> "TensorInfo":
        dtype = r.str()
        rank = r.unpack("B")
        shape = struct.unpack(f"<{rank}I", r.take(4 * rank))
        scale, zero_point, nbytes = r.unpack("fiI")
        return cls(dtype, shape, scale, zero_point, nbytes)

    def encode(self) -> bytes:
        return (_str(self.dtype) + struct.pack(f"<B{len(self.shape)}I", len(self.shape), *self.shape)
                + struct.pack("<fiI", self.scale, self.zero_point, self.bytes))


_INFO_FIXED = "HBBHBIIII"
FLAG_PROFILE, FLAG_INPUT_COPY, FLAG_INPUTS_PRESERVED = 0x01, 0x02, 0x04


@dataclass(frozen=True)
class DeviceInfo:
    """INFO. ``input_copy``: the firmware keeps the input outside the arena
    (``-DTR_PROTO_INPUT_COPY=1``); ``inputs_preserved``: the model's plan never reuses the input's
    arena bytes. Either makes every run of an INVOKE exact (``repeat_exact``); otherwise only a
    run on an input freshly written by SET_INPUT is, and GET_OUTPUT after any other answers
    NOT_READY. Firmware older than these flags reports both False."""
    max_payload: int
    num_layers: int
    profiling: bool
    arena_bytes: int
    clock_hz: int
    input_bytes: int
    output_bytes: int
    model_name: str
    model_hash: str
    firmware_version: str
    board_id: str
    latency_unit: str
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()
    input_copy: bool = False
    inputs_preserved: bool = False

    @property
    def repeat_exact(self) -> bool:
        """Every run of an INVOKE computes on the input as SET_INPUT wrote it."""
        return self.input_copy or self.inputs_preserved

    @classmethod
    def decode(cls, payload: bytes) -> "DeviceInfo":
        r = _Reader(payload, "INFO")
        (max_payload, n_in, n_out, layers, flags, arena, clock, in_bytes, out_bytes) = r.unpack(_INFO_FIXED)
        strings = [r.str() for _ in range(5)]
        tensors = [TensorInfo.read(r) for _ in range(n_in + n_out)]
        return cls(max_payload, layers, bool(flags & FLAG_PROFILE), arena, clock, in_bytes, out_bytes,
                   *strings, tuple(tensors[:n_in]), tuple(tensors[n_in:]),
                   bool(flags & FLAG_INPUT_COPY), bool(flags & FLAG_INPUTS_PRESERVED))

    def encode(self) -> bytes:
        flags = ((FLAG_PROFILE if self.profiling else 0) | (FLAG_INPUT_COPY if self.input_copy else 0)
                 | (FLAG_INPUTS_PRESERVED if self.inputs_preserved else 0))
        head = struct.pack("<" + _INFO_FIXED, self.max_payload, len(self.inputs), len(self.outputs),
                           self.num_layers, flags, self.arena_bytes, self.clock_hz,
                           self.input_bytes, self.output_bytes)
        strings = [self.model_name, self.model_hash, self.firmware_version, self.board_id, self.latency_unit]
        return head + b"".join(map(_str, strings)) + b"".join(t.encode() for t in self.inputs + self.outputs)


@dataclass(frozen=True)
class InputStored:
    offset: int
    length: int

    @classmethod
    def decode(cls, payload: bytes) -> "InputStored":
        return cls(*_Reader(payload, "SET_INPUT").unpack("II"))

    def encode(self) -> bytes:
        return struct.pack("<II", self.offset, self.length)


@dataclass(frozen=True)
class InvokeResult:
    counts: tuple[int, ...]

    @classmethod
    def decode(cls, payload: bytes) -> "InvokeResult":
        r = _Reader(payload, "INVOKE")
        runs = r.unpack("H")
        return cls(tuple(struct.unpack(f"<{runs}Q", r.take(8 * runs))))

    def encode(self) -> bytes:
        return struct.pack(f"<H{len(self.counts)}Q", len(self.counts), *self.counts)


@dataclass(frozen=True)
class OutputChunk:
    offset: int
    data: bytes

    @classmethod
    def decode(cls, payload: bytes) -> "OutputChunk":
        r = _Reader(payload, "GET_OUTPUT")
        return cls(r.unpack("I"), r.rest())

    def encode(self) -> bytes:
        return struct.pack("<I", self.offset) + bytes(self.data)


@dataclass(frozen=True)
class Stats:
    stack_used: int
    stack_size: int
    arena_bytes: int
    static_ram: int
    input_buffer_bytes: int
    proto_buffer_bytes: int

    @classmethod
    def decode(cls, payload: bytes) -> "Stats":
        return cls(*_Reader(payload, "GET_STATS").unpack("6I"))

    def encode(self) -> bytes:
        return struct.pack("<6I", self.stack_used, self.stack_size, self.arena_bytes, self.static_ram,
                           self.input_buffer_bytes, self.proto_buffer_bytes)


@dataclass(frozen=True)
class ProfileChunk:
    layers: int
    start: int
    counts: tuple[int, ...] = field(default=())

    @classmethod
    def decode(cls, payload: bytes) -> "ProfileChunk":
        r = _Reader(payload, "PROFILE")
        layers, start = r.unpack("HH")
        rest = r.rest()
        if len(rest) % 8:
            raise ProtocolError(ErrorCode.BAD_LENGTH, "PROFILE payload is not a whole number of counts")
        return cls(layers, start, struct.unpack(f"<{len(rest) // 8}Q", rest))

    def encode(self) -> bytes:
        return struct.pack(f"<HH{len(self.counts)}Q", self.layers, self.start, *self.counts)


@dataclass(frozen=True)
class DeviceError:
    code: int
    command: int
    detail: int

    @classmethod
    def decode(cls, payload: bytes) -> "DeviceError":
        return cls(*ERROR_PAYLOAD.unpack(_Reader(payload, "ERROR").take(ERROR_PAYLOAD.size)))

    def encode(self) -> bytes:
        return ERROR_PAYLOAD.pack(self.code, self.command, self.detail)

    @property
    def retryable(self) -> bool:
        return self.code in LINK_ERRORS

    def describe(self) -> str:
        try:
            code = ErrorCode(self.code)
            text = f"{code.name}: {ERROR_TEXT[code]}"
        except ValueError:
            text = f"error code {self.code}"
        try:
            command = Command(self.command).name
        except ValueError:
            command = f"command {self.command:#04x}"
        return f"{text} ({command}, detail {self.detail})"


RESPONSES = {Command.PING: Pong, Command.INFO: DeviceInfo, Command.SET_INPUT: InputStored,
             Command.INVOKE: InvokeResult, Command.GET_OUTPUT: OutputChunk, Command.GET_STATS: Stats,
             Command.PROFILE: ProfileChunk}


def response_frame(command: Command, seq: int, response) -> Frame:
    """A device's answer (for tests and fakes): ``response`` is a response dataclass."""
    kind = ERROR_TYPE if isinstance(response, DeviceError) else int(command) | RESPONSE_BIT
    return Frame(kind, seq, response.encode())


def decode_response(frame: Frame):
    """The response dataclass a valid frame holds, ``DeviceError`` for an ERROR frame."""
    if frame.type == ERROR_TYPE:
        return DeviceError.decode(frame.payload)
    try:
        command = Command(frame.type & ~RESPONSE_BIT)
    except ValueError:
        command = None
    if not frame.type & RESPONSE_BIT or command is None:
        raise ProtocolError(ErrorCode.UNKNOWN_COMMAND, f"frame type {frame.type:#04x} is not a response")
    return RESPONSES[command].decode(frame.payload)
