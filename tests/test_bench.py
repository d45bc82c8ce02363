"""`tinyrt bench memory` reads the shared models and baselines and prints every figure."""
import json
import subprocess
import sys

import pytest


def test_bench_memory_lists_every_int8_model_beside_tflm(shared_models, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "bench", "memory", "--plan-only",
                           "--shared", str(shared_models.parent), "--json", str(tmp_path / "m.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "m.json").read_text())["rows"]
    assert {r["model"] for r in rows} == {"ad01_int8", "kws_int8", "ic_resnet8_int8", "vww_int8"}
    for r in rows:
        assert "error" not in r
        assert r["layer_lower_bound_bytes"] <= r["arena_bytes"] <= r["linear_arena_bytes"]
        assert r["tflm_arena_bytes"] > 0
        assert r["streamed_arena_bytes"] <= r["arena_bytes"] and r["mac_overhead"] == 0.0
    assert "TFLM arena" in proc.stdout


@pytest.mark.qemu
def test_bench_memory_measures_peak_sram_and_latency_cost_of_streaming(shared_models, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "bench", "memory", "--models", "kws",
                           "--runs", "1", "--shared", str(shared_models.parent),
                           "--json", str(tmp_path / "m.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    [r] = json.loads((tmp_path / "m.json").read_text())["rows"]
    assert r["bit_exact"] and r["streamed_bit_exact"]
    assert r["streamed_peak_sram_bytes"] < r["peak_sram_bytes"]
    assert r["streamed_peak_ratio_vs_tflm"] == round(r["streamed_peak_sram_bytes"]
                                                     / r["tflm_peak_sram_bytes"], 3)
    assert r["latency_cost"] == round(r["streamed_instructions"] / r["instructions"] - 1, 4)


def test_bench_with_a_wrong_shared_folder_says_what_it_needs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "bench", "memory", "--shared",
                           str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "not the shared folder" in proc.stderr and "--shared" in proc.stderr


@pytest.mark.qemu
def test_bench_fp16_puts_fp16_and_fp32_compute_beside_int8_on_the_m55(shared_models, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "bench", "fp16", "--board", "qemu-m55",
                           "--models", "kws", "--runs", "1", "--shared", str(shared_models.parent),
                           "--json", str(tmp_path / "f.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "f.json").read_text())["rows"]
    assert [(r["weights"], r["compute"]) for r in rows] == [
        ("int8", "int8"), ("fp16", "fp16"), ("fp16", "fp32")]
    for r in rows:
        assert r["matching_runs"] == r["runs"] == 1, r
    int8, f16, f32 = rows
    assert f16["arena_bytes"] * 2 <= f32["arena_bytes"]   # float16 activations (FP32 adds scratch)
    assert f16["instructions"] < f32["instructions"]
    assert int8["bit_exact_runs"] == 1
    assert "FP16 models on qemu-m55" in proc.stdout


@pytest.mark.qemu
def test_bench_latency_puts_instructions_and_macs_per_instruction_beside_tflm(shared_models, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "bench", "latency", "--board", "qemu-m4",
                           "--models", "ad01", "--runs", "1", "--shared", str(shared_models.parent),
                           "--json", str(tmp_path / "l.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "l.json").read_text())
    [row] = report["rows"]
    assert row["model"] == "ad01_int8" and row["bit_exact"] and row["unit"] == "emulated_instructions"
    assert row["macs_per_instruction"] == round(row["macs"] / row["instructions"], 3)
    assert row["ratio_vs_tflm_cmsis"] == round(row["instructions"] / row["tflm_cmsis_instructions"], 3)
    assert report["summary"]["geomean_ratio_vs_tflm_cmsis"] == row["ratio_vs_tflm_cmsis"]
    assert "geometric mean" in proc.stdout and "MACs/instr" in proc.stdout
