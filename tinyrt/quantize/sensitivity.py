"""Per-layer quantisation sensitivity: which layers of a float model lose most at int8, and what
keeping the worst ones in floating point would buy and cost (issue 4, item 4, first step).

Everything runs in tflite-runtime on *fake-quantised* float models: a layer marked int8 computes
in float32 with the weights, biases and constants the int8 model holds (dequantised), reads its
activation inputs and writes its output through a QUANTIZE -> DEQUANTIZE pair with the
activation's int8 (scale, zero point). Those parameters come from ``ptq.quantize_graph`` on the
existing calibration, so the fake-quantised model with every layer marked int8 is the int8 model
up to the integer kernels' rounding (a test holds the two close).

A *layer* is an op that computes (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, MUL, MEAN,
AVERAGE_POOL_2D, SOFTMAX, ...). Data-movement ops (RESHAPE, MAX_POOL_2D, PAD, ...) add no error
of their own and take the precision of the layer that produces their input.

Two measurements per layer L, at the model output on the report inputs:

- one-at-a-time (``ota``): only L int8, every other layer float. Low SQNR = sensitive.
- leave-one-out (``loo``): every layer int8 except L. The gain over the all-int8 model is what
  keeping L alone in float recovers.

Layers are ranked by one-at-a-time output SQNR, lowest (most sensitive) first. For k = 1..top_k
the k first layers are kept in FP16 in one executable mixed model (``mixed.keep_fp16``: FP16
weights, FP32 activations and compute, QUANTIZE/DEQUANTIZE at the boundaries), whose output is
measured in tflite-runtime and whose weights and arena come from tinyrt's plan for the board.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

import codegen

from ..boards import load_board
from ..errors import TinyrtError
from ..ir import Graph, Op
from ..progress import Progress
from ..reference import Reference
from ..writer import write_tflite
from . import QuantResult, requantize
from .calibrate import probe_model
from .data import Samples
from .prepare import WEIGHTED
from .mixed import FP16_OPS
from .report import Int8Runner, compare, is_classifier, short_name, sqnr_db

MOVE = {"RESHAPE", "SQUEEZE", "TRANSPOSE", "PAD", "MAX_POOL_2D", "CONCATENATION",
        "RESIZE_NEAREST_NEIGHBOR"}


# ---- which ops form a layer -------------------------------------------------------------------

def layer_owners(graph: Graph) -> list[int | None]:
    """Per op: the index of the layer (computing op) whose precision it follows. A data-movement
    op follows the producer of its first input; one fed by a model input belongs to no layer
    (int8 only when the whole model is)."""
    producer = {k: i for i, op in enumerate(graph.ops) for k in op.outputs}
    owner: list[int | None] = []
    for i, op in enumerate(graph.ops):
        if op.type in MOVE:
            src = producer.get(op.inputs[0])
            owner.append(owner[src] if src is not None else None)
        else:
            owner.append(i)
    return owner


def layers(graph: Graph) -> list[int]:
    """The analysed layers: computing ops, except a final SOFTMAX/LOGISTIC (see measure_point)."""
    last = measure_op(graph)
    return [i for i, op in enumerate(graph.ops) if op.type not in MOVE and i != last]


def measure_op(graph: Graph) -> int | None:
    """The index of a final SOFTMAX / LOGISTIC op when the model has one output and ends in one:
    its input (the logits) is then where the output is measured. A saturating softmax output's
    SQNR mostly measures its few unsaturated values and its fixed 1/256 step, and it hides
    what the layers before it do; top-1 is the same on logits and probabilities."""
    if len(graph.outputs) != 1:
        return None
    for i, op in enumerate(graph.ops):
        if graph.outputs[0] in op.outputs and op.type in ("SOFTMAX", "LOGISTIC"):
            return i
    return None


def measure_point(graph: Graph) -> list[int]:
    i = measure_op(graph)
    return [graph.ops[i].inputs[0]] if i is not None else list(graph.outputs)


# ---- the fake-quantised model -----------------------------------------------------------------

def _matching_int8_ops(float_graph: Graph, int8_graph: Graph) -> list[Op]:
    """The int8 op made from each float op (ptq keeps tensor indices and appends new tensors, so
    ops it inserted write only new tensors)."""
    n = len(float_graph.tensors)
    qops = [op for op in int8_graph.ops if any(k < n for k in op.outputs)]
    if [op.type for op in qops] != [op.type for op in float_graph.ops]:
        raise TinyrtError("the int8 graph does not follow the float graph op for op "
                          "(quantise without --float-io for the sensitivity analysis)")
    return qops


def _dequantize_const(t) -> np.ndarray:
    """A quantised constant (int8 weights, int32 bias) as the float32 values it stands for."""
    q = t.quant
    shape = [1] * t.data.ndim
    if q.scale.size > 1:
        shape[q.axis] = -1
    scale = q.scale.astype(np.float64).reshape(shape or [1])
    zp = q.zero_point.astype(np.float64).reshape(shape or [1])
    return ((t.data.astype(np.float64) - zp) * scale).astype(np.float32)


def fake_quant_graph(float_graph: Graph, int8_graph: Graph, int8_ops: set[int],
                     outputs: list[int] | None = None) -> Graph:
    """The float graph with the ops in ``int8_ops`` (op indices) computing as their int8 versions
    would: dequantised int8 constants, activation inputs and outputs through QUANTIZE/DEQUANTIZE
    with the int8 model's parameters. The other ops stay float."""
    qops = _matching_int8_ops(float_graph, int8_graph)
    producer = {k: i for i, op in enumerate(float_graph.ops) for k in op.outputs}
    tensors, ops, fq = list(float_graph.tensors), [], {}

    def fake(k: int) -> int:
        if k not in fq:
            t = tensors[k]
            tensors.append(replace(t, name=f"{t.name}/int8", dtype="int8",
                                   quant=int8_graph.t(k).quant))
            tensors.append(replace(t, name=f"{t.name}/fq"))
            q, f = len(tensors) - 2, len(tensors) - 1
            ops.append(Op("QUANTIZE", [k], [q], {}, tensors[q].name))
            ops.append(Op("DEQUANTIZE", [q], [f], {}, tensors[f].name))
            fq[k] = f
        return fq[k]

    for i, (op, qop) in enumerate(zip(float_graph.ops, qops)):
        inputs = []
        for j, k in enumerate(op.inputs):
            t = float_graph.t(k) if k >= 0 else None
            if t is None:
                inputs.append(k)
            elif t.is_const:
                qt = int8_graph.t(qop.inputs[j])
                if i in int8_ops and qt.quant is not None and qt.dtype != "float32":
                    tensors.append(replace(t, name=f"{t.name}/fq", dtype="float32", quant=None,
                                           data=_dequantize_const(qt)))
                    k = len(tensors) - 1
                inputs.append(k)
            elif i in int8_ops or producer.get(k) in int8_ops:
                inputs.append(fake(k))
            else:
                inputs.append(k)
        ops.append(Op(op.type, inputs, list(op.outputs), dict(op.attrs), op.name))
        if i in int8_ops:
            for k in op.outputs:
                fake(k)
    outputs = [fq.get(k, k) if producer.get(k) in int8_ops else k
               for k in (outputs or float_graph.outputs)]
    return float_graph.replace(tensors=tensors, ops=ops, outputs=outputs)


