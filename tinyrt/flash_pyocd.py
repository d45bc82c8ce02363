"""Flashing through pyOCD's Python API: choose the probe (one attached, or the one ``--probe``
names), check it sits on the board's target, program the ELF, reset and run.

``PyocdCall`` is the call as plain data: ``text()`` is the Python a dry run prints, ``run()``
makes the same calls. The target is the board file's ``flash.target``; a board made from a
CMSIS-Pack names the pack (``flash.pack``, a path beside the board file) and pyOCD reads the
target's memory map and flash algorithm from it.
"""
from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import TinyrtError
from .progress import Progress

UDEV_HINT = ("on Linux, the probe's udev rules let a user open it "
             "(https://github.com/pyocd/pyOCD/tree/main/udev)")


@dataclass(frozen=True)
class PyocdCall:
    target: str
    elf: str
    unique_id: str | None = None   # None: the one probe attached
    pack: str | None = None        # a CMSIS-Pack file holding the target

    def kwargs(self) -> dict:
        kw = {"blocking": False, "return_first": True, "unique_id": self.unique_id,
              "target_override": self.target}
        if self.pack:
            kw["options"] = {"pack": self.pack}
        return kw

    def text(self) -> str:
        args = ", ".join(f"{k}={_py(v)}" for k, v in self.kwargs().items())
        return ("from pyocd.core.helpers import ConnectHelper; "
                "from pyocd.flash.file_programmer import FileProgrammer; "
                f"session = ConnectHelper.session_with_chosen_probe({args}); session.open(); "
                f"FileProgrammer(session).program({_py(self.elf)}, file_format=\"elf\"); "
                "session.target.reset(); session.close()")

    def command(self) -> list[str]:
        return [sys.executable, "-c", self.text()]


def _py(value) -> str:
    """A Python literal in double quotes (the dry run's line is single-quoted for the shell)."""
    return repr(value) if value is None or isinstance(value, bool) else json.dumps(value)


def call_for(board: dict, elf: str | Path, probe: str | None = None) -> PyocdCall:
    fl = board["flash"]
    if "target" not in fl:
        raise TinyrtError(f"board {board['id']} names no pyOCD target (flash.target)",
                          ["add flash.target to the board file: `pyocd list --targets` lists them"])
    pack = fl.get("pack")
    if pack and not Path(pack).is_absolute() and "dir" in board:
        pack = str(Path(board["dir"]) / pack)
    return PyocdCall(fl["target"], str(elf), probe, pack)


def flash(board: dict, call: PyocdCall, quiet: bool = False) -> str:
    """Program ``call.elf``, reset and run; returns the unique id of the probe used."""
    from pyocd.core.helpers import ConnectHelper
    probes = ConnectHelper.get_all_connected_probes(blocking=False, unique_id=call.unique_id,
                                                    print_wait_message=False)
    everything = probes if call.unique_id is None else \
        ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)
    probe = choose_probe(probes, call.unique_id, everything)
    check_board_info(_board_info(probe), call.target, board)
    check_target_known(call.target, call.pack)
    chosen = replace(call, unique_id=probe.unique_id)
    _program(chosen, probe, quiet)
    return probe.unique_id


def _program(call: PyocdCall, probe, quiet: bool) -> None:
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.file_programmer import FileProgrammer
    try:
        session = ConnectHelper.session_with_chosen_probe(**call.kwargs())
        with session, Progress(f"flashing {Path(call.elf).name}", 100, enabled=not quiet) as bar:
            FileProgrammer(session, progress=lambda f: bar.advance(int(f * 100) - bar.done)
                           ).program(call.elf, file_format="elf")
            session.target.reset()
    except TinyrtError:
        raise
    except Exception as e:   # pyOCD's own errors and the USB stack's
        raise TinyrtError(f"pyOCD could not flash {call.target} through probe "
                          f"{probe.unique_id} ({probe.description}): {type(e).__name__}: {e}",
                          ["is the board powered, and its chip a " + call.target + "?",
                           "a probe another program holds (a debugger, OpenOCD) cannot be opened",
                           "update the probe's firmware (ST-LINK upgrade, DAPLink, J-Link)",
                           UDEV_HINT]) from None


