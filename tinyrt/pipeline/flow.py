"""The deploy flow, once: prepare (read, quantise if asked, lower once), write (render and write
once), build on the target, start it, measure, stop, report.

    report = deploy("kws_int8.tflite", load_board("qemu-m4"), DeployOptions(runs=3))

    with session(model, board, options) as s:     # built and running; stopped on leaving
        outputs, counts = s.device.run([x])
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import codegen

from .. import board_fit, firmware, host
from ..errors import TinyrtError
from ..fit import biggest, fit_to_board
from ..frontend import read_tflite
from ..ir import Graph
from ..progress import step
from .options import DeployOptions
from .report import build_report, measure
from .targets import Built, print_commands, target_for


@dataclass
class Prepared:
    """A model ready to write: its lowering (plan, kernels), what tflite-runtime runs as its
    reference (``model``: a path or the bytes of the model as lowered) and whether the firmware
    keeps a copy of the input (``input_copy``). ``files``: the project to write instead of the
    lowering's render (a training project, ``tinyrt.train.generate``, whose backbone is
    ``lowered``)."""
    lowered: codegen.Lowered
    model: str | bytes
    model_path: str | None
    input_copy: bool
    files: dict[str, str] | None = None

    @property
    def name(self) -> str:
        return self.lowered.graph.name

    @property
    def input_copy_bytes(self) -> int:
        g = self.lowered.graph
        return sum(g.t(t).nbytes for t in g.inputs) if self.input_copy else 0


def read_model(model, dtype: str | None = None) -> tuple[Graph, str | bytes, str | None]:
    """(graph, reference model, path) of a .tflite path or a Graph; ``dtype="fp16"`` makes it
    FP16 first. A model made here is written and read back, so what is lowered is exactly what
    tflite-runtime runs."""
    from ..frontend import parse_tflite
    from ..writer import write_tflite
    path = None if isinstance(model, Graph) else str(model)
    graph = model if path is None else read_tflite(path)
    if dtype == "fp16":
        from ..quantize.fp16 import quantize_fp16
        graph = quantize_fp16(graph)
    elif dtype is not None:
        raise TinyrtError(f"dtype '{dtype}' is not one the pipeline converts to", ["fp16"])
    if path is not None and dtype is None:
        return graph, path, path
    ref = write_tflite(graph)
    return parse_tflite(ref, name=graph.name), ref, path


def input_copy(mode: str, lowered) -> bool:
    """Whether the firmware keeps the input outside the arena: ``auto`` whenever the plan may
    give the input's bytes to a later tensor (then a second run would compute on a clobbered
    input)."""
    if mode == "auto":
        return not lowered.plan.inputs_preserved(lowered.graph.inputs)
    return mode == "on"


def prepare(model, board: dict, options: DeployOptions = DeployOptions()) -> Prepared:
    """Read and lower ``model`` (a .tflite path or a Graph) for ``board``, fitted to its SRAM."""
    graph, ref, path = read_model(model, options.dtype)
    lowered = fit_to_board(graph, options.board_for(board), options.compute, options.quiet,
                           input_copy=options.input_copy)
    return Prepared(lowered, ref, path, input_copy(options.input_copy, lowered))


def write(prepared: Prepared, project: str | Path) -> Path:
    """Render the model (library + the protocol server's model.h) and write it into ``project``."""
    files = prepared.files or codegen.render(prepared.lowered, host_main=False)
    return host.write_project(files, project)


@contextlib.contextmanager
def project_dir(prepared: Prepared, options: DeployOptions):
    """``options.work_dir`` (kept), or a temporary folder removed on leaving, whatever happens."""
    if options.work_dir is not None:
        yield Path(options.work_dir)
        return
    board = prepared.lowered.board["id"]
    work = Path(tempfile.mkdtemp(prefix=f"tinyrt-{prepared.name}-{board}-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build(prepared: Prepared, project: Path, options: DeployOptions) -> Built:
    """The target's build of a written project; a device image too large for the board also
    names the biggest activations."""
    board = prepared.lowered.board
    step(f"building {prepared.name} for {board['id']}", not options.quiet)
    try:
        return target_for(board).build(project, options, prepared.input_copy)
    except firmware.FirmwareTooLarge as e:
        if not e.usage.get("arena"):
            raise
        raise firmware.FirmwareTooLarge(
            f"{e.message}\nbiggest activations: {biggest(prepared.lowered.graph)}",
            e.hints, e.region, e.overflow, e.usage) from None


@dataclass
class Session:
    prepared: Prepared
    built: Built
    device: object   # link.Device
    project: Path


@contextlib.contextmanager
def session(model, board: dict, options: DeployOptions = DeployOptions(), prepared=None):
    """Prepared, written, built and started: yields a ``Session`` whose ``device`` runs the
    model. Leaving it stops the board and removes a temporary project, on every exit path."""
    prepared = prepared or prepare(model, board, options)
    target = target_for(prepared.lowered.board)
    with project_dir(prepared, options) as project:
        write(prepared, project)
        built = build(prepared, project, options)
        with target.start(built, options) as device:
            check_model(device, prepared)
            yield Session(prepared, built, device, project)


def check_model(device, prepared: Prepared) -> None:
    info = device.info()
    if info.model_hash != prepared.lowered.model_hash:
        raise TinyrtError(f"the board runs model '{info.model_name}' ({info.model_hash}), "
                          f"not {prepared.name} ({prepared.lowered.model_hash})",
                          ["rebuild and flash: tinyrt deploy MODEL without --port"])


def deploy(model, board: dict, options: DeployOptions = DeployOptions()) -> dict | None:
    """Deploy ``model`` on ``board``: every output compared with tflite-runtime, latency and
    memory measured; returns the report (None for a dry run, which prints the commands)."""
    prepared = prepare(model, board, options)
    if options.dry_run:
        dry_run(prepared, options)
        return None
    with session(model, board, options, prepared) as s:
        measured = measure(s.device, prepared, options, prepared.lowered.board["id"])
    return build_report(prepared, s.built, measured, s.project if options.work_dir else None)


def dry_run(prepared: Prepared, options: DeployOptions) -> Path:
    """Check that the model fits the board's memory regions (from the plan: weights, arena,
    stack, input copy), then print what would run. With ``--work-dir`` the project is written
    there and the commands name it; without, nothing is left behind: the project is written to
    a temporary folder only to list the commands, which then name ``./tinyrt-MODEL-BOARD``, the
    folder ``--work-dir`` would write."""
    board = prepared.lowered.board
    board_fit.check_plan(prepared.lowered, prepared.input_copy_bytes, prepared.name)
    if options.work_dir:
        project = Path(options.work_dir)
        write(prepared, project)
        print_commands(target_for(board).commands(project, options, prepared.input_copy))
        return project
    shown = Path(f"tinyrt-{prepared.name}-{board['id']}")
    with project_dir(prepared, options) as work:
        write(prepared, work)
        cmds = target_for(board).commands(work, options, prepared.input_copy)
        print_commands([[a.replace(str(work), str(shown)) for a in cmd] for cmd in cmds])
    print(f"# the project is not written (a dry run leaves nothing behind): add --work-dir "
          f"{shown} to write it there and run these commands")
    return shown