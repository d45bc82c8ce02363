"""fully_connected_s8_dsp: FULLY_CONNECTED int8 on the Arm DSP extension
(templates/kernels/fully_connected_s8_dsp.h).

Blocks of 4 outputs share each load of the int16-expanded input; the weights stay int8, in an
offset-binary pairing that needs one SXTB16 per 4 weights (the header explains the algebra).
Requantisation through tr_requant with the mode proved exact by requant.py.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..ops import Buf, Call, Const, Scratch
from ..ops.common import act_range, channel_multipliers, folded_bias, zero_point
from ..ops.fully_connected import _dims
from . import Kernel, requant

HEADER = "fully_connected_s8_dsp"
ROW_HEAD = 16


def in8(in_depth: int) -> int:
    return (in_depth + 7) // 8 * 8


def scratch_bytes(in_depth: int) -> int:
    """FC_S8_DSP_SCRATCH_BYTES(in_depth): one input row as int16."""
    return 2 * in8(in_depth)


def _wrap32(a: np.ndarray) -> np.ndarray:
    return ((np.asarray(a, np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)


def pack_rows(w: np.ndarray, bias: np.ndarray, rq: dict[str, np.ndarray]) -> np.ndarray:
    """wpack (layout: the header) from weights [out, in] int8, the folded bias and rq_*."""
    out_d, in_d = w.shape
    o4, i8 = (out_d + 3) // 4 * 4, in8(in_d)
    wp = np.zeros((o4, i8), np.int64)
    wp[:out_d, :in_d] = w
    wp[0::2] += 128                                  # outputs o of each pair: offset binary
    g = wp.reshape(o4, i8 // 4, 4)
    # channel pairs (4g, 4g+2), (4g+1, 4g+3): [o4, pairs, 2 (a, b)]
    pairs = np.stack([g[:, :, [0, 2]], g[:, :, [1, 3]]], axis=2).reshape(o4, -1, 2)
    # [blocks, 2 output pairs, 2 (o, o+1), pairs, (a, b)] -> bytes [blocks, pairs, out pair,
    # a, o / o+1, ...]: word = [w[o][a], w[o+1][a], w[o][b], w[o+1][b]]
    blocks = pairs.reshape(o4 // 4, 2, 2, -1, 2).transpose(0, 3, 1, 4, 2)
    words = np.ascontiguousarray(blocks.astype(np.uint8)).reshape(o4 // 4, -1).view("<i4")

    def padded(a):
        a = np.asarray(a, np.int64)
        return np.concatenate([a, np.repeat(a[-1:], o4 - out_d)]).reshape(-1, 4)
    b = padded(bias)
    b[:, 0] = b[:, 0] + 256 * b[:, 1]
    b[:, 2] = b[:, 2] + 256 * b[:, 3]
    head = [_wrap32(b), *[padded(rq[k]).astype(np.int32) for k in ("rq_mult", "rq_shift",
                                                                    "rq_add")]]
    return np.concatenate([*head, words.astype(np.int32)], axis=1).reshape(-1)


def lower(graph: Graph, op: Op, board: dict) -> Call:
    inp, wt, out = graph.t(op.inputs[0]), graph.t(op.inputs[1]), graph.t(op.outputs[0])
    batches, in_depth, out_depth = _dims(graph, op)
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = folded_bias(wt.data, graph.t(op.inputs[2]).data if has_bias else None,
                       zero_point(inp))
    mults, shifts = channel_multipliers(inp, wt, out, out_depth)
    w = wt.data.reshape(out_depth, in_depth)
    mode, rq = requant.mode_and_consts(mults, shifts, zero_point(out), requant.acc_bound(w, bias))
    return Call("fully_connected_s8_dsp", HEADER,
                [Buf(op.inputs[0]), Const("wpack"), Buf(op.outputs[0]), Scratch(), batches,
                 in_depth, out_depth, mode, *act_range(graph, op)],
                {"wpack": pack_rows(w, bias, rq)}, scratch_bytes=scratch_bytes(in_depth))


KERNELS: list = [
    Kernel("FULLY_CONNECTED", "s8", "dsp", lower, features=("dsp",)),
]
