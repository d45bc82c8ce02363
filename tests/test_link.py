"""End to end over a real pty: tinyrt.link talking to the host firmware (tinyrt.hostdevice).

Faults are injected by a TCP relay between the client (which connects with a socket:// URL, as
it does to QEMU) and the device's pty: it can flip, cut or drop any frame in either direction.
"""
import os
import select
import socket
import threading
import time

import numpy as np
import pytest

import codegen
from builder import ModelBuilder
from conformance import rand_int8
from test_op_fully_connected import fc_model
from tinyrt import hostdevice, reference
from tinyrt import protocol as p
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.link import Device
from tinyrt.writer import write_tflite

UP, DOWN = "host->device", "device->host"


@pytest.fixture(scope="module")
def graph():
    return fc_model(2, 700, 300, in_zp=3, out_zp=-2, activation="RELU")   # 1400 B in, 600 B out


@pytest.fixture(scope="module")
def lowered(graph):
    return codegen.lower(graph, load_board("host"))


@pytest.fixture(scope="module")
def device(lowered, tmp_path_factory):
    dev = hostdevice.launch(lowered, tmp_path_factory.mktemp("link"), sanitize=True)
    yield dev
    assert dev.alive, dev.stderr()
    assert dev.stop() == ""


@pytest.fixture(scope="module")
def ref(graph):
    return reference.Reference(write_tflite(graph))


def random_input(seed):
    return [rand_int8(np.random.default_rng(seed), (2, 700))]


class FaultyRelay:
    """Relay between a TCP client and the device's pty. ``fault(direction, index, frame)``
    returns what to pass on for the index-th non-empty frame (delimiter included) each way."""

    def __init__(self, port_path, fault=None):
        self.fd = os.open(port_path, os.O_RDWR | os.O_NOCTTY)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.fault = fault or (lambda direction, index, frame: frame)
        self.frames = {UP: 0, DOWN: 0}
        self.seen = {UP: [], DOWN: []}   # every frame as it arrived, before any damage
        self.pending = {UP: b"", DOWN: b""}
        self.stop_r, self.stop_w = os.pipe()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        ready, _, _ = select.select([self.server, self.stop_r], [], [])
        if self.stop_r in ready:
            return
        conn, _ = self.server.accept()
        with conn:
            while True:
                ready, _, _ = select.select([conn, self.fd, self.stop_r], [], [])
                if self.stop_r in ready:
                    return
                if conn in ready:
                    data = conn.recv(4096)
                    if not data:
                        return
                    os.write(self.fd, self._pass(UP, data))
                if self.fd in ready:
                    conn.sendall(self._pass(DOWN, os.read(self.fd, 4096)))

    def _pass(self, direction, data):
        *chunks, self.pending[direction] = (self.pending[direction] + data).split(b"\0")
        out = b""
        for chunk in chunks:
            if chunk:
                index = self.frames[direction]
                self.frames[direction] += 1
                self.seen[direction].append(chunk)
                out += self.fault(direction, index, chunk + b"\0")
            else:
                out += b"\0"
        return out

    def close(self):
        os.write(self.stop_w, b"x")
        self.thread.join(5)
        for fd in (self.fd, self.stop_r, self.stop_w):
            os.close(fd)
        self.server.close()


@pytest.fixture
def relay(device):
    relays = []

    def make(fault=None):
        relays.append(FaultyRelay(device.port, fault))
        return relays[-1]

    yield make
    for r in relays:
        r.close()


