"""`tinyrt build`, `tinyrt flash` (QEMU kept running) and `tinyrt monitor` attached to it: the
flow of a user with a board on the desk."""
import os
import re
import subprocess
import sys

import pytest

from tinyrt.examples import write_example

pytestmark = pytest.mark.qemu


def cli(*args):
    return [sys.executable, "-m", "tinyrt", *map(str, args)]


def test_build_flash_then_monitor_shows_info_and_live_latency(tmp_path):
    model = write_example(tmp_path)
    built = subprocess.run(cli("build", model, "--board", "qemu-m4", "-o", tmp_path / "proj", "-q"),
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    assert "flash total" in built.stdout
    flasher = subprocess.Popen(cli("flash", tmp_path / "proj", "--board", "qemu-m4", "--seconds", 120),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        line = flasher.stdout.readline()
        port = re.search(r"socket://127\.0\.0\.1:\d+", line).group(0)
        mon = subprocess.run(cli("monitor", "--board", "qemu-m4", "--port", port, "--count", 3,
                                 "--interval", 0), capture_output=True, text=True, timeout=300)
        assert mon.returncode == 0, mon.stderr
        assert "example_dscnn" in mon.stdout and "emulated_instructions" in mon.stdout
        assert re.search(r"invoke\s+3:", mon.stdout) and "median" in mon.stdout
        assert "stack used" in mon.stdout
    finally:
        os.killpg(flasher.pid, 15)
        flasher.wait(timeout=30)
    qemu_left = subprocess.run(["pgrep", "-f", str(tmp_path / "proj")], capture_output=True, text=True)
    assert qemu_left.stdout == "", "QEMU outlived `tinyrt flash`"


def test_monitor_without_a_port_says_how_to_get_one():
    proc = subprocess.run(cli("monitor", "--board", "qemu-m4"), capture_output=True, text=True)
    assert proc.returncode == 1 and "--port" in proc.stderr and "Traceback" not in proc.stderr


def test_flash_of_an_unbuilt_directory_says_how_to_build(tmp_path):
    proc = subprocess.run(cli("flash", tmp_path, "--board", "qemu-m4"), capture_output=True, text=True)
    assert proc.returncode == 1 and "tinyrt build" in proc.stderr


def test_flash_dry_run_for_a_real_board_prints_the_programmer_command(tmp_path):
    proc = subprocess.run(cli("flash", tmp_path, "--board", "nucleo-l4r5zi", "--dry-run"),
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "ConnectHelper.session_with_chosen_probe(" in proc.stdout
    assert 'target_override="stm32l4r5zitx"' in proc.stdout   # pyOCD's Python API, as flashed
