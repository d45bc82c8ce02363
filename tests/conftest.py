import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

SHARED = Path(os.environ.get("TINYRT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


@pytest.fixture
def shared_models():
    models = SHARED / "models"
    if not models.is_dir():
        pytest.skip(f"../shared/models not found at {models}: the MLPerf Tiny models are not available "
                    "(set TINYRT_SHARED to the shared folder)")
    return models


# --- the suite leaves the temp folder as it found it ---------------------------------------------
# The session's temp folder is a private one (TMPDIR, inherited by xdist workers and by every
# tinyrt or QEMU process a test starts): whatever is left in it at the end was left by this
# session, not by another one running on the same machine. pytest's own tmp_path folders stay in
# the system temp folder, where pytest keeps the last few for debugging.
_TEMP: dict = {}


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")   # pytest-xdist: only the controller checks


def pytest_configure(config):
    if _is_worker(config):
        return
    system = tempfile.gettempdir()
    private = tempfile.mkdtemp(prefix="tinyrt-test-session-")
    _TEMP.update(private=private, env={k: os.environ.get(k) for k in ("TMPDIR", "PYTEST_DEBUG_TEMPROOT")},
                 tempdir=tempfile.tempdir)
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", system)
    os.environ["TMPDIR"] = private
    tempfile.tempdir = private
    # the suite tests the built-in boards, not the boards a developer added (`tinyrt boards add`);
    # the folder named does not exist (tests of `boards add` name their own)
    _TEMP["env"]["TINYRT_BOARDS"] = os.environ.get("TINYRT_BOARDS")
    os.environ["TINYRT_BOARDS"] = os.path.join(private, "no-user-boards")


def pytest_sessionfinish(session, exitstatus):
    if _is_worker(session.config) or "private" not in _TEMP:
        return
    private = Path(_TEMP["private"])
    left = sorted(p.name for p in private.iterdir())
    if left:
        _TEMP["left"] = left
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    tempfile.tempdir = _TEMP["tempdir"]
    for key, value in _TEMP["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(private, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    if _TEMP.get("left"):
        terminalreporter.section("temp folder not left as found", sep="=", red=True, bold=True)
        terminalreporter.line(f"the tests left {len(_TEMP['left'])} entries in the temp folder "
                              "(removed now; each is a leak to fix):")
        for name in _TEMP["left"]:
            terminalreporter.line(f"  {name}", red=True)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's folder, private to the test, so other tests' files do not count."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder
