"""add_s8_dsp (templates/kernels/add_s8_dsp.h): int8 elementwise ADD and SUB with tabulated
input rescaling are bit-exact with tflite-runtime on the host twin and the emulated Cortex-M4,
M7 and M33."""
import pytest

import codegen
from builder import ModelBuilder
from firmware_project import requires_arm_gcc, requires_qemu
from test_kernels_dwconv_s8_dsp import DSP_HOST, host_exact, qemu_exact
from test_op_add_sub import binary_model
from tinyrt.kernels import add_s8_dsp, requant

MODE_ARG = 6    # position of `mode` in add_s8_dsp's arguments
SCALES = [(1e-3, 1.0, 0.05), (2.0, 1e-4, 1.5), (0.5, 0.5, 0.5), (1e-5, 3e-5, 1e-6),
          (10.0, 20.0, 100.0),
          (1.0, 0.7, 2.9e-6)]   # output multiplier >= 0.5: tr_requant's LEFT mode
ZERO_POINTS = [(-128, -128, -128), (127, 127, 127), (-128, 127, 0), (127, -128, 127)]


@pytest.mark.parametrize("op_type", ["ADD", "SUB"])
@pytest.mark.parametrize("scales", SCALES)
def test_host_twin_scales_and_zero_points(op_type, scales):
    """Odd sizes (the one-element tail), every extreme zero point pair over the scales."""
    zps = ZERO_POINTS[SCALES.index(scales) % 4]
    s1, s2, so = scales
    host_exact(binary_model(op_type, (1, 5, 3, 7), (1, 5, 3, 7), q1=(s1, zps[0]),
                            q2=(s2, zps[1]), qo=(so, zps[2])), "add_s8_dsp")


@pytest.mark.parametrize("op_type", ["ADD", "SUB"])
@pytest.mark.parametrize("activation", ["RELU", "RELU6", "RELU_N1_TO_1"])
def test_host_twin_activations(op_type, activation):
    host_exact(binary_model(op_type, (2, 34), (2, 34), q1=(0.02, -3), q2=(0.03, 4),
                            qo=(0.01, 2), activation=activation), "add_s8_dsp")


def test_output_requantisation_modes():
    modes = {codegen.lower(binary_model("ADD", (8,), (8,), q1=(s1, 0), q2=(s2, 0), qo=(so, 0)),
                           DSP_HOST).layers[0].call.args[MODE_ARG] for s1, s2, so in SCALES}
    assert modes == {requant.RIGHT, requant.LEFT}


def test_tables_are_tflites_rescaling():
    """The table against a direct evaluation of MultiplyByQuantizedMultiplierSmallerThanOneExp
    in Python integers, for a multiplier and shift of each kind."""
    for zp, mult, shift in [(-128, 1073741824, -1), (127, 2147483647, 0), (3, 1518500250, -7)]:
        got = add_s8_dsp.rescaled(zp, mult, shift)
        for x in (-128, -1, 0, 1, 127):
            v = (x - zp) << 20
            hi = (v * mult + (1 << 30)) >> 31
            e = -shift
            mask = (1 << e) - 1
            want = (hi >> e) + ((hi & mask) > (mask >> 1) + (hi < 0))
            assert got[x + 128] == want


def test_constant_operand_and_in_place_output():
    """A constant second operand; out == in1 when the planner overlaps them (ADD is INPLACE)."""
    host_exact(binary_model("ADD", (1, 4, 4, 9), (1, 4, 4, 9), q1=(0.05, 3), q2=(0.07, -7),
                            qo=(0.1, 1), const=2), "add_s8_dsp")
    m = ModelBuilder()
    a, b = m.input((37,), scale=0.05, zero_point=-2), m.input((37,), scale=0.04, zero_point=9)
    t = m.tensor((37,), scale=0.06, zero_point=1)
    y = m.tensor((37,), scale=0.09, zero_point=-5)
    m.op("ADD", [a, b], [t])
    m.op("ADD", [t, b], [y])
    host_exact(m.graph([y]), "add_s8_dsp")


def test_broadcasts_stay_portable():
    g = binary_model("ADD", (1, 4, 4, 9), (1, 1, 1, 9))
    assert codegen.lower(g, DSP_HOST).layers[0].variant == "portable"


def test_clean_under_address_and_undefined_sanitizers():
    host_exact(binary_model("SUB", (3, 11), (3, 11), q1=(0.05, -128), q2=(0.02, 127),
                            qo=(0.03, 0), activation="RELU6"), "add_s8_dsp", sanitize=True)


@pytest.mark.qemu
@requires_arm_gcc
@requires_qemu
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m7", "qemu-m33"])
def test_bit_exact_on_the_emulated_cortex_m(board):
    """RIGHT and LEFT modes, ADD and SUB, activations; one build per core."""
    m = ModelBuilder()
    a, b = m.input((5, 7, 3), scale=0.05, zero_point=-128), m.input((5, 7, 3), scale=0.7,
                                                                      zero_point=127)
    t = m.tensor((5, 7, 3), scale=2.9e-6 * 0.7 / 1.0, zero_point=3)     # LEFT mode
    u = m.tensor((5, 7, 3), scale=0.08, zero_point=-7)
    y = m.tensor((5, 7, 3), scale=0.1, zero_point=127)
    m.op("ADD", [a, b], [t], activation="RELU6")
    m.op("SUB", [t, a], [u])
    m.op("ADD", [u, b], [y], activation="RELU")
    qemu_exact(m.graph([y]), "add_s8_dsp", board)