def run_outputs(graph: Graph, samples: Samples) -> np.ndarray:
    """The first model output for every sample, flattened, float64: [samples, outputs]."""
    ref = Reference(write_tflite(graph))
    return np.stack([ref.run(s)[0].reshape(-1).astype(np.float64) for s in samples])


def output_metrics(graph: Graph, f: np.ndarray, q: np.ndarray) -> dict:
    noise = float(np.sum((f - q) ** 2))
    out = {"sqnr_db": round(sqnr_db(float(np.sum(f * f)), noise), 2), "noise": noise}
    if is_classifier(graph):
        out["top1"] = float(np.mean(f.argmax(1) == q.argmax(1)))
    return out


# ---- the analysis -----------------------------------------------------------------------------

def analyse(result: QuantResult, samples: Samples, top_k: int = 3,
            progress: bool = True, board: dict | None = None) -> dict:
    """The sensitivity report of ``result`` (a ``quantize`` result without float I/O) on
    ``samples`` (held-out inputs). See the module docstring for what each figure means."""
    if result.config.float_io:
        raise TinyrtError("the sensitivity analysis needs the full-integer model (no --float-io)")
    fg, qg = result.float_graph, result.graph
    board = board or load_board("qemu-m4")
    owner, names = layer_owners(fg), layers(fg)
    own = compare(fg, qg, samples, progress=progress)      # per-layer SQNR of its own output
    with Progress("sensitivity", 2 + 2 * len(names) + min(top_k, len(names)),
                  enabled=progress) as bar:
        def measure(int8_layers: set) -> dict:
            ops = {i for i, o in enumerate(owner) if (o in int8_layers if o is not None
                                                      else int8_layers >= set(names))}
            fake = fake_quant_graph(fg, qg, ops, point)
            out = output_metrics(fg, ref, run_outputs(fake, samples))
            bar.advance()
            return out

        point = measure_point(fg)
        ref = run_outputs(fg.replace(outputs=point), samples)
        bar.advance()
        every = measure(set(names))
        rows = [_layer_row(fg, qg, i, own["layers"][i]["sqnr_db"], measure({i}),
                           measure(set(names) - {i}), every) for i in names]
        rows.sort(key=lambda r: (r["ota_sqnr_db"], -r["loo_gain_db"]))
        int8_costs = costs(qg, board)
        keep = []
        for k in range(1, min(top_k, len(rows)) + 1):
            keep.append(_keep_fp16(result, owner, [r["index"] for r in rows[:k]], samples, point,
                                   ref, every, int8_costs, board))
            bar.advance()
    last = measure_op(fg)
    report = {"samples": len(samples), "layers": rows, "keep_float": keep,
              "int8_costs": {**int8_costs, "board": board["id"]},
              "measured_at": fg.t(point[0]).name if last is not None else "model output",
              "int8": {"output_sqnr_db": _sqnr_at(fg, own, point[0]),
                       "top1_agreement": own.get("top1_agreement"),
                       "mean_layer_sqnr_db": own["mean_layer_sqnr_db"]},
              "fake_int8": {"output_sqnr_db": every["sqnr_db"],
                            "top1_agreement": every.get("top1")},
              "worst_own_sqnr": sorted(({"index": r["index"], "name": r["name"], "op": r["op"],
                                         "sqnr_db": r["sqnr_db"]} for r in own["layers"]),
                                       key=lambda r: r["sqnr_db"])[:5]}
    return report


