"""The training memory plan: every buffer of a training step in static memory, packed with the
same packer as inference (tinyrt/packing.py).

Steps: ``backbone`` (the int8 backbone, in its own arena), one ``forward`` step per computing
tail op, ``loss``, one ``backward`` step per computing tail op in reverse order, ``update``.
Buffers:

- ``params`` and ``velocity`` (``grads`` when built for plain SGD): the trainable parameters
  and the accumulator each sample's gradient is added into (the momentum; there is no
  separate gradient buffer), each one packed block in TrainGraph.params order, live at every
  step;
- ``act:<tensor>``: a tail activation (FP32, or FP16 with ``element_bytes`` 2), from its forward step until nothing reads it: the
  next op's forward, that op's backward (weight gradient, max-pool argmax), and, where that
  op's backward_input kernel is a gather (kernels/train.GRAD_IN_PLACE), the activation's own
  gradient, written over it and read by the producer's backward;
- ``grad:<tensor>``: a gradient with a buffer of its own (after a max pool; the logits);
- the boundary activation stays int8 in the backbone's arena and is dequantised as it is read.

The backbone's arena is shared with the tail: once the backbone ran, only the boundary
activation of its arena is live, so the tail's buffers that start after the backbone step
(activations, gradients, the mask: not the parameters and velocity, live during the backbone
too) are placed into its free bytes (region ``backbone``, around the boundary, first fit,
largest first); the others go into the training arena (region ``train``). The training peak is
the backbone arena plus what remains in the training arena.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..kernels.train import GRAD_IN_PLACE
from ..packing import pack_best, pack_linear
from .graph import TrainGraph

FLOAT = 4
# Bytes of one parameter, velocity, activation or gradient element per training precision
# (--precision): FP16 storage halves every buffer but the mask (docs/training.md).
ELEMENT_BYTES = {"fp32": 4, "fp16": 2}
REGIONS = ("train", "backbone")   # the training arena; the backbone's arena, reused


@dataclass
class TrainBuffer:
    name: str
    size: int          # bytes
    first: int         # first step it is live
    last: int          # last step (inclusive)
    offset: int = -1
    region: str = "train"   # one of REGIONS


@dataclass
class TrainPlan:
    steps: list[str]
    buffers: list[TrainBuffer]
    arena_bytes: int
    alignment: int
    act: dict[int, str]           # tail tensor -> buffer of its activation (aliases resolved)
    grad: dict[int, str]          # tail tensor -> buffer of its gradient
    backbone_arena_bytes: int = 0
    live_bytes: list[int] = field(default_factory=list)
    boundary_offset: int = 0      # of the boundary activation in the backbone's arena
    element_bytes: int = FLOAT    # 4: FP32 tail; 2: FP16 storage

    @property
    def peak_bytes(self) -> int:
        """Training peak of the arenas: the backbone arena (the tail reuses its dead bytes) +
        the training arena."""
        return self.backbone_arena_bytes + self.arena_bytes

    def buffer(self, name: str) -> TrainBuffer:
        return next(b for b in self.buffers if b.name == name)

    def offset(self, name: str) -> int:
        return self.buffer(name).offset

    @property
    def momentum(self) -> bool:
        return any(b.name == "velocity" for b in self.buffers)

    @property
    def accumulator(self) -> str:
        """The buffer each sample's gradient is added into."""
        return "velocity" if self.momentum else "grads"

    def summary(self) -> dict:
        persistent = sum(b.size for b in self.buffers
                         if b.name in ("params", "grads", "velocity"))
        shared = sum(b.size for b in self.buffers if b.region == "backbone")
        return {"training_arena_bytes": self.arena_bytes,
                "backbone_arena_bytes": self.backbone_arena_bytes,
                "training_peak_bytes": self.peak_bytes, "persistent_bytes": persistent,
                "in_backbone_arena_bytes": shared, "steps": len(self.steps)}


def computing(tg: TrainGraph) -> list[int]:
    """Tail ops with a step of their own: not reshapes, not a pool fused into the first conv."""
    return [k for k, op in enumerate(tg.tail) if not op.alias and not (k == 1 and tg.fused_pool)]


def output_of(tg: TrainGraph, k: int):
    """The tail op whose output op k writes (the pool's, for a conv fused with it)."""
    return tg.tail[1] if k == 0 and tg.fused_pool else tg.tail[k]


def mask_bytes(tg: TrainGraph) -> int:
    """The fused conv's activation mask: one bit per element of its output map."""
    op = tg.tail[0]
    return 0 if op.act == "NONE" else (op.y_shape[1] * op.y_shape[2] * op.y_shape[3] + 7) // 8


def _steps(tg: TrainGraph) -> tuple[list[str], dict[int, int], dict[int, int]]:
    computing_ = computing(tg)
    steps = ["backbone"] + [f"forward {tg.tail[k].name}" for k in computing_] + ["loss"]
    fwd = {k: 1 + n for n, k in enumerate(computing_)}
    bwd = {k: len(steps) + n for n, k in enumerate(reversed(computing_))}
    steps += [f"backward {tg.tail[k].name}" for k in reversed(computing_)] + ["update"]
    return steps, fwd, bwd


