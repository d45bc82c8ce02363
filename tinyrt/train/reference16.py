"""The numpy reference of FP16 training (``--precision fp16``): tinyrt/train/reference.py's
maths with every stored value rounded to IEEE half, as the train_*_f16.h kernels do.

What is FP16 and what is not, here and in the C (docs/training.md "FP16 training"):

- stored in FP16: trainable parameters, velocity, every tail activation and gradient, frozen
  constants, the boundary's dequantised value (int8 stays int8; its value is rounded to FP16 as
  it is read), the loss gradient;
- accumulated in float32: every sum (conv/fc/depthwise forward, backward input, weight and
  bias gradients, pooling, the softmax's exponentials); a product of two halves is exact in
  float32, each sum is rounded to FP16 once, when it is stored; a gradient is added into the
  velocity in float32, then rounded (v = half(v + sum)); a FULLY_CONNECTED weight gradient,
  one product per element, is added as one fused FP16 multiply-add (v = half(v + dy * x),
  rounded once: VFMA.F16 on the M55);
- single FP16 operations: v *= momentum, the loss gradient *= 1/batch (half(x * half(f))) and
  the step w = half(w - half(lr) * v), fused (VFMA.F16 on the M55);
- float32: the loss value and the softmax (train_expf_f32, as reference.expf32).

Arrays hold FP16 values as float32 (exact), so reference.py's float32 functions compute each
op; the rounding happens between ops: reference.py's training loop with the FP16 ``Precision``
below. The sums are taken in numpy's order, not the C loops':
a float32 sum can round to the other side of an FP16 half-way point, one unit in the last
place of FP16 (2^-11 relative), and a ReLU or max-pool decision near such a value can differ:
the tolerance of tests/test_train_f16.py.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import reference as ref32
from .graph import TrainGraph

F32, F16 = np.float32, np.float16


def r16(x) -> np.ndarray:
    """Rounded to FP16 (once, from float32), held as float32."""
    return np.asarray(x, F32).astype(F16).astype(F32)


def graph16(tg: TrainGraph) -> TrainGraph:
    """``tg`` with its frozen constants rounded to FP16 (what model_train.c holds in flash)."""
    tail = [dataclasses.replace(
        op, frozen_weight=None if op.frozen_weight is None else r16(op.frozen_weight),
        frozen_bias=None if op.frozen_bias is None else r16(op.frozen_bias)) for op in tg.tail]
    return dataclasses.replace(tg, tail=tail)


def init(tg: TrainGraph) -> list[np.ndarray]:
    return [r16(p.init) for p in tg.params]


def _add_sums(op, velocity, sums) -> None:
    """An op's gradient sums added into the FP16 velocity: v = half(v + g)."""
    for i in (op.weight, op.bias):
        if i is None or op.alias:
            continue
        if op.type == "FULLY_CONNECTED" and i == op.weight:   # exact products: one rounding
            velocity[i][...] = (velocity[i].astype(np.float64) + sums[i]).astype(F16)
        else:
            velocity[i][...] = r16(velocity[i] + sums[i])


def step(params, velocity, lr: float) -> None:
    """w = half(w - half(lr) * v), rounded once (the fused FP16 multiply-add)."""
    minus_lr = np.float64(F16(-lr))
    for w, v in zip(params, velocity):
        w[...] = (w.astype(np.float64) + minus_lr * v.astype(np.float64)).astype(F16)


FP16 = ref32.Precision(store=r16, scalar=lambda s: F32(F16(s)), graph=graph16, add=_add_sums,
                       step=step)


def forward(tg: TrainGraph, params, q: np.ndarray) -> list[np.ndarray]:
    """[x0, y0, y1, ...] in FP16 values (``tg`` from graph16)."""
    return ref32.forward(tg, params, q, FP16)


def sample(tg: TrainGraph, params, velocity, q: np.ndarray, label: int,
           scale: float = 1.0) -> tuple[float, int]:
    """Forward, loss, backward of one sample; each parameter gradient (times ``scale``, folded
    into the loss gradient) added into ``velocity`` as v = half(v + g)."""
    return ref32.sample(tg, params, velocity, q, label, scale, FP16)


def begin(velocity, momentum: float, batch: int) -> float:
    """v = half(v * half(momentum)) in place; returns 1 / batch (rounded to FP16 where used)."""
    return float(ref32.begin(velocity, momentum, batch, FP16))


def train(tg: TrainGraph, boundary_q: np.ndarray, labels, lr: float, momentum: float,
          batch: int) -> dict:
    """As reference.train, in FP16: per-sample ``losses``, ``predicted``, final ``params``."""
    return ref32.train(tg, boundary_q, labels, lr, momentum, batch, FP16)


def evaluate(tg: TrainGraph, params, boundary_q: np.ndarray) -> list[int]:
    return ref32.evaluate(tg, params, boundary_q, FP16)
