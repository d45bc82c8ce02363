"""Put firmware on a board: the exact command per flash method, from the board's TOML.

``qemu``: nothing to write; the ELF is started by tinyrt.qemu. ``pyocd`` / ``openocd``: the
programmer's command line. ``uf2``: copy firmware.uf2 onto the board's USB mass-storage volume.
``commands()`` runs nothing, so ``--dry-run`` prints exactly what ``flash()`` would run.
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from .errors import TinyrtError

TOOLS = {"pyocd": "pip install pyocd", "openocd": "apt-get install openocd"}


def commands(board: dict, elf: str | Path, uf2: str | Path | None = None,
             method: str | None = None) -> list[list[str]]:
    fl = board["flash"]
    method = method or fl["method"]
    if method == "qemu":
        return []
    if method == "pyocd":
        return [["pyocd", "flash", "--target", fl["target"], str(elf)]]
    if method == "openocd":
        args = [a for cfg in fl.get("openocd_config", []) for a in ("-f", cfg)]
        return [["openocd", *args, "-c", f"program {elf} verify reset exit"]]
    if method == "uf2":
        return [["cp", str(uf2 or Path(elf).with_suffix(".uf2")), f"<mount of {fl['volume']}>/"]]
    raise TinyrtError(f"board {board['id']}: unknown flash method '{method}'",
                      ["methods: qemu, pyocd, openocd, uf2"])


def _uf2_volume(label: str) -> Path | None:
    for root in (Path("/media"), Path("/run/media"), Path("/mnt")):
        if root.is_dir():
            for p in root.glob(f"**/{label}"):
                if p.is_dir():
                    return p
    return None


def flash(board: dict, elf: str | Path, uf2: str | Path | None = None,
          method: str | None = None) -> None:
    """Write the firmware to a real board attached to this machine."""
    method = method or board["flash"]["method"]
    if method == "qemu":
        raise TinyrtError(f"{board['id']} is emulated: there is nothing to flash",
                          [f"tinyrt deploy MODEL --board {board['id']} starts it in QEMU"])
    if method == "uf2":
        vol = _uf2_volume(board["flash"]["volume"])
        if vol is None:
            raise TinyrtError(f"no USB volume '{board['flash']['volume']}' is mounted",
                              ["hold BOOTSEL while plugging the board in, then mount the drive"])
        shutil.copy(uf2 or Path(elf).with_suffix(".uf2"), vol)
        return
    for cmd in commands(board, elf, uf2, method):
        if shutil.which(cmd[0]) is None:
            raise TinyrtError(f"the flash tool '{cmd[0]}' is not installed", [TOOLS[cmd[0]]])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise TinyrtError(f"flashing failed with exit status {proc.returncode}: {shlex.join(cmd)}\n"
                              f"{proc.stderr.strip()[-3000:]}",
                              ["is the board connected and powered? is its debug probe firmware current?"])
