"""Device limits on an emulated Cortex-M4: a run that overflows the stack or writes past the arena
stops the board with a report the harness turns into a clear error, and an idle board sleeps."""
import os
import time

import numpy as np
import pytest

from tinyrt import firmware, qemu
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.link import Device
from tinyrt.reference import random_inputs

from firmware_project import FIRMWARE_TESTS, requires_arm_gcc, requires_qemu, small_model, write_project

pytestmark = [requires_arm_gcc, requires_qemu]

GUARD = 32   # TR_STACK_GUARD, the lowest bytes of the stack a run must not reach


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    out = tmp_path_factory.mktemp("qemu-m4")
    write_project(small_model(), load_board("qemu-m4"), out)
    return out


def with_stack(stack_bytes: int) -> dict:
    return {**load_board("qemu-m4"), "stack_bytes": stack_bytes}


def run_once(project, out_dir, board, **build):
    """Build, boot, set an input and invoke once; the board's GET_STATS after the run."""
    fw = firmware.build(project, board, out_dir=out_dir, **build)
    x = random_inputs(small_model(), np.random.default_rng(0))
    with qemu.start(board, fw.elf) as q, Device.open(q.port, timeout=5) as dev:
        try:
            dev.run(x)
            return dev.stats()
        finally:
            assert q.alive, "QEMU must not abort on the overflow (a locked-up core)"


@pytest.fixture(scope="module")
def stack_used(project, tmp_path_factory):
    """Bytes of stack the small model's server and run take on qemu-m4."""
    return run_once(project, tmp_path_factory.mktemp("fw"), load_board("qemu-m4")).stack_used


def test_a_run_into_the_guard_band_is_a_stack_overflow(project, tmp_path, stack_used):
    size = (stack_used + 8 + 7) // 8 * 8   # room for the run, but not for the guard band too
    with pytest.raises(TinyrtError) as e:
        run_once(project, tmp_path, with_stack(size))
    assert str(e.value.message).startswith(
        f"stack overflow while answering INVOKE: a run used {stack_used} B of the {size} B stack")
    assert any(f"stack_bytes = 1024 in its board file (now {size}; the run used {stack_used} B" in h
               for h in e.value.hints)


def test_a_stack_that_grows_past_its_end_is_reported_not_a_lockup(project, tmp_path, stack_used):
    size = stack_used // 2 // 8 * 8
    with pytest.raises(TinyrtError) as e:
        run_once(project, tmp_path, with_stack(size))
    message = e.value.message
    assert message.startswith("stack overflow while answering ")
    assert f" the end of its {size} B (HardFault at sp=0x" in message   # "grew ... past" or "reached"
    assert any("give the board a larger stack: stack_bytes = " in h for h in e.value.hints)


def test_a_stack_with_room_for_the_guard_band_passes(project, tmp_path, stack_used):
    size = (stack_used + GUARD + 7) // 8 * 8
    assert run_once(project, tmp_path, with_stack(size)).stack_used == stack_used


def test_arena_canaries_report_a_write_past_the_arena(project, tmp_path):
    # the protocol server as every firmware has it, under a main that overruns the arena
    server = [src for src in firmware.app_sources() if src.name != "main.c"]
    app = [FIRMWARE_TESTS / "arena_overrun_main.c", *server]
    with pytest.raises(TinyrtError) as e:
        run_once(project, tmp_path, load_board("qemu-m4"), app_sources=app,
                 extra_cflags=["-DTINYRT_ARENA_CANARY"])
    assert e.value.message.startswith("arena overrun while answering INVOKE: a run wrote past the end "
                                      "of the ")
    assert "guard word 0 now holds 0x0badf00d" in e.value.message


def test_arena_canaries_stay_quiet_on_a_correct_run(project, tmp_path, stack_used):
    stats = run_once(project, tmp_path, load_board("qemu-m4"), extra_cflags=["-DTINYRT_ARENA_CANARY"])
    assert stats.stack_used == stack_used


def test_an_idle_board_sleeps_instead_of_polling(project, tmp_path):
    """Waiting for a byte, the firmware sleeps in WFI: QEMU takes (almost) no host CPU."""
    board = load_board("qemu-m4")
    fw = firmware.build(project, board, out_dir=tmp_path)
    with qemu.start(board, fw.elf) as q, Device.open(q.port) as dev:
        dev.info()
        before, t0 = cpu_seconds(q.process.pid), time.monotonic()
        time.sleep(2.0)
        share = (cpu_seconds(q.process.pid) - before) / (time.monotonic() - t0)
    assert share < 0.10, f"idle QEMU used {share:.0%} of a core"


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
