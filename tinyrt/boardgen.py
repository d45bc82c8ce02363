"""A board file from a CMSIS-Pack device description (``tinyrt boards add``).

What is the silicon's comes from the part (``tinyrt.packs.describe``): core, FPU, DSP and MVE,
memory regions, maximum clock, flash algorithm. What is the board's (which UART reaches the
host, the latency counter, the C board layer that drives both, and the clock that layer runs the
core at) comes from a built-in board, the *template*: the one with that console kind
(``--console KIND@BASE``) or, for a part QEMU emulates, the one that runs on that QEMU machine
(``--qemu MACHINE``). A generated board so reuses a board layer that is built and tested, and
adding a board still never touches Python or C. Everything here is pure: data in, data out.
"""
from __future__ import annotations

import copy
import json
import re

from . import boot2
from .boards import CPU_FEATURES, builtin_board_files, load_board
from .errors import TinyrtError

CORES = {"Cortex-M0": "cortex-m0", "Cortex-M0+": "cortex-m0plus", "Cortex-M3": "cortex-m3",
         "Cortex-M4": "cortex-m4", "Cortex-M7": "cortex-m7", "Cortex-M23": "cortex-m23",
         "Cortex-M33": "cortex-m33", "Cortex-M35P": "cortex-m35p", "Cortex-M55": "cortex-m55",
         "Cortex-M85": "cortex-m85"}
NO_DWT = ("cortex-m0", "cortex-m0plus", "cortex-m23")  # Armv6-M / v8-M Baseline: no CYCCNT
ALWAYS_DSP = ("cortex-m4", "cortex-m7")                # the DSP extension is not optional there
# -mfpu= per core and FPU precision (the M55/M85 with Helium take "auto": -mcpu says it all).
FPU_FLAG = {"cortex-m4": {"sp": "fpv4-sp-d16", "dp": "fpv4-sp-d16"},
            "cortex-m7": {"sp": "fpv5-sp-d16", "dp": "fpv5-d16"},
            "cortex-m33": {"sp": "fpv5-sp-d16", "dp": "fpv5-sp-d16"},
            "cortex-m35p": {"sp": "fpv5-sp-d16", "dp": "fpv5-sp-d16"},
            "cortex-m55": {"sp": "fpv5-sp-d16", "dp": "fpv5-d16"},
            "cortex-m85": {"sp": "fpv5-sp-d16", "dp": "fpv5-d16"}}
HEX_KEYS = ("origin", "length", "base", "family_id")


def cpu_of(device: dict) -> str:
    core = device["core"]
    if core not in CORES:
        raise TinyrtError(f"part {device['part']} has a {core or 'unnamed'} core, which tinyrt "
                          f"cannot target", [f"supported cores: {', '.join(CORES)}"])
    return CORES[core]


def isa(device: dict, cpu: str) -> tuple[dict, list[str]]:
    """``features``, ``fpu`` and ``float_abi`` for the part, and notes on what was dropped."""
    notes, has = [], CPU_FEATURES[cpu]
    fpu = device["fpu"] if "fpu" in has else "none"
    if fpu != device["fpu"]:
        notes.append(f"the PDSC gives an FPU, which a {cpu} cannot have: built without one")
    mve = device["mve"] if "mve" in has else "none"
    if mve != "none" and fpu == "none":
        notes.append("Helium (MVE) without an FPU: the MVE kernels need the FP registers, "
                     "built without MVE")
        mve = "none"
    features = []
    if cpu in ALWAYS_DSP or ("dsp" in has and (device["dsp"] or mve != "none")):
        features.append("dsp")
    if fpu != "none":
        features.append("fpu")
    features += {"none": [], "int": ["mve"], "fp": ["mve", "mve_fp"]}[mve]
    flag = "none" if fpu == "none" else "auto" if mve != "none" else FPU_FLAG[cpu][fpu]
    return {"features": features, "fpu": flag,
            "float_abi": "soft" if fpu == "none" else "hard"}, notes


