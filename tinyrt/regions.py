"""An arena in two memory regions: the hottest buffers in the fast one, the rest beside.

A board whose fast RAM is small (the STM32F746's 64 KB DTCM beside 240 KB of SRAM1) names the
arena's region and, as ``placement.arena_overflow``, where buffers go when it is full. The plan
is packed as one arena first; when that does not fit the arena's region, the buffers are taken
hottest first (the MACs of the ops that touch them per byte: line buffers and kernel scratch
before big tensors read once) into the fast region while they fit, and the rest are packed into
the overflow region. Offsets stay one address space: the fast region's arena is [0, fast), the
other's follows it, and codegen maps an offset to its region (``locate``). No buffer straddles
the two, so every pointer the generated C computes stays in one array.
"""
from __future__ import annotations

import dataclasses

from .errors import TinyrtError
from .ir import Graph
from .ops import op_module
from .packing import pack_best, pack_quick

ARENAS = ("tinyrt_arena", "tinyrt_arena_1")   # the C arrays of the two regions


class ArenaTooBig(TinyrtError):
    """The plan's buffers do not fit the arena's two regions (tinyrt/fit.py then tries
    streaming the first layers)."""


def one_region(board: dict) -> dict:
    """``board`` with its whole arena in ``placement.arena``: a plan's figures when the two
    regions cannot hold it."""
    place = {k: v for k, v in board["placement"].items() if k != "arena_overflow"}
    return {**board, "placement": place}


def capacities(board: dict) -> list[int] | None:
    """Arena bytes of the fast region and of the overflow one, or None for one region. The
    stack is taken out of the region that holds it; static data must live elsewhere (the board
    file says so by its placement: ``check`` refuses otherwise)."""
    place = board.get("placement", {})
    if not place.get("arena_overflow"):
        return None
    mem = board["memory"]
    caps = []
    for name in (place["arena"], place["arena_overflow"]):
        cap = mem[name]["length"]
        if place["stack"] == name:
            cap -= board["stack_bytes"]
        caps.append(cap)
    return caps


def heat(graph: Graph, order: list[int], buf) -> float:
    """MACs of the ops that read or write the buffer, per byte of it."""
    touching = [order[s] for s in range(buf.first, buf.last + 1)
                if buf.scratch_of == order[s] or
                set(buf.tensors) & {*graph.ops[order[s]].inputs, *graph.ops[order[s]].outputs}]
    macs = sum(op_module(graph.ops[i].type).macs(graph, graph.ops[i]) for i in touching)
    return macs / max(1, buf.size)


def split(graph: Graph, plan, caps: list[int]):
    """``plan`` with its buffers in two regions when its arena exceeds the first (the plan as
    it is otherwise); ``plan.regions`` gives each region's arena bytes."""
    if plan.arena_bytes <= caps[0]:
        return dataclasses.replace(plan, regions=[plan.arena_bytes])
    align = plan.alignment
    bufs = sorted((dataclasses.replace(b) for b in plan.buffers),
                  key=lambda b: -heat(graph, plan.order, b))
    fast: list = []
    for b in bufs:
        if pack_quick([*fast, b], align) <= caps[0]:
            fast.append(b)
    in_fast = {id(b) for b in fast}
    slow = [b for b in bufs if id(b) not in in_fast]
    first = -(-pack_best(fast, align) // align) * align if fast else 0
    second = pack_best(slow, align) if slow else 0
    if first > caps[0] or second > caps[1]:
        raise ArenaTooBig(f"the arena does not fit its two regions: {first:,} + {second:,} B "
                          f"against {caps[0]:,} + {caps[1]:,} B",
                          ["patch-based planning (--patch auto) shrinks the arena"])
    for b in slow:
        b.offset += first
    return dataclasses.replace(plan, buffers=bufs, arena_bytes=first + second,
                               regions=[first, second])


def locate(plan, offset: int) -> tuple[str, int]:
    """The C array and the offset in it of arena offset ``offset``."""
    if len(plan.regions) > 1 and offset >= plan.regions[0]:
        return ARENAS[1], offset - plan.regions[0]
    return ARENAS[0], offset
