"""How outputs are judged: integers byte for byte, floats within a stated tolerance."""
import numpy as np

from tinyrt.verify import FLOAT_ATOL, FLOAT_RTOL, compare


def test_integer_outputs_must_be_byte_equal():
    ref = np.array([1, 2, 3], np.int8)
    assert compare([ref], [ref.copy()], 0).matches
    off_by_one = compare([ref], [np.array([1, 2, 4], np.int8)], 0)
    assert not off_by_one.bit_exact and not off_by_one.matches
    assert off_by_one.mismatched == 1 and off_by_one.max_abs_diff == 1


def test_float_outputs_within_tolerance_match_without_being_bit_exact():
    ref = np.array([0.5, 1.0, 2.0], np.float32)
    near = ref + np.float32(FLOAT_RTOL * 2.0 / 2)
    r = compare([ref], [near], 0)
    assert r.matches and not r.bit_exact


def test_float_outputs_beyond_tolerance_do_not_match():
    ref = np.array([0.5, 1.0, 2.0], np.float32)
    far = ref + np.float32(FLOAT_RTOL * 2.0 + FLOAT_ATOL) * 2
    assert not compare([ref], [far], 0).matches
