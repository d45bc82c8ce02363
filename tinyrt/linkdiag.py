"""What went wrong on a serial link, in words a user can act on: ``tinyrt.link`` raises these.

Opening a port (missing, busy, no permission, nothing listening), a request that never got
through (board silent, garbled link, corrupted frames), the fault line a crashed firmware prints
(an exception, a stack overflow, an arena overrun) and the device's own ERROR answers each become
one ``TinyrtError`` with hints. Pure functions of what the link saw; no I/O but listing ports.
"""
from __future__ import annotations

import errno
import os
import re

import serial

from . import protocol as p
from .errors import TinyrtError

DEFAULT_BAUD = 115200
POLL_S = 0.02
# The firmware's fault handler (firmware/startup_cortexm.c) prints one line wrapped in 0x00, so
# it reaches the link as one frame that does not decode: "\r\n*** tinyrt: fault exc=... \r\n".
FAULT_MARK = b"*** tinyrt: fault"
EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault", 7: "SecureFault"}
LOST_HINT = "the board was unplugged, reset or the emulator exited"


def available_ports() -> str:
    try:
        from serial.tools import list_ports
        ports = [info.device for info in list_ports.comports()]
    except Exception:  # listing ports is a hint only
        ports = []
    return ", ".join(ports) if ports else "none found"


def open_port(port: str, baud: int = DEFAULT_BAUD, exclusive: bool = True) -> serial.SerialBase:
    """Open ``port`` with pyserial; every failure becomes a ``TinyrtError`` with a diagnosis."""
    is_url = "://" in port
    if not is_url and not os.path.exists(port):
        raise TinyrtError(f"port missing: {port} does not exist",
                          [f"serial ports on this machine: {available_ports()}",
                           "is the board plugged in and powered? (`dmesg | tail` shows new USB serial ports)"])
    try:
        return serial.serial_for_url(port, baudrate=baud, timeout=POLL_S, write_timeout=5.0,
                                     exclusive=None if is_url else exclusive)
    except serial.SerialException as e:
        raise _open_error(port, e) from None
    except ValueError as e:  # pyserial's answer to a malformed URL
        raise TinyrtError(f"cannot open {port}: {e}", ["a port is a device path or a URL like socket://host:port"]) from None


def _open_error(port: str, e: serial.SerialException) -> TinyrtError:
    code, text = getattr(e, "errno", None), str(e)
    if "exclusively lock" in text or code in (errno.EBUSY, errno.EAGAIN):
        return TinyrtError(f"port busy: another program has {port} open",
                           ["close the other serial monitor (screen, minicom, picocom, `tinyrt monitor`)",
                            f"`lsof {port}` shows which process holds it"])
    if code == errno.ENOENT:
        return TinyrtError(f"port missing: {port} does not exist",
                           [f"serial ports on this machine: {available_ports()}"])
    if code == errno.EACCES:
        return TinyrtError(f"permission denied opening {port}",
                           ["add yourself to the serial group: sudo usermod -aG dialout $USER (then log in again)"])
    if "refused" in text.lower() or "errno 111" in text.lower():
        return TinyrtError(f"port missing: nothing is listening at {port}",
                           ["is the emulator running? start it with `tinyrt flash DIR --board qemu-m4`",
                            "check the TCP port number"])
    return TinyrtError(f"cannot open {port}: {text}")


def lost_connection(port: str, e: Exception) -> TinyrtError:
    return TinyrtError(f"lost the connection to {port}: {e}", [LOST_HINT])


def request_failed(port: str, baud: int, name: str, problems: list[str], received: int,
                   valid_frames: int) -> TinyrtError:
    """A request failed every attempt: ``received`` bytes came back meanwhile, ``valid_frames``
    valid frames since the port was opened."""
    tries = f"{name} failed {len(problems)} times"
    detail = "; ".join(dict.fromkeys(problems))
    if received == 0:
        if valid_frames:
            return TinyrtError(f"board silent: it answered before but not {name} ({tries}: {detail})",
                               ["the firmware may have crashed or hung; reset the board or restart the emulator"])
        return TinyrtError(
            f"board silent: no bytes at all from {port} ({tries}: {detail})",
            ["is the board flashed with tinyrt firmware and running? (`tinyrt flash DIR --board B`)",
             f"is {port} the board's port? serial ports here: {available_ports()}",
             f"the baud rate must match the firmware's (this link: {baud})"])
    if valid_frames == 0:
        return TinyrtError(
            f"garbled link: {received} bytes from {port} but no valid frame ({tries}: {detail})",
            [f"check the baud rate (this link: {baud}) matches the firmware's",
             "is this the right port? another device may be attached to it",
             "is another program (a serial monitor) reading the same port?"])
    return TinyrtError(f"corrupted frames: {tries} ({detail})",
                       ["the link drops or flips bytes: try a lower baud rate, another cable or USB port",
                        "is another program reading the same port?"])


