"""The check every op-conformance test ends with: tinyrt's host build equals tflite-runtime."""
from __future__ import annotations

import numpy as np

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
