"""Boards are data: one TOML file each in boards/, loaded into a plain dict.

Adding a board never touches Python. The schema below (keys, their types, which are required)
is checked on load and in the tests, so a typo in a board file is an error, not a silent default.
Tables marked open (``console``, ``counter``, ``flash``, ``firmware.defines``) may carry extra,
board-specific keys: the firmware build turns console and counter keys into C defines
(``tinyrt.firmware.defines``) and the flash runner reads its own settings.
"""
from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import boot2, clock
from .errors import TinyrtError
from .paths import data_dir

KINDS = ("host", "qemu", "mcu")
FEATURES = ("dsp", "fpu", "mve", "mve_fp")
ROLES = ("code", "weights", "data", "arena", "stack")
UNITS = {"qemu": "emulated_instructions", "mcu": "cycles"}
# What each core can have: a board's features must be a subset of its CPU's (a board claiming
# "mve" on a Cortex-M4 would build kernels the core cannot run). "fpu" is further tied to the
# board's fpu key below.
CPU_FEATURES = {
    "cortex-m0": (), "cortex-m0plus": (), "cortex-m3": (),
    "cortex-m4": ("dsp", "fpu"), "cortex-m7": ("dsp", "fpu"),
    "cortex-m23": (), "cortex-m33": ("dsp", "fpu"), "cortex-m35p": ("dsp", "fpu"),
    "cortex-m55": ("dsp", "fpu", "mve", "mve_fp"), "cortex-m85": ("dsp", "fpu", "mve", "mve_fp"),
}
FLASH_METHODS = {"qemu": ("machine",), "pyocd": ("target",), "openocd": ("config",),
                 "uf2": ("family_id",)}


@dataclass(frozen=True)
class Key:
    """One key of a board table: its type(s), whether it is required, and for a table its
    keys (``schema``), or the schema every entry follows (``each``), or ``open`` for free keys."""
    types: type | tuple
    required: bool = True
    choices: tuple = ()
    schema: dict = field(default_factory=dict)
    each: dict | None = None
    open: bool = False


COMMON = {
    "id": Key(str), "description": Key(str), "kind": Key(str, choices=KINDS),
    "features": Key(list, choices=FEATURES), "alignment": Key(int, False),
}
SERIAL = {"baud": Key(int), "timeout_s": Key((int, float), False)}
HOST = {**COMMON,
        "build": Key(dict, False, schema={"cc": Key(str, False), "cflags": Key(list, False)}),
        "firmware": Key(dict, False, open=True, schema={"sources": Key(list, False)}),
        "serial": Key(dict, False, open=True, schema=SERIAL)}
REGION = {"origin": Key(int), "length": Key(int), "access": Key(str, False, choices=("rx", "rwx", "rw", "r"))}
DEVICE = {
    **COMMON,
    "cpu": Key(str), "fpu": Key(str), "float_abi": Key(str, choices=("soft", "softfp", "hard")),
    "clock_hz": Key(int), "stack_bytes": Key(int),
    "memory": Key(dict, each=REGION),
    # arena_overflow: where arena buffers go when the arena's region is full (tinyrt/regions.py)
    "placement": Key(dict, schema={**{role: Key(str) for role in ROLES},
                                   "arena_overflow": Key(str, False)}),
    "console": Key(dict, open=True, schema={"kind": Key(str), "base": Key(int, False)}),
    "counter": Key(dict, open=True, schema={
        "kind": Key(str), "unit": Key(str, choices=tuple(UNITS.values())), "base": Key(int, False),
        "tick_hz": Key(int, False), "instructions_per_tick": Key((int, float), False)}),
    "firmware": Key(dict, schema={
        "sources": Key(list), "linker_script": Key(str, False), "entry_stub": Key(bool, False),
        "irqs": Key(int, False), "defines": Key(dict, False, open=True),
        "boot2": Key(str, False, choices=tuple(boot2.CHIPS))}),   # RP2040: tinyrt/boot2.py
    "flash": Key(dict, open=True, schema={"method": Key(str, choices=tuple(FLASH_METHODS))}),
    "serial": Key(dict, schema=SERIAL),
    # checked on its own, with the clock_hz it must give: tinyrt/clock.py
    "clock": Key(dict, False, open=True),
}