def fault_error(name: str, raw: bytes) -> TinyrtError:
    """The fault line in ``raw`` (it holds ``FAULT_MARK``), received while waiting for ``name``."""
    line = raw[raw.index(FAULT_MARK):].decode("ascii", errors="replace").strip()
    if "stack-overflow" in line or "arena-overrun" in line:
        return _limit_error(name, line)
    exc = re.search(r"exc=(0x[0-9a-fA-F]+)", line)
    kind = EXCEPTIONS.get(int(exc.group(1), 16), "exception") if exc else "exception"
    pc = re.search(r"pc=(0x[0-9a-fA-F]+)", line)
    hints = ["the firmware stopped: reset the board or restart the emulator"]
    if pc:
        hints.insert(0, f"find the faulting code: arm-none-eabi-addr2line -f -e firmware.elf {pc.group(1)}")
    return TinyrtError(f"the device faulted: {line} ({kind} while answering {name})", hints)


def _limit_error(name: str, line: str) -> TinyrtError:
    """A device limit the firmware checks (firmware/startup_cortexm.c): the stack reached its
    guard band after a run (used=) or grew past its end and faulted (sp=, limit=), or a run
    wrote over the guard words after the arena (debug builds)."""
    f = {k: int(v, 16) for k, v in re.findall(r"(\w+)=(0x[0-9a-fA-F]+)", line)}
    stopped = "the firmware stopped: reset the board or restart the emulator"
    if "arena-overrun" in line:
        return TinyrtError(
            f"arena overrun while answering {name}: a run wrote past the end of the {f['arena']:,} B "
            f"arena (guard word {f['word']} now holds {f['value']:#010x})",
            ["a kernel wrote outside its buffers, a tinyrt bug: please report it with the model",
             "run the model on the host (`--board host`) under a memory checker to find the kernel", stopped])
    size, guard = f["size"], f["guard"]
    if "used" in f:
        what, used = f"a run used {f['used']:,} B of the {size:,} B stack, into its last {guard} B", f["used"]
    else:
        over = f["limit"] - f["sp"]
        kind = EXCEPTIONS.get(f.get("exc", 0), "a fault")
        what = (f"the stack grew at least {over:,} B past the end of its {size:,} B" if over > 0 else
                f"the stack reached the end of its {size:,} B" if over == 0 else
                f"the stack reached its last {guard} B") + f" ({kind} at sp={f['sp']:#x})"
        used = size + max(over, 0)
    need = used + guard
    suggest = -(-(need + need // 4) // 1024) * 1024   # a quarter to spare, whole KiB
    at_least = "" if "used" in f else "at least "
    return TinyrtError(f"stack overflow while answering {name}: {what}",
                       [f"give the board a larger stack: stack_bytes = {suggest} in its board file (now {size}; "
                        f"the run used {at_least}{used:,} B, and the lowest {guard} B are a guard band it "
                        f"must not reach)", stopped])


class DeviceRejected(TinyrtError):
    """The device answered a request with an ERROR retrying cannot fix; ``code`` says which
    (``protocol.ErrorCode``), so a caller can tell NOT_READY from the rest."""

    def __init__(self, message: str, hints: list[str], code: int):
        super().__init__(message, hints)
        self.code = code


def not_supported_hint(name: str) -> str:
    """What to build the firmware with so that it answers command ``name``."""
    if name.startswith("TRAIN_"):
        return ("deploy a training firmware: `tinyrt finetune MODEL --board B ...` or, from "
                "Python, tinyrt.train.device.deploy(model, board, spec) (an inference firmware "
                "has no training commands)")
    if name == "PROFILE":
        return "build the firmware with profiling (`--profile`)"
    return f"rebuild the firmware with this version of tinyrt and what {name} needs"


def device_error(name: str, error: p.DeviceError) -> DeviceRejected:
    hints = {p.ErrorCode.BAD_VERSION: ["rebuild and flash the firmware with this version of tinyrt"],
             p.ErrorCode.UNKNOWN_COMMAND: ["rebuild and flash the firmware with this version of tinyrt"],
             p.ErrorCode.NOT_SUPPORTED: [not_supported_hint(name)],
             p.ErrorCode.NOT_READY: ["set the input and invoke before reading results",
                                     "an output is readable only after a run on a fresh input: SET_INPUT, "
                                     "then INVOKE 1 (unless INFO says the input survives runs)"],
             p.ErrorCode.TOO_LARGE: [f"rebuild the firmware with larger frames, e.g. "
                                     f"-DTR_PROTO_MAX_PAYLOAD={max(1024, error.detail + 64)}"]}
    return DeviceRejected(f"the device rejected {name}: {error.describe()}", hints.get(error.code, []),
                          error.code)

