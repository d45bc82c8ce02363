"""The memory plan: no two simultaneously live buffers overlap, offsets are aligned, the peak is
the largest live set, and greedy packing never needs more than no reuse at all."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from builder import ModelBuilder
from tinyrt import planner
from tinyrt.ir import verify


def random_dag(sizes, parents, n_outputs=1):
    """FULLY_CONNECTED ops, op i reading the activation produced by op parents[i] (or the input)."""
    m = ModelBuilder()
    acts = [m.input((1, sizes[0]), scale=0.1)]
    for i, (size, parent) in enumerate(zip(sizes[1:], parents)):
        src = acts[parent % len(acts)]
        in_depth = m.tensors[src].shape[1]
        w = m.const(np.ones((size, in_depth)), "int8", scale=0.01)
        y = m.tensor((1, size), scale=0.1)
        m.op("FULLY_CONNECTED", [src, w, -1], [y], activation="NONE")
        acts.append(y)
    return m.graph(acts[-n_outputs:])


def independent_live_bytes(graph, order):
    """Live bytes per step computed from the graph alone (no aliasing in FC graphs)."""
    step = {op: s for s, op in enumerate(order)}
    last = len(order) - 1
    result = []
    for s in range(len(order)):
        total = 0
        for t, tensor in enumerate(graph.tensors):
            if tensor.is_const:
                continue
            born = 0 if t in graph.inputs else min(step[i] for i, op in enumerate(graph.ops) if t in op.outputs)
            uses = [step[i] for i, op in enumerate(graph.ops) if t in op.inputs]
            dies = last if t in graph.outputs else max(uses, default=born)
            if born <= s <= dies:
                total += tensor.nbytes
        result.append(total)
    return result


def assert_valid(plan):
    for b in plan.buffers:
        assert b.offset % plan.alignment == 0, "offset not aligned"
        assert b.offset + b.size <= plan.arena_bytes, "buffer past the end of the arena"
    for i, a in enumerate(plan.buffers):
        for b in plan.buffers[i + 1:]:
            if a.overlaps_in_time(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, \
                    f"live buffers overlap: {a} {b}"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 300), min_size=2, max_size=14).flatmap(
    lambda sizes: st.tuples(st.just(sizes), st.lists(st.integers(0, 100), min_size=len(sizes) - 1,
                                                     max_size=len(sizes) - 1),
                            st.integers(1, 2), st.sampled_from([1, 4, 8, 16]))))
def test_random_graphs_plan_validly(case):
    sizes, parents, n_out, align = case
    graph = random_dag(sizes, parents, min(n_out, len(sizes)))
    verify(graph)
    greedy = planner.plan(graph, alignment=align, strategy="greedy")
    linear = planner.plan(graph, alignment=align, strategy="linear")
    assert_valid(greedy)
    assert_valid(linear)
    assert greedy.live_bytes == independent_live_bytes(graph, greedy.order)
    assert greedy.peak_live_bytes == max(independent_live_bytes(graph, greedy.order))
    assert greedy.arena_bytes >= greedy.peak_live_bytes
    assert greedy.arena_bytes <= linear.arena_bytes


def test_chain_reuses_memory_ping_pong():
    graph = random_dag([100, 100, 100, 100, 100], [0, 1, 2, 3])
    p = planner.plan(graph, alignment=4)
    assert p.arena_bytes == 200


def test_scratch_buffer_lives_only_during_its_op():
    graph = random_dag([64, 64, 64], [0, 1])
    p = planner.plan(graph, scratch={1: 32}, alignment=4)
    (s,) = [b for b in p.buffers if b.scratch_of == 1]
    assert (s.first, s.last, s.size) == (1, 1, 32)
    assert_valid(p)


def test_graph_outputs_stay_live_until_the_end():
    graph = random_dag([16, 32, 8], [0, 0], n_outputs=2)
    p = planner.plan(graph, alignment=4)
    for b in p.buffers:
        if any(t in graph.outputs for t in b.tensors):
            assert b.last == len(p.order) - 1


def test_layer_lower_bound_is_the_largest_input_plus_output():
    graph = random_dag([10, 50, 20], [0, 1])
    assert planner.layer_lower_bound(graph) == 70


@pytest.mark.parametrize("strategy", sorted(planner.PACKERS))
def test_every_packer_is_valid_on_a_branching_graph(strategy):
    graph = random_dag([40, 30, 20, 60, 10, 50], [0, 0, 1, 2, 3], n_outputs=2)
    assert_valid(planner.plan(graph, alignment=8, strategy=strategy))


def test_inputs_preserved_only_when_no_buffer_reuses_their_bytes():
    chain = random_dag([100, 100, 100, 100], [0, 1, 2])
    p = planner.plan(chain, alignment=4)
    reused = any(b.offset < 100 and b.tensors != chain.inputs for b in p.buffers)
    assert p.inputs_preserved(chain.inputs) == (not reused)
    two_ops = random_dag([100, 10], [0])
    assert planner.plan(two_ops, alignment=4).inputs_preserved(two_ops.inputs)
