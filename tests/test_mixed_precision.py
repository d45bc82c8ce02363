"""Mixed precision (tinyrt/quantize/mixed.py, `tinyrt quantize --fp16-layers / --keep-fp16`):
chosen layers of an int8 model run in FP16 (float16 weights, FP32 compute) and the rest int8.
The mixed model is a standard .tflite that tflite-runtime runs, tinyrt compiles it bit-exactly,
keeping the fragile layer in FP16 recovers what int8 lost, and the costs come from the plan."""
import json

import numpy as np
import pytest

from builder import ModelBuilder
from test_quantize_ptq import float_cnn, samples
from test_sensitivity import HIDDEN, files, float_net, run_cli  # noqa: F401 (files: fixture)
from test_sensitivity import samples as net_samples
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError
from tinyrt.frontend import parse_tflite
from tinyrt.ir import verify
from tinyrt.quantize import QuantConfig, quantize, requantize
from tinyrt.quantize.mixed import keep_fp16, layer_precisions
from tinyrt.quantize.report import Int8Runner, sqnr_db
from tinyrt.quantize.sensitivity import costs, run_outputs
from tinyrt.reference import Reference
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


@pytest.fixture(scope="module")
def cnn():
    g = float_cnn()
    return quantize(g, samples(g), progress=False)


def mixed(result, *names, **config):
    return requantize(result, QuantConfig(layer_dtypes={n: "fp16" for n in names}, **config))


def names_of(result, *indices):
    return [result.float_graph.ops[i].name for i in indices]


def test_a_kept_layer_reads_float_through_dequantize_and_writes_through_quantize(cnn):
    (dw,) = names_of(cnn, 2)
    g = mixed(cnn, dw).graph
    verify(g)
    i = next(j for j, op in enumerate(g.ops) if op.name == dw)
    op = g.ops[i]
    assert g.t(op.outputs[0]).dtype == "float32" and g.t(op.outputs[0]).quant is None
    assert g.ops[i - 1].type == "DEQUANTIZE" and g.ops[i - 1].outputs == [op.inputs[0]]
    assert g.t(g.ops[i - 1].inputs[0]).dtype == "int8"
    assert g.ops[i + 1].type == "QUANTIZE" and g.ops[i + 1].inputs == op.outputs
    assert g.t(g.ops[i + 1].outputs[0]).quant == cnn.graph.t(op.outputs[0]).quant
    assert layer_precisions(g)[dw] == "fp16"
    assert [layer_precisions(g)[n] for n in names_of(cnn, 0, 5)] == ["int8", "int8"]


def test_kept_weights_are_float16_behind_dequantize_as_tflite_stores_fp16(cnn):
    (dw,) = names_of(cnn, 2)
    g = mixed(cnn, dw).graph
    op = next(op for op in g.ops if op.name == dw)
    for k in op.inputs[1:]:
        feeder = next(o for o in g.ops if k in o.outputs)
        half = g.t(feeder.inputs[0])
        assert feeder.type == "DEQUANTIZE" and half.is_const and half.dtype == "float16"
    w = cnn.float_graph.t(cnn.float_graph.ops[2].inputs[1]).data
    half = g.t(next(o for o in g.ops if op.inputs[1] in o.outputs).inputs[0]).data
    assert np.array_equal(half, w.astype(np.float16))


def test_consecutive_kept_layers_stay_float_between_them(cnn):
    dw, pool = names_of(cnn, 2, 3)
    g = mixed(cnn, dw, pool).graph
    between = next(op for op in g.ops if op.name == dw).outputs[0]
    assert g.t(between).dtype == "float32"
    assert not [op for op in g.ops if op.type == "QUANTIZE" and op.inputs == [between]]


def test_graph_inputs_and_outputs_keep_their_types(cnn):
    g = mixed(cnn, *names_of(cnn, 0, 6)).graph        # the first and the last op in FP16
    assert [g.t(k).dtype for k in g.inputs + g.outputs] == ["int8", "int8"]
    assert g.t(g.outputs[0]).quant == cnn.graph.t(cnn.graph.outputs[0]).quant
    f = mixed(cnn, *names_of(cnn, 0, 6), float_io=True).graph
    assert [f.t(k).dtype for k in f.inputs + f.outputs] == ["float32", "float32"]


