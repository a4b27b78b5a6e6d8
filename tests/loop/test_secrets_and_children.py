"""The local secrets file and the child-process launcher."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from rpaml_pipeline.child_processes import ManagedProcess
from rpaml_pipeline.errors import LaunchError, SecretsFileError
from rpaml_pipeline.secrets_file import DEMO_SECRET_KEYS, ensure_demo_secrets, read_secrets, redact


def test_demo_secrets_are_created_once_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    first = ensure_demo_secrets(path)
    assert set(DEMO_SECRET_KEYS) <= set(first)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_demo_secrets(path) == first
    other = ensure_demo_secrets(tmp_path / "other.env")
    assert other["RPAML_PORTAL_PASSWORD"] != first["RPAML_PORTAL_PASSWORD"]


def test_malformed_secrets_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("# comment\nRPAML_PORTAL_PASSWORD=x\nnot a pair\n")
    with pytest.raises(SecretsFileError, match=r"secrets.env:3: expected KEY=value"):
        read_secrets(path)


def test_incomplete_secrets_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("RPAML_PORTAL_PASSWORD=x\n")
    with pytest.raises(SecretsFileError, match="lacks RPAML_PORTAL_ADMIN_TOKEN"):
        ensure_demo_secrets(path)


def test_redact_hides_every_secret_value() -> None:
    values = {"RPAML_PORTAL_PASSWORD": "hunter2", "RPAML_PORTAL_USERNAME": "clerk"}
    assert redact("login clerk/hunter2", values) == "login clerk/***"


def test_child_that_dies_before_ready_is_reported_with_its_log(tmp_path: Path) -> None:
    child = ManagedProcess(
        "broken",
        [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"],
        ready_file=tmp_path / "url",
        log_file=tmp_path / "broken.log",
    )
    with pytest.raises(LaunchError, match=r"broken exited with code 3.*broken.log"):
        child.start()
    assert "boom" in (tmp_path / "broken.log").read_text()


def test_child_is_stopped_on_exit(tmp_path: Path) -> None:
    script = (
        "import pathlib, sys, time; pathlib.Path(sys.argv[1]).write_text('http://x'); "
        "time.sleep(60)"
    )
    child = ManagedProcess(
        "sleeper",
        [sys.executable, "-c", script, str(tmp_path / "url")],
        ready_file=tmp_path / "url",
        log_file=tmp_path / "sleeper.log",
    )
    with child as running:
        assert running.url == "http://x"
        pid = running.pid
        assert pid is not None
    assert child._popen is not None and child._popen.poll() is not None
