"""pool2d_s8_dsp (templates/kernels/pool2d_s8_dsp.h): int8 AVERAGE_POOL_2D and MAX_POOL_2D with
the Arm DSP extension are bit-exact with tflite-runtime on the host twin and on the emulated
Cortex-M4, M7 and M33."""
import pytest

import codegen
from builder import ModelBuilder
from firmware_project import requires_arm_gcc, requires_qemu
from test_kernels_dwconv_s8_dsp import DSP_HOST, host_exact, qemu_exact
from test_op_pool2d import pool_model
from tinyrt.ops import pool2d

KERNEL = "avgpool2d_s8_dsp"
MAX_KERNEL = "maxpool2d_s8_dsp"


def pools(shape, layers, zp=-4, op_type="AVERAGE_POOL_2D"):
    """Pooling layers in sequence: (filter, stride, padding, activation) each; a fifth item
    overrides ``op_type`` for that layer."""
    m = ModelBuilder()
    x = m.input(shape, scale=0.05, zero_point=zp)
    n, h, w, c = shape
    for filt, stride, padding, activation, *op in layers:
        h = pool2d.out_size(padding, h, filt[0], stride[0])
        w = pool2d.out_size(padding, w, filt[1], stride[1])
        y = m.tensor((n, h, w, c), scale=0.05, zero_point=zp)
        m.op(op[0] if op else op_type, [x], [y], padding=padding, filter_h=filt[0], filter_w=filt[1],
             stride_h=stride[0], stride_w=stride[1], activation=activation)
        x = y
    return m.graph([x])


# Padding at every border (SAME, odd and even sizes), strides 1-3, every activation.
LAYERS = [((3, 3), (1, 1), "SAME", "NONE"), ((3, 2), (2, 1), "SAME", "RELU6"),
          ((2, 2), (2, 2), "VALID", "RELU"), ((1, 1), (1, 1), "VALID", "RELU_N1_TO_1")]


@pytest.mark.parametrize("channels", [8, 7, 5, 2])
@pytest.mark.parametrize("zp", [-128, 127])
def test_host_twin_is_bit_exact(channels, zp):
    host_exact(pools((1, 13, 11, channels), LAYERS, zp), KERNEL)


@pytest.mark.parametrize("padding,filt,stride", [("SAME", (5, 4), (3, 1)),
                                                 ("VALID", (5, 4), (3, 1)),
                                                 ("SAME", (3, 3), (2, 2))])
def test_host_twin_other_windows_and_batches(padding, filt, stride):
    host_exact(pools((2, 9, 8, 6), [(filt, stride, padding, "NONE")]), KERNEL)


@pytest.mark.parametrize("shape", [(1, 25, 5, 64), (1, 16, 16, 9), (1, 8, 8, 3)])
def test_global_pooling_up_to_256_elements(shape):
    """kws's 25x5 average; 16x16 is the largest window the int16 lanes take."""
    host_exact(pools(shape, [(shape[1:3], (1, 1), "VALID", "NONE")], zp=-128), KERNEL)


def test_larger_average_windows_stay_portable():
    g = pools((1, 17, 16, 4), [((17, 16), (1, 1), "VALID", "NONE")])
    assert codegen.lower(g, DSP_HOST).layers[0].variant == "portable"


# Max pooling: the same windows plus a zero point inside the activation range, so RELU and
# RELU_N1_TO_1 clamp lanes from below and above (input values cover -128 .. 127).
@pytest.mark.parametrize("channels", [8, 7, 5, 2, 1])
@pytest.mark.parametrize("zp", [-128, 127, 0])
def test_max_host_twin_is_bit_exact(channels, zp):
    host_exact(pools((1, 13, 11, channels), LAYERS, zp, "MAX_POOL_2D"), MAX_KERNEL)


@pytest.mark.parametrize("padding,filt,stride", [("SAME", (5, 4), (3, 1)),
                                                 ("VALID", (2, 2), (2, 2)),
                                                 ("SAME", (3, 3), (2, 2)),
                                                 ("VALID", (9, 8), (1, 1))])
def test_max_host_twin_other_windows_and_batches(padding, filt, stride):
    host_exact(pools((2, 9, 8, 6), [(filt, stride, padding, "RELU6")], zp=-1,
                     op_type="MAX_POOL_2D"), MAX_KERNEL)


def test_max_pooling_of_a_large_window_takes_the_dsp_kernel():
    g = pool_model("MAX_POOL_2D", (1, 17, 16, 4), (17, 16), (1, 1))
    assert codegen.lower(g, DSP_HOST).layers[0].call.kernel == MAX_KERNEL


def test_max_clean_under_address_and_undefined_sanitizers():
    host_exact(pools((2, 9, 7, 7), LAYERS, zp=0, op_type="MAX_POOL_2D"), MAX_KERNEL,
               sanitize=True)


def test_clean_under_address_and_undefined_sanitizers():
    host_exact(pools((2, 9, 7, 7), LAYERS, zp=127), KERNEL, sanitize=True)


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m7", "qemu-m33"])
def test_bit_exact_on_the_emulated_cortex_m(board):
    """Average and max layers in one model, one build per core."""
    maxes = [(*layer, "MAX_POOL_2D") for layer in LAYERS]
    g = pools((1, 27, 23, 7), [*maxes, *LAYERS, ((2, 5), (1, 1), "VALID", "NONE")], zp=0)
    qemu_exact(g, {KERNEL, MAX_KERNEL}, board)
