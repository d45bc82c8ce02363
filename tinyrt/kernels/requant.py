"""The requantisation constants of the SIMD kernels, and the proof that their short form is exact.

``tr_requant`` in templates/runtime/tinyrt_dsp.h computes TFLite's MultiplyByQuantizedMultiplier
plus the output zero point in a few instructions when the accumulator is known to stay small
enough (see the modes there). The generator knows every weight and bias, so it bounds each
channel's accumulator and picks the mode per layer; a layer it cannot prove takes the exact
TR_RQ_EXACT form. Either way the output is TFLite's, bit for bit.
"""
from __future__ import annotations

import numpy as np

from ..ops import Const

EXACT, RIGHT, LEFT = 0, 1, 2
LIMIT = 1 << 31


def acc_bound(weights_by_channel: np.ndarray, bias: np.ndarray, max_abs_input: int = 128) -> np.ndarray:
    """Per output channel, a bound on |accumulator| = |bias + sum(w * x)| over all int8 inputs x
    (|x| <= 128; the input offset is folded into ``bias``). ``weights_by_channel``: [C, taps]."""
    w = np.abs(weights_by_channel.reshape(weights_by_channel.shape[0], -1).astype(np.int64))
    return np.abs(bias.astype(np.int64).reshape(-1)) + max_abs_input * w.sum(axis=1)


def mode_and_consts(mults: np.ndarray, shifts: np.ndarray, out_zp: int,
                    bound: np.ndarray) -> tuple[int, dict[str, np.ndarray]]:
    """The requantisation mode of a layer and its per-channel ``rq_mult``, ``rq_shift``,
    ``rq_add`` arrays (their meaning depends on the mode: tinyrt_dsp.h)."""
    mults = np.asarray(mults, np.int64)
    shifts = np.asarray(shifts, np.int64)
    bound = np.asarray(bound, np.int64)
    if np.all(shifts < 0):
        right = -shifts
        add = (np.int64(1) << (right - 1)) + np.int64(out_zp) * (np.int64(1) << right)
        # SMMULR(2 acc) needs |2 acc| < 2^31; the sum x + add + sign needs |x| + |add| + 1 < 2^31
        # with |x| <= |acc| (the multiplier is below 1 in Q31).
        if np.all(2 * bound < LIMIT) and np.all(bound + np.abs(add) + 1 < LIMIT):
            return RIGHT, _arrays(mults, right, add)
    elif np.all(shifts >= 0):
        left1 = shifts + 1
        if np.all(bound * (np.int64(1) << left1) < LIMIT):
            zp = np.full_like(mults, out_zp)
            return LEFT, _arrays(mults, left1, zp)
    return EXACT, _arrays(mults, shifts, np.full_like(mults, out_zp))


def _arrays(mult, shift, add) -> dict[str, np.ndarray]:
    return {"rq_mult": np.asarray(mult, np.int32), "rq_shift": np.asarray(shift, np.int32),
            "rq_add": np.asarray(add, np.int32)}


def args(mode: int) -> list:
    """The requantisation arguments of a SIMD kernel call: mode, then the three arrays."""
    return [mode, Const("rq_mult"), Const("rq_shift"), Const("rq_add")]
