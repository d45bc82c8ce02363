"""Does a training configuration fit the board? Its training peak against the SRAM budget, and,
when it does not fit, the best choice of trained layers that does.

The budget is ``budget`` when given, else the board's ``sram_budget`` (``--sram-budget``), else
its SRAM (the regions that hold data, arena and stack) minus its stack and ``static_ram``
(the firmware's other static data: known only once it is linked, so the caller says it; 0 by
default). The host has no budget. A refusal names the bytes missing and the configuration
that trains the most parameters among the smaller ones tried (fewer layers, a smaller channel
fraction of their weights, biases only) that fits, with its peak.
"""
from __future__ import annotations

from fractions import Fraction

import codegen

from ..boards import budgets
from ..errors import TinyrtError
from ..ir import Graph
from . import graph as train_graph
from . import plan as train_plan
from . import spec as train_spec

FRACTIONS = ("0.75", "0.5", "0.375", "0.25", "0.125", "0.0625")


def planned(graph: Graph, spec_text: str, board: dict, strategy: str = "best",
            momentum: bool = True, cache: dict | None = None, precision: str = "fp32"):
    """(TrainGraph, backbone Lowered, TrainPlan) of a --train string on ``board``; ``cache``
    keeps the backbone lowered per boundary across calls; ``precision`` "fp16" plans FP16
    buffers."""
    tg = train_graph.build(graph, train_spec.resolve(train_spec.parse(spec_text), graph))
    cache = {} if cache is None else cache
    if tg.boundary not in cache:
        cache[tg.boundary] = codegen.lower(tg.backbone_graph(), board, strategy=strategy,
                                           compute="fp32")
    backbone = cache[tg.boundary]
    tplan = train_plan.plan(tg, board.get("alignment", 8), backbone.plan.arena_bytes, strategy,
                            momentum, backbone.plan.tensor_offset(tg.boundary),
                            train_plan.ELEMENT_BYTES[precision])
    return tg, backbone, tplan


def budget_of(board: dict, budget: int | None = None,
              static_ram: int = 0) -> tuple[int | None, str]:
    """(bytes the training peak may take, where that figure comes from); None: no budget."""
    if budget:
        return budget, "the given budget"
    if board.get("sram_budget"):
        return board["sram_budget"], "--sram-budget"
    if board["kind"] == "host":
        return None, "the host"
    sram, stack = budgets(board)["sram"], board.get("stack_bytes", 0)
    where = f"SRAM {sram:,} - stack {stack:,}" + (f" - static RAM {static_ram:,}"
                                                   if static_ram else "")
    return sram - stack - static_ram, where


def candidates(graph: Graph, spec_text: str) -> list[str]:
    """Smaller --train strings than ``spec_text``, in the ``bias:last:N,last:K:F`` forms: fewer
    layers, smaller channel fractions, the biases of fewer layers (a bias deep in the model
    means backward, and saved activations, through every layer above it), biases only."""
    trains = train_spec.resolve(train_spec.parse(spec_text), graph)
    weighted = train_spec.weighted_layers(graph)
    n_weights = sum(1 for t in trains.values() if t.weight)
    n_bias = len(weighted) - min((weighted.index(i) for i, t in trains.items() if t.bias),
                                 default=len(weighted))
    top = max((t.fraction for i, t in trains.items() if t.weight and i != weighted[-1]),
              default=Fraction(1))
    out = []
    for k in range(n_weights, 0, -1):   # last:1 is the classifier: it trains whole
        fractions = [f for f in ("1",) + FRACTIONS[:None if k > 1 else 0]
                     if k < n_weights or Fraction(f) <= top]
        weights = [f"last:{k}" + ("" if f == "1" else f":{f}") for f in fractions]
        for n in range(n_bias, 0, -1):   # as many biases first, then fewer
            out += [f"bias:last:{n},{w}" if n > k else w for w in weights]
    out += [f"bias:last:{n}" for n in range(max(n_bias, n_weights), 0, -1)]
    return [c for c in dict.fromkeys(out) if c != spec_text]


def largest_fraction(graph: Graph, spec_text: str, board: dict, limit: int,
                     strategy: str = "best", momentum: bool = True) -> tuple[str, int] | None:
    """(spec, training peak) of ``spec_text`` (ending in ``last:K``, no fraction) itself or
    with the largest channel fraction of FRACTIONS (``spec_text:F``) whose peak is within
    ``limit``; None when not even the smallest fits."""
    cache: dict = {}
    for f in ("1",) + FRACTIONS:
        c = spec_text if f == "1" else f"{spec_text}:{f}"
        peak = planned(graph, c, board, strategy, momentum, cache)[2].peak_bytes
        if peak <= limit:
            return c, peak
    return None


def best_fit(graph: Graph, spec_text: str, board: dict, limit: int, strategy: str = "best",
             momentum: bool = True, precision: str = "fp32") -> tuple[str, int, int] | None:
    """(spec, training peak, trained parameters) of the candidate that trains the most
    parameters and fits ``limit``; None when none does."""
    sized = []
    for c in candidates(graph, spec_text):
        try:
            tg = train_graph.build(graph, train_spec.resolve(train_spec.parse(c), graph))
        except TinyrtError:   # e.g. a fraction of a depthwise layer, a tail op that cannot run
            continue
        sized.append((tg.param_count, c))
    cache: dict = {}
    for count, c in sorted(sized, key=lambda s: -s[0]):
        peak = planned(graph, c, board, strategy, momentum, cache, precision)[2].peak_bytes
        if peak <= limit:
            return c, peak, count
    return None


def check(graph: Graph, spec_text: str, board: dict, tplan, budget: int | None = None,
          static_ram: int = 0, strategy: str = "best", momentum: bool = True,
          precision: str = "fp32") -> None:
    """Refuse a training plan whose peak exceeds the budget, saying by how much and what fits."""
    limit, where = budget_of(board, budget, static_ram)
    if limit is None or tplan.peak_bytes <= limit:
        return
    m = tplan.summary()
    fit = best_fit(graph, spec_text, board, limit, strategy, momentum, precision)
    hint = (f"--train {fit[0]} fits: training peak {fit[1]:,} B, {fit[2]:,} trained parameters"
            if fit else "no smaller choice of trained layers fits (fewer layers, a channel "
            "fraction such as last:K:0.25, biases only)")
    raise TinyrtError(
        f"training {graph.name} with --train {spec_text} does not fit board {board['id']}: "
        f"training peak {tplan.peak_bytes:,} B (backbone arena {m['backbone_arena_bytes']:,} + "
        f"training arena {m['training_arena_bytes']:,}, of which parameters and velocity "
        f"{m['persistent_bytes']:,}), budget {limit:,} B ({where}): "
        f"{tplan.peak_bytes - limit:,} B too many",
        [hint, "a board with more SRAM (`tinyrt boards`)"])
