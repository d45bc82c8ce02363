"""What tinyrt makes for itself it removes: deploys and verifications leave no project behind in
the temp folder, unless asked to keep one (a work folder) or an output differs."""
from __future__ import annotations

import tempfile

import pytest

from firmware_project import requires_arm_gcc, requires_qemu
from test_op_fully_connected import fc_model
from tinyrt.boards import load_board
from tinyrt.examples import write_example
from tinyrt.verify import verify_host
from tinyrt.writer import write_tflite


def test_verifying_on_the_host_leaves_nothing(private_tmp):
    graph = fc_model(1, 16, 4, in_zp=-3, out_zp=5)
    assert verify_host(graph, write_tflite(graph), runs=1).ok
    assert list(private_tmp.iterdir()) == []


def test_a_work_folder_that_was_asked_for_is_kept(private_tmp, tmp_path):
    graph = fc_model(1, 16, 4, in_zp=-3, out_zp=5)
    result = verify_host(graph, write_tflite(graph), runs=1, work_dir=str(tmp_path / "keep"))
    assert (tmp_path / "keep" / "model.c").is_file() and result.project_dir


def test_deploying_on_the_host_leaves_nothing(private_tmp, tmp_path):
    from tinyrt.deploy import deploy_host
    report = deploy_host(str(write_example(tmp_path)), load_board("host"), runs=1, quiet=True)
    assert report["bit_exact_runs"] == 1 and report["project_dir"] is None
    assert list(private_tmp.iterdir()) == []


@requires_arm_gcc
@requires_qemu
@pytest.mark.qemu
def test_deploying_on_an_emulated_board_leaves_nothing(private_tmp, tmp_path):
    from tinyrt.device import deploy_device
    report = deploy_device(str(write_example(tmp_path)), load_board("qemu-m4"), runs=1, quiet=True)
    assert report["bit_exact_runs"] == 1 and report["project_dir"] is None
    assert list(private_tmp.iterdir()) == []


def test_a_dry_run_without_a_work_folder_prints_the_commands_and_writes_nothing(tmp_path, capsys,
                                                                                private_tmp):
    import os
    from tinyrt.cli import main
    model = str(write_example(tmp_path))
    before = set(os.listdir(tempfile.gettempdir()))
    assert main(["deploy", model, "--board", "qemu-m4", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "tinyrt-example_dscnn_int8-qemu-m4/build-qemu-m4/firmware.elf" in out
    assert "--work-dir tinyrt-example_dscnn_int8-qemu-m4" in out
    assert set(os.listdir(tempfile.gettempdir())) == before
    assert not (tmp_path / "tinyrt-example_dscnn_int8-qemu-m4").exists()
