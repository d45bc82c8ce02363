"""Calibration and held-out data: ``.npy`` / ``.npz`` files or a folder of them, checked against
the float model's inputs so that a wrong file fails with a message, not deep inside the runtime.

Accepted layouts for an input of shape ``[1, *S]``: an array ``[N, *S]`` (N samples), ``[N, 1, *S]``
or ``[1, *S]`` (one sample). A ``.npz`` of a one-input model may hold several such arrays (all are
used, in key order); for a model with several inputs it holds one array per input, named after the
input tensor or ``arr_0``, ``arr_1``, ... in input order. Values must be floating point and finite.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import TinyrtError
from ..ir import Graph

Samples = list[list[np.ndarray]]   # samples[i][k]: input k of sample i, shaped like the tensor


def load_samples(path: str | os.PathLike, graph: Graph, what: str = "calibration") -> Samples:
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".npy", ".npz"))
        if not files:
            raise TinyrtError(f"{what} folder {path} holds no .npy or .npz files",
                              ["save representative inputs with numpy.save('x.npy', array)"])
    elif path.is_file():
        files = [path]
    else:
        raise TinyrtError(f"{what} data not found: {path}")
    samples: Samples = []
    for f in files:
        samples += _load_file(f, graph)
    check_samples(samples, graph, what, str(path))
    return samples


def check_samples(samples: Samples, graph: Graph, what: str = "calibration",
                  where: str = "<arrays>") -> None:
    if not samples:
        raise TinyrtError(f"the {what} set {where} is empty: at least one input is needed",
                          ["pass a few hundred representative inputs (50-500 is typical)"])
    for i, sample in enumerate(samples):
        for k, x in zip(graph.inputs, sample):
            t = graph.t(k)
            if tuple(x.shape) != tuple(t.shape):
                raise TinyrtError(f"{what} sample {i} has shape {list(x.shape)}; the model's input "
                                  f"'{t.name}' is {list(t.shape)}")
            if not np.all(np.isfinite(x)):
                raise TinyrtError(f"{what} sample {i} contains NaN or infinite values ({where})",
                                  ["clean the data: every calibration value must be finite"])


def from_arrays(arrays: list[np.ndarray], graph: Graph, where: str = "<arrays>") -> Samples:
    """Samples from one array per model input (each [N, *S], [N, 1, *S] or [1, *S])."""
    if len(arrays) != len(graph.inputs):
        raise TinyrtError(f"{where} holds {len(arrays)} arrays but the model has "
                          f"{len(graph.inputs)} inputs",
                          ["store one array per input, named after the input tensor"])
    per_input = [_split(np.asarray(a), graph.t(k), where) for a, k in zip(arrays, graph.inputs)]
    counts = {len(p) for p in per_input}
    if len(counts) != 1:
        raise TinyrtError(f"{where}: the inputs have different sample counts {sorted(counts)}")
    return [list(s) for s in zip(*per_input)]


def load_labels(path: str | os.PathLike, count: int) -> np.ndarray:
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise TinyrtError(f"cannot read labels {path}: {e}") from None
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype.kind not in "iu":
        raise TinyrtError(f"labels {path} have dtype {labels.dtype}; expected integer class ids")
    if labels.size != count:
        raise TinyrtError(f"labels {path} hold {labels.size} values for {count} held-out samples",
                          ["give one class id per held-out input, in the same order"])
    return labels.astype(np.int64)


def _load_file(path: Path, graph: Graph) -> Samples:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise TinyrtError(f"cannot read {path} as a numpy .npy/.npz file: {e}") from None
    if isinstance(data, np.ndarray):
        return from_arrays([data], graph, str(path))
    with data:
        keys = list(data.keys())
        if len(graph.inputs) == 1:
            samples = []
            for key in keys:
                samples += from_arrays([data[key]], graph, f"{path}[{key}]")
            return samples
        names = [graph.t(k).name for k in graph.inputs]
        if all(n in keys for n in names):
            return from_arrays([data[n] for n in names], graph, str(path))
        return from_arrays([data[k] for k in keys], graph, str(path))


def _split(a: np.ndarray, t, where: str) -> list[np.ndarray]:
    if a.dtype.kind != "f":
        raise TinyrtError(
            f"{where} has dtype {a.dtype}; the float model's input '{t.name}' takes float32",
            ["convert with the model's preprocessing, e.g. x.astype(np.float32) / 255 for images",
             "calibration data are real inputs, before any int8 quantisation"])
    shape = tuple(t.shape)
    inner = shape[1:] if shape and shape[0] == 1 else shape
    if a.shape == shape:
        return [a.astype(np.float32)]
    if a.shape[1:] == inner:
        return [x.reshape(shape).astype(np.float32) for x in a]
    if a.shape[1:] == shape:
        return [x.astype(np.float32) for x in a]
    raise TinyrtError(f"{where} has shape {list(a.shape)}; the model's input '{t.name}' is "
                      f"{list(shape)}, so expected [N, {', '.join(map(str, inner))}]",
                      ["store N samples stacked along the first axis"])
