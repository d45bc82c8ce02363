"""One options object for every command that deploys: plain data, frozen, made from CLI args in
one place (``from_args``)."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

INPUT_COPY = ("auto", "on", "off")
PROTOCOLS = ("tinyrt", "eembc")


@dataclass(frozen=True)
class DeployOptions:
    """What a deploy does, beside the model and the board.

    Plan options (``kernels``, ``patch``, ``stream_input``, ``sram_budget``, ``max_overhead``)
    reach ``codegen.lower`` through the board dict (``board_for``), as before; a default here
    leaves the board's own entry alone.

    ``input_copy``: ``auto`` builds the firmware with a copy of the input outside the arena
    whenever the plan may reuse the input's bytes, so every run of an INVOKE (and `monitor`)
    computes on the input that was set; ``on`` always; ``off`` never (an application writes
    its input into the arena itself: the memory benchmark measures that).
    ``work_dir``: keep the generated project there; None: a temporary folder, removed.
    ``dtype``: "fp16" makes a float model FP16 before lowering (``tinyrt quantize --dtype fp16``).
    ``protocol``: what the firmware speaks on its console: ``tinyrt`` (docs/protocol.md) or
    ``eembc``, the MLPerf Tiny benchmark runner's protocol (firmware/eembc.c, tinyrt/eembc.py).
    """
    runs: int = 10
    seed: int = 0
    inputs_path: str | None = None
    profile: bool = False
    kernels: str = "auto"
    patch: str = "off"
    stream_input: bool = False
    sram_budget: int | None = None
    max_overhead: float | None = None
    compute: str = "auto"
    dtype: str | None = None
    work_dir: str | None = None
    port: str | None = None
    quiet: bool = False
    dry_run: bool = False
    input_copy: str = "auto"
    extra_cflags: tuple[str, ...] = ()
    sanitize: bool = False
    serial_timeout: float | None = None   # None: the board's serial.timeout_s
    invoke_timeout: float = 120.0
    probe: str | None = None   # a real board: the debug probe to flash through (--probe UID)
    protocol: str = "tinyrt"

    def __post_init__(self):
        from ..errors import TinyrtError
        if self.input_copy not in INPUT_COPY:
            raise TinyrtError(f"input copy '{self.input_copy}' is not one of {', '.join(INPUT_COPY)}")
        if self.protocol not in PROTOCOLS:
            raise TinyrtError(f"protocol '{self.protocol}' is not one of {', '.join(PROTOCOLS)}")
        if self.runs < 1 and self.inputs_path is None:
            raise TinyrtError(f"--runs {self.runs}: at least one run is needed", ["--runs 1"])

    def with_(self, **changes) -> "DeployOptions":
        return replace(self, **changes)

    def board_for(self, board: dict) -> dict:
        """The board with the plan options attached (``codegen.lower`` reads them there)."""
        board = dict(board)
        if self.kernels == "portable":
            board["kernels"] = ("portable",)
        if self.patch != "off":
            board["patch"] = self.patch
        if self.stream_input:
            board["stream_input"] = True
        if self.sram_budget:
            board["sram_budget"] = self.sram_budget
        if self.max_overhead is not None:
            board["max_overhead"] = self.max_overhead
        return board

    def serial(self, board: dict) -> tuple[int, float]:
        """(baud, link timeout) for the board's console."""
        cfg = board.get("serial", {})
        timeout = self.serial_timeout if self.serial_timeout is not None else cfg.get("timeout_s", 5.0)
        return int(cfg.get("baud", 115200)), float(timeout)


# CLI argument name -> option name, where they differ.
_ARG_NAMES = {"inputs": "inputs_path", "output": "work_dir"}


def from_args(args, **overrides) -> DeployOptions:
    """The options a parsed command line asks for: every option whose argument the command has
    (``--work-dir`` or ``-o`` give ``work_dir``, ``--inputs`` gives ``inputs_path``);
    ``overrides`` win."""
    known = {f.name for f in fields(DeployOptions)}
    values = {}
    for name, value in vars(args).items():
        key = _ARG_NAMES.get(name, name)
        if key in known and value is not None:
            values[key] = value
    values.update(overrides)
    return DeployOptions(**values)
