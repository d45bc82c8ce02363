"""Bad input: a damaged or odd .tflite file is refused with a clear error (TinyrtError /
UnsupportedOp) or compiles and runs bit-exact with tflite-runtime. Never a Python traceback,
never a hang (tinyrt/fuzz.py, `tinyrt bench fuzz`)."""
import math
import struct

import numpy as np
import pytest
import tflite

import codegen
from builder import ModelBuilder
from tinyrt import fuzz
from tinyrt.boards import load_board
from tinyrt.errors import TinyrtError, UnsupportedOp
from tinyrt.fixedpoint import tflite_round
from tinyrt.frontend import parse_tflite
from tinyrt.writer import write_tflite

HOST = load_board("host")


def assert_no_bugs(tally: fuzz.Tally) -> None:
    assert tally.mutants == tally.refused + tally.compiled
    assert tally.crashes == 0 and tally.hangs == 0, tally.findings
    assert tally.mismatches == 0 and tally.check_errors == 0, tally.findings
    # every compiled mutant that was run is bit-exact, or tflite-runtime itself refused it
    assert tally.checked == tally.bit_exact + tally.tflite_refused
    assert tally.bit_exact > 0


def test_mutants_of_the_kws_model_are_refused_clearly_or_run_bit_exact(shared_models):
    buf = (shared_models / "kws_int8.tflite").read_bytes()
    tally = fuzz.fuzz_model(buf, "kws", count=300, seed=0, check_every=25, max_checks=6)
    assert_no_bugs(tally)
    assert tally.refused > 50 and tally.compiled > 50   # the mutations reach both outcomes


def test_mutants_of_a_generated_model_are_refused_clearly_or_run_bit_exact():
    buf = fuzz.generated_models()["example_dscnn"]
    tally = fuzz.fuzz_model(buf, "example_dscnn", count=300, seed=0, check_every=25, max_checks=6)
    assert_no_bugs(tally)


def test_a_mutant_depends_on_the_seed_and_its_index_only():
    buf = fuzz.generated_models()["example_dscnn"]
    assert fuzz.mutant(buf, 3, 17) == fuzz.mutant(buf, 3, 17)
    assert fuzz.mutant(buf, 3, 17)[0] != fuzz.mutant(buf, 3, 18)[0]
    assert fuzz.mutant(buf, 3, 17)[0] != buf


def test_a_hang_is_killed_and_counted_and_the_worker_recovers():
    buf = fuzz.generated_models()["example_dscnn"]
    worker = fuzz.Worker()
    try:
        first = worker.proc.pid
        assert worker.run(buf, False, 0, limit=0.0)["outcome"] == "hang"   # over its time limit
        assert worker.proc.pid != first                                   # killed, replaced
        assert worker.run(buf, False, 0, limit=30)["outcome"] == "compiled"
    finally:
        worker.close()


def test_tflite_runtime_dying_on_a_mutant_counts_as_its_refusal_not_as_a_tinyrt_crash():
    tally = fuzz.Tally("m")
    fuzz._count(tally, {"outcome": "died", "stage": "tflite-runtime",
                        "message": "worker exit code -11"}, 0, "bitflip")
    fuzz._count(tally, {"outcome": "died", "stage": "compile"}, 1, "bitflip")
    fuzz._count(tally, {"outcome": "hang", "stage": "host build and run"}, 2, "bitflip")
    assert (tally.tflite_refused, tally.crashes, tally.hangs) == (1, 1, 1)
    assert (tally.mutants, tally.compiled, tally.checked) == (3, 2, 2)


# --- the crashes the fuzzer found, each in its minimal form ----------------------------------------

def conv_model(out_scale=0.1, w_scales=(0.01,), bias_size=3):
    b = ModelBuilder()
    x = b.input((1, 4, 4, 2), scale=0.5)
    w = b.const(np.ones((3, 1, 1, 2)), "int8", scale=list(w_scales))
    bias = b.const(np.zeros(bias_size), "int32", scale=0.005)
    y = b.tensor((1, 4, 4, 3), scale=out_scale)
    b.op("CONV_2D", [x, w, bias], [y], padding="VALID", stride_w=1, stride_h=1,
         activation="NONE", dilation_w=1, dilation_h=1)
    return b, y


