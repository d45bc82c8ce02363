"""How much the int8 model differs from the float one, on held-out inputs.

Per layer: the SQNR of the int8 output (dequantised) against the float output,
10 log10(sum f^2 / sum (f - q)^2) over all held-out inputs, capped at ``SQNR_CAP`` dB when
the two are equal. End metrics: output SQNR, top-1 agreement with the float model (outputs
with a class axis), accuracy when labels are given, and for autoencoders (output shaped like the
input) the agreement of the anomaly score, mean (x - y)^2, as a correlation and a relative error.
"""
from __future__ import annotations

import numpy as np

from ..errors import TinyrtError
from ..ir import Graph
from ..progress import Progress
from ..reference import Reference
from .calibrate import probe_model
from .data import Samples
from .mixed import layer_precisions
from .ptq import rround

SQNR_CAP = 100.0


def sqnr_db(signal: float, noise: float) -> float:
    if noise <= 0:
        return SQNR_CAP
    if signal <= 0:
        return -SQNR_CAP
    return float(min(SQNR_CAP, 10 * np.log10(signal / noise)))


class Int8Runner:
    """Run a quantised model on float inputs: quantise each input with its tensor's parameters,
    dequantise each output. Float inputs/outputs (float-I/O models) pass through."""

    def __init__(self, model: bytes | str, preserve: bool = False):
        self.ref = Reference(model, preserve_all_tensors=preserve)

    def run(self, sample: list[np.ndarray]) -> list[np.ndarray]:
        xs = [quantize_input(x, d) for x, d in zip(sample, self.ref.inputs)]
        outs = self.ref.run(xs)
        return [dequantize(y, d["quantization"]) for y, d in zip(outs, self.ref.outputs)]

    def tensor(self, k: int, quant) -> np.ndarray:
        return dequantize(self.ref.tensor(k), quant)


