"""On-device training from Python: deploy a training firmware once, then train, evaluate, read the
parameters back and reset them over the serial protocol (the TRAIN_* commands, firmware/train.c).

    from tinyrt.boards import load_board
    from tinyrt.train import device

    with device.deploy("digits_int8.tflite", load_board("qemu-m4"), "last:2") as t:
        before = t.evaluate(x_eval, y_eval)["accuracy"]    # predictions made by the device
        t.train(x, y, lr=0.05, momentum=0.9, batch=8)      # samples in this order
        after = t.evaluate(x_eval, y_eval)["accuracy"]
        params = t.params()                                 # {name: float32 array}, read back
        tflite = t.finetuned_tflite()                       # deployable int8 model
        t.reset()                                           # the deployed model's parameters again

``x`` is float32 in the model's real input units or already the model's input dtype
(``tinyrt.train.data.model_inputs``); ``y`` integer labels. Counts are in the board's latency
unit (``emulated_instructions`` on QEMU). The deploy goes through ``tinyrt.pipeline``: host,
emulated or real board alike, stopped and cleaned up on leaving the ``with``.
"""
from __future__ import annotations

import contextlib
import statistics
from dataclasses import dataclass

import numpy as np

from .. import pipeline
from .. import protocol as p
from ..errors import TinyrtError
from ..pipeline import DeployOptions
from ..pipeline.flow import read_model
from ..progress import Progress
from ..writer import write_tflite
from . import TrainProject, finetuned_tflite, generate, params_from_bytes
from .data import model_inputs

PRECISIONS = ("fp32", "fp16")


def check_precision(precision: str, board: dict) -> None:
    """FP16 training needs FP16 arithmetic: MVE with floating point (the Cortex-M55, feature
    mve_fp) or the host's _Float16. The M4/M7/M33 have none: refused, not computed in FP32
    (docs/training.md "FP16 training")."""
    if precision not in PRECISIONS:
        raise TinyrtError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and board.get("kind") != "host" \
            and "mve_fp" not in board.get("features", ()):
        raise TinyrtError(f"FP16 training needs FP16 arithmetic (MVE with floating point, the "
                          f"Cortex-M55); board {board['id']} ({board.get('cpu', '?')}) has none",
                          ["--precision fp32", "--board qemu-m55"])


def prepare(model, board: dict, spec: str = "last:2", options: DeployOptions = DeployOptions(),
            momentum: bool = True, precision: str = "fp32") -> tuple[pipeline.Prepared, TrainProject]:
    """The training project of ``model`` (a .tflite path or a Graph) for ``board``, as the
    pipeline's ``Prepared``: its backbone is what INFO names, its files are written as they are.
    The input is not copied: each sample is sent before the command that uses it."""
    graph, _, path = read_model(model)
    check_precision(precision, board)
    project = generate(graph, spec, options.board_for(board), momentum=momentum,
                       precision=precision)
    prepared = pipeline.Prepared(project.backbone, write_tflite(project.tg.backbone_graph()), path,
                                 input_copy=False, files=project.files)
    return prepared, project


@contextlib.contextmanager
def deploy(model, board: dict, spec: str = "last:2", options: DeployOptions | None = None,
           momentum: bool = True, precision: str = "fp32"):
    """Build the training firmware and start it: yields a ``Trainer``; leaving stops the board
    and removes a temporary project, on every exit path. ``precision="fp16"``: FP16 training
    (qemu-m55, the host)."""
    options = options or DeployOptions(quiet=True)
    prepared, project = prepare(model, board, spec, options, momentum, precision)
    with pipeline.session(None, board, options, prepared) as s:
        yield Trainer(s.device, project, s)


@dataclass
class Epoch:
    """What one pass of ``Trainer.train`` measured."""
    losses: list[float]
    predicted: list[int]
    sample_counts: list[int]     # forward + loss + backward of each sample
    update_counts: list[int]     # one per batch
    step_counts: list[int]       # per batch: its begin + its samples + its update

    @property
    def loss(self) -> float:
        return float(np.mean(self.losses)) if self.losses else 0.0

    def accuracy(self, labels) -> float:
        return float(np.mean(np.asarray(self.predicted) == np.asarray(labels)))


