"""`tinyrt bench quant`: tinyrt's int8 quantisation of the float MLPerf Tiny models beside the
int8 models TensorFlow's converter made from the same networks.

Data: the shared folder has no datasets, so every model gets synthetic inputs
(``synthetic.smooth_inputs``) over the range TensorFlow's int8 model covers at its input: a
calibration set, a validation set (to pick tinyrt's best method) and a held-out set (all
figures). TensorFlow calibrated on the real data, which these inputs only imitate, so its figures
here include that mismatch; tinyrt's do not. Top-1 agreement is with the float model; for the
autoencoder (ad01) it is replaced by the anomaly-score correlation. FP16 weight bytes are those of
`tinyrt quantize --dtype fp16`, which stores every float32 constant as float16 (exactly half).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import TinyrtError
from ..frontend import read_tflite
from . import QuantConfig, quantize, requantize
from .fp16 import quantize_fp16
from .observers import METHODS
from .report import align_ops, compare_many
from .synthetic import input_range, smooth_inputs

CALIB, VALID, HOLDOUT = 200, 100, 200
SEEDS = {"calib": 1, "valid": 3, "holdout": 2}


def float_models(shared: Path) -> list[Path]:
    return sorted((Path(shared) / "models").glob("*_float.tflite"))


def candidate_configs() -> list[QuantConfig]:
    return [QuantConfig(method=m, bias_correction=bc) for m in METHODS for bc in (False, True)]


def datasets(float_graph, int8_graph, sizes=(CALIB, VALID, HOLDOUT)):
    lo, hi = input_range(int8_graph)
    shape = float_graph.t(float_graph.inputs[0]).shape
    return [smooth_inputs(shape, lo, hi, n, SEEDS[k]) for k, n in zip(SEEDS, sizes)]


def _metrics(report: dict) -> dict:
    keys = ("mean_layer_sqnr_db", "output_sqnr_db", "top1_agreement", "score_correlation")
    return {k: report[k] for k in keys if k in report}


def bench_model(path: Path, sizes=(CALIB, VALID, HOLDOUT), progress: bool = False) -> dict:
    name = path.stem[:-len("_float")]
    tf_path = path.with_name(f"{name}_int8.tflite")
    row = {"model": name}
    graph, tf = read_tflite(path), read_tflite(tf_path)
    calib, valid, held = datasets(graph, tf, sizes)
    base = quantize(graph, calib, QuantConfig(), progress=progress)
    fg = base.float_graph
    candidates = [requantize(base, cfg) for cfg in candidate_configs()]
    scores = [r["output_sqnr_db"] for r in
              compare_many(fg, [(c.graph, None) for c in candidates], valid, progress=progress)]
    best = candidates[max(range(len(scores)), key=scores.__getitem__)]
    minmax, chosen, tf_report = compare_many(
        fg, [(base.graph, None), (best.graph, None), (tf, align_ops(fg, tf))], held,
        progress=progress)
    row["tinyrt_minmax"] = _metrics(minmax)
    row["tinyrt_best"] = {"method": best.config.method,
                          "bias_correction": best.config.bias_correction, **_metrics(chosen)}
    row["tensorflow"] = _metrics(tf_report)
    float_w = sum(t.nbytes for t in fg.tensors if t.is_const)
    row["flash"] = {"float32_weights_bytes": float_w,
                    "int8_weights_bytes": sum(t.nbytes for t in best.graph.tensors if t.is_const),
                    "tensorflow_int8_weights_bytes": sum(t.nbytes for t in tf.tensors
                                                         if t.is_const),
                    "fp16_weights_bytes": sum(t.nbytes for t in quantize_fp16(fg).tensors
                                              if t.is_const)}
    row["samples"] = {"calibration": len(calib), "validation": len(valid), "held_out": len(held)}
    return row


def bench_quant(shared: Path, sizes=(CALIB, VALID, HOLDOUT), progress: bool = False
                ) -> list[dict]:
    rows = []
    for path in float_models(shared):
        try:
            rows.append(bench_model(path, sizes, progress))
        except TinyrtError as e:
            rows.append({"model": path.stem, "error": e.message})
    return rows


def format_bench_quant(rows: list[dict]) -> str:
    from ..table import table
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["model"], "error", r["error"]] + [None] * 4)
            continue
        for label, key in (("tinyrt min/max", "tinyrt_minmax"), ("tinyrt best", "tinyrt_best"),
                           ("TensorFlow int8", "tensorflow")):
            m = r[key]
            if key == "tinyrt_best":
                label += f" ({m['method']}{', bias corr.' if m['bias_correction'] else ''})"
            agree = m.get("top1_agreement", m.get("score_correlation"))
            body.append([r["model"], label, m["mean_layer_sqnr_db"], m["output_sqnr_db"], agree,
                         r["flash"]["int8_weights_bytes"] if key != "tensorflow"
                         else r["flash"]["tensorflow_int8_weights_bytes"], None])
        f = r["flash"]
        body.append([r["model"], "float32 / fp16", None, None, None,
                     f["float32_weights_bytes"], f["fp16_weights_bytes"]])
    return table(["model", "quantisation", "mean layer SQNR dB", "output SQNR dB",
                  "top-1 agr. (ad01: score corr.)", "weights B", "fp16 B"], body,
                 title="int8 quantisation vs the float model, synthetic held-out inputs")


# ---- `tinyrt bench mixed` ---------------------------------------------------------------------

MIXED_SIZES = (100, 0, 50)   # calibration, (no validation), held-out inputs
SEARCHES = ("rank", "greedy")


def bench_mixed_model(path: Path, board: dict, top_k: int = 3, sizes=MIXED_SIZES,
                      progress: bool = False, searches: tuple[str, ...] = ("greedy",)
                      ) -> list[dict]:
    """All-int8, then for each search ("greedy": measured one layer at a time within the int8
    arena; "rank": the sensitivity ranking) k = 1..top_k layers in FP16: output SQNR and top-1
    (at the logits for a classifier, tflite-runtime), weights and arena (tinyrt's plan), and
    latency, flash and bit-exactness measured by deploying each model on ``board``."""
    from ..pipeline import DeployOptions, deploy
    from .prepare import compact
    from .sensitivity import (analyse, costs, greedy_fp16, layer_owners, measure_mixed,
                              measure_point, mixed_graph, run_outputs)
    name = path.stem[:-len("_float")]
    graph, tf = read_tflite(path), read_tflite(path.with_name(f"{name}_int8.tflite"))
    calib, _, held = datasets(graph, tf, sizes)
    base = quantize(graph, calib, QuantConfig(), progress=progress)
    fg = base.float_graph
    owner, point = layer_owners(fg), measure_point(fg)
    i8 = measure_mixed(base.graph, fg, held, point, run_outputs(fg.replace(outputs=point), held))
    variants = [("-", {"k": 0, "layers": [], "indices": [], "op_types": [],
                       "output_sqnr_db": i8["sqnr_db"], "top1_agreement": i8.get("top1"),
                       **costs(base.graph, board)}, base.graph)]
    for search in searches:
        keep = greedy_fp16(base, held, top_k=top_k, progress=progress, board=board) \
            if search == "greedy" else \
            analyse(base, held, top_k=top_k, progress=progress, board=board)["keep_float"]
        variants += [(search, row, mixed_graph(base, owner, row["indices"])) for row in keep]
    rows = []
    for search, row, g in variants:
        out = {"model": name, "board": board["id"], "search": search, "k": row["k"],
               "fp16_layers": row["layers"],
               "fp16_layer_indices": row["indices"], "fp16_layer_ops": row["op_types"],
               "output_sqnr_db": row["output_sqnr_db"], "top1_agreement": row["top1_agreement"],
               "weights_bytes": row["weights_bytes"], "arena_bytes": row["arena_bytes"],
               "measured_at": fg.t(point[0]).name}
        try:
            r = deploy(compact(g), board, DeployOptions(runs=1, quiet=True))
            out.update(instructions=r["latency"]["cycles_median"], unit=r["latency"]["unit"],
                       bit_exact=r["bit_exact_runs"] == r["runs"],
                       flash_bytes=r["flash_bytes"],
                       peak_sram_bytes=r["memory"]["peak_sram_bytes"])
        except TinyrtError as e:
            out["error"] = e.message.splitlines()[0]
        rows.append(out)
    return rows


def bench_mixed(shared: Path, board: dict, top_k: int = 3, models: list[str] | None = None,
                progress: bool = False, searches: tuple[str, ...] = SEARCHES) -> list[dict]:
    rows = []
    for path in float_models(shared):
        name = path.stem[:-len("_float")]
        if models and name not in models:
            continue
        try:
            rows += bench_mixed_model(path, board, top_k, progress=progress, searches=searches)
        except TinyrtError as e:
            rows.append({"model": name, "error": e.message})
    return rows


def format_bench_mixed(rows: list[dict]) -> str:
    from ..table import table
    body = []
    for r in rows:
        if "error" in r and "k" not in r:
            body.append([r["model"], "error", r["error"]] + [None] * 8)
            continue
        base = next(b for b in rows if b["model"] == r["model"] and b.get("k") == 0)
        slower = (f"{r['instructions'] / base['instructions']:.2f}x"
                  if r.get("instructions") and base.get("instructions") else None)
        kept = ", ".join(f"#{i} {op}" for i, op in zip(r["fp16_layer_indices"],
                                                       r["fp16_layer_ops"]))
        body.append([r["model"], r["search"], r["k"], kept or "(all int8)", r["output_sqnr_db"],
                     None if r["top1_agreement"] is None else f"{r['top1_agreement']:.1%}",
                     r["weights_bytes"],
                     r["arena_bytes"], r.get("instructions"), slower,
                     r.get("bit_exact", r.get("error"))])
    return table(["model", "search", "k", "layers in FP16", "SQNR dB", "top-1 agr.", "weights B",
                  "arena B", "instructions", "vs int8", "bit-exact"], body,
                 title="mixed precision: k layers (#op index) in FP16, the rest int8; rank: the "
                       "k most sensitive, greedy: measured one at a time within the int8 arena "
                       "(SQNR/top-1 vs float at the logits, synthetic held-out inputs; "
                       "latency measured on the board, emulated instructions per inference)")
