"""`--train` strings: which parameters of a model train, as plain data.

Grammar (comma-separated parts, each adding to the set):

    last:K          weights and biases of the last K layers with weights
    last:K:F        the same, but only the first ceil(F * C_out) output channels of each of those
                    layers' weights train (F in (0, 1], e.g. 0.25; channel-sparse update): the
                    other channels keep their frozen values, read from flash. The classifier
                    (the last layer with weights) always trains all its output channels
    bias            the biases of every layer with weights
    bias:last:N     the biases of the last N layers with weights
    NAME or INDEX   weights and bias of that layer (its op name, or its op index in the model)

``parse`` turns the string into ``Part``s; ``resolve`` applies them to a graph and returns
``{op index: Trains}``. A layer *with weights* is a CONV_2D, DEPTHWISE_CONV_2D or
FULLY_CONNECTED whose weights are constant. A layer without a bias tensor trains its weights
only (there is no bias to train).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..errors import TinyrtError
from ..ir import Graph

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
GRAMMAR_HINT = ("--train last:K | last:K:F (F in (0, 1]: the fraction of output channels whose "
                "weights train) | bias | bias:last:N | bias:last:N,last:K[:F] | "
                "a comma list of layer names or op indices")


@dataclass(frozen=True)
class Part:
    what: str            # "all" (weights and bias) or "bias"
    last: int | None     # the last N weighted layers; None: every one (bias) or `layer`
    layer: str = ""      # an explicit layer: op name or op index as text
    fraction: Fraction = Fraction(1)   # of the output channels whose weights train


@dataclass(frozen=True)
class Trains:
    weight: bool
    bias: bool
    fraction: Fraction = Fraction(1)   # the first ceil(fraction * C_out) weight channels train


def parse(text: str) -> list[Part]:
    parts = [p.strip() for p in (text or "").split(",")]
    if not text or not all(parts):
        raise TinyrtError(f"empty --train specification '{text}'", [GRAMMAR_HINT])
    return [_part(p) for p in parts]


def _count(text: str, part: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise TinyrtError(f"--train '{part}': '{text}' is not a positive layer count",
                          [GRAMMAR_HINT])
    return int(text)


def _fraction(text: str, part: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        value = Fraction(0)
    if not 0 < value <= 1 or "/" in text:
        raise TinyrtError(f"--train '{part}': '{text}' is not a channel fraction in (0, 1] "
                          "(a decimal such as 0.25)", [GRAMMAR_HINT])
    return value


def _part(p: str) -> Part:
    fields = p.split(":")
    if fields[0] == "last" and len(fields) == 2:
        return Part("all", _count(fields[1], p))
    if fields[0] == "last" and len(fields) == 3:
        return Part("all", _count(fields[1], p), fraction=_fraction(fields[2], p))
    if fields[0] == "bias" and len(fields) == 1:
        return Part("bias", None)
    if fields[0] == "bias" and len(fields) == 3 and fields[1] == "last":
        return Part("bias", _count(fields[2], p))
    if fields[0] in ("last", "bias"):
        raise TinyrtError(f"--train '{p}' is not understood", [GRAMMAR_HINT])
    return Part("all", None, p)


def weighted_layers(graph: Graph) -> list[int]:
    """Op indices of the layers with constant weights, in model order."""
    return [i for i, op in enumerate(graph.ops)
            if op.type in WEIGHTED_OPS and graph.t(op.inputs[1]).is_const]


def _find_layer(graph: Graph, ref: str, weighted: list[int]) -> int:
    names = {graph.ops[i].name: i for i in weighted}
    if ref in names:
        return names[ref]
    if ref.isdigit() and int(ref) in weighted:
        return int(ref)
    listing = ", ".join(f"{i} ({graph.ops[i].name or graph.ops[i].type})" for i in weighted)
    raise TinyrtError(f"--train: '{ref}' is not a layer with weights of {graph.name}",
                      [f"layers with weights: {listing}"])


def resolve(parts: list[Part], graph: Graph) -> dict[int, Trains]:
    """{op index: Trains} for every layer that trains something, in model order."""
    weighted = weighted_layers(graph)
    if not weighted:
        raise TinyrtError(f"{graph.name} has no layer with weights to train")
    chosen: dict[int, list] = {}
    for part in parts:
        if part.layer:
            layers = [_find_layer(graph, part.layer, weighted)]
        elif part.last is not None:
            if part.last > len(weighted):
                raise TinyrtError(f"--train: {graph.name} has {len(weighted)} layers with "
                                  f"weights, not {part.last}",
                                  [f"last:{len(weighted)} at most"])
            layers = weighted[-part.last:]
        else:
            layers = weighted
        for i in layers:   # a layer named twice trains the most any part asks for
            flags = chosen.setdefault(i, [False, False, Fraction(0)])
            if part.what == "all":
                flags[0], flags[2] = True, max(flags[2], part.fraction)
            flags[1] |= len(graph.ops[i].inputs) > 2 and graph.ops[i].inputs[2] >= 0
    # the classifier (the last layer with weights) trains all its outputs, as tiny-training's
    # sparse update: a fraction of vww's 2 classes would leave a class frozen
    result = {i: Trains(w, b, f if w and i != weighted[-1] else Fraction(1))
              for i, (w, b, f) in sorted(chosen.items()) if w or b}
    if not result:
        raise TinyrtError("--train selects nothing to train (the chosen layers have no bias)",
                          ["last:1 (weights and bias of the last layer)"])
    return result


def describe(trains: dict[int, Trains], graph: Graph) -> list[dict]:
    """One row per trained layer, for reports: index, name, op, what trains."""
    return [{"index": i, "name": graph.ops[i].name, "op": graph.ops[i].type,
             "weights": t.weight, "bias": t.bias, "weight_fraction": float(t.fraction)}
            for i, t in trains.items()]
