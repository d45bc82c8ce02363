"""`bench_quant` (tinyrt/quantize/bench.py), on small sample counts: one row per float model
with tinyrt's min/max, tinyrt's best method and TensorFlow's int8 side by side."""
import json

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
