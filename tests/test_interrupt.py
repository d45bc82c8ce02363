"""Ctrl-C, SIGTERM and SIGHUP (a closed terminal) during a deploy: the command stops promptly
with one short line (no traceback) and the conventional status (128 + the signal), no QEMU
outlives it, and the project it made for itself is removed. A SIGKILL runs no handler: QEMU
still ends with tinyrt."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_project import requires_arm_gcc, requires_qemu
from tinyrt.examples import write_example

pytestmark = [requires_arm_gcc, requires_qemu, pytest.mark.qemu]


def children(pid: int) -> dict[int, str]:
    """pid -> command name of the processes whose parent is ``pid`` (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue   # it ended while we looked
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if int(rest[1]) == pid:
            found[int(entry.name)] = name
    return found


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def stop(proc: subprocess.Popen, signum: int) -> str:
    """Send ``signum`` to the process group (what a terminal does on Ctrl-C); its stderr once it
    has ended, which must be within 10 s."""
    os.killpg(proc.pid, signum)
    try:
        return proc.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"tinyrt did not stop within 10 s of signal {signum}")


def wait_for_child(proc: subprocess.Popen, prefix: str, timeout: float = 120.0) -> int:
    """The pid of ``proc``'s first child whose command name starts with ``prefix``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = [pid for pid, name in children(proc.pid).items() if name.startswith(prefix)]
        if found:
            return found[0]
        time.sleep(0.01)
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"no {prefix} process started (status {proc.returncode}):\n{err[-2000:]}")


def start_deploy(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`tinyrt deploy --runs 50` on qemu-m4 in its own session, with a private temp folder."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "tinyrt", "deploy", write_example(tmp_path),
                             "--board", "qemu-m4", "--runs", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "TMPDIR": str(temp)})
    return proc, temp


@pytest.mark.parametrize("signum,status,message", [(signal.SIGINT, 130, "interrupted"),
                                                   (signal.SIGTERM, 143, "stopped by SIGTERM"),
                                                   (signal.SIGHUP, 129, "stopped by SIGHUP")],
                         ids=["ctrl-c", "sigterm", "sighup"])
def test_a_signal_stops_the_deploy_and_everything_it_started(tmp_path, signum, status, message):
    proc, temp = start_deploy(tmp_path)
    qemu_pid = wait_for_child(proc, "qemu-system")
    time.sleep(0.5)   # past QEMU's start: the link exchanges frames now
    assert proc.poll() is None, "the deploy ended before it could be interrupted"
    err = stop(proc, signum)
    assert proc.returncode == status, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip().splitlines()[-1] == message, err
    assert not running(qemu_pid), "QEMU outlived the command"
    assert list(temp.iterdir()) == [], "the project tinyrt made for itself was left behind"


def test_ctrl_c_during_the_build_stops_it_and_removes_the_project(tmp_path):
    proc, temp = start_deploy(tmp_path)
    wait_for_child(proc, "arm-none-eabi")
    err = stop(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "interrupted", err
    assert list(temp.iterdir()) == [], "the project tinyrt made for itself was left behind"


def test_qemu_ends_with_a_killed_tinyrt(tmp_path):
    """SIGKILL runs no handler in tinyrt: QEMU ends by itself (its parent-death signal)."""
    proc, _ = start_deploy(tmp_path)
    qemu_pid = wait_for_child(proc, "qemu-system")
    stop(proc, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while running(qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(qemu_pid), "QEMU outlived a killed tinyrt"


def test_sigterm_to_tinyrt_flash_stops_it_and_its_qemu_with_the_usual_line(tmp_path):
    """`tinyrt flash` keeps QEMU running; a SIGTERM to tinyrt alone (a service manager) ends
    both, reported as main() reports any signal."""
    tinyrt = [sys.executable, "-m", "tinyrt"]
    subprocess.run([*tinyrt, "build", write_example(tmp_path), "--board", "qemu-m4", "-o",
                    tmp_path / "p", "-q"], check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen([*tinyrt, "flash", tmp_path / "p", "--board", "qemu-m4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    qemu_pid = wait_for_child(proc, "qemu-system")
    assert "running in QEMU" in proc.stdout.readline()
    os.kill(proc.pid, signal.SIGTERM)
    err = proc.communicate(timeout=10)[1]
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "stopped by SIGTERM", err
    assert not running(qemu_pid), "QEMU outlived `tinyrt flash`"
