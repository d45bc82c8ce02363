"""`make demo`: a trained, tinyrt-quantised model deployed to the emulated Cortex-M4 on real
held-out digits, every output bit-exact."""
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.qemu


def test_demo_deploys_the_trained_digits_model_bit_exactly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tinyrt", "demo", "--runs", "5", "--out",
                           str(tmp_path), "--json", str(tmp_path / "r.json")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "int8 accuracy" in proc.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["board"] == "qemu-m4" and report["model"] == "digits_int8"
    assert report["bit_exact_runs"] == report["runs"] == 5
