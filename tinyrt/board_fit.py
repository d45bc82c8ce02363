"""Does a model fit the board's memory regions? Checked before anything is built or flashed (a
dry run, `tinyrt flash`), from the plan alone or from a built ELF's sizes.

What each role needs (``code``, ``weights``, ``data``, ``arena``, ``stack``) is summed per memory
region by the board's placement, so a board that runs from SRAM (rpi-pico: code and weights in
SRAM) is charged its weights there too. Before a build the code and the firmware's own static
data are unknown: the plan's figure is a lower bound and the refusal says so.

    check(board, plan_needs(lowered, input_copy_bytes), "kws_int8")
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import TinyrtError

ROLES = ("code", "weights", "data", "arena", "arena_overflow", "stack")
LABELS = {"code": "code", "weights": "weights", "data": "static data", "arena": "arena",
          "arena_overflow": "arena (overflow)", "stack": "stack"}


@dataclass(frozen=True)
class Overflow:
    region: str
    length: int
    need: int
    parts: dict[str, int]   # role -> bytes it needs in this region

    @property
    def over(self) -> int:
        return self.need - self.length


def plan_needs(lowered, input_copy_bytes: int = 0) -> dict[str, int]:
    """Bytes per role known from the plan: weights, arena, the board's stack and the input copy
    (static data); code is known only after the build."""
    split = lowered.plan.regions if len(lowered.plan.regions) > 1 else [lowered.plan.arena_bytes, 0]
    return {"code": 0, "weights": lowered.weights_bytes(), "data": input_copy_bytes,
            "arena": split[0], "arena_overflow": split[1],
            "stack": lowered.board.get("stack_bytes", 0)}


def built_needs(sizes, board: dict) -> dict[str, int]:
    """Bytes per role of a built image (``firmware.Sizes`` from its ELF)."""
    from .firmware import _role_bytes
    return _role_bytes(sizes, board)


def overflows(board: dict, needs: dict[str, int]) -> list[Overflow]:
    """The regions whose roles need more bytes than the region has."""
    if board["kind"] == "host":
        return []
    out = []
    for name, region in board["memory"].items():
        parts = {role: needs.get(role, 0) for role in ROLES
                 if board["placement"].get(role) == name and needs.get(role, 0)}
        if sum(parts.values()) > region["length"]:
            out.append(Overflow(name, region["length"], sum(parts.values()), parts))
    return out


def check_plan(lowered, input_copy_bytes: int, model: str) -> None:
    """``check`` before a build: the needs the plan knows, and what its weights are stored as."""
    check(lowered.board, plan_needs(lowered, input_copy_bytes), model, compute=lowered.compute)


def check(board: dict, needs: dict[str, int], model: str, built: bool = False,
          compute: str | None = None) -> None:
    """Refuse, with the budget, the need and what would help, a model that cannot fit.
    ``compute``: what the model computes in (``int8``, ``fp16``, ``fp32``), for the hints."""
    over = overflows(board, needs)
    if not over:
        return
    lines = [f"{model} does not fit board {board['id']}:"]
    label = {**LABELS, **({} if built else {"data": "input copy"})}
    for o in over:
        parts = " + ".join(f"{label[role]} {n:,}" for role, n in o.parts.items())
        total = f" = {o.need:,}" if len(o.parts) > 1 else ""
        lines.append(f"  memory region '{o.region}' has {o.length:,} B; it would hold "
                     f"{parts}{total} B: {o.over:,} B too many")
    if not built:
        lines.append("  (from the plan, before the code and the firmware's own data are added)")
    raise TinyrtError("\n".join(lines), _hints(board, needs, over, compute))


def _hints(board: dict, needs: dict[str, int], over: list[Overflow], compute: str | None) -> list[str]:
    """What would help: shrinking a role that could close an overflow alone (all of them when
    none could), then the boards with room."""
    alone = {role for o in over for role, n in o.parts.items() if n >= o.over}
    roles = alone or {role for o in over for role in o.parts}
    hints = []
    if "arena" in roles:
        hints.append("--patch auto (the first layers streamed row by row) or --stream-input "
                     "shrink the arena; `tinyrt plan MODEL --board "
                     f"{board['id']} --patch auto` shows where the memory goes")
    if "data" in roles and needs.get("data"):
        hints.append("--input-copy off keeps the input in the arena (the application then "
                     "writes it before every run)")
    if "weights" in roles:
        hints.append({"fp32": "int8 weights take a quarter of the bytes, FP16 half "
                               "(`tinyrt quantize`, `--dtype fp16`)",
                      "fp16": "int8 weights take half the bytes (`tinyrt quantize`)"}.get(
                          compute, "a smaller model (fewer or narrower layers)"))
    fits = fitting_boards(needs, exclude=board["id"])
    hints.append(f"boards it fits: {', '.join(fits)}" if fits else
                 "no board tinyrt knows has room for it (`tinyrt boards`)")
    return hints


def fitting_boards(needs: dict[str, int], exclude: str | None = None) -> list[str]:
    """The device boards whose regions hold these needs (their own stack in place of the one in
    ``needs``)."""
    from .boards import board_files, load_board
    out = []
    for board_id in board_files():
        try:
            other = load_board(board_id)
        except TinyrtError:
            continue
        if other["kind"] == "host" or board_id == exclude:
            continue
        if not overflows(other, {**needs, "stack": other["stack_bytes"]}):
            out.append(board_id)
    return out
