"""Runs the whole-loop Robot acceptance suite (tests/robot/whole_loop.robot).

The suite runs ``rpaml demo`` twice as a user does, with real everything: the sandbox
portal and the scoring service as child processes on free loopback ports, robots in
headless Chromium, the SQLite store; the portal's record of actions is the witness.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from robot.api import ExecutionResult

PROJECT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.serial]


def test_whole_loop_acceptance_suite(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--outputdir",
            str(tmp_path),
            "--consolecolors",
            "off",
            str(PROJECT / "tests" / "robot" / "whole_loop.robot"),
        ],
        cwd=PROJECT,
        env={**os.environ, "SE_OFFLINE": "true"},
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    result = ExecutionResult(str(tmp_path / "output.xml"))
    failures = [f"{t.name}: {t.message}" for t in result.suite.all_tests if t.status != "PASS"]
    assert completed.returncode == 0 and not failures, "\n".join(failures) or completed.stdout
    assert result.statistics.total.passed == 4
