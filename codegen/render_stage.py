"""Print a row-streamed stage (codegen/stage.py) as C: one small wrapper function per streamed
layer, taking only what changes from row to row (pointers, band heights, top padding), so the
kernel body is inlined once per layer and specialised for everything else; then the row steps
in schedule order: wrapper calls and line-buffer shifts.
"""
from __future__ import annotations


def _arg_text(a: dict) -> str:
    """What the template's arg() macro prints, for comparing arguments between rows."""
    if a["kind"] == "arena":
        return f"({a['ctype']} *)(tinyrt_arena + {a['offset']})"
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
            statements.append({"kind": "read", "input": lowered.graph.inputs.index(step[1]),
                               "src": step[3], "bytes": step[4],
                               "dst": lowered.plan.tensor_offset(step[1]) + step[2]})
            continue
        if step[0] == "shift":
            base = lowered.plan.tensor_offset(step[1])
            statements.append({"kind": "shift", "dst": base, "src": base + step[2],
                               "bytes": step[3]})
            continue
        w = wrappers[(step[1], step[2].kernel)]
        statements.append({"kind": "call", "layer": w["layer"], "fn": w["name"],
                           "args": [args[i] for i in w["vary"]]})
    return list(wrappers.values()), statements
