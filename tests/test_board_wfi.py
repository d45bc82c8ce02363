"""Every device board's firmware waits for console input asleep (WFI, woken by the UART's
interrupt line) instead of polling, with the race handled: interrupts are masked (PRIMASK)
before the last check and WFI, so a byte arriving in between still wakes the core. The real
boards (STM32, RP2040, nRF52) are not emulated: this reads their firmware's code."""
import re
import shutil
import subprocess

import pytest

from firmware_project import DEVICE_BOARDS, requires_arm_gcc, small_model, write_project
from tinyrt import firmware
from tinyrt.boards import load_board

pytestmark = [requires_arm_gcc,
              pytest.mark.skipif(shutil.which("arm-none-eabi-objdump") is None,
                                 reason="arm-none-eabi-objdump is not installed")]


def disassembly(elf, function: str) -> list[str]:
    """The mnemonics of ``function`` in ``elf``, in order."""
    text = subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={function}", str(elf)],
                          capture_output=True, text=True, check=True).stdout
    return re.findall(r"^\s*[0-9a-f]+:\s+(?:[0-9a-f]{4}\s?)+\s+(\w+)", text, re.M)


@pytest.mark.parametrize("board_id", DEVICE_BOARDS)
def test_the_firmware_sleeps_in_wfi_with_interrupts_masked_while_waiting_for_a_byte(board_id, tmp_path):
    board = load_board(board_id)
    write_project(small_model(), board, tmp_path)
    ops = disassembly(firmware.build(tmp_path, board).elf, "tr_board_getc")
    assert "wfi" in ops, f"{board_id}: tr_board_getc polls the UART"
    wfi = ops.index("wfi")
    assert "cpsid" in ops[:wfi], f"{board_id}: WFI without masking interrupts first (a byte may be missed)"
    assert "msr" in ops[wfi:], f"{board_id}: interrupts are not restored after WFI"
