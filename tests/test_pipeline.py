"""One deploy pipeline (tinyrt/pipeline): the model is lowered, rendered and written once per
deploy and the host compiles it once; every target stops what it started and removes what it
made when a measurement fails half-way; the CLI's flags become one options object."""
from __future__ import annotations

from pathlib import Path

import pytest

import codegen
from firmware_project import requires_arm_gcc, requires_qemu
from tinyrt import host, pipeline
from tinyrt.boards import load_board
from tinyrt.cli import parser
from tinyrt.cli.common import with_kernels
from tinyrt.examples import write_example
from tinyrt.pipeline import DeployOptions, from_args

BOARDS = ["host", pytest.param("qemu-m4", marks=[requires_arm_gcc, requires_qemu, pytest.mark.qemu])]


def counted(monkeypatch, module, name: str, calls: list):
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, wrapper)


@pytest.mark.parametrize("board", BOARDS)
def test_a_deploy_lowers_renders_and_writes_the_model_once(board, tmp_path, monkeypatch):
    calls: list[str] = []
    for module, name in ((codegen, "lower"), (codegen, "render"), (host, "write_project")):
        counted(monkeypatch, module, name, calls)
    report = pipeline.deploy(write_example(tmp_path), load_board(board),
                             DeployOptions(runs=2, quiet=True))
    assert report["bit_exact_runs"] == 2
    assert sorted(calls) == ["lower", "render", "write_project"]


def test_the_host_compiles_the_model_once(tmp_path, monkeypatch):
    commands: list[list[str]] = []
    real = host.run_checked

    def recording(cmd, *args, **kwargs):
        commands.append(list(cmd))
        return real(cmd, *args, **kwargs)
    monkeypatch.setattr(host, "run_checked", recording)
    report = pipeline.deploy(write_example(tmp_path), load_board("host"),
                             DeployOptions(runs=1, quiet=True))
    model_compiles = [c for c in commands if any(a.endswith("/model.c") for a in c)]
    assert len(model_compiles) == 1 and "-c" in model_compiles[0]
    assert report["flash_bytes"] > report["weights_bytes"] > 0 and report["code_bytes"] > 0


def processes_naming(folder: Path) -> list[int]:
    """Processes whose command line names something inside ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(folder) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            pass   # the process ended while we looked
    return found


class Boom(Exception):
    pass


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("failure", [Boom, KeyboardInterrupt])
def test_a_measurement_that_fails_half_way_leaves_no_process_and_no_folder(
        board, failure, private_tmp, tmp_path, monkeypatch):
    """The board (host program or QEMU) runs while measuring; an exception or Ctrl-C in the
    middle stops it and removes the temporary project."""
    seen = []

    def failing(device, prepared, options, label):
        device.info()
        seen.extend(processes_naming(private_tmp))
        raise failure()
    monkeypatch.setattr(pipeline.flow, "measure", failing)
    model = write_example(tmp_path)
    with pytest.raises(failure):
        pipeline.deploy(model, load_board(board), DeployOptions(runs=1, quiet=True))
    assert seen, "the board was not running while measuring"
    assert processes_naming(private_tmp) == [] and list(private_tmp.iterdir()) == []
    for pid in seen:
        assert not Path(f"/proc/{pid}").exists() or b"zombie" in Path(f"/proc/{pid}/status").read_bytes()


@pytest.mark.parametrize("board", BOARDS)
def test_leaving_a_session_by_an_exception_stops_the_board(board, private_tmp, tmp_path):
    with pytest.raises(Boom):
        with pipeline.session(write_example(tmp_path), load_board(board),
                              DeployOptions(quiet=True)) as s:
            assert s.device.info().model_name == "example_dscnn_int8"
            assert processes_naming(private_tmp)
            raise Boom()
    assert processes_naming(private_tmp) == [] and list(private_tmp.iterdir()) == []


def test_a_kept_work_folder_is_named_in_the_report(tmp_path):
    report = pipeline.deploy(write_example(tmp_path), load_board("host"),
                             DeployOptions(runs=1, quiet=True, work_dir=str(tmp_path / "keep")))
    assert report["project_dir"] == str(tmp_path / "keep")
    assert (tmp_path / "keep" / "model.c").is_file() and (tmp_path / "keep" / "firmware").is_file()


def test_deploy_flags_become_one_options_object():
    args = parser().parse_args([
        "deploy", "m.tflite", "--board", "qemu-m4", "--runs", "4", "--seed", "9", "--inputs",
        "x.npy", "--port", "socket://127.0.0.1:5", "--profile", "--kernels", "portable",
        "--patch", "auto", "--sram-budget", "4096", "--max-overhead", "20%", "--stream-input",
        "--work-dir", "w", "--compute", "fp32", "--input-copy", "off", "--dry-run", "-q"])
    assert from_args(args) == DeployOptions(
        runs=4, seed=9, inputs_path="x.npy", port="socket://127.0.0.1:5", profile=True,
        kernels="portable", patch="auto", sram_budget=4096, max_overhead=0.2, stream_input=True,
        work_dir="w", compute="fp32", input_copy="off", dry_run=True, quiet=True)


def test_default_flags_give_the_default_options_and_leave_the_board_alone():
    for argv in (["deploy", "m.tflite"], ["build", "m.tflite", "-o", "out"]):
        opts = from_args(parser().parse_args(argv))
        assert opts.with_(work_dir=None) == DeployOptions()
        board = load_board("qemu-m4")
        assert opts.board_for(board) == board
    assert from_args(parser().parse_args(["build", "m.tflite", "-o", "out"])).work_dir == "out"


def test_plan_options_reach_the_board_as_before():
    args = parser().parse_args(["plan", "m.tflite", "--kernels", "portable", "--patch", "@3",
                                "--sram-budget", "1000"])
    board = with_kernels(load_board("qemu-m4"), args)
    assert board["kernels"] == ("portable",) and board["patch"] == "@3"
    assert board["sram_budget"] == 1000


def test_an_unknown_input_copy_mode_is_a_clear_error():
    from tinyrt.errors import TinyrtError
    with pytest.raises(TinyrtError, match="input copy 'maybe'"):
        DeployOptions(input_copy="maybe")


def test_dry_run_prints_the_build_with_the_input_copy_it_chose(tmp_path, capsys):
    model = write_example(tmp_path)
    assert pipeline.deploy(model, load_board("qemu-m4"),
                           DeployOptions(dry_run=True, work_dir=str(tmp_path / "p"))) is None
    out = capsys.readouterr().out
    assert "-DTR_PROTO_INPUT_COPY=1" in out and "-icount shift=0" in out
    pipeline.deploy(model, load_board("qemu-m4"),
                    DeployOptions(dry_run=True, input_copy="off", work_dir=str(tmp_path / "q")))
    assert "-DTR_PROTO_INPUT_COPY=0" in capsys.readouterr().out


def test_real_board_dry_run_ends_with_the_flash_command(tmp_path, capsys):
    pipeline.deploy(write_example(tmp_path), load_board("nucleo-l4r5zi"),
                    DeployOptions(dry_run=True, work_dir=str(tmp_path / "p")))
    last = capsys.readouterr().out.splitlines()[-1]   # pyOCD's Python API call, as flashed
    assert "ConnectHelper.session_with_chosen_probe(" in last and "stm32l4r5zitx" in last


def test_targets_by_board_kind():
    kinds = {b: type(pipeline.target_for(load_board(b))).__name__
             for b in ("host", "qemu-m4", "nucleo-l4r5zi")}
    assert kinds == {"host": "HostTarget", "qemu-m4": "QemuTarget", "nucleo-l4r5zi": "BoardTarget"}
