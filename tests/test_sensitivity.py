"""Per-layer quantisation sensitivity (tinyrt/quantize/sensitivity.py) and
`tinyrt quantize --sensitivity`: a deliberately fragile layer ranks first, the fake-quantised
model tracks the int8 model, and the CLI writes its report or refuses bad input clearly."""
import json

import numpy as np
import pytest

from builder import ModelBuilder
from tinyrt.boards import load_board
from tinyrt.cli import main
from tinyrt.quantize import quantize
from tinyrt.quantize.report import Int8Runner, sqnr_db
from tinyrt.quantize.sensitivity import (analyse, fake_quant_graph, format_sensitivity,
                                         layer_owners, layers, run_outputs)
from tinyrt.writer import write_tflite

CONV = dict(padding="SAME", stride_w=1, stride_h=1, dilation_w=1, dilation_h=1)


def float_net(outlier: float = 0.0, seed: int = 0):
    """input 6x6x2 -> CONV 3x3x4 RELU (channel 3 always 0) -> ADD (x + x) -> RESHAPE 144 ->
    FULLY_CONNECTED 8 RELU ("hidden") -> FULLY_CONNECTED 5 -> SOFTMAX. ``outlier`` goes into the
    hidden layer's weight that reads the dead channel: the float model ignores it, but the
    per-tensor int8 scale of that layer becomes outlier / 127 and its other weights round to 0."""
    rng = np.random.default_rng(seed)
    b = ModelBuilder("sens_net")
    x = b.input((1, 6, 6, 2), "float32")
    w = rng.normal(0, 0.4, (4, 3, 3, 2))
    w[3] = 0.0
    c = b.tensor((1, 6, 6, 4), "float32")
    b.op("CONV_2D", [x, b.const(w, "float32"), b.const([0.1, 0.0, -0.1, -1.0], "float32")], [c],
         activation="RELU", **CONV)
    a = b.tensor((1, 6, 6, 4), "float32")
    b.op("ADD", [c, c], [a], activation="NONE")
    f = b.tensor((1, 144), "float32")
    b.op("RESHAPE", [a, b.const([1, 144], "int32")], [f], new_shape=[1, 144])
    w1 = rng.normal(0, 0.1, (8, 144))
    w1[0, 3] = outlier or w1[0, 3]          # input feature 3 = channel 3 of pixel 0: always 0
    h = b.tensor((1, 8), "float32")
    b.op("FULLY_CONNECTED", [f, b.const(w1, "float32"), b.const(rng.normal(0, 0.1, 8), "float32")],
         [h], activation="RELU", keep_num_dims=False)
    logits, y = b.tensor((1, 5), "float32"), b.tensor((1, 5), "float32")
    b.op("FULLY_CONNECTED", [h, b.const(rng.normal(0, 0.4, (5, 8)), "float32"),
                             b.const(rng.normal(0, 0.1, 5), "float32")], [logits],
         activation="NONE", keep_num_dims=False)
    b.op("SOFTMAX", [logits], [y], beta=1.0)
    return b.graph([y])


HIDDEN = 3   # op index of the hidden FULLY_CONNECTED


def data(n, seed):
    return np.random.default_rng(seed).normal(0, 1, (n, 1, 6, 6, 2)).astype(np.float32)


def samples(n=40, seed=1):
    return [[x] for x in data(n, seed)]


@pytest.fixture(scope="module")
def fragile():
    result = quantize(float_net(outlier=1000.0), samples(), progress=False)
    # costs of the portable kernels, which keep the int8 weights as the model has them (SIMD
    # kernels re-lay them out with their constants, which moves the byte counts below)
    board = {**load_board("qemu-m4"), "kernels": ("portable",)}
    return result, analyse(result, samples(30, 2), progress=False, board=board)


def test_layer_with_an_outlier_weight_ranks_first(fragile):
    _, report = fragile
    first, rest = report["layers"][0], report["layers"][1:]
    assert first["index"] == HIDDEN and first["op"] == "FULLY_CONNECTED"
    assert first["ota_sqnr_db"] < min(r["ota_sqnr_db"] for r in rest) - 10


def test_keeping_the_fragile_layer_float_recovers_most_of_the_loss(fragile):
    _, report = fragile
    k1 = report["keep_float"][0]
    assert k1["layers"] == ["fully_connected_3"] and k1["sqnr_gain_db"] > 10
    # the executable mixed model gains what the fake-quantised leave-one-out model predicted
    assert abs(k1["sqnr_gain_db"] - report["layers"][0]["loo_gain_db"]) < 2


def test_keep_float_rows_are_executable_mixed_models_with_planned_costs(fragile):
    _, report = fragile
    k1 = report["keep_float"][0]
    assert k1["fp16_ops"] == ["fully_connected_3"] and k1["board"] == "qemu-m4"
    assert k1["extra_flash_bytes"] == 8 * 144 - 8 * 2      # weights 1 -> 2 B, biases 4 -> 2 B
    assert k1["arena_bytes"] == report["int8_costs"]["arena_bytes"] + k1["extra_arena_bytes"]
    assert k1["extra_arena_bytes"] == 0                    # the FP16 FC reads and writes int8
    assert [k["k"] for k in report["keep_float"]] == [1, 2, 3]


