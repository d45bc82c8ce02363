"""Lower a row-streamed stage (tinyrt/stream.py) to kernel calls on bands of rows.

Every run step is lowered like a whole layer, through the kernel-variant table, on a graph in
which the op computes just that step's rows (``stream.region_op``); its tensor arguments become
``Region`` pointers into the line buffers or whole tensors. The search (``choose``) tries each
prefix of streamable ops and keeps the one with the smallest arena.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyrt import planner, stream, tiles, variants
from tinyrt.ir import Graph
from tinyrt.ops import Buf, Call, Region, Scratch, op_module
from tinyrt.ops.common import act_range

POOL_HEADER = "pool2d_s8_rows"


@dataclass
class StageCode:
    stage: stream.Stage
    # ("call", op, Call), ("shift", tensor, drop, keep) or ("read", tensor, dst, src, bytes)
    steps: list[tuple]
    scratch_bytes: int                  # shared by every step: kernel scratch, then pool sums
    variants: dict[int, str] = field(default_factory=dict)   # op -> variant of its calls
    shifted_bytes: int = 0              # bytes memmove'd per inference
    mac_overhead: float = 0.0           # MACs computed twice at column strips' edges (fraction)


def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


def _offset(graph: Graph, stage: stream.Stage, base: dict[int, int], t: int, row: int,
            col: int | None = None, tile: int = 0) -> int:
    """Where row ``row``, column ``col`` (default: the first the strip holds) of ``t`` is: in
    its line buffer (rows of the strip's width from the first row held), or in the whole
    tensor."""
    pixel = stream.row_bytes(graph, t) // graph.t(t).shape[2]
    c0, _ = stage.columns(graph, t, tile)
    col = c0 if col is None else col
    if t in stage.lines:
        return (row - base.get(t, 0)) * stage.pitch(graph, t, tile) + (col - c0) * pixel
    return row * stream.row_bytes(graph, t) + col * pixel


def _run_call(graph, stage, step, base, board, kernels, cache: dict) -> tuple[Call, str]:
    vgraph, vop, where = stream.region_op(graph, step.op, step, stage)
    # steps of one op with the same band shapes and padding lower alike (only where differs):
    # lower once, since lowering re-lays out the weights
    key = (step.op, tuple(vgraph.t(t).shape for t in (*vop.inputs, *vop.outputs) if t >= 0),
           repr(sorted(vop.attrs.items())))
    if key not in cache:
        k = variants.resolve(vgraph, vop, board, kernels)
        cache[key] = (k, k.lower(vgraph, vop, board))
    k, call = cache[key]
    args = []
    for a in call.args:
        if isinstance(a, Buf) and a.tensor in where:
            real, row, col = where[a.tensor]
            a = Region(real, _offset(graph, stage, base, real, row, col, step.tile))
        args.append(a)
    return Call(call.kernel, call.header, args, call.consts, call.scratch_bytes), k.variant


def _pool_calls(graph, stage, step, base, state: int) -> Call:
    op = graph.ops[step.op]
    _, h, w, c = graph.t(op.inputs[0]).shape
    if step.kind == "pool":
        src = op.inputs[0]
        c0, c1 = stage.columns(graph, src, step.tile)
        return Call("avgpool2d_s8_rows_add", POOL_HEADER,
                    [Region(src, _offset(graph, stage, base, src, step.row, tile=step.tile)),
                     Scratch(state), int(step.row == 0 and step.tile == 0), c1 - c0, c])
    return Call("avgpool2d_s8_rows_out", POOL_HEADER,
                [Scratch(state), Buf(op.outputs[0]), c, h * w, *act_range(graph, op)])


def lower_stage(graph: Graph, stage: stream.Stage, board: dict, kernels) -> StageCode:
    cache: dict = {}
    runs = {n: _run_call(graph, stage, step, base, board, kernels, cache)
            for n, (step, base) in enumerate(zip(stage.steps, stage.bases)) if step.kind == "run"}
    kernel_scratch = max((call.scratch_bytes for call, _ in runs.values()), default=0)
    state = _align4(kernel_scratch)          # the global pool's sums follow the kernel scratch
    steps, chosen, consts = [], {}, {}
    for n, (step, base) in enumerate(zip(stage.steps, stage.bases)):
        if step.kind == "read":   # an input row (strip), from the application, to its line
            t, pitch = step.tensor, stage.pitch(graph, step.tensor, step.tile)
            pixel = stream.row_bytes(graph, t) // graph.t(t).shape[2]
            src = step.row * stream.row_bytes(graph, t) + stage.columns(graph, t, step.tile)[0] * pixel
            steps.append(("read", t, _offset(graph, stage, base, t, step.row, tile=step.tile),
                          src, pitch))
        elif step.kind == "shift":
            pitch = stage.pitch(graph, step.tensor, step.tile)
            steps.append(("shift", step.tensor, step.rows * pitch, step.keep * pitch))
        elif step.kind == "run":
            call, chosen[step.op] = runs[n]
            first = consts.setdefault(step.op, call.consts)
            if any(not np.array_equal(first[name], v) for name, v in call.consts.items()):
                raise AssertionError(f"op {step.op}: constants differ between row steps")
            steps.append(("call", step.op, call))
        else:
            chosen[step.op] = "portable"
            steps.append(("call", step.op, _pool_calls(graph, stage, step, base, state)))
    pooled = stream._global_pool(graph, graph.ops[stage.last])
    scratch = state + 4 * graph.t(graph.ops[stage.last].inputs[0]).shape[3] if pooled \
        else kernel_scratch
    shifted = sum(s[3] for s in steps if s[0] == "shift")
    macs = {i: op_module(graph.ops[i].type).macs(graph, graph.ops[i]) for i in stage.ops}
    overhead = tiles.mac_overhead(graph, stage.ops, stage.cols, macs) if stage.cols else 0.0
    return StageCode(stage, steps, scratch, chosen, shifted, overhead)


def stage_scratch(graph: Graph, ops: list[int], scratch: dict[int, int]) -> int:
    """The shared scratch of a stage, from the whole layers' scratch (for the search)."""
    kernel = max((scratch.get(i, 0) for i in ops), default=0)
    last = graph.ops[ops[-1]]
    pool = 4 * graph.t(last.inputs[0]).shape[3] if stream._global_pool(graph, last) else 0
    return _align4(kernel) + pool


MAX_OVERHEAD = 0.15   # the MACs column strips may compute twice, as a fraction of the stage's
STRIPS = (2, 4)        # column strips tried for a stage whose inputs are read row by row


def _simulate(graph: Graph, ops: list[int], read: tuple[int, ...], tiles: int,
              memo: dict | None) -> stream.Stage:
    """stream.simulate, remembered across the search's rounds (each round tries the stages
    around the new peak again, mostly the same ones)."""
    key = (tuple(ops), read, tiles)
    memo = {} if memo is None else memo
    if key not in memo:
        try:
            memo[key] = stream.simulate(graph, ops, read, tiles)
        except ValueError as e:
            memo[key] = e
    if isinstance(memo[key], ValueError):
        raise memo[key]
    return memo[key]


def _variants(graph: Graph, ops: list[int], read: tuple[int, ...], budget: float,
              memo: dict | None = None):
    """The stage on ``ops`` with whole rows, then in column strips (when its inputs are read row
    by row) within ``budget`` extra MACs; each with the bytes of its line buffers."""
    stage = _simulate(graph, ops, read, 1, memo)
    yield stage, sum(stage.line_bytes(graph, t) for t in stage.lines)
    if not read:
        return
    macs = {i: op_module(graph.ops[i].type).macs(graph, graph.ops[i]) for i in ops}
    for n in STRIPS:
        try:
            tiled = _simulate(graph, ops, read, n, memo)
        except ValueError:
            return
        if tiles.mac_overhead(graph, ops, tiled.cols, macs) <= budget:
            yield tiled, sum(tiled.line_bytes(graph, t) for t in tiled.lines)


def iter_stages(graph: Graph, order: list[int], read: tuple[int, ...] = (),
                budget: float = MAX_OVERHEAD, memo: dict | None = None):
    """The stages on prefixes of ``order`` made of streamable ops, shortest first, each ending
    where the row schedule pulls every op it holds (a global pool only ends a stage); each
    comes as a list of variants (whole rows, column strips) with the bytes of their line
    buffers, which longer stages only add to."""
    ops = []
    for i in order:
        op = graph.ops[i]
        if not stream.streamable(graph, op):
            return
        ops = ops + [i]
        try:
            variants_ = list(_variants(graph, ops, read, budget, memo))
        except ValueError:
            continue
        yield variants_
        if stream._global_pool(graph, op):
            return


def candidates(graph: Graph, order: list[int]) -> list[stream.Stage]:
    return [variants_[0][0] for variants_ in iter_stages(graph, order)]


def _arena(graph, scratch, alignment, strategy, stages, order=None) -> planner.Plan:
    rest = dict(scratch)
    for st in stages:
        rest = {i: b for i, b in rest.items() if i not in st.ops}
        rest[st.ops[0]] = stage_scratch(graph, st.ops, scratch)
    return planner.plan(graph, rest, alignment, strategy, stages=stages, order=order)


WINDOW = 8   # how far before the peak step a new stage may start


def _span_peak(plan: planner.Plan, order: list[int], stage: stream.Stage) -> int:
    first, last = order.index(stage.ops[0]), order.index(stage.ops[-1])
    return max(plan.live_bytes[first:last + 1])


def _split(graph, arena, stages, peak_op, plan, order, budget, memo):
    """The peak lies inside a stage: the stages with that one cut in two (each with its
    variants), when that lowers the arena, or keeps it and lowers the stage's own peak (another
    step may set the arena: the next round then works there). Line buffers of a long stage all
    live at once; two stages hold one tensor whole between them instead, which is smaller at
    low resolution."""
    st = next(st for st in stages if peak_op in st.ops)
    others = [o for o in stages if o is not st]
    best, best_key = None, (plan.arena_bytes, _span_peak(plan, order, st))
    for k in range(1, len(st.ops)):
        try:
            heads = list(_variants(graph, st.ops[:k], st.read, budget, memo))
            tails = list(_variants(graph, st.ops[k:], (), budget, memo))
        except ValueError:
            continue
        for head, _ in heads:
            for tail, _ in tails:
                trial_stages = sorted(others + [head, tail], key=lambda x: order.index(x.ops[0]))
                trial = arena(trial_stages)
                key = (trial.arena_bytes, max(_span_peak(trial, order, head),
                                              _span_peak(trial, order, tail)))
                if key < best_key:
                    best, best_key = (trial_stages, trial), key
    return best


def choose(graph: Graph, scratch: dict[int, int], alignment: int, strategy: str,
           patch: str = "auto", read: tuple[int, ...] = (),
           budget: float = MAX_OVERHEAD) -> list[stream.Stage]:
    """``_choose`` within ``budget``; a budget wider than the default is searched at the default
    too and the smaller arena kept (the search is greedy: more strips allowed early can end in
    a worse plan), so allowing more extra MACs never costs memory."""
    stages = _choose(graph, scratch, alignment, strategy, patch, read, budget)
    if budget <= MAX_OVERHEAD or patch == "off" or patch.startswith("@"):
        return stages
    narrow = _choose(graph, scratch, alignment, strategy, patch, read, MAX_OVERHEAD)
    order = planner.schedule(graph)
    arena = lambda sts: _arena(graph, scratch, alignment, strategy, sts, order).arena_bytes
    return narrow if arena(narrow) < arena(stages) else stages


def _choose(graph: Graph, scratch: dict[int, int], alignment: int, strategy: str,
            patch: str = "auto", read: tuple[int, ...] = (),
            budget: float = MAX_OVERHEAD) -> list[stream.Stage]:
    """The streamed stages of the plan with the smallest arena found: while the plan's peak
    step is not streamed, the stage around it (starting at most WINDOW ops before it) that
    lowers the arena most is added; none when streaming does not help or ``patch`` is "off".
    ``patch`` "@N": one stage from the first op, ending at op N. ``read``: graph inputs to read
    a row at a time; the first stage then starts at the first op."""
    if patch == "off":
        return []
    order = planner.schedule(graph)
    if patch.startswith("@"):
        options = [v[0][0] for v in iter_stages(graph, order, read) if v[0][0].last == int(patch[1:])]
        return options[:1]
    stages: list[stream.Stage] = []
    memo: dict = {}
    # trials are ranked without the packer's exact search (lower() runs it on the stages chosen)
    search = "quick" if strategy == "best" else strategy
    arena = lambda sts: _arena(graph, scratch, alignment, search, sts, order)
    plan = arena(stages)
    while True:
        peak = max(range(len(order)), key=lambda s: plan.live_bytes[s])
        taken = {i for st in stages for i in st.ops}
        if order[peak] in taken:
            split = _split(graph, arena, stages, order[peak], plan, order, budget, memo)
            if split is None:
                return stages
            stages, plan = split
            continue
        best = None
        starts = range(max(0, peak - WINDOW), peak + 1)
        for start in ([0] if read and not stages else []) + [s for s in starts if s or not read]:
            if any(i in taken for i in order[start:peak + 1]):
                continue
            for variants_ in iter_stages(graph, order[start:], read if start == 0 else (),
                                         budget, memo):
                limit = best[1].arena_bytes if best else plan.arena_bytes
                if min(lines for _, lines in variants_) > limit:
                    break
                for stage, lines in variants_:
                    if lines > limit or stage.last in order[:peak] or \
                            any(i in taken for i in stage.ops):
                        continue
                    trial = arena(sorted(stages + [stage], key=lambda st: order.index(st.ops[0])))
                    # ties (another step sets the arena) go to the stage that needs least itself
                    key = (trial.arena_bytes, _span_peak(trial, order, stage))
                    if key < (best[2] if best else (plan.arena_bytes, plan.arena_bytes)):
                        best = (stage, trial, key)
        if best is None:
            return stages
        stages = sorted(stages + [best[0]], key=lambda st: order.index(st.ops[0]))
        plan = best[1]
