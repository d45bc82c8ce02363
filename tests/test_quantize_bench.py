"""`bench_quant` (tinyrt/quantize/bench.py), on small sample counts: one row per float model
with tinyrt's min/max, tinyrt's best method and TensorFlow's int8 side by side."""
import json

import pytest

from tinyrt.quantize.bench import bench_quant, format_bench_quant


def test_bench_quant_rows_compare_tinyrt_and_tensorflow(shared_models):
    rows = bench_quant(shared_models.parent, sizes=(8, 4, 8))
    assert [r["model"] for r in rows] == ["ad01", "ic_resnet8", "kws", "vww"]
    for r in rows:
        assert "error" not in r, r
        for key in ("tinyrt_minmax", "tinyrt_best", "tensorflow"):
            assert {"mean_layer_sqnr_db", "output_sqnr_db"} <= set(r[key])
            assert ("score_correlation" if r["model"] == "ad01" else "top1_agreement") in r[key]
        f = r["flash"]
        assert f["int8_weights_bytes"] < f["float32_weights_bytes"] / 3
        # float32 weights become float16; int32 constants (reshape shapes) stay as they are
        assert f["float32_weights_bytes"] // 2 <= f["fp16_weights_bytes"] < 0.51 * f["float32_weights_bytes"]
    json.dumps(rows)
    text = format_bench_quant(rows)
    assert "TensorFlow int8" in text and "tinyrt best" in text


@pytest.mark.qemu
def test_bench_mixed_measures_every_variant_on_the_board(shared_models):
    """kws, small sample counts: all-int8 and the most sensitive layer in FP16, each deployed on
    qemu-m4 and bit-exact there; keeping a layer float costs instructions, not arena (the FP16
    layer reads and writes int8: passes.fuse_int8_boundaries)."""
    from tinyrt.boards import load_board
    from tinyrt.quantize.bench import bench_mixed_model, format_bench_mixed
    rows = bench_mixed_model(shared_models / "kws_float.tflite", load_board("qemu-m4"), top_k=1,
                             sizes=(16, 0, 8))
    assert [r["k"] for r in rows] == [0, 1]
    for r in rows:
        assert "error" not in r, r
        assert r["bit_exact"] is True and r["unit"] == "emulated_instructions"
    base, mixed = rows
    assert base["fp16_layers"] == [] and len(mixed["fp16_layers"]) == 1
    assert mixed["instructions"] > base["instructions"]
    assert mixed["arena_bytes"] <= base["arena_bytes"]
    json.dumps(rows)
    assert "(all int8)" in format_bench_mixed(rows)
