"""The device's protocol constants (firmware/protocol.h) equal the host's (tinyrt/protocol.py).

The header is parsed as text: every ``#define TR_...`` and every enumerator of ``tr_command`` and
``tr_error``. Each must have a Python twin with the same value, and every Python command and error
code a C one, so a constant added, removed or changed on one side only fails here.
"""
import re
from pathlib import Path

import pytest

from tinyrt import protocol as p

HEADER = Path(__file__).resolve().parents[1] / "firmware" / "protocol.h"
# The server's framing half sizes its buffers from the header's constants (not wire constants).
FRAME_HEADER = HEADER.with_name("protocol_frame.h")

# C name -> the Python value it must equal. Commands and error codes are added from the enums.
SCALARS = {
    "TR_PROTO_VERSION": p.VERSION,
    "TR_PROTO_MAX_PAYLOAD": p.DEFAULT_MAX_PAYLOAD,
    "TR_PROTO_MAX_PAYLOAD_LOWEST": p.MAX_PAYLOAD_LOWEST,
    "TR_PROTO_MAX_PAYLOAD_HIGHEST": p.MAX_PAYLOAD_HIGHEST,
    "TR_PROTO_HEADER": p.HEADER.size,
    "TR_PROTO_OVERHEAD": p.OVERHEAD,
    "TR_PROTO_SEQ_UNKNOWN": p.SEQ_UNKNOWN,
    "TR_PROTO_RESPONSE_BIT": p.RESPONSE_BIT,
    "TR_PROTO_ERROR_BYTES": p.ERROR_PAYLOAD.size,
    "TR_PROTO_STR_MAX": p.STR_MAX,
    "TR_PROTO_MAX_TENSORS": p.MAX_TENSORS,
    "TR_PROTO_MAX_RANK": p.MAX_RANK,
    "TR_FLAG_PROFILE": p.FLAG_PROFILE,
    "TR_FLAG_INPUT_COPY": p.FLAG_INPUT_COPY,
    "TR_FLAG_INPUTS_PRESERVED": p.FLAG_INPUTS_PRESERVED,
    "TR_FLAG_TRAINING": p.FLAG_TRAINING,
    "TR_CMD_ERROR": p.ERROR_TYPE,
}
# Build switches, not wire constants: no Python twin.
BUILD_OPTIONS = {"TR_PROTO_INPUT_COPY"}


def _value(expr: str, known: dict[str, int]) -> int:
    """An integer constant expression of numbers, earlier names, + - * / and parentheses (C's
    division of non-negative integers: Python's //)."""
    expr = re.sub(r"\b([0-9]+|0x[0-9a-fA-F]+)[uUlL]*\b", r"\1", expr.strip())
    if not re.fullmatch(r"[\w\s+\-*/()]+", expr):
        raise ValueError(f"cannot evaluate {expr!r}")
    expr = re.sub(r"\b[A-Z_][A-Z0-9_]*\b", lambda m: str(known[m.group()]), expr)
    return eval(expr.replace("/", "//"), {})


