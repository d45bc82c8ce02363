"""Column tiles of a row-streamed stage: the stage runs once per vertical strip of its output,
so its line buffers are as wide as a strip (plus its halo) instead of the whole image.

The halo columns at a strip's edges are computed by both neighbouring strips (MCUNetV2's
recomputation, along the columns only; the rows stay in line buffers, so nothing is computed
twice along them). ``column_ranges`` derives, from a strip of the stage's anchor tensor (its
last output, or the input of a global pool that ends it), the columns every tensor of the
stage must hold: a window op's input columns [c0 * stride - pad, (c1 - 1) * stride - pad +
window) clipped to the image, an elementwise op's the same columns as its output, the union over
a tensor's readers. A window op must read all the columns its input holds (its rows are then
contiguous in the line buffer); a stage where another reader makes them wider is not tiled.
"""
from __future__ import annotations

from .ir import Graph

WINDOWED = ("CONV_2D", "DEPTHWISE_CONV_2D")


def split(width: int, tiles: int) -> list[tuple[int, int]]:
    """``tiles`` strips of nearly equal width covering [0, width)."""
    edges = [round(k * width / tiles) for k in range(tiles + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def col_window(graph: Graph, op) -> tuple[int, int, int, int]:
    """(stride, pad, window columns, input columns) along the columns."""
    from .stream import axis_window
    return axis_window(graph, op, 2)


def cols_read(geometry: tuple[int, int, int, int], c0: int, c1: int) -> tuple[int, int]:
    stride, pad, size, w = geometry
    return max(0, c0 * stride - pad), min(w, (c1 - 1) * stride - pad + size)


def column_ranges(graph: Graph, ops: list[int], anchor: int,
                  strip: tuple[int, int]) -> dict[int, tuple[int, int]]:
    """Tensor -> the columns [c0, c1) the stage holds of it for one strip of ``anchor``.
    Raises ValueError when a window op would read fewer columns than its input holds."""
    cols = {anchor: strip}
    needs: dict[int, list[tuple[int, int, bool]]] = {}
    for i in reversed(ops):
        op = graph.ops[i]
        out = op.outputs[0]
        if out not in cols:
            continue   # the global pool that ends the stage (its input is the anchor)
        geometry = col_window(graph, op)
        for u in [t for t in op.inputs if t >= 0 and not graph.t(t).is_const]:
            lo, hi = cols_read(geometry, *cols[out])
            needs.setdefault(u, []).append((lo, hi, op.type in WINDOWED))
            have = cols.get(u, (lo, hi))
            cols[u] = (min(have[0], lo), max(have[1], hi))
    for u, reads in needs.items():
        if any(windowed and (lo, hi) != cols[u] for lo, hi, windowed in reads):
            raise ValueError(f"tensor {u} has readers that need different columns")
    return cols


def mac_overhead(graph: Graph, ops: list[int], strips: list[dict[int, tuple[int, int]]],
                 macs: dict[int, int]) -> float:
    """The MACs computed twice at the strips' edges, as a fraction of the stage's MACs."""
    total = extra = 0
    for i in ops:
        out = graph.ops[i].outputs[0]
        width = graph.t(out).shape[2]
        computed = sum(c[out][1] - c[out][0] for c in strips if out in c)
        total += macs.get(i, 0)
        extra += macs.get(i, 0) * (computed - width) / width if computed else 0
    return extra / total if total else 0.0
