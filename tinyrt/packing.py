"""Arena packing: an offset for every buffer of a plan, given the buffers' lifetimes and sizes.

Each packer takes ``tinyrt.planner.Buffer``s (only ``first``, ``last`` and ``size`` are read),
sets their ``offset`` and returns the arena size. Packing is dynamic storage allocation: the
arena can never be smaller than the largest sum of aligned sizes live at one step
(``lower_bound``), and a greedy placement may stay above it when a big buffer lands where a
later one needed the space. ``pack_best`` runs the greedy placement in several orders, then a
bounded exact search while the arena is above the bound, and keeps the smallest; it starts from
``pack_greedy``'s result, so it is never worse.
"""
from __future__ import annotations

# (first step, last step, aligned size) of a buffer: all the packers look at
Span = tuple[int, int, int]

SEARCH_NODES = 4000   # nodes of the exact search per pack: it is deterministic, not timed


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _spans(bufs, alignment: int) -> list[Span]:
    return [(b.first, b.last, _align(b.size, alignment)) for b in bufs]


def _assign(bufs, offsets: list[int], alignment: int) -> int:
    for b, off in zip(bufs, offsets):
        b.offset = off
    return max((b.offset + _align(b.size, alignment) for b in bufs), default=0)


def lower_bound(spans: list[Span]) -> int:
    """The largest sum of aligned sizes live at one step: no packing of these spans is smaller."""
    steps = max((last for _, last, _ in spans), default=-1) + 1
    live = [0] * steps
    for first, last, size in spans:
        for s in range(first, last + 1):
            live[s] += size
    return max(live, default=0)


def pack_linear(bufs, alignment: int) -> int:
    """Baseline: every buffer gets its own span. Returns the arena size."""
    offset = 0
    for b in bufs:
        b.offset = offset
        offset += _align(b.size, alignment)
    return offset


def place(spans: list[Span], order: list[int], best_fit: bool = True) -> tuple[list[int], int]:
    """Each span in ``order`` at the lowest offset free among the already placed spans that
    overlap it in time: the smallest gap that fits (``best_fit``, TFLite Micro's rule) or the
    first one. Returns (offsets by span index, arena size)."""
    offsets = [-1] * len(spans)
    placed: list[int] = []
    for i in order:
        first, last, need = spans[i]
        busy = sorted((offsets[j], offsets[j] + spans[j][2]) for j in placed
                      if spans[j][0] <= last and first <= spans[j][1])
        best, best_gap, cursor = None, None, 0
        for start, end in busy:
            gap = start - cursor
            if gap >= need and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
                if not best_fit:
                    break
            cursor = max(cursor, end)
        offsets[i] = best if best is not None else cursor
        placed.append(i)
    return offsets, max((o + s[2] for o, s in zip(offsets, spans)), default=0)


def pack_greedy(bufs, alignment: int) -> int:
    """Largest buffer first, each at the lowest offset where it fits among the already placed
    buffers whose lifetimes overlap its own (TFLite Micro's greedy planner, best-fit gap)."""
    order = sorted(range(len(bufs)), key=lambda i: (-bufs[i].size, bufs[i].first))
    return _assign(bufs, place(_spans(bufs, alignment), order)[0], alignment)


def _orders(spans: list[Span]) -> list[list[int]]:
    """Placement orders worth trying: by size, by area (size x lifetime), by lifetime, by start,
    and by breadth (the buffers of the fullest steps first, Pisarchyk and Lee 2020)."""
    n = range(len(spans))
    keys = [lambda i: (-spans[i][2], spans[i][0]),
            lambda i: (-spans[i][2] * (spans[i][1] - spans[i][0] + 1), -spans[i][2]),
            lambda i: (-(spans[i][1] - spans[i][0]), -spans[i][2]),
            lambda i: (spans[i][0], -spans[i][2]),
            lambda i: (-spans[i][2], -spans[i][1])]
    orders = [sorted(n, key=k) for k in keys]
    steps = max((s[1] for s in spans), default=-1) + 1
    live = [sum(sz for f, l, sz in spans if f <= s <= l) for s in range(steps)]
    breadth: list[int] = []
    for s in sorted(range(steps), key=lambda s: -live[s]):
        breadth += sorted((i for i in n if spans[i][0] <= s <= spans[i][1] and i not in breadth),
                          key=lambda i: -spans[i][2])
    return orders + [breadth]


