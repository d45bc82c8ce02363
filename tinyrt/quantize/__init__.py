"""Post-training quantisation: a float ``.tflite`` to a full-integer int8 one.

The pipeline is a list of named passes, ``Graph -> Graph`` or ``Graph -> data``:

1. ``prepare.prepare_float``: reject what cannot be quantised; float16 / hybrid int8 weights
   become float32; unused tensors go.
2. ``calibrate.calibrate``: run the float model in tflite-runtime over the calibration set and
   histogram every activation.
3. ``ptq.quantize_graph``: choose each activation's range (``observers``), quantise weights,
   biases and activations following the TFLite int8 spec.
4. ``report.compare``: per-layer SQNR and end metrics on held-out inputs.

``quantize()`` runs 1-3; ``requantize()`` re-runs 3 with another configuration on the same
calibration (to compare methods without running the float model again).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph, verify
from .calibrate import Calibration, calibrate
from .data import Samples, check_samples
from .prepare import prepare_float
from .ptq import QuantConfig, quantize_graph

__all__ = ["QuantConfig", "QuantResult", "quantize", "requantize"]


@dataclass
class QuantResult:
    float_graph: Graph        # the prepared float graph the int8 one was made from
    graph: Graph              # the int8 graph
    calibration: Calibration
    config: QuantConfig


def quantize(graph: Graph, samples: Samples, config: QuantConfig = QuantConfig(),
             progress: bool = True) -> QuantResult:
    prepared = prepare_float(graph)
    check_samples(samples, prepared)
    calib = calibrate(prepared, samples, progress)
    return requantize(QuantResult(prepared, prepared, calib, config), config)


def requantize(result: QuantResult, config: QuantConfig) -> QuantResult:
    int8 = quantize_graph(result.float_graph, result.calibration, config)
    verify(int8)
    return QuantResult(result.float_graph, int8, result.calibration, config)
