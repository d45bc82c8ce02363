"""Build device firmware: a generated model project + firmware/ sources -> ELF, map, sizes.

``build(project_dir, board)`` compiles model.c and model_weights.c (-O2: the kernels), the board's
``firmware.sources`` (startup and board layer) and the application (main.c + protocol.c, -Os)
with arm-none-eabi-gcc for the board's cpu/fpu/float ABI, links them with the board's linker
script (generated from its memory regions by templates/linker.ld.j2 unless the board names its
own) and newlib-nano, and returns a ``Firmware`` with the ELF, the link map and section sizes.
Everything a board needs is read from its TOML; nothing here knows a particular board.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import jinja2

from . import __version__, boot2, clock, elf
from .errors import TinyrtError
from .paths import data_dir

TOOLCHAIN = "arm-none-eabi-gcc"
INSTALL_HINT = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
APP_SOURCES = ("main.c", "protocol.c", "protocol_frame.c")
MODEL_SOURCES = ("model.c", "model_weights.c")
# A training project (tinyrt.train.generate) adds model_train.c; the firmware then also compiles
# firmware/train.c (the TRAIN_* commands) with -DTINYRT_TRAINING=1.
TRAIN_SOURCE, TRAIN_APP = "model_train.c", "train.c"


# The serial protocol the firmware speaks (--protocol): tinyrt's framed protocol
# (docs/protocol.md), or the MLPerf Tiny benchmark runner's text protocol (firmware/eembc.c).
PROTOCOL_SOURCES = {"tinyrt": APP_SOURCES, "eembc": ("eembc.c", "eembc_model.c")}


def app_sources(protocol: str = "tinyrt") -> list[Path]:
    """The application sources of a firmware speaking ``protocol`` (``build(app_sources=)``)."""
    return [data_dir("firmware") / name for name in PROTOCOL_SOURCES[protocol]]


def is_training(project_dir: str | os.PathLike) -> bool:
    return (Path(project_dir) / TRAIN_SOURCE).is_file()


# -pipe: no intermediate assembly file in the temp folder (a build stopped by Ctrl-C left one)
CFLAGS = ("-std=c99", "-pipe", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
          "-fdata-sections", "-fno-common", "-g")
# The model at -O2 without the scheduling pass before register allocation: it moves loads ahead
# of the SIMD kernels' 14-register inline asm and leaves it no register ("impossible
# constraints" in large models); the pass after allocation still schedules for the pipeline.
MODEL_OPT, FIRMWARE_OPT = ("-O2", "-fno-schedule-insns"), ("-Os",)
LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections",
           "-Wl,--no-warn-rwx-segments")


@dataclass
class Sizes:
    """Bytes per kind of section. ``bss`` excludes the arena (given apart); ``rodata`` includes
    the weights (also given apart); ``stack`` is the reserved stack."""
    text: int = 0
    rodata: int = 0
    data: int = 0
    bss: int = 0
    arena: int = 0
    arena_overflow: int = 0   # of which in the overflow region (.arena1, tinyrt/regions.py)
    stack: int = 0
    weights: int = 0

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def static_ram(self) -> int:
        return self.data + self.bss

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "flash": self.flash, "static_ram": self.static_ram}


@dataclass
class Firmware:
    board: str
    elf: Path
    map: Path
    linker_script: Path
    sizes: Sizes
    commands: list[list[str]] = field(default_factory=list)
    uf2: Path | None = None


def toolchain() -> str:
    """Path of arm-none-eabi-gcc (``TINYRT_ARM_GCC`` overrides), or a TinyrtError saying how to
    install it."""
    cc = os.environ.get("TINYRT_ARM_GCC", TOOLCHAIN)
    path = shutil.which(cc)
    if path is None:
        raise TinyrtError(f"the Arm toolchain ('{cc}') is not installed or not on PATH",
                          [INSTALL_HINT, "or set TINYRT_ARM_GCC to your arm-none-eabi-gcc"])
    return path


def cpu_flags(board: dict) -> list[str]:
    flags = ["-mthumb", f"-mcpu={board['cpu']}", f"-mfloat-abi={board['float_abi']}"]
    if board["fpu"] != "none":
        flags.append(f"-mfpu={board['fpu']}")
    return flags


def _ident(text: str) -> str:
    return re.sub(r"\W", "_", str(text)).upper()


def _c_number(value: int, address: bool = False) -> str:
    return f"{value:#x}u" if address else f"{value}u"


def _table_defines(prefix: str, table: dict) -> dict[str, str]:
    """``kind`` -> PREFIX_KIND_<VALUE>; ints -> PREFIX_KEY; floats -> PREFIX_KEY_NUM/_DEN;
    strings -> a C string literal; booleans -> 1/0."""
    out = {}
    for key, value in table.items():
        name = f"{prefix}_{_ident(key)}"
        if key == "kind":
            out[f"{prefix}_KIND_{_ident(value)}"] = "1"
        elif isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif isinstance(value, int):
            out[name] = _c_number(value, address=key.endswith("base"))
        elif isinstance(value, float):
            frac = Fraction(str(value)).limit_denominator(1 << 16)
            out[f"{name}_NUM"], out[f"{name}_DEN"] = f"{frac.numerator}u", f"{frac.denominator}u"
        elif isinstance(value, str):
            out[name] = f'"{value}"'
    return out


def defines(board: dict, profile: bool = False) -> dict[str, str]:
    """The C macros the firmware is built with, all derived from the board file."""
    fw = board["firmware"]
    out = {"TINYRT_BOARD_ID": f'"{board["id"]}"', "TINYRT_FW_VERSION": f'"{__version__}"',
           "TR_BOARD_CLOCK_HZ": _c_number(board["clock_hz"]),
           "TR_SERIAL_BAUD": _c_number(board["serial"]["baud"])}
    out.update(_table_defines("TR_CONSOLE", board["console"]))
    out.update(_table_defines("TR_COUNTER", board["counter"]))
    out.update(clock.defines(board))
    if fw.get("entry_stub"):
        out["TR_ENTRY_STUB"] = "1"
    if "irqs" in fw:
        out["TR_NUM_IRQS"] = str(fw["irqs"])
    for key, value in fw.get("defines", {}).items():
        out[key] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    if profile:
        out["TINYRT_PROFILE"] = "1"
    return out


def linker_script(board: dict) -> str:
    """The board's linker script text: its own file (``firmware.linker_script``, beside the
    board file) or the one generated from its memory regions and placement."""
    own = board["firmware"].get("linker_script")
    if own:
        return (Path(board["dir"]) / own).read_text()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    regions = [{"name": name, "origin": f"{r['origin']:#010x}", "length": f"{r['length']:#x}",
                "access": r.get("access", "rwx")} for name, r in board["memory"].items()]
    entry = "tr_entry" if board["firmware"].get("entry_stub") else "Reset_Handler"
    # the board file it came from: boards/ID.toml if built in, else its path (a user board)
    file = Path(board.get("dir", data_dir("boards"))) / f"{board['id']}.toml"
    source = f"boards/{file.name}" if file.parent == data_dir("boards") else str(file)
    return env.get_template("linker.ld.j2").render(
        id=board["id"], source=source, regions=regions, placement=board["placement"],
        stack_bytes=board["stack_bytes"], entry=entry, boot2=boot2.chip(board) is not None)


def commands(project_dir: str | os.PathLike, board: dict, out_dir: str | os.PathLike,
             profile: bool = False, app_sources: list[str | os.PathLike] | None = None,
             extra_cflags: list[str] = (), cc: str = TOOLCHAIN) -> list[list[str]]:
    """Every compiler and linker command of a build, in order (the link last); runs nothing."""
    project, out, fw_dir = Path(project_dir), Path(out_dir), data_dir("firmware")
    apps = [Path(p) for p in app_sources] if app_sources is not None else [fw_dir / s for s in APP_SOURCES]
    training = is_training(project)
    units = [(project / s, MODEL_OPT) for s in MODEL_SOURCES + ((TRAIN_SOURCE,) if training else ())]
    units += [(fw_dir / s, FIRMWARE_OPT) for s in board["firmware"]["sources"]]
    units += [(src, FIRMWARE_OPT) for src in boot2.sources(board)]   # firmware.boot2 (RP2040)
    units += [(p, FIRMWARE_OPT) for p in apps + ([fw_dir / TRAIN_APP] if training else [])]
    base = [cc, *cpu_flags(board), *CFLAGS, *(f"-D{k}={v}" for k, v in defines(board, profile).items()),
            "-I", str(project), "-I", str(fw_dir), *(["-DTINYRT_TRAINING=1"] if training else []),
            *extra_cflags,
            # no folder names in the objects (debug info, __FILE__): the same model and options
            # give the same ELF wherever it is built, from wherever (the working folder is the
            # debug info's comp_dir); the last map that matches wins
            f"-fdebug-prefix-map={Path.cwd()}=.",
            f"-ffile-prefix-map={project}=.", f"-ffile-prefix-map={fw_dir}=firmware"]
    cmds, objs = [], []
    for src, opt in units:
        obj = out / "obj" / (src.stem + ".o")
        objs.append(str(obj))
        cmds.append([*base, *opt, "-c", str(src), "-o", str(obj)])
    cmds.append([cc, *cpu_flags(board), *LDFLAGS, f"-Wl,-Map={out / 'firmware.map'}",
                 "-T", str(out / "linker.ld"), *objs, "-lm", "-o", str(out / "firmware.elf")])
    return cmds


def build(project_dir: str | os.PathLike, board: dict, out_dir: str | os.PathLike | None = None,
          profile: bool = False, app_sources: list[str | os.PathLike] | None = None,
          extra_cflags: list[str] = ()) -> Firmware:
    """Compile and link; ``out_dir`` defaults to ``<project_dir>/build-<board>``.
    ``app_sources`` replaces main.c + protocol.c (tests use a smaller main)."""
    if board["kind"] == "host":
        raise TinyrtError("board 'host' is built natively, not with the Arm toolchain",
                          ["tinyrt deploy MODEL --board host"])
    cc = toolchain()
    project = Path(project_dir)
    missing = [s for s in MODEL_SOURCES if not (project / s).is_file()]
    if missing:
        raise TinyrtError(f"{project} has no {', '.join(missing)}: not a generated model project",
                          [f"tinyrt build MODEL --board {board['id']} -o DIR"])
    out = Path(out_dir) if out_dir is not None else project / f"build-{board['id']}"
    (out / "obj").mkdir(parents=True, exist_ok=True)
    (out / "linker.ld").write_text(linker_script(board))
    cmds = commands(project, board, out, profile, app_sources, extra_cflags, cc)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for proc, cmd in zip(pool.map(_run, cmds[:-1]), cmds[:-1]):
            _check(proc, cmd, "compile")
    link = _run(cmds[-1])
    if link.returncode != 0:
        _overflow(link, cmds[-1], board)
        _check(link, cmds[-1], "link")
    if boot2.chip(board):   # the boot ROM's CRC over the linked stage, written into the ELF
        boot2.write_checksum(out / "firmware.elf")
    fw = Firmware(board["id"], out / "firmware.elf", out / "firmware.map", out / "linker.ld",
                  section_sizes(out / "firmware.elf"), cmds)
    if board["flash"]["method"] == "uf2":
        fw.uf2 = out / "firmware.uf2"
        fw.uf2.write_bytes(elf.uf2_blocks(elf.load_segments(fw.elf), board["flash"]["family_id"]))
    return fw


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def _check(proc: subprocess.CompletedProcess, cmd: list[str], what: str) -> None:
    if proc.returncode != 0:
        raise TinyrtError(f"firmware {what} failed with exit status {proc.returncode}: "
                          f"{shlex.join(cmd)}\n{proc.stderr.strip()[-4000:]}")


class FirmwareTooLarge(TinyrtError):
    """The link overflowed a memory region: its name (``region``), by how many bytes
    (``overflow``), and what the board places there with their sizes (``usage``: role -> bytes)."""

    def __init__(self, message, hints, region: str, overflow: int, usage: dict[str, int]):
        super().__init__(message, hints)
        self.region, self.overflow, self.usage = region, overflow, usage
        self.roles = list(usage)


def _role_bytes(sizes: Sizes, board: dict) -> dict[str, int]:
    place = board["placement"]
    code = sizes.text + sizes.rodata - sizes.weights
    if place["data"] != place["code"]:
        code += sizes.data  # the .data image is stored with the code and copied at reset
    return {"code": code, "weights": sizes.weights, "data": sizes.data + sizes.bss,
            "arena": sizes.arena - sizes.arena_overflow, "arena_overflow": sizes.arena_overflow,
            "stack": sizes.stack}


def _overflow(link: subprocess.CompletedProcess, cmd: list[str], board: dict) -> None:
    """Turn a region overflow into FirmwareTooLarge with the bytes each role needs, measured on
    an image linked anyway (--noinhibit-exec): ld's own figure counts padding after a failure."""
    found = re.findall(r"region `([^']+)' overflowed by (\d+) bytes", link.stderr)
    if not found:
        return
    probe = Path(cmd[-1]).with_suffix(".overflow.elf")
    _run([*cmd[:-1], str(probe), "-Wl,--noinhibit-exec"])
    by_role = _role_bytes(section_sizes(probe), board) if probe.is_file() else {}
    for name, ld_over in found:
        usage = {r: by_role.get(r, 0) for r, where in board["placement"].items() if where == name}
        length = board["memory"].get(name, {}).get("length", 0)
        over = sum(usage.values()) - length if by_role else int(ld_over)
        if over > 0 or not by_role:
            break
    hints = ["patch-based memory planning may shrink the arena"] if usage.get("arena") else []
    hints.append("a smaller model, or a board with more memory (`tinyrt boards`)")
    parts = "; ".join(f"{role} {n:,} B" for role, n in usage.items())
    raise FirmwareTooLarge(
        f"the model does not fit board {board['id']}: memory region '{name}' ({length // 1024} KiB) "
        f"needs {over:,} bytes more ({parts})", hints, name, over, usage)


def section_sizes(elf_path: str | os.PathLike) -> Sizes:
    """Sizes from the ELF's allocated sections, by the names the linker scripts use (.arena,
    .stack, .weights) and otherwise by their flags."""
    s = Sizes()
    for sec in elf.sections(elf_path):
        if not sec.alloc or sec.size == 0:
            continue
        if sec.name in (".arena", ".arena1"):
            s.arena += sec.size
            if sec.name == ".arena1":
                s.arena_overflow += sec.size
        elif sec.name == ".stack":
            s.stack += sec.size
        elif sec.name == ".weights":
            s.weights += sec.size
            s.rodata += sec.size
        elif sec.type == elf.SHT_NOBITS:
            s.bss += sec.size
        elif sec.flags & elf.SHF_EXECINSTR or sec.name.startswith(".ARM.exidx"):
            s.text += sec.size
        elif sec.flags & elf.SHF_WRITE:
            s.data += sec.size
        else:
            s.rodata += sec.size
    return s
