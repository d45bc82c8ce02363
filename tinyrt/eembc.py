"""The MLPerf Tiny (EEMBC) benchmark runner's protocol: what a firmware built with
``--protocol eembc`` (firmware/eembc.c) speaks, and a runner-like client for it.

The client talks as mlcommons/tiny's ``benchmark/runner`` does (``device_under_test.DUT`` over
``serial_device.SerialDevice``): a command is its text and '%', the answer is the lines up to the
one holding ``m-ready``; ``load`` sends ``db load N`` then ``db HEX`` of 31 bytes each; ``infer``
sends ``infer N W`` and reads ``m-results-[...]`` and the ``m-lap-us-`` pair with the runner's own
patterns. On top, it turns the printed results back into the output bytes (9 significant digits
read back to the exact float32, and ``(q - zero_point) * scale`` inverted exactly), so a deploy
checks them byte for byte against tflite-runtime.

    with Runner(port) as dut:
        dut.sync()
        dut.load(encode_input([x], offset=0))
        inf = dut.infer(10, 1)           # Inference(results, lap_us, count, unit, stack)
"""
from __future__ import annotations

import contextlib
import re
import time
import types
from dataclasses import dataclass

import numpy as np

from .errors import TinyrtError
from .linkdiag import FAULT_MARK, fault_error, open_port

# The runner's DUT baud rates (devices_kws_ic_vww.yaml): performance and accuracy runs talk
# to the DUT directly at 115200; energy runs go through the IO manager at 9600.
BAUD = {"performance": 115200, "accuracy": 115200, "energy": 9600}
# Bytes per `db HEX` command: the runner's DUT.load sends 31 (26 through the energy IO manager).
DB_CHUNK = 31
READY = "m-ready"
# The model names the runner's test scripts know (m-model-[...]), by the start of tinyrt's
# model name; its performance-mode `infer N W` per model (tests_performance.yaml).
MODEL_VERSIONS = {"kws": "kws01", "vww": "vww01", "ic": "ic01", "ad": "ad01"}
PERFORMANCE_INFER = {"kws01": (70, 10), "vww01": (20, 5), "ic01": (20, 5), "ad01": (1500, 10)}
DEFAULT_INFER = (10, 1)
# The runner's datasets for these are uint8 images; their reference firmware subtracts 128.
UINT8_DATASETS = ("ic01", "vww01")
RESULT_DTYPES = ("int8", "uint8", "int16", "int32", "float32")


def model_version(name: str) -> str:
    """The runner's name of a model (kws01, vww01, ic01, ad01), or tinyrt's own name."""
    for prefix, version in MODEL_VERSIONS.items():
        if re.match(rf"{prefix}(\b|_|\d)", name):
            return version
    return name


def input_offset(graph, version: str) -> int:
    """What the firmware subtracts from each received byte: 128 for the runner's uint8 image
    datasets feeding an int8 model, else 0."""
    dtype = graph.t(graph.inputs[0]).dtype
    return 128 if version in UINT8_DATASETS and dtype == "int8" else 0


def cflags(graph) -> list[str]:
    """The firmware's EEMBC defines for this model (firmware/eembc.h)."""
    version = model_version(graph.name)
    if not re.fullmatch(r"[\w.+-]+", version):
        version = "unknown"
    return [f'-DTH_MODEL_VERSION="{version}"', f"-DEE_INPUT_OFFSET={input_offset(graph, version)}"]


def check_supported(prepared, options) -> None:
    """A clear error for what the EEMBC firmware does not serve."""
    g = prepared.lowered.graph
    if prepared.files is not None:
        raise TinyrtError("a training project cannot be built with --protocol eembc",
                          ["tinyrt finetune speaks tinyrt's protocol: drop --protocol eembc"])
    if options.profile:
        raise TinyrtError("--profile needs tinyrt's protocol (per-layer counts are read with "
                          "PROFILE), not the EEMBC runner's", ["drop --profile, or --protocol tinyrt"])
    if len(g.inputs) > 4 or len(g.outputs) > 4:
        raise TinyrtError(f"{g.name} has {len(g.inputs)} inputs and {len(g.outputs)} outputs; "
                          "the EEMBC firmware handles at most 4 of each")
    bad = sorted({g.t(t).dtype for t in g.outputs} - set(RESULT_DTYPES))
    if bad:
        raise TinyrtError(f"{g.name} has {'/'.join(bad)} outputs; m-results prints "
                          f"{', '.join(RESULT_DTYPES)} outputs", ["--protocol tinyrt"])


def options_for(prepared, options):
    """``options`` with the EEMBC firmware's defines for this model, after checking it."""
    check_supported(prepared, options)
    return options.with_(protocol="eembc",
                         extra_cflags=(*options.extra_cflags, *cflags(prepared.lowered.graph)))