def parse_header(text: str) -> dict[str, dict[str, int]]:
    """{"define": {name: value}, "tr_command": {...}, "tr_error": {...}} from protocol.h."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    defines: dict[str, int] = {}
    for name, expr in re.findall(r"^\s*#\s*define\s+(TR_\w+)[ \t]+([^\n]+)$", text, re.M):
        if name not in BUILD_OPTIONS:
            defines[name] = _value(expr, defines)
    out = {"define": defines}
    for enum, body in re.findall(r"enum\s+(\w+)\s*\{(.*?)\}", text, re.S):
        out[enum] = {name: _value(expr, defines) for name, expr in
                     re.findall(r"(\w+)\s*=\s*([^,]+)", body)}
    return out


@pytest.fixture(scope="module")
def header():
    return parse_header(HEADER.read_text())


def test_every_command_has_the_same_number_on_both_sides(header):
    c = {name.removeprefix("TR_CMD_"): v for name, v in header["tr_command"].items()}
    python = {cmd.name: int(cmd) for cmd in p.Command} | {"ERROR": p.ERROR_TYPE}
    assert c == python


def test_every_error_code_has_the_same_number_on_both_sides(header):
    c = {name.removeprefix("TR_ERR_"): v for name, v in header["tr_error"].items()}
    assert c == {code.name: int(code) for code in p.ErrorCode}


def test_every_wire_constant_of_the_header_equals_its_python_twin(header):
    assert header["define"] == {name: value for name, value in SCALARS.items()
                                if not name.startswith("TR_CMD_")}
    assert header["tr_command"]["TR_CMD_ERROR"] == SCALARS["TR_CMD_ERROR"]


def test_the_responses_python_builds_use_the_device_constants(header):
    d = header["define"]
    error = p.response_frame(p.Command.INVOKE, 7, p.DeviceError(p.ErrorCode.BAD_ARGUMENT, 4, 63))
    assert len(error.payload) == d["TR_PROTO_ERROR_BYTES"]
    body = p.frame_body(p.response_frame(p.Command.PING, 7, p.Pong(b"x")))
    assert body[1] == p.Command.PING | d["TR_PROTO_RESPONSE_BIT"]
    assert len(body) == d["TR_PROTO_OVERHEAD"] + 1


@pytest.mark.parametrize("edit, drifted", [
    ("TR_CMD_PROFILE = 0x07", "TR_CMD_PROFILE = 0x08"),
    ("TR_ERR_TOO_LARGE = 10", "TR_ERR_TOO_LARGE = 10,\n    TR_ERR_BUSY = 11"),
    ("#define TR_PROTO_STR_MAX 48", "#define TR_PROTO_STR_MAX 64"),
    ("#define TR_FLAG_INPUTS_PRESERVED 0x04", "#define TR_FLAG_INPUTS_PRESERVED 0x04\n#define TR_FLAG_NEW 0x08"),
])
def test_a_drifted_header_is_caught(edit, drifted):
    """The checks above on a copy of the header with one constant changed or added."""
    text = HEADER.read_text()
    assert edit in text
    header = parse_header(text.replace(edit, drifted))
    checks = (test_every_command_has_the_same_number_on_both_sides,
              test_every_error_code_has_the_same_number_on_both_sides,
              test_every_wire_constant_of_the_header_equals_its_python_twin)
    failed = 0
    for check in checks:
        try:
            check(header)
        except AssertionError:
            failed += 1
    assert failed >= 1


@pytest.mark.parametrize("max_payload", [p.MAX_PAYLOAD_LOWEST, p.DEFAULT_MAX_PAYLOAD, p.MAX_PAYLOAD_HIGHEST])
def test_the_frame_buffers_hold_the_longest_frame_python_sends(max_payload):
    """The response buffer holds a whole body of the largest payload, the receive buffer its COBS
    encoding at its longest (a body without a zero byte), at any -DTR_PROTO_MAX_PAYLOAD."""
    default = f"#define TR_PROTO_MAX_PAYLOAD {p.DEFAULT_MAX_PAYLOAD}\n"
    text = HEADER.read_text()
    assert default in text
    text = text.replace(default, f"#define TR_PROTO_MAX_PAYLOAD {max_payload}\n")
    d = parse_header(text + FRAME_HEADER.read_text())["define"]
    body = p.frame_body(p.Frame(p.Command.PING, 1, bytes([1]) * max_payload))
    assert d["TR_FRAME_BODY_MAX"] == len(body)
    assert d["TR_FRAME_RX_MAX"] >= len(p.cobs_encode(bytes([1]) * len(body)))
    assert d["TR_FRAME_BUFFER_BYTES"] == d["TR_FRAME_RX_MAX"] + d["TR_FRAME_BODY_MAX"]
