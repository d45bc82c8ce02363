"""Serial ports and the debug probe or board each belongs to, by USB vendor/product id.

A real board's console is the virtual COM port of its debug probe (ST-LINK on the Nucleo
boards, the J-Link OB of the nRF52840-DK, a Raspberry Pi Debug Probe wired to a Pico's UART0):
so after flashing, the board's port is the one whose probe has the serial number pyOCD flashed
through, or else the only port of the probe kind the board uses.

    ports = list_ports()                               # every serial port, described
    port = find_board_port(board, unique_id="0668FF...")
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from .errors import TinyrtError


@dataclass(frozen=True)
class Probe:
    kind: str   # what a board file's flash.probe names: stlink, daplink, jlink, nordic, pico, rpi-debugprobe
    name: str


ANY = None   # every product id of the vendor
# (USB vendor id, product id) -> the probe or board. ST-LINK and Raspberry Pi product ids from
# pyOCD's and picotool's tables; J-Link and Nordic by vendor alone (one id per model/firmware).
USB_IDS = {
    (0x0483, 0x3748): Probe("stlink", "ST-LINK/V2"),
    (0x0483, 0x374A): Probe("stlink", "ST-LINK/V2-1"),
    (0x0483, 0x374B): Probe("stlink", "ST-LINK/V2-1"),
    (0x0483, 0x374E): Probe("stlink", "STLINK-V3E"),
    (0x0483, 0x374F): Probe("stlink", "STLINK-V3"),
    (0x0483, 0x3752): Probe("stlink", "ST-LINK/V2-1 (no mass storage)"),
    (0x0483, 0x3753): Probe("stlink", "STLINK-V3 (two VCPs)"),
    (0x0483, 0x3754): Probe("stlink", "STLINK-V3 (no mass storage)"),
    (0x0483, 0x3757): Probe("stlink", "STLINK-V3PWR"),
    (0x0D28, 0x0204): Probe("daplink", "DAPLink CMSIS-DAP"),
    (0x1366, ANY): Probe("jlink", "SEGGER J-Link"),
    (0x1915, ANY): Probe("nordic", "Nordic nRF USB"),
    (0x2E8A, 0x0004): Probe("rpi-debugprobe", "Raspberry Pi Picoprobe"),
    (0x2E8A, 0x000C): Probe("rpi-debugprobe", "Raspberry Pi Debug Probe (CMSIS-DAP)"),
    (0x2E8A, 0x0005): Probe("pico", "Raspberry Pi Pico (MicroPython)"),
    (0x2E8A, 0x000A): Probe("pico", "Raspberry Pi Pico (Pico SDK USB serial)"),
}
# Which probes carry a board's console when its file has no flash.probe: by the flash target's
# family (pyOCD target names), else by the UF2 family of the RP2040.
TARGET_PROBES = (("stm32", ("stlink",)), ("nrf", ("jlink", "daplink")), ("rp2040", ("rpi-debugprobe", "pico")))
RP2040_FAMILY = 0xE48BFF56


@dataclass(frozen=True)
class Port:
    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    probe: str | None        # the probe kind, None when the VID/PID is not a known one
    what: str                # a name for people: the probe, else the USB product string
    board: str | None = None  # a DAPLink's board, from the board id its serial number starts with

    @property
    def usb_id(self) -> str:
        return "-" if self.vid is None else f"{self.vid:04x}:{self.pid or 0:04x}"

    def as_dict(self) -> dict:
        return {**asdict(self), "usb_id": self.usb_id}


def identify(vid: int | None, pid: int | None) -> Probe | None:
    if vid is None:
        return None
    return USB_IDS.get((vid, pid)) or USB_IDS.get((vid, ANY))


def describe(info) -> Port:
    """A ``serial.tools.list_ports`` entry (ListPortInfo) as a Port."""
    probe = identify(info.vid, info.pid)
    what = probe.name if probe else (info.product or info.description or "-")
    board = _daplink_board(info.serial_number) if probe and probe.kind == "daplink" else None
    return Port(info.device, info.vid, info.pid, info.serial_number,
                probe.kind if probe else None, what, board)


def _daplink_board(serial: str | None) -> str | None:
    """A DAPLink's serial number starts with its board id (pyOCD's table names the board)."""
    if not serial or len(serial) < 4:
        return None
    from pyocd.board.board_ids import BOARD_ID_TO_INFO
    info = BOARD_ID_TO_INFO.get(serial[:4].upper())
    return info.name if info else None


def list_ports() -> list[Port]:
    """Every serial port this machine has, described; USB ports first, by device name."""
    from serial.tools import list_ports as lp
    ports = [describe(p) for p in lp.comports()]
    return sorted(ports, key=lambda p: (p.vid is None, p.device))


def probe_kinds(board: dict) -> tuple[str, ...]:
    """The probe kinds whose serial port can be ``board``'s console: the board file's
    ``flash.probe`` (a kind or a list of kinds), else by its flash target or UF2 family."""
    fl = board.get("flash", {})
    given = fl.get("probe")
    if given:
        kinds = (given,) if isinstance(given, str) else tuple(given) if isinstance(given, list) else ()
        known = sorted({p.kind for p in USB_IDS.values()})
        if not kinds or any(k not in known for k in kinds):
            raise TinyrtError(f"board {board['id']}: flash.probe = {given!r} is not a probe kind "
                              "or a list of them", [f"probe kinds: {', '.join(known)}"])
        return kinds
    target = str(fl.get("target", "")).lower()
    if fl.get("family_id") == RP2040_FAMILY:
        target = "rp2040"
    for prefix, kinds in TARGET_PROBES:
        if target.startswith(prefix):
            return kinds
    return tuple(sorted({p.kind for p in USB_IDS.values()}))


def same_serial(a: str | None, b: str | None) -> bool:
    """Serial numbers as pyOCD and the USB descriptor give them (a J-Link's USB serial is its
    number zero-padded to 12 digits)."""
    return bool(a and b) and a.lower().lstrip("0") == b.lower().lstrip("0")


def find_board_port(board: dict, unique_id: str | None = None, ports: list[Port] | None = None,
                    wait_s: float = 0.0) -> str:
    """The serial port of ``board``: the one whose USB serial number is the probe's
    ``unique_id`` (the probe that was flashed through), else the only port of a probe kind the
    board uses. ``ports``: the listing to search (default: this machine's, polled up to
    ``wait_s`` seconds while a freshly reset probe comes back)."""
    deadline = time.monotonic() + wait_s
    while True:
        seen = list_ports() if ports is None else ports
        port = _match(board, unique_id, seen)
        if port is not None or ports is not None or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    if port is not None:
        return port
    kinds = probe_kinds(board)
    candidates = [p for p in seen if p.probe in kinds]
    if candidates:
        raise TinyrtError(f"several serial ports could be {board['id']}'s (a {' or '.join(kinds)} "
                          f"probe): {_listing(candidates)}",
                          [f"--port {p.device}" for p in candidates] +
                          ["--probe UID flashes through one probe; its own port is then chosen"])
    raise TinyrtError(f"no serial port belongs to a {' or '.join(kinds)} probe, which carries "
                      f"{board['id']}'s console; ports seen: {_listing(seen) or 'none'}",
                      ["is the board's USB cable in the probe's connector (ST-LINK / J-Link side)?",
                       "`tinyrt ports` lists the ports and the probe each belongs to",
                       f"name the port: tinyrt deploy MODEL --board {board['id']} --port /dev/ttyACM0"])


def _match(board: dict, unique_id: str | None, seen: list[Port]) -> str | None:
    if unique_id:
        mine = [p for p in seen if same_serial(p.serial_number, unique_id)]
        if len(mine) == 1:
            return mine[0].device
    kinds = probe_kinds(board)
    candidates = [p for p in seen if p.probe in kinds]
    return candidates[0].device if len(candidates) == 1 else None


def _listing(ports: list[Port]) -> str:
    return ", ".join(f"{p.device} ({p.what}, {p.usb_id}, serial {p.serial_number or '-'})"
                     for p in ports)
