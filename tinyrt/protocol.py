"""The tinyrt serial protocol (docs/protocol.md): COBS framing, CRC-32, typed messages. No I/O.

A frame on the wire is ``0x00 COBS(body) 0x00`` with ``body = version:u8 type:u8 seq:u16
length:u16 payload crc32:u32``, little-endian. Requests are dataclasses with ``payload()``;
responses are dataclasses with ``decode(payload)`` and ``encode()``.

Every name lives here for its users: the one definition of constants, command ids, error codes
and framing is ``protocol_wire`` (firmware/protocol.h is checked against it), the messages are
``protocol_msgs`` (inference) and ``protocol_train`` (training); this module maps commands to
their responses.
"""
from __future__ import annotations

from .protocol_msgs import (DeviceError, DeviceInfo, GetOutput, GetStats, Info, InputStored,  # noqa: F401
                            Invoke, InvokeResult, OutputChunk, Ping, Pong, Profile, ProfileChunk,
                            SetInput, Stats, TensorInfo)
from .protocol_train import (BatchBegun, Evaluated, ParamsChunk, ResetDone, SampleTrained,  # noqa: F401
                             TrainBegin, TrainEval, TrainingInfo, TrainParams, TrainReset,
                             TrainSample, TrainUpdate, Updated)
from .protocol_msgs import _INFO_FIXED  # noqa: F401
from .protocol_wire import (DEFAULT_MAX_PAYLOAD, ERROR_PAYLOAD, ERROR_TEXT, ERROR_TYPE,  # noqa: F401
                            FLAG_INPUT_COPY, FLAG_INPUTS_PRESERVED, FLAG_PROFILE, FLAG_TRAINING,
                            HEADER, LINK_ERRORS, MAX_PAYLOAD_HIGHEST, MAX_PAYLOAD_LOWEST, MAX_RANK,
                            MAX_TENSORS, OVERHEAD, RESPONSE_BIT, SEQ_UNKNOWN, STR_MAX, VERSION,
                            Command, ErrorCode, Frame, FrameSplitter, ProtocolError, Reader,
                            cobs_decode, cobs_encode, crc32, decode_frame, encode_frame, frame_body,
                            pack_str)

_Reader, _str = Reader, pack_str   # the names they had before the split

RESPONSES = {Command.PING: Pong, Command.INFO: DeviceInfo, Command.SET_INPUT: InputStored,
             Command.INVOKE: InvokeResult, Command.GET_OUTPUT: OutputChunk, Command.GET_STATS: Stats,
             Command.PROFILE: ProfileChunk, Command.TRAIN_SAMPLE: SampleTrained,
             Command.TRAIN_UPDATE: Updated, Command.TRAIN_EVAL: Evaluated,
             Command.TRAIN_PARAMS: ParamsChunk, Command.TRAIN_RESET: ResetDone,
             Command.TRAIN_BEGIN: BatchBegun}


def request_frame(request, seq: int) -> Frame:
    return Frame(int(request.command), seq, request.payload())


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
