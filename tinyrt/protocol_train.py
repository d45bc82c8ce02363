"""The protocol's training messages (docs/protocol.md, "Training"; firmware/train.c): TRAIN_BEGIN,
TRAIN_SAMPLE, TRAIN_UPDATE, TRAIN_EVAL, TRAIN_PARAMS, TRAIN_RESET and the block a training
build adds to INFO. Requests are dataclasses with ``payload()``, responses dataclasses with
``decode(payload)`` and ``encode()``, as the inference messages (protocol_msgs.py). Import them
from ``tinyrt.protocol``."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .protocol_wire import Command, ErrorCode, ProtocolError, Reader


@dataclass(frozen=True)
class TrainingInfo:
    """What INFO adds on a training build: the planned training peak (backbone arena + training
    arena, TINYRT_TRAIN_PEAK_BYTES), the training arena, the trainable parameters' bytes (FP32),
    the classes and whether the build keeps momentum state."""
    peak_bytes: int
    arena_bytes: int
    params_bytes: int
    classes: int
    momentum: bool

    FORMAT = "IIIHB"

    @classmethod
    def read(cls, r: Reader) -> "TrainingInfo":
        peak, arena, params, classes, momentum = r.unpack(cls.FORMAT)
        return cls(peak, arena, params, classes, bool(momentum))

    def encode(self) -> bytes:
        return struct.pack("<" + self.FORMAT, self.peak_bytes, self.arena_bytes, self.params_bytes,
                           self.classes, int(self.momentum))


@dataclass(frozen=True)
class TrainSample:
    """Forward, loss and backward on the input SET_INPUT wrote; gradients add up until
    TRAIN_UPDATE."""
    label: int
    command = Command.TRAIN_SAMPLE

    def payload(self) -> bytes:
        return struct.pack("<i", self.label)


@dataclass(frozen=True)
class TrainUpdate:
    """One SGD step over the gradients of the last ``batch`` samples."""
    lr: float
    momentum: float
    batch: int
    command = Command.TRAIN_UPDATE

    def payload(self) -> bytes:
        return struct.pack("<ffH", self.lr, self.momentum, self.batch)


@dataclass(frozen=True)
class TrainBegin:
    """Begin a batch of ``batch`` samples: the velocity decays by ``momentum`` and each sample
    adds its gradient / batch (``tinyrt_train_begin``). Send it before the batch's first sample
    whenever momentum or batch may differ from the last update's."""
    momentum: float
    batch: int
    command = Command.TRAIN_BEGIN

    def payload(self) -> bytes:
        return struct.pack("<fH", self.momentum, self.batch)


@dataclass(frozen=True)
class TrainEval:
    """The class the trained model gives the input SET_INPUT wrote."""
    command = Command.TRAIN_EVAL

    def payload(self) -> bytes:
        return b""


@dataclass(frozen=True)
class TrainParams:
    """Bytes [offset, offset + length) of the trained parameters (FP32, model_train.h's order)."""
    offset: int
    length: int
    command = Command.TRAIN_PARAMS

    def payload(self) -> bytes:
        return struct.pack("<IH", self.offset, self.length)


@dataclass(frozen=True)
class TrainReset:
    """Parameters back to the deployed model's, momentum and gradients to zero."""
    command = Command.TRAIN_RESET

    def payload(self) -> bytes:
        return b""


@dataclass(frozen=True)
class SampleTrained:
    loss: float
    predicted: int
    count: int   # forward + loss + backward, in INFO's latency unit

    @classmethod
    def decode(cls, payload: bytes) -> "SampleTrained":
        return cls(*Reader(payload, "TRAIN_SAMPLE").unpack("fiQ"))

    def encode(self) -> bytes:
        return struct.pack("<fiQ", self.loss, self.predicted, self.count)


@dataclass(frozen=True)
class Updated:
    count: int

    @classmethod
    def decode(cls, payload: bytes) -> "Updated":
        return cls(Reader(payload, "TRAIN_UPDATE").unpack("Q"))

    def encode(self) -> bytes:
        return struct.pack("<Q", self.count)


@dataclass(frozen=True)
class Evaluated:
    predicted: int
    count: int

    @classmethod
    def decode(cls, payload: bytes) -> "Evaluated":
        return cls(*Reader(payload, "TRAIN_EVAL").unpack("iQ"))

    def encode(self) -> bytes:
        return struct.pack("<iQ", self.predicted, self.count)


@dataclass(frozen=True)
class ParamsChunk:
    offset: int
    data: bytes

    @classmethod
    def decode(cls, payload: bytes) -> "ParamsChunk":
        r = Reader(payload, "TRAIN_PARAMS")
        return cls(r.unpack("I"), r.rest())

    def encode(self) -> bytes:
        return struct.pack("<I", self.offset) + bytes(self.data)


@dataclass(frozen=True)
class ResetDone:
    @classmethod
    def decode(cls, payload: bytes) -> "ResetDone":
        if payload:
            raise ProtocolError(ErrorCode.BAD_LENGTH, "TRAIN_RESET answers with an empty payload")
        return cls()

    def encode(self) -> bytes:
        return b""


@dataclass(frozen=True)
class BatchBegun:
    count: int

    @classmethod
    def decode(cls, payload: bytes) -> "BatchBegun":
        return cls(Reader(payload, "TRAIN_BEGIN").unpack("Q"))

    def encode(self) -> bytes:
        return struct.pack("<Q", self.count)
