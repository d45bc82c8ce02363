"""On-device training (issue 11): the compute core.

    project = train.generate(graph, "last:2", board)   # files + the plan's figures
    project.files                                      # {path: text}: backbone model.c, model_train.c, ...
    project.plan.peak_bytes                            # training peak of the arenas
    params = train.params_from_bytes(project.tg, raw)  # {name: float32 array}
    tflite = train.finetuned_tflite(project.tg, params)

Modules: spec (the --train strings), graph (the split into an int8 backbone and an FP32 tail),
reference (numpy training, the ground truth), plan (the training arena), fit (the training
peak against the board's SRAM, and what fits when it does not), lower (C calls and
model_train.c/.h), host (build and drive the C on the host), export (trained parameters back
into an int8 .tflite). docs/training.md describes the design and the C API.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir import Graph
from . import graph as train_graph
from . import spec as train_spec
from .export import finetuned_graph, finetuned_tflite, params_from_bytes
from .graph import TrainGraph
from .plan import TrainPlan

__all__ = ["TrainProject", "prepare", "generate", "params_from_bytes", "finetuned_graph",
           "finetuned_tflite"]


@dataclass
class TrainProject:
    tg: TrainGraph
    plan: TrainPlan
    files: dict[str, str]
    code: object          # lower.TrainCode
    backbone: object      # codegen.Lowered of the backbone
    precision: str = "fp32"   # the tail's storage and arithmetic: "fp32" or "fp16"

    def report(self) -> dict:
        """Plain figures for reports: what trains, parameter count, memory."""
        return {"model": self.tg.graph.name, "board": self.code.board["id"],
                "train": {"layers": train_spec.describe(self.tg.trains, self.tg.graph),
                          "parameters": self.tg.param_count, "precision": self.precision},
                "memory": {**self.plan.summary(),
                           "training_peak_sram_bytes": self.plan.peak_bytes}}


def prepare(graph: Graph, spec_text: str) -> TrainGraph:
    """The training graph of ``graph`` for a --train string."""
    return train_graph.build(graph, train_spec.resolve(train_spec.parse(spec_text), graph))


def generate(graph: Graph, spec_text: str, board: dict, host_main: bool = False,
             strategy: str = "best", momentum: bool = True, budget: int | None = None,
             static_ram: int = 0, precision: str = "fp32") -> TrainProject:
    """Everything to build: the backbone through codegen (model.c, model.h, weights, kernels),
    model_train.c/.h and the training kernels; with ``host_main`` the host runner
    train_main_host.c (tinyrt/train/host.py). ``momentum=False`` builds plain SGD (the same
    memory: the gradient sum takes the velocity's place). A training peak above the board's
    SRAM budget (tinyrt/train/fit.py: ``budget`` when given, else SRAM - stack - ``static_ram``)
    is a TinyrtError that names a configuration that fits. ``precision="fp16"``: FP16 storage
    and kernels (docs/training.md "FP16 training"; tinyrt.train.device.check_precision says
    which boards)."""
    import codegen
    from codegen.render import kernel_files

    from ..paths import data_dir
    from . import fit, lower
    tg, backbone, tplan = fit.planned(graph, spec_text, board, strategy, momentum,
                                      precision=precision)
    fit.check(graph, spec_text, board, tplan, budget, static_ram, strategy, momentum, precision)
    files = codegen.render(backbone, host_main=False)
    code = lower.lower(tg, tplan, board, precision)
    files.update(lower.render(code))
    for header in code.headers:
        files.update(kernel_files(header))
    if host_main:
        files["train_main_host.c"] = (data_dir("templates") / "train_main_host.c").read_text()
    return TrainProject(tg, tplan, files, code, backbone, precision)