def _roots(tg: TrainGraph) -> dict[int, int]:
    """Tail tensor -> the tensor whose buffer holds it (a reshape's output is its input)."""
    root = {tg.boundary: tg.boundary}
    for op in tg.tail:
        root[op.y] = root[op.x] if op.alias else op.y
    return root


def plan(tg: TrainGraph, alignment: int = 8, backbone_arena_bytes: int = 0,
         strategy: str = "best", momentum: bool = True,
         boundary_offset: int | None = None, element_bytes: int = FLOAT) -> TrainPlan:
    """``momentum=False``: plain SGD (the accumulator is named ``grads``, same size).
    ``boundary_offset`` (of the boundary in the backbone's arena of ``backbone_arena_bytes``):
    the tail reuses that arena's free bytes; None: it does not. ``element_bytes``: 2 plans the
    FP16 tail (ELEMENT_BYTES)."""
    steps, fwd, bwd = _steps(tg)
    end = len(steps) - 1
    block = tg.param_count * element_bytes
    bufs = [TrainBuffer(name, block, 0, end)
            for name in ("params", "velocity" if momentum else "grads")]
    root = _roots(tg)
    act: dict[int, str] = {}
    grad: dict[int, str] = {}
    ops = computing(tg)
    if tg.fused_pool and mask_bytes(tg):
        bufs.append(TrainBuffer("mask", mask_bytes(tg), fwd[0], bwd[0]))
    for n, k in enumerate(ops):
        op = output_of(tg, k)
        name = f"act:{op.y}"
        size = element_bytes * int(op.y_shape[1] * op.y_shape[2] * op.y_shape[3])
        consumer = ops[n + 1] if n + 1 < len(ops) else None
        if consumer is None:      # the logits: read by the loss, gradient of their own
            bufs.append(TrainBuffer(name, size, fwd[k], steps.index("loss")))
            bufs.append(TrainBuffer(f"grad:{op.y}", size, steps.index("loss"), bwd[k]))
            grad[op.y] = f"grad:{op.y}"
        elif tg.tail[consumer].type in GRAD_IN_PLACE:
            bufs.append(TrainBuffer(name, size, fwd[k], bwd[k]))
            grad[op.y] = name
        else:
            bufs.append(TrainBuffer(name, size, fwd[k], bwd[consumer]))
            bufs.append(TrainBuffer(f"grad:{op.y}", size, bwd[consumer], bwd[k]))
            grad[op.y] = f"grad:{op.y}"
        act[op.y] = name
    for t, r in root.items():   # reshapes share their input's buffers
        if r != t and r in act:
            act[t], grad[t] = act[r], grad[r]
    pack = pack_best if strategy == "best" else pack_linear
    arena = pack(bufs, alignment)
    if boundary_offset is not None and backbone_arena_bytes:
        reserved = (boundary_offset, tg.graph.t(tg.boundary).nbytes, 0, _boundary_last(tg, bwd))
        arena = _share(bufs, backbone_arena_bytes, reserved, alignment, pack, arena)
    live = [sum(b.size for b in bufs if b.first <= s <= b.last) for s in range(len(steps))]
    return TrainPlan(steps, bufs, arena, alignment, act, grad, backbone_arena_bytes, live,
                     boundary_offset or 0, element_bytes)


def _boundary_last(tg: TrainGraph, bwd: dict[int, int]) -> int:
    """The last step that reads the boundary: the first tail op's backward when its weights
    train (their gradient reads its input), else its forward."""
    return bwd[0] if tg.tail[0].weight is not None else 1


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _share(bufs: list[TrainBuffer], size: int, reserved: tuple[int, int, int, int],
           alignment: int, pack, unshared: int) -> int:
    """Place the buffers that start after the backbone step into the backbone arena's free
    bytes (``size``, minus the ``reserved`` (offset, bytes, first, last) boundary), largest
    first at the lowest offset clear of the buffers there that overlap in time; pack the rest
    into the training arena. Returns its size; keeps the unshared plan when that is smaller."""
    before = [(b.offset, b.region) for b in bufs]
    taken = [reserved]
    rest = []
    for b in sorted(bufs, key=lambda b: (-b.size, b.first)):
        spot = _free_spot(taken, b, size, alignment) if b.first > 0 else None
        if spot is None:
            rest.append(b)
            continue
        b.offset, b.region = spot, "backbone"
        taken.append((spot, b.size, b.first, b.last))
    arena = pack(rest, alignment)
    if arena >= unshared:
        for b, (offset, region) in zip(bufs, before):
            b.offset, b.region = offset, region
        return unshared
    return arena


def _free_spot(taken, b: TrainBuffer, size: int, alignment: int) -> int | None:
    busy = sorted((o, o + n) for o, n, first, last in taken if first <= b.last and b.first <= last)
    cursor = 0
    for start, end in busy:
        if start - cursor >= b.size:
            return cursor
        cursor = max(cursor, _align(end, alignment))
    return cursor if size - cursor >= b.size else None
