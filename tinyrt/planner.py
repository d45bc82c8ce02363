"""Memory planning: execution order, buffer lifetimes, in-place reuse and arena offsets.

The plan is data (``Plan``): print it, test it, hand it to codegen. Each stage is a function:

    schedule(graph)                      -> order (op indices): the model's, or one of lower peak
    buffers(graph, order, scratch)       -> [Buffer] with lifetimes, aliases folded in
    PACKERS[strategy](buffers, align)    -> offsets, arena size (tinyrt/packing.py)

A *buffer* is a span of the arena shared by one or more tensors: a RESHAPE output aliases its
input, an in-place op's output reuses its input's buffer when the input dies at that op.
Lifetimes are in steps of the schedule; graph inputs are live from step 0, graph outputs until
the last step, so tinyrt_invoke() can copy them in and out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph
from .ops import op_module
from .packing import pack_best, pack_greedy, pack_linear, pack_quick


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
    # arena bytes per memory region when the board spills the arena (tinyrt/regions.py)
    regions: list[int] = field(default_factory=list)

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


BEAM = 64   # partial orders kept per step by the order search (the smallest peaks so far)


def schedule(graph: Graph) -> list[int]:
    """Execution order: the model's (topological by construction), unless another topological
    order has a lower peak of live bytes, as branched graphs may (run first the branch whose
    output is smaller, so the bigger one is not held while the other runs). A function of the
    graph alone: codegen's stage search and the plan must see the same order."""
    model = list(range(len(graph.ops)))
    found = least_peak_order(graph)
    if found != model and _peak(graph, found) < _peak(graph, model):
        return found
    return model


def _peak(graph: Graph, order: list[int]) -> int:
    bufs = buffers(graph, order)
    return max((sum(b.size for b in bufs if b.first <= s <= b.last) for s in range(len(order))),
               default=0)


@dataclass
class _Costs:
    """What running an op does to the live bytes, whatever the order. A group is a tensor and
    its aliases (one buffer): born when its first tensor is written, dead once every op that
    reads one of its tensors has run (never, for a graph output)."""
    size: dict[int, int]              # group (its first tensor) -> bytes
    readers: dict[int, int]           # group -> bit mask of the ops that read it
    kept: set[int]                    # groups holding a graph output
    born: list[list[int]]             # per op: the groups it writes
    read: list[set[int]]              # per op: the groups it reads
    inplace: list[int | None]         # per op: the group its output may overwrite when it dies
    after: list[int]                  # per op: bit mask of the ops that write its inputs


def _costs(graph: Graph) -> _Costs:
    root = {t: t for t in graph.inputs}
    writer: dict[int, int] = {}
    born, inplace = [], []
    for i, op in enumerate(graph.ops):
        mod, src = op_module(op.type), (op.inputs[0] if op.inputs else -1)
        alias = getattr(mod, "ALIAS", False) and src in root
        same = src in root and op.outputs and graph.t(src).nbytes == graph.t(op.outputs[0]).nbytes
        fits = (getattr(mod, "INPLACE", False) and same) or \
            (src in root and getattr(mod, "inplace_resize", lambda g, o: False)(graph, op))
        inplace.append(root[src] if fits and not alias else None)
        for k, t in enumerate(op.outputs):
            root[t] = root[src] if alias and k == 0 else t
            writer[t] = i
        born.append([t for t in op.outputs if root[t] == t])
    size: dict[int, int] = {}
    readers: dict[int, int] = {}
    for t, r in root.items():
        size[r] = max(size.get(r, 0), graph.t(t).nbytes)
        readers.setdefault(r, 0)
    read, after = [], []
    for i, op in enumerate(graph.ops):
        acts = [t for t in op.inputs if t in root]
        for t in acts:
            readers[root[t]] |= 1 << i
        read.append({root[t] for t in acts})
        after.append(sum({1 << writer[t] for t in acts if t in writer}))
    kept = {root[t] for t in graph.outputs if t in root}
    return _Costs(size, readers, kept, born, read, inplace, after)