@pytest.mark.parametrize("kept", [(0,), (2,), (2, 3), (5,), (6,), (0, 2, 3, 4, 5, 6)])
def test_mixed_model_is_bit_exact_with_tflite_runtime(cnn, kept):
    g = mixed(cnn, *names_of(cnn, *kept)).graph
    model = write_tflite(g)
    v = verify_host(parse_tflite(model), model, runs=6, seed=3)
    assert v.ok, [(r.mismatched, r.max_abs_diff) for r in v.runs]


def test_float_io_mixed_model_is_bit_exact(cnn):
    g = mixed(cnn, *names_of(cnn, 2, 5), float_io=True).graph
    model = write_tflite(g)
    assert verify_host(parse_tflite(model), model, runs=4).ok


def test_keeping_the_fragile_layer_in_fp16_recovers_the_int8_loss():
    result = quantize(float_net(outlier=1000.0), net_samples(), progress=False)
    held = net_samples(30, 2)
    flt = run_outputs(result.float_graph, held)

    def output_sqnr(graph):
        runner = Int8Runner(write_tflite(graph))
        q = np.stack([runner.run(s)[0].reshape(-1) for s in held])
        return sqnr_db(np.sum(flt ** 2), np.sum((flt - q) ** 2))
    hidden = result.float_graph.ops[HIDDEN].name
    assert output_sqnr(mixed(result, hidden).graph) > output_sqnr(result.graph) + 10


def test_costs_are_the_planned_weight_and_arena_bytes():
    result = quantize(float_net(outlier=1000.0), net_samples(), progress=False)
    # the portable kernels keep the weights as the model has them (SIMD kernels re-lay them out
    # with their requantisation constants, which moves the byte count)
    board = {**load_board("qemu-m4"), "kernels": ("portable",)}
    hidden = result.float_graph.ops[HIDDEN].name
    a, b = costs(result.graph, board), costs(mixed(result, hidden).graph, board)
    # 8x144 weights: 1 -> 2 bytes each; 8 biases: int32 -> float16
    assert b["weights_bytes"] - a["weights_bytes"] == 8 * 144 - 8 * 2
    # the FP16 layer reads and writes the int8 tensors (its DEQUANTIZE / QUANTIZE are fused)
    assert b["arena_bytes"] == a["arena_bytes"]


def test_naming_an_unknown_layer_or_one_without_a_float_kernel_is_refused(cnn):
    with pytest.raises(TinyrtError, match="no layer named nope"):
        mixed(cnn, "nope")
    b = ModelBuilder("mul_net")
    x = b.input((1, 4), "float32")
    y = b.tensor((1, 4), "float32")
    b.op("MUL", [x, x], [y], activation="NONE")
    g = b.graph([y])
    result = quantize(g, [[np.full((1, 4), v, np.float32)] for v in (-1, 0.5, 2)],
                      progress=False)
    with pytest.raises(TinyrtError, match="cannot be kept in FP16") as e:
        mixed(result, g.ops[0].name)
    assert "FULLY_CONNECTED" in " ".join(e.value.hints)


def test_fused_float_layers_read_and_write_int8_and_stay_bit_exact(cnn):
    import codegen
    from tinyrt.passes import fuse_int8_boundaries
    g = mixed(cnn, *names_of(cnn, 0, 2, 5)).graph          # CONV, DEPTHWISE, FC in FP16
    fused = fuse_int8_boundaries(passes_fold(g))
    verify(fused)
    for op in fused.ops:
        if op.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            assert op.attrs.get("float_compute") is True
            assert {fused.t(k).dtype for k in (op.inputs[0], *op.outputs)} == {"int8"}
    assert not [op for op in fused.ops if op.type in ("QUANTIZE", "DEQUANTIZE")]
    lowered = codegen.lower(g, load_board("host"))
    assert {layer.call.kernel for layer in lowered.layers if layer.call} >= {
        "conv2d_f32", "dwconv_f32", "fully_connected_f32"}
    assert not [t for t in lowered.graph.tensors if not t.is_const and t.dtype == "float32"]
    # the arena grows by the float conv's scratch at most: its 3x3x3 receptive field in float32
    int8_arena = codegen.lower(cnn.graph, load_board("host")).plan.arena_bytes
    assert lowered.plan.arena_bytes <= int8_arena + 4 * 3 * 3 * 3
    model = write_tflite(g)
    assert verify_host(parse_tflite(model), model, runs=6, seed=5).ok