def parse_console(text: str | None) -> tuple[str | None, dict]:
    """``KIND[@BASE][,KEY=VALUE...]`` (``stm32_usart@0x40011000,rx_irq=37``) -> (kind, the
    console keys it sets); values are numbers when they read as one, else strings."""
    if not text:
        return None, {}
    head, *pairs = [part.strip() for part in text.split(",")]
    kind, _, base = head.partition("@")
    keys = {"base": base} if base else {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise TinyrtError(f"--console {text}: '{pair}' is not KEY=VALUE",
                              ["--console KIND@BASE[,KEY=VALUE...], e.g. "
                               "stm32_usart@0x40011000,rx_irq=37"])
        keys[key.strip()] = value.strip()
    for key, value in keys.items():
        try:
            keys[key] = int(value, 0)
        except ValueError:
            if key == "base":
                raise TinyrtError(f"--console {text}: '{value}' is not an address",
                                  ["--console KIND@BASE, e.g. stm32_usart@0x40004800"]) from None
    return kind.strip(), keys


def pick_template(cpu: str, console_kind: str | None, machine: str | None) -> dict:
    """The built-in board whose console, counter and board layer the new board takes."""
    builtin = [load_board(b) for b in builtin_board_files()]
    if machine:
        found = [b for b in builtin if b["kind"] == "qemu" and b["flash"]["machine"] == machine]
        known = sorted({b["flash"]["machine"] for b in builtin if b["kind"] == "qemu"})
        what, hint = f"QEMU machine '{machine}'", f"machines with a board layer: {', '.join(known)}"
    else:
        found = [b for b in builtin if b["kind"] == "mcu" and b["console"]["kind"] == console_kind]
        known = sorted({b["console"]["kind"] for b in builtin if b["kind"] == "mcu"})
        what = f"console kind '{console_kind}'"
        hint = (f"console kinds with a board layer: {', '.join(known)} (--console KIND@BASE, "
                f"BASE the UART wired to your probe's serial port)")
        if console_kind is None:
            raise TinyrtError("a board needs its console: which UART reaches the host", [hint])
    if cpu in NO_DWT:  # a layer that counts DWT cycles cannot run on this core
        fitting = [b for b in found if b["counter"]["kind"] != "dwt"]
        if found and not fitting:
            raise TinyrtError(f"the board layer of {what} counts cycles with the DWT, which a "
                              f"{cpu} does not have", [hint])
        found = fitting
    if not found:
        raise TinyrtError(f"no built-in board has {what}", [hint])
    same_cpu = [b for b in found if b["cpu"] == cpu]
    return (same_cpu or found)[0]


def _access(m: dict) -> str:
    return ("rwx" if m["execute"] else "rw") if m["write"] else ("rx" if m["execute"] else "r")


def _ident(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def memory_map(device: dict) -> tuple[dict, list[str]]:
    """Regions named ``flash`` (the startup ROM) and ``sram`` (the largest default RAM), then
    the part's other non-peripheral regions that overlap neither; notes name those left out."""
    mems = {n: m for n, m in device["memory"].items() if not m["peripheral"] and m["length"]}
    secure = any(m["secure"] for m in mems.values())  # TrustZone parts boot Secure
    roms = [n for n, m in mems.items() if m["execute"] and not m["write"]]
    rams = [n for n, m in mems.items() if m["write"]]
    if not roms or not rams:
        raise TinyrtError(f"part {device['part']}'s description gives no "
                          f"{'read-only executable memory (IROM)' if not roms else 'RAM (IRAM)'}",
                          ["check the <memory> elements of its PDSC"])

    def rank(n, *flags):
        m = mems[n]
        return tuple(m[f] for f in flags) + (m["secure"] or not secure, m["length"], -m["origin"])

    rom, ram = max(roms, key=lambda n: rank(n, "startup", "default")), \
        max(rams, key=lambda n: rank(n, "default"))
    chosen = {"flash": mems[rom], "sram": mems[ram]}
    notes = [f"flash = {rom}, sram = {ram} (the PDSC's names)"]
    for name in sorted(mems, key=lambda n: mems[n]["origin"]):
        m = mems[name]
        if name in (rom, ram):
            continue
        if any(_overlap(m, c) for c in chosen.values()):
            notes.append(f"region {name} overlaps another and is left out")
            continue
        ident = _ident(name)
        while ident in chosen:
            ident += "_"
        chosen[ident] = m
    return {n: {"origin": m["origin"], "length": m["length"], "access": _access(m)}
            for n, m in chosen.items()}, notes


def _overlap(a: dict, b: dict) -> bool:
    return a["origin"] < b["origin"] + b["length"] and b["origin"] < a["origin"] + a["length"]


def check_machine(device: dict, memory: dict, template: dict) -> None:
    """On QEMU, the part's flash and SRAM must be memory the machine has."""
    machine = template["flash"]["machine"]
    for name in ("flash", "sram"):
        r = memory[name]
        if not any(r["origin"] >= t["origin"] and r["origin"] + r["length"] <= t["origin"] + t["length"]
                   for t in template["memory"].values()):
            have = ", ".join(f"{n} {t['origin']:#x}-{t['origin'] + t['length']:#x}"
                             for n, t in template["memory"].items())
            raise TinyrtError(f"part {device['part']}'s {name} {r['origin']:#x}-"
                              f"{r['origin'] + r['length']:#x} is not memory on QEMU machine "
                              f"{machine}", [f"{machine} has: {have}"])


def generate(device: dict, board_id: str, console: str | None = None,
             machine: str | None = None, clock_hz: int | None = None) -> dict:
    """The board (a dict in the boards schema) for ``device``, the template it took its
    console and board layer from, and notes for the user."""
    cpu = cpu_of(device)
    kind, console_keys = parse_console(console)
    template = pick_template(cpu, kind, machine)
    isa_keys, notes = isa(device, cpu)
    memory, mem_notes = memory_map(device)
    if machine:
        check_machine(device, memory, template)
    stack = min(template["stack_bytes"], memory["sram"]["length"] // 4 // 8 * 8)
    hz, keep_clock, clock_notes = clock_for(template, device["clock_hz"], clock_hz)
    board = {
        "id": board_id, "description": _description(device, isa_keys, memory),
        "kind": template["kind"], "features": isa_keys["features"], "cpu": cpu,
        "fpu": isa_keys["fpu"], "float_abi": isa_keys["float_abi"],
        "clock_hz": hz, "stack_bytes": stack, "alignment": 8,
        "memory": memory,
        "placement": {"code": "flash", "weights": "flash", "data": "sram", "arena": "sram",
                      "stack": "sram"},
    }
    # The rest is the board's, not the part's: console, counter, board layer, its clock set-up,
    # serial settings, and whatever keys built-in boards grow later, as the template has them.
    board.update({k: copy.deepcopy(v) for k, v in template.items()
                  if k not in board and k not in ("dir", "flash")})
    board["console"].update(console_keys)
    board["firmware"].pop("linker_script", None)  # the template's script is for its memory
    if board["firmware"].get("boot2") and memory["flash"]["origin"] != boot2.XIP_BASE:
        notes.append(f"the template's boot stage 2 (firmware.boot2 = "
                     f"\"{board['firmware'].pop('boot2')}\") runs only from the RP2040's XIP "
                     f"flash at {boot2.XIP_BASE:#x}: left out")
    board["flash"] = copy.deepcopy(template["flash"]) if machine else _pyocd(device)
    if not keep_clock:
        board.pop("clock", None)
    notes = [f"console, counter, board layer and clock from built-in board {template['id']}"] \
        + clock_notes + mem_notes + notes
    if cpu == "cortex-m85":
        notes.append("a Cortex-M85 needs arm-none-eabi-gcc 13 or later")
    return {"board": board, "template": template["id"], "notes": notes}


def clock_for(template: dict, part_max: int | None, asked: int | None) -> tuple[int, bool, list]:
    """The board's ``clock_hz``, whether it keeps the template's ``[clock]``, and notes.

    A ``[clock]`` table sets up exactly one clock (its PLL's, for the template's part); without
    one the firmware leaves the core on its reset clock and reports that (firmware/clock.h). So a
    generated board runs at the template's clock with its ``[clock]``, or at the reset clock
    without: when asked to (``--clock-hz`` = the reset clock) or when the template's clock is
    above the part's maximum (``Dclock``), which its PLL values would overclock."""
    tid, rated, tree = template["id"], template["clock_hz"], template.get("clock")
    told = f"{part_max:,} Hz" if part_max else "not given"
    if tree is None:   # a layer that sets up no clock (the mps2 machines): clock_hz is only told
        hz = asked or rated
        notes = [f"clock_hz {hz:,} (the PDSC's maximum, Dclock, is {told})"]
        if part_max and hz > part_max:
            notes.append(f"clock_hz {hz:,} is above the part's maximum: set --clock-hz")
        return hz, False, notes
    reset, over = tree["reset_hz"], bool(part_max) and rated > part_max
    hz = asked or (reset if over else rated)
    if hz == rated and not over:
        return hz, True, [f"clock_hz {hz:,}: {tid}'s [clock] sets it up (the PDSC's maximum, "
                          f"Dclock, is {told}; --clock-hz {reset} keeps the reset clock)"]
    if hz == reset:
        why = (f"{tid}'s [clock] ({rated:,} Hz) is above the part's maximum, {told}"
               if over and asked is None else f"--clock-hz {hz} is the reset clock")
        return hz, False, [f"clock_hz {hz:,}: no [clock] ({why}): the firmware leaves the core "
                           f"on its reset clock, which INFO reports; a [clock] table for the "
                           f"part sets a faster one (docs/boards.md, Clocks)"]
    raise TinyrtError(
        f"--clock-hz {hz:,}: {tid}'s board layer runs the core at "
        + (f"its reset clock, {reset:,} Hz: its [clock] ({rated:,} Hz) is above the part's "
           f"maximum, {told}" if over else
           f"{rated:,} Hz (its [clock] PLL) or, without [clock], at its reset clock {reset:,} Hz")
        + "; another clock needs a [clock] table that gives it",
        [f"--clock-hz {reset}: no clock set-up, the core stays on its reset clock"]
        + ([] if over else [f"leave out --clock-hz ({rated:,} Hz), then edit [clock] in the "
                            f"written file so its PLL gives your clock, and clock_hz to match "
                            f"(docs/boards.md, Clocks; `tinyrt boards` checks the two agree)"]))


def _pyocd(device: dict) -> dict:
    """pyOCD flashes a pack part by its name in lower case, given the pack (or its cache)."""
    flash = {"method": "pyocd", "target": device["part"].lower()}
    if device["pack"]["file"]:
        flash["pack"] = device["pack"]["file"]
    if device["algorithms"]:
        flash["algorithm"] = device["algorithms"][0]
    return flash


def _description(device: dict, isa_keys: dict, memory: dict) -> str:
    extras = [f.upper() if f != "mve_fp" else "MVE-FP" for f in isa_keys["features"]]
    pack = device["pack"]
    return (f"{device['part']} ({device['vendor']}): {device['core']}"
            f"{' with ' + ', '.join(extras) if extras else ''}, "
            f"{memory['flash']['length'] // 1024} KB flash, {memory['sram']['length'] // 1024} KB "
            f"SRAM; from pack {pack['vendor']}.{pack['name']} {pack['version']}")


def to_toml(board: dict, comments: list[str] = ()) -> str:
    """TOML text for a board dict: top-level keys, then one [table] per table (memory regions
    as [memory.NAME]); addresses and sizes in hex, as the built-in files write them."""
    lines = [f"# {c}" for c in comments]
    _table(lines, "", board)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], name: str, table: dict) -> None:
    inline = bool(name) and any(not isinstance(v, dict) for v in table.values())
    plain = {k: v for k, v in table.items() if inline or not isinstance(v, dict)}
    if name and plain:
        lines += ["", f"[{name}]"]
    lines += [f"{_key(k)} = {_value(k, v)}" for k, v in plain.items()]
    for key, sub in table.items():
        if key not in plain:
            _table(lines, f"{name}.{_key(key)}" if name else _key(key), sub)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(key: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:#010x}" if key in HEX_KEYS else f"{value:_}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(key, v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(k, v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")
