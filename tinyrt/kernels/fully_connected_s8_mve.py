"""fully_connected_s8_mve: Helium FULLY_CONNECTED (templates/kernels/fully_connected_s8_mve.h),
the GEMM of conv2d_s8_mve with one row per batch."""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops import Buf, Call, Const
from ..ops.common import folded_bias, zero_point
from ..ops.fully_connected import _dims
from . import Kernel
from .conv2d_s8_mve import gemm_weights, layer_requant, pad_to, round_up


def lower(graph: Graph, op: Op, board: dict) -> Call:
    inp, w = graph.t(op.inputs[0]), graph.t(op.inputs[1])
    bias = graph.t(op.inputs[2]).data if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    batches, in_depth, out_depth = _dims(graph, op)
    rq, consts = layer_requant(graph, op, out_depth)
    consts["weights"] = gemm_weights(w.data.reshape(out_depth, in_depth))
    consts["bias"] = pad_to(folded_bias(w.data, bias, zero_point(inp)), round_up(out_depth, 4))
    return Call("fully_connected_s8_mve", "fully_connected_s8_mve",
                [Buf(op.inputs[0]), Const("weights"), Const("bias"), Buf(op.outputs[0]),
                 batches, in_depth, out_depth, *rq], consts)


KERNELS: list = [Kernel("FULLY_CONNECTED", "s8", "mve", lower, features=("mve",))]
