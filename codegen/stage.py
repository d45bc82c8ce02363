"""Lower a row-streamed stage (tinyrt/stream.py) to kernel calls on bands of rows.

Every run step is lowered like a whole layer, through the kernel-variant table, on a graph in
which the op computes just that step's rows (``stream.region_op``); its tensor arguments become
``Region`` pointers into the line buffers or whole tensors. The search (``choose``) tries each
prefix of streamable ops and keeps the one with the smallest arena.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyrt import planner, stream, variants
from tinyrt.ir import Graph
from tinyrt.ops import Buf, Call, Region, Scratch
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


def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


def _offset(graph: Graph, stage: stream.Stage, base: dict[int, int], t: int, row: int) -> int:
    first = base.get(t, 0) if t in stage.lines else 0
    return (row - first) * stream.row_bytes(graph, t)


def _run_call(graph, stage, step, base, board, kernels) -> tuple[Call, str]:
    vgraph, vop, where = stream.region_op(graph, step.op, step)
    k = variants.resolve(vgraph, vop, board, kernels)
    call = k.lower(vgraph, vop, board)
    args = []
    for a in call.args:
        if isinstance(a, Buf) and a.tensor in where:
            real, row = where[a.tensor]
            a = Region(real, _offset(graph, stage, base, real, row))
        args.append(a)
    return Call(call.kernel, call.header, args, call.consts, call.scratch_bytes), k.variant


def _pool_calls(graph, stage, step, base, state: int) -> Call:
    op = graph.ops[step.op]
    _, h, w, c = graph.t(op.inputs[0]).shape
    if step.kind == "pool":
        src = op.inputs[0]
        return Call("avgpool2d_s8_rows_add", POOL_HEADER,
                    [Region(src, _offset(graph, stage, base, src, step.row)), Scratch(state),
                     int(step.row == 0), w, c])
    return Call("avgpool2d_s8_rows_out", POOL_HEADER,
                [Scratch(state), Buf(op.outputs[0]), c, h * w, *act_range(graph, op)])


def lower_stage(graph: Graph, stage: stream.Stage, board: dict, kernels) -> StageCode:
    runs = {n: _run_call(graph, stage, step, base, board, kernels)
            for n, (step, base) in enumerate(zip(stage.steps, stage.bases)) if step.kind == "run"}
    kernel_scratch = max((call.scratch_bytes for call, _ in runs.values()), default=0)
    state = _align4(kernel_scratch)          # the global pool's sums follow the kernel scratch
    steps, chosen, consts = [], {}, {}
    for n, (step, base) in enumerate(zip(stage.steps, stage.bases)):
        if step.kind == "read":   # an input row, from the application, into its line buffer
            rb = stream.row_bytes(graph, step.tensor)
            steps.append(("read", step.tensor, _offset(graph, stage, base, step.tensor, step.row),
                          step.row * rb, rb))
        elif step.kind == "shift":
            rb = stream.row_bytes(graph, step.tensor)
            steps.append(("shift", step.tensor, step.rows * rb, step.keep * rb))
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
    return StageCode(stage, steps, scratch, chosen, shifted)


def stage_scratch(graph: Graph, ops: list[int], scratch: dict[int, int]) -> int:
    """The shared scratch of a stage, from the whole layers' scratch (for the search)."""
    kernel = max((scratch.get(i, 0) for i in ops), default=0)
    last = graph.ops[ops[-1]]
    pool = 4 * graph.t(last.inputs[0]).shape[3] if stream._global_pool(graph, last) else 0
    return _align4(kernel) + pool


def iter_stages(graph: Graph, order: list[int], read: tuple[int, ...] = ()):
    """The stages on prefixes of ``order`` made of streamable ops, shortest first, each ending
    where the row schedule pulls every op it holds (a global pool only ends a stage); each
    comes with the bytes of its line buffers, which longer stages only add to."""
    ops = []
    for i in order:
        op = graph.ops[i]
        if not stream.streamable(graph, op):
            return
        ops = ops + [i]
        try:
            stage = stream.simulate(graph, ops, read)
        except ValueError:
            continue
        yield stage, sum(rows * stream.row_bytes(graph, t) for t, rows in stage.lines.items())
        if stream._global_pool(graph, op):
            return


def candidates(graph: Graph, order: list[int]) -> list[stream.Stage]:
    return [stage for stage, _ in iter_stages(graph, order)]


def _arena(graph, scratch, alignment, strategy, stages) -> planner.Plan:
    rest = dict(scratch)
    for st in stages:
        rest = {i: b for i, b in rest.items() if i not in st.ops}
        rest[st.ops[0]] = stage_scratch(graph, st.ops, scratch)
    return planner.plan(graph, rest, alignment, strategy, stages=stages)


WINDOW = 8   # how far before the peak step a new stage may start


def choose(graph: Graph, scratch: dict[int, int], alignment: int, strategy: str,
           patch: str = "auto", read: tuple[int, ...] = ()) -> list[stream.Stage]:
    """The streamed stages of the plan with the smallest arena found: while the plan's peak
    step is not streamed, the stage around it (starting at most WINDOW ops before it) that
    lowers the arena most is added; none when streaming does not help or ``patch`` is "off".
    ``patch`` "@N": one stage from the first op, ending at op N. ``read``: graph inputs to read
    a row at a time; the first stage then starts at the first op."""
    if patch == "off":
        return []
    order = planner.schedule(graph)
    if patch.startswith("@"):
        options = [s for s, _ in iter_stages(graph, order, read) if s.last == int(patch[1:])]
        return options[:1]
    stages: list[stream.Stage] = []
    plan = _arena(graph, scratch, alignment, strategy, stages)
    while True:
        peak = max(range(len(order)), key=lambda s: plan.live_bytes[s])
        taken = {i for st in stages for i in st.ops}
        if order[peak] in taken:
            return stages
        best = None
        starts = range(max(0, peak - WINDOW), peak + 1)
        for start in ([0] if read and not stages else []) + [s for s in starts if s or not read]:
            if any(i in taken for i in order[start:peak + 1]):
                continue
            for stage, lines in iter_stages(graph, order[start:], read if start == 0 else ()):
                if lines > (best[1].arena_bytes if best else plan.arena_bytes):
                    break
                if stage.last in order[:peak] or any(i in taken for i in stage.ops):
                    continue
                trial = _arena(graph, scratch, alignment, strategy, sorted(
                    stages + [stage], key=lambda st: order.index(st.ops[0])))
                if trial.arena_bytes < (best[1].arena_bytes if best else plan.arena_bytes):
                    best = (stage, trial)
        if best is None:
            return stages
        stages = sorted(stages + [best[0]], key=lambda st: order.index(st.ops[0]))
        plan = best[1]
