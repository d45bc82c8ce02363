"""Run the float model in tflite-runtime over the calibration set and collect, per activation
tensor, a ``Histogram`` (observers.py), plus the per-channel mean of every conv / fully-connected
input (for bias correction).

tflite-runtime runs the model written from the prepared graph itself (``probe_model``), with
``experimental_preserve_all_tensors=True``, so the interpreter's tensor indices are the graph's.
That flag alone is not enough: tflite-runtime 2.14 runs ADD (and others) in place, overwriting
an input that nothing else reads, so every activation is also made a graph output.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph
from ..progress import Progress
from ..reference import Reference
from ..writer import write_tflite
from .data import Samples
from .observers import Histogram
from .prepare import WEIGHTED


@dataclass
class Calibration:
    hist: dict[int, Histogram]                 # float activation tensor -> its histogram
    channel_mean: dict[int, np.ndarray] = field(default_factory=dict)  # weighted-op input -> mean
    samples: int = 0


def activation_tensors(graph: Graph) -> list[int]:
    return [k for k, t in enumerate(graph.tensors) if not t.is_const and t.dtype == "float32"]


def mean_widths(graph: Graph) -> dict[int, int]:
    """Weighted-op input tensor -> the number of input channels its weights contract over."""
    widths = {}
    for op in graph.ops:
        if op.type in WEIGHTED:
            w = graph.t(op.inputs[1])
            widths[op.inputs[0]] = w.shape[-1] if op.type != "DEPTHWISE_CONV_2D" \
                else graph.t(op.inputs[0]).shape[-1]
    return widths


def probe_model(graph: Graph) -> bytes:
    """The model with every activation also a graph output, so none is overwritten in place."""
    extra = [k for k, t in enumerate(graph.tensors)
             if not t.is_const and k not in graph.outputs and k not in graph.inputs]
    return write_tflite(graph.replace(outputs=graph.outputs + extra))


def calibrate(graph: Graph, samples: Samples, progress: bool = True,
              label: str = "calibrating") -> Calibration:
    ref = Reference(probe_model(graph), preserve_all_tensors=True)
    acts = activation_tensors(graph)
    widths = mean_widths(graph)
    calib = Calibration(hist={k: Histogram() for k in acts})
    sums = {k: np.zeros(w, np.float64) for k, w in widths.items()}
    with Progress(label, len(samples), enabled=progress) as bar:
        for sample in samples:
            ref.run(sample)
            for k in acts:
                x = ref.tensor(k)
                calib.hist[k].add(x)
                if k in sums:
                    sums[k] += x.reshape(-1, widths[k]).mean(axis=0)
            calib.samples += 1
            bar.advance()
    calib.channel_mean = {k: s / max(calib.samples, 1) for k, s in sums.items()}
    return calib