def flip(frame):
    b = bytearray(frame)
    b[len(b) // 2] ^= 0x41
    return bytes(b)


def cut(frame):
    return frame[:len(frame) // 2]


def drop(frame):
    return b""


def on(direction, indices, damage):
    """A fault that applies ``damage`` to the frames numbered ``indices`` going ``direction``."""
    return lambda d, i, frame: damage(frame) if d == direction and i in indices else frame


# --- a working link ---------------------------------------------------------------------------

def test_outputs_are_bit_exact_with_tflite_runtime(device, ref):
    with Device.open(device.port) as board:
        for seed in range(3):
            x = random_input(seed)
            outputs, counts = board.run(x)
            assert outputs[0].tobytes() == ref.run(x)[0].tobytes()
            assert len(counts) == 1 and counts[0] > 0


def test_inputs_and_outputs_larger_than_a_frame_go_in_chunks(device):
    with Device.open(device.port) as board:
        info = board.info()
        assert info.input_bytes > info.max_payload and info.output_bytes > info.max_payload


def test_info_describes_the_model(device, lowered):
    with Device.open(device.port) as board:
        info = board.info()
    assert (info.model_name, info.model_hash) == (lowered.graph.name, lowered.model_hash)
    assert (info.board_id, info.latency_unit, info.clock_hz) == ("host", "ns", 0)
    assert info.arena_bytes == lowered.plan.arena_bytes and info.num_layers == 1
    assert info.inputs[0].shape == (2, 700) and info.inputs[0].dtype == "int8"
    assert (info.inputs[0].zero_point, info.outputs[0].zero_point) == (3, -2)
    assert info.outputs[0].scale == pytest.approx(0.1) and info.outputs[0].bytes == 600
    assert not info.profiling


def test_invoke_returns_one_count_per_run_beyond_one_frame(device):
    with Device.open(device.port) as board:
        board.set_input(random_input(0)[0].tobytes())
        counts = board.invoke(100)   # more than one INVOKE frame holds (63)
    assert len(counts) == 100 and min(counts) > 0


def test_stats_report_arena_and_buffers(device, lowered):
    with Device.open(device.port) as board:
        stats = board.stats()
    assert stats.arena_bytes == lowered.plan.arena_bytes
    assert stats.input_buffer_bytes == 0 and stats.proto_buffer_bytes > 1000   # zero-copy input


def test_output_before_invoke_is_refused(device):
    with Device.open(device.port) as board:
        board.set_input(bytes(1400))
        with pytest.raises(TinyrtError, match="NOT_READY"):
            board.get_output()


def test_input_of_the_wrong_size_is_refused(device):
    with Device.open(device.port) as board, pytest.raises(TinyrtError, match="takes 1400"):
        board.set_input(bytes(10))


def test_profile_without_profiling_says_how_to_get_it(device):
    with Device.open(device.port) as board, pytest.raises(TinyrtError, match="NOT_SUPPORTED") as e:
        board.invoke(1)
        board.profile()
    assert "--profile" in str(e.value)


def test_profiled_firmware_reports_one_count_per_layer(tmp_path, ref):
    m = ModelBuilder()
    x = m.input((1, 32), scale=0.05, zero_point=1)
    h = m.tensor((1, 16), scale=0.1, zero_point=-3)
    y = m.tensor((1, 4), scale=0.2, zero_point=0)
    rng = np.random.default_rng(1)
    m.op("FULLY_CONNECTED", [x, m.const(rand_int8(rng, (16, 32)), "int8", scale=0.02), -1], [h],
         activation="RELU", keep_num_dims=False)
    m.op("FULLY_CONNECTED", [h, m.const(rand_int8(rng, (4, 16)), "int8", scale=0.02), -1], [y],
         activation="NONE", keep_num_dims=False)
    graph = m.graph([y])
    with hostdevice.launch(graph, tmp_path, profile=True) as dev, Device.open(dev.port) as board:
        assert board.info().profiling and board.info().num_layers == 2
        x_in = [rand_int8(rng, (1, 32))]
        outputs, _ = board.run(x_in)
        layers = board.profile()
    assert len(layers) == 2 and min(layers) > 0
    assert outputs[0].tobytes() == reference.Reference(write_tflite(graph)).run(x_in)[0].tobytes()


def test_the_board_stays_up_between_connections(device):
    for _ in range(2):
        with Device.open(device.port) as board:
            assert board.ping(b"\x00again") == b"\x00again"


def test_socket_urls_work_like_ports(device, relay):
    with Device.open(relay().url) as board:
        assert board.info().board_id == "host"


# --- a faulty link ----------------------------------------------------------------------------

@pytest.mark.parametrize("direction", [UP, DOWN])
@pytest.mark.parametrize("damage", [flip, cut, drop])
def test_damaged_frames_are_retried_and_the_output_stays_exact(device, relay, ref, direction, damage):
    # Frames 0-4: INFO and three SET_INPUT chunks; 4-6 reach INVOKE and GET_OUTPUT.
    r = relay(on(direction, {1, 4, 6}, damage))
    x = random_input(7)
    with Device.open(r.url, timeout=0.5, retries=3, invoke_timeout=1.0) as board:
        outputs, _ = board.run(x)
    assert outputs[0].tobytes() == ref.run(x)[0].tobytes()
    seqs = [p.decode_frame(f).seq for f in r.seen[UP]]
    assert len(seqs) > len(set(seqs)) == 7   # INFO, 3 x SET_INPUT, INVOKE, 2 x GET_OUTPUT; retries reuse the seq


def damage_seq(frame):
    """The frame with another seq (its CRC no longer matches): the device echoes that seq."""
    body = bytearray(p.cobs_decode(frame[:-1]))
    body[2] ^= 0x55   # the seq's low byte (version, type, seq:u16)
    return p.cobs_encode(bytes(body)) + b"\0"


def test_a_request_whose_seq_was_damaged_is_sent_again_at_once(device, relay):
    """The device answers BAD_CRC with the damaged seq; not the seq of an earlier request, so the
    host takes it for its own request's damage instead of waiting out the timeout."""
    r = relay(on(UP, {0}, damage_seq))
    with Device.open(r.url, timeout=5.0, retries=2) as board:
        started = time.monotonic()
        board.info()
        assert time.monotonic() - started < 2.0
        assert (board.link.resends, board.link.timeouts) == (1, 0)


def test_a_request_whose_closing_delimiter_is_lost_still_ends(device, relay):
    """The host sends one more 0x00 after each frame: the frame ends even when its own closing
    0x00 is damaged, so the answer comes at once instead of after a timeout and a resend."""
    r = relay(on(UP, {0}, lambda frame: frame[:-1]))
    with Device.open(r.url, timeout=5.0, retries=2) as board:
        started = time.monotonic()
        board.info()
        assert time.monotonic() - started < 2.0
        assert (board.link.resends, board.link.timeouts) == (0, 0)


FAULT_LINE = (b"\r\n*** tinyrt: fault exc=0x00000003 pc=0x000012ab lr=0x00000f01 sp=0x2000ffa0 "
              b"excret=0xfffffff9 cfsr=0x00010000 hfsr=0x40000000 \r\n\0")


def test_a_device_fault_line_is_reported_as_a_fault_not_a_garbled_link(device, relay):
    # The INVOKE's answer (the second frame down) is replaced by what the fault handler prints.
    r = relay(on(DOWN, {1}, lambda frame: FAULT_LINE))
    with Device.open(r.url, timeout=0.5, retries=3) as board:
        board.info()
        with pytest.raises(TinyrtError, match=r"the device faulted: \*\*\* tinyrt: fault exc=0x00000003 "
                                              r"pc=0x000012ab .*cfsr=0x00010000") as e:
            board.invoke(1)
    assert "HardFault while answering INVOKE" in e.value.message
    assert any("addr2line" in hint and "0x000012ab" in hint for hint in e.value.hints)
    assert len(r.seen[UP]) == 2   # INFO and one INVOKE: a fault is not retried


def test_a_link_that_keeps_corrupting_fails_loudly(device, relay):
    r = relay(lambda d, i, frame: flip(frame) if d == DOWN and i >= 1 else frame)
    with Device.open(r.url, timeout=0.3, retries=2) as board:
        board.info()
        with pytest.raises(TinyrtError, match="corrupted frames: SET_INPUT failed 3 times") as e:
            board.set_input(bytes(1400))
    assert "lower baud rate" in str(e.value)


def test_a_link_that_never_gives_a_valid_frame_is_garbled(device, relay):
    r = relay(lambda d, i, frame: flip(frame) if d == DOWN else frame)
    with Device.open(r.url, timeout=0.3, retries=1) as board, \
            pytest.raises(TinyrtError, match="garbled link: .* bytes .* but no valid frame") as e:
        board.info()
    assert "baud rate" in str(e.value)


# --- no board, wrong port, busy port ----------------------------------------------------------

def test_a_silent_board_times_out_with_a_hint():
    master, slave = os.openpty()
    try:
        with Device.open(os.ttyname(slave), timeout=0.2, retries=1) as board, \
                pytest.raises(TinyrtError, match="board silent: no bytes at all") as e:
            board.info()
    finally:
        os.close(master)
        os.close(slave)
    assert "flashed" in str(e.value) and "INFO failed 2 times" in str(e.value)


def test_a_missing_port_is_named():
    with pytest.raises(TinyrtError, match="port missing: /dev/ttyNOPE0 does not exist"):
        Device.open("/dev/ttyNOPE0")


def test_nothing_listening_on_a_socket_url_is_a_missing_port():
    with socket.create_server(("127.0.0.1", 0)) as s:
        free = s.getsockname()[1]
    with pytest.raises(TinyrtError, match="nothing is listening"):
        Device.open(f"socket://127.0.0.1:{free}")


def test_a_busy_port_is_detected(device):
    with Device.open(device.port), pytest.raises(TinyrtError, match="port busy") as e:
        Device.open(device.port)
    assert "serial monitor" in str(e.value)


def test_a_board_that_dies_is_an_error_not_a_hang(tmp_path):
    with hostdevice.launch(fc_model(1, 8, 4, 0, 0), tmp_path) as dev:
        with Device.open(dev.port, timeout=0.3, retries=1) as board:
            board.info()
            dev.stop()
            with pytest.raises(TinyrtError, match="lost the connection|board silent"):
                board.ping(b"x")


# --- a model whose plan reuses the input's bytes (zero-copy input is clobbered by a run) -------

def chain_model(n_in=300, n_hidden=64, n_out=10):
    """FULLY_CONNECTED twice; the output may take the dead input's bytes: TINYRT_INPUTS_PRESERVED 0."""
    m = ModelBuilder("chain")
    rng = np.random.default_rng(5)
    x = m.input((1, n_in), scale=0.05, zero_point=-7)
    h = m.tensor((1, n_hidden), scale=0.1, zero_point=3)
    y = m.tensor((1, n_out), scale=0.2, zero_point=-1)
    m.op("FULLY_CONNECTED", [x, m.const(rand_int8(rng, (n_hidden, n_in)), "int8", scale=0.02), -1], [h],
         activation="RELU", keep_num_dims=False)
    m.op("FULLY_CONNECTED", [h, m.const(rand_int8(rng, (n_out, n_hidden)), "int8", scale=0.02), -1], [y],
         activation="NONE", keep_num_dims=False)
    return m.graph([y])


@pytest.fixture(scope="module")
def clobbering(tmp_path_factory):
    graph = chain_model()
    lowered = codegen.lower(graph, load_board("host"))
    assert not lowered.plan.inputs_preserved(graph.inputs)
    dev = hostdevice.launch(lowered, tmp_path_factory.mktemp("chain"), sanitize=True)
    yield dev, reference.Reference(write_tflite(graph))
    assert dev.alive, dev.stderr()
    assert dev.stop() == ""


def chain_input(seed):
    return [rand_int8(np.random.default_rng(seed), (1, 300))]


def test_several_runs_give_the_first_runs_exact_output_when_runs_clobber_the_input(clobbering):
    dev, ref = clobbering
    with Device.open(dev.port) as board:
        assert not board.info().repeat_exact
        for seed in range(2):
            x = chain_input(seed)
            outputs, counts = board.run(x, runs=3)
            assert outputs[0].tobytes() == ref.run(x)[0].tobytes()
            assert len(counts) == 3 and min(counts) > 0


def test_after_more_runs_the_clobbered_output_is_refused(clobbering):
    dev, _ = clobbering
    with Device.open(dev.port) as board:
        board.run(chain_input(0))
        board.invoke(2)
        with pytest.raises(TinyrtError, match="NOT_READY") as e:
            board.get_output()
    assert any("INVOKE 1" in hint for hint in e.value.hints)


@pytest.mark.parametrize("damage", [flip, cut, drop])
def test_a_retried_invoke_does_not_run_again_on_the_clobbered_input(clobbering, damage):
    # Down frames: INFO, SET_INPUT, INVOKE (damaged: the host resends it), GET_OUTPUT.
    dev, ref = clobbering
    r = FaultyRelay(dev.port, on(DOWN, {2}, damage))
    try:
        x = chain_input(3)
        with Device.open(r.url, timeout=0.3, retries=3, invoke_timeout=0.3) as board:
            outputs, _ = board.run(x)
        assert outputs[0].tobytes() == ref.run(x)[0].tobytes()
        kinds = [p.decode_frame(f).type for f in r.seen[UP]]
        assert kinds.count(p.Command.INVOKE) == 2
    finally:
        r.close()


# --- other model and frame shapes -------------------------------------------------------------

def two_branch_model(name="two_branches"):
    """Two inputs (300 and 401 bytes), each through its own FULLY_CONNECTED: two outputs."""
    m = ModelBuilder(name)
    rng = np.random.default_rng(3)
    outputs = []
    for n_in, n_out, zp in ((300, 7, -128), (401, 130, 127)):
        x = m.input((1, n_in), scale=0.05, zero_point=zp)
        y = m.tensor((1, n_out), scale=0.1, zero_point=-zp // 2)
        m.op("FULLY_CONNECTED", [x, m.const(rand_int8(rng, (n_out, n_in)), "int8", scale=0.02), -1], [y],
             activation="NONE", keep_num_dims=False)
        outputs.append(y)
    return m.graph(outputs)


def test_several_inputs_and_outputs_are_packed_in_order(tmp_path):
    graph = two_branch_model()
    rng = np.random.default_rng(0)
    x = [rand_int8(rng, (1, 300)), rand_int8(rng, (1, 401))]
    # 188-byte input chunks: one spans the boundary between the two input tensors.
    with hostdevice.launch(graph, tmp_path, extra_cflags=["-DTR_PROTO_MAX_PAYLOAD=192"]) as dev, \
            Device.open(dev.port) as board:
        info = board.info()
        outputs, _ = board.run(x)
    assert info.max_payload == 192 and [t.shape for t in info.outputs] == [(1, 7), (1, 130)]
    expected = reference.Reference(write_tflite(graph)).run(x)
    assert [o.tobytes() for o in outputs] == [e.tobytes() for e in expected]


def test_info_that_does_not_fit_a_frame_is_a_clear_error(tmp_path):
    graph = two_branch_model(name="a_model_whose_name_is_long_enough_to_be_cut_at_48_bytes")
    with hostdevice.launch(graph, tmp_path, extra_cflags=["-DTR_PROTO_MAX_PAYLOAD=128"]) as dev, \
            Device.open(dev.port) as board, pytest.raises(TinyrtError, match="TOO_LARGE") as e:
        board.info()
    assert "TR_PROTO_MAX_PAYLOAD" in str(e.value)