def refused(model: bytes, match: str) -> TinyrtError:
    with pytest.raises(TinyrtError, match=match) as e:
        codegen.lower(parse_tflite(model), HOST)
    return e.value


def test_an_op_with_too_few_inputs_is_refused():
    """Was IndexError in tinyrt/ops/add_sub.py (and conv2d.py, common.py's require_dtypes)."""
    b = ModelBuilder()
    x = b.input((1, 8), scale=0.1)
    y = b.tensor((1, 8), scale=0.1)
    b.op("ADD", [x], [y], activation="NONE")
    refused(write_tflite(b.graph([y])), "op #0 ADD has 1 inputs; it takes 2")


def test_an_op_without_an_output_is_refused():
    """Was IndexError in tinyrt/passes.py (fuse_int8_boundaries read op.outputs[0])."""
    b, y = conv_model()
    b.ops[0].outputs = []
    refused(write_tflite(b.graph([y])), r"op #0 CONV_2D has outputs \[\]; it writes one tensor")


def test_a_nan_scale_is_refused_and_fixedpoint_refuses_non_finite_constants():
    """Was ValueError 'cannot convert float NaN to integer' in tinyrt/fixedpoint.py."""
    b, y = conv_model(out_scale=math.nan)
    refused(write_tflite(b.graph([y])), "quantisation scale nan")
    for x in (math.nan, math.inf):
        with pytest.raises(UnsupportedOp, match="quantisation constant"):
            tflite_round(x)


def test_a_zero_activation_scale_is_refused():
    """Was ZeroDivisionError in tinyrt/ops/common.py (channel_multipliers)."""
    b, y = conv_model(out_scale=0.0)
    refused(write_tflite(b.graph([y])), "an activation.*scale 0")
    with pytest.raises(UnsupportedOp, match="scale"):   # a graph built in code: the op refuses
        codegen.lower(b.graph([y]), HOST)


def test_a_scale_count_that_is_not_the_channel_count_is_refused():
    """Was IndexError in tinyrt/ops/common.py (channel_multipliers)."""
    b, y = conv_model(w_scales=(0.01, 0.02))
    refused(write_tflite(b.graph([y])), "2 scales for 3 channels")


def test_a_fully_connected_bias_of_the_wrong_size_is_refused():
    """Was ValueError 'operands could not be broadcast' in tinyrt/ops/common.py (folded_bias)."""
    b = ModelBuilder()
    x = b.input((1, 4), scale=0.5)
    w = b.const(np.ones((3, 4)), "int8", scale=0.01)
    bias = b.const(np.zeros(5), "int32", scale=0.005)
    y = b.tensor((1, 3), scale=0.1)
    b.op("FULLY_CONNECTED", [x, w, bias], [y], activation="NONE", keep_num_dims=False)
    refused(write_tflite(b.graph([y])), "op #0 FULLY_CONNECTED.*bias has 5 values for 3 outputs")


def test_a_fully_connected_with_weights_of_rank_one_is_refused():
    """Was IndexError in tinyrt/ops/fully_connected.py."""
    b = ModelBuilder()
    x = b.input((1, 4), scale=0.5)
    w = b.const(np.ones(4), "int8", scale=0.01)
    y = b.tensor((1, 1), scale=0.1)
    b.op("FULLY_CONNECTED", [x, w, -1], [y], activation="NONE", keep_num_dims=False)
    refused(write_tflite(b.graph([y])), r"weights have shape \[4\]")


def test_a_tensor_read_before_any_op_writes_it_is_refused():
    """A mutated index made the op read a tensor nothing computes (was a hang or a C build
    failure further down)."""
    b = ModelBuilder()
    x = b.input((1, 8), scale=0.1)
    nothing = b.tensor((1, 8), scale=0.1)
    y = b.tensor((1, 8), scale=0.1)
    b.op("ADD", [x, nothing], [y], activation="NONE")
    refused(write_tflite(b.graph([y])), "reads tensor 1 .* before any op writes it")


