"""The local secrets file and the child-process launcher."""

from __future__ import annotations

import hashlib
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rpaml_pipeline.child_processes import ManagedProcess
from rpaml_pipeline.errors import LaunchError, SecretsFileError
from rpaml_pipeline.secrets_file import (
    DEMO_SECRET_KEYS,
    SERVICE_KEY,
    ensure_demo_secrets,
    parse_secrets,
    read_secrets,
    redact,
    write_service_keys,
)


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
    with pytest.raises(SecretsFileError, match=r"secrets.env, line 3: expected KEY=value"):
        read_secrets(path)


def test_secrets_files_written_for_a_shell_are_read() -> None:
    text = (
        "# local credentials\n"
        "\n"
        "RPAML_PORTAL_USERNAME=clerk\n"
        "export RPAML_PORTAL_PASSWORD='s3cr=t'\n"
        'OTHER = "spaced value" \n'
        "UNMATCHED=\"quote'\n"
    )
    assert parse_secrets(text) == {
        "RPAML_PORTAL_USERNAME": "clerk",
        "RPAML_PORTAL_PASSWORD": "s3cr=t",
        "OTHER": "spaced value",
        "UNMATCHED": "\"quote'",
    }


def test_missing_keys_are_added_and_existing_values_kept(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("RPAML_PORTAL_PASSWORD=kept\n")
    values = ensure_demo_secrets(path)
    assert values["RPAML_PORTAL_PASSWORD"] == "kept"
    assert set(DEMO_SECRET_KEYS) <= set(values)
    assert read_secrets(path) == values


def test_service_keys_file_holds_only_the_digest(tmp_path: Path) -> None:
    values = ensure_demo_secrets(tmp_path / "secrets.env")
    keys = write_service_keys(tmp_path, values).read_text()
    assert values[SERVICE_KEY] not in keys
    digest = hashlib.sha256(values[SERVICE_KEY].encode()).hexdigest()
    assert f"demo:score,admin:{digest}" in keys


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


def test_a_robot_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    # The starter launches a long "robot" through the same wrapper run_robot uses, then
    # dies without cleaning up (as a SIGKILLed worker would): the robot must go too.
    from rpaml_pipeline.robot_runs import _DIE_WITH_PARENT

    pid_file = tmp_path / "robot.pid"
    robot = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    starter = (
        "import os, subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {_DIE_WITH_PARENT!r}, str(os.getpid()),"
        f" '-c', {robot!r}])\n"
        f"while not os.path.exists({str(pid_file)!r}): time.sleep(0.05)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", starter], check=True, timeout=30)
    robot_pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _running(robot_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(robot_pid), "the robot outlived the process that started it"


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(errors="replace")
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status
