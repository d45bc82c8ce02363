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
op; the rounding happens between ops. The sums are taken in numpy's order, not the C loops':
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


def forward(tg: TrainGraph, params, q: np.ndarray) -> list[np.ndarray]:
    """[x0, y0, y1, ...] in FP16 values (``tg`` from graph16)."""
    acts = [r16(ref32.dequantise(tg, q))]
    for op in tg.tail:
        acts.append(r16(ref32.forward_op(op, ref32.shaped(op, acts[-1], "x"), params)))
    return acts


def sample(tg: TrainGraph, params, velocity, q: np.ndarray, label: int,
           scale: float = 1.0) -> tuple[float, int]:
    """Forward, loss, backward of one sample; each parameter gradient (times ``scale``, folded
    into the loss gradient) added into ``velocity`` as v = half(v + g)."""
    acts = forward(tg, params, q)
    loss, d = ref32.xent(acts[-1], label)
    d = r16(d) * ref32.act_mask(acts[-1].reshape(-1), tg.tail[-1].act)
    d = r16(d * F32(F16(scale)))
    for k in range(len(tg.tail) - 1, -1, -1):
        op = tg.tail[k]
        sums = [np.zeros_like(v) for v in velocity]
        d = ref32.backward_op(op, ref32.shaped(op, acts[k], "x"), ref32.shaped(op, d, "y"),
                              params, sums)
        for i in (op.weight, op.bias):
            if i is None or op.alias:
                continue
            if op.type == "FULLY_CONNECTED" and i == op.weight:   # exact products: one rounding
                velocity[i][...] = (velocity[i].astype(np.float64) + sums[i]).astype(F16)
            else:
                velocity[i][...] = r16(velocity[i] + sums[i])
        if k > 0 and not op.alias:
            d = r16(d) * ref32.act_mask(ref32.shaped(op, acts[k], "x"), tg.act_of(op.x))
    return loss, int(np.argmax(acts[-1].reshape(-1)))


def begin(velocity, momentum: float, batch: int) -> float:
    """v = half(v * half(momentum)) in place; returns 1 / batch (rounded to FP16 where used)."""
    m = F32(F16(momentum))
    for v in velocity:
        v[...] = r16(v * m)
    return float(F32(1) / F32(max(batch, 1)))


def step(params, velocity, lr: float) -> None:
    """w = half(w - half(lr) * v), rounded once (the fused FP16 multiply-add)."""
    minus_lr = np.float64(F16(-lr))
    for w, v in zip(params, velocity):
        w[...] = (w.astype(np.float64) + minus_lr * v.astype(np.float64)).astype(F16)


def train(tg: TrainGraph, boundary_q: np.ndarray, labels, lr: float, momentum: float,
          batch: int) -> dict:
    """As reference.train, in FP16: per-sample ``losses``, ``predicted``, final ``params``."""
    tg = graph16(tg)
    params = init(tg)
    velocity = [np.zeros_like(p) for p in params]
    losses, predicted = [], []
    for start in range(0, len(labels), batch):
        chunk = range(start, min(len(labels), start + batch))
        scale = begin(velocity, momentum, len(chunk))
        for i in chunk:
            loss, pred = sample(tg, params, velocity, boundary_q[i], int(labels[i]), scale)
            losses.append(loss)
            predicted.append(pred)
        step(params, velocity, lr)
    return {"losses": losses, "predicted": predicted, "params": params}


def evaluate(tg: TrainGraph, params, boundary_q: np.ndarray) -> list[int]:
    tg = graph16(tg)
    return [int(np.argmax(forward(tg, params, q)[-1])) for q in boundary_q]