def _run(c: _Costs, op: int, done: int, live: int) -> tuple[int, int]:
    """(bytes live while ``op`` runs, bytes live after it) when the ops in ``done`` ran before,
    ``live`` bytes being live then: as ``buffers`` counts them, in-place outputs included."""
    now = done | 1 << op
    dead = lambda g: g not in c.kept and not c.readers[g] & ~now
    new = sum(c.size[g] for g in c.born[op])
    during = live + new
    src = c.inplace[op]
    if src is not None and dead(src):
        during -= min(c.size[src], sum(c.size[g] for g in c.born[op][:1]))
    freed = sum(c.size[g] for g in c.read[op] if dead(g)) + \
        sum(c.size[g] for g in c.born[op] if dead(g))
    return during, live + new - freed


def least_peak_order(graph: Graph, beam: int = BEAM) -> list[int]:
    """A topological order with the least peak of live bytes found by a search over the ready
    ops, step by step, keeping the ``beam`` partial orders of least (peak, live bytes) per step
    (exact while no step has more; one per step on a chain). A partial order is known by its
    set of ops run, which decides the live bytes: of two reaching the same set, the one with
    the lower peak and then the fewer ops moved ahead of the model's order is kept, so the
    model's order wins ties."""
    c = _costs(graph)
    start = sum(c.size[g] for g in {g for g in c.size if g in graph.inputs})
    states = {0: (0, 0, start, ())}   # ops run (bit mask) -> (peak, moves, live bytes, order)
    for _ in graph.ops:
        nxt: dict[int, tuple] = {}
        for done, (peak, moves, live, order) in states.items():
            for op in range(len(graph.ops)):
                if done >> op & 1 or c.after[op] & ~done:
                    continue
                during, left = _run(c, op, done, live)
                cost = (max(peak, during), moves + bin(done >> op).count("1"), left)
                key = done | 1 << op
                if key not in nxt or cost < nxt[key][:3]:
                    nxt[key] = (*cost, order + (op,))
        states = dict(sorted(nxt.items(), key=lambda kv: (kv[1][0], kv[1][2], kv[1][1]))[:beam])
    return list(next(iter(states.values()))[3]) if states else []


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

    read = {t: st for st in stages for t in st.read}
    for t in graph.inputs:
        if t in read:   # read a row at a time: only its line buffer is in the arena
            span = span_of[id(read[t])]
            b = Buffer([t], read[t].line_bytes(graph, t), span[0], span[1])
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
                # the output lands where the input is (which may be inside the buffer: a
                # stage's output written over an earlier input)
                if src in b.within:
                    b.within[t] = b.within[src]
                b.size = max(b.size, b.within.get(t, 0) + graph.t(t).nbytes)
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
            at = b.within.get(src, 0) + delta     # where the output starts in the buffer
            shift = max(0, -at)   # an output that must start before the buffer does
            # every tensor of the buffer moves, also those at its start (no within entry):
            # an in-place op before the stage shares the input's bytes
            b.within = {**{k: b.within.get(k, 0) + shift for k in b.tensors}, t: at + shift}
            b.size = max(b.size + shift, at + shift + graph.t(t).nbytes)
            b.tensors.append(t)
            b.last = max(b.last, span[1], live_until(t))
            owner[t] = b
            continue
        if t in stage.lines:
            b = Buffer([t], stage.line_bytes(graph, t), span[0], span[1])
        else:   # whole: read after the stage, or a graph output; written from its first step
            b = Buffer([t], graph.t(t).nbytes, span[0], max(span[1], live_until(t)))
        owner[t] = b
        new.append(b)
    return new


def _dies_at(graph: Graph, buf: Buffer, step: int) -> bool:
    """True when nothing in ``buf`` is read after ``step`` (aliases included)."""
    return buf.last <= step and not any(t in graph.outputs for t in buf.tensors)


PACKERS = {"greedy": pack_greedy, "linear": pack_linear, "best": pack_best, "quick": pack_quick}


def plan(graph: Graph, scratch: dict[int, int] | None = None, alignment: int = 8,
         strategy: str = "best", stages=(), order: list[int] | None = None) -> Plan:
    """``order``: the schedule, when the caller has it already (a search plans one graph
    many times)."""
    order = order or schedule(graph)
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
