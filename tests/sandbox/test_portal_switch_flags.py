"""The fault switches from the command line: set at start, refused when impossible."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rpaml_sandbox.portal.__main__ import build_parser, main

SECRETS = {
    "RPAML_PORTAL_PASSWORD": "flags-password",
    "RPAML_PORTAL_ADMIN_TOKEN": "flags-admin-token",
    "RPAML_PORTAL_SESSION_SECRET": "flags-session-secret",
}


def test_impossible_switches_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert main(["--db", str(tmp_path / "p.db"), "--error-rate", "1.5"]) == 2
    assert "error_rate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--layout", "v9"])


def test_switches_given_at_start_are_in_force(tmp_path: Path) -> None:
    ready = tmp_path / "portal.url"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPAML_PORTAL_")}
    env.update(SECRETS)
    command = [sys.executable, "-m", "rpaml_sandbox.portal", "--db", str(tmp_path / "portal.db")]
    command += ["--ready-file", str(ready), "--open-claims", "5", "--closed-claims", "5"]
    command += ["--latency-ms", "15", "--error-rate", "0.25", "--session-expiry-requests", "7"]
    command += ["--layout", "misaligned", "--fault-seed", "9", "--log-level", "warning"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (ready.exists() and ready.read_text().strip()):
            assert process.poll() is None and time.monotonic() < deadline, "no portal"
            time.sleep(0.05)
        url = ready.read_text().strip()
        switches = httpx.get(
            f"{url}/admin/switches", headers={"X-Admin-Token": SECRETS["RPAML_PORTAL_ADMIN_TOKEN"]}
        ).json()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert switches["latency_ms"] == 15 and switches["error_rate"] == 0.25
    assert switches["session_expiry_requests"] == 7 and switches["layout"] == "misaligned"
    assert switches["fault_seed"] == 9