def test_a_final_softmax_is_not_analysed_and_the_logits_are_measured(fragile):
    result, report = fragile
    assert "SOFTMAX" not in [r["op"] for r in report["layers"]]
    assert report["measured_at"] == result.float_graph.t(result.float_graph.ops[4].outputs[0]).name
    assert len(report["layers"]) == 4                      # CONV, ADD, FC, FC (RESHAPE follows)


def test_data_movement_ops_follow_the_layer_that_feeds_them():
    graph = float_net()
    assert layer_owners(graph)[2] == 1                     # RESHAPE follows the ADD
    assert 2 not in layers(graph)


def test_no_layer_int8_is_exactly_the_float_model():
    graph = float_net()
    result = quantize(graph, samples(), progress=False)
    fg = result.float_graph
    fake = fake_quant_graph(fg, result.graph, set())
    assert np.array_equal(run_outputs(fake, samples(5, 3)), run_outputs(fg, samples(5, 3)))


def test_fake_quantising_every_layer_reproduces_the_int8_model():
    result = quantize(float_net(), samples(), progress=False)
    fg, held = result.float_graph, samples(30, 2)
    fake = run_outputs(fake_quant_graph(fg, result.graph, set(range(len(fg.ops)))), held)
    runner = Int8Runner(write_tflite(result.graph))
    int8 = np.stack([runner.run(s)[0].reshape(-1) for s in held])
    flt = run_outputs(fg, held)
    between = sqnr_db(np.sum(int8 ** 2), np.sum((int8 - fake) ** 2))
    to_float = sqnr_db(np.sum(flt ** 2), np.sum((flt - int8) ** 2))
    assert between > to_float + 3 and between > 30
    assert np.mean(int8.argmax(1) == fake.argmax(1)) >= 0.9


def test_table_names_the_columns_and_the_mixed_models_costs(fragile):
    text = format_sensitivity(fragile[1])
    assert "most sensitive first" in text and "fully_connected_3" in text
    assert f"#{HIDDEN} FULLY_CONNECTED" in text
    assert "executable mixed models" in text and "+1,136" in text and "--fp16-layers" in text


# ---- the CLI ----------------------------------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    (tmp_path / "net_float.tflite").write_bytes(write_tflite(float_net(outlier=1000.0)))
    np.save(tmp_path / "calib.npy", data(30, 1))
    np.save(tmp_path / "held.npy", data(20, 2))
    return tmp_path


def run_cli(capsys, *args):
    code = main(["quantize", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_the_ranking_and_writes_json(files, capsys):
    code, out, _ = run_cli(capsys, files / "net_float.tflite", "--calib", files / "calib.npy",
                           "--holdout", files / "held.npy", "--sensitivity",
                           "--json", files / "s.json", "-q")
    assert code == 0 and "most sensitive first" in out
    r = json.loads((files / "s.json").read_text())
    assert r["samples"] == 20 and r["evaluated_on"] == "held-out"
    assert r["layers"][0]["index"] == HIDDEN and len(r["keep_float"]) == 3
    assert not list(files.glob("*_int8.tflite"))           # no model unless -o


def test_cli_sensitivity_with_float_io_still_analyses_the_integer_model(files, capsys):
    code, out, _ = run_cli(capsys, files / "net_float.tflite", "--calib", files / "calib.npy",
                           "--sensitivity", "--float-io", "-o", files / "q.tflite", "-q")
    assert code == 0 and "note: measured on the calibration inputs" in out
    assert (files / "q.tflite").stat().st_size > 0


@pytest.mark.parametrize("bad, words", [
    (np.zeros((10, 6, 6, 3), np.float32), ["shape", "expected"]),
    (np.zeros((0, 6, 6, 2), np.float32), ["empty"]),
])
def test_cli_refuses_bad_data_with_an_error_line(files, capsys, bad, words):
    np.save(files / "bad.npy", bad)
    code, _, err = run_cli(capsys, files / "net_float.tflite", "--calib", files / "calib.npy",
                           "--holdout", files / "bad.npy", "--sensitivity")
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err
    for word in words:
        assert word in err, err


def test_cli_refuses_an_int8_model(files, capsys, tmp_path):
    b = ModelBuilder("int8_model")
    x, y = b.input((1, 4), scale=0.1), b.tensor((1, 4), scale=0.1)
    b.op("RELU", [x], [y])
    (tmp_path / "int8.tflite").write_bytes(write_tflite(b.graph([y])))
    code, _, err = run_cli(capsys, tmp_path / "int8.tflite", "--calib", files / "calib.npy",
                           "--sensitivity")
    assert code == 1 and "already quantised" in err
