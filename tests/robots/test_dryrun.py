"""Every task suite passes Robot Framework's dry run: keywords exist, arguments fit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TASK_SUITES = sorted((ROOT / "robots" / "tasks").glob("*.robot"))
ACCEPTANCE_SUITES = sorted((ROOT / "tests" / "robot").glob("*.robot"))
SUITES = TASK_SUITES + ACCEPTANCE_SUITES


def test_there_are_task_suites() -> None:
    assert {suite.stem for suite in TASK_SUITES} >= {
        "download_history",
        "collect_claims",
        "apply_decisions",
        "enrich_policies",
    }


def test_there_are_acceptance_suites_for_resilience_and_layout_changes() -> None:
    assert {suite.stem for suite in ACCEPTANCE_SUITES} >= {
        "collect_claims",
        "apply_decisions",
        "resilience",
        "layout_change",
    }


@pytest.mark.parametrize(
    "suite", SUITES, ids=[f"{suite.parent.name}/{suite.stem}" for suite in SUITES]
)
def test_task_suite_dry_run(suite: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        # The dry run imports the libraries but opens no browser and no database.
        "RPAML_PORTAL_URL": "http://127.0.0.1:9",
        "RPAML_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "RPAML_DATA_DIR": str(tmp_path / "data"),
        "RPAML_ACCEPTANCE_CLOSED_CLAIMS": "1",
        "RPAML_POLICY_DATA": str(tmp_path / "policies.json"),
        "PYTHONPATH": str(ROOT / "robots"),
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "robot",
            "--dryrun",
            "--rpa",
            "--outputdir",
            str(tmp_path),
            "--output",
            "NONE",
            "--log",
            "NONE",
            "--report",
            "NONE",
            str(suite),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "[ ERROR ]" not in completed.stdout + completed.stderr
    assert not (tmp_path / "store.db").exists(), "a dry run must not create the store"
