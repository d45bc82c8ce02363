"""The check every op-conformance test ends with: tinyrt's host build equals tflite-runtime."""
from __future__ import annotations

import subprocess

import numpy as np

from codegen.render import kernel_files
from tinyrt.paths import data_dir

from tinyrt.ir import verify
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


def assert_bit_exact(graph, runs: int = 3, seed: int = 0, sanitize: bool = False) -> None:
    verify(graph)
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-O1", "-g"] if sanitize else []
    result = verify_host(graph, write_tflite(graph), runs=runs, seed=seed, extra_cflags=flags)
    bad = [r for r in result.runs if not r.bit_exact]
    assert not bad, (f"{len(bad)}/{len(result.runs)} runs differ from tflite-runtime; first: "
                     f"{bad[0].mismatched} values, max |diff| {bad[0].max_abs_diff} "
                     f"(project kept in {result.project_dir})")


def rand_int8(rng, shape):
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def c_value(tmp_path, header: str, expr: str) -> int:
    """``expr`` evaluated by a host program that includes templates/kernels/<header>.h with
    every header it includes (a *_dsp header through its exact C intrinsics)."""
    files = {"tinyrt_math.h": (data_dir("templates") / "runtime" / "tinyrt_math.h").read_text(),
             **kernel_files(header)}   # every generated project has tinyrt_math.h
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "main.c").write_text(
        f'#include <stdio.h>\n#include "kernels/{header}.h"\n'
        f'int main(void) {{ printf("%d", (int)({expr})); return 0; }}\n')
    exe = tmp_path / "main"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-DTINYRT_ACLE_PORTABLE",
                    "-o", str(exe), str(tmp_path / "main.c")], check=True)
    return int(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout)
