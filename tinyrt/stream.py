"""Row-streamed stages: run the first layers of a CNN a few rows at a time, so their
activations never exist whole.

A *stage* is a run of consecutive ops (in the schedule) that can be computed row by row:
convolutions, depthwise convolutions, elementwise ops (ADD/SUB of equal shapes, QUANTIZE,
activations) and, as its last op, a global average pool that accumulates rows. Inside the stage
every tensor that only stage ops read lives in a *line buffer*: the few rows its consumers still
need. The schedule is pulled by the stage's last op, one output row at a time; producing a row
first produces the rows it reads. Nothing is computed twice (no halo recomputation), so the MAC
count does not change; the price is shifting the line buffers (``memmove``) and one kernel call
per row.

Each row step is an ordinary kernel call (the same kernel-variant table, the same kernels) on a
band of rows: the input band [lo, hi) of the full input, with the image's own padding where the
band touches the top (``pad_top``) or bottom (rows past the band read the zero point), so the
results are TFLite's exactly. ``simulate`` computes the schedule and the line buffer sizes as
plain data; codegen lowers the steps and the planner places the buffers.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .ir import Graph, Op, Tensor
from .ops.geometry import window

ELEMENTWISE = {"ADD", "SUB", "QUANTIZE", "RELU", "RELU6", "RELU_N1_TO_1", "HARD_SWISH",
               "LOGISTIC", "TANH"}
WINDOWED = {"CONV_2D", "DEPTHWISE_CONV_2D"}


@dataclass(frozen=True)
class Step:
    """One kernel call of a stage. ``kind`` "run": ``op`` computes output rows [row, row + 1)
    from ``reads`` (per activation input: tensor, first row, end row); "shift": the line buffer
    of ``tensor`` drops its first ``rows`` rows (they are dead); "pool": the global pool ``op``
    adds input row ``row`` to its sums (``first``: start them); "pool_out": it writes the
    averages; "read": row ``row`` of graph input ``tensor`` is read into its line buffer."""
    kind: str              # "run", "shift", "pool", "pool_out" or "read"
    op: int = -1
    row: int = 0
    reads: tuple = ()
    tensor: int = -1
    rows: int = 0
    keep: int = 0          # shift: rows kept (moved to the front)
    tile: int = 0          # the column strip the step works on (tinyrt/tiles.py)


@dataclass
class Stage:
    ops: list[int]                                        # op indices, in schedule order
    steps: list[Step] = field(default_factory=list)
    lines: dict[int, int] = field(default_factory=dict)   # tensor -> rows its buffer holds
    bases: list[dict[int, int]] = field(default_factory=list)   # per step: tensor -> first row held
    # stage output -> (stage input, byte offset from the input's start): the output may be
    # written over the input's bytes there, its rows never landing on input rows still to read
    overlap: dict[int, tuple[int, int]] = field(default_factory=dict)
    # column strips (tinyrt/tiles.py): per strip, tensor -> columns [c0, c1) held; none: whole rows
    cols: list[dict[int, tuple[int, int]]] = field(default_factory=list)
    read: tuple[int, ...] = ()    # graph inputs read a row at a time (tinyrt_read_input)

    @property
    def last(self) -> int:
        return self.ops[-1]

    def columns(self, graph: Graph, t: int, tile: int) -> tuple[int, int]:
        return self.cols[tile].get(t, (0, graph.t(t).shape[2])) if self.cols \
            else (0, graph.t(t).shape[2])

    def pitch(self, graph: Graph, t: int, tile: int) -> int:
        """Bytes of one row of ``t``'s band in a line buffer during strip ``tile``."""
        c0, c1 = self.columns(graph, t, tile)
        return row_bytes(graph, t) // graph.t(t).shape[2] * (c1 - c0)

    def line_bytes(self, graph: Graph, t: int) -> int:
        widest = max(self.pitch(graph, t, k) for k in range(max(1, len(self.cols))))
        return self.lines[t] * widest


def row_bytes(graph: Graph, t: int) -> int:
    n, h, w, c = graph.t(t).shape
    return graph.t(t).nbytes // (n * h)


def _global_pool(graph: Graph, op: Op) -> bool:
    if op.type != "AVERAGE_POOL_2D" or graph.t(op.inputs[0]).dtype != "int8":
        return False
    _, h, w, _ = graph.t(op.inputs[0]).shape
    a = op.attrs
    return (a.get("filter_h"), a.get("filter_w")) == (h, w) and a.get("padding") == "VALID" \
        and tuple(graph.t(op.outputs[0]).shape[1:3]) == (1, 1)


