"""PAD fused into the next convolution (tinyrt/passes.py ``fuse_pad_into_conv``): an int8 PAD that
only feeds a VALID CONV_2D / DEPTHWISE_CONV_2D disappears, the convolution pads by itself (SAME
where the amounts are SAME's, explicit otherwise), the outputs stay byte-equal to tflite-runtime's
with every kernel variant, and the padded copy no longer takes arena space."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import codegen
from builder import ModelBuilder
from conformance import rand_int8
from firmware_project import requires_arm_gcc, requires_qemu
from mobilenet import mobilenet_v2
from tinyrt import passes
from tinyrt.boards import load_board
from tinyrt.ir import Op, Tensor
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

HOST = load_board("host")
DSP_TWIN = {**HOST, "features": ["dsp"]}
ACLE = ["-DTINYRT_ACLE_PORTABLE"]
MOBILENET_V1 = ((0, 1), (0, 1))   # Keras' ZeroPadding2D before a stride-2 VALID 3x3


def padded_chain(layers, size=(12, 10), channels=4, seed=0):
    """A 1x1 conv (the PAD then reads an arena tensor, as inside a network), then per layer
    (kind, kernel, stride, dilation, ((top, bottom), (left, right)), out channels): a PAD of H
    and W that keeps its input's quantisation and a VALID conv ("conv") or depthwise ("dw")."""
    rng = np.random.default_rng(seed)
    m = ModelBuilder("padded")
    x = m.input((1, *size, channels), scale=0.05, zero_point=int(rng.integers(-100, 100)))
    shape = (1, *size, channels)
    layers = [("conv", 1, 1, 1, ((0, 0), (0, 0)), channels)] + list(layers)
    for n, (kind, k, s, d, (hw_h, hw_w), out_c) in enumerate(layers):
        if n:   # a PAD before every layer but the leading 1x1
            zp = int(m.tensors[x].quant.zero_point[0])
            shape = (1, shape[1] + sum(hw_h), shape[2] + sum(hw_w), shape[3])
            padded = m.tensor(shape, scale=float(m.tensors[x].quant.scale[0]), zero_point=zp)
            m.op("PAD", [x, m.const([(0, 0), hw_h, hw_w, (0, 0)], "int32")], [padded])
            x = padded
        c = shape[3]
        out_c = c if kind == "dw" else out_c
        ws = 0.02 * 10 ** rng.uniform(-1, 1, out_c)
        w = m.const(rand_int8(rng, (1, k, k, c) if kind == "dw" else (out_c, k, k, c)), "int8",
                    scale=ws, axis=3 if kind == "dw" else 0)
        b = m.const(rng.integers(-3000, 3000, out_c), "int32", scale=0.05 * ws)
        shape = (1, (shape[1] - (k - 1) * d - 1) // s + 1, (shape[2] - (k - 1) * d - 1) // s + 1,
                 out_c)
        y = m.tensor(shape, scale=0.1, zero_point=int(rng.integers(-100, 100)))
        attrs = dict(padding="VALID", stride_h=s, stride_w=s, dilation_h=d, dilation_w=d,
                     activation="RELU6" if kind == "dw" else "NONE")
        if kind == "dw":
            attrs["depth_multiplier"] = 1
        m.op("DEPTHWISE_CONV_2D" if kind == "dw" else "CONV_2D", [x, w, b], [y], **attrs)
        x = y
    return m.graph([x])


