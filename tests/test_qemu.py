"""The emulated boards boot tinyrt firmware under QEMU and answer over their serial console."""
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinyrt import firmware, qemu, reference
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.link import Device
from tinyrt.writer import write_tflite

from firmware_project import (FIRMWARE_TESTS, QEMU_BOARDS, requires_arm_gcc, requires_qemu,
                              small_model, write_project)

pytestmark = [requires_arm_gcc, requires_qemu]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """board id -> directory with the small model generated for that board."""
    cache = {}

    def get(board_id):
        if board_id not in cache:
            cache[board_id] = tmp_path_factory.mktemp(board_id)
            write_project(small_model(), load_board(board_id), cache[board_id])
        return cache[board_id]
    return get


def console(q: qemu.QemuBoard) -> socket.socket:
    return socket.create_connection(("127.0.0.1", q.tcp_port), timeout=30)


def recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "console closed"
        buf += chunk
    return buf


@pytest.mark.parametrize("board_id", QEMU_BOARDS)
def test_board_boots_answers_and_computes_bit_exact(project, board_id):
    board = load_board(board_id)
    fw = firmware.build(project(board_id), board)
    graph = small_model()
    ref = reference.Reference(write_tflite(graph))
    inputs = reference.random_inputs(graph, np.random.default_rng(1))
    with qemu.start(board, fw.elf) as q, Device.open(q.port) as dev:
        assert dev.ping(b"tinyrt") == b"tinyrt"
        info = dev.info()
        assert (info.board_id, info.latency_unit) == (board_id, "emulated_instructions")
        outputs, counts = dev.run(inputs, runs=3)
        stats = dev.stats()
    assert outputs[0].tobytes() == ref.run(inputs)[0].tobytes()
    assert all(c > 0 for c in counts)
    assert 0 < stats.stack_used < stats.stack_size == board["stack_bytes"]


@pytest.mark.parametrize("board_id", QEMU_BOARDS)
def test_counter_reports_executed_instructions(project, tmp_path, board_id):
    """A loop of exactly 2 * 100,000 * k instructions reads as that many, within two timer ticks
    (or the cost of a reading)."""
    board = load_board(board_id)
    fw = firmware.build(project(board_id), board, out_dir=tmp_path,
                        app_sources=[FIRMWARE_TESTS / "count_main.c"])
    tick = board["counter"]["instructions_per_tick"]
    with qemu.start(board, fw.elf) as q, console(q) as s:
        for k in (1, 10, 50):
            s.sendall(bytes([k]))
            (count,) = struct.unpack("<Q", recv_exactly(s, 8))
            # two ticks, or on a finer counter (qemu-stm32f405: 6 instructions a tick) the
            # readings' own instructions: call, masking, the 64-bit conversion
            assert abs(count - 2 * 100_000 * k) <= max(2 * tick, 64), (k, count)


def test_systick_counter_survives_its_wraps(project, tmp_path):
    """qemu-m55 counts with the 24-bit SysTick (one wrap per 2^24 ticks = 524,288,000
    instructions); a run across a wrap still reads right."""
    board = load_board("qemu-m55")
    fw = firmware.build(project("qemu-m55"), board, out_dir=tmp_path,
                        app_sources=[FIRMWARE_TESTS / "count_main.c"],
                        extra_cflags=["-DTR_TEST_SPIN_UNIT=3000000u"])
    with qemu.start(board, fw.elf) as q, console(q) as s:
        s.sendall(bytes([100]))
        (count,) = struct.unpack("<Q", recv_exactly(s, 8))
    assert abs(count - 600_000_000) <= 64


@pytest.mark.parametrize("board_id", QEMU_BOARDS)
def test_fault_is_reported_on_the_console(project, tmp_path, board_id):
    board = load_board(board_id)
    fw = firmware.build(project(board_id), board, out_dir=tmp_path,
                        app_sources=[FIRMWARE_TESTS / "fault_main.c"])
    with qemu.start(board, fw.elf) as q, console(q) as s:
        s.sendall(b"x")
        text = b""
        while not text.endswith(b"\r\n\0"):
            text += s.recv(256)
    line = text.decode()
    assert "*** tinyrt: fault exc=0x00000003" in line and "pc=0x" in line
    if board["cpu"] not in ("cortex-m0", "cortex-m0plus"):  # Armv6-M has no CFSR
        assert "cfsr=0x00010000" in line


def test_command_line_is_deterministic_and_headless():
    cmd = qemu.command(load_board("qemu-m55"), "fw.elf", 4321)
    assert cmd == ["qemu-system-arm", "-machine", "mps3-an547", "-nographic", "-monitor", "none",
                   "-icount", "shift=0", "-kernel", "fw.elf",
                   "-serial", "tcp:127.0.0.1:4321,server=on,wait=off,nodelay=on"]


def test_real_boards_are_not_emulated():
    with pytest.raises(TinyrtError, match="not an emulated one"):
        qemu.command(load_board("nucleo-f746zg"), "fw.elf", 4321)


def test_qemu_exiting_early_shows_its_stderr(project):
    board = load_board("qemu-m4")
    fw = firmware.build(project("qemu-m4"), board)
    broken = {**board, "flash": {**board["flash"], "machine": "mps2-an999"}}
    with pytest.raises(TinyrtError) as e:
        qemu.start(broken, fw.elf)
    assert "QEMU exited early" in e.value.message and "mps2-an999" in e.value.message


def test_missing_qemu_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYRT_QEMU", "no-such-qemu-system-arm")
    with pytest.raises(TinyrtError) as e:
        qemu.start(load_board("qemu-m4"), tmp_path / "fw.elf")
    assert "apt-get install qemu-system-arm" in e.value.hints


def test_stop_ends_qemu_and_returns_its_stderr(project):
    board = load_board("qemu-m7")
    fw = firmware.build(project("qemu-m7"), board)
    q = qemu.start(board, fw.elf)
    assert q.alive and q.port.startswith("socket://127.0.0.1:")
    assert isinstance(q.stop(), str)
    assert not q.alive


def test_qemu_left_running_is_stopped_when_python_exits(project):
    board = load_board("qemu-m4")
    fw = firmware.build(project("qemu-m4"), board)
    script = ("from tinyrt import qemu; from tinyrt.boards import load_board; "
              f"q = qemu.start(load_board('qemu-m4'), {str(fw.elf)!r}); print(q.process.pid)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parents[1])
    pid = int(out.stdout.split()[-1])
    time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
