"""Builders of the SIMD kernel families: one module per templates/kernels/<family>.h, each with
the shape predicates, weight layouts and call arguments of its kernels, and a ``KERNELS`` list of
its rows of the kernel-variant table. tinyrt/variants.py puts those rows, in the order of
``SIMD_FAMILIES``, before the portable kernels of tinyrt/ops/.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from ..ir import Graph, Op
from ..ops import Call

# Helium first: the Cortex-M55 has both features and its MVE kernels are the faster ones.
SIMD_FAMILIES = (
    "conv2d_s8_mve", "dwconv_s8_mve", "fully_connected_s8_mve", "pool2d_s8_mve", "add_s8_mve",
    "conv2d_s8_dsp", "dwconv_s8_dsp", "fully_connected_s8_dsp", "pool2d_s8_dsp", "add_s8_dsp",
)


def _always(graph: Graph, op: Op) -> bool:
    return True


@dataclass(frozen=True)
class Kernel:
    """One row of the kernel-variant table."""
    op: str                     # op type, e.g. "CONV_2D"
    dtype: str                  # "s8", "f32", "f16" or "any"
    variant: str                # "portable", "dsp" or "mve"
    lower: Callable[[Graph, Op, dict], Call]
    when: Callable[[Graph, Op], bool] = _always
    features: tuple[str, ...] = ()
    case: str = ""              # what the predicate selects, for people: "1x1", "3x3", ...


def simd_kernels() -> list[Kernel]:
    rows: list[Kernel] = []
    for name in SIMD_FAMILIES:
        rows += importlib.import_module(f"{__name__}.{name}").KERNELS
    return rows
