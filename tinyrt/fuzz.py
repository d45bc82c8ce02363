"""Model fuzzing: mutated ``.tflite`` files must be refused with a clear error or compile and run
bit-exact with tflite-runtime; never a Python traceback, never a hang.

Each mutant is a copy of a model with one to four mutations (a bit flip, a byte set to
0/0x7f/0x80/0xff, a truncation, a 32-bit word overwritten). Half of the mutations hit the
flatbuffer's structure (anything outside the weight buffers) because uniform offsets land mostly
in the weights, which only change numbers. Mutant ``i`` of a run depends on ``(seed, i)`` alone,
so a finding is reproduced with ``mutant(buf, seed, i)``.

Every mutant runs in a worker process with a time limit: a hang is killed and counted, and a
crash of native code (tflite-runtime reading a corrupt model) cannot take the run down. Outcomes:
``refused`` (TinyrtError/UnsupportedOp), ``compiled``, ``crash`` (any other exception, with its
type, message and the innermost tinyrt file:line), ``hang``. A sample of the compiled mutants
(every Nth, at most M) is built and run on the host beside tflite-runtime: ``bit_exact``,
``tflite_refused`` (tflite-runtime refuses or fails on the mutant: not a tinyrt bug),
``mismatch`` or ``check_error`` (tinyrt compiled it but the C does not build or run: a bug).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BYTE_VALUES = (0x00, 0x7F, 0x80, 0xFF)
WORD_VALUES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE)
COMPILE_LIMIT_S = 10.0   # read + lower of the shared models takes ~10 ms
CHECK_LIMIT_S = 120.0    # host build (cc) + runs + tflite-runtime
CHECK_MAX_MACS = 50_000_000      # a mutated shape can ask for a huge model: not worth running
CHECK_MAX_ARENA = 16 << 20
WORKER_MEMORY = 4 << 30  # an absurd allocation fails as MemoryError instead of swapping
_ROOT = Path(__file__).resolve().parents[1]


# --- mutations -----------------------------------------------------------------------------------

def structure_offsets(buf: bytes) -> np.ndarray:
    """Offsets of the bytes outside the weight buffers' data (tables, vectors, strings, quant)."""
    import tflite
    mask = np.ones(len(buf), bool)
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        for i in range(model.BuffersLength()):
            tab = model.Buffers(i)._tab
            o = tab.Offset(4)
            if o:
                start = tab.Vector(o)
                mask[start:start + tab.VectorLen(o)] = False
    except Exception:   # not a flatbuffer we can walk: every byte is structure
        pass
    return np.flatnonzero(mask)


def _offset(rng, size: int, structure: np.ndarray) -> int:
    if len(structure) and rng.random() < 0.5:
        return int(structure[rng.integers(len(structure))])
    return int(rng.integers(size))


def _mutate_once(data: bytearray, rng, structure: np.ndarray) -> tuple[bytearray, str]:
    kind = rng.choice(["bitflip", "byte", "truncate", "word32"], p=[0.3, 0.3, 0.1, 0.3])
    if kind == "truncate":
        n = int(rng.integers(len(data)))
        return data[:n], f"truncate to {n}"
    at = _offset(rng, len(data), structure)
    if kind == "bitflip":
        bit = int(rng.integers(8))
        data[at] ^= 1 << bit
        return data, f"bitflip @0x{at:x} bit {bit}"
    if kind == "byte":
        value = int(rng.choice(BYTE_VALUES))
        data[at] = value
        return data, f"byte @0x{at:x} = 0x{value:02x}"
    at = min(at & ~3, len(data) - 4)   # flatbuffer scalars and offsets are 4-aligned
    pick = rng.integers(3)
    value = (int(rng.choice(WORD_VALUES)) if pick == 0 else int(rng.integers(256)) if pick == 1
             else int(rng.integers(1 << 32)))
    data[at:at + 4] = value.to_bytes(4, "little")
    return data, f"word32 @0x{at:x} = 0x{value:08x}"


def mutant(buf: bytes, seed: int, index: int, structure: np.ndarray | None = None
           ) -> tuple[bytes, str]:
    """Mutant ``index`` of ``buf`` for ``seed``: (bytes, what was changed)."""
    rng = np.random.default_rng([seed, index])
    structure = structure_offsets(buf) if structure is None else structure
    data, what = bytearray(buf), []
    for _ in range(1 if rng.random() < 0.7 else int(rng.integers(2, 5))):
        if len(data) < 4:
            break
        data, desc = _mutate_once(data, rng, structure[structure < len(data)])
        what.append(desc)
    return bytes(data), "; ".join(what)


# --- the worker: one mutant at a time, in its own process ------------------------------------------