def buffer_bytes(lowered) -> int:
    """Static RAM the EEMBC firmware keeps the input in outside the arena: the `db` buffer, and
    a converted copy when the runner's bytes are offset and the arena does not keep the input."""
    g = lowered.graph
    n = sum(g.t(t).nbytes for t in g.inputs)
    streamed = any(s[0] == "read" for c in lowered.stages for s in c.steps)
    needed = streamed or not lowered.plan.inputs_preserved(g.inputs)
    return 2 * n if needed and input_offset(g, model_version(g.name)) else n


def encode_input(arrays: list[np.ndarray], offset: int = 0) -> bytes:
    """The bytes the runner loads for these model inputs (the firmware subtracts ``offset``)."""
    raw = np.frombuffer(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays), np.uint8)
    return ((raw.astype(np.int32) + offset) & 0xFF).astype(np.uint8).tobytes()


def decode_results(values: list[float], graph) -> list[np.ndarray]:
    """The outputs behind an ``m-results-[...]`` vector: float32 as printed (9 digits read back
    exactly), integers by inverting ``(q - zero_point) * scale``, checked exact."""
    outs, pos = [], 0
    for t in graph.outputs:
        tensor = graph.t(t)
        n = tensor.size
        got = np.array(values[pos:pos + n], np.float64).astype(np.float32)
        if got.size != n:
            raise TinyrtError(f"m-results has {len(values)} values, the outputs have "
                              f"{sum(graph.t(o).size for o in graph.outputs)}")
        pos += n
        outs.append(_integers(got, tensor) if tensor.dtype != "float32" else got.reshape(tensor.shape))
    if pos != len(values):
        raise TinyrtError(f"m-results has {len(values)} values, the outputs have {pos}")
    return outs


def _integers(got: np.ndarray, tensor) -> np.ndarray:
    scale = np.float32(tensor.quant.scale[0]) if tensor.quant is not None else np.float32(0)
    zp = int(tensor.quant.zero_point[0]) if tensor.quant is not None else 0
    q = np.rint(got.astype(np.float64) / scale) + zp if scale else got.astype(np.float64)
    info = np.iinfo(tensor.dtype)
    back = (q - zp).astype(np.float32) * scale if scale else q.astype(np.float32)
    if np.any(q < info.min) or np.any(q > info.max) or not np.array_equal(back, got):
        raise TinyrtError(f"m-results values of '{tensor.name}' are not {tensor.dtype} values "
                          f"dequantized with scale {float(scale)!r}, zero point {zp}")
    return q.astype(tensor.dtype).reshape(tensor.shape)


@dataclass
class Inference:
    """What one ``infer N W`` answered: the results vector, the two lap times in µs (the
    runner's), and tinyrt's exact count of the timed loop in the board's unit."""
    results: list[float]
    lap_us: tuple[int, int] | None
    runs: int
    count: int | None
    unit: str | None
    stack: int | None
    lines: list[str]

    @property
    def elapsed_us(self) -> int | None:
        return None if self.lap_us is None else self.lap_us[1] - self.lap_us[0]


def parse_infer(lines: list[str]) -> Inference:
    """An ``infer`` answer read as the runner's ``_gather_infer_results`` does, plus the
    m-tinyrt-infer line; an e-[...] line is a TinyrtError."""
    results, laps, extra = None, [], {}
    for line in lines:
        if line.startswith("e-["):
            raise TinyrtError(f"the EEMBC firmware refused the inference: {line}")
        m = re.match(r"^m-results-\[([^]]+)\]$", line)
        if m:
            results = [float(x) for x in m.group(1).split(",") if x.strip()]
        m = re.match(r"^m-lap-us-([0-9]+)$", line)
        if m:
            laps.append(int(m.group(1)))
        m = re.match(r"^m-tinyrt-infer-\[([^]]*)\]$", line)
        if m:
            extra = dict(kv.split("=", 1) for kv in m.group(1).split(","))
    if results is None:
        raise TinyrtError("the EEMBC firmware answered `infer` without m-results:\n" + "\n".join(lines))
    return Inference(results, (laps[0], laps[1]) if len(laps) == 2 else None,
                     int(extra.get("runs", 0)), _int(extra.get("count")), extra.get("unit"),
                     _int(extra.get("stack")), lines)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


