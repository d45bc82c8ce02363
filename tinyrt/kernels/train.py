"""The training kernels' rows of the kernel-variant table: which C kernel computes each step of
a training graph (tinyrt/train/), by step, op, arithmetic and variant.

A training step is not an IR op, so these rows sit in a table of their own with the shape of
tinyrt/variants.py's: ``resolve`` takes the first row whose (step, op, dtype) matches, whose
variant is allowed and whose features the board has. Every row names its header
(templates/kernels/<header>.h) and its function; the arguments are the same for every variant
of a (step, op), so tinyrt/train/lower.py builds them once. Only portable FP32 kernels exist so
far; SIMD or FP16 rows go before the portable row of the same (step, op).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnsupportedOp

STEPS = ("forward", "backward_input", "backward_weights", "bias_grad", "loss", "act_backward",
         "scale", "update", "forward_gap", "backward_gap")


@dataclass(frozen=True)
class TrainKernel:
    step: str                   # one of STEPS
    op: str                     # op type, or "" for the steps that do not depend on the op
    dtype: str                  # "f32" or "f16"
    variant: str                # "portable", "dsp", "mve"
    header: str                 # templates/kernels/<header>.h
    kernel: str                 # the C function
    features: tuple[str, ...] = ()


def _family(header: str, op: str, forward: str, backward_input: str,
            backward_weights: str = "", dtype: str = "f32") -> list[TrainKernel]:
    rows = [TrainKernel("forward", op, dtype, "portable", header, forward),
            TrainKernel("backward_input", op, dtype, "portable", header, backward_input)]
    if backward_weights:
        rows.append(TrainKernel("backward_weights", op, dtype, "portable", header,
                                backward_weights))
    return rows


def _f16(rows: list[TrainKernel]) -> list[TrainKernel]:
    """The FP16 twins of FP32 rows: train_*_f16.h, the same kernel names ending in _f16."""
    return [TrainKernel(k.step, k.op, "f16", k.variant, k.header.replace("_f32", "_f16"),
                        k.kernel.replace("_f32", "_f16"), k.features) for k in rows]


MVE_F16 = ("mve_fp",)


KERNELS: list[TrainKernel] = [
    *_family("train_conv2d_f32", "CONV_2D", "train_conv2d_f32", "train_conv2d_backward_input_f32",
             "train_conv2d_backward_weights_f32"),
    *_family("train_dwconv_f32", "DEPTHWISE_CONV_2D", "train_dwconv_f32",
             "train_dwconv_backward_input_f32", "train_dwconv_backward_weights_f32"),
    *_family("train_fc_f32", "FULLY_CONNECTED", "train_fc_f32", "train_fc_backward_input_f32",
             "train_fc_backward_weights_f32"),
    *_family("train_pool_f32", "AVERAGE_POOL_2D", "train_pool_f32",
             "train_avgpool_backward_input_f32"),
    *_family("train_pool_f32", "MEAN", "train_pool_f32", "train_avgpool_backward_input_f32"),
    *_family("train_pool_f32", "MAX_POOL_2D", "train_pool_f32",
             "train_maxpool_backward_input_f32"),
    TrainKernel("forward_gap", "CONV_2D", "f32", "portable", "train_conv2d_gap_f32",
                "train_conv2d_gap_f32"),
    TrainKernel("backward_gap", "CONV_2D", "f32", "portable", "train_conv2d_gap_f32",
                "train_conv2d_gap_backward_f32"),
    TrainKernel("bias_grad", "", "f32", "portable", "train_bias_f32", "train_bias_grad_f32"),
    TrainKernel("loss", "", "f32", "portable", "train_xent_f32", "train_softmax_xent_f32"),
    TrainKernel("act_backward", "", "f32", "portable", "train_act_f32", "train_act_backward_f32"),
    TrainKernel("scale", "", "f32", "portable", "train_sgd_f32", "train_scale_f32"),
    TrainKernel("update", "", "f32", "portable", "train_sgd_f32", "train_sgd_step_f32"),
]
KERNELS += [
    TrainKernel("backward_weights", "FULLY_CONNECTED", "f16", "mve", "train_fc_f16",
                "train_fc_backward_weights_f16_mve", MVE_F16),
    TrainKernel("scale", "", "f16", "mve", "train_sgd_f16", "train_scale_f16_mve", MVE_F16),
    TrainKernel("update", "", "f16", "mve", "train_sgd_f16", "train_sgd_step_f16_mve", MVE_F16),
    *_f16(KERNELS),
]

# Ops whose backward_input kernel reads each saved input element before writing its gradient
# at the same index (a gather), so the input's gradient may take the input's buffer.
GRAD_IN_PLACE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MEAN")


def resolve(step: str, op: str, board: dict, dtype: str = "f32",
            allowed: tuple[str, ...] = ("portable", "dsp", "mve")) -> TrainKernel:
    features = set(board.get("features", ()))
    for k in KERNELS:
        if (k.step, k.op, k.dtype) == (step, op, dtype) and k.variant in allowed \
                and set(k.features) <= features:
            return k
    raise UnsupportedOp(f"no {'/'.join(allowed)} {dtype} training kernel computes the {step} "
                        f"step{' of ' + op if op else ''}")


def table() -> list[dict]:
    return [{"step": k.step, "op": k.op or "any", "dtype": k.dtype, "variant": k.variant,
             "kernel": k.kernel, "features": list(k.features)} for k in KERNELS]
