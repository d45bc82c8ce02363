"""Helpers for the firmware and QEMU tests: a tiny generated model project per board."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import codegen
from tinyrt import host
from tinyrt.boards import board_files, load_board

from test_op_fully_connected import fc_model

FIRMWARE_TESTS = Path(__file__).parent / "firmware"

requires_arm_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                      reason="arm-none-eabi-gcc is not installed")
requires_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                                   reason="qemu-system-arm is not installed")

DEVICE_BOARDS = [b for b in board_files() if load_board(b)["kind"] != "host"]
QEMU_BOARDS = [b for b in board_files() if load_board(b)["kind"] == "qemu"]


def small_model():
    """One FULLY_CONNECTED layer, 64 -> 10, int8."""
    return fc_model(1, 64, 10, in_zp=-3, out_zp=5, activation="RELU")


def write_project(graph, board: dict, out_dir: Path):
    """Lower ``graph`` for ``board`` and write the generated library (no host main) to out_dir."""
    lowered = codegen.lower(graph, board)
    host.write_project(codegen.render(lowered, host_main=False), out_dir)
    return lowered
