"""`tinyrt quantize` as a user meets it: the report, --json, and every bad input as an
"error: ..." line with hints, never a traceback."""
import json
import subprocess
import sys

import numpy as np
import pytest

from builder import ModelBuilder
from tinyrt import schema
from tinyrt.cli import main
from tinyrt.frontend import read_tflite
from tinyrt.reference import Reference
from tinyrt.writer import write_tflite


def float_mlp(name="mlp"):
    rng = np.random.default_rng(0)
    b = ModelBuilder(name)
    x = b.input((1, 12), "float32")
    h, y, s = b.tensor((1, 16), "float32"), b.tensor((1, 4), "float32"), b.tensor((1, 4), "float32")
    b.op("FULLY_CONNECTED", [x, b.const(rng.normal(0, 0.5, (16, 12)), "float32"),
                             b.const(rng.normal(0, 0.1, 16), "float32")], [h],
         activation="RELU", keep_num_dims=False)
    b.op("FULLY_CONNECTED", [h, b.const(rng.normal(0, 0.5, (4, 16)), "float32"),
                             b.const(rng.normal(0, 0.1, 4), "float32")], [y],
         activation="NONE", keep_num_dims=False)
    b.op("SOFTMAX", [y], [s], beta=1.0)
    return b.graph([s])


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "mlp_float.tflite"
    model.write_bytes(write_tflite(float_mlp()))
    rng = np.random.default_rng(1)
    np.save(tmp_path / "calib.npy", rng.normal(0, 1, (40, 12)).astype(np.float32))
    np.save(tmp_path / "held.npy", rng.normal(0, 1, (30, 12)).astype(np.float32))
    np.save(tmp_path / "labels.npy", rng.integers(0, 4, 30))
    return tmp_path


