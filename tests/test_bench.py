"""`tinyrt bench memory` reads the shared models and baselines and prints every figure."""
import json
import subprocess
import sys


def test_bench_memory_lists_every_int8_model_beside_tflm(shared_models, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "bench", "memory", "--shared",
                           str(shared_models.parent), "--json", str(tmp_path / "m.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "m.json").read_text())["rows"]
    assert {r["model"] for r in rows} == {"ad01_int8", "kws_int8", "ic_resnet8_int8", "vww_int8"}
    for r in rows:
        assert "error" not in r
        assert r["layer_lower_bound_bytes"] <= r["arena_bytes"] <= r["linear_arena_bytes"]
        assert r["tflm_arena_bytes"] > 0
    assert "TFLM arena" in proc.stdout


def test_bench_with_a_wrong_shared_folder_says_what_it_needs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "bench", "memory", "--shared",
                           str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "not the shared folder" in proc.stderr and "--shared" in proc.stderr