def test_a_zero_point_outside_the_dtype_is_refused():
    b = ModelBuilder()
    x = b.input((1, 8), scale=0.1, zero_point=300)
    y = b.tensor((1, 8), scale=0.1)
    b.op("RELU", [x], [y])
    refused(write_tflite(b.graph([y])), r"zero point 300, outside \[-128, 127\]")


def test_a_buffer_index_past_the_buffers_is_refused():
    """tinyrt read such a tensor as an activation and compiled; tflite-runtime refuses it."""
    b, y = conv_model()
    data = bytearray(write_tflite(b.graph([y])))
    tensor = tflite.Model.GetRootAsModel(data, 0).Subgraphs(0).Tensors(1)
    at = tensor._tab.Pos + tensor._tab.Offset(8)   # Tensor.buffer, field 2
    struct.pack_into("<I", data, at, 100_000)
    refused(bytes(data), "refers to buffer 100000")


def test_a_huge_shape_is_refused():
    b = ModelBuilder()
    x = b.input((1, 1 << 20, 1 << 20, 8), scale=0.1)
    y = b.tensor((1, 1 << 20, 1 << 20, 8), scale=0.1)
    b.op("RELU", [x], [y])
    refused(write_tflite(b.graph([y])), "more than any board holds")


def test_a_tensor_name_with_nul_quote_backslash_or_comment_end_still_builds(tmp_path):
    """A mutated string length pulled NUL bytes into a layer name: the generated C did not
    compile ('null character(s) preserved in literal')."""
    from tinyrt import host
    b = ModelBuilder()
    x = b.input((1, 8), scale=0.1)
    y = b.tensor((1, 8), scale=0.1)
    b.op("RELU", [x], [y])
    b.tensors[y].name = 'relu\x00"out\\put*/??/\nend'
    graph = parse_tflite(write_tflite(b.graph([y])))
    assert graph.t(1).name == "relu__out_put*___/_end"
    host.write_project(codegen.render(codegen.lower(graph, HOST)), tmp_path)
    host.build(tmp_path, HOST)


def test_scales_without_zero_points_are_refused():
    """tinyrt read them as zero points of 0 and compiled; tflite-runtime refuses the model."""
    from tinyrt.ir import Quant
    b = ModelBuilder()
    x = b.input((1, 8), scale=0.1)
    y = b.tensor((1, 8), scale=0.1)
    b.op("RELU", [x], [y])
    b.tensors[y].quant = Quant(np.array([0.1], np.float32), np.zeros(0, np.int64))
    refused(write_tflite(b.graph([y])), "1 scales and 0 zero points")


def test_options_of_another_op_type_are_refused():
    """tinyrt read them as the op's own options and compiled; tflite-runtime reads none
    (strides of 0) and refuses."""
    b, y = conv_model()
    data = bytearray(write_tflite(b.graph([y])))
    op = tflite.Model.GetRootAsModel(data, 0).Subgraphs(0).Operators(0)
    data[op._tab.Pos + op._tab.Offset(10)] = tflite.BuiltinOptions.Pool2DOptions
    refused(bytes(data), "CONV_2D has options of type Pool2DOptions; it takes Conv2DOptions")


def test_a_schema_version_other_than_3_is_refused():
    b, y = conv_model()
    data = bytearray(write_tflite(b.graph([y])))
    model = tflite.Model.GetRootAsModel(data, 0)
    struct.pack_into("<I", data, model._tab.Pos + model._tab.Offset(4), 5645824)
    refused(bytes(data), "schema version 5645824")


def test_a_quantised_dimension_past_the_rank_is_refused_per_tensor_too():
    b = ModelBuilder()
    x = b.input((1, 8), scale=0.1)
    y = b.tensor((1, 8), scale=0.1)
    b.op("RELU", [x], [y])
    b.tensors[y].quant.axis = 7
    refused(write_tflite(b.graph([y])), "quantised along dimension 7")
