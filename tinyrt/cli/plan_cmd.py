"""`tinyrt plan MODEL`: the memory plan as a table (per op: output, arena offset, live bytes)."""
from __future__ import annotations

import codegen

from .. import planner, regions
from ..boards import load_board
from ..frontend import read_tflite
from ..fit import fit_to_board
from ..table import table
from .common import add_board, add_json, add_kernels, add_model, add_patch, with_kernels, write_json


def register(sub) -> None:
    p = sub.add_parser("plan", help="show the memory plan of a model")
    add_model(p)
    add_board(p)
    add_kernels(p)
    add_patch(p)
    p.add_argument("--strategy", choices=sorted(planner.PACKERS), default="best",
                   help="arena packing (default: best: the greedy placement in several orders, then a bounded exact search, never worse than greedy)")
    p.add_argument("--plot", metavar="FILE.png",
                   help="plot live memory over the schedule, layer by layer and streamed")
    add_json(p)
    p.set_defaults(func=run)


def plan_report(lowered) -> dict:
    g, plan = lowered.graph, lowered.plan
    held_in = {t: code.stage for code in lowered.stages for t in code.stage.lines}
    steps = []
    for s, layer in enumerate(lowered.layers):
        out = layer.outputs[0]
        stage = held_in.get(out)
        held = stage.lines[out] if stage else None
        steps.append({"step": s, "op": layer.op_type, "name": layer.name,
                      "output_shape": list(g.t(out).shape), "output_bytes": g.t(out).nbytes,
                      "buffer_bytes": stage.line_bytes(g, out) if stage else g.t(out).nbytes,
                      "rows_held": held, "streamed": layer.streamed,
                      "offset": plan.tensor_offset(out), "live_bytes": plan.live_bytes[s],
                      "kernel": layer.kernel or "alias", "variant": layer.variant})
    return {"model": g.name, "board": lowered.board["id"], "strategy": plan.strategy,
            "arena_bytes": plan.arena_bytes, "peak_live_bytes": plan.peak_live_bytes,
            "arena_regions": arena_regions(lowered),
            "layer_lower_bound_bytes": planner.layer_lower_bound(g),
            "stages": [stage_report(lowered.graph, code) for code in lowered.stages],
            "alignment": plan.alignment, "steps": steps,
            "buffers": [{"tensors": b.tensors, "bytes": b.size, "offset": b.offset,
                         "first": b.first, "last": b.last, "scratch_of": b.scratch_of}
                        for b in plan.buffers]}


def arena_regions(lowered) -> list[dict]:
    """The memory regions the arena is in, with its bytes there and, on a board that spills it
    (``placement.arena_overflow``), what each region can hold of it (tinyrt/regions.py)."""
    place, plan = lowered.board.get("placement"), lowered.plan
    caps = regions.capacities(lowered.board)
    if not place:
        return []
    if caps is None:
        return [{"region": place["arena"], "arena_bytes": plan.arena_bytes}]
    split = [*(plan.regions or [plan.arena_bytes]), 0][:2]
    return [{"region": name, "arena_bytes": n, "capacity_bytes": cap}
            for name, n, cap in zip((place["arena"], place["arena_overflow"]), split, caps)]


def stage_report(g, code) -> dict:
    """A streamed stage: its ops, line buffers, scratch, and what streaming costs."""
    return {"ops": code.stage.ops, "row_steps": sum(1 for s in code.steps if s[0] == "call"),
            "line_buffer_bytes": sum(code.stage.line_bytes(g, t) for t in code.stage.lines),
            "column_strips": max(1, len(code.stage.cols)),
            "scratch_bytes": code.scratch_bytes, "shifted_bytes": code.shifted_bytes,
            "mac_overhead": code.mac_overhead}


def format_plan(report: dict) -> str:
    peak = max(report["peak_live_bytes"], 1)
    rows = [[s["step"], s["op"], s["kernel"], s["variant"], "x".join(map(str, s["output_shape"])),
             f"{s['buffer_bytes']:,} ({s['rows_held']} rows)" if s["rows_held"] else s["buffer_bytes"],
             s["offset"], s["live_bytes"], "#" * round(24 * s["live_bytes"] / peak)]
            for s in report["steps"]]
    body = table(["#", "op", "kernel", "variant", "output", "bytes", "offset", "live bytes", "live / peak"], rows,
                 title=f"memory plan of {report['model']} for {report['board']} "
                       f"({report['strategy']} packing, {report['alignment']}-byte aligned)")
    stage = "".join(
        f"\nstreamed row by row: ops {st['ops'][0]}..{st['ops'][-1]} in {st['row_steps']} row steps; "
        f"line buffers {st['line_buffer_bytes']:,} B, shared scratch {st['scratch_bytes']:,} B; "
        + (f"{st['column_strips']} column strips, {100 * st['mac_overhead']:.1f} % more MACs; "
           if st["column_strips"] > 1 else "no extra MACs; ")
        + f"{st['shifted_bytes']:,} B shifted per inference" for st in report["stages"])
    spread = report["arena_regions"]
    where = "" if len(spread) < 2 else "\narena by region (the hottest buffers first): " + ", ".join(
        f"{r['region']} {r['arena_bytes']:,} of {r['capacity_bytes']:,} B" for r in spread)
    return (f"{body}\n\narena {report['arena_bytes']:,} B   peak live {report['peak_live_bytes']:,} B"
            f"   layer-wise lower bound {report['layer_lower_bound_bytes']:,} B{where}{stage}")


def run(args) -> int:
    board = with_kernels(load_board(args.board), args)
    graph = read_tflite(args.model)
    if board.get("sram_budget"):   # the plan with the least cost that fits
        lowered = fit_to_board(graph, board, strategy=args.strategy)
    else:
        lowered = codegen.lower(graph, board, strategy=args.strategy)
    report = plan_report(lowered)
    print(format_plan(report))
    if args.plot:
        _plot(args, graph, board, lowered)
    write_json(args.json, report)
    return 0


def _plot(args, graph, board, lowered) -> None:
    from ..boards import budgets
    from ..plot import live_memory
    layerwise = codegen.lower(graph, {**board, "patch": "off"}, strategy=args.strategy)
    streamed = lowered if lowered.stage else codegen.lower(graph, {**board, "patch": "auto"},
                                                           strategy=args.strategy)
    series = {f"layer by layer (arena {layerwise.plan.arena_bytes:,} B)": layerwise.plan.live_bytes}
    if streamed.stage:
        series[f"streamed (arena {streamed.plan.arena_bytes:,} B)"] = streamed.plan.live_bytes
    labels = [f"{n} {layer.op_type}" for n, layer in enumerate(layerwise.layers)]
    sram = budgets(board)["sram"] if board["kind"] != "host" else None
    out = live_memory(args.plot, f"live memory of {graph.name} on {board['id']}", series, labels,
                      sram if sram and sram < 4 * layerwise.plan.arena_bytes else None)
    print(f"plot written to {out}")
