"""The row steps of a streamed stage are C loops (codegen/reroll.py): a repeating run of steps
whose numbers move by a constant becomes one loop, the loop stands for exactly the steps it
replaced, and the generated code of a stage does not grow with the image height."""
from __future__ import annotations

import re

import numpy as np
from hypothesis import given, settings, strategies as st

import codegen
from codegen.reroll import affine, expand, reroll
from test_stream import DSP_TWIN, assert_streamed_bit_exact, conv_chain


def call(fn: str, *nums: int) -> dict:
    return {"kind": "call", "fn": fn, "key": ("call", fn), "nums": list(nums)}


def test_a_run_whose_numbers_move_by_a_constant_becomes_one_loop():
    steps = [call("head", 1)] + [call("a", 100 + 8 * r, 3) for r in range(5)] + [call("tail", 2)]
    items = reroll(steps)
    assert [i["kind"] for i in items] == ["call", "loop", "call"]
    loop = items[1]
    assert loop["count"] == 5 and loop["body"][0]["steps"] == [8, 0]
    assert expand(items) == steps


def test_a_period_of_several_steps_is_found_and_a_broken_step_ends_the_loop():
    period = lambda r: [call("a", 10 * r), call("b", 5, r), call("c", 7)]
    steps = sum((period(r) for r in range(6)), []) + [call("a", 61)]   # 61, not 60: no 7th row
    items = reroll(steps)
    assert items[0]["kind"] == "loop" and items[0]["count"] == 6 and len(items[0]["body"]) == 3
    assert items[1] == call("a", 61)


def test_numbers_that_do_not_move_affinely_stay_flat():
    steps = [call("a", r * r) for r in range(8)]
    assert reroll(steps) == steps


def test_different_calls_are_never_folded_together():
    steps = [call("a" if r % 3 else "b", 4) for r in range(12)]
    assert all(s["kind"] != "loop" or {b["fn"] for b in s["body"]} == {"a", "b"}
               for s in reroll(steps))
    assert expand(reroll(steps)) == steps


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 4), st.integers(-3, 3),
                          st.integers(1, 6)), min_size=0, max_size=12))
def test_expanding_the_loops_gives_back_every_step_in_order(pieces):
    """Random sequences made of affine runs and noise: rerolling never changes what runs."""
    steps = []
    for fn, base, step, count in pieces:
        steps += [call(fn, base + step * r, count) for r in range(count)]
    assert expand(reroll(steps)) == steps


def test_affine_prints_c_a_reader_would_write():
    assert [affine(5, 0), affine(0, 1), affine(0, -2), affine(3, 1), affine(30, -4)] == \
        ["5", "r", "-2 * r", "3 + r", "30 - 4 * r"]


def row_steps(c_text: str) -> int:
    body = c_text[c_text.index("void tinyrt_run(void)"):]
    return len(re.findall(r"_rows\(", body))


def test_the_stage_code_does_not_grow_with_the_image_height():
    """The same layers on a 3x taller image: more loop iterations, the same statements."""
    layers = [("conv", 3, 2, 1, "SAME", 8, 0), ("dw", 3, 1, 1, "SAME", 0, 1),
              ("conv", 1, 1, 1, "SAME", 8, 0)]
    counts = []
    for height in (32, 96):
        graph = conv_chain(layers, size=(height, 12), seed=3)
        board = {**DSP_TWIN, "patch": "@2"}
        text = codegen.render(codegen.lower(graph, board))["model.c"]
        counts.append((row_steps(text), len(re.findall(r"for \(int r = 0; r < ", text))))
    assert counts[0] == counts[1] and counts[0][1] >= 1, counts


def test_a_looped_stage_stays_bit_exact_at_every_border():
    graph = conv_chain([("conv", 3, 2, 1, "SAME", 8, 0), ("dw", 5, 1, 1, "SAME", 0, 1),
                        ("conv", 1, 1, 1, "VALID", 6, 0)], size=(40, 7), seed=5)
    lowered = assert_streamed_bit_exact(graph, DSP_TWIN, flags=["-DTINYRT_ACLE_PORTABLE"])
    assert "for (int r = 0;" in codegen.render(lowered)["model.c"]
    assert np.isfinite(lowered.plan.arena_bytes)
