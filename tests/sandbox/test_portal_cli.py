"""``python -m rpaml_sandbox.portal`` as a real process: ready file, URL, health, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from portal_client import TLS_CONTEXT

from rpaml_sandbox.portal.__main__ import main

SECRETS = {
    "RPAML_PORTAL_PASSWORD": "cli-password",
    "RPAML_PORTAL_ADMIN_TOKEN": "cli-admin-token",
    "RPAML_PORTAL_SESSION_SECRET": "cli-session-secret",
}


def test_module_starts_writes_the_url_and_serves(tmp_path: Path) -> None:
    ready = tmp_path / "portal.url"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPAML_PORTAL_")}
    env.update(SECRETS)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rpaml_sandbox.portal",
            "--db",
            str(tmp_path / "portal.db"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--seed",
            "11",
            "--open-claims",
            "12",
            "--closed-claims",
            "30",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "portal did not become ready"
            time.sleep(0.05)
        url = ready.read_text(encoding="utf-8").strip()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert httpx.get(f"{url}/healthz", verify=TLS_CONTEXT).json() == {"status": "ok"}
        claims = httpx.get(
            f"{url}/admin/claims",
            headers={"X-Admin-Token": SECRETS["RPAML_PORTAL_ADMIN_TOKEN"]},
            verify=TLS_CONTEXT,
        ).json()
        assert len(claims) == 42
    finally:
        # Stop exactly the process this test started, by its PID.
        os.kill(process.pid, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal so the parent can tell.
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr, stderr
    assert f"PORTAL_URL={url}" in stdout.splitlines()
    assert not ready.exists()
    for secret in SECRETS.values():
        assert secret not in stdout + stderr


def test_missing_secrets_are_reported_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    assert main(["--db", str(tmp_path / "portal.db")]) == 2
    error = capsys.readouterr().err
    assert "password" in error and "RPAML_PORTAL_PASSWORD" in error
    assert not (tmp_path / "portal.db").exists()


def test_impossible_counts_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    code = main(["--db", str(tmp_path / "p.db"), "--open-claims", "2", "--late-arrivals", "3"])
    assert code == 2
    assert "late_arrivals" in capsys.readouterr().err
