"""The `tinyrt` command as a user meets it: readable output, JSON reports, errors without
tracebacks."""
import json
import subprocess
import sys

import numpy as np
import pytest

from builder import ModelBuilder
from tinyrt.writer import write_tflite


def tinyrt(*args, check=False):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", *map(str, args)], capture_output=True,
                          text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def fc_model(tmp_path):
    m = ModelBuilder("tiny_fc")
    x = m.input((1, 16), scale=0.1, zero_point=-5)
    w = m.const(np.random.default_rng(0).integers(-127, 128, (6, 16)), "int8", scale=0.01)
    y = m.tensor((1, 6), scale=0.05, zero_point=2)
    m.op("FULLY_CONNECTED", [x, w, -1], [y], activation="RELU")
    path = tmp_path / "tiny_fc.tflite"
    path.write_bytes(write_tflite(m.graph([y])))
    return path


def test_deploy_host_reports_bit_exact_runs_in_json(fc_model, tmp_path):
    report_path = tmp_path / "r.json"
    proc = tinyrt("deploy", fc_model, "--board", "host", "--runs", 7, "--seed", 3, "--json",
                  report_path, "--quiet", check=True)
    report = json.loads(report_path.read_text())
    assert report["model"] == "tiny_fc" and report["board"] == "host"
    assert report["runs"] == 7 and report["bit_exact_runs"] == 7
    assert report["memory"]["arena_bytes"] >= 16 + 6
    assert report["flash_bytes"] > 16 * 6
    assert report["ops"] == {"FULLY_CONNECTED": 1}
    assert "runs bit-exact" in proc.stdout and "7/7" in proc.stdout


def test_plan_prints_a_table_and_json(fc_model, tmp_path):
    proc = tinyrt("plan", fc_model, "--board", "host", "--json", tmp_path / "p.json", check=True)
    assert "FULLY_CONNECTED" in proc.stdout and "arena" in proc.stdout
    plan = json.loads((tmp_path / "p.json").read_text())
    assert plan["arena_bytes"] >= plan["peak_live_bytes"] == 22


def test_compile_writes_a_self_contained_project(fc_model, tmp_path):
    tinyrt("compile", fc_model, "--board", "host", "-o", tmp_path / "out", check=True)
    names = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")}
    assert {"model.h", "model.c", "model_weights.c", "tinyrt_math.h",
            "kernels/fully_connected_s8.h"} <= names


@pytest.mark.parametrize("args,message", [
    (("deploy", "missing.tflite", "--board", "host"), "not found"),
    (("plan", "missing.tflite", "--board", "nosuchboard"), "unknown board"),
    (("deploy", "{model}", "--board", "hots"), "did you mean host"),
])
def test_user_errors_print_error_and_try_lines_without_traceback(args, message, fc_model):
    proc = tinyrt(*(a.format(model=fc_model) for a in args))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and message in proc.stderr


def test_not_a_model_is_a_clear_error(tmp_path):
    bad = tmp_path / "notes.tflite"
    bad.write_text("hello")
    proc = tinyrt("plan", bad, "--board", "host")
    assert proc.returncode == 1 and "not a TFLite model" in proc.stderr and "Traceback" not in proc.stderr


def test_boards_lists_host():
    proc = tinyrt("boards", check=True)
    assert "host" in proc.stdout


def test_json_to_stdout_is_the_json_alone(tmp_path):
    """`--json -`: stdout parses as JSON as it is; the human tables go to stderr."""
    import json
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "boards", "--json", "-"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "qemu-m4" in [b["id"] for b in json.loads(proc.stdout)["boards"]]
    assert "qemu-m4" in proc.stderr