class Runner:
    """A runner-like client on an open serial port (device path, pty or ``socket://`` URL)."""

    def __init__(self, port: str, baud: int = BAUD["performance"], timeout: float = 5.0):
        self.port, self.timeout = port, timeout
        self.serial = open_port(port, baud)
        self._pending = b""

    def close(self) -> None:
        self.serial.close()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _line(self, deadline: float, command: str) -> str:
        while b"\n" not in self._pending:
            if FAULT_MARK in self._pending:
                raise fault_error(command, self._pending)
            if time.monotonic() > deadline:
                raise TinyrtError(f"no answer to EEMBC command '{command}%' from {self.port} "
                                  f"(got {self._pending[-200:]!r})",
                                  ["is the firmware built with --protocol eembc?",
                                   f"the runner's baud rate is {BAUD['performance']}"])
            self._pending += self.serial.read(max(1, self.serial.in_waiting))
        raw, self._pending = self._pending.split(b"\n", 1)
        if FAULT_MARK in raw:
            raise fault_error(command, raw)
        return raw.decode("ascii", errors="replace").strip("\r\0")

    def command(self, command: str, timeout: float | None = None) -> list[str]:
        """Send ``command%``; the non-empty lines up to and including the one with m-ready."""
        self.serial.write(f"{command}%".encode())
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        while True:
            line = self._line(deadline, command)
            if line:
                lines.append(line)
            if READY in line:
                return lines

    def sync(self) -> str:
        """Answer `name`, skipping what the board printed before (its boot lines, which end
        with their own m-ready): the name."""
        self.serial.reset_input_buffer()
        self._pending = b""
        self.serial.write(b"name%")
        deadline, name, seen = time.monotonic() + self.timeout, None, []
        while True:
            line = self._line(deadline, "name")
            seen.append(line)
            m = re.match(r"^m-name-dut-\[([^]]+)]$", line)
            if m:
                name = m.group(1)
            elif READY in line and name is not None:
                return name
            elif line.startswith("e-["):
                raise TinyrtError(f"{self.port} does not answer `name%` as an EEMBC DUT: {seen}")

    def profile(self) -> dict[str, str]:
        """m-profile, m-model and tinyrt's m-tinyrt fields."""
        out = {}
        for line in self.command("profile"):
            m = re.match(r"^m-(model|profile)-\[([^]]+)]$", line)
            if m:
                out[m.group(1)] = m.group(2)
            m = re.match(r"^m-tinyrt-\[([^]]*)\]$", line)
            if m:
                out.update(kv.split("=", 1) for kv in m.group(1).split(","))
        return out

    def load(self, data: bytes) -> None:
        """`db load N`, then `db HEX` in the runner's chunks; checks m-load-done came."""
        answers = self.command(f"db load {len(data)}")
        _refused(answers, "db load")
        for i in range(0, len(data), DB_CHUNK):
            answers = self.command("db " + data[i:i + DB_CHUNK].hex())
            _refused(answers, "db")
        if "m-load-done" not in answers:
            raise TinyrtError(f"the EEMBC firmware did not say m-load-done after {len(data)} bytes: {answers}")

    def infer(self, runs: int, warmups: int, timeout: float = 120.0) -> Inference:
        return parse_infer(self.command(f"infer {runs} {warmups}", timeout=timeout))


def _refused(answers: list[str], what: str) -> None:
    errors = [a for a in answers if a.startswith("e-[")]
    if errors:
        raise TinyrtError(f"the EEMBC firmware refused `{what}`: {errors[0]}")


# ---- deploy: the pipeline's build, then the runner's steps on every input ----

def deploy(model, board: dict, options, infer: tuple[int, int] | None = None) -> dict | None:
    """``tinyrt deploy --protocol eembc``: build the EEMBC firmware, start the board and drive it
    as the runner does (accuracy mode: ``db`` load and ``infer 1 0`` per input, each output checked
    against tflite-runtime; then one performance-mode ``infer N W``, by default the runner's N and
    W for the model). Returns the deploy report with an ``eembc`` section (None for a dry run)."""
    from . import pipeline
    prepared = pipeline.prepare(model, board, options)
    opts = options_for(prepared, options)
    if opts.dry_run:
        pipeline.dry_run(prepared, opts)
        return None
    with session(prepared, opts) as (dut, built, project):
        measured = measure(dut, prepared, opts, infer)
    report = pipeline.build_report(prepared, built, measured, project if opts.work_dir else None)
    report["memory"]["input_copy_bytes"] = buffer_bytes(prepared.lowered)   # the db buffer
    return report


@contextlib.contextmanager
def session(prepared, options):
    """``prepared`` written, built with the EEMBC firmware and started: yields (a synced
    ``Runner``, the ``Built``, the project folder); leaving stops the board and removes a
    temporary project. ``options``: from ``options_for``."""
    from . import pipeline
    board = prepared.lowered.board
    with pipeline.project_dir(prepared, options) as project:
        pipeline.write(prepared, project)
        built = pipeline.build(prepared, project, options)
        with serving(board, built, options) as port, \
                Runner(port, BAUD["performance"], options.serial(board)[1]) as dut:
            dut.sync()
            yield dut, built, project


