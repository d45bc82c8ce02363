"""Build a generated training project with the host compiler and drive it through
templates/train_main_host.c's stdin/stdout commands: the fast path of the tests, and the way to
check the generated C against the numpy reference without a board."""
from __future__ import annotations

import os
import shutil
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import TinyrtError
from ..host import run_checked, write_project

SOURCES = ("model.c", "model_weights.c", "model_train.c", "train_main_host.c")


def build(project_dir: str | os.PathLike, cflags: tuple[str, ...] = ("-O2",)) -> Path:
    project = Path(project_dir)
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise TinyrtError(f"C compiler '{cc}' not found", ["apt-get install gcc"])
    exe = project / "train"
    run_checked([cc, *cflags, "-std=c11", "-Wall", "-Werror", "-I", str(project), "-o", str(exe),
                 *(str(project / s) for s in SOURCES), "-lm"], "host training build")
    return exe


@contextmanager
def built(files: dict[str, str], cflags: tuple[str, ...] = ("-O2",)):
    """The runner built in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tinyrt-train-") as tmp:
        write_project(files, tmp)
        yield build(tmp, cflags)


def session(tg, inputs: np.ndarray, labels, lr: float, momentum: float, batch: int,
            eval_inputs: np.ndarray | None = None, begin: bool = True) -> bytes:
    """The command bytes of: init, then per batch (a shorter last one) a begin (unless
    ``begin`` is False), its samples and an update, then the parameters, then an eval of each
    ``eval_inputs`` sample."""
    out = [b"I"]
    for start in range(0, len(labels), batch):
        chunk = range(start, min(len(labels), start + batch))
        if begin:
            out.append(b"B" + struct.pack("<fi", momentum, len(chunk)))
        for i in chunk:
            out += [b"S", np.ascontiguousarray(inputs[i]).tobytes(),
                    struct.pack("<i", int(labels[i]))]
        out.append(b"U" + struct.pack("<ffi", lr, momentum, len(chunk)))
    out.append(b"P")
    for x in (eval_inputs if eval_inputs is not None else []):
        out += [b"E", np.ascontiguousarray(x).tobytes()]
    return b"".join(out)


def train(exe, tg, inputs: np.ndarray, labels, lr: float, momentum: float, batch: int,
          eval_inputs: np.ndarray | None = None, begin: bool = True) -> dict:
    """Run ``session`` on the host runner: per-sample ``losses`` and ``predicted``, the final
    ``params`` (raw bytes) and the ``eval`` predictions."""
    reply = run_checked([str(exe)], "host training run",
                        input=session(tg, inputs, labels, lr, momentum, batch,
                                      eval_inputs, begin)).stdout
    n = len(labels)
    pairs = np.frombuffer(reply[:8 * n], dtype=np.dtype([("loss", "<f4"), ("pred", "<i4")]))
    size = struct.unpack("<I", reply[8 * n:8 * n + 4])[0]
    params = reply[8 * n + 4:8 * n + 4 + size]
    evals = np.frombuffer(reply[8 * n + 4 + size:], dtype="<i4")
    return {"losses": pairs["loss"].tolist(), "predicted": pairs["pred"].tolist(),
            "params": params, "eval": evals.tolist()}