class Trainer:
    """A running training firmware: ``device`` is its ``link.Device``, ``project`` the
    ``TrainProject`` it was built from (to name and export its parameters)."""

    def __init__(self, device, project: TrainProject, session=None):
        self.device, self.project, self.session = device, project, session
        info = device.info()
        if info.training is None:
            raise TinyrtError(f"the firmware on {info.board_id} was built without training "
                              f"(model {info.model_name})",
                              ["deploy it with tinyrt finetune or tinyrt.train.device.deploy"])
        want = project.tg.param_count * project.plan.element_bytes
        if info.training.params_bytes != want:
            raise TinyrtError(f"the board trains {info.training.params_bytes} bytes of parameters, "
                              f"this project {want}",
                              ["rebuild the firmware for this model and --train"])
        self.info = info

    @property
    def classes(self) -> int:
        return self.info.training.classes

    def inputs(self, x) -> np.ndarray:
        """Samples in the model's input dtype (float32 samples quantised)."""
        return model_inputs(self.project.tg.graph, x)

    def _request(self, request):
        # a training step may outlast the link's timeout on a slow board: wait as for an INVOKE
        return self.device.link.request(request, timeout=self.device.invoke_timeout)

    def sample(self, q: np.ndarray, label: int) -> p.SampleTrained:
        """Forward, loss, backward on one sample (model dtype); the gradients add up."""
        self.device.set_input(np.ascontiguousarray(q).tobytes())
        return self._request(p.TrainSample(int(label)))

    def begin(self, momentum: float, batch: int) -> int:
        """Begin a batch (before its first sample): exact whatever the last batch's size."""
        return self._request(p.TrainBegin(momentum, batch)).count

    def update(self, lr: float, momentum: float, batch: int) -> int:
        return self._request(p.TrainUpdate(lr, momentum, batch)).count

    def train(self, x, y, lr: float = 0.05, momentum: float = 0.9, batch: int = 1,
              progress: Progress | None = None) -> Epoch:
        """One pass over the samples in the order given, ``batch`` at a time (a shorter last
        batch), each batch begun (TRAIN_BEGIN) and ended by an update."""
        q, y = self.inputs(x), check_labels(y, len(x), self.classes)
        epoch = Epoch([], [], [], [], [])
        for start in range(0, len(y), batch):
            chunk = range(start, min(len(y), start + batch))
            counts = [self.begin(momentum, len(chunk))]
            for i in chunk:
                r = self.sample(q[i], y[i])
                epoch.losses.append(r.loss)
                epoch.predicted.append(r.predicted)
                counts.append(r.count)
            epoch.sample_counts += counts[1:]
            epoch.update_counts.append(self.update(lr, momentum, len(chunk)))
            epoch.step_counts.append(sum(counts) + epoch.update_counts[-1])
            if progress is not None:
                progress.advance(len(chunk), f"loss {epoch.loss:.3f}")
        return epoch

    def evaluate(self, x, y=None, progress: Progress | None = None) -> dict:
        """The device's prediction of each sample with the current parameters; with labels also
        the accuracy."""
        q = self.inputs(x)
        predictions, counts = [], []
        for sample in q:
            self.device.set_input(np.ascontiguousarray(sample).tobytes())
            r = self._request(p.TrainEval())
            predictions.append(r.predicted)
            counts.append(r.count)
            if progress is not None:
                progress.advance()
        out = {"predictions": predictions, "counts": counts}
        if y is not None:
            y = check_labels(y, len(q), self.classes)
            out["accuracy"] = float(np.mean(np.asarray(predictions) == y)) if len(y) else 0.0
        return out

    def raw_params(self) -> bytes:
        """The trained parameters as the device holds them (FP32), read in chunks."""
        total, out = self.info.training.params_bytes, bytearray()
        while len(out) < total:
            n = min(self.device.link.chunk(self.info.max_payload, 4), total - len(out))
            chunk = self._request(p.TrainParams(len(out), n))
            if chunk.offset != len(out) or len(chunk.data) != n:
                raise TinyrtError(f"TRAIN_PARAMS returned {len(chunk.data)} bytes at "
                                  f"{chunk.offset}, asked {n} at {len(out)}")
            out += chunk.data
        return bytes(out)

    def params(self) -> dict[str, np.ndarray]:
        return params_from_bytes(self.project.tg, self.raw_params(), self.project.precision)

    def finetuned_tflite(self) -> bytes:
        """The int8 model with the device's trained parameters (re-quantised)."""
        return finetuned_tflite(self.project.tg, self.params())

    def reset(self) -> None:
        """Parameters back to the deployed model's; momentum and gradients to zero."""
        self._request(p.TrainReset())

    def memory(self) -> dict:
        """Training memory as measured: the backbone's arena + the painted stack's high-water
        mark + the ELF's static RAM (which holds the training arena and the protocol buffers),
        like the inference peak of `tinyrt deploy`. The host build has no ELF: there the peak
        is the plan's training peak + the stack."""
        stats, tr = self.device.stats(), self.info.training
        mem = {"planned_training_peak_bytes": tr.peak_bytes,
               "backbone_arena_bytes": self.info.arena_bytes,
               "training_arena_bytes": tr.arena_bytes, "params_bytes": tr.params_bytes,
               "stack_bytes": stats.stack_used}
        fw = self.session.built.firmware if self.session is not None else None
        if fw is not None:
            mem["static_ram_bytes"] = fw.sizes.static_ram
            mem["training_peak_sram_bytes"] = self.info.arena_bytes + stats.stack_used + fw.sizes.static_ram
        else:
            mem["training_peak_sram_bytes"] = tr.peak_bytes + stats.stack_used
        return mem

    def latency(self, epochs: list[Epoch]) -> dict:
        steps = [c for e in epochs for c in e.step_counts]
        samples = [c for e in epochs for c in e.sample_counts]
        updates = [c for e in epochs for c in e.update_counts]
        median = lambda v: int(statistics.median(v)) if v else None
        return {"step_median": median(steps), "sample_median": median(samples),
                "update_median": median(updates), "unit": self.info.latency_unit}


def check_labels(y, n: int, classes: int) -> np.ndarray:
    """Integer labels, one per sample, each in [0, classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise TinyrtError(f"{n} samples but labels of shape {list(y.shape)}",
                          ["y must hold one integer label per sample of x"])
    if len(y) and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise TinyrtError(f"labels are {y.dtype} with fractions; they must be class indices")
    y = y.astype(np.int64)
    bad = np.flatnonzero((y < 0) | (y >= classes))
    if bad.size:
        raise TinyrtError(f"label {int(y[bad[0]])} of sample {int(bad[0])} is outside the model's "
                          f"{classes} classes (0..{classes - 1})", ["check the data file's y array"])
    return y
