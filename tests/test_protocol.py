"""The serial protocol (docs/protocol.md): the Python codec on its own, and the C server
(firmware/protocol.c + protocol_frame.c, built natively with ASAN/UBSAN) answering real frames over a real pty."""
import itertools
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import serial
from hypothesis import HealthCheck, given, settings, strategies as st

import codegen
from conformance import rand_int8
from test_link import chain_model
from test_op_fully_connected import fc_model
from tinyrt import host, hostdevice, reference
from tinyrt import protocol as p
from tinyrt.boards import load_board
from tinyrt.paths import data_dir
from tinyrt.writer import write_tflite

E = p.ErrorCode
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Byte strings rich in 0x00 and long non-zero runs: COBS's special cases (254-byte blocks).
payloads = st.one_of(st.binary(max_size=600),
                     st.lists(st.sampled_from([b"\0", b"\x01" * 253, b"\xff" * 254, b"\x7f"]), max_size=5)
                     .map(b"".join))


# --- the Python codec ------------------------------------------------------------------------

@pytest.mark.parametrize("data,encoded", [
    (b"\x00", b"\x01\x01"), (b"\x00\x00", b"\x01\x01\x01"), (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"), (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
])
def test_cobs_matches_the_published_examples(data, encoded):
    assert p.cobs_encode(data) == encoded
    assert p.cobs_decode(encoded) == data


@settings(max_examples=200, deadline=None)
@given(payloads)
def test_cobs_round_trips_and_never_emits_zero(data):
    encoded = p.cobs_encode(data)
    assert 0 not in encoded
    assert len(encoded) <= len(data) + len(data) // 254 + 1
    assert p.cobs_decode(encoded) == data


@pytest.mark.parametrize("encoded", [b"\x05\x01\x02", b"\x02", b"\x03\x01\x00"])
def test_cobs_decode_rejects_broken_input(encoded):
    with pytest.raises(p.ProtocolError) as e:
        p.cobs_decode(encoded)
    assert e.value.code == E.BAD_COBS


def test_crc32_is_ieee():
    assert p.crc32(b"123456789") == 0xCBF43926


@settings(max_examples=100, deadline=None)
@given(type_=st.integers(0, 255), seq=st.integers(0, 0xFFFF), payload=payloads)
def test_frames_round_trip(type_, seq, payload):
    wire = p.encode_frame(p.Frame(type_, seq, payload))
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    assert p.decode_frame(wire[1:-1]) == p.Frame(type_, seq, payload)


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=300), bit=st.integers(0, 10_000))
def test_any_single_bit_error_in_a_frame_is_detected(payload, bit):
    body = bytearray(p.frame_body(p.Frame(p.Command.PING, 7, payload)))
    body[bit // 8 % len(body)] ^= 1 << (bit % 8)
    with pytest.raises(p.ProtocolError):
        p.decode_frame(p.cobs_encode(bytes(body)))


def _body(version=p.VERSION, type_=p.Command.PING, seq=1, length=None, payload=b""):
    head = struct.pack("<BBHH", version, type_, seq, len(payload) if length is None else length) + payload
    return head + struct.pack("<I", zlib.crc32(head))


@pytest.mark.parametrize("body,code", [
    (b"\x01\x01\x00", E.BAD_LENGTH),
    (_body(length=5, payload=b"abc"), E.BAD_LENGTH),
    (_body(version=2), E.BAD_VERSION),
    (_body()[:-1] + b"\x55", E.BAD_CRC),
])
def test_decode_frame_names_what_is_wrong(body, code):
    with pytest.raises(p.ProtocolError) as e:
        p.decode_frame(p.cobs_encode(body))
    assert e.value.code == code


def test_frame_splitter_joins_pieces_and_skips_empty_frames():
    s = p.FrameSplitter()
    assert s.feed(b"\x00\x00\x03ab") == []
    assert s.feed(b"\x00\x00\x02c\x00\x01") == [b"\x03ab", b"\x02c"]
    assert s.pending == b"\x01" and s.received == 11


tensor = p.TensorInfo("int8", (1, 49, 10, 1), 0.5, -128, 490)
RESPONSES = [
    (p.Command.PING, p.Pong(b"\x00\x01")),
    (p.Command.INFO, p.DeviceInfo(512, 13, True, 22_000, 25_000_000, 490, 12, "kws", "ab12", "0.1.0",
                                  "qemu-m4", "emulated_instructions", (tensor,),
                                  (p.TensorInfo("float32", (1, 12), 0.0, 0, 48),), False, True)),
    (p.Command.SET_INPUT, p.InputStored(508, 100)),
    (p.Command.INVOKE, p.InvokeResult((1, 2**40, 0))),
    (p.Command.GET_OUTPUT, p.OutputChunk(4, b"xyz")),
    (p.Command.GET_STATS, p.Stats(1, 2, 3, 4, 5, 6)),
    (p.Command.PROFILE, p.ProfileChunk(3, 1, (10, 20))),
    (p.Command.INVOKE, p.DeviceError(E.BAD_ARGUMENT, p.Command.INVOKE, 63)),
]


@pytest.mark.parametrize("command,response", RESPONSES, ids=lambda v: type(v).__name__)
def test_responses_round_trip(command, response):
    frame = p.response_frame(command, 9, response)
    assert p.decode_response(p.decode_frame(p.encode_frame(frame)[1:-1])) == response


def test_a_request_type_is_not_a_response():
    with pytest.raises(p.ProtocolError):
        p.decode_response(p.Frame(p.Command.INFO, 1, b""))


def test_truncated_response_payload_is_a_protocol_error():
    with pytest.raises(p.ProtocolError):
        p.Stats.decode(b"\x00" * 23)


@pytest.mark.parametrize("flags,copy,preserved", [(0, False, False), (1, False, False), (2, True, False),
                                                  (4, False, True), (7, True, True)])
def test_info_flags_say_how_the_input_is_kept(flags, copy, preserved):
    raw = bytearray(p.DeviceInfo(512, 1, False, 64, 0, 4, 4, "m", "h", "v", "b", "u").encode())
    raw[6] = flags   # after max_payload:u16 num_inputs:u8 num_outputs:u8 num_layers:u16
    info = p.DeviceInfo.decode(bytes(raw))
    assert (info.profiling, info.input_copy, info.inputs_preserved) == (bool(flags & 1), copy, preserved)
    assert info.repeat_exact == (copy or preserved)
    assert info.encode() == bytes(raw)


def test_only_link_errors_are_retryable():
    assert p.DeviceError(E.BAD_CRC, 0, 0).retryable
    assert not p.DeviceError(E.NOT_READY, 0, 0).retryable


# --- the C server over a pty -----------------------------------------------------------------

def single_fc():
    """40 input bytes, 10 output bytes; the plan keeps the input intact (TINYRT_INPUTS_PRESERVED 1)."""
    return fc_model(1, 40, 10, -3, 5)


def launch(graph, tmp_path_factory, *cflags):
    dev = hostdevice.launch(graph, tmp_path_factory.mktemp("proto"), sanitize=True, extra_cflags=cflags)
    yield dev
    assert dev.alive, dev.stderr()
    assert dev.stop() == ""


def open_port(dev):
    with serial.Serial(dev.port, timeout=0.05, exclusive=True) as s:
        yield s


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    yield from launch(single_fc(), tmp_path_factory)


@pytest.fixture
def port(device):
    yield from open_port(device)


def exchange(port, wire: bytes, frames: int = 1, timeout: float = 3.0) -> list[bytes]:
    """Send raw bytes; return the next ``frames`` raw frames (without delimiters)."""
    port.reset_input_buffer()
    port.write(wire)
    splitter, got, deadline = p.FrameSplitter(), [], time.monotonic() + timeout
    while len(got) < frames and time.monotonic() < deadline:
        got += splitter.feed(port.read(max(1, port.in_waiting)))
    assert len(got) >= frames, f"device answered {len(got)} of {frames} frames within {timeout} s"
    return got


def ask(port, request, seq=1, timeout=3.0):
    """The response to ``request``, skipping answers to earlier frames (and their remains, which
    the input flush may have cut)."""
    port.reset_input_buffer()
    port.write(p.encode_frame(p.request_frame(request, seq)))
    splitter, deadline = p.FrameSplitter(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        for raw in splitter.feed(port.read(max(1, port.in_waiting))):
            try:
                frame = p.decode_frame(raw)
            except p.ProtocolError:
                continue
            if frame.seq == seq:
                return p.decode_response(frame)
    raise AssertionError(f"no answer to {request} within {timeout} s")


def wire(body: bytes) -> bytes:
    return b"\0" + p.cobs_encode(body) + b"\0"


@FAST
@given(data=payloads.filter(lambda d: len(d) <= p.DEFAULT_MAX_PAYLOAD), seq=st.integers(0, 0xFFFE))
def test_c_server_frames_byte_for_byte_as_python_does(port, data, seq):
    [raw] = exchange(port, p.encode_frame(p.Frame(p.Command.PING, seq, data)))
    expected = p.encode_frame(p.response_frame(p.Command.PING, seq, p.Pong(data)))
    assert b"\0" + raw + b"\0" == expected


MALFORMED = {
    "bad_crc": (wire(_body(payload=b"hi")[:-1] + b"\x00"), E.BAD_CRC),
    "bad_cobs": (b"\0\x05\x01\x02\0", E.BAD_COBS),
    "oversize_stream": (b"\0" + b"\x01" * 3000 + b"\0", E.OVERSIZE),
    "oversize_payload": (p.encode_frame(p.Frame(p.Command.PING, 1, b"\x00" * 513)), E.OVERSIZE),
    "oversize_nonzero_payload": (p.encode_frame(p.Frame(p.Command.PING, 1, b"\x33" * 513)), E.OVERSIZE),
    "shorter_than_header": (wire(b"\x01\x01\x01"), E.BAD_LENGTH),
    "length_field_too_big": (wire(_body(length=9, payload=b"abc")), E.BAD_LENGTH),
    "length_field_too_small": (wire(_body(length=0, payload=b"abc")), E.BAD_LENGTH),
    "bad_version": (wire(_body(version=9)), E.BAD_VERSION),
    "unknown_command": (wire(_body(type_=0x42)), E.UNKNOWN_COMMAND),
    "a_response_type": (wire(_body(type_=0x81)), E.UNKNOWN_COMMAND),
    "info_with_payload": (wire(_body(type_=p.Command.INFO, payload=b"x")), E.BAD_ARGUMENT),
    "set_input_without_offset": (wire(_body(type_=p.Command.SET_INPUT, payload=b"\0\0")), E.BAD_ARGUMENT),
    "set_input_past_the_end": (p.encode_frame(p.request_frame(p.SetInput(30, b"\1" * 11), 1)), E.BAD_ARGUMENT),
    "set_input_offset_huge": (p.encode_frame(p.request_frame(p.SetInput(2**32 - 1, b"\1"), 1)), E.BAD_ARGUMENT),
    "invoke_zero_runs": (p.encode_frame(p.request_frame(p.Invoke(0), 1)), E.BAD_ARGUMENT),
    "invoke_too_many_runs": (p.encode_frame(p.request_frame(p.Invoke(64), 1)), E.BAD_ARGUMENT),
    "invoke_wrong_length": (wire(_body(type_=p.Command.INVOKE, payload=b"\1")), E.BAD_ARGUMENT),
    "get_output_past_the_end": (p.encode_frame(p.request_frame(p.GetOutput(5, 6), 1)), E.BAD_ARGUMENT),
    "get_output_longer_than_a_frame": (p.encode_frame(p.request_frame(p.GetOutput(0, 600), 1)), E.BAD_ARGUMENT),
    "get_stats_with_payload": (wire(_body(type_=p.Command.GET_STATS, payload=b"x")), E.BAD_ARGUMENT),
    "profile_without_profiling": (p.encode_frame(p.request_frame(p.Profile(0), 1)), E.NOT_SUPPORTED),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_frame_is_answered_with_an_error_and_the_server_goes_on(port, name):
    data, code = MALFORMED[name]
    [raw] = exchange(port, data)
    error = p.decode_response(p.decode_frame(raw))
    assert isinstance(error, p.DeviceError) and error.code == code, error
    assert ask(port, p.Ping(b"still here"), seq=77) == p.Pong(b"still here")


def test_error_frames_carry_the_request_seq_and_command(port):
    [raw] = exchange(port, p.encode_frame(p.request_frame(p.Invoke(0), 1234)))
    frame = p.decode_frame(raw)
    assert frame.seq == 1234
    assert p.decode_response(frame) == p.DeviceError(E.BAD_ARGUMENT, p.Command.INVOKE, 63)


def test_empty_frames_are_not_answered(port):
    frames = exchange(port, b"\0\0\0" + p.encode_frame(p.request_frame(p.Ping(b"x"), 5)))
    assert p.decode_frame(frames[0]).seq == 5


def test_output_is_not_ready_after_new_input_until_invoke(port):
    assert ask(port, p.SetInput(0, b"\x05" * 40)) == p.InputStored(0, 40)
    assert ask(port, p.GetOutput(0, 10)).code == E.NOT_READY
    assert len(ask(port, p.Invoke(2)).counts) == 2
    assert len(ask(port, p.GetOutput(0, 10)).data) == 10


def test_several_frames_in_one_write_are_each_answered(port):
    batch = b"".join(p.encode_frame(p.request_frame(p.Ping(bytes([i])), i)) for i in range(1, 6))
    frames = [p.decode_frame(raw) for raw in exchange(port, batch, frames=5)]
    assert [f.seq for f in frames] == [1, 2, 3, 4, 5]


def test_a_frame_cut_by_a_new_delimiter_is_dropped_and_the_next_answered(port):
    good = p.encode_frame(p.request_frame(p.Ping(b"ok"), 9))
    frames = exchange(port, good[:6] + good, frames=2)
    assert p.decode_response(p.decode_frame(frames[0])).code in (E.BAD_CRC, E.BAD_COBS, E.BAD_LENGTH)
    assert p.decode_response(p.decode_frame(frames[1])) == p.Pong(b"ok")


@FAST
@given(garbage=st.binary(min_size=1, max_size=1500))
def test_random_garbage_never_hangs_or_crashes_the_server(device, port, garbage):
    port.write(b"\0" + garbage + b"\0")
    assert ask(port, p.Ping(b"alive"), seq=4321) == p.Pong(b"alive")
    assert device.alive, device.stderr()


# --- the input in the arena: which runs are exact ---------------------------------------------

CHAIN = dict(n_in=40, n_hidden=16, n_out=10)   # the output takes the dead input's arena bytes
seqs = itertools.count(1000)   # a new seq per request: the same seq twice is a retry


@pytest.fixture(scope="module")
def chain():
    graph = chain_model(**CHAIN)
    lowered = codegen.lower(graph, load_board("host"))
    assert not lowered.plan.inputs_preserved(graph.inputs)
    return lowered, reference.Reference(write_tflite(graph))


@pytest.fixture(scope="module")
def zero_copy(chain, tmp_path_factory):
    yield from launch(chain[0], tmp_path_factory)


@pytest.fixture(scope="module")
def input_copy(chain, tmp_path_factory):
    yield from launch(chain[0], tmp_path_factory, "-DTR_PROTO_INPUT_COPY=1")


@pytest.fixture
def zc_port(zero_copy):
    yield from open_port(zero_copy)


@pytest.fixture
def copy_port(input_copy):
    yield from open_port(input_copy)


def call(port, request):
    return ask(port, request, seq=next(seqs))


def new_input(seed) -> bytes:
    return rand_int8(np.random.default_rng(seed), (1, 40)).tobytes()


def exact_output(ref, x: bytes) -> bytes:
    return ref.run([np.frombuffer(x, np.int8).reshape(1, 40)])[0].tobytes()


def output(port):
    """The output bytes, or the ERROR's code."""
    answer = call(port, p.GetOutput(0, 10))
    return answer.code if isinstance(answer, p.DeviceError) else answer.data


def set_and_invoke(port, x: bytes, runs=1):
    assert call(port, p.SetInput(0, x)) == p.InputStored(0, len(x))
    assert len(call(port, p.Invoke(runs)).counts) == runs


def test_zero_copy_firmware_says_it_keeps_no_input(zc_port):
    info = call(zc_port, p.Info())
    assert not info.input_copy and not info.inputs_preserved and not info.repeat_exact
    assert call(zc_port, p.GetStats()).input_buffer_bytes == 0


def test_set_input_then_invoke_1_is_exact_when_runs_clobber_the_input(zc_port, chain):
    for seed in range(3):
        x = new_input(seed)
        set_and_invoke(zc_port, x)
        assert output(zc_port) == exact_output(chain[1], x)


def test_several_runs_on_a_clobbered_input_give_counts_and_no_output(zc_port):
    set_and_invoke(zc_port, new_input(1), runs=3)
    assert output(zc_port) == E.NOT_READY


def test_a_second_invoke_without_new_input_gives_counts_and_no_output(zc_port, chain):
    x = new_input(2)
    set_and_invoke(zc_port, x)
    assert output(zc_port) == exact_output(chain[1], x)
    assert len(call(zc_port, p.Invoke(1)).counts) == 1
    assert output(zc_port) == E.NOT_READY
    set_and_invoke(zc_port, x)   # a fresh SET_INPUT and INVOKE 1 make it valid again
    assert output(zc_port) == exact_output(chain[1], x)


def test_an_input_rewritten_only_in_part_after_a_run_gives_no_output(zc_port, chain):
    x = new_input(3)
    set_and_invoke(zc_port, x)
    set_and_invoke(zc_port, x[:20])
    assert output(zc_port) == E.NOT_READY
    call(zc_port, p.SetInput(20, x[20:]))   # after a gap: stored, but not counted
    set_and_invoke(zc_port, x[:20])
    assert output(zc_port) == E.NOT_READY
    call(zc_port, p.SetInput(0, x[:20]))    # in order from offset 0: whole again
    call(zc_port, p.SetInput(20, x[20:]))
    assert len(call(zc_port, p.Invoke(1)).counts) == 1
    assert output(zc_port) == exact_output(chain[1], x)


def test_a_retried_invoke_is_answered_again_without_running(zc_port, chain):
    x = new_input(4)
    assert call(zc_port, p.SetInput(0, x)) == p.InputStored(0, 40)
    invoke = p.encode_frame(p.request_frame(p.Invoke(1), 555))
    first, again = exchange(zc_port, invoke)[0], exchange(zc_port, invoke)[0]
    assert again == first   # the same counts, to the nanosecond
    assert output(zc_port) == exact_output(chain[1], x)   # a second run would have clobbered it
    assert len(call(zc_port, p.Invoke(1)).counts) == 1   # a new seq runs
    assert output(zc_port) == E.NOT_READY


def test_preserved_input_runs_exactly_again_and_again(port):
    assert call(port, p.Info()).inputs_preserved
    ref = reference.Reference(write_tflite(single_fc()))
    x = new_input(5)
    set_and_invoke(port, x, runs=3)
    assert output(port) == exact_output(ref, x)
    assert len(call(port, p.Invoke(2)).counts) == 2
    assert output(port) == exact_output(ref, x)


def test_input_copy_firmware_runs_exactly_again_and_again(copy_port, chain):
    info = call(copy_port, p.Info())
    assert info.input_copy and not info.inputs_preserved and info.repeat_exact
    assert call(copy_port, p.GetStats()).input_buffer_bytes == 40
    x = new_input(6)
    set_and_invoke(copy_port, x, runs=3)
    assert output(copy_port) == exact_output(chain[1], x)
    assert len(call(copy_port, p.Invoke(1)).counts) == 1
    assert output(copy_port) == exact_output(chain[1], x)


# --- the C server on Cortex-M -------------------------------------------------------------------

ARM_CPUS = {"m0plus": ["-mcpu=cortex-m0plus"],
            "m4": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
            "m55": ["-mcpu=cortex-m55", "-mfloat-abi=hard"]}


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("variant", [[], ["-DTINYRT_PROFILE"], ["-DTR_PROTO_INPUT_COPY=1"]],
                         ids=["plain", "profile", "input_copy"])
@pytest.mark.parametrize("graph", [single_fc, chain_model], ids=["preserved", "clobbered"])
@pytest.mark.parametrize("cpu", ARM_CPUS)
def test_server_compiles_warning_free_and_small_for_cortex_m(tmp_path, cpu, graph, variant):
    board = load_board("host")
    host.write_project(codegen.render(codegen.lower(graph(), board), host_main=False), tmp_path)
    fw = data_dir("firmware")
    cmd = ["arm-none-eabi-gcc", "-mthumb", *ARM_CPUS[cpu], "-std=c99", "-Os", "-Wall", "-Wextra", "-Werror",
           '-DTINYRT_BOARD_ID="qemu"', *variant, "-I", str(tmp_path), "-I", str(fw), "-c"]
    text = 0
    for name in hostdevice.PROTOCOL_SOURCES:   # main.c and the server: commands, framing
        obj = tmp_path / (Path(name).stem + ".o")
        subprocess.run([*cmd, str(fw / name), "-o", str(obj)], check=True, capture_output=True)
        if name != "main.c":
            size = subprocess.run(["arm-none-eabi-size", str(obj)], check=True, capture_output=True, text=True)
            text += int(size.stdout.splitlines()[1].split()[0])
    # the profiling build (a measuring aid) also clears its per-layer sums before each run
    budget = 2048 + (64 if "-DTINYRT_PROFILE" in variant else 0)
    assert text < budget, f"the protocol server takes {text} bytes of flash"