def test_fused_kernels_are_clean_under_asan_and_ubsan(cnn):
    g = mixed(cnn, *names_of(cnn, 0, 2, 5)).graph
    model = write_tflite(g)
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
    assert verify_host(parse_tflite(model), model, runs=2, extra_cflags=flags).ok


def test_a_grouped_strided_conv_in_fp16_reads_int8_through_its_scratch():
    rng = np.random.default_rng(4)
    b = ModelBuilder("grouped")
    x = b.input((1, 7, 6, 4), "float32")
    c = b.tensor((1, 4, 3, 6), "float32")
    b.op("CONV_2D", [x, b.const(rng.normal(0, 0.4, (6, 3, 2, 2)), "float32"),
                     b.const(rng.normal(0, 0.1, 6), "float32")], [c], activation="RELU",
         padding="SAME", stride_h=2, stride_w=2, dilation_h=1, dilation_w=1)
    y = b.tensor((1, 4, 3, 6), "float32")
    b.op("ADD", [c, c], [y], activation="NONE")
    g = b.graph([y])
    result = quantize(g, [[rng.normal(0, 1, (1, 7, 6, 4)).astype(np.float32)]
                          for _ in range(20)], progress=False)
    model = write_tflite(mixed(result, g.ops[0].name).graph)
    assert verify_host(parse_tflite(model), model, runs=5).ok


def test_a_float_tensor_with_another_reader_is_not_fused(cnn):
    from tinyrt.passes import fuse_int8_boundaries
    dw, pool = names_of(cnn, 2, 3)
    g = passes_fold(mixed(cnn, dw, pool).graph)            # the pool reads the DW's float output
    fused = fuse_int8_boundaries(g)
    op = next(op for op in fused.ops if op.name == dw)
    assert fused.t(op.outputs[0]).dtype == "float32" and fused.t(op.inputs[0]).dtype == "int8"


def passes_fold(graph):
    from tinyrt.passes import fold_fp16_dequantize
    return fold_fp16_dequantize(graph)


def test_keep_fp16_of_no_layer_is_the_int8_graph(cnn):
    assert keep_fp16(cnn.graph, cnn.float_graph, []) is cnn.graph


# ---- the CLI (the fragile net's files and run_cli come from test_sensitivity) -----------------

def test_cli_keep_fp16_keeps_the_most_sensitive_layer_and_reports_its_cost(files, capsys):
    code, out, _ = run_cli(capsys, files / "net_float.tflite", "--calib", files / "calib.npy",
                           "--holdout", files / "held.npy", "--keep-fp16", "1", "--board", "host",
                           "-o", files / "m.tflite", "--json", files / "m.json", "-q")
    assert code == 0 and "mixed precision on host" in out   # host: the portable kernels' costs
    report = json.loads((files / "m.json").read_text())
    g = parse_tflite((files / "m.tflite").read_bytes())
    hidden = g.ops[[op.type for op in g.ops].index("FULLY_CONNECTED")]
    assert report["mixed"]["fp16_layers"] == [hidden.name]
    assert g.t(hidden.outputs[0]).dtype == "float32"
    assert report["mixed"]["extra_flash_bytes"] == 8 * 144 - 8 * 2
    assert [r["precision"] for r in report["layers"]].count("fp16") == 1
    Reference(str(files / "m.tflite"))
    assert verify_host(g, str(files / "m.tflite"), runs=3).ok


def test_cli_fp16_layers_takes_names_and_indices(files, capsys):
    code, _, _ = run_cli(capsys, files / "net_float.tflite", "--calib", files / "calib.npy",
                         "--fp16-layers", f"#{HIDDEN},#4", "-o", files / "m.tflite",
                         "--json", files / "m.json", "-q")
    assert code == 0
    assert len(json.loads((files / "m.json").read_text())["mixed"]["fp16_layers"]) == 2


