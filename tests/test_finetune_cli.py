"""`tinyrt finetune` end to end on the host board with a small CNN: the JSON report has the fields
issue 11 lists, the device's parameters equal the numpy reference (--check-reference), the
fine-tuned .tflite deploys bit-exactly with `tinyrt deploy`; bad data files are refused with a
clear message before anything is built."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinyrt.cli import main
from tinyrt.writer import write_tflite
from train_models import small_cnn


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("finetune")
    (d / "model.tflite").write_bytes(write_tflite(small_cnn()))
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (12, 9, 7, 3)).astype(np.int8)
    y = rng.integers(0, 5, 12)
    np.savez(d / "train.npz", x=x, y=y)
    np.savez(d / "eval.npz", x=x[:6].astype(np.float32) * 0.05, y=y[:6])   # real units
    return d


def finetune(files, *extra):
    return main(["finetune", str(files / "model.tflite"), "--board", "host", "--train-data",
                 str(files / "train.npz"), "--eval-data", str(files / "eval.npz"), "-q", *extra])


def test_finetune_reports_every_field_and_writes_a_deployable_model(files, capsys):
    out, report = files / "tuned.tflite", files / "report.json"
    assert finetune(files, "--epochs", "2", "--batch", "4", "--lr", "0.05", "--train",
                    "bias:last:2,last:1", "--check-reference", "-o", str(out),
                    "--json", str(report)) == 0
    r = json.loads(report.read_text())
    assert r["model"] == "model" and r["board"] == "host"
    assert r["train"]["parameters"] > 0 and r["train"]["layers"]
    assert [sorted(e) for e in r["epochs"]] == [["eval_accuracy", "loss", "train_accuracy"]] * 2
    assert 0 <= r["accuracy_before"] <= 1 and r["accuracy_after"] == r["epochs"][-1]["eval_accuracy"]
    assert r["memory"]["training_peak_sram_bytes"] >= r["memory"]["planned_training_peak_bytes"]
    assert r["latency"]["step_median"] > 0 and r["latency"]["unit"] == "ns"
    assert r["reference"]["max_rel_diff"] <= 1e-5
    assert "fine-tuned on host" in capsys.readouterr().out
    assert main(["deploy", str(out), "--board", "host", "--runs", "2", "-q"]) == 0


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 9, 7, 3), np.int8)}, "has no y"),
    ({"samples": np.zeros(3), "labels": np.zeros(3)}, "has no x and no y (it holds samples, labels)"),
    ({"x": np.zeros((4, 5, 5, 3), np.int8), "y": np.zeros(4, int)}, "do not fit the model input"),
    ({"x": np.zeros((4, 9, 7, 3), np.int8), "y": np.array([0, 1, 5, 2])},
     "label 5 of sample 2 is outside the model's 5 classes"),
    ({"x": np.zeros((4, 9, 7, 3), np.int8), "y": np.zeros(3, int)}, "4 samples but labels of shape [3]"),
    ({"x": np.zeros((4, 9, 7, 3), np.int32), "y": np.zeros(4, int)}, "samples are int32"),
])
def test_bad_training_data_is_refused_with_what_is_wrong(files, tmp_path, capsys, arrays, message):
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    assert main(["finetune", str(files / "model.tflite"), "--board", "host", "--train-data",
                 str(bad), "--eval-data", str(files / "eval.npz"), "-q"]) == 1
    err = capsys.readouterr().err
    assert f"error: {bad}" in err and message in err and "Traceback" not in err


def test_a_data_file_that_is_not_an_npz_is_refused(files, tmp_path, capsys):
    npy, junk = tmp_path / "x.npy", tmp_path / "junk.npz"
    np.save(npy, np.zeros(3))
    junk.write_text("not numpy")
    for path, message in ((npy, "holds one array"), (junk, "cannot read the training data")):
        assert main(["finetune", str(files / "model.tflite"), "--board", "host", "--train-data",
                     str(path), "--eval-data", str(files / "eval.npz"), "-q"]) == 1
        assert message in capsys.readouterr().err


def test_fp16_training_is_refused_on_a_board_without_fp16_arithmetic(files, capsys):
    assert finetune(files, "--precision", "fp16", "--board", "qemu-m4") == 1
    err = capsys.readouterr().err
    assert "FP16 training needs FP16 arithmetic" in err and "try: --precision fp32" in err
