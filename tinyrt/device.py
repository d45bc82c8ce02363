"""Deploy on a device board: generate, build firmware, start or flash the board, talk to it over
the serial protocol, compare every output with tflite-runtime, and report what a user measures.

Emulated boards (``kind = "qemu"``) are started here under QEMU with ``-icount`` and stopped
afterwards; real boards are flashed with the board's method unless ``port`` names a board that
already runs the firmware.
"""
from __future__ import annotations

import shlex
import shutil
import statistics
import tempfile
from pathlib import Path

import codegen

from . import firmware, flash, qemu, reference
from .deploy import base_report, load_inputs
from .fit import biggest, fit_to_board
from .errors import TinyrtError
from .frontend import read_tflite
from .host import write_project
from .link import Device
from .progress import Progress, step
from .verify import compare, summary


def prepare(model_path: str, board: dict, work_dir: str | None = None, compute: str = "auto",
            quiet: bool = False):
    """Generate the model project for ``board``; returns (lowered, project dir)."""
    graph = read_tflite(model_path)
    lowered = fit_to_board(graph, board, compute, quiet)
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"tinyrt-{graph.name}-{board['id']}-"))
    write_project(codegen.render(lowered, host_main=False), work)
    return lowered, work


def build_firmware(lowered, project: Path, board: dict, profile: bool = False):
    """firmware.build, with a too-large error that also names the biggest activations."""
    try:
        return firmware.build(project, board, profile=profile)
    except firmware.FirmwareTooLarge as e:
        if not e.usage.get("arena"):
            raise
        raise firmware.FirmwareTooLarge(f"{e.message}\nbiggest activations: {biggest(lowered.graph)}",
                                        e.hints, e.region, e.overflow, e.usage) from None


def dry_run_commands(board: dict, project: Path, profile: bool) -> list[list[str]]:
    out = project / f"build-{board['id']}"
    cmds = firmware.commands(project, board, out, profile)
    elf = out / "firmware.elf"
    if board["kind"] == "qemu":
        cmds.append(qemu.command(board, elf, qemu.free_port()))
    else:
        cmds += flash.commands(board, elf)
    return cmds


def deploy_device(model_path: str, board: dict, runs: int = 10, seed: int = 0,
                  inputs_path: str | None = None, work_dir: str | None = None,
                  port: str | None = None, profile: bool = False, dry_run: bool = False,
                  quiet: bool = False, compute: str = "auto") -> dict | None:
    lowered, project = prepare(model_path, board, work_dir, compute, quiet)
    if dry_run:   # the printed commands name the project's files: it stays
        for cmd in dry_run_commands(board, project, profile):
            print(shlex.join(cmd))
        return None
    try:
        report = _build_and_run(lowered, project, model_path, board, runs, seed, inputs_path,
                                port, profile, quiet)
    finally:
        if work_dir is None:   # a project tinyrt made for itself leaves nothing behind
            shutil.rmtree(project, ignore_errors=True)
    if work_dir is None:
        report["project_dir"] = report["elf"] = None
    return report


def _build_and_run(lowered, project, model_path, board, runs, seed, inputs_path, port, profile,
                   quiet) -> dict:
    step(f"building firmware for {board['id']}", not quiet)
    fw = build_firmware(lowered, project, board, profile)
    emulator = None
    if port is None:
        if board["kind"] == "qemu":
            step(f"starting QEMU {board['flash']['machine']} (-icount shift=0)", not quiet)
            emulator = qemu.start(board, fw.elf)
            port = emulator.port
        else:
            step(f"flashing {board['id']} ({board['flash']['method']})", not quiet)
            flash.flash(board, fw.elf, fw.uf2)
            raise TinyrtError(f"{board['id']} was flashed; tinyrt needs its serial port to go on",
                              [f"tinyrt deploy MODEL --board {board['id']} --port /dev/ttyACM0"])
    try:
        measured = _measure(lowered, model_path, board, port, runs, seed, inputs_path, profile, quiet)
    except TinyrtError as e:
        if emulator is not None and not emulator.alive:
            raise TinyrtError(f"{e.message}\nQEMU exited: {emulator.stop().strip()[-2000:]}", e.hints) from None
        raise
    finally:
        if emulator is not None:
            emulator.stop()
    stack_used = measured.pop("stack_used")
    report = base_report(lowered, model_path)
    report.update(measured)
    sizes = fw.sizes
    report["flash_bytes"] = sizes.flash
    mem = report["memory"]
    mem.update(stack_bytes=stack_used, static_ram_bytes=sizes.static_ram,
               peak_sram_bytes=mem["arena_bytes"] + stack_used + sizes.static_ram)
    report["sections"] = sizes.as_dict()
    report["project_dir"] = str(project)
    report["elf"] = str(fw.elf)
    return report


def _measure(lowered, model_path, board, port, runs, seed, inputs_path, profile, quiet) -> dict:
    graph = lowered.graph
    inputs = load_inputs(inputs_path, graph, runs, seed)
    ref = reference.Reference(model_path)
    timeout = float(board.get("serial", {}).get("timeout_s", 5.0))
    results, counts = [], []
    with Device.open(port, baud=board.get("serial", {}).get("baud", 115200), timeout=timeout) as dev:
        info = dev.info()
        if info.model_hash != lowered.model_hash:
            raise TinyrtError(f"the board runs model '{info.model_name}' ({info.model_hash}), "
                              f"not {graph.name} ({lowered.model_hash})",
                              ["rebuild and flash: tinyrt deploy MODEL without --port"])
        with Progress(f"running on {board['id']}", len(inputs), enabled=not quiet) as bar:
            for i, x in enumerate(inputs):
                outs, c = dev.run(x, runs=1)
                counts += c
                results.append(compare(ref.run(x), outs, i, lowered.compute))
                bar.advance()
        stats = dev.stats()
        layer_counts = dev.profile() if profile else None
    unit = info.latency_unit
    median = int(statistics.median(counts)) if counts else 0
    latency = {"cycles_median": median, "cycles_min": min(counts, default=0),
               "cycles_max": max(counts, default=0), "unit": unit,
               "ms": (median / info.clock_hz * 1e3) if unit == "cycles" and info.clock_hz else None,
               "per_run": counts}
    measured = {**summary(results), "latency": latency, "stack_used": stats.stack_used}
    if layer_counts is not None:
        measured["layers"] = profile_rows(lowered, layer_counts)
    return measured


def profile_rows(lowered, layer_counts: list[int]) -> list[dict]:
    """Per layer: what ran (op, kernel, variant), its MACs and count, MACs per counted unit and
    its share of the whole inference."""
    total = max(sum(layer_counts), 1)
    rows = []
    for n, layer in enumerate(lowered.layers):
        count = layer_counts[n]
        rows.append({"index": n, "name": layer.name, "op": layer.op_type,
                     "output_shape": list(lowered.graph.t(layer.outputs[0]).shape),
                     "kernel": layer.kernel or "alias", "variant": layer.variant,
                     "macs": layer.macs, "cycles": count,
                     "macs_per_cycle": round(layer.macs / count, 3) if count else None,
                     "share": round(count / total, 4)})
    return rows