def streamable(graph: Graph, op: Op) -> bool:
    """The op can run a row at a time: 4-D, batch 1, every activation operand of the same height
    and width as the output (elementwise) or read through a window along the rows."""
    acts = [t for t in op.inputs if t >= 0 and not graph.t(t).is_const]
    shapes = [graph.t(t).shape for t in acts + op.outputs]
    if not acts or any(len(s) != 4 or s[0] != 1 for s in shapes) or len(op.outputs) != 1:
        return False
    if op.type in WINDOWED:   # EXPLICIT: a PAD folded in (passes.fuse_pad_into_conv)
        return op.attrs.get("padding", "SAME") in ("SAME", "VALID", "EXPLICIT")
    if op.type in ELEMENTWISE:
        out = graph.t(op.outputs[0]).shape
        return all(graph.t(t).shape == out for t in acts) and len(acts) == len(op.inputs)
    return _global_pool(graph, op)


def axis_window(graph: Graph, op: Op, axis: int = 1) -> tuple[int, int, int, int]:
    """(stride, pad, window size, input size) along ``axis`` (1: rows, 2: columns): output
    position p reads input positions [p * stride - pad, + window) clipped to [0, input size);
    elementwise ops read position p."""
    size = graph.t(op.inputs[0]).shape[axis]
    if op.type in WINDOWED:
        k_h, k_w = graph.t(op.inputs[1]).shape[1:3]
        win = window(graph, op, k_h, k_w, graph.t(op.outputs[0]).shape[3])
        a, k = (win.y, k_h) if axis == 1 else (win.x, k_w)
        return a.stride, a.pad, (k - 1) * a.dilation + 1, size
    return 1, 0, 1, size


def row_window(graph: Graph, op: Op) -> tuple[int, int, int, int]:
    return axis_window(graph, op, 1)


def rows_read(geometry: tuple[int, int, int, int], row: int) -> tuple[int, int]:
    """The input rows [lo, hi) output row ``row`` reads, for ``row_window``'s geometry."""
    stride, pad, size, h = geometry
    start = row * stride - pad
    return max(0, start), min(h, start + size)


def _acts(graph: Graph, op: Op) -> list[int]:
    return [t for t in op.inputs if t >= 0 and not graph.t(t).is_const]


