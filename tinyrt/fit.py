"""Fit a model to the board's SRAM: layer by layer when it fits, else its first layers streamed
row by row (tinyrt/stream.py), else a clear error with both needs and the budget."""
from __future__ import annotations

import codegen

from . import regions
from .boards import budgets
from .errors import TinyrtError
from .progress import step


def _copy_bytes(lowered, input_copy: str) -> int:
    """The firmware's copy of the input outside the arena (``--input-copy``; ``auto``: when the
    plan gives the input's bytes to a later tensor), which takes SRAM beside the arena."""
    g = lowered.graph
    keeps = input_copy == "on" or (input_copy == "auto"
                                   and not lowered.plan.inputs_preserved(g.inputs))
    return sum(g.t(t).nbytes for t in g.inputs) if keeps else 0


def fit_to_board(graph, board: dict, compute: str = "auto", quiet: bool = False,
                 strategy: str = "best", input_copy: str = "off"):
    """Lower ``graph``; when its arena and the board's stack do not fit the board's SRAM layer by
    layer, try streaming its first layers (``--patch auto``) before giving up, and say so.
    A plan the user chose (``board["patch"]``) is kept as it is. ``board["sram_budget"]``
    (`--sram-budget`) replaces the board's SRAM as the budget (the host then has one too).
    ``input_copy`` (the deploy's ``--input-copy``) counts the firmware's copy of the input."""
    lowered, too_big = _lower(graph, board, strategy, compute)
    budget = board.get("sram_budget") or (budgets(board)["sram"] if board["kind"] != "host" else 0)
    if not budget or board.get("patch"):
        return _split_or_raise(lowered, too_big)
    stack = board.get("stack_bytes", 0)
    need = lowered.plan.arena_bytes + stack + _copy_bytes(lowered, input_copy)
    if need <= budget:
        return _split_or_raise(lowered, too_big)
    streamed, streamed_too_big = _lower(graph, {**board, "patch": "auto"}, strategy, compute)
    streamed_need = streamed.plan.arena_bytes + stack + _copy_bytes(streamed, input_copy)
    if streamed_need <= budget:
        _split_or_raise(streamed, streamed_too_big)
        step(f"{graph.name} needs {need:,} B of SRAM layer by layer, more than the "
             f"{budget:,} B budget of {board['id']}: its first layers are streamed row by row "
             f"(--patch auto), {streamed_need:,} B", not quiet)
        return streamed
    where = ("--sram-budget" if board.get("sram_budget") else
             f"memory region '{board['placement']['arena']}' and the others that hold data, "
             "arena and stack")
    raise TinyrtError(
        f"{graph.name} does not fit board {board['id']}: its SRAM budget ({where}) is "
        f"{budget:,} B; layer by layer the model "
        f"needs {need:,} B (arena {lowered.plan.arena_bytes:,} + stack {stack:,}"
        f"{_copy_text(lowered, input_copy)}), and with "
        f"patch-based planning (its first layers streamed row by row), the best plan found, "
        f"{streamed_need:,} B: {streamed_need - budget:,} B too many\n"
        f"biggest activations: {biggest(graph)}",
        [*_read_hint(graph, board, compute, stack, budget),
         "a board with more SRAM (`tinyrt boards`)", "a smaller model or a lower resolution",
         f"`tinyrt plan MODEL --board {board['id']} --patch auto --plot plan.png` shows where "
         "the memory goes"])


def _lower(graph, board: dict, strategy: str, compute: str):
    """(lowered, None), or, when the plan does not fit the board's two arena regions
    (``placement.arena_overflow``), (the plan in one region, for its figures, the error)."""
    try:
        return codegen.lower(graph, board, strategy, compute=compute), None
    except regions.ArenaTooBig as e:
        return codegen.lower(graph, regions.one_region(board), strategy, compute=compute), e


def _split_or_raise(lowered, too_big):
    if too_big is not None:
        raise too_big
    return lowered


def _copy_text(lowered, input_copy: str) -> str:
    n = _copy_bytes(lowered, input_copy)
    return f" + input copy {n:,}, --input-copy off drops it" if n else ""


def biggest(graph, n: int = 3) -> str:
    acts = sorted((t for t in range(len(graph.tensors)) if not graph.t(t).is_const),
                  key=lambda t: -graph.t(t).nbytes)[:n]
    return ", ".join(f"'{graph.t(t).name[:40]}' {list(graph.t(t).shape)} {graph.t(t).nbytes:,} B"
                     for t in acts)


def _read_hint(graph, board: dict, compute: str, stack: int, budget: int) -> list[str]:
    """What reading the input row by row (an application change) would need."""
    try:
        need = codegen.lower(graph, {**board, "stream_input": True}, compute=compute)
    except TinyrtError:
        return []
    total = need.plan.arena_bytes + stack
    fits = "fits" if total <= budget else "still does not fit"
    return [f"--stream-input (the application hands the input over row by row): {total:,} B, "
            f"{fits}"]
