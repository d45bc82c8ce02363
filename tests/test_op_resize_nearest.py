"""RESIZE_NEAREST_NEIGHBOR int8 is bit-exact with tflite-runtime's reference kernel."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from conformance import assert_bit_exact
from tinyrt.errors import UnsupportedOp
from tinyrt.ops import resize_nearest
from tinyrt.reference import Reference
from tinyrt.writer import write_tflite

FLAGS = [(False, False), (True, False), (False, True), (True, True)]


def resize_model(shape, size, align_corners=False, half_pixel_centers=False, zp=3):
    n, _, _, c = shape
    m = ModelBuilder()
    x = m.input(shape, scale=0.05, zero_point=zp)
    s = m.const(np.array(size), "int32")
    y = m.tensor((n, size[0], size[1], c), scale=0.05, zero_point=zp)
    m.op("RESIZE_NEAREST_NEIGHBOR", [x, s], [y], align_corners=align_corners,
         half_pixel_centers=half_pixel_centers)
    return m.graph([y])


@pytest.mark.parametrize("align_corners,half_pixel_centers", FLAGS)
@pytest.mark.parametrize("in_hw,size", [((4, 5), (8, 10)), ((3, 3), (7, 5)), ((6, 7), (4, 3)),
                                        ((5, 5), (5, 5))])
def test_upsample_downsample_and_flags(in_hw, size, align_corners, half_pixel_centers):
    shape = (2, *in_hw, 3)
    assert_bit_exact(resize_model(shape, size, align_corners, half_pixel_centers))


@pytest.mark.parametrize("align_corners,half_pixel_centers", FLAGS)
def test_one_by_one_input_and_output(align_corners, half_pixel_centers):
    assert_bit_exact(resize_model((1, 1, 1, 4), (3, 2), align_corners, half_pixel_centers))
    assert_bit_exact(resize_model((1, 5, 4, 2), (1, 1), align_corners, half_pixel_centers))


@pytest.mark.parametrize("flags", FLAGS)
def test_index_tables_match_tflite_float_math_on_awkward_ratios(flags):
    # Sizes whose float32 scale is inexact (e.g. 7/3, 5/49): the tables must round the way
    # TFLite's float32 arithmetic does, which the bit-exact run then confirms.
    assert_bit_exact(resize_model((1, 7, 5, 1), (3, 49), *flags))


@pytest.mark.parametrize("flags", FLAGS)
def test_index_tables_agree_with_tflite_for_every_size_pair(flags):
    # tflite-runtime alone (no C build): input row i holds i - 128, so each output value names
    # the source row TFLite chose, for every input height up to 24 and output height up to 48.
    for in_size in range(1, 25):
        m = ModelBuilder()
        x = m.input((1, in_size, 1, 1), scale=0.1)
        outs = []
        for out_size in range(1, 49):
            s = m.const(np.array([out_size, 1]), "int32")
            outs.append(m.tensor((1, out_size, 1, 1), scale=0.1))
            m.op("RESIZE_NEAREST_NEIGHBOR", [x, s], [outs[-1]], align_corners=flags[0],
                 half_pixel_centers=flags[1])
        rows = (np.arange(in_size) - 128).astype(np.int8).reshape(1, in_size, 1, 1)
        results = Reference(write_tflite(m.graph(outs))).run([rows])
        for out_size, r in enumerate(results, start=1):
            assert (r.reshape(-1).astype(int) + 128).tolist() == \
                resize_nearest.source_indices(in_size, out_size, *flags), (in_size, out_size)


def test_rejects_a_size_that_is_not_constant():
    m = ModelBuilder()
    x = m.input((1, 2, 2, 1), scale=0.1)
    s = m.input((2,), "int32")
    y = m.tensor((1, 4, 4, 1), scale=0.1)
    m.op("RESIZE_NEAREST_NEIGHBOR", [x, s], [y])
    g = m.graph([y])
    with pytest.raises(UnsupportedOp, match="not a constant"):
        resize_nearest.check(g, g.ops[0])


def test_clean_under_address_and_undefined_sanitizers():
    assert_bit_exact(resize_model((2, 3, 4, 3), (7, 9), False, True, zp=-128), sanitize=True)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 2), h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 5),
       out_h=st.integers(1, 20), out_w=st.integers(1, 20), flags=st.sampled_from(FLAGS))
def test_property_sizes_and_flags(n, h, w, c, out_h, out_w, flags):
    assert_bit_exact(resize_model((n, h, w, c), (out_h, out_w), *flags))