def _where(exc: BaseException) -> str:
    """The innermost frame in tinyrt's own code (else the innermost frame): path:line."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(_ROOT)) and "site-packages" not in f.filename]
    f = (ours or frames or [None])[-1]
    if f is None:
        return "?"
    path = Path(f.filename)
    rel = path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path
    return f"{rel}:{f.lineno} ({f.name})"


def _compile(data: bytes, board):
    import codegen
    from .frontend import parse_tflite
    graph = parse_tflite(data, name="mutant", where="mutant")
    return graph, codegen.lower(graph, board)


def _check(data: bytes, graph, lowered, board, conn, seed: int) -> dict:
    """Build and run the compiled mutant on the host beside tflite-runtime."""
    import tempfile

    import codegen
    from . import host, reference
    from .errors import TinyrtError
    from .verify import compare
    macs = sum(layer.macs for layer in lowered.layers)
    if macs > CHECK_MAX_MACS or lowered.plan.arena_bytes > CHECK_MAX_ARENA:
        return {"result": "skipped", "message": f"{macs:,} MACs, {lowered.plan.arena_bytes:,} B arena"}
    try:
        inputs = [reference.random_inputs(graph, np.random.default_rng([seed, r])) for r in range(2)]
    except TinyrtError as e:
        return {"result": "skipped", "message": e.message}
    conn.send(("stage", "tflite-runtime"))
    try:
        ref = reference.Reference(data)
        expected = [ref.run(x) for x in inputs]
    except Exception as e:   # tflite-runtime's own refusal or failure: reported, not a tinyrt bug
        return {"result": "tflite_refused", "message": f"{type(e).__name__}: {str(e).strip()[:300]}"}
    conn.send(("stage", "host build and run"))
    try:
        with tempfile.TemporaryDirectory(prefix="tinyrt-fuzz-") as work:
            host.write_project(codegen.render(lowered), work)
            exe = host.build(work, board)
            got = host.run(exe, inputs, [(tuple(d["shape"]), d["dtype"]) for d in ref.outputs])
    except Exception as e:
        return {"result": "check_error", "message": f"{type(e).__name__}: {str(e)[:500]}",
                "where": _where(e)}
    runs = [compare(e, g, i, lowered.compute) for i, (e, g) in enumerate(zip(expected, got))]
    if all(r.bit_exact for r in runs):
        return {"result": "bit_exact"}
    return {"result": "mismatch", "message": f"{sum(r.mismatched for r in runs)} values differ, "
                                             f"max |diff| {max(r.max_abs_diff for r in runs)}"}


def _job(data: bytes, check: bool, seed: int, board, conn) -> dict:
    from .errors import TinyrtError
    try:
        graph, lowered = _compile(data, board)
    except TinyrtError as e:
        return {"outcome": "refused", "message": e.message.splitlines()[0][:300]}
    except Exception as e:   # noqa: BLE001 -- every other exception is the bug being hunted
        return {"outcome": "crash", "type": type(e).__name__, "message": str(e)[:300],
                "where": _where(e)}
    result = {"outcome": "compiled"}
    if check:
        result["check"] = _check(data, graph, lowered, board, conn, seed)
    return result


def _serve(conn) -> None:
    import resource
    os.setpgrp()   # its own process group: a hang is killed with the compiler it started
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    from .boards import load_board
    board = load_board("host")
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        conn.send(("done", _job(*job, board, conn)))


class Worker:
    """A child process that compiles (and checks) one mutant at a time under a time limit."""

    def __init__(self):
        self.proc = None
        self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def _kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            self.proc.kill()
        self.proc.join()
        self.conn.close()

    def run(self, data: bytes, check: bool, seed: int, limit: float) -> dict:
        self.conn.send((data, check, seed))
        stage, deadline = "compile", time.monotonic() + limit
        while True:
            left = deadline - time.monotonic()
            try:
                msg = self.conn.recv() if left > 0 and self.conn.poll(left) else None
            except (EOFError, ConnectionResetError):
                self.proc.join(5)
                code = self.proc.exitcode
                self._kill()
                self._start()
                return {"outcome": "died", "stage": stage, "message": f"worker exit code {code}"}
            if msg is None:
                self._kill()
                self._start()
                return {"outcome": "hang", "stage": stage, "message": f"over {limit:g} s"}
            if msg[0] == "stage":
                stage = msg[1]
                continue
            return msg[1]

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(5)
            except (BrokenPipeError, OSError):
                pass
            if self.proc.is_alive():
                self._kill()
        self.proc = None


# --- the run -------------------------------------------------------------------------------------

@dataclass
class Tally:
    """Counts of one model's fuzz run; ``findings``: every crash, hang, mismatch and check error
    (mutant index, its mutations, what happened) and the first tflite-runtime refusals."""
    model: str
    mutants: int = 0
    refused: int = 0
    compiled: int = 0
    checked: int = 0
    bit_exact: int = 0
    tflite_refused: int = 0
    skipped: int = 0
    crashes: int = 0
    hangs: int = 0
    mismatches: int = 0
    check_errors: int = 0
    seconds: float = 0.0
    findings: list[dict] = field(default_factory=list)

    @property
    def bugs(self) -> int:
        return self.crashes + self.hangs + self.mismatches + self.check_errors

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# (outcome, stage) of a worker that hung or died -> what it counts as
_LOST = {("hang", "compile"): "hang", ("died", "compile"): "crash",
         ("hang", "tflite-runtime"): "tflite_refused", ("died", "tflite-runtime"): "tflite_refused",
         ("hang", "host build and run"): "hang", ("died", "host build and run"): "check_error"}


_COUNTERS = {"refused": "refused", "crash": "crashes", "hang": "hangs"}


def _count(t: Tally, r: dict, index: int, what: str) -> None:
    t.mutants += 1
    kind = _LOST.get((r["outcome"], r.get("stage")), r["outcome"])
    if kind in _COUNTERS:
        setattr(t, _COUNTERS[kind], getattr(t, _COUNTERS[kind]) + 1)
        if r.get("stage") not in (None, "compile"):   # lost while checking a compiled mutant
            t.compiled, t.checked = t.compiled + 1, t.checked + 1
        if kind != "refused":
            t.findings.append({"mutant": index, "mutation": what, **r})
        return
    t.compiled += 1
    check = r.get("check")
    if kind != "compiled":   # the worker was lost in tflite-runtime: its failure, not ours
        check = {"result": kind, "message": r.get("message")}
    if check is None:
        return
    result = check["result"]
    if result == "skipped":
        t.skipped += 1
        return
    t.checked += 1
    t.bit_exact += result == "bit_exact"
    t.tflite_refused += result == "tflite_refused"
    t.mismatches += result == "mismatch"
    t.check_errors += result == "check_error"
    if result in ("mismatch", "check_error") or (result == "tflite_refused" and
                                                  t.tflite_refused <= 3):
        t.findings.append({"mutant": index, "mutation": what, "outcome": result,
                           **{k: v for k, v in check.items() if k != "result"}})


def fuzz_model(buf: bytes, name: str, count: int, seed: int = 0, check_every: int = 20,
               max_checks: int = 50, worker: Worker | None = None, progress=None) -> Tally:
    """``count`` mutants of ``buf`` through read + lower; every ``check_every``-th compiled one
    (at most ``max_checks``) also built and run on the host beside tflite-runtime."""
    own = worker is None
    worker = worker or Worker()
    structure = structure_offsets(buf)
    tally, start = Tally(name), time.monotonic()
    try:
        for i in range(count):
            data, what = mutant(buf, seed, i, structure)
            check = tally.compiled % check_every == check_every - 1 and tally.checked < max_checks
            limit = CHECK_LIMIT_S if check else COMPILE_LIMIT_S
            _count(tally, worker.run(data, check, seed, limit), i, what)
            if progress is not None:
                progress.advance(note=f"{tally.bugs} bugs")
    finally:
        if own:
            worker.close()
    tally.seconds = round(time.monotonic() - start, 1)
    return tally


def generated_models() -> dict[str, bytes]:
    """Models built in code that the fuzzer mutates beside the shared ones."""
    from .examples import build_example
    from .writer import write_tflite
    return {"example_dscnn": write_tflite(build_example())}


def models(shared: Path | None, names: list[str] | None = None) -> dict[str, bytes]:
    """The shared int8 models (when ``shared`` is given) and the generated ones, or those named
    (a shared model with or without "_int8")."""
    found = {}
    if shared is not None:
        from .bench import int8_models
        found = {p.stem.removesuffix("_int8"): p.read_bytes() for p in int8_models(shared)}
    found.update(generated_models())
    if names:
        unknown = [n for n in names if n.removesuffix("_int8") not in found]
        if unknown:
            from .errors import TinyrtError
            raise TinyrtError(f"no model named {', '.join(unknown)} to fuzz",
                              [f"choose from {', '.join(found)}"])
        found = {n: b for n, b in found.items() if n in {m.removesuffix("_int8") for m in names}}
    return found


def run(buffers: dict[str, bytes], count: int, seed: int = 0, check_every: int = 20,
        max_checks: int = 100, progress: bool = True) -> list[Tally]:
    """``fuzz_model`` over several models with one worker."""
    from .progress import Progress
    worker, tallies = Worker(), []
    try:
        for name, buf in buffers.items():
            with Progress(f"fuzz {name}", count, enabled=progress) as bar:
                tallies.append(fuzz_model(buf, name, count, seed, check_every, max_checks,
                                          worker, bar))
    finally:
        worker.close()
    return tallies
