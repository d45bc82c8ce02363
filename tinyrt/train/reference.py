"""The numpy reference of tinyrt's training: the same math as the generated C, in float32.

Same initialisation (the TrainGraph's params), same data order (samples in the order given,
``batch`` consecutive samples per step, a shorter last batch), same arithmetic precision
(float32 arrays; sums may be taken in another order than C's, hence a tolerance), same update
in the same order as the C: a batch begins with ``v *= m``; each sample's loss gradient is
scaled by ``1 / batch`` and its parameter gradients are *added* into v (there is no separate
gradient buffer); the step is ``w -= lr * v``. That is ``v = m * v + G / batch; w -= lr * v``. The tail reads the int8 boundary activation, dequantised as
``scale * (q - zero_point)``; ``boundary_activations`` gets it from tflite-runtime.
``forward``, ``sample``, ``begin``, ``train`` and ``evaluate`` take a ``Precision`` (FP32 by
default): reference16 passes its FP16 one, so both references are this one body.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..reference import Reference
from ..writer import write_tflite
from .graph import TailOp, TrainGraph

F32 = np.float32


def boundary_activations(tg: TrainGraph, inputs: np.ndarray) -> np.ndarray:
    """The int8 boundary activation of each model input (``inputs``: [N, *input shape], the
    model's input dtype), from tflite-runtime: what the generated backbone computes."""
    ref = Reference(write_tflite(tg.backbone_graph()))
    return np.stack([ref.run([x])[0] for x in inputs])


def dequantise(tg: TrainGraph, q: np.ndarray) -> np.ndarray:
    return F32(tg.boundary_scale) * (q.astype(np.int32) - tg.boundary_zero_point).astype(F32)


def _act(y: np.ndarray, act: str) -> np.ndarray:
    if act == "RELU":
        return np.maximum(y, F32(0))
    if act == "RELU6":
        return np.minimum(np.maximum(y, F32(0)), F32(6))
    return y


def act_mask(y: np.ndarray, act: str) -> np.ndarray:
    """d act / d pre-activation, from the saved output (0 at the kinks, as the C kernels)."""
    if act == "RELU":
        return (y > 0).astype(F32)
    if act == "RELU6":
        return ((y > 0) & (y < 6)).astype(F32)
    return np.ones_like(y, F32)


def _patches(x: np.ndarray, op: TailOp) -> np.ndarray:
    """[OH, OW, KH, KW, C] windows of x [H, W, C], zeros outside."""
    g, (oh, ow) = op.geom, op.y_shape[1:3]
    h, w, c = x.shape
    need_h, need_w = (oh - 1) * g["sh"] + g["kh"], (ow - 1) * g["sw"] + g["kw"]
    p = np.zeros((max(need_h, h + g["ph"]), max(need_w, w + g["pw"]), c), F32)
    p[g["ph"]:g["ph"] + h, g["pw"]:g["pw"] + w] = x
    out = np.empty((oh, ow, g["kh"], g["kw"], c), F32)
    for a in range(g["kh"]):
        for b in range(g["kw"]):
            out[:, :, a, b] = p[a:a + (oh - 1) * g["sh"] + 1:g["sh"],
                                b:b + (ow - 1) * g["sw"] + 1:g["sw"]]
    return out


def _unpatch(cols: np.ndarray, op: TailOp) -> np.ndarray:
    """The adjoint of _patches: window gradients summed back into an [H, W, C] gradient."""
    g, (oh, ow) = op.geom, op.y_shape[1:3]
    h, w, c = op.x_shape[1:]
    need_h, need_w = (oh - 1) * g["sh"] + g["kh"], (ow - 1) * g["sw"] + g["kw"]
    p = np.zeros((max(need_h, h + g["ph"]), max(need_w, w + g["pw"]), c), F32)
    for a in range(g["kh"]):
        for b in range(g["kw"]):
            p[a:a + (oh - 1) * g["sh"] + 1:g["sh"], b:b + (ow - 1) * g["sw"] + 1:g["sw"]] += \
                cols[:, :, a, b]
    return p[g["ph"]:g["ph"] + h, g["pw"]:g["pw"] + w]


def _valid(op: TailOp) -> np.ndarray:
    """1 where a window tap lies inside the input: [OH, OW, KH, KW, 1]."""
    return _patches(np.ones(op.x_shape[1:3] + (1,), F32), op)


def weights_of(op: TailOp, params: list[np.ndarray]):
    b = params[op.bias] if op.bias is not None else op.frozen_bias
    return op.full_weight(params), b


def forward_op(op: TailOp, x: np.ndarray, params) -> np.ndarray:
    """One tail op on one sample (x: the op's input, [H, W, C] or [n])."""
    if op.alias:
        return x
    w, b = weights_of(op, params)
    if op.type == "FULLY_CONNECTED":
        y = w @ x.reshape(-1)
    elif op.type == "CONV_2D":
        y = np.einsum("hwabc,oabc->hwo", _patches(x, op), w)
    elif op.type == "DEPTHWISE_CONV_2D":
        c, dm = x.shape[2], op.geom["dm"]
        wr = w.reshape(op.geom["kh"], op.geom["kw"], c, dm)
        y = np.einsum("hwabc,abcm->hwcm", _patches(x, op), wr).reshape(op.y_shape[1:])
    elif op.type == "MAX_POOL_2D":
        cols = np.where(_valid(op) > 0, _patches(x, op), F32(-np.inf))
        y = cols.max(axis=(2, 3))
    else:   # AVERAGE_POOL_2D, MEAN
        y = _patches(x, op).sum(axis=(2, 3)) / _valid(op).sum(axis=(2, 3))
    if b is not None:
        y = y + b
    return _act(y.astype(F32), op.act)


def shaped(op: TailOp, x: np.ndarray, which: str) -> np.ndarray:
    shape = op.x_shape if which == "x" else op.y_shape
    return x.reshape(shape[1:]) if op.type != "FULLY_CONNECTED" else x.reshape(-1)


# train_expf_f32's constants (templates/kernels/train_xent_f32.h), as float32
EXP_LOG2E, EXP_LN2_HI, EXP_LN2_LO = F32(1.44269502), F32(0.693145752), F32(1.42860677e-06)
EXP_POLY = [F32(c) for c in (1.98412701e-04, 1.38888892e-03, 8.33333377e-03, 4.16666679e-02,
                             1.66666672e-01, 0.5, 1.0, 1.0)]


def expf32(x: np.ndarray) -> np.ndarray:
    """exp(x) for x <= 0 as train_expf_f32 computes it: the same float32 operations in the same
    order, so the same bits (numpy's own float32 exp and newlib's expf differ in the last bit
    for some inputs)."""
    x = np.asarray(x, F32)
    k = np.floor(x * EXP_LOG2E + F32(0.5)).astype(F32)
    r = ((x - k * EXP_LN2_HI) - k * EXP_LN2_LO).astype(F32)
    p = np.full_like(r, EXP_POLY[0])
    for c in EXP_POLY[1:]:
        p = (p * r + c).astype(F32)
    scale = ((np.maximum(k, F32(-127)).astype(np.int32) + 127).astype(np.uint32) << 23)
    return np.where(x < F32(-86), F32(0), p * scale.view(F32)).astype(F32)


def xent(logits: np.ndarray, label: int) -> tuple[float, np.ndarray]:
    z = logits.reshape(-1).astype(F32)
    m = z.max()
    e = expf32(z - m)
    s = np.cumsum(e, dtype=F32)[-1]   # in class order, as the C (numpy's sum is pairwise)
    loss = F32(np.log(s)) - (z[label] - m)
    grad = (e / s).astype(F32)
    grad[label] -= F32(1)
    return float(loss), grad


def backward_op(op: TailOp, x: np.ndarray, dy: np.ndarray, params, grads) -> np.ndarray:
    """Add one sample's weight and bias gradients of ``op`` into ``grads``; return the gradient
    of its input (before the input's own activation). ``dy``: gradient of the op's output
    before its activation, shaped like the output."""
    if op.alias:
        return dy
    w, _ = weights_of(op, params)
    if op.bias is not None:
        grads[op.bias] += dy.reshape(-1, dy.shape[-1]).sum(axis=0, dtype=F32)
    rows = op.trained_c or None   # a channel-sparse layer: the trained rows' gradients only
    if op.type == "FULLY_CONNECTED":
        if op.weight is not None:
            grads[op.weight] += np.outer(dy, x.reshape(-1)).astype(F32)[:rows]
        return (w.T @ dy).astype(F32)
    cols = _patches(x, op)
    if op.type == "CONV_2D":
        if op.weight is not None:
            grads[op.weight] += np.einsum("hwo,hwabc->oabc", dy, cols)[:rows]
        return _unpatch(np.einsum("hwo,oabc->hwabc", dy, w), op)
    if op.type == "DEPTHWISE_CONV_2D":
        g, c = op.geom, x.shape[2]
        dyr = dy.reshape(dy.shape[0], dy.shape[1], c, g["dm"])
        wr = w.reshape(g["kh"], g["kw"], c, g["dm"])
        if op.weight is not None:
            grads[op.weight] += np.einsum("hwcm,hwabc->abcm", dyr, cols).reshape(w.shape)
        return _unpatch(np.einsum("hwcm,abcm->hwabc", dyr, wr), op)
    valid = _valid(op)
    if op.type == "MAX_POOL_2D":
        masked = np.where(valid > 0, cols, F32(-np.inf))
        flat = masked.reshape(masked.shape[0], masked.shape[1], -1, masked.shape[-1])
        first = flat.argmax(axis=2)   # the first maximum in (ky, kx) order, as the C kernel
        onehot = (np.arange(flat.shape[2])[None, None, :, None] == first[:, :, None, :])
        return _unpatch((onehot.reshape(cols.shape) * dy[:, :, None, None, :]).astype(F32), op)
    share = (dy / valid.sum(axis=(2, 3))).astype(F32)   # AVERAGE_POOL_2D, MEAN
    return _unpatch((valid * share[:, :, None, None, :]).astype(F32), op)


def step(params, velocity, lr: float) -> None:
    """w -= lr * v (in place, float32)."""
    for w, v in zip(params, velocity):
        w[...] = w - F32(lr) * v


def _same(x):
    return x


@dataclass(frozen=True)
class Precision:
    """What the training stores and how it rounds, between the float32 ops above: FP32 here,
    FP16 in reference16 (the kernels' train_rows_f32.h / train_rows_f16.h)."""
    store: Callable         # an array as stored (rounded to the storage type)
    scalar: Callable        # a factor (momentum, 1/batch) as the kernels hold it
    graph: Callable         # the TrainGraph with its frozen constants as stored
    add: Callable | None    # (op, velocity, sums): add an op's gradient sums into the velocity;
                            # None: backward_op adds them straight into the velocity
    step: Callable          # (params, velocity, lr): the update, in place


FP32 = Precision(store=_same, scalar=F32, graph=_same, add=None, step=step)


def forward(tg: TrainGraph, params, q: np.ndarray,
            precision: Precision = FP32) -> list[np.ndarray]:
    """[x0, y0, y1, ...]: the dequantised boundary and every tail op's output, as stored."""
    acts = [precision.store(dequantise(tg, q))]
    for op in tg.tail:
        acts.append(precision.store(forward_op(op, shaped(op, acts[-1], "x"), params)))
    return acts


def sample(tg: TrainGraph, params, grads, q: np.ndarray, label: int,
           scale: float = 1.0, precision: Precision = FP32) -> tuple[float, int]:
    """Forward, loss and backward of one sample; its gradients times ``scale`` (1 / batch)
    added into ``grads`` (the velocity). Returns (loss, predicted class)."""
    acts = forward(tg, params, q, precision)
    loss, d = xent(acts[-1], label)
    d = precision.store(precision.store(d) * act_mask(acts[-1].reshape(-1), tg.tail[-1].act)
                        * precision.scalar(scale))
    for k in range(len(tg.tail) - 1, -1, -1):
        op = tg.tail[k]
        sums = grads if precision.add is None else [np.zeros_like(v) for v in grads]
        d = backward_op(op, shaped(op, acts[k], "x"), shaped(op, d, "y"), params, sums)
        if precision.add is not None:
            precision.add(op, grads, sums)
        if k > 0 and not op.alias:
            d = precision.store(d) * act_mask(shaped(op, acts[k], "x"), tg.act_of(op.x))
    return loss, int(np.argmax(acts[-1].reshape(-1)))


def begin(velocity, momentum: float, batch: int, precision: Precision = FP32) -> float:
    """A batch begins: v *= m (in place). Returns the per-sample gradient scale, 1 / batch."""
    for v in velocity:
        v[...] = precision.store(v * precision.scalar(momentum))
    return F32(1) / F32(max(batch, 1))


def update(params, grads, velocity, lr: float, momentum: float, batch: int) -> None:
    """The same step with a separate gradient sum G (``sample`` with scale 1 into ``grads``):
    v = m * v + G / batch; w -= lr * v; G = 0 (in place, float32). The maths of
    begin/sample/step in another rounding order (kept for callers that sum gradients apart)."""
    for w, g, v in zip(params, grads, velocity):
        v[...] = F32(momentum) * v + g / F32(batch)
        w[...] = w - F32(lr) * v
        g[...] = 0


def train(tg: TrainGraph, boundary_q: np.ndarray, labels, lr: float, momentum: float,
          batch: int, precision: Precision = FP32) -> dict:
    """Train on the samples in order, ``batch`` at a time. Returns per-sample ``losses`` and
    ``predicted`` classes and the final ``params`` (a list in TrainGraph.params order).
    Plain SGD is momentum 0."""
    tg = precision.graph(tg)
    params = [precision.store(p.init).copy() for p in tg.params]
    velocity = [np.zeros_like(p) for p in params]
    losses, predicted = [], []
    for start in range(0, len(labels), batch):
        chunk = range(start, min(len(labels), start + batch))
        scale = begin(velocity, momentum, len(chunk), precision)
        for i in chunk:
            loss, pred = sample(tg, params, velocity, boundary_q[i], int(labels[i]), scale,
                                precision)
            losses.append(loss)
            predicted.append(pred)
        precision.step(params, velocity, lr)
    return {"losses": losses, "predicted": predicted, "params": params}


def evaluate(tg: TrainGraph, params, boundary_q: np.ndarray,
             precision: Precision = FP32) -> list[int]:
    """The predicted class of each sample with ``params``."""
    tg = precision.graph(tg)
    return [int(np.argmax(forward(tg, params, q, precision)[-1])) for q in boundary_q]