class _Sim:
    """The pull schedule of one stage; run twice: to size the line buffers, then to place
    the shifts that keep every line buffer within its size."""

    def __init__(self, graph: Graph, ops: list[int], lines: dict[int, int] | None,
                 read: tuple[int, ...] = (), tile: int = 0):
        # the sizing run (no ``lines`` yet) records no steps: only their effect on sizes counts
        self.g, self.ops, self.cap, self.tile = graph, ops, lines, tile
        self.producer = {graph.ops[i].outputs[0]: i for i in ops}
        consumers = graph.consumers()
        # graph inputs the application hands over row by row (tinyrt_read_input)
        self.read = [t for t in read if all(c in ops for c in consumers.get(t, []))
                     and any(t in _acts(graph, graph.ops[i]) for i in ops)]
        self.line_tensors = [t for t in self.producer
                             if t not in graph.outputs
                             and all(c in ops for c in consumers.get(t, []))] + self.read
        self.readers = {t: [c for c in consumers.get(t, []) if c in ops]
                        for t in [*self.producer, *self.read]}
        self.produced = {t: 0 for t in [*self.producer, *self.read]}
        self.geometry = {i: row_window(graph, graph.ops[i]) for i in ops}
        self.acts = {i: _acts(graph, graph.ops[i]) for i in ops}
        self.pool = {i: _global_pool(graph, graph.ops[i]) for i in ops}
        self.out_rows = {i: graph.t(graph.ops[i].outputs[0]).shape[1] for i in ops}
        self.next_row = {i: 0 for i in ops}      # next output row (or pooled row) of each op
        self.base = {t: 0 for t in self.line_tensors}
        self.need = {t: 1 for t in self.line_tensors}
        self.steps: list[Step] = []
        self.bases: list[dict[int, int]] = []
        self._snapshot: dict[int, int] | None = None
        # per reader: the first input row each of its output rows reads (a global pool: row r)
        self.first_read = {i: list(range(graph.t(graph.ops[i].inputs[0]).shape[1] + 1))
                           if self.pool[i] else
                           [rows_read(self.geometry[i], r)[0] for r in range(self.out_rows[i])]
                           for i in ops}

    def low(self, t: int) -> int:
        """The first row of ``t`` some reader still needs."""
        lows = [first[self.next_row[c]] for c in self.readers[t]
                if self.next_row[c] < len(first := self.first_read[c])]
        return min(lows, default=self.produced[t])

    def emit(self, kind: str, **fields) -> None:
        if self.cap is not None:
            self.steps.append(Step(kind, tile=self.tile, **fields))
            if self._snapshot is None:        # steps share one copy until a base moves
                self._snapshot = dict(self.base)
            self.bases.append(self._snapshot)

    def make_room(self, t: int) -> None:
        """Before row ``produced[t]`` is written: drop dead rows if the buffer is full."""
        r = self.produced[t]
        low = self.low(t)
        self.need[t] = max(self.need[t], r + 1 - low)
        if self.cap is not None and r + 1 - self.base[t] > self.cap[t]:
            drop = low - self.base[t]
            self.emit("shift", tensor=t, rows=drop, keep=r - low)
            self.base[t] = low
            self._snapshot = None

    def ensure(self, t: int, upto: int) -> None:
        """Produce rows of ``t`` until ``upto`` (exclusive)."""
        if t in self.read:
            while self.produced[t] < upto:
                r = self.produced[t]
                if r >= self.low(t):   # (rows a stride-2 reader skips are not read either)
                    self.make_room(t)
                    self.emit("read", tensor=t, row=r)
                self.produced[t] = r + 1
            return
        if t not in self.producer:
            return    # a stage input: whole in the arena
        while self.produced[t] < upto:
            i = self.producer[t]
            r = self.next_row[i]
            if t in self.base and r < self.low(t):
                # no reader will ever read this row (a stride-2 reader skips it): not computed
                self.next_row[i] = self.produced[t] = r + 1
                continue
            reads = []
            for u in self.acts[i]:
                lo, hi = rows_read(self.geometry[i], r)
                self.ensure(u, hi)
                reads.append((u, lo, hi))
            if t in self.base:
                self.make_room(t)
            self.emit("run", op=i, row=r, reads=tuple(reads))
            self.next_row[i] = r + 1
            self.produced[t] = r + 1

    def run(self) -> None:
        last = self.g.ops[self.ops[-1]]
        if _global_pool(self.g, last):
            src = last.inputs[0]
            for r in range(self.g.t(src).shape[1]):
                self.ensure(src, r + 1)
                self.emit("pool", op=self.ops[-1], row=r, reads=((src, r, r + 1),))
                self.next_row[self.ops[-1]] = r + 1
            self.emit("pool_out", op=self.ops[-1])
        else:
            out = last.outputs[0]
            self.ensure(out, self.g.t(out).shape[1])
        for i in self.ops:   # every op of the stage must have run whole
            t = self.g.ops[i].outputs[0]
            if not _global_pool(self.g, self.g.ops[i]) and self.produced[t] != self.g.t(t).shape[1]:
                raise ValueError(f"op {i} is not needed by the stage's last op")


def simulate(graph: Graph, ops: list[int], read: tuple[int, ...] = (), tiles: int = 1) -> Stage:
    """The row schedule and line buffer sizes of the stage made of ``ops``; the graph inputs
    in ``read`` are not whole in the arena but read a row at a time (``tinyrt_read_input``).
    ``tiles`` > 1: the schedule runs once per column strip (tinyrt/tiles.py); every input of the
    stage must then be read a row at a time (a band of columns of a whole tensor is not
    contiguous), and a ValueError says when the stage cannot be tiled."""
    first = _Sim(graph, ops, None, read)
    first.run()
    lines = {t: first.need[t] for t in first.line_tensors}
    cols = _strips(graph, ops, first, tiles) if tiles > 1 else []
    second = _Sim(graph, ops, lines, read)
    second.run()
    # every strip runs the same schedule on its own columns
    steps = second.steps + [Step(s.kind, s.op, s.row, s.reads, s.tensor, s.rows, s.keep, k)
                            for k in range(1, len(cols)) for s in second.steps]
    bases = second.bases * max(1, len(cols))
    stage = Stage(ops=list(ops), steps=steps, lines=lines, bases=bases, cols=cols,
                  read=tuple(second.read))
    stage.overlap = {} if second.read else _overlaps(graph, stage)
    return stage


