"""The deploy flow as a function (kept for its callers): ``deploy_host`` is ``tinyrt.pipeline.deploy``
on board ``host``; device boards have ``tinyrt.device.deploy_device``. Both return the JSON report
of `tinyrt deploy`."""
from __future__ import annotations

from .pipeline import DeployOptions, base_report, deploy, load_inputs

__all__ = ["base_report", "deploy_host", "load_inputs"]


def deploy_host(model_path: str, board: dict, runs: int = 10, seed: int = 0,
                inputs_path: str | None = None, work_dir: str | None = None,
                quiet: bool = False, compute: str = "auto", **options) -> dict:
    """``options``: any other ``DeployOptions`` field."""
    return deploy(model_path, board, DeployOptions(runs=runs, seed=seed, inputs_path=inputs_path,
                                                   work_dir=work_dir, quiet=quiet, compute=compute,
                                                   **options))
