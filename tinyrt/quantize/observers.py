"""Per-tensor statistics and the range each calibration method picks from them.

A ``Histogram`` collects one tensor's values over the calibration set in a single pass: exact
min/max, the count of exact zeros (ReLU outputs are mostly zeros, which int8 represents exactly)
and a symmetric histogram over [-R, R] that doubles R (merging bin pairs, exactly) when a larger
value arrives. The observers turn it into a real range [lo, hi]:

- ``minmax``: the extreme values seen.
- ``percentile``: the p-th percentile at each side (ReLU-like tensors keep lo = min).
- ``mse``: the range, from a grid of clipped ranges, that minimises the expected squared error of
  quantising the observed distribution: clipped values contribute their clipping error, in-range
  values the rounding error of a uniform quantiser (step^2 / 12), exact zeros nothing.

``asymmetric_params`` turns a range into the int8 (scale, zero point) exactly as TFLite's
quantizer does (``GetAsymmetricQuantizationParams``: float32 arithmetic, range widened to hold 0).
"""
from __future__ import annotations

import numpy as np

BINS_PER_SIDE = 1024
QMIN, QMAX = -128, 127
METHODS = ("minmax", "percentile", "mse")


class Histogram:
    def __init__(self, bins_per_side: int = BINS_PER_SIDE):
        self.n = bins_per_side
        self.radius = 0.0
        self.counts = np.zeros(2 * bins_per_side, np.float64)
        self.zeros = 0
        self.total = 0
        self.min = np.inf
        self.max = -np.inf

    def add(self, values: np.ndarray) -> None:
        v = np.asarray(values, np.float64).ravel()
        if v.size == 0:
            return
        self.total += v.size
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))
        nonzero = v[v != 0]
        self.zeros += v.size - nonzero.size
        if nonzero.size == 0:
            return
        self._grow(float(np.abs(nonzero).max()))
        idx = np.floor((nonzero + self.radius) / self.width).astype(np.int64)
        self.counts += np.bincount(np.clip(idx, 0, 2 * self.n - 1), minlength=2 * self.n)

    def merge(self, other: "Histogram") -> "Histogram":
        """A new histogram of both tensors' values (e.g. the inputs of a concatenation)."""
        out = Histogram(self.n)
        for h in (self, other):
            out.total += h.total
            out.zeros += h.zeros
            out.min, out.max = min(out.min, h.min), max(out.max, h.max)
        out._grow(max(self.radius, other.radius))
        for h in (self, other):
            if h.radius > 0:
                out.counts += h._rebinned(out.radius)
        return out

    @property
    def width(self) -> float:
        return 2 * self.radius / (2 * self.n)

    def centers(self) -> np.ndarray:
        return -self.radius + self.width * (np.arange(2 * self.n) + 0.5)

    def _grow(self, needed: float) -> None:
        if self.radius == 0.0:
            self.radius = needed
            return
        while needed > self.radius:
            self.counts = self._rebinned(2 * self.radius)
            self.radius *= 2

    def _rebinned(self, radius: float) -> np.ndarray:
        """Counts moved onto 2n bins over [-radius, radius], each old bin into the new bin that
        holds its centre: exact when radius is this radius times 2^k (pairs of bins merge)."""
        if radius == self.radius:
            return self.counts.copy()
        width = 2 * radius / (2 * self.n)
        idx = np.floor((self.centers() + radius) / width).astype(np.int64)
        return np.bincount(np.clip(idx, 0, 2 * self.n - 1), weights=self.counts,
                           minlength=2 * self.n)


def asymmetric_params(lo: float, hi: float) -> tuple[float, int]:
    """int8 (scale, zero_point) for the real range [lo, hi], as TFLite's quantizer computes them."""
    lo = np.float32(min(np.float32(lo), np.float32(0)))
    hi = np.float32(max(np.float32(hi), np.float32(0)))
    if hi - lo < np.float32(1e-8):   # a tensor that is always 0: any scale represents it
        hi = np.float32(1.0)
    scale = np.float32((hi - lo) / np.float32(QMAX - QMIN))
    zp_from_min = np.float32(QMIN) - lo / scale
    zp = int(np.clip(np.sign(zp_from_min) * np.floor(np.abs(zp_from_min) + 0.5), QMIN, QMAX))
    return float(scale), zp


def choose_range(h: Histogram, method: str, percentile: float = 99.99) -> tuple[float, float]:
    if h.total == 0:
        return 0.0, 0.0
    if method == "minmax" or h.radius == 0:
        return h.min, h.max
    if method == "percentile":
        return _percentile_range(h, percentile)
    if method == "mse":
        return _mse_range(h)
    raise ValueError(f"unknown calibration method {method!r}")


def _quantile(h: Histogram, fraction: float) -> float:
    """The value below which ``fraction`` of all values lie (zeros included, bin-linear)."""
    counts = h.counts.copy()
    counts[h.n] += h.zeros          # zeros sit at the left edge of bin n, i.e. at 0.0
    cdf = np.cumsum(counts) / h.total
    i = int(np.searchsorted(cdf, fraction))
    i = min(i, 2 * h.n - 1)
    below = cdf[i - 1] if i > 0 else 0.0
    inside = (fraction - below) / max(cdf[i] - below, 1e-300)
    return -h.radius + h.width * (i + min(max(inside, 0.0), 1.0))


def _percentile_range(h: Histogram, p: float) -> tuple[float, float]:
    frac = p / 100.0
    hi = min(h.max, _quantile(h, frac)) if h.max > 0 else h.max
    lo = max(h.min, _quantile(h, 1 - frac)) if h.min < 0 else h.min
    return lo, hi


def _mse_range(h: Histogram, steps: int = 64, rounds: int = 2) -> tuple[float, float]:
    """Coordinate search over clipped ranges: hi over fractions of max (log-spaced from 1/1000
    to 1), then lo likewise with hi fixed, twice. ReLU-like tensors (min >= 0) keep lo."""
    fractions = np.geomspace(1e-3, 1.0, steps)
    lo, hi = h.min, h.max
    for _ in range(rounds):
        if h.max > 0:
            cands = h.max * fractions
            hi = float(cands[np.argmin(expected_errors(h, np.full(steps, lo), cands))])
        if h.min < 0:
            cands = h.min * fractions
            lo = float(cands[np.argmin(expected_errors(h, cands, np.full(steps, hi)))])
    return lo, hi


def expected_error(h: Histogram, lo: float, hi: float) -> float:
    """Expected squared error of quantising the histogrammed values to int8 over [lo, hi]."""
    return float(expected_errors(h, np.array([lo]), np.array([hi]))[0])


def expected_errors(h: Histogram, los: np.ndarray, his: np.ndarray) -> np.ndarray:
    """``expected_error`` for many candidate ranges at once."""
    params = [asymmetric_params(lo, hi) for lo, hi in zip(los, his)]
    scale = np.array([p[0] for p in params])[:, None]
    zp = np.array([p[1] for p in params])[:, None]
    qlo, qhi = scale * (QMIN - zp), scale * (QMAX - zp)
    x = h.centers()[None, :]
    clipped = np.clip(x, qlo, qhi)
    err = np.where(x == clipped, scale * scale / 12.0, (x - clipped) ** 2)
    return err @ h.counts