def user_boards_dir() -> Path:
    """The user boards folder (``tinyrt boards add`` writes there): ``$TINYRT_BOARDS``, else
    ``$XDG_CONFIG_HOME/tinyrt/boards``, else ``~/.config/tinyrt/boards``. It may not exist."""
    if os.environ.get("TINYRT_BOARDS"):
        return Path(os.environ["TINYRT_BOARDS"]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(config) / "tinyrt" / "boards"


def builtin_board_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(data_dir("boards").glob("*.toml"))}


def user_board_files() -> dict[str, Path]:
    """The user folder's boards; an id that is also a built-in board is left out (the built-in
    one is loaded), so a user file can never change what a built-in id means."""
    folder, builtin = user_boards_dir(), builtin_board_files()
    found = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    return {p.stem: p for p in found if p.stem not in builtin}


def board_files() -> dict[str, Path]:
    """Every board tinyrt knows: the built-in ones, then the user folder's."""
    return {**builtin_board_files(), **user_board_files()}


def load_board(board_id: str) -> dict:
    files = board_files()
    if board_id not in files:
        close = difflib.get_close_matches(board_id, files, n=3, cutoff=0.4)
        hints = [f"did you mean {', '.join(close)}?"] if close else []
        hints.append(f"known boards: {', '.join(files)} (see `tinyrt boards`)")
        raise TinyrtError(f"unknown board '{board_id}'", hints)
    try:
        board = tomllib.loads(files[board_id].read_text())
    except tomllib.TOMLDecodeError as e:
        raise TinyrtError(f"{files[board_id]}: not valid TOML: {e}") from None
    validate(board, files[board_id])
    board.setdefault("alignment", 8)
    board["dir"] = str(files[board_id].parent)
    return board


def validate(board: dict, where: Path | str = "board") -> None:
    """Raise TinyrtError naming the file and key for the first thing wrong with ``board``."""
    for key, typ in (("id", str), ("kind", str)):
        if not isinstance(board.get(key), typ):
            raise TinyrtError(f"{where}: key '{key}' must be a {typ.__name__}")
    if board["kind"] not in KINDS:
        raise TinyrtError(f"{where}: kind '{board['kind']}' is not one of {list(KINDS)}")
    _check_table(board, HOST if board["kind"] == "host" else DEVICE, f"{where}", "")
    if Path(str(where)).suffix == ".toml" and Path(str(where)).stem != board["id"]:
        raise TinyrtError(f"{where}: id '{board['id']}' must match the file name")
    if board["kind"] != "host":
        _check_device(board, str(where))