def run_cli(capsys, *args):
    code = main(["quantize", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_quantize_writes_an_int8_model_and_a_json_report(files, capsys):
    out_model, report = files / "q.tflite", files / "r.json"
    code, out, _ = run_cli(capsys, files / "mlp_float.tflite", "--calib", files / "calib.npy",
                           "-o", out_model, "--holdout", files / "held.npy", "--labels",
                           files / "labels.npy", "--json", report, "-q")
    assert code == 0 and "SQNR" in out and "top-1 agreement" in out
    r = json.loads(report.read_text())
    assert r["samples"] == 30 and r["evaluated_on"] == "held-out" and len(r["layers"]) == 3
    assert {"top1_agreement", "float_accuracy", "int8_accuracy"} <= set(r)
    graph = read_tflite(out_model)
    assert [graph.t(k).dtype for k in graph.inputs + graph.outputs] == ["int8", "int8"]
    Reference(str(out_model))


@pytest.mark.parametrize("method", ["percentile", "mse"])
def test_methods_and_bias_correction_are_options(files, capsys, method):
    code, out, _ = run_cli(capsys, files / "mlp_float.tflite", "--calib", files / "calib.npy",
                           "-o", files / "q.tflite", "--method", method, "--bias-correction", "-q")
    assert code == 0 and "calibration inputs" in out


def test_calibration_folder_of_npy_and_npz_files(files, capsys):
    folder = files / "calib"
    folder.mkdir()
    data = np.load(files / "calib.npy")
    np.save(folder / "a.npy", data[:10])
    np.savez(folder / "b.npz", x=data[10:20, None], y=data[20:25])
    code, _, _ = run_cli(capsys, files / "mlp_float.tflite", "--calib", folder, "-o",
                         files / "q.tflite", "--json", files / "r.json", "-q")
    assert code == 0 and json.loads((files / "r.json").read_text())["calibration_samples"] == 25


def test_float_io_option_keeps_float_ends(files, capsys):
    code, _, _ = run_cli(capsys, files / "mlp_float.tflite", "--calib", files / "calib.npy", "-o",
                         files / "q.tflite", "--float-io", "-q")
    graph = read_tflite(files / "q.tflite")
    assert code == 0 and graph.t(graph.inputs[0]).dtype == "float32"


def expect_error(capsys, *args, contains):
    code, _, err = run_cli(capsys, *args)
    assert code == 1 and err.startswith("error: "), err
    for text in contains:
        assert text in err, err
    assert "Traceback" not in err


def test_already_quantised_model_is_refused(files, capsys, tmp_path):
    b = ModelBuilder("int8_model")
    x, y = b.input((1, 4), scale=0.1), b.tensor((1, 4), scale=0.1)
    b.op("RELU", [x], [y])
    path = tmp_path / "int8.tflite"
    path.write_bytes(write_tflite(b.graph([y])))
    expect_error(capsys, path, "--calib", files / "calib.npy", contains=[
        "already quantised", "int8", "try: compile it directly"])


def test_unknown_operator_is_named(files, capsys, tmp_path, monkeypatch):
    b = ModelBuilder("exp_model")
    x, y = b.input((1, 12), "float32"), b.tensor((1, 12), "float32")
    b.op("EXP", [x], [y])
    monkeypatch.setitem(schema.OPTIONS, "EXP", (None, []))   # let the writer write an EXP op
    path = tmp_path / "exp.tflite"
    path.write_bytes(write_tflite(b.graph([y])))
    monkeypatch.undo()
    expect_error(capsys, path, "--calib", files / "calib.npy", contains=["EXP"])


def test_float_op_without_an_int8_rule_is_named(files, capsys, tmp_path):
    """A FULLY_CONNECTED of two activations (a matmul) has no int8 weights to quantise."""
    b = ModelBuilder("matmul")
    x, y = b.input((1, 12), "float32"), b.tensor((1, 1), "float32")
    w = b.tensor((1, 12), "float32")
    b.op("RELU", [x], [w])
    b.op("FULLY_CONNECTED", [x, w, -1], [y], activation="NONE", keep_num_dims=False)
    path = tmp_path / "matmul.tflite"
    path.write_bytes(write_tflite(b.graph([y])))
    expect_error(capsys, path, "--calib", files / "calib.npy", contains=[
        "cannot quantise", "FULLY_CONNECTED", "weights are not constant"])


@pytest.mark.parametrize("data, words", [
    (np.zeros((10, 13), np.float32), ["shape [10, 13]", "expected [N, 12]"]),
    (np.zeros((10, 12), np.uint8), ["dtype uint8", "float32", "try: convert"]),
    (np.zeros((0, 12), np.float32), ["empty"]),
    (np.full((3, 12), np.nan, np.float32), ["NaN"]),
])
def test_bad_calibration_data_is_explained(files, capsys, data, words):
    np.save(files / "bad.npy", data)
    expect_error(capsys, files / "mlp_float.tflite", "--calib", files / "bad.npy", contains=words)


def test_empty_calibration_folder_is_explained(files, capsys):
    (files / "empty").mkdir()
    expect_error(capsys, files / "mlp_float.tflite", "--calib", files / "empty",
                 contains=["no .npy or .npz"])


def test_missing_files_and_mismatched_labels_are_explained(files, capsys):
    expect_error(capsys, files / "mlp_float.tflite", "--calib", files / "nope.npy",
                 contains=["not found"])
    np.save(files / "few.npy", np.arange(3))
    expect_error(capsys, files / "mlp_float.tflite", "--calib", files / "calib.npy",
                 "--holdout", files / "held.npy", "--labels", files / "few.npy",
                 contains=["3 values for 30"])


def test_no_traceback_from_the_installed_command(files):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "quantize", str(files / "calib.npy"),
                           "--calib", str(files / "calib.npy")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr


def test_progress_goes_to_stderr_unless_quiet(files, capsys):
    code, out, err = run_cli(capsys, files / "mlp_float.tflite", "--calib", files / "calib.npy",
                             "-o", files / "q.tflite")
    assert code == 0 and "calibrating" in err and "evaluating" in err
    assert "calibrating" not in out