def keras_padded(graph):
    """``graph`` with every strided SAME conv / depthwise written as Keras writes it: a PAD of
    imagenet_utils.correct_pad's amounts, then a VALID conv (MobileNetV2 in tf.keras)."""
    tensors, ops = list(graph.tensors), []
    for op in graph.ops:
        if op.type not in passes.WINDOWED or op.attrs.get("stride_h", 1) == 1 \
                or op.attrs.get("padding") != "SAME":
            ops.append(op)
            continue
        x = graph.t(op.inputs[0])
        k = graph.t(op.inputs[1]).shape[1]
        hw = [(k // 2 - (1 - size % 2), k // 2) for size in x.shape[1:3]]
        tensors.append(Tensor(f"{x.name}/pads", (4, 2), "int32",
                              data=np.array([(0, 0), *hw, (0, 0)], np.int32)))
        shape = (x.shape[0], *(s + a + b for s, (a, b) in zip(x.shape[1:3], hw)), x.shape[3])
        tensors.append(Tensor(f"{x.name}/padded", shape, "int8", x.quant))
        ops.append(Op("PAD", [op.inputs[0], len(tensors) - 2], [len(tensors) - 1], {},
                      f"{op.name}/pad"))
        ops.append(Op(op.type, [len(tensors) - 1, *op.inputs[1:]], list(op.outputs),
                      {**op.attrs, "padding": "VALID"}, op.name))
    return graph.replace(tensors=tensors, ops=ops)


def fused_convs(graph):
    """The graph codegen computes: its convolutions' padding attrs, in order."""
    lowered = codegen.lower(graph, HOST)
    assert "PAD" not in [layer.op_type for layer in lowered.layers]
    return [(op.attrs["padding"], op.attrs.get("pad_top"), op.attrs.get("pad_left"))
            for op in lowered.graph.ops if op.type in passes.WINDOWED][1:]


def arena(graph, board=HOST, fuse=True, monkeypatch=None):
    if not fuse:
        monkeypatch.setattr(passes, "fuse_pad_into_conv", lambda g: g)
    try:
        return codegen.lower(graph, board).plan.arena_bytes
    finally:
        if monkeypatch is not None:
            monkeypatch.undo()


def assert_exact(graph, board=HOST, flags=(), variant=None):
    result = verify_host(graph, write_tflite(graph), runs=2, board=board, extra_cflags=list(flags))
    bad = [r for r in result.runs if not r.bit_exact]
    assert not bad, f"{len(bad)} runs differ (project in {result.project_dir})"
    if variant:   # the fused layers ran the SIMD kernels, not a portable fallback
        convs = [layer for layer in result.lowered.layers if layer.op_type in passes.WINDOWED]
        assert {layer.variant for layer in convs[1:]} == {variant}
    return result.lowered


# --- which PADs fuse, and into what -------------------------------------------------------------

@pytest.mark.parametrize("layer,padding", [
    # MobileNet-v1/v2 (even size): (0, 1) before a stride-2 3x3 is TFLite's SAME exactly
    (("dw", 3, 2, 1, (MOBILENET_V1[0], MOBILENET_V1[1]), 0), ("SAME", None, None)),
    (("conv", 3, 2, 1, MOBILENET_V1, 6), ("SAME", None, None)),
    # symmetric k // 2 at stride 1, and Keras' correct_pad for 5x5 at stride 2: SAME
    (("dw", 3, 1, 1, ((1, 1), (1, 1)), 0), ("SAME", None, None)),
    (("conv", 5, 2, 1, ((1, 2), (1, 2)), 5), ("SAME", None, None)),
    (("dw", 3, 1, 2, ((2, 2), (2, 2)), 0), ("SAME", None, None)),
    # amounts SAME would not choose: explicit top/left, the bottom/right implied by the shape
    (("conv", 3, 1, 1, ((1, 0), (0, 2)), 5), ("EXPLICIT", 1, 0)),
    (("dw", 3, 1, 1, ((2, 0), (0, 1)), 0), ("EXPLICIT", 2, 0)),
    (("dw", 3, 2, 1, ((1, 1), (1, 1)), 0), ("EXPLICIT", 1, 1)),   # even size: SAME pads 0 on top
])
def test_a_pad_before_a_valid_convolution_becomes_its_padding(layer, padding):
    graph = padded_chain([layer])
    assert fused_convs(graph) == [padding]
    assert_exact(graph)


def test_kept_when_a_window_would_read_padding_only():
    # 3 rows of padding before a 3-row window, or any padding before a 1x1: the first output
    # row would see no input at all, which SAME never produces and the kernels are not held to
    for layer in (("conv", 3, 1, 1, ((3, 0), (1, 1)), 4), ("conv", 1, 1, 1, ((1, 0), (0, 0)), 4)):
        graph = padded_chain([layer])
        assert passes.fuse_pad_into_conv(graph) is graph
        assert_exact(graph)


def _with_tensor(graph, index, **changes):
    tensors = list(graph.tensors)
    t = tensors[index]
    tensors[index] = Tensor(t.name, changes.get("shape", t.shape), t.dtype,
                            changes.get("quant", t.quant), changes.get("data", t.data))
    return graph.replace(tensors=tensors)


def test_kept_when_the_pad_is_not_the_zero_point_copy_the_conv_alone_reads():
    graph = padded_chain([("conv", 3, 2, 1, MOBILENET_V1, 4)])
    pad, conv = graph.ops[1], graph.ops[2]
    q = graph.t(pad.outputs[0]).quant
    channels = _with_tensor(graph, pad.inputs[1],   # pads a channel too
                            data=np.array([(0, 0), (0, 1), (0, 1), (1, 0)], np.int32))
    shared = graph.replace(ops=graph.ops + [Op("RELU", [pad.outputs[0]], [graph.outputs[0]])])
    for kept in (
            _with_tensor(graph, pad.outputs[0], quant=type(q)(q.scale, q.zero_point + 1, q.axis)),
            graph.replace(outputs=[graph.outputs[0], pad.outputs[0]]),   # the copy is an output
            _with_tensor(channels, pad.outputs[0], shape=(1, 13, 11, 5)),
            shared,   # a second reader needs the padded copy
            graph.replace(ops=[*graph.ops[:2], Op(conv.type, conv.inputs, conv.outputs,
                                                  {**conv.attrs, "padding": "SAME"})])):
        assert passes.fuse_pad_into_conv(kept) is kept


# --- exactness with every kernel variant ---------------------------------------------------------

CHAIN = [("dw", 3, 2, 1, MOBILENET_V1, 0), ("conv", 3, 1, 1, ((1, 0), (0, 2)), 8),
         ("dw", 5, 1, 1, ((2, 2), (2, 2)), 0), ("dw", 3, 1, 1, ((2, 0), (1, 2)), 0),
         ("conv", 3, 2, 1, ((1, 1), (1, 1)), 8)]


def test_a_chain_of_fused_layers_is_exact_with_the_portable_and_dsp_kernels():
    graph = padded_chain(CHAIN)
    assert [p for p, _, _ in fused_convs(graph)] == ["SAME", "EXPLICIT", "SAME", "EXPLICIT",
                                                      "EXPLICIT"]
    assert_exact(graph)
    assert_exact(graph, DSP_TWIN, ACLE, variant="dsp")


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(["conv", "dw"]), st.sampled_from([3, 5]), st.sampled_from([1, 2]),
       st.lists(st.integers(0, 4), min_size=4, max_size=4), st.integers(0, 1000))
def test_random_pads_fuse_exactly_or_stay(kind, k, stride, pads, seed):
    top, bottom, left, right = pads
    graph = padded_chain([(kind, k, stride, 1, ((top, bottom), (left, right)), 5)],
                         size=(9, 8), seed=seed)
    fused = passes.fuse_pad_into_conv(graph) is not graph
    assert fused == (max(pads) < k)
    assert_exact(graph, DSP_TWIN if seed % 2 else HOST, ACLE if seed % 2 else ())


# --- memory -------------------------------------------------------------------------------------

def test_the_padded_copy_no_longer_takes_arena_space(monkeypatch):
    graph = padded_chain([("dw", 3, 2, 1, MOBILENET_V1, 0)], size=(16, 16), channels=8)
    before, after = arena(graph, fuse=False, monkeypatch=monkeypatch), arena(graph)
    # the peak was the PAD: the 1x1's output (16x16x8) and its padded copy (17x17x8); now it is
    # the 1x1 itself (its 16x16x8 input and output)
    assert (before, after) == (16 * 16 * 8 + 17 * 17 * 8, 2 * 16 * 16 * 8)


def test_keras_mobilenet_v2_plans_like_tflite_same_padding(monkeypatch):
    graph = mobilenet_v2(resolution=40)
    keras = keras_padded(graph)
    assert sum(op.type == "PAD" for op in keras.ops) == 4
    assert fused_convs(keras) == fused_convs(graph)   # every ZeroPadding2D is SAME's
    assert arena(keras) == arena(graph) < arena(keras, fuse=False, monkeypatch=monkeypatch)
    assert_exact(keras)


# --- on the emulated cores ----------------------------------------------------------------------

@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board,variant", [("qemu-m4", "dsp"), ("qemu-m55", "mve")])
def test_fused_layers_are_exact_on_device(board, variant, tmp_path):
    from tinyrt.device import deploy_device
    model = tmp_path / "padded.tflite"
    model.write_bytes(write_tflite(padded_chain(CHAIN)))
    r = deploy_device(str(model), load_board(board), runs=2, quiet=True, profile=True)
    assert r["bit_exact_runs"] == r["runs"] == 2
    assert "PAD" not in r["ops"]
    convs = [layer for layer in r["layers"] if layer["op"] in passes.WINDOWED][1:]
    assert {layer.get("variant") for layer in convs} == {variant}


def test_a_chain_with_folded_explicit_pads_streams_row_by_row_exactly():
    graph = padded_chain(CHAIN)
    fused = passes.fuse_pad_into_conv(graph)
    stages = codegen.stage.candidates(fused, list(range(len(fused.ops))))
    assert stages[-1].ops == list(range(len(fused.ops)))   # every fused conv streams
    board = {**HOST, "patch": f"@{stages[-1].last}"}
    result = verify_host(graph, write_tflite(graph), runs=2, board=board)
    assert result.lowered.stage is not None and all(r.bit_exact for r in result.runs)
