"""The wheel ships templates/, boards/ and firmware/ as package data, so an installed tinyrt can
generate, build and deploy without a checkout."""
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_contains_every_data_file(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    str(REPO), "-w", str(tmp_path)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("tinyrt-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "templates", "boards", "firmware"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    assert tracked
    missing = [f for f in tracked if f"tinyrt/_data/{f}" not in names]
    assert not missing, missing
    sources = subprocess.run(["git", "ls-files", "tinyrt/*.py", "codegen/*.py"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    missing = [f for f in sources if f not in names]   # every subpackage is listed in pyproject
    assert "tinyrt/kernels/conv2d_s8_dsp.py" in sources and not missing, missing
