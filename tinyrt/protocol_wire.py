"""The tinyrt serial protocol's one definition (docs/protocol.md): constants, command ids, error
codes, COBS framing and CRC-32. No I/O. The message dataclasses are in protocol_msgs.py
(inference) and protocol_train.py (training); import everything from ``tinyrt.protocol``.

A frame on the wire is ``0x00 COBS(body) 0x00`` with ``body = version:u8 type:u8 seq:u16
length:u16 payload crc32:u32``, little-endian.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
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
# INFO flags
FLAG_PROFILE, FLAG_INPUT_COPY, FLAG_INPUTS_PRESERVED, FLAG_TRAINING = 0x01, 0x02, 0x04, 0x08


class Command(IntEnum):
    PING = 0x01
    INFO = 0x02
    SET_INPUT = 0x03
    INVOKE = 0x04
    GET_OUTPUT = 0x05
    GET_STATS = 0x06
    PROFILE = 0x07
    # on-device training (firmware built from a project with model_train.c, TINYRT_TRAINING=1)
    TRAIN_SAMPLE = 0x08
    TRAIN_UPDATE = 0x09
    TRAIN_EVAL = 0x0A
    TRAIN_PARAMS = 0x0B
    TRAIN_RESET = 0x0C
    TRAIN_BEGIN = 0x0D


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

class Reader:
    """Reads a payload's fields; a payload too short raises BAD_LENGTH."""

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


def pack_str(text: str) -> bytes:
    """An INFO string: length:u8 then at most STR_MAX bytes of ASCII."""
    raw = text.encode("ascii")[:STR_MAX]
    return bytes([len(raw)]) + raw