def _strips(graph: Graph, ops: list[int], sim: "_Sim", tiles: int) -> list[dict]:
    from .tiles import column_ranges, split
    produced = {graph.ops[i].outputs[0] for i in ops}
    inputs = {u for i in ops for u in _acts(graph, graph.ops[i]) if u not in produced}
    if not inputs <= set(sim.read):
        raise ValueError("a stage is tiled only when its inputs are read row by row")
    # a whole tensor (read after the stage too) is read inside it one row at a time only: a
    # strip of one row is contiguous, a band of several rows is not
    if any(t not in sim.line_tensors and any(sim.geometry[c][2] > 1 for c in sim.readers[t])
           for t in produced):
        raise ValueError("a whole tensor read through a window inside the stage cannot be tiled")
    last = graph.ops[ops[-1]]
    anchor = last.inputs[0] if _global_pool(graph, last) else last.outputs[0]
    return [column_ranges(graph, ops, anchor, strip)
            for strip in split(graph.t(anchor).shape[2], tiles)]


def _overlaps(graph: Graph, stage: Stage) -> dict[int, tuple[int, int]]:
    """The stage's last output written over its input where the write front never reaches a
    row still to be read (StreamNet-style in-place streaming): the largest offset ``delta``
    such that every written row [delta + r * out_row, delta + (r + 1) * out_row) ends before the
    first input byte any step from then on reads (that step's own reads included)."""
    consumers = graph.consumers()
    produced = {graph.ops[i].outputs[0] for i in stage.ops}
    last = graph.ops[stage.last]
    out = last.outputs[0]
    inputs = {u for i in stage.ops for u in _acts(graph, graph.ops[i]) if u not in produced}
    if out in stage.lines or len(inputs) != 1 or _global_pool(graph, last):
        return {}
    [u] = inputs
    if u in graph.outputs or any(c not in stage.ops for c in consumers.get(u, [])):
        return {}
    rb_in, rb_out = row_bytes(graph, u), row_bytes(graph, out)
    low = graph.t(u).shape[1]      # first input row read from step n on (suffix minimum)
    delta = None
    for step in reversed(stage.steps):
        low = min([low] + [lo for t, lo, _ in step.reads if t == u])
        if step.kind == "run" and step.op == stage.last:
            bound = low * rb_in - (step.row + 1) * rb_out
            delta = bound if delta is None else min(delta, bound)
    if delta is None:
        return {}
    return {out: (u, min(delta, max(0, graph.t(u).nbytes - graph.t(out).nbytes)))}


def region_op(graph: Graph, op_index: int, step: Step,
              stage: Stage | None = None) -> tuple[Graph, Op, dict[int, tuple[int, int, int]]]:
    """A graph in which ``op`` computes just the step's rows (and, in a tiled stage, its strip's
    columns): its activation operands are new tensors of the band's shape (appended), its padding
    explicit. Returns the graph, the op and, per new tensor, (real tensor, first row, first
    column of the band)."""
    op = graph.ops[op_index]
    tensors = list(graph.tensors)
    where: dict[int, tuple[int, int, int]] = {}
    out = op.outputs[0]
    cols = (lambda t: stage.columns(graph, t, step.tile)) if stage else \
        (lambda t: (0, graph.t(t).shape[2]))

    def band(t: int, lo: int, hi: int, c0: int, c1: int) -> int:
        real = graph.t(t)
        n, _, _, c = real.shape
        tensors.append(Tensor(f"{real.name}[{lo}:{hi}, {c0}:{c1}]", (n, hi - lo, c1 - c0, c),
                              real.dtype, real.quant))
        where[len(tensors) - 1] = (t, lo, c0)
        return len(tensors) - 1

    reads = {u: (lo, hi) for u, lo, hi in step.reads}
    # a window op reads every column its input holds; an elementwise op its output's columns
    span = (lambda t: cols(t)) if op.type in WINDOWED else (lambda t: cols(out))
    inputs = [band(t, *reads[t], *span(t)) if t in reads else t for t in op.inputs]
    outputs = [band(out, step.row, step.row + 1, *cols(out))]
    attrs = dict(op.attrs)
    if op.type in WINDOWED:
        k_h, k_w = graph.t(op.inputs[1]).shape[1:3]
        win = window(graph, op, k_h, k_w, graph.t(out).shape[3])
        lo = reads[op.inputs[0]][0]
        attrs.update(padding="EXPLICIT", pad_top=lo - (step.row * win.y.stride - win.y.pad),
                     pad_left=cols(op.inputs[0])[0] - (cols(out)[0] * win.x.stride - win.x.pad))
    vop = dataclasses.replace(op, inputs=inputs, outputs=outputs, attrs=attrs)
    ops = list(graph.ops)
    ops[op_index] = vop
    return graph.replace(tensors=tensors, ops=ops), vop, where
