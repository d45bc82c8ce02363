"""One deploy pipeline for every command that deploys (deploy, build, monitor, the benchmarks,
the quantiser's costing, the FP16 accuracy tool): one options object (``DeployOptions``), one
target per kind of board (``HostTarget``, ``QemuTarget``, ``BoardTarget``) and one flow
(``prepare`` -> ``write`` -> ``build`` -> ``start`` -> ``measure`` -> ``build_report``)."""
from .flow import Prepared, Session, build, check_model, deploy, dry_run, prepare, project_dir, session, write
from .options import DeployOptions, from_args
from .report import base_report, build_report, load_inputs, measure
from .targets import BoardTarget, Built, HostTarget, QemuTarget, target_for

__all__ = ["BoardTarget", "Built", "DeployOptions", "HostTarget", "Prepared", "QemuTarget",
           "Session", "base_report", "build", "build_report", "check_model", "deploy", "dry_run", "from_args",
           "load_inputs", "measure", "prepare", "project_dir", "session", "target_for", "write"]
