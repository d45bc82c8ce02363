"""In-place elementwise ops: the output of an int8 elementwise op takes over the buffer of an
input that dies at that op (``INPLACE`` in tinyrt/ops, the planner's reuse rule), and the outputs
stay byte-equal to tflite-runtime's with every kernel variant, because each kernel reads an
element before it writes it. ADD, SUB and MUL of equal shapes may write over input 1 as well
(``inplace_inputs``): the rule the planner is to take is stated here as ``input_1_rule``."""
from __future__ import annotations

import numpy as np
import pytest

import codegen
from builder import ModelBuilder
from conformance import rand_int8
from firmware_project import requires_arm_gcc, requires_qemu
from tinyrt import planner
from tinyrt.boards import load_board
from tinyrt.ops import add_sub, mul, op_module
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite

HOST = load_board("host")
DSP_TWIN = {**HOST, "features": ["dsp"]}
ACLE = ["-DTINYRT_ACLE_PORTABLE"]
SHAPE = (1, 6, 5, 8)
UNARY = ["RELU", "RELU6", "RELU_N1_TO_1", "HARD_SWISH", "LOGISTIC", "TANH", "QUANTIZE"]
BINARY = ["ADD", "SUB", "MUL"]


class Net:
    """A model under construction: 1x1 convolutions make arena tensors for the ops to read."""

    def __init__(self, seed=0):
        self.m, self.rng = ModelBuilder("inplace"), np.random.default_rng(seed)
        self.x = self.m.input(SHAPE, scale=0.05, zero_point=-7)

    def conv(self, x):
        c = SHAPE[3]
        ws = 0.02 * 10 ** self.rng.uniform(-1, 1, c)
        w = self.m.const(rand_int8(self.rng, (c, 1, 1, c)), "int8", scale=ws)
        b = self.m.const(self.rng.integers(-3000, 3000, c), "int32", scale=0.05 * ws)
        y = self.act()
        self.m.op("CONV_2D", [x, w, b], [y], padding="SAME", stride_h=1, stride_w=1,
                  activation="NONE")
        return y

    def act(self):
        return self.m.tensor(SHAPE, scale=float(self.rng.uniform(0.03, 0.12)),
                             zero_point=int(self.rng.integers(-60, 60)))

    def op(self, op_type, *inputs):
        fixed = {"LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0)}   # TFLite's output quant
        y = self.m.tensor(SHAPE, scale=fixed[op_type][0], zero_point=fixed[op_type][1]) \
            if op_type in fixed else self.act()
        self.m.op(op_type, list(inputs), [y])
        return y


def shares(plan, a, b) -> bool:
    return plan.tensor_offset(a) == plan.tensor_offset(b)


def assert_exact(graph, board=HOST, flags=()):
    result = verify_host(graph, write_tflite(graph), runs=2, board=board, extra_cflags=list(flags))
    assert result.ok, f"runs differ from tflite-runtime (project in {result.project_dir})"
    return result.lowered


@pytest.fixture
def input_1_rule(monkeypatch):
    """The planner with the input-1 reuse rule: an op whose module's ``inplace_inputs`` names
    input 1 writes over that input's buffer when input 0's is not taken and input 1 dies there.
    Applied after ``planner.buffers`` (the same buffers as the rule inside its loop; a no-op
    once the planner has the rule)."""
    original = planner.buffers

    def buffers(graph, order, scratch=None, stages=()):
        bufs = original(graph, order, scratch, stages)
        owner = {t: b for b in bufs for t in b.tensors}
        streamed = {i for st in stages for i in st.ops}
        for step, i in enumerate(order):
            op = graph.ops[i]
            names = getattr(op_module(op.type), "inplace_inputs", lambda g, o: (0,))(graph, op)
            src, out = owner.get(op.inputs[1] if 1 in names else -1), owner.get(op.outputs[0])
            if i in streamed or src is None or out in (src, owner.get(op.inputs[0])) \
                    or src.last != step or src.within or out.within \
                    or any(t in graph.outputs for t in src.tensors):
                continue
            src.tensors += out.tensors
            src.last, src.size = max(src.last, out.last), max(src.size, out.size)
            owner.update({t: src for t in out.tensors})
            bufs.remove(out)
        return bufs

    monkeypatch.setattr(planner, "buffers", buffers)


# --- which ops write over their input -----------------------------------------------------------

@pytest.mark.parametrize("op_type", UNARY + BINARY)
def test_an_elementwise_op_writes_over_its_dying_input_0(op_type):
    net = Net()
    a = net.conv(net.x)
    y = net.op(op_type, a, net.conv(net.x)) if op_type in BINARY else net.op(op_type, a)
    graph = net.m.graph([y])
    lowered = assert_exact(graph)
    assert shares(lowered.plan, a, y)


def test_nothing_is_overwritten_that_is_read_later_or_is_a_graph_output():
    net = Net()
    a = net.conv(net.x)
    r = net.op("RELU", a)
    graph = net.m.graph([net.op("ADD", r, a), a])   # a: read again, and an output
    plan = assert_exact(graph).plan
    assert not shares(plan, a, r)


def test_input_1_is_named_only_for_equal_shapes():
    net = Net()
    a, b = net.conv(net.x), net.conv(net.x)
    graph = net.m.graph([net.op("ADD", a, b)])
    assert add_sub.inplace_inputs(graph, graph.ops[-1]) == (0, 1)
    assert mul.inplace_inputs(graph, graph.ops[-1]) == (0, 1)
    m = ModelBuilder()
    x = m.input(SHAPE, scale=0.1)
    c = m.input((1, 1, 1, SHAPE[3]), scale=0.1)   # a per-channel operand, broadcast
    y = m.tensor(SHAPE, scale=0.2)
    m.op("MUL", [x, c], [y])
    broadcast = m.graph([y])
    assert mul.inplace_inputs(broadcast, broadcast.ops[0]) == (0,)


# --- input 1 (ADD/SUB/MUL of equal shapes) ------------------------------------------------------

def input_1_model(op_type, seed=0):
    """s = op(x, a) while x, input 0, is read again later: only a, input 1, dies at op."""
    net = Net(seed)
    a = net.conv(net.x)
    s = net.op(op_type, net.x, a)
    graph = net.m.graph([net.op("ADD", s, net.x)])
    return graph, a, s


@pytest.mark.parametrize("op_type", BINARY)
def test_binary_ops_write_over_input_1_when_input_0_lives_on(op_type, input_1_rule):
    graph, a, s = input_1_model(op_type)
    plan = assert_exact(graph).plan
    assert shares(plan, a, s)
    assert_exact(graph, DSP_TWIN, ACLE)   # add_s8_dsp with out == in2


def test_input_1_reuse_saves_the_output_bytes(input_1_rule, monkeypatch):
    graph, _, _ = input_1_model("ADD")
    after = codegen.lower(graph, HOST).plan.arena_bytes
    monkeypatch.undo()
    before = codegen.lower(graph, HOST).plan.arena_bytes
    assert before - after == int(np.prod(SHAPE))   # x, a and s live together no more


# --- on the emulated cores ----------------------------------------------------------------------

def chain_model():
    """Every elementwise op in turn, each over the previous one's output."""
    net = Net(seed=3)
    y = net.conv(net.x)
    for op_type in UNARY:
        y = net.op(op_type, y)
        y = net.conv(y) if op_type in ("LOGISTIC", "TANH") else y   # back to a spread scale
    for op_type in BINARY:
        y = net.op(op_type, y, net.conv(net.x))
    return net.m.graph([y])


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_in_place_chains_are_exact_on_device(board, tmp_path, input_1_rule):
    from tinyrt.device import deploy_device
    for name, graph in (("chain", chain_model()), ("input1", input_1_model("ADD", seed=5)[0])):
        model = tmp_path / f"{name}.tflite"
        model.write_bytes(write_tflite(graph))
        r = deploy_device(str(model), load_board(board), runs=2, quiet=True)
        assert r["bit_exact_runs"] == r["runs"] == 2, name
        lowered = codegen.lower(graph, load_board(board))
        ops = [op for op in graph.ops if op.type != "CONV_2D"]
        assert all(any(shares(lowered.plan, t, op.outputs[0]) for t in op.inputs[:2])
                   for op in ops), name
        adds = {layer.variant for layer in lowered.layers if layer.op_type == "ADD"}
        assert adds == {"dsp" if board == "qemu-m4" else "mve"}   # the SIMD ADD, over in2 too