def _type_name(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
             list: "a list", dict: "a table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_table(table: dict, schema: dict, where: str, prefix: str) -> None:
    for key, spec in schema.items():
        if key not in table:
            if spec.required:
                raise TinyrtError(f"{where}: missing key '{prefix}{key}'",
                                  ["see docs/boards.md for every board key"])
            continue
        _check_value(table[key], spec, where, f"{prefix}{key}")
    unknown = sorted(set(table) - set(schema))
    if unknown:
        close = difflib.get_close_matches(unknown[0], schema, n=1)
        hint = [f"did you mean '{prefix}{close[0]}'?"] if close else []
        raise TinyrtError(f"{where}: unknown key '{prefix}{unknown[0]}'",
                          hint + ["see docs/boards.md for every board key"])


def _check_value(value, spec: Key, where: str, name: str) -> None:
    types = spec.types if isinstance(spec.types, tuple) else (spec.types,)
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise TinyrtError(f"{where}: '{name}' must be {_type_name(spec.types)}")
    items = value if isinstance(value, list) else [value]
    for item in items:
        if spec.choices and item not in spec.choices:
            raise TinyrtError(f"{where}: '{name}' = {item!r} is not one of {list(spec.choices)}")
    if isinstance(value, dict):
        if spec.each is not None:
            for sub, entry in value.items():
                if not isinstance(entry, dict):
                    raise TinyrtError(f"{where}: '{name}.{sub}' must be a table")
                _check_table(entry, spec.each, where, f"{name}.{sub}.")
        elif spec.open:
            for sub, sub_spec in spec.schema.items():
                if sub in value:
                    _check_value(value[sub], sub_spec, where, f"{name}.{sub}")
                elif sub_spec.required:
                    raise TinyrtError(f"{where}: missing key '{name}.{sub}'")
        else:
            _check_table(value, spec.schema, where, f"{name}.")


def _check_device(board: dict, where: str) -> None:
    regions = board["memory"]
    for role, name in board["placement"].items():
        if name not in regions:
            raise TinyrtError(f"{where}: placement.{role} names region '{name}', "
                              f"which is not one of memory.{{{', '.join(regions)}}}")
    spans = sorted((r["origin"], r["origin"] + r["length"], n) for n, r in regions.items())
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        if start < end:
            raise TinyrtError(f"{where}: memory regions '{a}' and '{b}' overlap")
    if board["stack_bytes"] % 8 or board["stack_bytes"] <= 0:
        raise TinyrtError(f"{where}: stack_bytes must be a positive multiple of 8")
    unit = board["counter"]["unit"]
    if unit != UNITS[board["kind"]]:
        raise TinyrtError(f"{where}: a {board['kind']} board counts in {UNITS[board['kind']]}, "
                          f"not {unit}")
    if board["kind"] == "qemu" and "instructions_per_tick" not in board["counter"]:
        raise TinyrtError(f"{where}: a qemu board needs counter.instructions_per_tick")
    _check_cpu_features(board, where)
    clock.check(board, where)
    boot2.check(board, where)
    has_fpu = board["fpu"] != "none"
    if has_fpu != ("fpu" in board["features"]) or (not has_fpu and board["float_abi"] != "soft"):
        raise TinyrtError(f"{where}: fpu = '{board['fpu']}', float_abi = '{board['float_abi']}' "
                          f"and the 'fpu' feature disagree")
    fw_dir = data_dir("firmware")
    for src in board["firmware"]["sources"]:
        if not isinstance(src, str) or not (fw_dir / src).is_file():
            raise TinyrtError(f"{where}: firmware source '{src}' is not in {fw_dir}")
    script = board["firmware"].get("linker_script")
    if script and not (Path(str(where)).parent / script).is_file():
        raise TinyrtError(f"{where}: linker script '{script}' not found beside the board file")
    method = board["flash"]["method"]
    for key in FLASH_METHODS[method]:
        if key not in board["flash"]:
            raise TinyrtError(f"{where}: flash method '{method}' needs flash.{key}")
    if (method == "qemu") != (board["kind"] == "qemu"):
        raise TinyrtError(f"{where}: flash method 'qemu' is for (and only for) kind 'qemu'")


def _check_cpu_features(board: dict, where: str) -> None:
    cpu = board["cpu"]
    if cpu not in CPU_FEATURES:
        raise TinyrtError(f"{where}: cpu '{cpu}' is not a core tinyrt targets",
                          [f"known cores: {', '.join(CPU_FEATURES)}"])
    extra = [f for f in board["features"] if f not in CPU_FEATURES[cpu]]
    if extra:
        have = ", ".join(CPU_FEATURES[cpu]) or "none of them"
        raise TinyrtError(f"{where}: feature '{extra[0]}' is not available on a {cpu} "
                          f"(it has {have})", ["remove it from features"])


def region(board: dict, role: str) -> dict:
    """The memory region that holds ``role`` (code, weights, data, arena, stack), with its name."""
    name = board["placement"][role]
    return {"name": name, **board["memory"][name]}


def budgets(board: dict) -> dict[str, int]:
    """Bytes for what is stored (code, weights, the .data image: ``flash``) and for what lives in
    RAM (data, arena, stack: ``sram``), each the sum of the distinct regions that hold it. The two
    may share a region (a board that runs everything from SRAM). Zero for the host."""
    if board["kind"] == "host":
        return {"flash": 0, "sram": 0}
    mem, place = board["memory"], board["placement"]
    stored = {place["code"], place["weights"]}
    live = {place["data"], place["arena"], place["stack"], place.get("arena_overflow", place["arena"])}
    return {"flash": sum(mem[n]["length"] for n in stored),
            "sram": sum(mem[n]["length"] for n in live)}
