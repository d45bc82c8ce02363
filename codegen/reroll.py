"""Fold a streamed stage's row steps into C loops.

The row schedule of a stage (tinyrt/stream.py) is a flat list of statements: wrapper calls on
bands of rows, line-buffer shifts and input reads. In the steady state it repeats with a period
(one output row of the stage's last layer), and from one period to the next every number in it
(arena offsets, band heights, paddings, input offsets) changes by a constant. ``reroll`` finds
those runs and turns each into one loop whose body holds the numbers as ``base + step * r``, so
the generated C holds the loop, not a copy of each row: the code no longer grows with the image
height, and what stays flat is the top and bottom borders, where the windows differ.

A statement here is plain data: ``{"kind": ..., "key": <hashable shape>, "nums": [int, ...],
...}``; ``key`` says what must be equal between two periods, ``nums`` what may change affinely.
``expand`` undoes ``reroll`` (the tests hold ``expand(reroll(s)) == s``).
"""
from __future__ import annotations

MAX_PERIOD = 96    # statements in one period: a row of every streamed layer, and its strips
MIN_SAVED = 4      # fold only when the loop saves at least this many statements
MIN_COUNT = 3      # and repeats at least this often (any two blocks alike look affine)


def _repeats(stmts: list[dict], i: int, p: int) -> tuple[int, list[list[int]]]:
    """How many times the block stmts[i:i+p] repeats from i with numbers moving by a constant
    step, and the steps (per statement, per number)."""
    if i + 2 * p > len(stmts):
        return 1, []
    first, second = stmts[i:i + p], stmts[i + p:i + 2 * p]
    if any(a["key"] != b["key"] for a, b in zip(first, second)):
        return 1, []
    steps = [[y - x for x, y in zip(a["nums"], b["nums"])] for a, b in zip(first, second)]
    n = 2
    while i + (n + 1) * p <= len(stmts):
        block = stmts[i + n * p:i + (n + 1) * p]
        if any(b["key"] != a["key"] or
               any(v != x + n * d for v, x, d in zip(b["nums"], a["nums"], ds))
               for a, b, ds in zip(first, block, steps)):
            break
        n += 1
    return n, steps


def reroll(stmts: list[dict], max_period: int = MAX_PERIOD) -> list[dict]:
    """``stmts`` with runs that repeat affinely replaced by ``{"kind": "loop", "count": n,
    "body": [statement with "steps"]}``, chosen by dynamic programming over the positions so
    that the loops together save the most statements (a greedy choice can cut a long period's
    run short with a short one)."""
    runs = [[(p, *_repeats(stmts, i, p)) for p in range(1, min(max_period, (len(stmts) - i) // 2) + 1)]
            for i in range(len(stmts))]
    saved = [0] * (len(stmts) + 1)        # the most statements loops can save from i on
    choice: list[tuple | None] = [None] * len(stmts)
    for i in range(len(stmts) - 1, -1, -1):
        saved[i] = saved[i + 1]
        for p, n, steps in runs[i]:
            for k in range(MIN_COUNT, n + 1):
                gain = (k - 1) * p + saved[i + k * p]
                if (k - 1) * p >= MIN_SAVED and gain > saved[i]:
                    saved[i], choice[i] = gain, (p, k, steps)
    out, i = [], 0
    while i < len(stmts):
        if choice[i] is None:
            out.append(stmts[i])
            i += 1
            continue
        p, n, steps = choice[i]
        out.append({"kind": "loop", "count": n,
                    "body": [{**s, "steps": ds} for s, ds in zip(stmts[i:i + p], steps)]})
        i += p * n
    return out


def expand(items: list[dict]) -> list[dict]:
    """The flat statements a rerolled list stands for."""
    flat = []
    for item in items:
        if item["kind"] != "loop":
            flat.append(item)
            continue
        for r in range(item["count"]):
            for s in item["body"]:
                plain = {k: v for k, v in s.items() if k != "steps"}
                plain["nums"] = [x + r * d for x, d in zip(s["nums"], s["steps"])]
                flat.append(plain)
    return flat


def affine(base: int, step: int, var: str = "r") -> str:
    """C text of ``base + step * var``."""
    if step == 0:
        return str(base)
    term = var if abs(step) == 1 else f"{abs(step)} * {var}"
    if base == 0:
        return term if step > 0 else f"-{term}"
    return f"{base} {'+' if step > 0 else '-'} {term}"
