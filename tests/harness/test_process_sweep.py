"""The test session's own sweep: a process a test leaves running, even in a session of
its own, is stopped and named, and the session fails; a clean session passes. Run on a
small inner pytest session, once without xdist and once on an xdist worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rpaml_pipeline.host_processes import ProcessIdentity, is_running

SUPPORT = Path(__file__).resolve().parents[1] / "support"

INNER_CONFTEST = f"""
import sys
sys.path.insert(0, {str(SUPPORT)!r})
from process_sweep import (
    pytest_configure, pytest_runtest_logstart, pytest_sessionfinish, pytest_testnodedown
)
"""

INNER_TESTS = """
import os, subprocess, sys
from pathlib import Path
from rpaml_pipeline.host_processes import identity_of

def test_leaves_a_process_behind():
    # A session of its own, as chromedriver's Chromium and crashpad have.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                             start_new_session=True)
    Path(os.environ["LEAK_FILE"]).write_text(identity_of(child.pid).as_text())

def test_cleans_up():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
"""


def _inner_session(tmp_path: Path, *options: str, leak: bool) -> tuple[int, str, Path]:
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST)
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    leak_file = tmp_path / "leaked.txt"
    selection = [] if leak else ["-k", "cleans_up"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, *selection,
         str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        # As when this test runs on an xdist worker: the inner pytest inherits the
        # worker's variables, PYTEST_XDIST_WORKER included, yet is a session of its own.
        env={**os.environ, "PYTEST_XDIST_WORKER": "gw7", "LEAK_FILE": str(leak_file)},
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr, leak_file


@pytest.mark.parametrize("options", [(), ("-n", "1")], ids=["serial", "xdist"])
def test_a_process_left_running_is_stopped_named_and_fails_the_session(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    # A process of this (outer) session that is still in use: the inner sweep must spare it.
    outer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        code, output, leak_file = _inner_session(tmp_path, *options, leak=True)
        assert outer.poll() is None, output
    finally:
        outer.kill()
        outer.wait(timeout=10)
    leaked = ProcessIdentity.from_text(leak_file.read_text())
    assert not is_running(leaked)
    assert code == pytest.ExitCode.TESTS_FAILED, output
    assert "2 passed" in output
    assert "tests left these processes running (now stopped):" in output
    assert f"PID {leaked.pid} python, started during test_inner.py::test_leaves_a" in output
    assert "time.sleep(600)" in output
    if options:
        assert "(on worker gw0)" in output


@pytest.mark.parametrize("options", [(), ("-n", "1")], ids=["serial", "xdist"])
def test_a_session_that_leaves_nothing_passes(tmp_path: Path, options: tuple[str, ...]) -> None:
    code, output, _ = _inner_session(tmp_path, *options, leak=False)
    assert code == pytest.ExitCode.OK, output
    assert "left these processes" not in output
