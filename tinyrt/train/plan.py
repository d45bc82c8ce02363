"""The training memory plan: every buffer of a training step in one static arena, packed with
the same packer as inference (tinyrt/packing.py).

Steps: ``backbone`` (the int8 backbone, in its own arena), one ``forward`` step per computing
tail op, ``loss``, one ``backward`` step per computing tail op in reverse order, ``update``.
Buffers:

- ``params``, ``grads``, ``velocity``: the trainable parameters, their accumulated gradients
  and the momentum (none when built for plain SGD), each one packed block in TrainGraph.params
  order, live at every step;
- ``act:<tensor>``: a tail activation (FP32), from its forward step until nothing reads it: the
  next op's forward, that op's backward (weight gradient, max-pool argmax), and, where that
  op's backward_input kernel is a gather (kernels/train.GRAD_IN_PLACE), the activation's own
  gradient, written over it and read by the producer's backward;
- ``grad:<tensor>``: a gradient with a buffer of its own (after a max pool; the logits);
- the boundary activation stays int8 in the backbone's arena and is dequantised as it is read.

TINYRT_TRAIN_PEAK_BYTES is the backbone arena plus this arena: the two are not shared (the
boundary lives in the backbone's arena while the tail runs).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..kernels.train import GRAD_IN_PLACE
from ..packing import pack_best, pack_linear
from .graph import TrainGraph

FLOAT = 4


@dataclass
class TrainBuffer:
    name: str
    size: int          # bytes
    first: int         # first step it is live
    last: int          # last step (inclusive)
    offset: int = -1


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

    @property
    def peak_bytes(self) -> int:
        """Training peak of the arenas: backbone arena + training arena (not shared)."""
        return self.backbone_arena_bytes + self.arena_bytes

    def offset(self, name: str) -> int:
        return next(b.offset for b in self.buffers if b.name == name)

    @property
    def momentum(self) -> bool:
        return any(b.name == "velocity" for b in self.buffers)

    def summary(self) -> dict:
        persistent = sum(b.size for b in self.buffers
                         if b.name in ("params", "grads", "velocity"))
        return {"training_arena_bytes": self.arena_bytes,
                "backbone_arena_bytes": self.backbone_arena_bytes,
                "training_peak_bytes": self.peak_bytes, "persistent_bytes": persistent,
                "steps": len(self.steps)}


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
         strategy: str = "best", momentum: bool = True) -> TrainPlan:
    """``momentum=False``: plain SGD, no momentum buffer (a third of the persistent bytes)."""
    steps, fwd, bwd = _steps(tg)
    end = len(steps) - 1
    block = tg.param_count * FLOAT
    bufs = [TrainBuffer(name, block, 0, end)
            for name in ("params", "grads", "velocity")[:3 if momentum else 2]]
    root = _roots(tg)
    act: dict[int, str] = {}
    grad: dict[int, str] = {}
    ops = computing(tg)
    if tg.fused_pool and mask_bytes(tg):
        bufs.append(TrainBuffer("mask", mask_bytes(tg), fwd[0], bwd[0]))
    for n, k in enumerate(ops):
        op = output_of(tg, k)
        name = f"act:{op.y}"
        size = FLOAT * int(op.y_shape[1] * op.y_shape[2] * op.y_shape[3])
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
    arena = (pack_best if strategy == "best" else pack_linear)(bufs, alignment)
    live = [sum(b.size for b in bufs if b.first <= s <= b.last) for s in range(len(steps))]
    return TrainPlan(steps, bufs, arena, alignment, act, grad, backbone_arena_bytes, live)