@contextlib.contextmanager
def serving(board: dict, built, options):
    """The built firmware running; yields its port (``options.port``: already running there)."""
    from . import hostdevice, pipeline, qemu
    if options.port is not None:
        yield options.port
        return
    if board["kind"] not in ("host", "qemu"):   # a real board: flashed, then its probe's port
        yield pipeline.BoardTarget(board).flash_and_locate(built, options).port
        return
    start = (lambda: hostdevice.start(built.path)) if board["kind"] == "host" else \
        (lambda: qemu.start(board, built.path))
    with start() as process:
        try:
            yield process.port
        except TinyrtError as e:
            if not process.alive:
                raise TinyrtError(f"{e.message}\nthe board exited: {process.stop().strip()[-2000:]}",
                                  e.hints) from None
            raise


def measure(dut: Runner, prepared, options, infer: tuple[int, int] | None = None) -> dict:
    """The runner's steps on every input; the deploy report's measured fields."""
    from .pipeline.report import latency, load_inputs
    from .progress import Progress
    from .reference import Reference
    from .verify import compare, summary
    lowered, graph = prepared.lowered, prepared.lowered.graph
    name = dut.sync()   # again: the name for the report
    prof = dut.profile()
    if prof.get("hash") != lowered.model_hash:
        raise TinyrtError(f"the board runs model '{prof.get('graph')}' ({prof.get('hash')}), "
                          f"not {graph.name} ({lowered.model_hash})",
                          ["rebuild and flash: tinyrt deploy MODEL --protocol eembc without --port"])
    offset = int(prof.get("input_offset", 0))
    inputs = load_inputs(options.inputs_path, graph, options.runs, options.seed)
    ref, results, counts, outs = Reference(prepared.model), [], [], None
    with Progress(f"EEMBC runner steps on {lowered.board['id']}", len(inputs),
                  enabled=not options.quiet) as bar:
        for i, x in enumerate(inputs):
            dut.load(encode_input(x, offset))
            inf = dut.infer(1, 0, options.invoke_timeout)
            outs = decode_results(inf.results, graph)
            results.append(compare(ref.run(x), outs, i, lowered.compute))
            counts.append(inf.count)
            bar.advance()
    runs, warmups = infer or PERFORMANCE_INFER.get(prof.get("model"), DEFAULT_INFER)
    perf = dut.infer(runs, warmups, options.invoke_timeout)
    repeat_same = all(a.tobytes() == b.tobytes() for a, b in zip(decode_results(perf.results, graph), outs))
    clock = types.SimpleNamespace(latency_unit=prof.get("unit"), clock_hz=int(prof.get("clock_hz", 0)))
    return {**summary(results), "latency": latency(counts, clock),
            "stats": types.SimpleNamespace(stack_used=max(perf.stack or 0, 0)),
            "protocol": "eembc",
            "eembc": performance(perf, runs, warmups, name, prof, repeat_same)}


def performance(perf: Inference, runs: int, warmups: int, name: str, prof: dict,
                repeat_same: bool) -> dict:
    """The report's ``eembc`` section: what the runner would compute from the laps, and the
    exact count of the timed loop."""
    elapsed = perf.elapsed_us
    return {"name": name, "model": prof.get("model"), "profile": prof.get("profile"),
            "baud": BAUD["performance"], "inferences": runs, "warmups": warmups,
            "lap_us": list(perf.lap_us) if perf.lap_us else None, "elapsed_us": elapsed,
            "throughput_per_s": runs / (elapsed / 1e6) if elapsed else None,
            "count": perf.count, "unit": perf.unit,
            "count_per_inference": perf.count / runs if perf.count is not None else None,
            "results_after_repeats_equal": repeat_same}


def format_section(section: dict) -> list[list[str]]:
    """Rows for the deploy table."""
    rows = [["EEMBC DUT", f"m-name-dut-[{section['name']}], m-model-[{section['model']}], "
                          f"{section['baud']} baud"]]
    if section["elapsed_us"]:
        rows.append(["EEMBC infer", f"{section['inferences']} after {section['warmups']} warmups: "
                                    f"{section['elapsed_us']:,} us by m-lap-us, "
                                    f"{section['throughput_per_s']:.3f} inf./s"])
    if section["count"] is not None:
        rows.append(["EEMBC per inference", f"{section['count_per_inference']:,.0f} {section['unit']}"
                     + ("" if section["results_after_repeats_equal"] else
                        " (results after the repeats DIFFER from the first run)")])
    return rows
