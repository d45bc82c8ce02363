"""Put firmware on a board by the board's ``[flash] method`` (or ``--method``):

- ``pyocd``: pyOCD's Python API (tinyrt/flash_pyocd.py): the probe attached (or ``--probe UID``),
  the board's target (or its CMSIS-Pack), program, reset and run;
- ``openocd``: ``openocd -f CFG... -c "program ELF verify reset exit"``;
- ``uf2``: the image as UF2 blocks with the board's family id, copied onto the board's USB
  bootloader drive (e.g. RPI-RP2), which then starts it;
- ``qemu``: nothing to write, tinyrt.qemu starts the ELF.

``commands()`` runs nothing: a dry run prints exactly what ``flash()`` does.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import elf as elffile
from . import flash_pyocd
from .errors import TinyrtError

METHODS = ("qemu", "pyocd", "openocd", "uf2")
# Family ids of the UF2 spec (microsoft/uf2 utils/uf2families.json), for the hint of a board
# flashed by UF2 without its own.
UF2_FAMILIES = {"rp2040": 0xE48BFF56, "rp2350-arm-s": 0xE48BFF59, "stm32f7": 0x53B80F00,
                "stm32l4": 0x00FF6919, "nrf52840": 0xADA52840}
UF2_BOOT_FILE = "INFO_UF2.TXT"   # every UF2 bootloader drive has it


@dataclass(frozen=True)
class Flashed:
    """What was flashed through: the method, the probe's unique id (pyOCD; OpenOCD when
    ``--probe`` named it) and the UF2 drive written to."""
    method: str
    unique_id: str | None = None
    volume: str | None = None


def method_of(board: dict, method: str | None = None) -> str:
    method = method or board["flash"]["method"]
    if method not in METHODS:
        raise TinyrtError(f"board {board['id']}: unknown flash method '{method}'",
                          [f"methods: {', '.join(METHODS)}"])
    return method


def commands(board: dict, elf: str | Path, uf2: str | Path | None = None,
             method: str | None = None, probe: str | None = None) -> list[list[str]]:
    """The exact action of ``flash()`` with the same arguments, as command lines."""
    method = method_of(board, method)
    if method == "qemu":
        return []
    if method == "pyocd":
        return [flash_pyocd.call_for(board, elf, probe).command()]
    if method == "openocd":
        return [openocd_command(board, elf, probe)]
    label = _volume_label(board)
    volume = find_volume(label)
    return [["cp", str(uf2 or Path(elf).with_suffix(".uf2")),
             f"{volume if volume else f'<{label} drive, not mounted>'}/"]]


def flash(board: dict, elf: str | Path, uf2: str | Path | None = None,
          method: str | None = None, probe: str | None = None, quiet: bool = False) -> Flashed:
    """Write the firmware to a real board attached to this machine, reset it and let it run."""
    method = method_of(board, method)
    if method == "qemu":
        raise TinyrtError(f"{board['id']} is emulated: there is nothing to flash",
                          [f"tinyrt deploy MODEL --board {board['id']} starts it in QEMU"])
    if method == "pyocd":
        call = flash_pyocd.call_for(board, elf, probe)
        return Flashed(method, flash_pyocd.flash(board, call, quiet))
    if method == "openocd":
        _run_openocd(openocd_command(board, elf, probe))
        return Flashed(method, probe)
    return Flashed(method, volume=str(flash_uf2(board, elf, uf2)))


def openocd_command(board: dict, elf: str | Path, probe: str | None = None) -> list[str]:
    fl = board["flash"]
    configs = fl.get("config") or fl.get("openocd_config")
    if not configs:
        raise TinyrtError(f"board {board['id']} has no OpenOCD configuration",
                          ["add it to the board file: [flash] openocd_config = "
                           "[\"board/st_nucleo_f7.cfg\"] (OpenOCD's scripts folder)"])
    args = [a for cfg in configs for a in ("-f", cfg)]
    if probe:   # the adapter's USB serial number, before `program` initialises it
        args += ["-c", f"adapter serial {probe}"]
    path = str(elf)
    return ["openocd", *args, "-c", f"program {{{path}}} verify reset exit" if " " in path
            else f"program {path} verify reset exit"]


def _run_openocd(cmd: list[str]) -> None:
    if shutil.which(cmd[0]) is None:
        raise TinyrtError("OpenOCD is not installed (no 'openocd' on PATH)",
                          ["apt-get install openocd", "or --method pyocd (pyOCD comes with tinyrt)"])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyrtError(f"OpenOCD failed with exit status {proc.returncode}: {shlex.join(cmd)}\n"
                          f"{proc.stderr.strip()[-3000:]}",
                          ["is the board connected and powered? is its debug probe firmware current?",
                           "several probes: --probe UID (`tinyrt ports` shows serial numbers)"])


def uf2_image(board: dict, path: str | Path) -> bytes:
    """``path`` (an ELF, a raw .bin at the board's code region, or a .uf2 as it is) as UF2
    blocks with the board's family id: 512-byte blocks of 256 payload bytes."""
    path = Path(path)
    if path.suffix == ".uf2":
        return path.read_bytes()
    family = board["flash"].get("family_id")
    if family is None:
        raise TinyrtError(f"board {board['id']} has no UF2 family id (flash.family_id)",
                          ["add it to the board file; known families: " +
                           ", ".join(f"{k} {v:#010x}" for k, v in UF2_FAMILIES.items())])
    if path.suffix == ".bin":
        origin = board["memory"][board["placement"]["code"]]["origin"]
        data = path.read_bytes()
        segments = [elffile.Segment(origin, origin, data, len(data))]
    else:
        segments = elffile.load_segments(path)
    return elffile.uf2_blocks(segments, family)


def mount_roots() -> list[Path]:
    """Where USB drives get mounted: ``TINYRT_UF2_MOUNTS`` (folders separated by ':'), else the
    desktop automounters' folders and /mnt."""
    given = os.environ.get("TINYRT_UF2_MOUNTS")
    if given:
        return [Path(p) for p in given.split(os.pathsep) if p]
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or ""
    roots = [Path("/media") / user, Path("/run/media") / user] if user else []
    return roots + [Path("/media"), Path("/mnt"), Path("/Volumes")]


def find_volume(label: str, roots: list[Path] | None = None) -> Path | None:
    """The mounted UF2 bootloader drive named ``label``: ROOT/LABEL or ROOT/*/LABEL holding
    INFO_UF2.TXT (a leftover empty mount point is not the drive)."""
    for root in roots if roots is not None else mount_roots():
        if not root.is_dir():
            continue
        for cand in [root / label, *sorted(root.glob(f"*/{label}"))]:
            if (cand / UF2_BOOT_FILE).is_file():
                return cand
    return None


def _volume_label(board: dict) -> str:
    label = board["flash"].get("volume")
    if not label:
        raise TinyrtError(f"board {board['id']} names no UF2 drive (flash.volume)",
                          ["add it to the board file, e.g. volume = \"RPI-RP2\""])
    return label


def flash_uf2(board: dict, elf: str | Path, uf2: str | Path | None = None) -> Path:
    """Copy the UF2 image (the build's, or ``elf`` converted) onto the board's drive."""
    label = _volume_label(board)
    roots = mount_roots()
    volume = find_volume(label, roots)
    if volume is None:
        raise TinyrtError(f"no UF2 drive '{label}' is mounted; looked for {label}/{UF2_BOOT_FILE} "
                          f"in {', '.join(f'{r}, {r}/*' for r in roots)}",
                          [f"hold BOOTSEL while plugging the board in; a drive {label} appears",
                           "mount it if your desktop does not (udisksctl mount -b /dev/sdX1)",
                           "or set TINYRT_UF2_MOUNTS to the folder it is mounted under"])
    source = Path(uf2) if uf2 else Path(elf).with_suffix(".uf2")
    if not uf2:   # converted beside the ELF: the file a dry run names
        source.write_bytes(uf2_image(board, elf))
    image, dest, written = source.read_bytes(), volume / "firmware.uf2", False
    try:
        with open(dest, "wb") as f:
            f.write(image)
            written = True
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:   # the bootloader reboots once the last block is in: the drive goes
        if not written:
            raise TinyrtError(f"could not write {dest}: {e}",
                              ["is the drive read-only, or full of another image?"]) from None
    return volume
