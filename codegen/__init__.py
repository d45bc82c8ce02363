"""Lower a graph and its memory plan to a self-contained C99 library.

``lower(graph, board)`` decides everything (kernel per layer, constants, plan) and returns a
``Lowered`` record of plain data; ``render(lowered)`` prints it through the Jinja templates and
returns ``{relative path: file text}``. Only the CLI writes files.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from tinyrt import passes, planner, regions, variants
from tinyrt.errors import TinyrtError, UnsupportedOp
from tinyrt.ir import Graph
from tinyrt.ops import Buf, Call, op_module

from . import stage as stage_code
from .render import render

__all__ = ["Layer", "Lowered", "lower", "render"]


@dataclass
class Layer:
    index: int
    op_type: str
    name: str
    call: Call | None       # None: an alias (RESHAPE/SQUEEZE) that needs no code
    macs: int
    inputs: list[int]
    outputs: list[int]
    variant: str = "portable"   # the kernel-variant table's choice (tinyrt/variants.py)
    streamed: bool = False      # computed row by row in the plan's stage (Lowered.stage)

    @property
    def kernel(self) -> str:
        """The C kernel that computes the layer ("" for an alias)."""
        return self.call.kernel if self.call else ""


@dataclass
class Lowered:
    graph: Graph
    board: dict
    plan: planner.Plan
    layers: list[Layer]
    model_hash: str
    compute: str = "fp32"   # what the activations are computed in: "int8", "fp32" or "fp16"
    stages: list = field(default_factory=list)   # stage_code.StageCode: the row-streamed stages

    @property
    def stage(self):
        """The first streamed stage, or None."""
        return self.stages[0] if self.stages else None

    @property
    def kernel_calls(self) -> list[Call]:
        """Every kernel call the model makes (a streamed layer's row calls included)."""
        calls = [layer.call for layer in self.layers if layer.call]
        return calls + [s[2] for code in self.stages for s in code.steps if s[0] == "call"]

    @property
    def kernel_headers(self) -> list[str]:
        return sorted({call.header for call in self.kernel_calls})

    @property
    def const_tensors(self) -> list[int]:
        """Constant tensors a kernel reads directly (weights), in first-use order."""
        seen: dict[int, None] = {}
        for layer in self.layers:
            for a in (layer.call.args if layer.call else []):
                if isinstance(a, Buf) and self.graph.t(a.tensor).is_const:
                    seen[a.tensor] = None
        return list(seen)

    def weights_bytes(self) -> int:
        total = sum(self.graph.t(t).nbytes for t in self.const_tensors)
        for layer in self.layers:
            total += sum(c.nbytes for c in (layer.call.consts.values() if layer.call else []))
        return total


def check(graph: Graph) -> None:
    """Raise UnsupportedOp, naming the op, for the first op the kernels cannot compute."""
    for i, op in enumerate(graph.ops):
        try:
            variants.check(graph, op)
        except UnsupportedOp as e:
            raise UnsupportedOp(f"op #{i} {op.type} ('{op.name}'): {e.message}", e.hints) from None


COMPUTE_CHOICES = ("auto", "fp16", "fp32")
FP16_FEATURE = "mve_fp"   # the board feature that makes "auto" compute a float graph in FP16


def fp16_compute_wanted(graph: Graph, board: dict, compute: str = "auto") -> bool:
    """Whether ``lower`` computes this (folded) graph in FP16: ``compute="fp16"`` forces it (an
    error if the graph is not a pure float graph the FP16 kernels cover), ``"fp32"`` never,
    ``"auto"`` for FP16 models (every float constant float16) on boards with ``mve_fp``."""
    if compute not in COMPUTE_CHOICES:
        raise TinyrtError(f"unknown compute '{compute}'", [f"choose one of {', '.join(COMPUTE_CHOICES)}"])
    if compute == "fp32":
        return False
    if compute == "fp16":
        if not passes.can_compute_fp16(graph):
            raise TinyrtError(
                "this model cannot be computed in FP16: FP16 compute takes a pure float model "
                f"(float32 activations) of the ops {', '.join(sorted(passes.F16_OPS))}",
                ["--compute fp32 (or auto)", "tinyrt quantize MODEL --dtype fp16"])
        return True
    consts = [t for t in graph.tensors if t.is_const and t.dtype in ("float16", "float32")]
    return (FP16_FEATURE in board.get("features", []) and passes.can_compute_fp16(graph)
            and bool(consts) and all(t.dtype == "float16" for t in consts))


def compute_of(graph: Graph) -> str:
    """"fp16", "fp32" or "int8": the arithmetic of the graph's activations."""
    dtypes = {t.dtype for t in graph.tensors if not t.is_const}
    if "float16" in dtypes:
        return "fp16"
    return "fp32" if "float32" in dtypes else "int8"


def lower(graph: Graph, board: dict, strategy: str = "best", compute: str = "auto",
          kernels: tuple[str, ...] | None = None, patch: str | None = None) -> Lowered:
    """``compute``: "auto" (FP16 compute for FP16 models on boards with the ``mve_fp`` feature),
    "fp16" (force it: portable _Float16 C where there is no MVE) or "fp32" (docs/fp16.md).
    ``kernels``: the variants allowed (default: the best the board's features permit; pass
    ``("portable",)`` for the portable kernels only; a board dict may carry the same choice as
    ``board["kernels"]``, which the CLI's ``--kernels`` sets).
    ``patch``: "off" (default: layer by layer), "auto" (the row-streamed first stage that
    minimises the arena, tinyrt/stream.py) or "@N" (the stage ending at op N); a board dict may
    carry it as ``board["patch"]`` (the CLI's ``--patch``), and ``board["stream_input"]`` asks
    for the input to be read row by row from the application (``--stream-input``)."""
    patch = patch or board.get("patch") or "off"
    kernels = tuple(kernels or board.get("kernels") or variants.VARIANTS)
    unknown = [k for k in kernels if k not in variants.VARIANTS]
    if unknown or not kernels:
        raise TinyrtError(f"unknown kernel variant '{(unknown or [''])[0]}'",
                          [f"choose from {', '.join(variants.VARIANTS)} (portable is always needed)"])
    graph = passes.fold_fp16_dequantize(graph)   # FP16 models: fp16 weights read directly
    graph = passes.fuse_int8_boundaries(graph)   # mixed models: FP16 layers read/write int8
    graph = passes.fuse_pad_into_conv(graph)     # int8 PAD -> the next conv's own padding
    if fp16_compute_wanted(graph, board, compute):
        graph = passes.compute_fp16(graph)
    check(graph)
    chosen = [variants.resolve(graph, op, board, tuple(kernels)) for op in graph.ops]
    calls = [k.lower(graph, op, board) for k, op in zip(chosen, graph.ops)]
    scratch = {i: c.scratch_bytes for i, c in enumerate(calls) if c.scratch_bytes}
    align = board.get("alignment", 8)
    read = tuple(graph.inputs) if board.get("stream_input") else ()
    if read and patch == "off":
        patch = "auto"   # reading the input row by row needs a streamed first stage
    stages = stage_code.choose(graph, scratch, align, strategy, patch, read,
                               board.get("max_overhead", stage_code.MAX_OVERHEAD))
    if read and not any(t in st.lines for st in stages for t in read):
        raise TinyrtError("the input cannot be read row by row: the model's first layers "
                          "cannot be streamed", ["leave out --stream-input"])
    codes = [stage_code.lower_stage(graph, st, board, kernels) for st in stages]
    variant_of = {}
    for code in codes:
        scratch = {i: b for i, b in scratch.items() if i not in code.stage.ops}
        scratch[code.stage.ops[0]] = code.scratch_bytes
        variant_of.update(code.variants)
        for step in code.steps:   # a stage op shows one of its row calls
            if step[0] == "call":
                calls[step[1]] = step[2]
    plan = planner.plan(graph, scratch, alignment=align, strategy=strategy, stages=stages)
    caps = regions.capacities(board)
    if caps:   # the arena's region is small: the hottest buffers there, the rest beside
        plan = regions.split(graph, plan, caps)
    layers = []
    for i in plan.order:
        op, call = graph.ops[i], calls[i]
        mod = op_module(op.type)
        aliased = getattr(mod, "ALIAS", False) and op.inputs and not graph.t(op.inputs[0]).is_const \
            and plan.tensor_offset(op.inputs[0]) == plan.tensor_offset(op.outputs[0])
        layers.append(Layer(index=i, op_type=op.type, name=op.name, call=None if aliased else call,
                            macs=mod.macs(graph, op), inputs=op.inputs, outputs=op.outputs,
                            variant=variant_of.get(i, chosen[i].variant),
                            streamed=i in variant_of))
    return Lowered(graph=graph, board=board, plan=plan, layers=layers,
                   model_hash=graph_hash(graph), compute=compute_of(graph), stages=codes)


def graph_hash(graph: Graph) -> str:
    """A stable fingerprint of what the firmware computes (shapes, quantisation, weights)."""
    h = hashlib.sha256()
    for t in graph.tensors:
        h.update(f"{t.shape}{t.dtype}".encode())
        if t.quant is not None:
            h.update(t.quant.scale.tobytes() + t.quant.zero_point.tobytes())
        if t.data is not None:
            h.update(np.ascontiguousarray(t.data).tobytes())
    for op in graph.ops:
        h.update(f"{op.type}{op.inputs}{op.outputs}{sorted(op.attrs.items())}".encode())
    return h.hexdigest()[:16]