def quantize_input(x: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zp = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    q = rround(x.astype(np.float64) / scale) + zp
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def dequantize(y: np.ndarray, quant) -> np.ndarray:
    if y.dtype == np.float32 or quant is None:
        return y.astype(np.float64)
    if isinstance(quant, tuple):
        scale, zp = quant
    else:
        scale, zp = float(quant.scale[0]), int(quant.zero_point[0])
    return (y.astype(np.float64) - zp) * scale


def compare(float_graph: Graph, int8_graph: Graph, samples: Samples,
            labels: np.ndarray | None = None, progress: bool = True,
            tensor_map: dict[int, int] | None = None) -> dict:
    """The report: per-layer SQNR and end metrics of ``int8_graph`` against ``float_graph``.

    ``tensor_map``: float tensor -> int8 tensor, when the int8 graph was not made from this
    float graph by tinyrt (which keeps indices), e.g. ``align_ops`` for TensorFlow's model."""
    return compare_many(float_graph, [(int8_graph, tensor_map)], samples, labels, progress)[0]


def compare_many(float_graph: Graph, int8_graphs: list[tuple[Graph, dict | None]],
                 samples: Samples, labels: np.ndarray | None = None,
                 progress: bool = True) -> list[dict]:
    """``compare`` for several int8 graphs, running the float model once per sample."""
    fref = Reference(probe_model(float_graph), preserve_all_tensors=True)
    runs = [_Accumulator(float_graph, g, tmap) for g, tmap in int8_graphs]
    fouts = []
    with Progress("evaluating", len(samples), enabled=progress) as bar:
        for sample in samples:
            fouts.append([o.astype(np.float64) for o in fref.run(sample)])
            floats = [fref.tensor(k).astype(np.float64) for k in runs[0].layers]
            for run in runs:
                run.add(sample, floats)
            bar.advance()
    return [run.report(samples, fouts, labels) for run in runs]


class _Accumulator:
    """Signal and noise power per layer of one int8 graph, summed over the samples."""

    def __init__(self, float_graph: Graph, graph: Graph, tensor_map: dict | None):
        self.float_graph, self.graph, self.tmap = float_graph, graph, tensor_map or {}
        self.layers = [op.outputs[0] for op in float_graph.ops]
        self.run = Int8Runner(probe_model(graph), True)
        self.mixed = "fp16" in layer_precisions(graph).values()   # some layers kept in FP16
        self.sig, self.noise = np.zeros(len(self.layers)), np.zeros(len(self.layers))
        self.outs: list = []

    def add(self, sample, floats) -> None:
        self.outs.append(self.run.run(sample))
        for j, (k, f) in enumerate(zip(self.layers, floats)):
            kq = self.tmap.get(k, k)
            q = self.run.tensor(kq, self.graph.t(kq).quant)
            self.sig[j] += np.sum(f * f)
            self.noise[j] += np.sum((f - q) ** 2)

    def report(self, samples, fouts, labels) -> dict:
        rows = []
        for j, (op, k) in enumerate(zip(self.float_graph.ops, self.layers)):
            t = self.graph.t(self.tmap.get(k, k))
            rows.append({"index": j, "op": op.type, "name": op.name, "shape": list(t.shape),
                         "precision": "fp16" if t.dtype == "float32" and self.mixed
                         else t.dtype,
                         "scale": float(t.quant.scale[0]) if t.quant else None,
                         "zero_point": int(t.quant.zero_point[0]) if t.quant else None,
                         "sqnr_db": round(sqnr_db(self.sig[j], self.noise[j]), 2)})
        report = {"samples": len(samples), "layers": rows,
                  "mean_layer_sqnr_db": round(float(np.mean([r["sqnr_db"] for r in rows])), 2)
                  if rows else None}
        report.update(end_metrics(self.float_graph, samples, fouts, self.outs, labels))
        return report


def align_ops(float_graph: Graph, int8_graph: Graph) -> dict[int, int]:
    """Float tensor -> int8 tensor for two graphs with the same ops in the same order (QUANTIZE
    and DEQUANTIZE at the ends of the int8 one aside), e.g. a float model and TF's int8 model."""
    qops = [op for op in int8_graph.ops if op.type not in ("QUANTIZE", "DEQUANTIZE")]
    if [op.type for op in qops] != [op.type for op in float_graph.ops]:
        raise TinyrtError("the int8 model's ops differ from the float model's; "
                          "per-layer comparison needs the same op sequence")
    mapping = dict(zip(float_graph.inputs, int8_graph.inputs))
    for fop, qop in zip(float_graph.ops, qops):
        mapping.update(zip(fop.outputs, qop.outputs))
    return mapping


def end_metrics(graph: Graph, samples: Samples, fouts, qouts, labels=None) -> dict:
    f = np.stack([o[0].reshape(-1) for o in fouts])
    q = np.stack([o[0].reshape(-1) for o in qouts])
    out = {"output_sqnr_db": round(sqnr_db(float(np.sum(f * f)), float(np.sum((f - q) ** 2))), 2)}
    if is_classifier(graph):
        out["top1_agreement"] = float(np.mean(f.argmax(1) == q.argmax(1)))
        if labels is not None:
            out["float_accuracy"] = float(np.mean(f.argmax(1) == labels))
            out["int8_accuracy"] = float(np.mean(q.argmax(1) == labels))
    if is_autoencoder(graph):
        x = np.stack([s[0].reshape(-1).astype(np.float64) for s in samples])
        sf, sq = ((x - f) ** 2).mean(1), ((x - q) ** 2).mean(1)
        out["score_correlation"] = float(np.corrcoef(sf, sq)[0, 1]) if len(sf) > 1 else 1.0
        out["score_rel_error"] = float(np.mean(np.abs(sq - sf) / np.maximum(sf, 1e-12)))
    return out


def is_classifier(graph: Graph) -> bool:
    shape = graph.t(graph.outputs[0]).shape
    return len(graph.outputs) == 1 and len(shape) >= 1 and shape[-1] > 1 \
        and int(np.prod(shape)) == shape[-1] and not is_autoencoder(graph)


def is_autoencoder(graph: Graph) -> bool:
    return len(graph.inputs) == 1 and len(graph.outputs) == 1 and \
        tuple(graph.t(graph.inputs[0]).shape) == tuple(graph.t(graph.outputs[0]).shape)


def short_name(name: str, width: int = 36) -> str:
    """TF's fused tensor names list every folded op ('a;b;c'): keep the first, then its tail."""
    last = name.split(";")[0]
    return last if len(last) <= width else "..." + last[-(width - 3):]


def format_report(report: dict) -> str:
    from ..table import table
    rows = [[r["index"], r["op"], short_name(r["name"]), "x".join(map(str, r["shape"])),
             ("fp16" if r.get("precision") == "fp16" else "-") if r["scale"] is None
             else f"{r['scale']:.4g}", r["zero_point"],
             r["sqnr_db"]] for r in report["layers"]]
    out = [table(["#", "op", "name", "output", "scale", "zp", "SQNR dB"], rows,
                 title=f"int8 vs float, per layer, on {report['samples']} "
                       f"{report.get('evaluated_on', 'held-out')} inputs")]
    lines = [f"mean layer SQNR {report['mean_layer_sqnr_db']} dB, "
             f"output SQNR {report['output_sqnr_db']} dB"]
    if "top1_agreement" in report:
        lines.append(f"top-1 agreement with the float model {report['top1_agreement']:.1%}")
    if "int8_accuracy" in report:
        lines.append(f"accuracy: float {report['float_accuracy']:.1%}, "
                     f"int8 {report['int8_accuracy']:.1%}")
    if "score_correlation" in report:
        lines.append(f"reconstruction-error score: correlation {report['score_correlation']:.4f}, "
                     f"mean relative error {report['score_rel_error']:.2%}")
    return "\n".join(out + [""] + lines)
