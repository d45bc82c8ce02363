"""Samples in the model's input dtype: float32 samples in the model's real input units are
quantised with the input's scale and zero point (round half away from zero, as TFLite's
QUANTIZE); samples already in the input dtype pass as they are."""
from __future__ import annotations

import numpy as np

from ..errors import TinyrtError
from ..ir import Graph


def model_inputs(graph: Graph, x: np.ndarray) -> np.ndarray:
    """[N, *input shape] in the dtype of the model's (single) input."""
    t = graph.t(graph.inputs[0])
    x = np.asarray(x)
    if x.shape[1:] != tuple(t.shape):
        x = x.reshape((len(x), *t.shape)) if x[0].size == t.size else x
    if x.shape[1:] != tuple(t.shape):
        raise TinyrtError(f"samples of shape {list(x.shape[1:])} do not fit the model input "
                          f"{list(t.shape)}", ["check the data file's x array"])
    if x.dtype == np.dtype(t.dtype):
        return x
    if not np.issubdtype(x.dtype, np.floating) or t.quant is None:
        raise TinyrtError(f"samples are {x.dtype}; the model takes {t.dtype}",
                          [f"give float32 samples in real units, or {t.dtype} samples"])
    scale, zp = float(t.quant.scale[0]), int(t.quant.zero_point[0])
    v = x.astype(np.float64) / scale
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + zp
    info = np.iinfo(t.dtype)
    return np.clip(q, info.min, info.max).astype(t.dtype)
