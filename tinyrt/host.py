"""Board `host`: build the generated library natively and run it over stdin/stdout."""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .errors import TinyrtError


def write_project(files: dict[str, str], out_dir: str | os.PathLike) -> Path:
    out = Path(out_dir)
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return out


def build(project_dir: str | os.PathLike, board: dict, extra_cflags: list[str] = (),
          exe_name: str = "model") -> Path:
    """Compile model.c, model_weights.c and main_host.c into an executable."""
    project = Path(project_dir)
    cc = os.environ.get("CC") or board.get("build", {}).get("cc", "cc")
    if shutil.which(cc) is None:
        raise TinyrtError(f"C compiler '{cc}' not found",
                          ["apt-get install gcc   (or set CC to your compiler)"])
    cflags = list(board.get("build", {}).get("cflags", ["-O2"])) + list(extra_cflags)
    exe = project / exe_name
    # no folder name in the executable (debug info with -g, __FILE__): builds are reproducible
    cmd = [cc, *cflags, f"-ffile-prefix-map={project}=.", "-I", str(project), "-o", str(exe),
           *(str(project / f) for f in ("model.c", "model_weights.c", "main_host.c")), "-lm"]
    run_checked(cmd, "host build")
    return exe


def run_checked(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, **kwargs)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace") if isinstance(proc.stderr, bytes) else proc.stderr
        raise TinyrtError(f"{what} failed with exit status {proc.returncode}: {shlex.join(cmd)}\n"
                          f"{(err or '').strip()[-4000:]}")
    return proc


def run(exe: str | os.PathLike, inputs: list[list[np.ndarray]], output_specs: list[tuple]) -> list[list[np.ndarray]]:
    """Feed every input set through the native program in one process.

    ``output_specs``: (shape, numpy dtype) per model output. Returns one list of outputs per run.
    """
    payload = b"".join(np.ascontiguousarray(x).tobytes() for run_inputs in inputs for x in run_inputs)
    proc = run_checked([str(exe)], "host model run", input=payload)
    sizes = [int(np.prod(shape)) * np.dtype(dt).itemsize for shape, dt in output_specs]
    per_run = sum(sizes)
    if len(proc.stdout) != per_run * len(inputs):
        raise TinyrtError(f"host model wrote {len(proc.stdout)} bytes, expected {per_run * len(inputs)}")
    results = []
    for r in range(len(inputs)):
        pos, outs = r * per_run, []
        for (shape, dt), size in zip(output_specs, sizes):
            outs.append(np.frombuffer(proc.stdout[pos:pos + size], dtype=dt).reshape(shape))
            pos += size
        results.append(outs)
    return results


def flash_bytes(project_dir: str | os.PathLike, board: dict) -> dict:
    """Code and constant data of the generated library (model.c + weights) as the host compiler
    lays them out: text (incl. rodata) + data of the two objects. The runner is not counted."""
    project = Path(project_dir)
    cc = os.environ.get("CC") or board.get("build", {}).get("cc", "cc")
    cflags = list(board.get("build", {}).get("cflags", ["-O2"]))
    objs = []
    for src in ("model.c", "model_weights.c"):
        obj = project / (Path(src).stem + ".o")
        run_checked([cc, *cflags, "-I", str(project), "-c", str(project / src), "-o", str(obj)],
                    "host compile")
        objs.append(obj)
    return object_sizes(*objs)


def object_sizes(model_obj: str | os.PathLike, weights_obj: str | os.PathLike) -> dict:
    """``flash_bytes`` of the two compiled objects: text (with rodata) + data of each."""
    sizes = []
    for obj in (model_obj, weights_obj):
        out = run_checked(["size", str(obj)], "size", text=True).stdout.splitlines()[-1].split()
        sizes.append(int(out[0]) + int(out[1]))
    return {"code_bytes": sizes[0], "weights_bytes": sizes[1], "flash_bytes": sum(sizes)}
