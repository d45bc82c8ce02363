"""The protocol's inference messages (docs/protocol.md): requests are dataclasses with
``payload()``, responses dataclasses with ``decode(payload)`` and ``encode()``. The training
commands (firmware/train.c) are in protocol_train.py; INFO reads their block from there. Import
them all from ``tinyrt.protocol``."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .protocol_wire import (ERROR_PAYLOAD, ERROR_TEXT, FLAG_INPUT_COPY, FLAG_INPUTS_PRESERVED,
                            FLAG_PROFILE, FLAG_TRAINING, LINK_ERRORS, Command, ErrorCode,
                            ProtocolError, Reader, pack_str)
from .protocol_train import TrainingInfo


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
    def read(cls, r: Reader) -> "TensorInfo":
        dtype = r.str()
        rank = r.unpack("B")
        shape = struct.unpack(f"<{rank}I", r.take(4 * rank))
        scale, zero_point, nbytes = r.unpack("fiI")
        return cls(dtype, shape, scale, zero_point, nbytes)

    def encode(self) -> bytes:
        return (pack_str(self.dtype) + struct.pack(f"<B{len(self.shape)}I", len(self.shape), *self.shape)
                + struct.pack("<fiI", self.scale, self.zero_point, self.bytes))


_INFO_FIXED = "HBBHBIIII"


@dataclass(frozen=True)
class DeviceInfo:
    """INFO. ``input_copy``: the firmware keeps the input outside the arena
    (``-DTR_PROTO_INPUT_COPY=1``); ``inputs_preserved``: the model's plan never reuses the input's
    arena bytes. Either makes every run of an INVOKE exact (``repeat_exact``); otherwise only a
    run on an input freshly written by SET_INPUT is, and GET_OUTPUT after any other answers
    NOT_READY. Firmware older than these flags reports both False. ``training``: what a training
    build (flag TRAINING) adds after the tensors; None on an inference-only firmware."""
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
    training: "TrainingInfo | None" = None

    @property
    def repeat_exact(self) -> bool:
        """Every run of an INVOKE computes on the input as SET_INPUT wrote it."""
        return self.input_copy or self.inputs_preserved

    @classmethod
    def decode(cls, payload: bytes) -> "DeviceInfo":
        r = Reader(payload, "INFO")
        (max_payload, n_in, n_out, layers, flags, arena, clock, in_bytes, out_bytes) = r.unpack(_INFO_FIXED)
        strings = [r.str() for _ in range(5)]
        tensors = [TensorInfo.read(r) for _ in range(n_in + n_out)]
        training = TrainingInfo.read(r) if flags & FLAG_TRAINING else None
        return cls(max_payload, layers, bool(flags & FLAG_PROFILE), arena, clock, in_bytes, out_bytes,
                   *strings, tuple(tensors[:n_in]), tuple(tensors[n_in:]),
                   bool(flags & FLAG_INPUT_COPY), bool(flags & FLAG_INPUTS_PRESERVED), training)

    def encode(self) -> bytes:
        flags = ((FLAG_PROFILE if self.profiling else 0) | (FLAG_INPUT_COPY if self.input_copy else 0)
                 | (FLAG_INPUTS_PRESERVED if self.inputs_preserved else 0)
                 | (FLAG_TRAINING if self.training is not None else 0))
        head = struct.pack("<" + _INFO_FIXED, self.max_payload, len(self.inputs), len(self.outputs),
                           self.num_layers, flags, self.arena_bytes, self.clock_hz,
                           self.input_bytes, self.output_bytes)
        strings = [self.model_name, self.model_hash, self.firmware_version, self.board_id, self.latency_unit]
        return (head + b"".join(map(pack_str, strings)) + b"".join(t.encode() for t in self.inputs + self.outputs)
                + (self.training.encode() if self.training is not None else b""))


@dataclass(frozen=True)
class InputStored:
    offset: int
    length: int

    @classmethod
    def decode(cls, payload: bytes) -> "InputStored":
        return cls(*Reader(payload, "SET_INPUT").unpack("II"))

    def encode(self) -> bytes:
        return struct.pack("<II", self.offset, self.length)


@dataclass(frozen=True)
class InvokeResult:
    counts: tuple[int, ...]

    @classmethod
    def decode(cls, payload: bytes) -> "InvokeResult":
        r = Reader(payload, "INVOKE")
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
        r = Reader(payload, "GET_OUTPUT")
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
        return cls(*Reader(payload, "GET_STATS").unpack("6I"))

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
        r = Reader(payload, "PROFILE")
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
        return cls(*ERROR_PAYLOAD.unpack(Reader(payload, "ERROR").take(ERROR_PAYLOAD.size)))

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