def _sqnr_at(graph: Graph, report: dict, k: int) -> float:
    """The int8 model's SQNR at tensor ``k`` (a layer output or the model output)."""
    for row, op in zip(report["layers"], graph.ops):
        if k in op.outputs:
            return row["sqnr_db"]
    return report["output_sqnr_db"]


def _layer_row(fg: Graph, qg: Graph, i: int, own_sqnr: float, ota: dict, loo: dict,
               every: dict) -> dict:
    op = fg.ops[i]
    return {"index": i, "name": op.name, "op": op.type,
            "shape": list(fg.t(op.outputs[0]).shape), "weight_bytes": weight_elements(fg, op),
            "own_sqnr_db": own_sqnr,
            "ota_sqnr_db": ota["sqnr_db"], "ota_top1": ota.get("top1"),
            "ota_noise_share": round(ota["noise"] / every["noise"], 4) if every["noise"] else 0.0,
            "loo_sqnr_db": loo["sqnr_db"], "loo_top1": loo.get("top1"),
            "loo_gain_db": round(loo["sqnr_db"] - every["sqnr_db"], 2)}


def weight_elements(graph: Graph, op: Op) -> int:
    """Constant elements an op holds as int8 (weights; biases, int32 either way, not counted)."""
    consts = [op.inputs[1]] if op.type in WEIGHTED else \
        [k for k in op.inputs if k >= 0 and graph.t(k).is_const and graph.t(k).dtype == "float32"]
    return sum(graph.t(k).size for k in consts)