def choose_probe(probes: list, unique_id: str | None, everything: list):
    """The one probe to use, or an error saying what pyOCD sees and how to choose."""
    if len(probes) == 1:
        return probes[0]
    if len(probes) > 1:
        raise TinyrtError(f"{len(probes)} debug probes {_match(unique_id)}: {_listing(probes)}",
                          [f"--probe {p.unique_id}  ({p.description})" for p in probes])
    seen = f"pyOCD sees: {_listing(everything)}" if everything else "pyOCD sees no probe at all"
    raise TinyrtError(f"no debug probe {f'matches {unique_id!r}' if unique_id else 'found'}; {seen}",
                      (["--probe with one of the unique ids above"] if everything else []) +
                      ["connect the board by its debug USB connector (ST-LINK / J-Link / "
                       "DAPLink side) and check it is powered", "`pyocd list` shows the probes",
                       UDEV_HINT])


def _match(unique_id: str | None) -> str:
    return f"match '{unique_id}'" if unique_id else "are attached"


def _listing(probes: list) -> str:
    return ", ".join(f"{p.unique_id} ({p.description})" for p in probes)


def _board_info(probe):
    try:
        return probe.associated_board_info
    except Exception:   # an info read the probe cannot answer is no mismatch
        return None


def check_board_info(info, target: str, board: dict) -> None:
    """A probe that knows its board (ST-LINK and DAPLink report a board id) must be on a chip of
    the board file's target: flashing an F746 image into an L4R5 bricks nothing but runs nothing."""
    if info is None or not info.target or info.target.lower() == target.lower():
        return
    from .boards import board_files, load_board
    other = [b for b in board_files() if _target_of(load_board, b) == info.target.lower()]
    raise TinyrtError(f"target mismatch: the probe is on a {info.name} ({info.target}), but "
                      f"board {board['id']} is a {target}",
                      ([f"--board {other[0]}"] if other else []) +
                      ["--probe UID to flash through the probe of the right board "
                       "(`pyocd list` shows each probe's board)"])


def _target_of(load, board_id: str) -> str | None:
    try:
        return str(load(board_id).get("flash", {}).get("target", "")).lower()
    except TinyrtError:
        return None


def check_target_known(target: str, pack: str | None) -> None:
    """pyOCD knows a target when it is built in, in a pack the board names or in a pack pyOCD
    installed (`pyocd pack install`); otherwise say how to get it."""
    if pack:
        if not Path(pack).is_file():
            raise TinyrtError(f"the CMSIS-Pack {pack} named by the board's flash.pack is missing")
        return
    from pyocd.target import TARGET
    names = {t.lower() for t in TARGET}
    if target.lower() in names or target.lower() in _installed_pack_targets():
        return
    close = difflib.get_close_matches(target.lower(), names, n=3, cutoff=0.6)
    raise TinyrtError(f"pyOCD has no target '{target}': it is not built in and no installed "
                      "CMSIS-Pack has it",
                      [f"pyocd pack install {target}  (downloads the device's pack once)",
                       "or name a pack file in the board file: [flash] pack = \"FILE.pack\" "
                       "(`tinyrt boards add --device PART --pack FILE.pack` writes it)",
                       *([f"built-in targets close to it: {', '.join(close)}"] if close else []),
                       "or --method openocd"])


def _installed_pack_targets() -> set[str]:
    try:
        from pyocd.target.pack.pack_target import ManagedPacks
        return {d.part_number.lower() for d in ManagedPacks.get_installed_targets()}
    except Exception:   # no pack index yet: nothing installed
        return set()
