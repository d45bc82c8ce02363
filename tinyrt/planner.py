"""Memory planning: execution order, buffer lifetimes, in-place reuse and arena offsets.

The plan is data (``Plan``): print it, test it, hand it to codegen. Each stage is a function:

    schedule(graph)                      -> order (op indices)
    buffers(graph, order, scratch)       -> [Buffer] with lifetimes, aliases folded in
    pack_greedy / pack_linear(buffers)   -> offsets, arena size

A *buffer* is a span of the arena shared by one or more tensors: a RESHAPE output aliases its
input, an in-place op's output reuses its input's buffer when the input dies at that op.
Lifetimes are in steps of the schedule; graph inputs are live from step 0, graph outputs until
the last step, so tinyrt_invoke() can copy them in and out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph
from .ops import op_module
from .stream import row_bytes


@dataclass
class Buffer:
    tensors: list[int]          # tensor indices sharing this span; scratch buffers have none
    size: int                   # bytes, unaligned
    first: int                  # first step it is live
    last: int                   # last step it is live (inclusive)
    scratch_of: int | None = None   # op index, for a kernel's scratch buffer
    offset: int = -1
    within: dict[int, int] = field(default_factory=dict)   # tensor -> byte offset in the span

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class Plan:
    order: list[int]
    buffers: list[Buffer]
    arena_bytes: int
    alignment: int
    strategy: str
    live_bytes: list[int] = field(default_factory=list)   # per step: sum of live buffer sizes

    @property
    def peak_live_bytes(self) -> int:
        return max(self.live_bytes, default=0)

    def tensor_offset(self, tensor: int) -> int:
        for b in self.buffers:
            if tensor in b.tensors:
                return b.offset + b.within.get(tensor, 0)
        raise KeyError(f"tensor {tensor} has no arena buffer")

    def inputs_preserved(self, inputs: list[int]) -> bool:
        """True when no other buffer ever occupies the bytes of a graph input, so the input in
        the arena is intact after a run (and may be run again without being written again)."""
        own = [b for b in self.buffers if any(t in inputs for t in b.tensors)]
        if any(len(b.tensors) > 1 for b in own):
            return False   # an alias or in-place output shares the input's bytes
        return not any(o.offset < b.offset + b.size and b.offset < o.offset + o.size
                       for b in own for o in self.buffers if o not in own)

    def scratch_offset(self, op_index: int) -> int | None:
        for b in self.buffers:
            if b.scratch_of == op_index:
                return b.offset
        return None


def schedule(graph: Graph) -> list[int]:
    """Execution order. v1 keeps the model's order (a topological order by construction); the
    patch-based planner replaces this function."""
    return list(range(len(graph.ops)))


def buffers(graph: Graph, order: list[int], scratch: dict[int, int] | None = None,
            stages=()) -> list[Buffer]:
    """Group tensors into arena buffers and compute their lifetimes over ``order``.

    ``stages`` (tinyrt.stream.Stage): the ops of each run interleaved, row by row, over the
    steps of its first to its last op, so everything they touch is live over that whole span;
    tensors that only the stage reads live in line buffers of ``stage.lines[t]`` rows."""
    scratch = scratch or {}
    step_of = {op_i: s for s, op_i in enumerate(order)}
    stage_of = {i: st for st in stages for i in st.ops}
    span_of = {id(st): (step_of[st.ops[0]], step_of[st.ops[-1]]) for st in stages}
    last_step = len(order) - 1
    owner: dict[int, Buffer] = {}
    result: list[Buffer] = []

    consumers = graph.consumers()

    def live_until(t: int) -> int:
        uses = [step_of[c] for c in consumers.get(t, [])]
        return last_step if t in graph.outputs else max(uses, default=-1)

    read = {t: st for st in stages for t in st.lines if t in graph.inputs}
    for t in graph.inputs:
        if t in read:   # read a row at a time: only its line buffer is in the arena
            span = span_of[id(read[t])]
            b = Buffer([t], read[t].lines[t] * row_bytes(graph, t), span[0], span[1])
            owner[t] = b
            result.append(b)
        elif t not in owner:
            b = Buffer([t], graph.t(t).nbytes, 0, max(0, live_until(t)))
            owner[t] = b
            result.append(b)
    for s, op_i in enumerate(order):
        op = graph.ops[op_i]
        mod = op_module(op.type)
        if op_i in stage_of:
            stage = stage_of[op_i]
            span = span_of[id(stage)]
            result += _stage_outputs(graph, stage, op, span, live_until, owner)
            if scratch.get(op_i, 0) > 0:
                result.append(Buffer([], scratch[op_i], span[0], span[1], scratch_of=op_i))
            continue
        for t in op.outputs:
            src = op.inputs[0] if op.inputs else -1
            reuse = (src >= 0 and src in owner and t == op.outputs[0]
                     and (getattr(mod, "ALIAS", False)
                          or (getattr(mod, "INPLACE", False) and _dies_at(graph, owner[src], s)
                              and graph.t(src).nbytes == graph.t(t).nbytes)
                          or (getattr(mod, "inplace_resize", lambda g, o: False)(graph, op)
                              and _dies_at(graph, owner[src], s))))
            if reuse:
                b = owner[src]
                b.size = max(b.size, graph.t(t).nbytes)   # a widening conversion grows it
                b.tensors.append(t)
                b.last = max(b.last, live_until(t), s)
                owner[t] = b
            else:
                b = Buffer([t], graph.t(t).nbytes, s, max(s, live_until(t)))
                owner[t] = b
                result.append(b)
        if scratch.get(op_i, 0) > 0:
            result.append(Buffer([], scratch[op_i], s, s, scratch_of=op_i))
    for stage in stages:   # what a stage reads stays until its last row step
        for i in stage.ops:
            for t in graph.ops[i].inputs:
                if t in owner:
                    owner[t].last = max(owner[t].last, span_of[id(stage)][1])
    return result


def _stage_outputs(graph: Graph, stage, op, span, live_until, owner) -> list[Buffer]:
    new = []
    for t in op.outputs:
        if t in stage.overlap:   # written over the stage's input, behind its read front
            src, delta = stage.overlap[t]
            b = owner[src]
            shift = max(0, -delta)   # an output that must start before the input does
            b.within = {**{k: v + shift for k, v in b.within.items()}, src: shift,
                        t: delta + shift}
            b.size = max(b.size + shift, delta + shift + graph.t(t).nbytes)
            b.tensors.append(t)
            b.last = max(b.last, span[1], live_until(t))
            owner[t] = b
            continue
        if t in stage.lines:
            b = Buffer([t], stage.lines[t] * row_bytes(graph, t), span[0], span[1])
        else:   # whole: read after the stage, or a graph output; written from its first step
            b = Buffer([t], graph.t(t).nbytes, span[0], max(span[1], live_until(t)))
        owner[t] = b
        new.append(b)
    return new


def _dies_at(graph: Graph, buf: Buffer, step: int) -> bool:
    """True when nothing in ``buf`` is read after ``step`` (aliases included)."""
    return buf.last <= step and not any(t in graph.outputs for t in buf.tensors)


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def pack_linear(bufs: list[Buffer], alignment: int) -> int:
    """Baseline: every buffer gets its own span. Returns the arena size."""
    offset = 0
    for b in bufs:
        b.offset = offset
        offset += _align(b.size, alignment)
    return offset


def pack_greedy(bufs: list[Buffer], alignment: int) -> int:
    """Largest buffer first, each at the lowest offset where it fits among the already placed
    buffers whose lifetimes overlap its own (TFLite Micro's greedy planner, best-fit gap)."""
    placed: list[Buffer] = []
    for b in sorted(bufs, key=lambda b: (-b.size, b.first)):
        busy = sorted((p.offset, p.offset + _align(p.size, alignment))
                      for p in placed if p.overlaps_in_time(b))
        need = _align(b.size, alignment)
        best, best_gap, cursor = None, None, 0
        for start, end in busy:
            gap = start - cursor
            if gap >= need and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, end)
        b.offset = best if best is not None else cursor
        placed.append(b)
    return max((b.offset + _align(b.size, alignment) for b in bufs), default=0)


PACKERS = {"greedy": pack_greedy, "linear": pack_linear}


def plan(graph: Graph, scratch: dict[int, int] | None = None, alignment: int = 8,
         strategy: str = "greedy", stages=()) -> Plan:
    order = schedule(graph)
    bufs = buffers(graph, order, scratch, stages)
    arena = PACKERS[strategy](bufs, alignment)
    live = [sum(b.size for b in bufs if b.first <= s <= b.last) for s in range(len(order))]
    return Plan(order=order, buffers=bufs, arena_bytes=arena, alignment=alignment,
                strategy=strategy, live_bytes=live)


def layer_lower_bound(graph: Graph) -> int:
    """The largest input+output footprint of any single op: no schedule of whole layers can
    use less arena (patch-based inference can), except where an op computes in place and its
    output shares its input's bytes."""
    best = 0
    for op in graph.ops:
        ins = {t for t in op.inputs if t >= 0 and not graph.t(t).is_const}
        total = sum(graph.t(t).nbytes for t in ins | set(op.outputs))
        best = max(best, total)
    return best
