"""Print a row-streamed stage (codegen/stage.py) as C: one small wrapper function per streamed
layer, taking only what changes from row to row (pointers, band heights, top padding), so the
kernel body is inlined once per layer and specialised for everything else; then the row steps
in schedule order (wrapper calls, line-buffer shifts, input reads), folded into C loops where
they repeat (codegen/reroll.py).
"""
from __future__ import annotations

import re

from tinyrt.regions import locate

from .reroll import affine, reroll

_INT = re.compile(r"-?[0-9]+")


def _arg_text(a: dict) -> str:
    """What the template's arg() macro prints, for comparing arguments between rows."""
    if a["kind"] == "arena":
        return f"({a['ctype']} *)({a['base']} + {a['offset']})"
    return a["name"] if a["kind"] == "flash" else a["text"]


def stage_context(lowered, code, render_args, prototypes) -> tuple[list[dict], list[dict]]:
    """(wrappers, statements) of the stage ``code`` (a StageCode of ``lowered``).
    ``render_args(call, op)`` gives the call's argument dicts as the template prints them;
    ``prototypes(header)`` the kernels' (C type, name) parameters."""
    layer_of = {layer.index: n for n, layer in enumerate(lowered.layers)}
    rendered = [(s, render_args(s[2], s[1])) if s[0] == "call" else (s, None) for s in code.steps]
    wrappers, varying = {}, {}
    for (step, args) in rendered:
        if step[0] != "call":
            continue
        key = (step[1], step[2].kernel)
        seen = varying.setdefault(key, {"first": args, "vary": set()})
        seen["vary"] |= {i for i, (a, b) in enumerate(zip(seen["first"], args))
                         if _arg_text(a) != _arg_text(b)}
    for (op, kernel), seen in varying.items():
        call = next(s[2] for s, _ in rendered if s[0] == "call" and (s[1], s[2].kernel) == (op, kernel))
        types = prototypes(call.header)[kernel]
        vary = sorted(seen["vary"])
        params = [{"ctype": types[i][0], "name": f"{types[i][1]}_"} for i in vary]
        body = [{"kind": "literal", "text": f"{types[i][1]}_"} if i in vary else a
                for i, a in enumerate(seen["first"])]
        wrappers[(op, kernel)] = {"name": f"layer{layer_of[op]:02d}_{kernel}_rows", "kernel": kernel,
                                  "layer": layer_of[op], "params": params, "args": body,
                                  "vary": vary}
    statements = []
    for step, args in rendered:
        if step[0] == "read":
            base, dst = locate(lowered.plan, lowered.plan.tensor_offset(step[1]) + step[2])
            statements.append({"kind": "read", "input": lowered.graph.inputs.index(step[1]),
                               "key": ("read", step[1], base), "base": base,
                               "nums": [step[3], step[4], dst]})
        elif step[0] == "shift":
            if step[3] == 0:       # nothing kept: the next rows overwrite the dead ones
                continue
            base, at = locate(lowered.plan, lowered.plan.tensor_offset(step[1]))
            statements.append({"kind": "shift", "key": ("shift", base), "base": base,
                               "nums": [at, at + step[2], step[3]]})
        else:
            w = wrappers[(step[1], step[2].kernel)]
            statements.append(_call_statement(w, [args[i] for i in w["vary"]]))
    return list(wrappers.values()), [_printable(s) for s in reroll(statements)]


def _call_statement(wrapper: dict, args: list[dict]) -> dict:
    """A wrapper call as a statement whose arena offsets and integer arguments may vary."""
    shapes, nums = [], []
    for a in args:
        if a["kind"] == "arena":
            shapes.append(("arena", a["ctype"], a["base"]))
            nums.append(a["offset"])
        elif a["kind"] == "literal" and _INT.fullmatch(a["text"]):
            shapes.append(("int",))
            nums.append(int(a["text"]))
        else:
            shapes.append(("text", _arg_text(a)))
    return {"kind": "call", "layer": wrapper["layer"], "fn": wrapper["name"],
            "key": ("call", wrapper["name"], tuple(shapes)), "nums": nums}


def _printable(item: dict) -> dict:
    """The template's view of a statement or loop: every number as C text (``base + step * r``
    inside a loop)."""
    if item["kind"] == "loop":
        return {"kind": "loop", "count": item["count"],
                "body": [_printable(s) for s in item["body"]]}
    steps = item.get("steps") or [0] * len(item["nums"])
    nums = iter([affine(x, d) for x, d in zip(item["nums"], steps)])
    if item["kind"] == "read":
        unsigned = lambda t: f"{t}u" if _INT.fullmatch(t) else f"(uint32_t)({t})"
        return {"kind": "read", "input": item["input"], "src": unsigned(next(nums)),
                "bytes": unsigned(next(nums)), "dst": next(nums), "base": item["base"]}
    if item["kind"] == "shift":
        return {"kind": "shift", "dst": next(nums), "src": next(nums), "bytes": next(nums),
                "base": item["base"]}
    args = []
    for shape in item["key"][2]:
        if shape[0] == "arena":
            args.append(f"({shape[1]} *)({shape[2]} + {next(nums)})")
        else:
            args.append(next(nums) if shape[0] == "int" else shape[1])
    return {"kind": "call", "layer": item["layer"], "fn": item["fn"], "args": args}
