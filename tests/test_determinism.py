"""Deterministic builds: the same model and options give byte-identical C and executables (ELF
or host program), on two runs and in two folders of different path lengths. Only the link map
names the folder it was built in (where the object files were); apart from that folder name it
is identical too."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from builder import ModelBuilder
from firmware_project import requires_arm_gcc
from tinyrt.examples import write_example
from tinyrt.quantize.fp16 import quantize_fp16
from tinyrt.writer import write_tflite

# Folders that differ in length, so a path baked into the output would shift every offset after it
FOLDERS = ("a", "b/much/longer/folder/name/for/the/second/build")


def tinyrt(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyrt", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path; the map with the folder's name replaced."""
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".map":
            data = data.replace(str(folder).encode(), b"<project>")
        files[str(path.relative_to(folder))] = data
    return files


def assert_same_builds(first: dict[str, bytes], second: dict[str, bytes]) -> None:
    assert sorted(first) == sorted(second), "the two builds wrote different files"
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, f"files differ between the two builds: {differing}"


def build_in_two_folders(model: Path, board: str, tmp_path: Path, *options) -> list[dict[str, bytes]]:
    """`tinyrt build MODEL --board B -o DIR` into each of FOLDERS, each run from another working
    folder (the compiler records it in the debug info); their snapshots."""
    snaps = []
    for name, cwd in zip(FOLDERS, (None, tmp_path)):
        out = tmp_path / "builds" / name
        proc = tinyrt("build", model, "--board", board, "-o", out, "--quiet", *options, cwd=cwd)
        assert proc.returncode == 0, proc.stderr
        assert (out / f"build-{board}" / "firmware.elf").is_file()
        snaps.append(snapshot(out))
    return snaps


def deploy_host_in_two_folders(model: Path, tmp_path: Path) -> list[dict[str, bytes]]:
    """`tinyrt deploy MODEL --board host --work-dir DIR` (which keeps the project and its
    executable) into each of FOLDERS; their snapshots."""
    snaps = []
    for name in FOLDERS:
        out = tmp_path / "hosts" / name
        proc = tinyrt("deploy", model, "--board", "host", "--runs", 1, "--work-dir", out, "--quiet")
        assert proc.returncode == 0, proc.stderr
        snaps.append(snapshot(out))
    assert "firmware" in snaps[0] and "model.c" in snaps[0]
    return snaps


def fp16_model(path: Path) -> Path:
    """A small float model (conv, fully connected) in TFLite's FP16 format."""
    rng = np.random.default_rng(5)
    m = ModelBuilder()
    x = m.input((1, 8, 8, 4), "float32")
    w = m.const((rng.standard_normal((8, 3, 3, 4)) * 0.3).astype(np.float32), "float32")
    b = m.const((rng.standard_normal(8) * 0.1).astype(np.float32), "float32")
    h = m.tensor((1, 4, 4, 8), "float32")
    m.op("CONV_2D", [x, w, b], [h], padding="SAME", stride_h=2, stride_w=2, dilation_h=1,
         dilation_w=1, activation="RELU")
    shape = m.const(np.array([1, 128], np.int32), "int32")
    f = m.tensor((1, 128), "float32")
    m.op("RESHAPE", [h, shape], [f], new_shape=[1, 128])
    fw = m.const((rng.standard_normal((10, 128)) * 0.1).astype(np.float32), "float32")
    y = m.tensor((1, 10), "float32")
    m.op("FULLY_CONNECTED", [f, fw, -1], [y], activation="NONE")
    path.write_bytes(write_tflite(quantize_fp16(m.graph([y]))))
    return path


@requires_arm_gcc
def test_a_generated_model_builds_to_the_same_firmware_in_two_folders(tmp_path):
    assert_same_builds(*build_in_two_folders(write_example(tmp_path), "qemu-m4", tmp_path))


@requires_arm_gcc
def test_building_twice_in_one_folder_gives_the_same_firmware(tmp_path):
    model, out = write_example(tmp_path), tmp_path / "project"
    snaps = []
    for _ in range(2):
        assert tinyrt("build", model, "--board", "qemu-m4", "-o", out, "--quiet").returncode == 0
        snaps.append(snapshot(out))
    assert_same_builds(*snaps)


@requires_arm_gcc
def test_an_fp16_model_builds_to_the_same_mve_firmware_in_two_folders(tmp_path):
    model = fp16_model(tmp_path / "small_fp16.tflite")
    assert_same_builds(*build_in_two_folders(model, "qemu-m55", tmp_path))


@requires_arm_gcc
@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
def test_kws_builds_to_the_same_firmware_in_two_folders(shared_models, tmp_path, board):
    assert_same_builds(*build_in_two_folders(shared_models / "kws_int8.tflite", board, tmp_path))


def test_a_generated_model_builds_to_the_same_host_program_in_two_folders(tmp_path):
    assert_same_builds(*deploy_host_in_two_folders(write_example(tmp_path), tmp_path))


def test_kws_builds_to_the_same_host_program_in_two_folders(shared_models, tmp_path):
    assert_same_builds(*deploy_host_in_two_folders(shared_models / "kws_int8.tflite", tmp_path))


def test_host_builds_with_debug_info_name_no_folder(tmp_path):
    """-g puts source paths in the executable: the project folder is mapped to '.'."""
    import codegen
    from tinyrt import host
    from tinyrt.boards import load_board
    from tinyrt.examples import build_example
    board = load_board("host")
    files = codegen.render(codegen.lower(build_example(), board))
    exes = [host.build(host.write_project(files, tmp_path / name), board, extra_cflags=["-g"]).read_bytes()
            for name in FOLDERS]
    assert exes[0] == exes[1]
    assert str(tmp_path).encode() not in exes[0]
