"""`tinyrt deploy` on the emulated Cortex-M boards: real arm-none-eabi-gcc, real QEMU under
-icount, real serial protocol over QEMU's TCP console; every output compared with tflite-runtime."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from builder import ModelBuilder
from tinyrt.boards import board_files, load_board
from tinyrt.device import deploy_device
from tinyrt.errors import TinyrtError
from tinyrt.examples import write_example
from tinyrt.writer import write_tflite

pytestmark = pytest.mark.qemu
QEMU_BOARDS = [b for b in board_files() if load_board(b)["kind"] == "qemu"]


def tinyrt(*args, env=None):
    return subprocess.run([sys.executable, "-m", "tinyrt", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("board", QEMU_BOARDS)
def test_example_model_is_bit_exact_and_measured_on_each_emulated_board(board, tmp_path):
    model = write_example(tmp_path)
    r = deploy_device(str(model), load_board(board), runs=3, profile=True, quiet=True)
    assert r["bit_exact_runs"] == r["runs"] == 3
    lat = r["latency"]
    assert lat["unit"] == "emulated_instructions" and lat["ms"] is None
    # inputs differ per run and clamps branch, so counts differ slightly; -icount keeps them exact
    assert 0 < lat["cycles_min"] <= lat["cycles_median"] <= lat["cycles_max"] < 1.01 * lat["cycles_min"]
    mem = r["memory"]
    assert 0 < mem["stack_bytes"] < 16384
    assert mem["peak_sram_bytes"] == mem["arena_bytes"] + mem["stack_bytes"] + mem["static_ram_bytes"]
    assert r["flash_bytes"] > r["weights_bytes"]
    assert [layer["op"] for layer in r["layers"]][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert sum(layer["cycles"] for layer in r["layers"]) <= lat["cycles_median"]
    assert abs(sum(layer["share"] for layer in r["layers"]) - 1) < 1e-3
    conv = r["layers"][0]
    assert conv["kernel"].startswith("conv2d_s8") and conv["variant"] in ("portable", "dsp", "mve")
    assert conv["macs_per_cycle"] == round(conv["macs"] / conv["cycles"], 3)


# The micro:bit's 16 KB of SRAM holds kws_int8 (streamed) but not these: deploy refuses them.
DOES_NOT_FIT = {("qemu-nrf51", "ad01_int8"), ("qemu-nrf51", "ic_resnet8_int8"), ("qemu-nrf51", "vww_int8")}


@pytest.mark.parametrize("board", QEMU_BOARDS)
@pytest.mark.parametrize("name", ["ad01_int8", "kws_int8", "ic_resnet8_int8", "vww_int8"])
def test_shared_int8_models_are_bit_exact_on_device(shared_models, board, name):
    if (board, name) in DOES_NOT_FIT:
        with pytest.raises(TinyrtError, match=f"does not fit board {board}"):
            deploy_device(str(shared_models / f"{name}.tflite"), load_board(board), quiet=True)
        return
    r = deploy_device(str(shared_models / f"{name}.tflite"), load_board(board), runs=3, quiet=True)
    assert r["bit_exact_runs"] == 3


def test_deploy_json_report_has_the_public_fields(tmp_path):
    model = write_example(tmp_path)
    proc = tinyrt("deploy", model, "--board", "qemu-m4", "--runs", 2, "--json", tmp_path / "r.json", "-q")
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    for key in ("model", "board", "runs", "bit_exact_runs", "flash_bytes", "ops"):
        assert key in r
    for key in ("cycles_median", "unit", "ms"):
        assert key in r["latency"]
    for key in ("arena_bytes", "stack_bytes", "peak_sram_bytes"):
        assert key in r["memory"]
    assert "emulated_instructions" in proc.stdout


def big_activation_model(tmp_path):
    """ADD on a 360 KB activation: more SRAM than a 320 KB board has."""
    m = ModelBuilder("big_add")
    x = m.input((1, 300, 300, 4), scale=0.1)
    c = m.const(np.array([1]), "int8", scale=0.1)
    y = m.tensor((1, 300, 300, 4), scale=0.2)
    m.op("ADD", [x, c], [y], activation="NONE")
    path = tmp_path / "big_add.tflite"
    path.write_bytes(write_tflite(m.graph([y])))
    return path


def test_model_too_big_for_the_board_names_the_budget_and_the_overflow(tmp_path):
    proc = tinyrt("build", big_activation_model(tmp_path), "--board", "nucleo-f746zg", "-o", tmp_path / "p")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "does not fit" in proc.stderr and "'dtcm'" in proc.stderr and "arena" in proc.stderr
    assert "patch-based" in proc.stderr
    assert "biggest activations" in proc.stderr and "[1, 300, 300, 4] 360,000 B" in proc.stderr


def test_missing_toolchain_says_how_to_install(tmp_path):
    proc = tinyrt("deploy", write_example(tmp_path), "--board", "qemu-m4",
                  env={"TINYRT_ARM_GCC": "arm-none-eabi-gcc-missing"})
    assert proc.returncode == 1 and "apt-get install gcc-arm-none-eabi" in proc.stderr


def test_missing_qemu_says_how_to_install(tmp_path):
    proc = tinyrt("deploy", write_example(tmp_path), "--board", "qemu-m4",
                  env={"TINYRT_QEMU": "qemu-system-arm-missing"})
    assert proc.returncode == 1 and "apt-get install qemu-system-arm" in proc.stderr


def test_missing_port_is_a_clear_error(tmp_path):
    proc = tinyrt("deploy", write_example(tmp_path), "--board", "qemu-m4", "--port", "/dev/ttyNOPE0")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "/dev/ttyNOPE0" in proc.stderr


def test_dry_run_prints_the_exact_build_and_qemu_commands(tmp_path):
    proc = tinyrt("deploy", write_example(tmp_path), "--board", "qemu-m4", "--dry-run",
                  "--work-dir", tmp_path / "project")   # a dry run keeps the project it names
    assert proc.returncode == 0
    assert "arm-none-eabi-gcc" in proc.stdout and "-mcpu=cortex-m4" in proc.stdout
    assert "qemu-system-arm -machine mps2-an386" in proc.stdout and "-icount shift=0" in proc.stdout


def test_board_running_another_model_is_detected(tmp_path):
    """Deploying model B to a port where firmware of model A answers must not compare A's outputs."""
    from tinyrt import firmware, qemu
    from tinyrt.device import prepare
    board = load_board("qemu-m4")
    _, project = prepare(str(write_example(tmp_path, seed=1)), board, str(tmp_path / "a"))
    fw = firmware.build(project, board)
    with qemu.start(board, fw.elf) as running:
        with pytest.raises(TinyrtError, match="the board runs model"):
            deploy_device(str(write_example(tmp_path / "..", seed=0)), board, runs=1,
                          port=running.port, quiet=True)