def fp16_names(graph: Graph, owner: list, kept: list[int]) -> list[str]:
    """The ops an executable mixed model keeps in FP16 for the ``kept`` layers: the layers and
    the data-movement ops that follow them, where tinyrt has a float kernel for them."""
    return [op.name for i, op in enumerate(graph.ops)
            if owner[i] in kept and op.type in FP16_OPS]


def costs(graph: Graph, board: dict) -> dict:
    """Weights and arena bytes of ``graph`` as tinyrt compiles it for ``board`` (the plan)."""
    lowered = codegen.lower(graph, board)
    return {"weights_bytes": lowered.weights_bytes(), "arena_bytes": lowered.plan.arena_bytes}


def mixed_graph(result: QuantResult, owner: list, kept: list[int]) -> Graph:
    """The executable mixed model with the ``kept`` layers (float-graph op indices) in FP16."""
    names = fp16_names(result.float_graph, owner, kept)
    return requantize(result, replace(result.config,
                                      layer_dtypes={n: "fp16" for n in names})).graph


def measure_mixed(graph: Graph, fg: Graph, samples: Samples, point: list[int],
                  ref: np.ndarray) -> dict:
    """Output SQNR (and top-1) of an executable model at ``point``, run in tflite-runtime."""
    runner = Int8Runner(probe_model(graph), preserve=True)
    got = []
    for s in samples:
        runner.run(s)
        got.append(runner.tensor(point[0], graph.t(point[0]).quant).reshape(-1))
    return output_metrics(fg, ref, np.stack(got))


def _keep_fp16(result: QuantResult, owner: list, kept: list[int], samples: Samples,
               point: list[int], ref: np.ndarray, every: dict, int8_costs: dict,
               board: dict, mixed: Graph | None = None, measured: dict | None = None,
               cost: dict | None = None) -> dict:
    """The executable mixed model with the ``kept`` layers in FP16 (built, measured in
    tflite-runtime at ``point`` and costed from tinyrt's plan unless given)."""
    fg = result.float_graph
    mixed = mixed or mixed_graph(result, owner, kept)
    measured = measured or measure_mixed(mixed, fg, samples, point, ref)
    cost = cost or costs(mixed, board)
    return {"k": len(kept), "layers": [fg.ops[i].name for i in kept], "indices": list(kept),
            "op_types": [fg.ops[i].type for i in kept],
            "fp16_ops": fp16_names(fg, owner, kept),
            "output_sqnr_db": measured["sqnr_db"], "top1_agreement": measured.get("top1"),
            "sqnr_gain_db": round(measured["sqnr_db"] - every["sqnr_db"], 2),
            **cost, "board": board["id"],
            "extra_flash_bytes": cost["weights_bytes"] - int8_costs["weights_bytes"],
            "extra_arena_bytes": cost["arena_bytes"] - int8_costs["arena_bytes"]}


def greedy_fp16(result: QuantResult, samples: Samples, top_k: int = 3, progress: bool = True,
                board: dict | None = None, max_arena: int | None = None) -> list[dict]:
    """Choose the FP16 layers by measurement instead of by ranking: starting from all-int8, add
    the layer whose executable mixed model has the highest output SQNR and whose planned arena
    stays within ``max_arena`` bytes (default: the all-int8 arena, so the mixed model fits
    wherever the int8 one does), up to ``top_k`` layers; stop early when no layer improves it.
    Each step builds and runs one mixed model per remaining layer (about top_k x layers models in
    all). The rows are those of ``analyse(...)["keep_float"]``, with ``sqnr_gain_db`` over the
    executable all-int8 model."""
    fg = result.float_graph
    board = board or load_board("qemu-m4")
    owner, candidates = layer_owners(fg), layers(fg)
    point = measure_point(fg)
    ref = run_outputs(fg.replace(outputs=point), samples)
    base = measure_mixed(result.graph, fg, samples, point, ref)
    int8_costs = costs(result.graph, board)
    budget = int8_costs["arena_bytes"] if max_arena is None else max_arena
    kept, best, rows = [], base, []
    steps = sum(len(candidates) - j for j in range(min(top_k, len(candidates))))
    with Progress("greedy FP16 search", steps, enabled=progress) as bar:
        while len(kept) < top_k and len(kept) < len(candidates):
            trials = {}                                  # layer -> (mixed graph, metrics)
            for i in candidates:
                if i not in kept:
                    graph = mixed_graph(result, owner, kept + [i])
                    trials[i] = (graph, measure_mixed(graph, fg, samples, point, ref))
                    bar.advance()
            pick = cost = None
            for i in sorted(trials, key=lambda i: -trials[i][1]["sqnr_db"]):
                if trials[i][1]["sqnr_db"] <= best["sqnr_db"]:
                    break                                # nothing left that helps
                cost = costs(trials[i][0], board)       # planned only for the candidates tried
                if cost["arena_bytes"] <= budget:
                    pick = i
                    break
            if pick is None:
                break
            kept, (graph, best) = kept + [pick], trials[pick]
            rows.append(_keep_fp16(result, owner, kept, samples, point, ref, base, int8_costs,
                                   board, mixed=graph, measured=best, cost=cost))
    return rows


