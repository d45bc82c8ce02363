"""Calibration statistics and the ranges each method picks (tinyrt/quantize/observers.py)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinyrt.quantize.observers import Histogram, asymmetric_params, choose_range, expected_error


def hist_of(*arrays) -> Histogram:
    h = Histogram()
    for a in arrays:
        h.add(np.asarray(a, np.float32))
    return h


@pytest.mark.parametrize("lo, hi, scale, zp", [
    (0.0, 6.0, np.float32(6.0) / np.float32(255), -128),    # ReLU6: zero at the bottom
    (-1.0, 1.0, np.float32(2.0) / np.float32(255), -1),     # -128 + 127.5 rounds away from 0
    (-2.0, 0.0, np.float32(2.0) / np.float32(255), 127),
    (0.5, 3.0, np.float32(3.0) / np.float32(255), -128),    # widened to include 0
])
def test_asymmetric_params_follow_tflite_quantizer(lo, hi, scale, zp):
    assert asymmetric_params(lo, hi) == (float(np.float32(scale)), zp)


def test_always_zero_tensor_gets_a_usable_scale():
    scale, zp = asymmetric_params(0.0, 0.0)
    assert scale > 0 and -128 <= zp <= 127


@settings(max_examples=30, deadline=None)
@given(st.floats(-1e4, 0), st.floats(0, 1e4))
def test_zero_is_exactly_representable(lo, hi):
    scale, zp = asymmetric_params(lo, hi)
    assert -128 <= zp <= 127 and scale > 0


def test_histogram_keeps_exact_extremes_counts_and_zeros_while_growing():
    rng = np.random.default_rng(0)
    parts = [rng.normal(0, s, 1000) for s in (0.01, 1.0, 100.0)] + [np.zeros(50)]
    h = hist_of(*parts)
    everything = np.concatenate(parts).astype(np.float32)
    assert h.min == everything.min() and h.max == everything.max()
    assert h.zeros == 50 and h.counts.sum() + h.zeros == h.total == everything.size
    assert h.radius >= np.abs(everything).max()


def test_merged_histogram_holds_both_tensors():
    a, b = hist_of(np.linspace(-1, 1, 101)), hist_of(np.linspace(0, 37, 50))
    m = a.merge(b)
    assert m.total == 151 and m.min == -1 and m.max == 37
    assert m.counts.sum() + m.zeros == 151


def test_minmax_is_the_extremes():
    assert choose_range(hist_of([-3.0, 0.5, 7.25]), "minmax") == (-3.0, 7.25)


def test_percentile_clips_rare_outliers_only():
    x = np.concatenate([np.random.default_rng(1).uniform(0, 1, 100_000), [50.0]])
    h = hist_of(x)
    lo, hi = choose_range(h, "percentile", 99.9)
    assert lo == h.min and 0.95 < hi < 1.05


def test_mse_range_never_has_more_expected_error_than_minmax():
    rng = np.random.default_rng(2)
    for x in (rng.standard_t(3, 50_000), np.maximum(rng.normal(0, 1, 50_000), 0),
              rng.uniform(-1, 1, 50_000)):
        h = hist_of(x)
        best = choose_range(h, "mse")
        assert expected_error(h, *best) <= expected_error(h, h.min, h.max) * (1 + 1e-9)


def test_mse_clips_an_isolated_outlier_of_a_large_bulk():
    """1M values in [-1, 1] and one at 20: the range [-1, 20] costs 1e6 * (21/255)^2 / 12,
    about 565, in rounding error; clipping the outlier near 8 costs less in total (~250)."""
    x = np.concatenate([np.random.default_rng(3).uniform(-1, 1, 1_000_000), [20.0]])
    lo, hi = choose_range(hist_of(x), "mse")
    assert hi < 10.0 and lo == pytest.approx(-1.0, abs=0.05)


def test_relu_like_tensor_keeps_zero_as_its_lower_bound():
    x = np.maximum(np.random.default_rng(4).normal(0, 1, 10_000), 0)
    for method in ("minmax", "percentile", "mse"):
        assert choose_range(hist_of(x), method)[0] == 0.0
