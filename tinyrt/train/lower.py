"""Lower a training graph and its plan to C calls (plain data) and render model_train.c/.h.

``lower(tg, plan, board)`` returns a ``TrainCode``: the kernel calls of the forward, loss,
backward and update steps, each a (kernel, header, [argument dicts]) where an argument is a
pointer into the training arena or into the backbone's arena (plan region ``backbone``), the
int8 boundary, a constant array in flash, NULL or a literal; ``render(code)`` prints them through templates/model_train.c.j2 and model_train.h.j2.
The arguments are labelled with the kernel's parameter names read from its header, and a
count mismatch is an error here rather than a C compiler's. ``precision="fp16"`` lowers to the
FP16 kernels (dtype "f16" of tinyrt/kernels/train.py): buffers of tr_f16, the constants and the
initial parameters rounded to FP16 (docs/training.md "FP16 training").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codegen.render import c_float, kernel_params, template_env
from ..kernels import train as table
from .graph import ACTIVATIONS, TailOp, TrainGraph
from .plan import ELEMENT_BYTES, TrainPlan, computing, output_of

DTYPES = {"fp32": "f32", "fp16": "f16"}             # --precision -> kernel-table dtype
CTYPES = {"fp32": "float", "fp16": "tr_f16"}        # the C element of the tail's buffers


@dataclass
class TrainCode:
    tg: TrainGraph
    plan: TrainPlan
    board: dict
    forward: list[dict] = field(default_factory=list)
    loss: dict = field(default_factory=dict)
    loss_act: list[dict] = field(default_factory=list)
    loss_scale: dict = field(default_factory=dict)   # the loss gradient *= 1 / batch
    backward: list[dict] = field(default_factory=list)
    begin: dict = field(default_factory=dict)        # v *= momentum
    divide: dict = field(default_factory=dict)       # v *= 1 / batch (see model_train.c.j2)
    update: dict = field(default_factory=dict)
    consts: list[dict] = field(default_factory=list)
    variants: dict = field(default_factory=dict)   # "step op" -> variant, for reports
    precision: str = "fp32"                          # "fp16": FP16 storage (train_*_f16.h)

    @property
    def headers(self) -> list[str]:
        calls = self.forward + self.backward + self.loss_act + [self.loss, self.loss_scale,
                                                                self.begin, self.update]
        return sorted({c["header"] for c in calls})


def _arena(plan: TrainPlan, name: str, elements: int = 0, ctype: str | None = None) -> dict:
    """A pointer ``elements`` into a planned buffer, typed as the plan's elements unless
    ``ctype`` says otherwise (the mask's bytes)."""
    buf = plan.buffer(name)
    ctype = ctype or ("tr_f16" if plan.element_bytes == 2 else "float")
    return {"kind": "arena", "ctype": ctype, "region": buf.region,
            "offset": buf.offset + plan.element_bytes * elements}


def _lit(v) -> dict:
    return {"kind": "literal", "text": c_float(v) if isinstance(v, float) else str(int(v))}


NULL = {"kind": "literal", "text": "0"}


class _Builder:
    """Argument lists of one training graph's calls."""

    def __init__(self, tg: TrainGraph, plan: TrainPlan, board: dict, code: TrainCode):
        self.tg, self.plan, self.board, self.code = tg, plan, board, code

    def call(self, step: str, op: str, args: list[dict]) -> dict:
        k = table.resolve(step, op, self.board, DTYPES[self.code.precision])
        params = kernel_params(k.header).get(k.kernel)
        if params is None or len(params) != len(args):
            raise AssertionError(f"{k.kernel} takes {params}, {len(args)} arguments were built")
        self.code.variants[f"{step} {op}".strip()] = k.variant
        return {"kernel": k.kernel, "header": k.header,
                "args": [dict(a, param=p) for a, p in zip(args, params)]}

    def const(self, name: str, data: np.ndarray, comment: str) -> dict:
        if any(c["name"] == name for c in self.code.consts):
            return {"kind": "flash", "name": name}
        self.code.consts.append(_const(name, data, comment, self.code.precision))
        return {"kind": "flash", "name": name}

    def tensor_arg(self, op: TailOp, which: str) -> dict:
        """A weight or bias argument: the trainable block, a frozen constant or NULL."""
        index = op.weight if which == "weight" else op.bias
        if index is not None:
            return _arena(self.plan, "params", self.tg.params[index].offset)
        data = op.frozen_weight if which == "weight" else op.frozen_bias
        if data is None:
            return NULL
        return self.const(f"frozen_{op.index}_{which}", data,
                          f"{op.name} {which}s (frozen, dequantised)")

    def weight_args(self, op: TailOp) -> list[dict]:
        """(weights, frozen, trained_c) of train_rows_f32.h: one array and all its rows, or a
        channel-sparse layer's trained rows and its frozen ones."""
        if not op.trained_c:
            return [self.tensor_arg(op, "weight"), NULL, _lit(op.y_shape[3])]
        frozen = self.const(f"frozen_{op.index}_weight", op.frozen_weight,
                            f"{op.name} weights of output channels {op.trained_c}.. "
                            "(frozen, dequantised)")
        return [_arena(self.plan, "params", self.tg.params[op.weight].offset), frozen,
                _lit(op.trained_c)]

    def trained_rows(self, op: TailOp) -> dict:
        return _lit(op.trained_c or op.y_shape[3])

    def input_args(self, op: TailOp) -> list[dict]:
        """(input, in_s8, in_scale, in_zp): the int8 boundary or an FP32 activation."""
        if op.x == self.tg.boundary:
            return [{"kind": "boundary"}, _lit(1), _lit(float(self.tg.boundary_scale)),
                    _lit(self.tg.boundary_zero_point)]
        return [_arena(self.plan, self.plan.act[op.x]), _lit(0), _lit(0.0), _lit(0)]

    def grad_arg(self, op: TailOp, param: int) -> dict:
        """Where a parameter's gradient is added: the velocity (no gradient buffer)."""
        return _arena(self.plan, self.plan.accumulator, self.tg.params[param].offset)


def _const(name: str, data: np.ndarray, comment: str, precision: str) -> dict:
    """A constant array for model_train.c: FP16 values printed as the float literals they are
    (exact), so a tr_f16 array holds the same bits as numpy's float16."""
    values = np.asarray(data, np.float32).reshape(-1)
    if precision == "fp16":
        values = values.astype(np.float16).astype(np.float32)
    return {"name": name, "count": int(values.size), "comment": comment,
            "ctype": CTYPES[precision], "data": np.ascontiguousarray(values)}


def _dims(op: TailOp) -> list[int]:
    g, (_, ih, iw, ic), (_, oh, ow, oc) = op.geom, op.x_shape, op.y_shape
    last = g["dm"] if op.type == "DEPTHWISE_CONV_2D" else oc
    return [ih, iw, ic, oh, ow, last, g["kh"], g["kw"], g["sh"], g["sw"], g["ph"], g["pw"]]


def _pool_dims(op: TailOp) -> list[int]:
    g, (_, ih, iw, ic), (_, oh, ow, _) = op.geom, op.x_shape, op.y_shape
    return [ih, iw, ic, oh, ow, g["kh"], g["kw"], g["sh"], g["sw"], g["ph"], g["pw"]]


def _mask(b: _Builder) -> dict:
    if not any(buf.name == "mask" for buf in b.plan.buffers):
        return NULL
    return _arena(b.plan, "mask", ctype="uint8_t")


def _forward(b: _Builder, op: TailOp) -> dict:
    act = _lit(ACTIVATIONS[op.act])
    if op is b.tg.tail[0] and b.tg.fused_pool:
        pooled = _arena(b.plan, b.plan.act[b.tg.tail[1].y])
        return b.call("forward_gap", op.type, [*b.input_args(op), *b.weight_args(op),
                                               b.tensor_arg(op, "bias"), pooled, _mask(b),
                                               *map(_lit, _dims(op)), act])
    out = _arena(b.plan, b.plan.act[op.y])
    if op.type == "FULLY_CONNECTED":
        sizes = [int(np.prod(op.x_shape)), int(np.prod(op.y_shape))]
        return b.call("forward", op.type, [*b.input_args(op), *b.weight_args(op),
                                           b.tensor_arg(op, "bias"), out,
                                           *map(_lit, sizes), act])
    if op.type == "CONV_2D":
        return b.call("forward", op.type, [*b.input_args(op), *b.weight_args(op),
                                           b.tensor_arg(op, "bias"), out,
                                           *map(_lit, _dims(op)), act])
    if op.type == "DEPTHWISE_CONV_2D":
        return b.call("forward", op.type, [*b.input_args(op), b.tensor_arg(op, "weight"),
                                           b.tensor_arg(op, "bias"), out,
                                           *map(_lit, _dims(op)), act])
    return b.call("forward", op.type, [_arena(b.plan, b.plan.act[op.x]), out,
                                       *map(_lit, _pool_dims(op)),
                                       _lit(op.type == "MAX_POOL_2D"), act])


def _backward_gap(b: _Builder, op: TailOp) -> list[dict]:
    """The fused conv + global pool: its weight and bias gradients in one call."""
    grad = {"weight": NULL, "bias": NULL}
    for which, index in (("weight", op.weight), ("bias", op.bias)):
        if index is not None:
            grad[which] = b.grad_arg(op, index)
    dy = _arena(b.plan, b.plan.grad[b.tg.tail[1].y])
    return [b.call("backward_gap", op.type, [*b.input_args(op), dy, _mask(b), grad["weight"],
                                             b.trained_rows(op), grad["bias"],
                                             *map(_lit, _dims(op))])]


def _backward(b: _Builder, op: TailOp, first: bool) -> list[dict]:
    if first and b.tg.fused_pool:
        return _backward_gap(b, op)
    plan, calls = b.plan, []
    dy = _arena(plan, plan.grad[op.y])
    positions = int(op.y_shape[1] * op.y_shape[2])
    if op.bias is not None:
        calls.append(b.call("bias_grad", "", [dy, b.grad_arg(op, op.bias),
                                              _lit(positions), _lit(op.y_shape[3])]))
    fc = op.type == "FULLY_CONNECTED"
    sizes = [int(np.prod(op.x_shape)), int(np.prod(op.y_shape))] if fc else None
    if op.weight is not None:
        rows = [] if op.type == "DEPTHWISE_CONV_2D" else [b.trained_rows(op)]
        calls.append(b.call("backward_weights", op.type,
                            [*b.input_args(op), dy, b.grad_arg(op, op.weight), *rows,
                             *map(_lit, sizes if fc else _dims(op))]))
    if first:
        return calls
    grad_in = [_arena(plan, plan.grad[op.x]), _arena(plan, plan.act[op.x]),
               _lit(ACTIVATIONS[b.tg.act_of(op.x)])]
    if op.type in ("FULLY_CONNECTED", "CONV_2D"):
        calls.append(b.call("backward_input", op.type,
                            [dy, *b.weight_args(op), *grad_in,
                             *map(_lit, sizes if fc else _dims(op))]))
    elif op.type == "DEPTHWISE_CONV_2D":
        calls.append(b.call("backward_input", op.type,
                            [dy, b.tensor_arg(op, "weight"), *grad_in, *map(_lit, _dims(op))]))
    else:
        calls.append(b.call("backward_input", op.type,
                            [dy, *grad_in, *map(_lit, _pool_dims(op))]))
    return calls


def lower(tg: TrainGraph, plan: TrainPlan, board: dict, precision: str = "fp32") -> TrainCode:
    if plan.element_bytes != ELEMENT_BYTES[precision]:
        raise AssertionError(f"a plan of {plan.element_bytes}-byte elements lowered as {precision}")
    code = TrainCode(tg, plan, board, precision=precision)
    b = _Builder(tg, plan, board, code)
    ops = [tg.tail[k] for k in computing(tg)]
    code.forward = [_forward(b, op) for op in ops]
    last = output_of(tg, computing(tg)[-1])
    logits, dlogits = _arena(plan, plan.act[last.y]), _arena(plan, plan.grad[last.y])
    code.loss = b.call("loss", "", [logits, dlogits, _lit(tg.classes), {"kind": "label"},
                                    {"kind": "predicted"}])
    if last.act != "NONE":
        code.loss_act = [b.call("act_backward", "", [logits, dlogits, _lit(tg.classes),
                                                     _lit(ACTIVATIONS[last.act])])]
    code.loss_scale = b.call("scale", "", [dlogits, _lit(tg.classes), {"kind": "grad_scale"}])
    for op in reversed(ops):
        code.backward += _backward(b, op, op is ops[0])
    acc, count = _arena(plan, plan.accumulator), _lit(tg.param_count)
    code.begin = b.call("scale", "", [acc, count, {"kind": "momentum"}])
    code.divide = b.call("scale", "", [acc, count, {"kind": "inv_batch"}])
    code.update = b.call("update", "", [_arena(plan, "params"), acc, count, {"kind": "lr"}])
    init = np.concatenate([p.init.reshape(-1) for p in tg.params]).astype(np.float32)
    code.consts.insert(0, _const("train_init_params", init,
                                 "initial values of the trainable parameters", precision))
    return code


def context(code: TrainCode) -> dict:
    tg, plan = code.tg, code.plan
    last = output_of(tg, computing(tg)[-1])
    return {"model_name": tg.graph.name, "board": code.board["id"], "headers": code.headers,
            "arena_bytes": plan.arena_bytes, "classes": tg.classes,
            "param_count": tg.param_count, "consts": code.consts,
            "precision": code.precision, "elem_ctype": CTYPES[code.precision],
            "params_bytes": tg.param_count * plan.element_bytes,
            "argmax": f"train_argmax_{DTYPES[code.precision]}",
            "forward": code.forward, "loss": code.loss, "loss_act": code.loss_act,
            "loss_scale": code.loss_scale, "backward": code.backward, "begin": code.begin,
            "divide": code.divide, "update": code.update,
            "params": _arena(plan, "params"), "accumulator": _arena(plan, plan.accumulator),
            "momentum": int(plan.momentum), "logits": _arena(plan, plan.act[last.y]),
            "boundary_offset": plan.boundary_offset,
            "shared": any(b.region == "backbone" for b in plan.buffers),
            "steps": plan.steps,
            "param_list": [{"name": p.name, "shape": list(p.shape),
                            "offset": p.offset, "count": p.size} for p in tg.params],
            "buffers": [{"name": b.name, "offset": b.offset, "size": b.size, "region": b.region,
                         "first": plan.steps[b.first], "last": plan.steps[b.last]}
                        for b in plan.buffers]}


def render(code: TrainCode) -> dict[str, str]:
    env, ctx = template_env(), context(code)
    return {"model_train.c": env.get_template("model_train.c.j2").render(ctx),
            "model_train.h": env.get_template("model_train.h.j2").render(ctx)}
