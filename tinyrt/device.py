"""Deploy on a device board (kept for its callers; the flow is ``tinyrt.pipeline``): generate,
build firmware, start or flash the board, talk to it over the serial protocol, compare every
output with tflite-runtime, and report what a user measures.

Emulated boards (``kind = "qemu"``) are started under QEMU with ``-icount`` and stopped
afterwards; real boards are flashed with the board's method unless ``port`` names a board that
already runs the firmware.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from . import pipeline
from .pipeline import DeployOptions
from .pipeline.report import profile_rows

__all__ = ["build_firmware", "deploy_device", "prepare", "profile_rows"]


def prepare(model_path: str, board: dict, work_dir: str | None = None, compute: str = "auto",
            quiet: bool = False):
    """Generate the model project for ``board``; returns (lowered, project dir). A project
    made in a temporary folder is the caller's to remove."""
    prepared = pipeline.prepare(model_path, board, DeployOptions(compute=compute, quiet=quiet))
    work = Path(work_dir or tempfile.mkdtemp(prefix=f"tinyrt-{prepared.name}-{board['id']}-"))
    return prepared.lowered, pipeline.write(prepared, work)


def build_firmware(lowered, project: Path, board: dict, profile: bool = False):
    """firmware.build of a written project (as the firmware's own default builds it), with a
    too-large error that also names the biggest activations."""
    prepared = pipeline.Prepared(lowered, b"", None, input_copy=False)
    options = DeployOptions(profile=profile, quiet=True)
    return pipeline.build(prepared, Path(project), options).firmware


def deploy_device(model_path: str, board: dict, runs: int = 10, seed: int = 0,
                  inputs_path: str | None = None, work_dir: str | None = None,
                  port: str | None = None, profile: bool = False, dry_run: bool = False,
                  quiet: bool = False, compute: str = "auto", **options) -> dict | None:
    """``options``: any other ``DeployOptions`` field (e.g. ``input_copy="off"``)."""
    return pipeline.deploy(model_path, board, DeployOptions(
        runs=runs, seed=seed, inputs_path=inputs_path, work_dir=work_dir, port=port,
        profile=profile, dry_run=dry_run, quiet=quiet, compute=compute, **options))