# ---- for people -------------------------------------------------------------------------------

def _pct(v) -> str:
    return "-" if v is None else f"{v:.1%}"


def format_sensitivity(report: dict) -> str:
    from ..table import table
    rows = [[r["index"], r["op"], short_name(r["name"], 30), "x".join(map(str, r["shape"])),
             r["weight_bytes"], r["own_sqnr_db"], r["ota_sqnr_db"],
             f"{r['ota_noise_share']:.1%}", _pct(r["ota_top1"]), r["loo_sqnr_db"],
             r["loo_gain_db"], _pct(r["loo_top1"])] for r in report["layers"]]
    out = [table(["#", "op", "name", "output", "weights B", "own dB", "alone dB", "noise share",
                  "alone top-1", "rest dB", "gain dB", "rest top-1"], rows,
                 title=f"sensitivity, most sensitive first, on {report['samples']} "
                       f"{report.get('evaluated_on', 'held-out')} inputs; SQNR vs float at "
                       f"{short_name(report['measured_at'], 40)}")]
    i8, fq = report["int8"], report["fake_int8"]
    out += ["", "alone: only this layer int8; rest: every layer int8 but this one (gain over "
            "all-int8); own: SQNR of the layer's own output in the int8 model; noise share: "
            "output noise of this layer alone / of the all-int8 model",
            f"int8 model: SQNR {i8['output_sqnr_db']} dB, top-1 agreement "
            f"{_pct(i8['top1_agreement'])}; fake-quantised (all layers): "
            f"{fq['output_sqnr_db']} dB, {_pct(fq['top1_agreement'])}",
            "lowest own-output SQNR at int8: " + ", ".join(
                f"#{w['index']} {w['op']} {w['sqnr_db']} dB" for w in report["worst_own_sqnr"])]
    keep = [[k["k"], ", ".join(f"#{i} {op}" for i, op in zip(k["indices"], k["op_types"])),
             k["output_sqnr_db"],
             k["sqnr_gain_db"], _pct(k["top1_agreement"]), k["weights_bytes"],
             f"{k['extra_flash_bytes']:+,}", k["arena_bytes"], f"{k['extra_arena_bytes']:+,}"]
            for k in report["keep_float"]]
    base = report["int8_costs"]
    out += ["", table(["k", "kept in FP16", "output dB", "gain dB", "top-1", "weights B",
                       "vs int8", "arena B", "vs int8"], keep,
                      title="executable mixed models: the k most sensitive layers in FP16 (FP16 "
                            "weights, FP32 compute), the rest int8; measured in tflite-runtime, "
                            f"sizes from tinyrt's plan for {base['board']}"),
            f"all-int8: weights {base['weights_bytes']:,} B, arena {base['arena_bytes']:,} B. "
            "Keep them with `tinyrt quantize ... --fp16-layers NAME,...` (or --keep-fp16 K); "
            "latency: `tinyrt deploy` or `tinyrt bench mixed`."]
    return "\n".join(out)