def pack_quick(bufs, alignment: int) -> int:
    """pack_best without its exact search: for ranking the many trial plans of a search."""
    return pack_best(bufs, alignment, nodes=0)


def pack_best(bufs, alignment: int, nodes: int | None = None) -> int:
    """The smallest arena found: greedy placement in several orders (best and first fit), then,
    while above ``lower_bound``, an exact search bounded to SEARCH_NODES nodes. Starts from
    pack_greedy's placement, so it never needs more."""
    spans = _spans(bufs, alignment)
    bound = lower_bound(spans)
    best = place(spans, sorted(range(len(bufs)), key=lambda i: (-bufs[i].size, bufs[i].first)))
    for order in _orders(spans):
        for best_fit in (True, False):
            if best[1] <= bound:
                return _assign(bufs, best[0], alignment)
            trial = place(spans, order, best_fit)
            if trial[1] < best[1]:
                best = trial
    if best[1] > bound and nodes != 0:
        best = search(spans, bound, best, alignment, SEARCH_NODES if nodes is None else nodes)
    return _assign(bufs, best[0], alignment)


def search(spans: list[Span], bound: int, best: tuple[list[int], int], alignment: int,
           nodes: int = SEARCH_NODES) -> tuple[list[int], int]:
    """Branch and bound below ``best``'s arena. Any packing can be let fall, each buffer
    resting on offset 0 or on a buffer below it; placed in the order of their offsets, each
    then sits on the floor (the highest placed end) of its lifetime. So the search places
    buffers one at a time on their floor, in increasing (offset, index): complete, and pruned
    when some step's floor plus the sizes still to place there exceeds the target."""
    steps = max((s[1] for s in spans), default=-1) + 1
    budget = [nodes]
    while best[1] - alignment >= bound and budget[0] > 0:
        demand = [0] * steps
        for first, last, size in spans:
            for s in range(first, last + 1):
                demand[s] += size
        found = _dfs(spans, [0] * steps, demand, [-1] * len(spans), set(range(len(spans))),
                     (0, -1), best[1] - alignment, budget)
        if found is None:
            break
        best = found
    return best


def _dfs(spans, floor, demand, offsets, todo, last, cap, budget):
    """One node: place each admissible buffer on its floor and recurse; None when nothing
    under ``cap`` exists below this node (or the node budget ran out)."""
    if not todo:
        return list(offsets), max(o + s[2] for o, s in zip(offsets, spans))
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if any(max(f, last[0]) + d > cap for f, d in zip(floor, demand) if d):
        return None
    candidates = []
    for i in todo:
        first, end, size = spans[i]
        at = max(floor[first:end + 1])
        if at + size > cap:
            return None   # floors only rise: this buffer can never fit under cap
        if (at, i) > last:
            candidates.append((at, -size, i))
    for at, _, i in sorted(candidates):
        first, end, size = spans[i]
        saved = floor[first:end + 1]
        floor[first:end + 1] = [at + size] * (end - first + 1)
        for s in range(first, end + 1):
            demand[s] -= size
        offsets[i] = at
        todo.remove(i)
        found = _dfs(spans, floor, demand, offsets, todo, (at, i), cap, budget)
        todo.add(i)
        offsets[i] = -1
        for s in range(first, end + 1):
            demand[s] += size
        floor[first:end + 1] = saved
        if found is not None or budget[0] < 0:
            return found
    return None