@pytest.mark.parametrize("args, words", [
    (["--fp16-layers", "#99"], ["not an op index", "0 to 5"]),
    (["--fp16-layers", "nope"], ["no layer named nope"]),
    (["--fp16-layers", "#3", "--keep-fp16", "1"], ["both choose"]),
    (["--keep-fp16", "0"], ["at least one"]),
    (["--fp16-layers", "#3", "--board", "qemu-m44"], ["qemu-m4"]),
    (["--fp16-layers", "#3", "--dtype", "fp16"], ["every layer FP16", "drop --dtype fp16"]),
    (["--latency"], ["measures a mixed-precision model", "--fp16-layers"]),
    (["--fp16-layers", "#3", "--latency", "--board", "nucleo-f746zg"], ["not one", "qemu-m4"]),
])
def test_cli_refuses_bad_mixed_precision_options_clearly(files, capsys, args, words):
    code, _, err = run_cli(capsys, files / "net_float.tflite", "--calib", files / "calib.npy",
                           *args)
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err
    for word in words:
        assert word in err, err


@pytest.mark.qemu
def test_mixed_model_is_bit_exact_on_qemu_m4(cnn, tmp_path):
    from tinyrt.device import deploy_device
    path = tmp_path / "cnn_mixed.tflite"
    path.write_bytes(write_tflite(mixed(cnn, *names_of(cnn, 2, 3, 6)).graph))
    try:
        report = deploy_device(str(path), load_board("qemu-m4"), runs=3, seed=0, quiet=True)
    except TinyrtError as e:
        if "not installed" in e.message:
            pytest.skip(e.message)
        raise
    assert report["bit_exact_runs"] == 3, report["results"]


# ---- choosing the layers: the greedy search ---------------------------------------------------

def test_greedy_search_takes_the_fragile_layer_first_and_only_what_helps():
    from tinyrt.quantize.sensitivity import greedy_fp16
    result = quantize(float_net(outlier=1000.0), net_samples(), progress=False)
    rows = greedy_fp16(result, net_samples(30, 2), top_k=4, progress=False)
    assert rows[0]["indices"] == [HIDDEN] and rows[0]["sqnr_gain_db"] > 10
    gains = [r["sqnr_gain_db"] for r in rows]
    assert gains == sorted(gains) and len(set(gains)) == len(gains)   # every step helps
    assert [r["k"] for r in rows] == list(range(1, len(rows) + 1))


def test_greedy_search_keeps_the_arena_within_the_budget(cnn):
    from tinyrt.quantize.sensitivity import greedy_fp16
    held = samples(cnn.float_graph, 20, seed=4)
    int8_arena = costs(cnn.graph, load_board("qemu-m4"))["arena_bytes"]
    tight = greedy_fp16(cnn, held, top_k=3, progress=False)
    for row in tight:
        assert row["arena_bytes"] <= int8_arena
    # a larger budget can only widen the first choice
    roomy = greedy_fp16(cnn, held, top_k=1, progress=False, max_arena=10**6)
    assert roomy and roomy[0]["output_sqnr_db"] >= max(
        [r["output_sqnr_db"] for r in tight[:1]], default=-1e9)
    none = greedy_fp16(cnn, held, top_k=3, progress=False, max_arena=0)
    assert none == []                                     # nothing fits in no arena


@pytest.mark.qemu
def test_cli_latency_deploys_both_models_and_reports_the_difference(files, capsys):
    code, out, _ = run_cli(capsys, files / "net_float.tflite", "--calib", files / "calib.npy",
                           "--fp16-layers", f"#{HIDDEN}", "--latency", "--board", "qemu-m4",
                           "-o", files / "m.tflite", "--json", files / "m.json", "-q")
    assert code == 0 and "both bit-exact with tflite-runtime on the board" in out
    m = json.loads((files / "m.json").read_text())["mixed"]
    assert m["latency_unit"] == "emulated_instructions"
    assert m["int8_bit_exact"] and m["mixed_bit_exact"]
    assert m["extra_latency"] == m["mixed_latency"] - m["int8_latency"]
    assert m["int8_latency"] > 0 and m["mixed_latency"] > 0


def test_cli_rank_search_takes_the_first_layers_of_the_ranking(files, capsys):
    code, _, _ = run_cli(capsys, files / "net_float.tflite", "--calib", files / "calib.npy",
                         "--holdout", files / "held.npy", "--keep-fp16", "2", "--search", "rank",
                         "--json", files / "m.json", "-o", files / "m.tflite", "-q")
    assert code == 0
    assert len(json.loads((files / "m.json").read_text())["mixed"]["fp16_layers"]) >= 2
