"""Synthetic inputs for models whose real data is not at hand (the MLPerf Tiny models in tests and
``bench quant``): smooth random fields, not white noise, so that activations look more like
those of images, spectrograms and MFCCs, and the float models do not predict one class for all.

A sample is a sum of random noise octaves (coarse grids upsampled with linear interpolation,
each octave half the amplitude of the one before) over the spatial axes, mapped by a random
affine map into the range [lo, hi] and clipped there. The range is the one TensorFlow's int8
model of the same network covers at its input (its input scale and zero point), which is the
only trace of the real data distribution the shared models carry.
"""
from __future__ import annotations

import numpy as np

from ..ir import Graph


def input_range(int8_graph: Graph, index: int = 0) -> tuple[float, float]:
    """The real range an int8 model's input covers: scale * ([-128, 127] - zero_point)."""
    q = int8_graph.t(int8_graph.inputs[index]).quant
    scale, zp = float(q.scale[0]), int(q.zero_point[0])
    return scale * (-128 - zp), scale * (127 - zp)


def smooth_inputs(shape: tuple[int, ...], lo: float, hi: float, count: int, seed: int
                  ) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[_sample(tuple(shape), lo, hi, rng)] for _ in range(count)]


def _sample(shape, lo, hi, rng) -> np.ndarray:
    spatial = [d for d in shape[1:-1]] if len(shape) >= 3 else [shape[-1]]
    channels = shape[-1] if len(shape) >= 3 else 1
    field = np.zeros(spatial + [channels])
    amp = 1.0
    for octave in range(4):
        grid = [max(2, min(d, 2 ** (octave + 1))) for d in spatial]
        coarse = rng.standard_normal(grid + [channels])
        field += amp * _upsample(coarse, spatial)
        amp /= 2
    field = (field - field.mean()) / (field.std() + 1e-12)
    centre = rng.uniform(0.3, 0.7)
    spread = rng.uniform(0.1, 0.3)
    x = lo + (hi - lo) * (centre + spread * field)
    return np.clip(x, lo, hi).reshape(shape).astype(np.float32)


def _upsample(a: np.ndarray, sizes: list[int]) -> np.ndarray:
    """Linear interpolation of ``a``'s leading axes to ``sizes`` (the last axis is channels)."""
    for axis, size in enumerate(sizes):
        n = a.shape[axis]
        pos = np.linspace(0, n - 1, size)
        i0 = np.floor(pos).astype(int)
        i1 = np.minimum(i0 + 1, n - 1)
        w = (pos - i0).reshape([-1] + [1] * (a.ndim - axis - 1))
        a = np.take(a, i0, axis=axis) * (1 - w) + np.take(a, i1, axis=axis) * w
    return a
